import { mib, mountHolding, redisContainer, unavailable } from './model.js';
import type { Evidence, Finding, Rule } from './model.js';

/** An AOF rewrite running this long is stuck (or starved of disk or memory), in seconds. */
const AOF_REWRITE_STUCK_SECONDS = 600;

/**
 * Storage, from both sides: the PersistentVolumeClaims the pod's volumes name (missing, not bound, resizing), a data
 * directory on a read-only mount, and Redis's own persistence state (still loading, an AOF rewrite stuck, a fork that
 * copies more on write than the container has left under its limit: the next BGSAVE, the backup too, gets it killed).
 * The write test is the backup's BGSAVE: its failure is `bgsave-failing`, with the log's `disk-full` or
 * `permission-denied` saying why.
 */
export const storageRules: Rule = (e) => {
  const out: Finding[] = [
    ...unavailable('claims-unavailable', 'info', 'Could not read the volume claims', e.claimsError),
  ];
  for (const claim of e.claims ?? []) {
    if (claim.phase !== 'Bound') {
      out.push({
        id: 'claim-not-bound',
        severity: 'critical',
        message:
          claim.phase === 'Missing'
            ? `The pod's volume names PersistentVolumeClaim ${claim.name}, which does not exist: the pod cannot start. Recreate the claim (a StatefulSet's volumeClaimTemplates make it) or fix the name.`
            : `PersistentVolumeClaim ${claim.name} is ${claim.phase}, not Bound: the pod waits for its volume (kubectl describe pvc ${claim.name} says why: storage class ${claim.storageClass ?? '(default)'}).`,
        evidence: { claim: claim.name, phase: claim.phase },
      });
    }
    if (claim.resizing) {
      out.push({
        id: 'claim-resizing',
        severity: 'info',
        message: `PersistentVolumeClaim ${claim.name} is being resized (${claim.resizing}${claim.requestedBytes !== undefined && claim.capacityBytes !== undefined ? `: ${mib(claim.capacityBytes)} now, ${mib(claim.requestedBytes)} asked` : ''}); a file-system resize finishes when the pod restarts.`,
        evidence: { claim: claim.name, resizing: claim.resizing },
      });
    }
  }
  const readOnly = dataMount(e);
  if (readOnly?.readOnly) {
    out.push({
      id: 'data-volume-read-only',
      severity: 'critical',
      message: `Redis's data directory ${e.redis?.config.dir ?? ''} is on volume ${readOnly.volume}, mounted read-only: no RDB or AOF can be written (MISCONF follows). Remove readOnly from its volumeMount.`,
      evidence: { volume: readOnly.volume, path: readOnly.path },
    });
  }
  const p = e.redis?.persistence;
  if (!p) return out;
  if (p.loading) {
    out.push({
      id: 'redis-loading',
      severity: 'warning',
      message: `Redis is still loading its data${p.loadingEtaSeconds !== undefined ? ` (about ${p.loadingEtaSeconds} s to go)` : ''}: it answers LOADING until done, and a liveness probe must give it that long.`,
      evidence: { loadingEtaSeconds: p.loadingEtaSeconds ?? -1 },
    });
  }
  if (p.aofRewriteInProgress && (p.aofRewriteSeconds ?? 0) >= AOF_REWRITE_STUCK_SECONDS) {
    out.push({
      id: 'aof-rewrite-stuck',
      severity: 'warning',
      message: `An AOF rewrite has run for ${p.aofRewriteSeconds} s: it is stuck or starved (disk I/O, free memory for its fork). Check the volume's I/O and space; the rewrite's child holds memory meanwhile.`,
      evidence: { seconds: p.aofRewriteSeconds ?? 0 },
    });
  }
  if (p.aofLastBgrewriteStatus === 'err') {
    out.push({
      id: 'aof-rewrite-failing',
      severity: 'warning',
      message: `The last AOF rewrite failed (aof_last_bgrewrite_status:err): the AOF grows without bound until one succeeds. The Redis log says why (disk full, fork).`,
      evidence: { aofLastBgrewriteStatus: 'err' },
    });
  }
  const limit = e.limits?.limits.memoryBytes;
  const cow = Math.max(p.rdbLastCowBytes ?? 0, p.aofLastCowBytes ?? 0);
  const rss = e.redis?.memory.usedMemoryRss ?? 0;
  if (limit !== undefined && cow > 0 && rss + cow > limit) {
    out.push({
      id: 'fork-cow-exceeds-headroom',
      severity: 'critical',
      message: `The last fork copied ${mib(cow)} on write, but only ${mib(Math.max(0, limit - rss))} is left under the ${mib(limit)} limit (RSS ${mib(rss)}): the next BGSAVE or AOF rewrite (the backup too) can get the pod OOM-killed. Lower maxmemory or raise the limit first, and save when writes are quiet.`,
      evidence: { cowBytes: cow, rssBytes: rss, limitBytes: limit },
    });
  }
  return out;
};

/** The mount Redis's data directory is on, if any. */
function dataMount(e: Evidence) {
  const dir = e.redis?.config.dir;
  const redis = redisContainer(e);
  return dir && redis ? mountHolding(redis, dir) : undefined;
}
