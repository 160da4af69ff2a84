/**
 * A simulated Kubernetes API server: real HTTP and the real REST JSON shapes for what the runbook touches (pods, their
 * logs and events, StatefulSets, Deployments, ReplicaSets, patches), serving the objects of a scenario file. The real
 * `@kubernetes/client-node` talks to it through a kubeconfig, so demos and tests exercise the same code as production.
 *
 * `scenario.ts` holds the objects' schema, `controller.ts` what controllers do with them, `patch.ts` the patch formats,
 * `logs.ts` and `selectors.ts` what the API reads, `http.ts` the server.
 */
export { startSimulatedCluster, type InjectedFailure, type RecordedPatch, type SimulatedCluster } from './http.js';
export {
  demoScenarioPath,
  loadScenario,
  parseScenario,
  ScenarioSchema,
  type Scenario,
  type ScenarioEvent,
  type ScenarioPod,
} from './scenario.js';
