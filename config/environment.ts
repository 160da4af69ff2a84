/**
 * The environment variables of every process (worker, receiver, CLI), validated by one schema. Each process reads
 * only what it needs: the CLI {@link loadTemporalSettings}, the worker and receiver all of {@link readEnvironment}.
 * Secrets are not read here (see `secrets.ts`): only whether the PagerDuty token is set.
 */
import { z } from 'zod';
import { DEFAULT_TASK_QUEUE } from '../workflows/definitions.js';
import { TRACING_ENV_VARS } from '../tracing/variables.js';
import { ConfigError, formatPath } from './errors.js';

/** Environment variables the worker reads; `docker-compose.yml` and the Kubernetes manifests set these names. */
export const ENV_VARS = [
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'RUNBOOK_TASK_QUEUE',
  'TEMPORAL_UI_URL',
  'RUNBOOK_CONFIG',
  'KUBECONFIG',
  'REDIS_PASSWORD',
  'REDIS_USERNAME',
  'LOG_LEVEL',
  'PAGERDUTY_API_TOKEN',
  'PAGERDUTY_FROM_EMAIL',
  'PAGERDUTY_API_URL',
  'PAGERDUTY_EVENTS_URL',
  'PAGERDUTY_ROUTING_KEY',
  'RUNBOOK_GATEWAY_SECRET',
  'RUNBOOK_DEPLOYMENT_NAME',
  'RUNBOOK_BUILD_ID',
  'RUNBOOK_PROMOTE_VERSION',
  'RUNBOOK_METRICS_ADDRESS',
  'RUNBOOK_MAX_CACHED_WORKFLOWS',
  'RUNBOOK_MAX_CONCURRENT_ACTIVITIES',
  'RUNBOOK_MAX_CONCURRENT_WORKFLOW_TASKS',
  'SLACK_BOT_TOKEN',
  'SLACK_CHANNEL',
  'SLACK_API_URL',
  ...TRACING_ENV_VARS,
] as const;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** A whole number of at least `min`, from its decimal text. */
const count = (min: number) =>
  z
    .string()
    .regex(/^\d+$/, { error: `expected a whole number ≥ ${min}` })
    .transform(Number)
    .refine((n) => n >= min, { error: `expected a whole number ≥ ${min}` })
    .optional();

const envSchema = z.object({
  TEMPORAL_ADDRESS: z
    .string()
    .regex(/^[^\s:/]+:\d+$/, { error: 'expected host:port, e.g. localhost:7233' })
    .default('localhost:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  RUNBOOK_TASK_QUEUE: z.string().min(1).default(DEFAULT_TASK_QUEUE),
  TEMPORAL_UI_URL: z
    .url({ protocol: /^https?$/, error: 'expected an http(s) URL, e.g. http://localhost:8233' })
    .default('http://localhost:8233'),
  RUNBOOK_CONFIG: z.string().min(1).optional(),
  KUBECONFIG: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.join(', ')}` }).default('info'),
  PAGERDUTY_API_URL: z
    .url({ protocol: /^https?$/, error: 'expected an http(s) URL, e.g. https://api.pagerduty.com' })
    .default('https://api.pagerduty.com'),
  PAGERDUTY_EVENTS_URL: z
    .url({ protocol: /^https?$/, error: 'expected an http(s) URL, e.g. https://events.pagerduty.com' })
    .default('https://events.pagerduty.com'),
  PAGERDUTY_FROM_EMAIL: z.email({ error: 'expected the email of a PagerDuty user' }).optional(),
  // Worker Deployment Versioning: on when a deployment name is given (k8s/ and docker-compose.yml give one).
  RUNBOOK_DEPLOYMENT_NAME: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,100}$/, { error: 'expected letters, digits, - or _ (no dots), e.g. redis-runbook' })
    .optional(),
  RUNBOOK_BUILD_ID: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$/, { error: 'expected an image tag or version, e.g. 0.2.0' })
    .optional(),
  // The worker's Prometheus endpoint (the SDK's and the runbook's metrics): off unless set.
  RUNBOOK_METRICS_ADDRESS: z
    .string()
    .regex(/^[^\s/]+:\d+$/, { error: 'expected host:port to listen on, e.g. 0.0.0.0:9464' })
    .optional(),
  // The worker's capacity (README, "Sizing a worker"); the SDK's defaults when unset.
  RUNBOOK_MAX_CACHED_WORKFLOWS: count(0),
  RUNBOOK_MAX_CONCURRENT_ACTIVITIES: count(1),
  RUNBOOK_MAX_CONCURRENT_WORKFLOW_TASKS: count(2),
  // The channel the run's Slack message goes to (an id such as C0123ABCD: names change, ids do not).
  SLACK_CHANNEL: z
    .string()
    .regex(/^[CGD][A-Z0-9]{2,30}$/, { error: 'expected a channel id, e.g. C0123ABCD (channel details, at the bottom)' })
    .optional(),
  SLACK_API_URL: z
    .url({ protocol: /^https?$/, error: 'expected an http(s) URL, e.g. https://slack.com/api/' })
    .default('https://slack.com/api/'),
  RUNBOOK_PROMOTE_VERSION: z.enum(['true', 'false'], { error: 'expected true or false' }).default('false'),
  // Only whether it is set: the value is read where it is used (readPagerDutySecrets), never kept here.
  PAGERDUTY_API_TOKEN: z
    .string()
    .min(1)
    .optional()
    .transform((v) => v !== undefined),
});

/** What one worker takes on at once (`Worker.create`'s options of these names). */
export interface WorkerCapacity {
  /** Runs kept in memory between their workflow tasks; one past it is replayed from its history when it moves. */
  maxCachedWorkflows?: number;
  maxConcurrentActivityTaskExecutions?: number;
  maxConcurrentWorkflowTaskExecutions?: number;
}

/** Where to reach Temporal; the part of the configuration the CLI shares with the worker. */
export interface TemporalSettings {
  /** `host:port` of the frontend (`TEMPORAL_ADDRESS`, default `localhost:7233`). */
  address: string;
  /** `TEMPORAL_NAMESPACE`, default `default`. */
  namespace: string;
  /** `RUNBOOK_TASK_QUEUE`, default {@link DEFAULT_TASK_QUEUE}. */
  taskQueue: string;
  /** Base URL of the Web UI without a trailing slash (`TEMPORAL_UI_URL`, default `http://localhost:8233`). */
  uiUrl: string;
}

/**
 * Reads the Temporal connection settings from the environment only (no file, no Kubernetes): what the CLI needs.
 * @throws {ConfigError} naming the variable when a value is malformed.
 */
export function loadTemporalSettings(env: NodeJS.ProcessEnv = process.env): TemporalSettings {
  return readEnvironment(env).temporal;
}

/** The environment as the worker and receiver use it; the PagerDuty token only as whether it is set. */
export function readEnvironment(env: NodeJS.ProcessEnv = process.env) {
  // An empty variable (`FOO=`) means unset, as in most shells' and compose files' conventions.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`),
      { cause: parsed.error },
    );
  }
  const v = parsed.data;
  return {
    temporal: {
      address: v.TEMPORAL_ADDRESS,
      namespace: v.TEMPORAL_NAMESPACE,
      taskQueue: v.RUNBOOK_TASK_QUEUE,
      uiUrl: v.TEMPORAL_UI_URL.replace(/\/+$/, ''),
    },
    ...(v.RUNBOOK_DEPLOYMENT_NAME
      ? {
          deployment: {
            deploymentName: v.RUNBOOK_DEPLOYMENT_NAME,
            ...(v.RUNBOOK_BUILD_ID ? { buildId: v.RUNBOOK_BUILD_ID } : {}),
            promote: v.RUNBOOK_PROMOTE_VERSION === 'true',
          },
        }
      : {}),
    ...(v.RUNBOOK_METRICS_ADDRESS ? { metricsAddress: v.RUNBOOK_METRICS_ADDRESS } : {}),
    capacity: {
      ...(v.RUNBOOK_MAX_CACHED_WORKFLOWS !== undefined && { maxCachedWorkflows: v.RUNBOOK_MAX_CACHED_WORKFLOWS }),
      ...(v.RUNBOOK_MAX_CONCURRENT_ACTIVITIES !== undefined && {
        maxConcurrentActivityTaskExecutions: v.RUNBOOK_MAX_CONCURRENT_ACTIVITIES,
      }),
      ...(v.RUNBOOK_MAX_CONCURRENT_WORKFLOW_TASKS !== undefined && {
        maxConcurrentWorkflowTaskExecutions: v.RUNBOOK_MAX_CONCURRENT_WORKFLOW_TASKS,
      }),
    },
    configFile: v.RUNBOOK_CONFIG,
    kubeconfig: v.KUBECONFIG,
    logLevel: v.LOG_LEVEL,
    slack: {
      apiUrl: v.SLACK_API_URL.endsWith('/') ? v.SLACK_API_URL : `${v.SLACK_API_URL}/`,
      ...(v.SLACK_CHANNEL ? { channel: v.SLACK_CHANNEL } : {}),
    },
    pagerduty: {
      writeBack: v.PAGERDUTY_API_TOKEN,
      apiUrl: v.PAGERDUTY_API_URL.replace(/\/+$/, ''),
      eventsUrl: v.PAGERDUTY_EVENTS_URL.replace(/\/+$/, ''),
      ...(v.PAGERDUTY_FROM_EMAIL ? { fromEmail: v.PAGERDUTY_FROM_EMAIL } : {}),
    },
  };
}
