/**
 * The local stack of the demo and the end-to-end tests, all real processes on free loopback ports: a Temporal dev
 * server (Web UI included), a redis-server seeded with the incident, the simulated Kubernetes API with the crashed
 * pod (and a kubelet probing the real Redis) unless a real API server's kubeconfig is given, and the runbook's own
 * worker (`runWorker`, as in production).
 */
import type { V1Pod } from '@kubernetes/client-node';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { DestinationStream } from 'pino';
import { startRedisServer, type RedisServer } from '../local-servers/redis-server.js';
import { startDevServer } from '../local-servers/temporal.js';
import { runWorker } from '../worker/main.js';
import type { RunbookInput } from '../workflows/definitions.js';
import { seedCrashScenario, type SeedSummary } from './seed-redis.js';
import {
  demoScenarioPath,
  loadScenario,
  startSimulatedCluster,
  type SimulatedCluster,
} from '../local-servers/simulated-cluster/index.js';
import { startSimulatedKubelet, type SimulatedKubelet } from '../local-servers/simulated-kubelet.js';

export const DEMO_CONFIG = fileURLToPath(new URL('../../config/demo.yaml', import.meta.url));
export const DEMO_TARGET = { namespace: 'cache', pod: 'redis-0', container: 'redis' } as const;

/** The input of a run on the stack's seeded pod and Redis, as PagerDuty's intake would start it. */
export function demoRunInput(
  stack: Pick<LocalStack, 'redisServer'>,
  incidentId: string,
  extra: Partial<RunbookInput> = {},
): RunbookInput {
  return {
    incidentId,
    startedBy: 'pagerduty',
    target: { ...DEMO_TARGET, redis: { host: stack.redisServer.host, port: stack.redisServer.port } },
    ...extra,
  };
}

export interface LocalStackOptions {
  /** Temporal frontend port (a free one when absent; the demo uses 7233 so another terminal finds it). */
  port?: number;
  /** Keep the dev server's history in this SQLite file (the demo's runs stay auditable after it stops). */
  dbFilename?: string;
  /** Serve the Temporal Web UI on this port (the demo uses 8233). */
  uiPort?: number;
  /** Multiplies the seeded key counts. */
  scale?: number;
  /** Keys seeded before the crash, as the rest of a big keyspace (`SeedOptions.bulkKeys`). */
  bulkKeys?: number;
  /**
   * Extra environment for the worker (e.g. LOG_LEVEL), or a function of the stack's Redis that makes it (a
   * `RUNBOOK_CONFIG` whose PagerDuty routes name that Redis, known only once it runs).
   */
  workerEnv?: Record<string, string> | ((redis: { host: string; port: number }) => Promise<Record<string, string>>);
  /** Where the worker's log lines go instead of stdout (tests capture them to check no secret is logged). */
  workerLogDestination?: DestinationStream;
  /** The process already installed a Temporal runtime (tests do, to keep the output quiet). */
  keepRuntime?: boolean;
  /** Called as each part comes up, with its start-up time in ms. */
  onStep?: (step: string, ms: number) => void;
  /**
   * A kubeconfig of a real API server for the worker: no simulated cluster or kubelet is started, and the caller
   * provides the target pod (and whatever makes it ready).
   */
  kubeconfigPath?: string;
}

/** The stack without the simulated cluster, as started with {@link LocalStackOptions.kubeconfigPath}. */
export interface ExternalClusterStack extends Omit<LocalStack, 'cluster' | 'kubelet'> {
  cluster?: undefined;
  kubelet?: undefined;
}

export interface LocalStack {
  temporal: TestWorkflowEnvironment;
  redisServer: RedisServer;
  /** A client of the seeded Redis, for checks. */
  redis: Redis;
  seed: SeedSummary;
  cluster: SimulatedCluster;
  kubelet: SimulatedKubelet;
  taskQueue: string;
  /** The environment the worker runs with (also what the CLI needs to reach the same server). */
  env: NodeJS.ProcessEnv;
  /** Stops everything, in reverse order. Safe to call twice. */
  stop(): Promise<void>;
}

async function timed<T>(step: string, onStep: LocalStackOptions['onStep'], fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const out = await fn();
  onStep?.(step, Math.round(performance.now() - t0));
  return out;
}

/** Starts the stack; on a failure part-way, stops what already started and rethrows. */
export function startLocalStack(opts?: LocalStackOptions & { kubeconfigPath?: undefined }): Promise<LocalStack>;
export function startLocalStack(opts: LocalStackOptions & { kubeconfigPath: string }): Promise<ExternalClusterStack>;
export async function startLocalStack(opts: LocalStackOptions = {}): Promise<LocalStack | ExternalClusterStack> {
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  };
  try {
    const temporal = await timed('temporal dev server', opts.onStep, () =>
      startDevServer({
        ui: opts.uiPort !== undefined,
        ...(opts.uiPort ? { uiPort: opts.uiPort } : {}),
        ...(opts.port ? { port: opts.port } : {}),
        ...(opts.dbFilename ? { dbFilename: opts.dbFilename } : {}),
      }),
    );
    stops.push(() => temporal.teardown());
    const redisServer = await timed('redis-server', opts.onStep, () => startRedisServer());
    stops.push(() => redisServer.stop());
    const redis = new Redis({
      host: redisServer.host,
      port: redisServer.port,
      lazyConnect: true,
      maxRetriesPerRequest: 1,
    });
    await redis.connect();
    stops.push(() => Promise.resolve(redis.disconnect()));
    const seed = await timed('seed the crash', opts.onStep, () =>
      seedCrashScenario(redis, { scale: opts.scale ?? 1, bulkKeys: opts.bulkKeys ?? 0 }),
    );

    let simulated: { cluster: SimulatedCluster; kubelet: SimulatedKubelet } | undefined;
    if (opts.kubeconfigPath === undefined) {
      const scenario = loadScenario(demoScenarioPath('oomkilled-redis.yaml'));
      // The local redis-server stands in for the pod's Redis, so its data directory stands in for the pod's /data.
      for (const pod of scenario.pods as V1Pod[])
        for (const mount of pod.spec?.containers.flatMap((c) => c.volumeMounts ?? []) ?? [])
          if (mount.mountPath === '/data') mount.mountPath = redisServer.dir;
      const cluster = await timed('simulated cluster', opts.onStep, () => startSimulatedCluster(scenario));
      stops.push(() => cluster.stop());
      const probeClient = new Redis({ host: redisServer.host, port: redisServer.port, maxRetriesPerRequest: 1 });
      const kubelet = startSimulatedKubelet(cluster, { ...DEMO_TARGET, redis: probeClient });
      stops.push(async () => {
        await kubelet.stop();
        probeClient.disconnect();
      });
      simulated = { cluster, kubelet };
    }

    const taskQueue = 'redis-runbook';
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_NAMESPACE: 'default',
      RUNBOOK_TASK_QUEUE: taskQueue,
      TEMPORAL_UI_URL: opts.uiPort ? `http://localhost:${opts.uiPort}` : 'http://localhost:8233',
      RUNBOOK_CONFIG: DEMO_CONFIG,
      KUBECONFIG: opts.kubeconfigPath ?? simulated?.cluster.kubeconfigPath,
      LOG_LEVEL: 'warn',
      ...(typeof opts.workerEnv === 'function'
        ? await opts.workerEnv({ host: redisServer.host, port: redisServer.port })
        : opts.workerEnv),
    };
    await timed('worker', opts.onStep, async () => {
      let stopWorker: (() => void) | undefined;
      let failure: unknown;
      await new Promise<void>((resolve) => {
        const done = runWorker({
          env,
          keepRuntime: opts.keepRuntime ?? false,
          ...(opts.workerLogDestination ? { logDestination: opts.workerLogDestination } : {}),
          onReady: (stop) => {
            stopWorker = stop;
            resolve();
          },
        });
        // A worker that fails to start must not hang the stack: its error is rethrown below.
        done.catch((err: unknown) => {
          failure = err;
          resolve();
        });
        stops.push(async () => {
          stopWorker?.();
          await done.catch(() => undefined);
        });
      });
      if (!stopWorker) throw new Error(`the worker failed to start: ${String(failure)}`, { cause: failure });
    });
    let stopped = false;
    const stack: ExternalClusterStack = {
      temporal,
      redisServer,
      redis,
      seed,
      taskQueue,
      env,
      async stop() {
        if (stopped) return;
        stopped = true;
        await stopAll();
      },
    };
    return simulated ? { ...stack, ...simulated } : stack;
  } catch (err) {
    await stopAll();
    throw err;
  }
}
