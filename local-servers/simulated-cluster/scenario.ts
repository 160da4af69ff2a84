/**
 * The simulated cluster's scenario: Kubernetes objects as `kubectl get -o yaml` shows them, validated on the fields the
 * simulation reads, loaded from a YAML file (the demo's live in `demo/scenarios/`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { repoFile } from '../repo-path.js';

const stringMap = z.record(z.string(), z.string());
const quantityMap = z.record(z.string(), z.union([z.string(), z.number()]));

const objectMeta = z.looseObject({
  name: z.string().min(1),
  namespace: z.string().min(1),
  uid: z.string().optional(),
  labels: stringMap.optional(),
  annotations: stringMap.optional(),
  ownerReferences: z
    .array(
      z.looseObject({
        apiVersion: z.string(),
        kind: z.string(),
        name: z.string().min(1),
        uid: z.string(),
        controller: z.boolean().optional(),
      }),
    )
    .optional(),
  resourceVersion: z.string().optional(),
  generation: z.number().int().optional(),
  creationTimestamp: z.string().optional(),
});

const container = z.looseObject({
  name: z.string().min(1),
  image: z.string().min(1),
  resources: z.looseObject({ requests: quantityMap.optional(), limits: quantityMap.optional() }).optional(),
});

const containerState = z.looseObject({
  running: z.looseObject({ startedAt: z.string().optional() }).optional(),
  waiting: z.looseObject({ reason: z.string().optional(), message: z.string().optional() }).optional(),
  terminated: z
    .looseObject({
      exitCode: z.number().int(),
      reason: z.string().optional(),
      startedAt: z.string().optional(),
      finishedAt: z.string().optional(),
    })
    .optional(),
});

const containerStatus = z.looseObject({
  name: z.string().min(1),
  ready: z.boolean(),
  restartCount: z.number().int().min(0),
  image: z.string().optional(),
  started: z.boolean().optional(),
  state: containerState.optional(),
  lastState: containerState.optional(),
});

const podSpec = z.looseObject({ containers: z.array(container).min(1), nodeName: z.string().optional() });

const pod = z.looseObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Pod'),
  metadata: objectMeta,
  spec: podSpec,
  status: z
    .looseObject({
      phase: z.enum(['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown']),
      conditions: z
        .array(
          z.looseObject({
            type: z.string(),
            status: z.enum(['True', 'False', 'Unknown']),
            reason: z.string().optional(),
          }),
        )
        .optional(),
      containerStatuses: z.array(containerStatus).optional(),
      startTime: z.string().optional(),
    })
    .optional(),
});

const event = z.looseObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Event'),
  metadata: objectMeta,
  involvedObject: z.looseObject({
    kind: z.string().min(1),
    name: z.string().min(1),
    namespace: z.string().optional(),
    apiVersion: z.string().optional(),
    uid: z.string().optional(),
    fieldPath: z.string().optional(),
  }),
  reason: z.string().min(1),
  message: z.string(),
  type: z.enum(['Normal', 'Warning']),
  count: z.number().int().min(1).optional(),
  firstTimestamp: z.string().optional(),
  lastTimestamp: z.string().optional(),
  source: z.looseObject({ component: z.string().optional(), host: z.string().optional() }).optional(),
});

const podTemplate = z.looseObject({
  metadata: z.looseObject({ labels: stringMap.optional(), annotations: stringMap.optional() }).optional(),
  spec: podSpec,
});

const selector = z.looseObject({ matchLabels: stringMap.optional() });

function workload<K extends string>(kind: K) {
  return z.looseObject({
    apiVersion: z.literal('apps/v1'),
    kind: z.literal(kind),
    metadata: objectMeta,
    spec: z.looseObject({ replicas: z.number().int().min(0).optional(), selector, template: podTemplate }),
    status: z.looseObject({}).optional(),
  });
}

const condition = z.looseObject({
  type: z.string().min(1),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string().optional(),
  message: z.string().optional(),
});

/** A node as `kubectl get node -o yaml` shows it: cluster-scoped, so no namespace. */
const node = z.looseObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Node'),
  metadata: objectMeta.omit({ namespace: true }),
  status: z
    .looseObject({
      conditions: z.array(condition).optional(),
      allocatable: quantityMap.optional(),
      capacity: quantityMap.optional(),
    })
    .optional(),
});

const claim = z.looseObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('PersistentVolumeClaim'),
  metadata: objectMeta,
  spec: z.looseObject({
    accessModes: z.array(z.string()).optional(),
    storageClassName: z.string().optional(),
    volumeName: z.string().optional(),
    resources: z.looseObject({ requests: quantityMap.optional() }).optional(),
  }),
  status: z
    .looseObject({
      phase: z.enum(['Pending', 'Bound', 'Lost']),
      capacity: quantityMap.optional(),
      accessModes: z.array(z.string()).optional(),
    })
    .optional(),
});

/** What metrics-server would answer (`kubectl top`): memory per node and per pod container. */
const metrics = z.strictObject({
  nodes: z.record(z.string(), z.string()).default({}),
  /** By `<namespace>/<pod>`, then container name. */
  pods: z.record(z.string(), z.record(z.string(), z.string())).default({}),
});

const previousLogKey = z.string().regex(/^[^/]+\/[^/]+\/[^/]+$/, 'keys are "<namespace>/<pod>/<container>"');

/** Schema of a scenario file. Unknown top-level keys are refused so that a typo is an error, not a silent no-op. */
export const ScenarioSchema = z.strictObject({
  /** One line saying what the scenario shows. */
  description: z.string().optional(),
  pods: z.array(pod).min(1),
  events: z.array(event).default([]),
  statefulSets: z.array(workload('StatefulSet')).default([]),
  deployments: z.array(workload('Deployment')).default([]),
  replicaSets: z.array(workload('ReplicaSet')).default([]),
  nodes: z.array(node).default([]),
  persistentVolumeClaims: z.array(claim).default([]),
  /** Served at `metrics.k8s.io` when present; without it that API is not served (404), as without metrics-server. */
  metrics: metrics.optional(),
  /** Log of each container's previous (crashed) instance, by `<namespace>/<pod>/<container>`. */
  previousLogs: z.record(previousLogKey, z.string()).default({}),
  /** Log of each container's current instance, by `<namespace>/<pod>/<container>`; empty when absent. */
  logs: z.record(previousLogKey, z.string()).default({}),
});

/** A parsed scenario: the cluster's objects. The simulated cluster serves and mutates one. */
export type Scenario = z.infer<typeof ScenarioSchema>;
export type ScenarioPod = Scenario['pods'][number];
export type ScenarioEvent = Scenario['events'][number];
export type ScenarioNode = Scenario['nodes'][number];
export type Workload =
  Scenario['statefulSets'][number] | Scenario['deployments'][number] | Scenario['replicaSets'][number];

/**
 * Validates a scenario given as YAML text.
 *
 * @param source named in errors (a file path)
 * @throws Error naming the source and every invalid field, like `pods[0].metadata.name: Invalid input…`
 */
export function parseScenario(text: string, source = 'scenario'): Scenario {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new Error(`${source}: not valid YAML: ${(err as Error).message}`, { cause: err });
  }
  const parsed = ScenarioSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const path = issue.path.reduce<string>(
        (acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc === '' ? String(key) : `${acc}.${String(key)}`),
        '',
      );
      return `  ${path === '' ? '(top level)' : path}: ${issue.message}`;
    });
    throw new Error(`${source}: invalid scenario\n${problems.join('\n')}`);
  }
  return parsed.data;
}

/**
 * Reads and validates a scenario file (YAML).
 *
 * @throws Error naming the file and the invalid fields
 */
export function loadScenario(path: string | URL): Scenario {
  const file = path instanceof URL ? fileURLToPath(path) : path;
  return parseScenario(readFileSync(file, 'utf8'), file);
}

/** Path of a scenario shipped in `demo/scenarios/` (`oomkilled-redis` or `oomkilled-redis.yaml`). */
export function demoScenarioPath(name: string): string {
  const file = name.endsWith('.yaml') ? name : `${name}.yaml`;
  const path = repoFile(`demo/scenarios/${file}`);
  if (!existsSync(path)) throw new Error(`no demo scenario "${file}" in demo/scenarios/`);
  return path;
}
