import { sleep } from '@temporalio/workflow';
import type { PodHealthSample } from '../../activities/kubernetes/types.js';
import type { RedisDiagnostics } from '../../activities/redis/types.js';
import { scanPacing } from '../logic/scan-pacing.js';
import { kubernetes, redisScan } from '../activities.js';
import { deriveFindings } from '../logic/findings.js';
import { primaryMoved, topologyView } from '../logic/topology.js';
import { verifyRounds } from '../logic/limits.js';
import { evaluateVerification } from '../logic/verify.js';
import { failureMessage, type Ending, type RunbookRun } from '../run-state.js';

/**
 * Runbook step 9: Redis again, and the pod over a durable watch window. A failed verification escalates to a human;
 * the run never loops on its own remediation.
 */
export async function verify(run: RunbookRun): Promise<Ending> {
  await run.enter('verifying');
  const { namespace, pod, redis } = run.input.target;
  const { verify: window, thresholds } = run.settings;
  let after: RedisDiagnostics | undefined;
  let afterError: string | undefined;
  const diagnose = async () => {
    try {
      after = await redisScan.diagnoseRedis.executeWithOptions({ summary: 'Redis diagnostics after remediation' }, [
        { redis, ...scanPacing(thresholds) },
      ]);
    } catch (err) {
      afterError = failureMessage(err);
    }
  };
  // A Redis that was down is diagnosed once the window saw the pod (re)start: first it must come up.
  if (!run.withoutRedis) await diagnose();
  const samples: PodHealthSample[] = [];
  let podError: string | undefined;
  const { windowSeconds, intervalSeconds } = window;
  const { rounds, everySeconds } = verifyRounds(windowSeconds, intervalSeconds);
  for (let i = 0; i <= rounds && !podError; i++) {
    if (i > 0) await sleep(everySeconds * 1000, { summary: 'verify window' });
    try {
      samples.push(
        await kubernetes.podHealth.executeWithOptions({ summary: `pod health ${i}/${rounds}` }, [{ namespace, pod }]),
      );
    } catch (err) {
      podError = failureMessage(err);
    }
  }
  if (run.withoutRedis) await diagnose();
  const findingsAfter = after
    ? deriveFindings({ ...run.evidence, redis: after, redisError: undefined }, thresholds)
    : [];
  const verification = evaluateVerification({
    before: run.evidence.redis,
    after,
    afterError,
    findingsBefore: run.status.findings,
    findingsAfter,
    podSamples: samples,
    podError,
  });
  run.status.verification = verification;
  const topology = topologyView(after);
  if (topology) run.status.topology = topology;
  // A failover during the run: every setting was applied to every node, and verified there after it.
  const moved = primaryMoved(run.evidence.redis, after);
  if (moved) run.status.failover = moved;
  const failover = moved
    ? ` The primary changed during the run (failover ${moved}); the checks above ran on the new one.`
    : '';
  const ran = run.status.results.map((r) => r.id).join(', ');
  return verification.passed
    ? {
        outcome: 'resolved',
        summary: `Ran ${ran}; verified: Redis accepts writes and the pod stayed up for ${windowSeconds}s.${failover}`,
      }
    : {
        outcome: 'verification-failed',
        summary: `Ran ${ran}; verification failed: ${verification.reasons.join('; ')}. Escalated to a human.${failover}`,
      };
}
