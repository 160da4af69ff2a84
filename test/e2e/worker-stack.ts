/**
 * What the end-to-end suites share: a dev server, the simulated cluster of the demo's scenario, a configuration file
 * and the environment of the worker processes they start, kill and restart; and Redis servers at their memory limit.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Redis } from 'ioredis';
import { startRedisServer, type RedisServer } from '../../local-servers/redis-server.js';
import {
  demoScenarioPath,
  loadScenario,
  startSimulatedCluster,
  type SimulatedCluster,
} from '../../local-servers/simulated-cluster/index.js';
import { startDevServer } from '../../local-servers/temporal.js';
import { startWorkerProcess, type WorkerProcess } from '../../local-servers/worker-process.js';

export interface WorkerStack {
  temporal: TestWorkflowEnvironment;
  cluster: SimulatedCluster;
  /** What every worker process of the suite runs with. */
  env: NodeJS.ProcessEnv;
  /** The workers' backup store (`backup.directory`). */
  backups: string;
  /** Starts a worker process with `env` and `extra`; {@link stop} kills whatever is still running. */
  startWorker(extra?: NodeJS.ProcessEnv): Promise<WorkerProcess>;
  stop(): Promise<void>;
}

/** Starts the stack; `config` are the lines of the worker's `RUNBOOK_CONFIG` file. */
export async function startWorkerStack(taskQueue: string, config: string[]): Promise<WorkerStack> {
  const temporal = await startDevServer();
  const cluster = await startSimulatedCluster(loadScenario(demoScenarioPath('oomkilled-redis.yaml')));
  const dir = await mkdtemp(join(tmpdir(), `${taskQueue}-`));
  const configPath = join(dir, 'runbook.yaml');
  const backups = join(dir, 'backups');
  await writeFile(configPath, [...config, `backup: { directory: ${JSON.stringify(backups)}, keep: 5 }`].join('\n'));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    TEMPORAL_ADDRESS: temporal.address,
    RUNBOOK_TASK_QUEUE: taskQueue,
    RUNBOOK_CONFIG: configPath,
    KUBECONFIG: cluster.kubeconfigPath,
    LOG_LEVEL: 'info',
  };
  const children = new Set<ChildProcess>();
  return {
    temporal,
    cluster,
    env,
    backups,
    async startWorker(extra = {}) {
      const worker = await startWorkerProcess({ ...env, ...extra });
      children.add(worker.child);
      worker.child.once('exit', () => children.delete(worker.child));
      return worker;
    },
    async stop() {
      for (const child of children) child.kill('SIGKILL');
      await cluster.stop();
      await temporal.teardown();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Kills `child` with SIGKILL and waits until it is gone. */
export async function killWorker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/** A `redis-server` at its limit under noeviction (writes fail: the plan asks to change it), and a client of it. */
export async function redisAtItsLimit(): Promise<{ server: RedisServer; redis: Redis }> {
  const server = await startRedisServer({ enableDebug: true });
  const redis = new Redis({ host: server.host, port: server.port, maxRetriesPerRequest: 1 });
  await redis.call('DEBUG', 'POPULATE', '20000', 'stat', '50');
  await capAtUsedMemory(redis);
  return { server, redis };
}

/** The incident: `maxmemory` at the memory in use under `noeviction`, so writes fail with OOM. */
export async function capAtUsedMemory(redis: Redis): Promise<void> {
  const used = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
  await redis.config('SET', 'maxmemory-policy', 'noeviction');
  await redis.config('SET', 'maxmemory', String(used));
}
