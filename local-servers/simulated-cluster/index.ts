/**
 * A simulated Kubernetes API server: real HTTP and the real REST JSON shapes for what the runbook touches (pods, their
 * logs and events, StatefulSets, Deployments, ReplicaSets, patches), serving the objects of a scenario file. The real
 * `@kubernetes/client-node` talks to it through a kubeconfig, so demos and tests exercise the same code as production.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { repoFile } from '../repo-path.js';

// ---------------------------------------------------------------------------------------------------------------
// Scenario: Kubernetes objects as `kubectl get -o yaml` shows them, validated on the fields the simulation reads.

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
  /** Log of each container's previous (crashed) instance, by `<namespace>/<pod>/<container>`. */
  previousLogs: z.record(previousLogKey, z.string()).default({}),
  /** Log of each container's current instance, by `<namespace>/<pod>/<container>`; empty when absent. */
  logs: z.record(previousLogKey, z.string()).default({}),
});

/** A parsed scenario: the cluster's objects. The simulated cluster serves and mutates one. */
export type Scenario = z.infer<typeof ScenarioSchema>;
export type ScenarioPod = Scenario['pods'][number];
export type ScenarioEvent = Scenario['events'][number];
type Workload = Scenario['statefulSets'][number] | Scenario['deployments'][number] | Scenario['replicaSets'][number];

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

// ---------------------------------------------------------------------------------------------------------------
// The server

/** A patch the server received, accepted or not. */
export interface RecordedPatch {
  path: string;
  contentType: string;
  /** The parsed JSON body, or the raw text when it was not JSON. */
  body: unknown;
  /** HTTP status the server answered. */
  status: number;
}

/** A failure the server answers instead of the next matching requests, to test how callers handle it. */
export interface InjectedFailure {
  /** Matches every method when absent. */
  method?: string;
  /** Matches the request path (without the query). */
  path: string | RegExp;
  code: number;
  reason?: string;
  message?: string;
  /** How many requests fail; 1 when absent. */
  times?: number;
}

/** A running simulated cluster. */
export interface SimulatedCluster {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** A kubeconfig (in a temp dir removed by `stop`) pointing the real client at the server with its token. */
  kubeconfigPath: string;
  /** Bearer token the server requires. */
  token: string;
  /** Every PATCH received, in order. */
  patches: RecordedPatch[];
  /** Every request received, in order; `path` includes the query string. */
  requests: Array<{ method: string; path: string }>;
  /** The live state the server serves; a test may change it (bump a restart count, add an event). */
  scenario: Scenario;
  /** Makes the next matching requests fail with a Kubernetes `Status` of the given code. */
  injectFailure(failure: InjectedFailure): void;
  stop(): Promise<void>;
}

const MERGE_PATCH = 'application/merge-patch+json';
const STRATEGIC_MERGE_PATCH = 'application/strategic-merge-patch+json';
const JSON_PATCH = 'application/json-patch+json';
const MAX_BODY_BYTES = 1024 * 1024;

class HttpError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

function statusBody(code: number, reason: string, message: string, details?: Record<string, unknown>) {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details && { details }),
    code,
  };
}

const RESOURCES = {
  pods: { group: '', label: 'pods' },
  statefulsets: { group: 'apps', label: 'statefulsets.apps' },
  deployments: { group: 'apps', label: 'deployments.apps' },
  replicasets: { group: 'apps', label: 'replicasets.apps' },
} as const;

function notFound(resource: keyof typeof RESOURCES, name: string): HttpError {
  const { group, label } = RESOURCES[resource];
  return new HttpError(404, 'NotFound', `${label} "${name}" not found`, {
    name,
    ...(group !== '' && { group }),
    kind: resource,
  });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return patch;
  const result: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

/**
 * Strategic merge patch, simplified: a merge patch where lists of named objects (containers, env, volumes) merge by
 * `name` instead of being replaced. `$patch` directives are not supported.
 */
function strategicMergePatch(target: unknown, patch: unknown): unknown {
  if (
    Array.isArray(patch) &&
    Array.isArray(target) &&
    patch.every((p) => isPlainObject(p) && typeof p['name'] === 'string')
  ) {
    const result: unknown[] = [...(target as unknown[])];
    for (const item of patch as Array<Record<string, unknown>>) {
      const at = result.findIndex((t) => isPlainObject(t) && t['name'] === item['name']);
      if (at === -1) result.push(item);
      else result[at] = strategicMergePatch(result[at], item);
    }
    return result;
  }
  if (!isPlainObject(patch)) return patch;
  const result: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = strategicMergePatch(result[key], value);
  }
  return result;
}

/** RFC 6902 JSON patch: `add`, `remove`, `replace` and `test`. */
function jsonPatch(target: unknown, operations: unknown[]): unknown {
  const doc = structuredClone(target);
  for (const op of operations) {
    if (!isPlainObject(op) || typeof op['op'] !== 'string' || typeof op['path'] !== 'string') {
      throw new HttpError(400, 'BadRequest', 'invalid JSON patch operation: needs "op" and "path"');
    }
    const tokens = op['path']
      .split('/')
      .slice(1)
      .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = tokens.pop();
    if (last === undefined) throw new HttpError(422, 'Invalid', 'JSON patch on the whole document is not supported');
    let parent: unknown = doc;
    for (const token of tokens) {
      parent = Array.isArray(parent) ? parent[Number(token)] : isPlainObject(parent) ? parent[token] : undefined;
      if (parent === undefined) throw new HttpError(422, 'Invalid', `doc is missing path: "${op['path']}"`);
    }
    const missing = () => new HttpError(422, 'Invalid', `doc is missing path: "${String(op['path'])}"`);
    if (Array.isArray(parent)) {
      const index = last === '-' ? parent.length : Number(last);
      if (op['op'] === 'add') parent.splice(index, 0, op['value']);
      else if (op['op'] === 'remove') parent.splice(index, 1);
      else if (op['op'] === 'replace') parent[index] = op['value'];
      else if (op['op'] === 'test') {
        if (JSON.stringify(parent[index]) !== JSON.stringify(op['value']))
          throw new HttpError(422, 'Invalid', 'test failed');
      } else throw new HttpError(422, 'Invalid', `unsupported JSON patch operation "${op['op']}"`);
    } else if (isPlainObject(parent)) {
      if (op['op'] === 'add' || op['op'] === 'replace') {
        if (op['op'] === 'replace' && !(last in parent)) throw missing();
        parent[last] = op['value'];
      } else if (op['op'] === 'remove') {
        if (!(last in parent)) throw missing();
        delete parent[last];
      } else if (op['op'] === 'test') {
        if (JSON.stringify(parent[last]) !== JSON.stringify(op['value']))
          throw new HttpError(422, 'Invalid', 'test failed');
      } else throw new HttpError(422, 'Invalid', `unsupported JSON patch operation "${op['op']}"`);
    } else throw missing();
  }
  return doc;
}

/** `a=b,c!=d,e,!f`: equality-based label selectors (set-based ones are refused). */
function matchesLabelSelector(labels: Record<string, string>, selectorText: string): boolean {
  if (selectorText.trim() === '') return true;
  return selectorText.split(',').every((raw) => {
    const term = raw.trim();
    if (/\s(in|notin)\s/.test(term)) {
      throw new HttpError(
        400,
        'BadRequest',
        `unable to parse requirement: set-based selectors are not simulated: ${term}`,
      );
    }
    const m = /^([^!=]+?)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (m) {
      const [, key = '', op, value = ''] = m;
      return op === '!=' ? labels[key] !== value : labels[key] === value;
    }
    if (term.startsWith('!')) return !(term.slice(1) in labels);
    return term in labels;
  });
}

const EVENT_FIELDS: Record<string, (e: ScenarioEvent) => string | undefined> = {
  'involvedObject.kind': (e) => e.involvedObject.kind,
  'involvedObject.name': (e) => e.involvedObject.name,
  'involvedObject.namespace': (e) => e.involvedObject.namespace,
  'involvedObject.uid': (e) => e.involvedObject.uid,
  'involvedObject.apiVersion': (e) => e.involvedObject.apiVersion,
  'involvedObject.fieldPath': (e) => e.involvedObject.fieldPath,
  'metadata.name': (e) => e.metadata.name,
  'metadata.namespace': (e) => e.metadata.namespace,
  reason: (e) => e.reason,
  type: (e) => e.type,
  source: (e) => e.source?.component,
};

function matchesEventFieldSelector(event: ScenarioEvent, selectorText: string): boolean {
  if (selectorText.trim() === '') return true;
  return selectorText.split(',').every((raw) => {
    const m = /^([^!=]+?)\s*(==|=|!=)\s*(.*)$/.exec(raw.trim());
    if (!m) throw new HttpError(400, 'BadRequest', `invalid field selector: '${raw}'`);
    const [, field = '', op, value = ''] = m;
    const get = EVENT_FIELDS[field];
    if (!get) throw new HttpError(400, 'BadRequest', `field label not supported: ${field}`);
    return op === '!=' ? (get(event) ?? '') !== value : (get(event) ?? '') === value;
  });
}

function lastLines(text: string, count: number): string {
  if (count === 0) return '';
  const lines = text.split(/(?<=\n)/);
  return lines.slice(-count).join('');
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) reject(new HttpError(413, 'RequestEntityTooLarge', 'request entity too large'));
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Starts a simulated Kubernetes API server for the scenario on 127.0.0.1 (a free port unless `opts.port`).
 *
 * It works on a copy of the scenario (exposed as `scenario`), requires the bearer token written into the kubeconfig
 * (401 otherwise), and answers like a real API server: objects as JSON, logs as plain text, failures as `Status`
 * bodies. A patch that changes a workload's pod template (`kubectl.kubernetes.io/restartedAt`, a container's
 * resources…) simulates the rollout at once: its pods are recreated Running and ready with a fresh container (restart count 0, no previous container), and
 * `Killing`/`Started` events are added. Call `stop()` to close the server and remove the kubeconfig.
 */
export async function startSimulatedCluster(
  scenario: Scenario,
  opts: { port?: number } = {},
): Promise<SimulatedCluster> {
  const state = structuredClone(scenario);
  const token = randomBytes(24).toString('hex');
  const patches: RecordedPatch[] = [];
  const requests: Array<{ method: string; path: string }> = [];
  const failures: InjectedFailure[] = [];
  let resourceVersion = 1000;

  const nextVersion = () => String(++resourceVersion);
  const inNamespace = <T extends { metadata: { name: string; namespace: string } }>(items: T[], ns: string) =>
    items.filter((item) => item.metadata.namespace === ns);
  const find = <T extends { metadata: { name: string; namespace: string } }>(items: T[], ns: string, name: string) =>
    items.find((item) => item.metadata.namespace === ns && item.metadata.name === name);

  function podOrThrow(ns: string, name: string): ScenarioPod {
    const found = find(state.pods, ns, name);
    if (!found) throw notFound('pods', name);
    return found;
  }

  function addEvent(
    involved: { kind: string; name: string; namespace: string; apiVersion: string; fieldPath?: string },
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    component: string,
  ): void {
    const now = new Date().toISOString();
    state.events.push({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: {
        name: `${involved.name}.${randomBytes(8).toString('hex')}`,
        namespace: involved.namespace,
        uid: randomUUID(),
        resourceVersion: nextVersion(),
        creationTimestamp: now,
      },
      involvedObject: involved,
      reason,
      message,
      type,
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
      source: { component },
    });
  }

  function podsOf(kind: string, ns: string, name: string): ScenarioPod[] {
    const ownedBy = (refs: { kind: string; name: string }[] | undefined, k: string, n: string) =>
      refs?.some((r) => r.kind === k && r.name === n) ?? false;
    if (kind === 'StatefulSet')
      return inNamespace(state.pods, ns).filter((p) => ownedBy(p.metadata.ownerReferences, kind, name));
    const replicaSets = inNamespace(state.replicaSets, ns).filter((rs) =>
      ownedBy(rs.metadata.ownerReferences, kind, name),
    );
    return inNamespace(state.pods, ns).filter((p) =>
      replicaSets.some((rs) => ownedBy(p.metadata.ownerReferences, 'ReplicaSet', rs.metadata.name)),
    );
  }

  /** What the controller and kubelet would do after a template change: replace each pod with a healthy one. */
  function rollOut(kind: 'StatefulSet' | 'Deployment', target: Workload): void {
    const { namespace: ns, name } = target.metadata;
    const template = target.spec.template;
    for (const p of podsOf(kind, ns, name)) {
      const podName = p.metadata.name;
      for (const c of p.spec.containers) {
        addEvent(
          { kind: 'Pod', name: podName, namespace: ns, apiVersion: 'v1', fieldPath: `spec.containers{${c.name}}` },
          'Normal',
          'Killing',
          `Stopping container ${c.name}`,
          'kubelet',
        );
      }
      if (kind === 'StatefulSet') {
        addEvent(
          { kind, name, namespace: ns, apiVersion: 'apps/v1' },
          'Normal',
          'SuccessfulDelete',
          `delete Pod ${podName} in StatefulSet ${name} successful`,
          'statefulset-controller',
        );
        addEvent(
          { kind, name, namespace: ns, apiVersion: 'apps/v1' },
          'Normal',
          'SuccessfulCreate',
          `create Pod ${podName} in StatefulSet ${name} successful`,
          'statefulset-controller',
        );
      }
      const now = new Date().toISOString();
      p.metadata.uid = randomUUID();
      p.metadata.creationTimestamp = now;
      p.metadata.resourceVersion = nextVersion();
      p.metadata.annotations = { ...p.metadata.annotations, ...template.metadata?.annotations };
      p.spec.containers = structuredClone(template.spec.containers);
      p.status = {
        phase: 'Running',
        startTime: now,
        conditions: ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({
          type,
          status: 'True' as const,
          lastTransitionTime: now,
        })),
        containerStatuses: p.spec.containers.map((c) => ({
          name: c.name,
          image: c.image,
          ready: true,
          started: true,
          restartCount: 0,
          state: { running: { startedAt: now } },
          lastState: {},
        })),
      };
      for (const key of Object.keys(state.previousLogs)) {
        if (key.startsWith(`${ns}/${podName}/`)) delete state.previousLogs[key];
      }
      for (const c of p.spec.containers) {
        const ref = {
          kind: 'Pod',
          name: podName,
          namespace: ns,
          apiVersion: 'v1',
          fieldPath: `spec.containers{${c.name}}`,
        };
        addEvent(ref, 'Normal', 'Pulled', `Container image "${c.image}" already present on machine`, 'kubelet');
        addEvent(ref, 'Normal', 'Created', `Created container ${c.name}`, 'kubelet');
        addEvent(ref, 'Normal', 'Started', `Started container ${c.name}`, 'kubelet');
      }
    }
    const replicas = target.spec.replicas ?? 1;
    target.status = {
      ...target.status,
      observedGeneration: target.metadata.generation,
      replicas,
      readyReplicas: replicas,
      ...(kind === 'StatefulSet'
        ? {
            currentReplicas: replicas,
            updatedReplicas: replicas,
            currentRevision: `${name}-${randomBytes(5).toString('hex')}`,
          }
        : { updatedReplicas: replicas, availableReplicas: replicas }),
    };
  }

  function patchWorkload(
    kind: 'StatefulSet' | 'Deployment',
    target: Workload,
    contentType: string,
    body: unknown,
  ): Workload {
    let patched: unknown;
    if (contentType === MERGE_PATCH) patched = mergePatch(target, body);
    else if (contentType === STRATEGIC_MERGE_PATCH) patched = strategicMergePatch(target, body);
    else if (contentType === JSON_PATCH) {
      if (!Array.isArray(body)) {
        throw new HttpError(400, 'BadRequest', 'json: cannot unmarshal object into Go value of type jsonpatch.Patch');
      }
      patched = jsonPatch(target, body);
    } else {
      throw new HttpError(
        415,
        'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: ${JSON_PATCH}, ${MERGE_PATCH}, application/apply-patch+yaml, ${STRATEGIC_MERGE_PATCH}`,
      );
    }
    const wanted =
      isPlainObject(body) && isPlainObject(body['metadata']) ? body['metadata']['resourceVersion'] : undefined;
    if (typeof wanted === 'string' && wanted !== target.metadata.resourceVersion) {
      throw new HttpError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${kind === 'StatefulSet' ? 'statefulsets' : 'deployments'}.apps "${target.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
    const schema =
      kind === 'StatefulSet'
        ? ScenarioSchema.shape.statefulSets.unwrap().element
        : ScenarioSchema.shape.deployments.unwrap().element;
    const checked = schema.safeParse(patched);
    if (!checked.success) {
      throw new HttpError(
        422,
        'Invalid',
        `${kind} "${target.metadata.name}" is invalid: ${checked.error.issues[0]?.message ?? 'invalid'}`,
      );
    }
    const next: Workload = checked.data;
    next.metadata.name = target.metadata.name;
    next.metadata.namespace = target.metadata.namespace;
    const specChanged = JSON.stringify(next.spec) !== JSON.stringify(target.spec);
    next.metadata.resourceVersion = nextVersion();
    if (specChanged) next.metadata.generation = (target.metadata.generation ?? 1) + 1;

    const list: Workload[] = kind === 'StatefulSet' ? state.statefulSets : state.deployments;
    list[list.indexOf(target)] = next;
    // As the real controllers: any pod-template change (a restart annotation, a new memory limit) rolls the pods.
    if (JSON.stringify(next.spec.template) !== JSON.stringify(target.spec.template)) rollOut(kind, next);
    return next;
  }

  function podLog(ns: string, name: string, query: URLSearchParams): Buffer {
    const p = podOrThrow(ns, name);
    const names = p.spec.containers.map((c) => c.name);
    let containerName = query.get('container') ?? undefined;
    if (containerName === undefined) {
      if (names.length > 1) {
        throw new HttpError(
          400,
          'BadRequest',
          `a container name must be specified for pod ${name}, choose one of: [${names.join(' ')}]`,
        );
      }
      containerName = names[0] ?? '';
    }
    if (!names.includes(containerName)) {
      throw new HttpError(400, 'BadRequest', `container ${containerName} is not valid for pod ${name}`);
    }
    const status = p.status?.containerStatuses?.find((s) => s.name === containerName);
    const key = `${ns}/${name}/${containerName}`;
    let text: string;
    if (query.get('previous') === 'true') {
      if (!status?.lastState?.terminated) {
        throw new HttpError(
          400,
          'BadRequest',
          `previous terminated container "${containerName}" in pod "${name}" not found`,
        );
      }
      text = state.previousLogs[key] ?? '';
    } else {
      const waiting = status?.state?.waiting;
      if (!status || (waiting && status.restartCount === 0)) {
        throw new HttpError(
          400,
          'BadRequest',
          `container "${containerName}" in pod "${name}" is waiting to start: ${waiting?.reason ?? 'ContainerCreating'}`,
        );
      }
      text = state.logs[key] ?? '';
    }
    const tail = query.get('tailLines');
    if (tail !== null) {
      const count = Number(tail);
      if (!Number.isInteger(count) || count < 0) {
        throw new HttpError(
          422,
          'Invalid',
          `PodLogOptions "${name}" is invalid: tailLines: Invalid value: ${tail}: must be greater than or equal to 0`,
        );
      }
      text = lastLines(text, count);
    }
    let bytes = Buffer.from(text, 'utf8');
    const limit = query.get('limitBytes');
    if (limit !== null) {
      const count = Number(limit);
      if (!Number.isInteger(count) || count < 1) {
        throw new HttpError(
          422,
          'Invalid',
          `PodLogOptions "${name}" is invalid: limitBytes: Invalid value: ${limit}: must be greater than 0`,
        );
      }
      bytes = bytes.subarray(0, count);
    }
    return bytes;
  }

  async function route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = req.method ?? 'GET';
    const path = url.pathname;
    let m: RegExpExecArray | null;

    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/log$/.exec(path)) && method === 'GET') {
      const bytes = podLog(decodeURIComponent(m[1] ?? ''), decodeURIComponent(m[2] ?? ''), url.searchParams);
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': bytes.length });
      res.end(bytes);
      return;
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/.exec(path)) && method === 'GET') {
      send(res, 200, podOrThrow(decodeURIComponent(m[1] ?? ''), decodeURIComponent(m[2] ?? '')));
      return;
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(path)) && method === 'GET') {
      const selectorText = url.searchParams.get('labelSelector') ?? '';
      const items = inNamespace(state.pods, decodeURIComponent(m[1] ?? '')).filter((p) =>
        matchesLabelSelector(p.metadata.labels ?? {}, selectorText),
      );
      send(res, 200, {
        kind: 'PodList',
        apiVersion: 'v1',
        metadata: { resourceVersion: String(resourceVersion) },
        items,
      });
      return;
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/events$/.exec(path)) && method === 'GET') {
      const selectorText = url.searchParams.get('fieldSelector') ?? '';
      const items = inNamespace(state.events, decodeURIComponent(m[1] ?? '')).filter((e) =>
        matchesEventFieldSelector(e, selectorText),
      );
      send(res, 200, {
        kind: 'EventList',
        apiVersion: 'v1',
        metadata: { resourceVersion: String(resourceVersion) },
        items,
      });
      return;
    }
    if ((m = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/(statefulsets|deployments|replicasets)\/([^/]+)$/.exec(path))) {
      const ns = decodeURIComponent(m[1] ?? '');
      const resource = (m[2] ?? 'statefulsets') as 'statefulsets' | 'deployments' | 'replicasets';
      const name = decodeURIComponent(m[3] ?? '');
      const list: Workload[] =
        resource === 'statefulsets'
          ? state.statefulSets
          : resource === 'deployments'
            ? state.deployments
            : state.replicaSets;
      if (method === 'GET') {
        const found = find(list, ns, name);
        if (!found) throw notFound(resource, name);
        send(res, 200, found);
        return;
      }
      if (method === 'PATCH' && resource !== 'replicasets') {
        const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
        const text = await readBody(req);
        let body: unknown = text;
        const recorded: RecordedPatch = { path: url.pathname, contentType, body, status: 0 };
        patches.push(recorded);
        try {
          try {
            body = JSON.parse(text);
            recorded.body = body;
          } catch {
            throw new HttpError(400, 'BadRequest', `error decoding patch: invalid JSON`);
          }
          const found = find(list, ns, name);
          if (!found) throw notFound(resource, name);
          const patched = patchWorkload(
            resource === 'statefulsets' ? 'StatefulSet' : 'Deployment',
            found,
            contentType,
            body,
          );
          recorded.status = 200;
          send(res, 200, patched);
        } catch (err) {
          recorded.status = err instanceof HttpError ? err.code : 500;
          throw err;
        }
        return;
      }
      throw new HttpError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
    }
    throw new HttpError(404, 'NotFound', 'the server could not find the requested resource');
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    requests.push({ method, path: url.pathname + url.search });

    const handle = async () => {
      if (req.headers.authorization !== `Bearer ${token}`) throw new HttpError(401, 'Unauthorized', 'Unauthorized');
      const failure = failures.find(
        (f) =>
          (f.method === undefined || f.method.toUpperCase() === method) &&
          (typeof f.path === 'string' ? f.path === url.pathname : f.path.test(url.pathname)),
      );
      if (failure) {
        failure.times = (failure.times ?? 1) - 1;
        if (failure.times <= 0) failures.splice(failures.indexOf(failure), 1);
        throw new HttpError(
          failure.code,
          failure.reason ?? 'InternalError',
          failure.message ?? `injected failure ${failure.code}`,
        );
      }
      await route(req, res, url);
    };
    handle().catch((err: unknown) => {
      if (res.headersSent) return void res.end();
      if (err instanceof HttpError) send(res, err.code, statusBody(err.code, err.reason, err.message, err.details));
      else send(res, 500, statusBody(500, 'InternalError', `simulated cluster: ${(err as Error).message}`));
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  const dir = await mkdtemp(join(tmpdir(), 'simulated-cluster-'));
  const kubeconfigPath = join(dir, 'kubeconfig.yaml');
  const namespace = state.pods[0]?.metadata.namespace ?? 'default';
  const kubeconfig = {
    apiVersion: 'v1',
    kind: 'Config',
    // The client refuses plain http unless TLS verification is off; there is no TLS here to verify.
    clusters: [{ name: 'simulated', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'runbook', user: { token } }],
    contexts: [{ name: 'simulated', context: { cluster: 'simulated', user: 'runbook', namespace } }],
    'current-context': 'simulated',
  };
  await writeFile(kubeconfigPath, stringifyYaml(kubeconfig), { mode: 0o600 });

  return {
    url,
    kubeconfigPath,
    token,
    patches,
    requests,
    scenario: state,
    injectFailure(failure) {
      failures.push({ ...failure });
    },
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await rm(dir, { recursive: true, force: true });
    },
  };
}
