import type {
  ClaimSummary,
  LogClassification,
  LogSignal,
  NodeDescription,
  PodDescription,
  RedisNodePod,
  ResourceLimits,
} from '../../../activities/kubernetes/types.js';
import type { CleanupPreview, RedisDiagnostics } from '../../../activities/redis/types.js';
import type { Thresholds } from '../../../activities/settings/types.js';

/** Everything the diagnose steps gathered. A step that failed leaves its error instead of its evidence. */
export interface Evidence {
  pod?: PodDescription;
  podError?: string;
  logs?: LogClassification;
  limits?: ResourceLimits;
  limitsError?: string;
  redis?: RedisDiagnostics;
  redisError?: string;
  /** The node the pod runs on (step 4). */
  node?: NodeDescription;
  nodeError?: string;
  /** The PersistentVolumeClaims of the pod's volumes (step 5). */
  claims?: ClaimSummary[];
  claimsError?: string;
  /** Previews of the cleanups the run was asked for, in the order asked. */
  cleanup?: CleanupPreview[];
  /** The pod each node of a replicated set or Cluster runs in (absent for a standalone Redis). */
  nodePods?: RedisNodePod[];
}

export type Severity = 'critical' | 'warning' | 'info';

/** Every rule id a finding can carry: the plan and verification match on these, so a misspelt id fails to compile. */
export type FindingId =
  | 'pod-unavailable'
  | 'pod-oomkilled'
  | 'pod-crashloop'
  | 'probes-failing'
  | 'redis-unreachable'
  | 'noeviction-near-limit'
  | 'maxmemory-unbounded'
  | 'maxmemory-above-limit-share'
  | 'fragmentation-high'
  | 'writes-rejected'
  | 'connections-rejected'
  | 'evictions'
  | 'bgsave-failing'
  | 'aof-write-failing'
  | 'sidekiq-stat-no-ttl'
  | 'sidekiq-dead-large'
  | 'sidekiq-dead-old'
  | 'sidekiq-retry-large'
  | 'command-del-slow'
  | 'client-buffers-large'
  | 'memory-not-counted-for-evict'
  | 'clients-evicted'
  | 'latency-spikes'
  | 'liveness-kills-loading'
  | 'memory-request-below-limit'
  | 'image-latest'
  | 'sidecar-without-memory-limit'
  | 'data-dir-not-on-volume'
  | 'node-unavailable'
  | 'node-not-ready'
  | 'node-memory-pressure'
  | 'node-disk-pressure'
  | 'node-pid-pressure'
  | 'node-oom-events'
  | 'node-evictions'
  | 'node-overcommitted'
  | 'node-metrics-unavailable'
  | 'node-memory-high'
  | 'claims-unavailable'
  | 'claim-not-bound'
  | 'claim-resizing'
  | 'data-volume-read-only'
  | 'redis-loading'
  | 'aof-rewrite-stuck'
  | 'aof-rewrite-failing'
  | 'fork-cow-exceeds-headroom'
  | 'cleanup-pattern-refused'
  | 'cleanup-pattern-unmatched'
  | 'primary-in-other-pod'
  | 'node-pod-failing'
  | 'command-keys'
  | 'command-monitor'
  | 'command-flushall'
  | 'command-flushdb'
  | `log-${LogSignal}`
  | `big-key:${number}:${string}`
  | `no-ttl-prefix:${string}`;

export interface Finding {
  /** Stable rule id, e.g. `noeviction-near-limit`. */
  id: FindingId;
  severity: Severity;
  message: string;
  /** The figures the finding rests on. */
  evidence: Record<string, string | number | boolean>;
}

export const MiB = 1024 * 1024;

export function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}

export function pct(ratio: number): string {
  return `${(ratio * 100).toFixed(1)}%`;
}

export type Rule = (e: Evidence, t: Thresholds) => Finding[];

/** The one finding of a step that gathered no evidence, when it failed (rather than was skipped). */
export function unavailable(id: FindingId, severity: Severity, what: string, error: string | undefined): Finding[] {
  return error ? [{ id, severity, message: `${what}: ${error}`, evidence: {} }] : [];
}

type SpecContainer = NonNullable<PodDescription['spec']>['containers'][number];

/** Redis's container in the pod's spec: the one `checkLimits` named, else the first. */
export function redisContainer(e: Evidence): SpecContainer | undefined {
  const containers = e.pod?.spec?.containers ?? [];
  const name = e.limits?.container ?? containers[0]?.name;
  return containers.find((c) => c.name === name) ?? containers[0];
}

/** The deepest of the container's mounts that holds `dir`, if any. */
export function mountHolding(container: SpecContainer, dir: string): SpecContainer['mounts'][number] | undefined {
  return container.mounts
    .filter((m) => dir === m.path || dir.startsWith(`${m.path.replace(/\/$/, '')}/`))
    .sort((a, b) => b.path.length - a.path.length)[0];
}
