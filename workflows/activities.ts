/**
 * The activity proxies of the runbook, one per group of options, each typed with just the activities it may call: a
 * step cannot reach, say, a change with the short timeout of a read.
 */
import type { ActivityOptions } from '@temporalio/workflow';
import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import type { RunbookActivities } from '../activities/index.js';
import { NON_RETRYABLE_ERRORS } from './definitions.js';

type Only<K extends keyof RunbookActivities> = Pick<RunbookActivities, K>;

const retry = (maximumAttempts: number): ActivityOptions['retry'] => ({
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '30s',
  maximumAttempts,
  nonRetryableErrorTypes: NON_RETRYABLE_ERRORS,
});

/** The worker's settings: instant, retried a few times. */
export const settingsActivities = proxyActivities<Only<'loadSettings'>>({
  startToCloseTimeout: '10s',
  retry: retry(5),
});

/** Kubernetes API calls: reads, the health samples, and the two patches (each one request). */
export const kubernetes = proxyActivities<
  Only<
    | 'describePod'
    | 'fetchPreviousLogs'
    | 'checkLimits'
    | 'describeNode'
    | 'describeClaims'
    | 'locateRedisPods'
    | 'podHealth'
    | 'rollingRestart'
    | 'setMemoryLimit'
    | 'setLivenessDelay'
  >
>({ startToCloseTimeout: '30s', retry: retry(5) });

/** Redis diagnostics and cleanup previews: a SCAN can take minutes on a big keyspace, so they heartbeat. */
export const redisScan = proxyActivities<Only<'diagnoseRedis' | 'previewCleanup'>>({
  startToCloseTimeout: '15m',
  heartbeatTimeout: '30s',
  retry: retry(5),
});

/**
 * BGSAVE and its confirmation. A retry never forks again (it waits for the save its request started), and it
 * heartbeats every poll, so a dead worker is noticed within 10 s.
 */
export const redisBackup = proxyActivities<Only<'backupRedis'>>({
  startToCloseTimeout: '15m',
  heartbeatTimeout: '10s',
  retry: retry(5),
});

/**
 * The copy of the snapshot off the server and its restore test: as long as the snapshot takes to stream, heartbeated
 * every second (the restore test's load too). A retry returns the copy an earlier attempt verified, or copies again after removing its partial file.
 */
export const backupStore = proxyActivities<Only<'copyBackup'>>({
  startToCloseTimeout: '2h',
  heartbeatTimeout: '10s',
  retry: retry(3),
});

/**
 * Changes to Redis, including paced cleanups of many keys. Every attempt resumes from the progress marker in Redis
 * with exact counts, so a crashed worker costs a heartbeat timeout (10 s; heartbeats flush every 2 s) and a retry,
 * never a wrong count: more attempts are safe (15 outlast ten kills in one action).
 */
export const redisChange = proxyActivities<Only<'applyRedisAction'>>({
  startToCloseTimeout: '30m',
  heartbeatTimeout: '10s',
  retry: retry(15),
  // A cancelled run waits for the cleanup to stop at its batch boundary, then reports what the marker says it did.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});

/** What an action changed so far, from its progress marker (after a cancellation). */
export const redisProgress = proxyActivities<Only<'actionProgress'>>({ startToCloseTimeout: '30s', retry: retry(5) });

/** The per-target lock's signal-with-start. */
export const coordination = proxyActivities<Only<'requestTargetLease'>>({
  startToCloseTimeout: '10s',
  retry: retry(10),
});

/** Checks the proof a decision carries; pure computation on the worker, so it answers within the update. */
export const identity = proxyActivities<Only<'verifyDecisionProof'>>({ startToCloseTimeout: '5s', retry: retry(3) });

/** Notes to PagerDuty (or the log). */
export const notifier = proxyActivities<Only<'notify'>>({ startToCloseTimeout: '30s', retry: retry(5) });

/**
 * An intake's routing and note: PagerDuty's API with its own short retries inside, a few attempts here (then the
 * intake routes without the alerts rather than wait on PagerDuty for long).
 */
export const intakePagerDuty = proxyActivities<Only<'routePagerDutyIncident' | 'noteIncident'>>({
  startToCloseTimeout: '30s',
  retry: retry(4),
});

/** The intake's start of the runbook: one run per incident, so retried for as long as Temporal is busy. */
export const intakeStart = proxyActivities<Only<'startRunbookRun'>>({ startToCloseTimeout: '30s', retry: retry(20) });
