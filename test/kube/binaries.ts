/**
 * Where the real-API-server suites find etcd, kube-apiserver, kube-controller-manager and kwok: the cache dir that
 * `test/kube/build-binaries.sh` builds them into, or `KUBE_BINARIES_DIR`.
 */
import { isExecutable } from '../../local-servers/temporal-binaries.js';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Kubernetes release the binaries are built from; keep in step with `test/kube/build-binaries.sh`. */
export const KUBE_VERSION = 'v1.36.3';

/** Paths of the binaries a real API server needs. */
export interface KubeBinaries {
  dir: string;
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kwok: string;
}

const NAMES = {
  etcd: 'etcd',
  kubeApiserver: 'kube-apiserver',
  kubeControllerManager: 'kube-controller-manager',
  kwok: 'kwok',
} as const;

/** Raised when a binary is missing; the message says how to build it. */
export class KubeBinariesMissing extends Error {
  constructor(
    public readonly dir: string,
    public readonly missing: string[],
  ) {
    super(
      `${missing.join(', ')} not found in ${dir}. Build them with \`bash test/kube/build-binaries.sh\` ` +
        '(Go >= 1.26 and the Go module proxy; the first build takes 8-12 minutes on 2 cores, later runs reuse the cache), ' +
        'or point KUBE_BINARIES_DIR at a directory holding them.',
    );
    this.name = 'KubeBinariesMissing';
  }
}

/** The directory the binaries are looked up in: `KUBE_BINARIES_DIR`, else the build script's cache dir. */
export function kubeBinariesDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env['KUBE_BINARIES_DIR']) return env['KUBE_BINARIES_DIR'];
  const cache = env['XDG_CACHE_HOME'] || join(homedir(), '.cache');
  return join(cache, 'redis-runbook', 'kube', KUBE_VERSION, 'bin');
}

/**
 * The binaries, checked to be executable.
 * @throws {KubeBinariesMissing} naming each missing one and the command that builds them
 */
export function findKubeBinaries(env: NodeJS.ProcessEnv = process.env): KubeBinaries {
  const dir = kubeBinariesDir(env);
  const paths = Object.fromEntries(Object.entries(NAMES).map(([key, name]) => [key, join(dir, name)])) as Record<
    keyof typeof NAMES,
    string
  >;
  const missing = Object.entries(NAMES)
    .filter(([key]) => !isExecutable(paths[key as keyof typeof NAMES]))
    .map(([, name]) => name);
  if (missing.length > 0) throw new KubeBinariesMissing(dir, missing);
  return { dir, ...paths };
}

/** Whether every binary is present, for deciding if the suites run at all outside CI. */
export function kubeBinariesPresent(env: NodeJS.ProcessEnv = process.env): boolean {
  try {
    findKubeBinaries(env);
    return true;
  } catch {
    return false;
  }
}
