/** The `metrics.k8s.io` answers of the simulated cluster: what metrics-server serves to `kubectl top`. */
import type { Scenario } from './scenario.js';
import { HttpError, notFound } from './status.js';

const API = '/apis/metrics.k8s.io/v1beta1';

/**
 * The NodeMetrics or PodMetrics object at `path`. Without `scenario.metrics` the API is not served at all (404 with
 * the API server's "could not find the requested resource"), as in a cluster without metrics-server.
 */
export function metricsObject(scenario: Scenario, path: string): object {
  const metrics = scenario.metrics;
  if (!metrics) throw new HttpError(404, 'NotFound', 'the server could not find the requested resource');
  const now = new Date().toISOString();
  let m: RegExpExecArray | null;
  if ((m = new RegExp(`^${API}/nodes/([^/]+)$`).exec(path))) {
    const name = decodeURIComponent(m[1] ?? '');
    const memory = metrics.nodes[name];
    if (memory === undefined) throw notFound('nodes.metrics.k8s.io', name);
    return {
      kind: 'NodeMetrics',
      apiVersion: 'metrics.k8s.io/v1beta1',
      metadata: { name },
      timestamp: now,
      window: '20s',
      usage: { cpu: '250m', memory },
    };
  }
  if ((m = new RegExp(`^${API}/namespaces/([^/]+)/pods/([^/]+)$`).exec(path))) {
    const namespace = decodeURIComponent(m[1] ?? '');
    const name = decodeURIComponent(m[2] ?? '');
    const containers = metrics.pods[`${namespace}/${name}`];
    if (containers === undefined) throw notFound('pods.metrics.k8s.io', name);
    return {
      kind: 'PodMetrics',
      apiVersion: 'metrics.k8s.io/v1beta1',
      metadata: { name, namespace },
      timestamp: now,
      window: '20s',
      containers: Object.entries(containers).map(([container, memory]) => ({
        name: container,
        usage: { cpu: '100m', memory },
      })),
    };
  }
  throw new HttpError(404, 'NotFound', 'the server could not find the requested resource');
}
