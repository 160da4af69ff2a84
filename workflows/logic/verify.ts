import type { PodHealthSample } from '../../activities/kubernetes/types.js';
import type { RedisDiagnostics } from '../../activities/redis/types.js';
import type { Finding, FindingId } from './findings.js';
import { topologyProblems } from './topology.js';

export interface Verification {
  passed: boolean;
  reasons: string[];
  before?: RedisDiagnostics;
  after?: RedisDiagnostics;
  podSamples: PodHealthSample[];
}

/** Findings a successful remediation must make disappear. */
export const MUST_CLEAR: FindingId[] = ['noeviction-near-limit', 'writes-rejected', 'bgsave-failing'];

export interface VerificationInput {
  before?: RedisDiagnostics;
  after?: RedisDiagnostics;
  afterError?: string;
  findingsBefore: Finding[];
  findingsAfter: Finding[];
  podSamples: PodHealthSample[];
  podError?: string;
}

/**
 * Judges the remediation: Redis answers and accepts writes, the findings it targeted are gone, and over the whole
 * watch window the pod stayed up (no new restarts) and ended ready. Pure, so the rules are tested directly.
 */
export function evaluateVerification(v: VerificationInput): Verification {
  const reasons: string[] = [];
  if (!v.after) reasons.push(`Redis could not be diagnosed after remediation: ${v.afterError ?? 'unknown error'}`);
  else if (!v.after.writable) reasons.push(`writes still fail: ${v.after.writeError ?? 'unknown error'}`);
  const before = new Set(v.findingsBefore.map((f) => f.id));
  for (const f of v.findingsAfter) {
    if (MUST_CLEAR.includes(f.id) && before.has(f.id)) reasons.push(`still present: ${f.message}`);
  }
  // Every node of a set or Cluster: replicas linked and caught up, no Cluster node failed.
  reasons.push(...topologyProblems(v.after));
  if (v.podError) reasons.push(`pod could not be watched: ${v.podError}`);
  const samples = v.podSamples;
  const first = samples[0];
  const last = samples[samples.length - 1];
  if (first && last) {
    if (last.restartCount > first.restartCount) {
      reasons.push(`the pod restarted ${last.restartCount - first.restartCount} time(s) during the watch window`);
    }
    if (!last.ready) reasons.push(`the pod is not ready at the end of the watch window (phase ${last.phase})`);
  } else if (!v.podError) {
    reasons.push('no pod sample was taken');
  }
  return { passed: reasons.length === 0, reasons, before: v.before, after: v.after, podSamples: samples };
}

/** A few comparable figures for the report's before/after table. */
export function keyFigures(d: RedisDiagnostics | undefined): Record<string, number | string> | undefined {
  if (!d) return undefined;
  return {
    usedMemory: d.memory.usedMemory,
    maxmemory: d.memory.maxmemory,
    maxmemoryPolicy: d.memory.maxmemoryPolicy,
    fragmentationRatio: d.memory.fragmentationRatio,
    keys: d.keyspace.reduce((n, db) => n + db.keys, 0),
    keysWithExpiry: d.keyspace.reduce((n, db) => n + db.expires, 0),
    writable: d.writable ? 'yes' : 'no',
    rdbLastBgsaveStatus: d.persistence.rdbLastBgsaveStatus,
  };
}
