/**
 * A real Kubernetes control plane for tests, all on free loopback ports: etcd, kube-apiserver (TLS, token
 * authentication, RBAC, the TokenRequest API), kube-controller-manager (the Deployment, ReplicaSet and StatefulSet
 * controllers, so rollouts really happen) and kwok as the node agent of one fake node (it moves pods through their
 * lifecycle and serves container logs from files). The binaries come from `test/kube/build-binaries.sh`.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { findKubeBinaries, type KubeBinaries } from '../kube/binaries.js';
import { generateCertificates, type TestCertificates } from '../kube/certificates.js';
import { KWOK_NODE_ANNOTATION, kwokConfigYaml, type ContainerLogFiles } from '../kube/kwok-config.js';
import { startProcess, waitUntilReady, type ServerProcess } from '../kube/process.js';
import { freePort } from '../../local-servers/free-port.js';

/** Name of the fake node kwok manages; pods that should run (and serve logs) set `spec.nodeName` to it. */
export const FAKE_NODE = 'kwok-node-0';

/** Container logs kwok serves, given as text. */
export interface ContainerLogs {
  namespace: string;
  pod: string;
  container: string;
  /** What `kubectl logs --previous` prints; absent: no previous container. */
  previous?: string;
  /** What `kubectl logs` prints (default empty). */
  current?: string;
}

/** Options of {@link startKubeApiServer}. */
export interface StartKubeApiServerOptions {
  /** Logs kwok serves. kwok reads its configuration once, so every pod with logs is named up front. */
  logs?: ContainerLogs[];
  /** Start kube-controller-manager (default true). */
  controllers?: boolean;
  /** Start kwok and its fake node {@link FAKE_NODE} (default true). */
  kwok?: boolean;
  /** How long each component may take to become ready, in ms (default 120 000: a busy 2-core machine is slow). */
  readyTimeoutMs?: number;
}

/** A running control plane. */
export interface KubeApiServer {
  /** `https://127.0.0.1:<port>` */
  url: string;
  /** PEM of the CA the API server's certificate is signed by. */
  caPem: string;
  /** Bearer token of `admin` (group `system:masters`). */
  adminToken: string;
  /** An admin kubeconfig file (removed by `stop`). */
  kubeconfigPath: string;
  /** Where the binaries were found. */
  binaries: KubeBinaries;
  /** Certificate and key files for 127.0.0.1 signed by the CA: a test's own HTTPS server (a webhook) can use them. */
  servingTls: { certFile: string; keyFile: string };
  /** A client configuration for the admin. */
  adminConfig(): KubeConfig;
  /** A client configuration authenticating with `token` (e.g. a service account's, from the TokenRequest API). */
  configForToken(token: string, namespace?: string): KubeConfig;
  /** Writes a kubeconfig file for `token` into the server's temp dir and returns its path. */
  writeKubeconfig(token: string, name: string, namespace?: string): Promise<string>;
  /** The file kwok serves as the previous log of a container given in `logs`, in CRI log format. */
  previousLogFile(namespace: string, pod: string, container: string): string;
  /** Stops every process in reverse order and removes the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

function kubeconfigYaml(server: string, caPem: string, token: string, namespace = 'default'): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'test',
        cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') },
      },
    ],
    users: [{ name: 'user', user: { token } }],
    contexts: [{ name: 'test', context: { cluster: 'test', user: 'user', namespace } }],
    'current-context': 'test',
  });
}

function clientConfig(server: string, caPem: string, token: string, namespace = 'default'): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'test', server, caData: Buffer.from(caPem).toString('base64'), skipTLSVerify: false }],
    users: [{ name: 'user', token }],
    contexts: [{ name: 'test', cluster: 'test', user: 'user', namespace }],
    currentContext: 'test',
  });
  return kc;
}

/**
 * GET over TLS; resolves with the status code (0 when the connection fails). `ca` undefined: the server's certificate
 * is not checked (kube-controller-manager serves a self-signed one).
 */
function httpsStatus(url: string, ca: string | undefined, token?: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      url,
      {
        ...(ca === undefined ? { rejectUnauthorized: false } : { ca }),
        headers: token ? { Authorization: `Bearer ${token}` } : {},
        timeout: 2000,
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** Text as the container runtime's log file holds it (CRI format), which is what kwok parses: one entry per line. */
function criLog(text: string): string {
  if (text === '') return '';
  const at = new Date().toISOString();
  return text
    .replace(/\n$/, '')
    .split('\n')
    .map((line) => `${at} stdout F ${line}\n`)
    .join('');
}

function logFileName(namespace: string, pod: string, container: string, kind: 'previous' | 'current'): string {
  return `${namespace}_${pod}_${container}.${kind}.log`;
}

/**
 * Starts the control plane and resolves once the API server is ready (`/readyz`), the controllers answer `/healthz`
 * and kwok has made the fake node Ready. On a failure, whatever started is stopped and the error carries the failing
 * process's output.
 *
 * @throws {KubeBinariesMissing} when the binaries are not built, naming the build command
 */
export async function startKubeApiServer(opts: StartKubeApiServerOptions = {}): Promise<KubeApiServer> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await launch(opts);
    } catch (err) {
      lastError = err;
      // Another process may take a port between freePort() and the bind: start again on new ports.
      if (!(err instanceof Error && /address already in use/i.test(err.message))) throw err;
    }
  }
  throw lastError;
}

async function launch(opts: StartKubeApiServerOptions): Promise<KubeApiServer> {
  const binaries = findKubeBinaries();
  const timeout = opts.readyTimeoutMs ?? 120_000;
  const dir = await mkdtemp(join(tmpdir(), 'kube-apiserver-'));
  const procs: ServerProcess[] = [];
  const stopAll = async () => {
    for (const p of procs.splice(0).reverse()) await p.stop();
  };
  try {
    const certs = await generateCertificates(dir);
    const etcdUrl = await startEtcd(binaries, dir, procs, timeout);
    const port = await freePort();
    const url = `https://127.0.0.1:${port}`;
    await startApiServer(binaries, certs, dir, etcdUrl, port, procs, timeout);
    const kubeconfigPath = join(dir, 'admin.kubeconfig');
    await writeFile(kubeconfigPath, kubeconfigYaml(url, certs.caPem, certs.adminToken), { mode: 0o600 });

    if (opts.controllers ?? true) await startControllers(binaries, dir, kubeconfigPath, procs, timeout);

    const logsDir = join(dir, 'logs');
    await mkdir(logsDir);
    const logFiles: ContainerLogFiles[] = [];
    for (const l of opts.logs ?? []) {
      const logsFile = join(logsDir, logFileName(l.namespace, l.pod, l.container, 'current'));
      await writeFile(logsFile, criLog(l.current ?? ''));
      let previousLogsFile: string | undefined;
      if (l.previous !== undefined) {
        previousLogsFile = join(logsDir, logFileName(l.namespace, l.pod, l.container, 'previous'));
        await writeFile(previousLogsFile, criLog(l.previous));
      }
      logFiles.push({ ...l, logsFile, ...(previousLogsFile !== undefined && { previousLogsFile }) });
    }
    const admin = clientConfig(url, certs.caPem, certs.adminToken);
    if (opts.kwok ?? true) await startKwok(binaries, certs, dir, kubeconfigPath, logFiles, admin, procs, timeout);

    let stopped = false;
    return {
      url,
      caPem: certs.caPem,
      adminToken: certs.adminToken,
      kubeconfigPath,
      binaries,
      servingTls: { certFile: certs.servingCert, keyFile: certs.servingKey },
      adminConfig: () => clientConfig(url, certs.caPem, certs.adminToken),
      configForToken: (token, namespace) => clientConfig(url, certs.caPem, token, namespace),
      async writeKubeconfig(token, name, namespace) {
        const path = join(dir, `${name}.kubeconfig`);
        await writeFile(path, kubeconfigYaml(url, certs.caPem, token, namespace), { mode: 0o600 });
        return path;
      },
      previousLogFile: (namespace, pod, container) => join(logsDir, logFileName(namespace, pod, container, 'previous')),
      async stop() {
        if (stopped) return;
        stopped = true;
        await stopAll();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stopAll();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function startEtcd(binaries: KubeBinaries, dir: string, procs: ServerProcess[], timeout: number) {
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const etcd = startProcess('etcd', binaries.etcd, [
    `--data-dir=${join(dir, 'etcd')}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=default=${peer}`,
    '--name=default',
    // A test cluster's data is thrown away: no fsync keeps writes fast on a shared disk.
    '--unsafe-no-fsync',
    '--log-level=warn',
  ]);
  procs.push(etcd);
  await waitUntilReady(
    etcd,
    async () => {
      const res = await fetch(`${client}/health`, { signal: AbortSignal.timeout(2000) });
      return res.ok && ((await res.json()) as { health?: string }).health === 'true';
    },
    timeout,
    'healthy etcd',
  );
  return client;
}

async function startApiServer(
  binaries: KubeBinaries,
  certs: TestCertificates,
  dir: string,
  etcdUrl: string,
  port: number,
  procs: ServerProcess[],
  timeout: number,
) {
  const apiserver = startProcess('kube-apiserver', binaries.kubeApiserver, [
    `--etcd-servers=${etcdUrl}`,
    `--secure-port=${port}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--cert-dir=${join(dir, 'apiserver-certs')}`,
    `--tls-cert-file=${certs.servingCert}`,
    `--tls-private-key-file=${certs.servingKey}`,
    `--client-ca-file=${certs.caCert}`,
    `--token-auth-file=${certs.tokenFile}`,
    '--authorization-mode=Node,RBAC',
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${certs.serviceAccountPub}`,
    `--service-account-signing-key-file=${certs.serviceAccountKey}`,
    '--service-cluster-ip-range=10.96.0.0/16',
    // No token controller and no kubelet mounting tokens here: the plugin would refuse pods of accounts it cannot
    // find. PodSecurity stays on, so the manifests meet the real `restricted` checks.
    '--disable-admission-plugins=ServiceAccount',
    // Logs are proxied to kwok's kubelet endpoint, whose certificate the test CA signed.
    `--kubelet-certificate-authority=${certs.caCert}`,
    '--kubelet-preferred-address-types=InternalIP',
    '--profiling=false',
  ]);
  procs.push(apiserver);
  await waitUntilReady(
    apiserver,
    async () => (await httpsStatus(`https://127.0.0.1:${port}/readyz`, certs.caPem, certs.adminToken)) === 200,
    timeout,
    'ready kube-apiserver (/readyz)',
  );
}

async function startControllers(
  binaries: KubeBinaries,
  dir: string,
  kubeconfigPath: string,
  procs: ServerProcess[],
  timeout: number,
) {
  const port = await freePort();
  const kcm = startProcess('kube-controller-manager', binaries.kubeControllerManager, [
    `--kubeconfig=${kubeconfigPath}`,
    // Only what turns a workload's pod template into pods; no scheduler runs, so templates name the fake node.
    '--controllers=deployment-controller,replicaset-controller,statefulset-controller',
    '--leader-elect=false',
    '--use-service-account-credentials=false',
    `--secure-port=${port}`,
    '--bind-address=127.0.0.1',
    `--cert-dir=${join(dir, 'kcm-certs')}`,
    '--profiling=false',
  ]);
  procs.push(kcm);
  await waitUntilReady(
    kcm,
    async () => (await httpsStatus(`https://127.0.0.1:${port}/healthz`, undefined)) === 200,
    timeout,
    'kube-controller-manager answering /healthz',
  );
}

async function startKwok(
  binaries: KubeBinaries,
  certs: TestCertificates,
  dir: string,
  kubeconfigPath: string,
  logs: ContainerLogFiles[],
  admin: KubeConfig,
  procs: ServerProcess[],
  timeout: number,
) {
  const port = await freePort();
  const configPath = join(dir, 'kwok.yaml');
  await writeFile(configPath, kwokConfigYaml(logs));
  const kwok = startProcess(
    'kwok',
    binaries.kwok,
    [
      `--kubeconfig=${kubeconfigPath}`,
      `--config=${configPath}`,
      '--manage-all-nodes=false',
      `--manage-nodes-with-annotation-selector=${KWOK_NODE_ANNOTATION}=fake`,
      '--node-ip=127.0.0.1',
      `--node-port=${port}`,
      `--server-address=127.0.0.1:${port}`,
      `--tls-cert-file=${certs.servingCert}`,
      `--tls-private-key-file=${certs.servingKey}`,
    ],
    // kwok reads ~/.kwok/kwok.yaml too when it exists: a private HOME keeps a developer's file out.
    { ...process.env, HOME: dir },
  );
  procs.push(kwok);
  const core = admin.makeApiClient(CoreV1Api);
  await core.createNode({
    body: {
      metadata: {
        name: FAKE_NODE,
        annotations: { [KWOK_NODE_ANNOTATION]: 'fake' },
        labels: { 'kubernetes.io/hostname': FAKE_NODE, type: 'kwok' },
      },
    },
  });
  await waitUntilReady(
    kwok,
    async () => {
      const node = await core.readNode({ name: FAKE_NODE });
      return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    },
    timeout,
    `node ${FAKE_NODE} made Ready by kwok`,
  );
}
