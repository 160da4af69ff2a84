/**
 * The worker process: reads the configuration once, connects to Temporal, registers the search attributes, and polls
 * the runbook's task queue until SIGINT/SIGTERM, letting running activities finish (up to the grace time) first.
 */
import { KubeConfig } from '@kubernetes/client-node';
import type { LogLevel, LogMetadata, Logger as SdkLogger } from '@temporalio/common';
import { NativeConnection, Runtime } from '@temporalio/worker';
import { pino, type DestinationStream, type Logger } from 'pino';
import { Client } from '@temporalio/client';
import { createActivities, type ActivityDependencies } from '../activities/index.js';
import { FanOutNotifier, LoggingNotifier, type Notifier } from '../activities/notify/index.js';
import { ChangeEvents, PagerDutyClient, PagerDutyNotifier } from '../activities/pagerduty/index.js';
import { loadConfig, settingsFromConfig, type RunbookConfig } from '../config/runbook-config.js';
import { readGatewaySecrets, readPagerDutySecrets, readSlackSecrets } from '../config/secrets.js';
import { createSlackClient, SlackNotifier } from '../activities/slack/index.js';
import { connectionOptionsFrom, TemporalUnreachableError } from '../client/index.js';
import { createRunbookWorker, ensureSearchAttributes } from './create-worker.js';
import { redisConnectorFromConfig } from './redis-connector.js';
import { isEntryPoint } from './entry-point.js';
import { clientTracingInterceptors, startTracing, type Tracing } from '../tracing/index.js';
import { loadWorkflowBundle } from './workflow-bundle.js';
import { deploymentBuildId, promoteVersion } from './deployment.js';

/** Paths pino blanks out, as a second line of defence: the worker never passes secrets to the logger. */
const REDACT = ['password', '*.password', '*.*.password', 'auth', '*.auth', 'headers.authorization'];

/** The worker's pino logger at the configured level, secrets redacted. */
export function createLogger(level: RunbookConfig['logLevel'], destination?: DestinationStream): Logger {
  const options = { level, base: { service: 'redis-runbook-worker' }, redact: { paths: REDACT, censor: '[redacted]' } };
  return destination ? pino(options, destination) : pino(options);
}

/** Routes the SDK's own log lines (worker state, activity and workflow loggers) to pino. */
function sdkLogger(logger: Logger): SdkLogger {
  const at = (level: LogLevel) => (message: string, meta?: LogMetadata) => {
    const method =
      level === 'TRACE'
        ? 'trace'
        : level === 'DEBUG'
          ? 'debug'
          : level === 'WARN'
            ? 'warn'
            : level === 'ERROR'
              ? 'error'
              : 'info';
    logger[method]({ ...meta }, message);
  };
  return {
    log: (level, message, meta) => at(level)(message, meta),
    trace: at('TRACE'),
    debug: at('DEBUG'),
    info: at('INFO'),
    warn: at('WARN'),
    error: at('ERROR'),
  };
}

/** `KUBECONFIG` when set, else `~/.kube/config`, else the in-cluster service account. */
export function loadKubeConfig(cfg: Pick<RunbookConfig, 'kubeconfig'>): KubeConfig {
  const kc = new KubeConfig();
  if (cfg.kubeconfig) kc.loadFromFile(cfg.kubeconfig);
  else kc.loadFromDefault();
  return kc;
}

/**
 * PagerDuty notes when `PAGERDUTY_API_TOKEN` is set, a log line per event otherwise; and the run's Slack message when
 * `SLACK_BOT_TOKEN` and `SLACK_CHANNEL` are set.
 */
export function createNotifier(
  cfg: RunbookConfig,
  env: NodeJS.ProcessEnv,
  logger: Logger,
  pagerduty = pagerDutyClient(cfg, env),
): Notifier {
  const incident = incidentNotifier(cfg, env, logger, pagerduty);
  const { botToken } = readSlackSecrets(env);
  if (!botToken || !cfg.slack.channel) return incident;
  const slackLogger = logger.child({ component: 'slack' });
  const slack = createSlackClient({ token: botToken, apiUrl: cfg.slack.apiUrl, logger: slackLogger });
  return new FanOutNotifier([
    { name: 'incident', notifier: incident },
    { name: 'slack', notifier: new SlackNotifier(slack, cfg.slack.channel, slackLogger) },
  ]);
}

function incidentNotifier(
  cfg: RunbookConfig,
  env: NodeJS.ProcessEnv,
  logger: Logger,
  client: PagerDutyClient | undefined,
): Notifier {
  const { routingKey } = readPagerDutySecrets(env);
  const pd = cfg.pagerduty;
  if (!client) return new LoggingNotifier(logger.child({ component: 'notifier' }));
  return new PagerDutyNotifier({
    client,
    acknowledgeOnStart: pd.acknowledgeOnStart,
    resolveOnSuccess: pd.resolveOnSuccess,
    statusUpdates: pd.statusUpdates,
    ...(pd.responders ? { responders: pd.responders } : {}),
    ...(routingKey ? { changeEvents: new ChangeEvents({ routingKey, eventsUrl: pd.eventsUrl }) } : {}),
    logger: logger.child({ component: 'pagerduty' }),
  });
}

/** The REST client for an intake's alerts and notes, when `PAGERDUTY_API_TOKEN` and `PAGERDUTY_FROM_EMAIL` are set. */
function pagerDutyClient(cfg: RunbookConfig, env: NodeJS.ProcessEnv): PagerDutyClient | undefined {
  const { apiToken } = readPagerDutySecrets(env);
  if (!apiToken || !cfg.pagerduty.fromEmail) return undefined;
  return new PagerDutyClient({ token: apiToken, fromEmail: cfg.pagerduty.fromEmail, apiUrl: cfg.pagerduty.apiUrl });
}

/** Options of {@link runWorker}, for tests and embedding. */
export interface RunWorkerOptions {
  env?: NodeJS.ProcessEnv;
  /** Called once the worker polls, with a function that stops it (as SIGTERM would). */
  onReady?: (stop: () => void) => void;
  /** Skip `Runtime.install` (when the embedding process installed its own runtime). */
  keepRuntime?: boolean;
  /** Where log lines go instead of stdout (tests capture them to check that no secret is logged). */
  logDestination?: DestinationStream;
}

/**
 * The clients the activities are built from, each reading secrets from `env` (never from `process.env` behind the
 * caller's back): the Kubernetes config, the Redis connector, the notifier and the settings.
 */
export function workerDependencies(
  cfg: RunbookConfig,
  env: NodeJS.ProcessEnv,
  logger: Logger,
  connection: NativeConnection,
): ActivityDependencies {
  // An intake's start of the runbook continues the intake's trace.
  const interceptors = clientTracingInterceptors();
  const pagerduty = pagerDutyClient(cfg, env);
  return {
    kubeConfig: loadKubeConfig(cfg),
    redis: redisConnectorFromConfig(cfg, env),
    notifier: createNotifier(cfg, env, logger, pagerduty),
    settings: settingsFromConfig(cfg),
    temporal: new Client({ connection, namespace: cfg.temporal.namespace, interceptors }),
    taskQueue: cfg.temporal.taskQueue,
    intake: {
      ...(pagerduty ? { pagerduty } : {}),
      services: cfg.pagerduty.services,
      targets: cfg.targets,
    },
    backupStore: cfg.backup,
    identity: {
      acceptProofs: cfg.approval.acceptProofs,
      allowedSigners: cfg.allowedSigners,
      gatewaySecrets: readGatewaySecrets(env),
    },
  };
}

/**
 * Runs the worker until it is shut down (SIGINT/SIGTERM, or `stop` given to `onReady`).
 * @throws {ConfigError} on invalid configuration; {@link TemporalUnreachableError} when the server does not answer.
 */
export async function runWorker(opts: RunWorkerOptions = {}): Promise<void> {
  const env = opts.env ?? process.env;
  const cfg = await loadConfig(env);
  const logger = createLogger(cfg.logLevel, opts.logDestination);
  for (const warning of cfg.warnings) logger.warn(warning);
  if (!opts.keepRuntime) {
    try {
      Runtime.install({
        logger: sdkLogger(logger.child({ component: 'temporal-sdk' })),
        // The SDK's own metrics and the runbook's (workflows/metrics.ts), in Prometheus text at /metrics.
        ...(cfg.metricsAddress
          ? {
              telemetryOptions: {
                metrics: { prometheus: { bindAddress: cfg.metricsAddress, countersTotalSuffix: true } },
              },
            }
          : {}),
      });
    } catch (err) {
      logger.debug({ err }, 'Temporal runtime already installed; keeping its logger');
    }
  }

  const { address, namespace, taskQueue, uiUrl } = cfg.temporal;
  const tracing: Tracing = startTracing(env, 'redis-runbook-worker');
  let connection: NativeConnection;
  try {
    // TLS, API key and metadata the way Temporal's tools read them (envconfig); the address is the checked one.
    connection = await NativeConnection.connect({ ...connectionOptionsFrom(env).connectionOptions, address });
  } catch (err) {
    throw TemporalUnreachableError.from(address, err);
  }
  try {
    const added = await ensureSearchAttributes(connection, namespace);
    if (added.length > 0) logger.info({ namespace, added }, 'registered search attributes');

    const deps = workerDependencies(cfg, env, logger, connection);
    const { kubeConfig } = deps;
    const activities = createActivities(deps);
    const t0 = performance.now();
    const bundle = await loadWorkflowBundle({ tracing: tracing.enabled });
    const deployment = cfg.deployment && {
      deploymentName: cfg.deployment.deploymentName,
      buildId: deploymentBuildId(cfg.deployment.buildId, bundle.buildId),
    };
    const worker = await createRunbookWorker({
      connection,
      namespace,
      taskQueue,
      activities,
      workflowBundle: { code: bundle.code },
      buildId: bundle.buildId,
      ...(deployment ? { deployment } : {}),
      tracing,
      capacity: cfg.capacity,
    });
    const workflowCodeMs = Math.round(performance.now() - t0);
    logger.info(
      {
        address,
        namespace,
        taskQueue,
        ui: uiUrl,
        configFile: cfg.configFile ?? null,
        kubeCluster: kubeConfig.getCurrentCluster()?.server ?? null,
        approvers: cfg.approval.approvers,
        requireProof: cfg.approval.requireProof,
        allowedSigners: cfg.allowedSigners.length,
        backups: cfg.backup.s3 ? `s3://${cfg.backup.s3.bucket}/${cfg.backup.s3.prefix ?? ''}` : cfg.backup.directory,
        targets: cfg.targets.map((t) => t.name),
        pagerduty: cfg.pagerduty.writeBack ? cfg.pagerduty.apiUrl : null,
        buildId: bundle.buildId,
        deployment: deployment ?? null,
        metrics: cfg.metricsAddress ? `http://${cfg.metricsAddress}/metrics` : null,
        // The cache size the SDK settled on (it scales with the heap limit when unset), and the limits set.
        capacity: { ...cfg.capacity, maxCachedWorkflows: worker.options.maxCachedWorkflows },
        tracing: tracing.enabled,
        workflowBundle: bundle.prebuilt ? 'prebuilt' : 'bundled at start-up (run `npm run build` to prebuild it)',
        workflowCodeMs,
      },
      'worker started',
    );
    opts.onReady?.(() => worker.shutdown());
    const running = worker.run();
    if (deployment && cfg.deployment?.promote) {
      await promoteVersion(connection, namespace, deployment).catch(async (err: unknown) => {
        worker.shutdown();
        await running.catch(() => undefined);
        throw err;
      });
      logger.info(deployment, 'this version is now the current version of its deployment');
    }
    await running;
    logger.info('worker stopped');
  } finally {
    await tracing.shutdown().catch((err: unknown) => logger.warn({ err }, 'flushing the last spans failed'));
    await connection.close();
  }
}

if (isEntryPoint(import.meta.url)) {
  runWorker().catch((err) => {
    console.error(err instanceof Error && !process.env.DEBUG ? err.message : err);
    process.exit(1);
  });
}
