import { patched } from '@temporalio/workflow';
import type { CleanupPreview } from '../../activities/redis/types.js';
import type { RedisNode } from '../../activities/redis/topology.js';
import { kubernetes, redisScan } from '../activities.js';
import { NODE_AND_STORAGE_PATCH, TOPOLOGY_PODS_PATCH, type RedisAddress } from '../definitions.js';
import { MAX_CLEANUP_PATTERNS, MAX_LOCATED_NODES } from '../logic/limits.js';
import { scanPacing } from '../logic/scan-pacing.js';
import { topologyView } from '../logic/topology.js';
import { patternRefusal } from '../logic/patterns.js';
import { failureMessage, type RunbookRun } from '../run-state.js';

/**
 * Runbook steps 1-7: the pod and its events, the previous container's log, requests and limits, the node and the
 * volumes, Redis's own view. A failed step leaves its error as evidence instead of stopping the runbook: a half-broken
 * cluster is the usual case.
 */
export async function gatherEvidence(run: RunbookRun): Promise<void> {
  await run.enter('diagnosing');
  const { namespace, pod, container, redis } = run.input.target;
  const evidence = run.evidence;
  // A second pass (after waiting for the target) starts from nothing: no error of the first pass lingers.
  for (const key of Object.keys(evidence)) delete evidence[key as keyof typeof evidence];
  try {
    evidence.pod = await kubernetes.describePod.executeWithOptions({ summary: `describe pod ${namespace}/${pod}` }, [
      { namespace, pod },
    ]);
  } catch (err) {
    evidence.podError = failureMessage(err);
  }
  try {
    evidence.logs = await kubernetes.fetchPreviousLogs.executeWithOptions(
      { summary: 'previous container logs, classified' },
      [{ namespace, pod, container }],
    );
  } catch (err) {
    evidence.logs = {
      available: false,
      unavailableReason: failureMessage(err),
      bytesRead: 0,
      signals: [],
      lastLines: [],
    };
  }
  try {
    evidence.limits = await kubernetes.checkLimits.executeWithOptions(
      { summary: 'requests, limits and owner workload' },
      [{ namespace, pod, container }],
    );
  } catch (err) {
    evidence.limitsError = failureMessage(err);
  }
  if (run.v2 && patched(NODE_AND_STORAGE_PATCH)) await nodeAndStorage(run);
  try {
    evidence.redis = await redisScan.diagnoseRedis.executeWithOptions(
      { summary: `Redis diagnostics ${redis.host}:${redis.port}` },
      [{ redis, ...scanPacing(run.settings.thresholds) }],
    );
    // State only (no command): the UI's details and the status show the set or Cluster behind the target.
    const topology = topologyView(evidence.redis);
    if (topology) run.status.topology = topology;
  } catch (err) {
    evidence.redisError = failureMessage(err);
  }
  const nodes = evidence.redis?.topology?.nodes ?? [];
  if (nodes.length > 1 && run.v2 && patched(TOPOLOGY_PODS_PATCH)) await locatePods(run, nodes);
  // Only when asked: runs without cleanup patterns schedule exactly what they always did.
  for (const pattern of (run.input.cleanup ?? []).slice(0, MAX_CLEANUP_PATTERNS))
    (evidence.cleanup ??= []).push(await previewCleanup(pattern, redis));
}

/** Which pod each node of the set or Cluster runs in, and how those pods are: the Kubernetes steps' other pods. */
async function locatePods(run: RunbookRun, nodes: RedisNode[]): Promise<void> {
  const { namespace } = run.input.target;
  const refs = nodes.slice(0, MAX_LOCATED_NODES).map(({ host, port, role }) => ({ host, port, role }));
  try {
    const pods = await kubernetes.locateRedisPods.executeWithOptions(
      { summary: `the pods of the ${refs.length} Redis nodes in ${namespace}` },
      [{ namespace, nodes: refs }],
    );
    run.evidence.nodePods = pods;
    if (run.status.topology) run.status.topology.pods = pods;
  } catch (err) {
    run.status.topology?.notes.push(`the nodes' pods could not be listed: ${failureMessage(err)}`);
  }
}

/** Steps 4 and 5: the node the pod is on (it may be what is failing) and the claims its volumes name. */
async function nodeAndStorage(run: RunbookRun): Promise<void> {
  const { namespace, pod } = run.input.target;
  const evidence = run.evidence;
  const node = evidence.pod?.nodeName;
  if (node) {
    try {
      evidence.node = await kubernetes.describeNode.executeWithOptions(
        { summary: `node ${node}: conditions, memory` },
        [{ node, namespace, pod }],
      );
    } catch (err) {
      evidence.nodeError = failureMessage(err);
    }
  }
  const claims = (evidence.pod?.spec?.volumes ?? []).flatMap((v) => (v.claim ? [v.claim] : []));
  if (claims.length === 0) return;
  try {
    evidence.claims = await kubernetes.describeClaims.executeWithOptions(
      { summary: `volume claims ${claims.join(', ')}` },
      [{ namespace, claims }],
    );
  } catch (err) {
    evidence.claimsError = failureMessage(err);
  }
}

/** What a cleanup of `pattern` would remove; a pattern the policy refuses is never scanned. */
async function previewCleanup(pattern: string, redis: RedisAddress): Promise<CleanupPreview> {
  const none = { pattern, keys: 0, bytes: 0, withTtl: 0, samples: [], dbKeys: 0 };
  const refused = patternRefusal(pattern);
  if (refused) return { ...none, refused };
  try {
    return await redisScan.previewCleanup.executeWithOptions({ summary: `preview cleanup of ${pattern}` }, [
      { redis, pattern },
    ]);
  } catch (err) {
    return { ...none, refused: `not previewed (${failureMessage(err)})` };
  }
}
