/**
 * The simulated cluster's HTTP side: routes of the Kubernetes REST API the runbook calls, bearer-token auth, injected
 * failures, and the kubeconfig that points the real client at it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { ClusterController } from './controller.js';
import { podLog } from './logs.js';
import type { Scenario, Workload } from './scenario.js';
import { metricsObject } from './metrics.js';
import { matchesEventFieldSelector, matchesLabelSelector, matchesPodFieldSelector } from './selectors.js';
import { HttpError, notFound, statusBody } from './status.js';

const MAX_BODY_BYTES = 1024 * 1024;

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
  const cluster = new ClusterController(scenario);
  const token = randomBytes(24).toString('hex');
  const patches: RecordedPatch[] = [];
  const requests: Array<{ method: string; path: string }> = [];
  const failures: InjectedFailure[] = [];

  const sendList = (res: ServerResponse, kind: string, items: unknown[]) =>
    send(res, 200, { kind, apiVersion: 'v1', metadata: { resourceVersion: cluster.listVersion }, items });

  async function route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = req.method ?? 'GET';
    const path = url.pathname;
    let m: RegExpExecArray | null;

    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/log$/.exec(path)) && method === 'GET') {
      const bytes = podLog(cluster, decodeURIComponent(m[1] ?? ''), decodeURIComponent(m[2] ?? ''), url.searchParams);
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': bytes.length });
      res.end(bytes);
      return;
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/.exec(path)) && method === 'GET') {
      send(res, 200, cluster.podOrThrow(decodeURIComponent(m[1] ?? ''), decodeURIComponent(m[2] ?? '')));
      return;
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/(pods|events)$/.exec(path)) && method === 'GET') {
      const ns = decodeURIComponent(m[1] ?? '');
      if (m[2] === 'pods') {
        const selector = url.searchParams.get('labelSelector') ?? '';
        const pods = cluster.inNamespace(cluster.state.pods, ns);
        sendList(
          res,
          'PodList',
          pods.filter((p) => matchesLabelSelector(p.metadata.labels ?? {}, selector)),
        );
      } else {
        const selector = url.searchParams.get('fieldSelector') ?? '';
        const events = cluster.inNamespace(cluster.state.events, ns);
        sendList(
          res,
          'EventList',
          events.filter((e) => matchesEventFieldSelector(e, selector)),
        );
      }
      return;
    }
    if ((m = /^\/api\/v1\/nodes\/([^/]+)$/.exec(path)) && method === 'GET') {
      const name = decodeURIComponent(m[1] ?? '');
      const found = cluster.state.nodes.find((n) => n.metadata.name === name);
      if (!found) throw notFound('nodes', name);
      send(res, 200, found);
      return;
    }
    if (path === '/api/v1/pods' && method === 'GET') {
      const selector = url.searchParams.get('fieldSelector') ?? '';
      sendList(
        res,
        'PodList',
        cluster.state.pods.filter((p) => matchesPodFieldSelector(p, selector)),
      );
      return;
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/persistentvolumeclaims\/([^/]+)$/.exec(path)) && method === 'GET') {
      const name = decodeURIComponent(m[2] ?? '');
      const found = cluster.find(cluster.state.persistentVolumeClaims, decodeURIComponent(m[1] ?? ''), name);
      if (!found) throw notFound('persistentvolumeclaims', name);
      send(res, 200, found);
      return;
    }
    if (path.startsWith('/apis/metrics.k8s.io/') && method === 'GET') {
      send(res, 200, metricsObject(cluster.state, path));
      return;
    }
    if ((m = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/(statefulsets|deployments|replicasets)\/([^/]+)$/.exec(path))) {
      const ns = decodeURIComponent(m[1] ?? '');
      const resource = (m[2] ?? 'statefulsets') as 'statefulsets' | 'deployments' | 'replicasets';
      const name = decodeURIComponent(m[3] ?? '');
      const list: Workload[] =
        resource === 'statefulsets'
          ? cluster.state.statefulSets
          : resource === 'deployments'
            ? cluster.state.deployments
            : cluster.state.replicaSets;
      if (method === 'GET') {
        const found = cluster.find(list, ns, name);
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
          const found = cluster.find(list, ns, name);
          if (!found) throw notFound(resource, name);
          const patched = cluster.patchWorkload(
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
  const namespace = cluster.state.pods[0]?.metadata.namespace ?? 'default';
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
    scenario: cluster.state,
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
