/**
 * `runWorker({ env })` must read every secret from the `env` it is given, never from `process.env` behind the
 * caller's back. Here `process.env` holds a wrong Redis password and `env` the right one: a worker that reads the
 * wrong one cannot diagnose the password-protected Redis, and its dry run reports it unreachable.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { connectTemporal, startRunbook, type TemporalClient } from '../../client/index.js';
import { startRedisServer, type RedisServer } from '../../local-servers/redis-server.js';
import {
  demoScenarioPath,
  loadScenario,
  startSimulatedCluster,
  type SimulatedCluster,
} from '../../local-servers/simulated-cluster/index.js';
import { installQuietRuntime, startDevServer } from '../../local-servers/temporal.js';
import { runWorker } from '../../worker/main.js';
import type { RunbookReport } from '../../workflows/definitions.js';

installQuietRuntime();

describe('runWorker reads secrets from the env it is given', () => {
  let temporal: TestWorkflowEnvironment;
  let redis: RedisServer;
  let cluster: SimulatedCluster;
  let client: TemporalClient;
  let stopWorker: (() => void) | undefined;
  let worker: Promise<void>;
  const saved = process.env.REDIS_PASSWORD;

  before(async () => {
    temporal = await startDevServer();
    redis = await startRedisServer({ args: ['--requirepass', 'right-password'] });
    cluster = await startSimulatedCluster(loadScenario(demoScenarioPath('oomkilled-redis.yaml')));
    process.env.REDIS_PASSWORD = 'wrong-password';
    const env = {
      TEMPORAL_ADDRESS: temporal.address,
      RUNBOOK_TASK_QUEUE: 'env-test',
      KUBECONFIG: cluster.kubeconfigPath,
      REDIS_PASSWORD: 'right-password',
      LOG_LEVEL: 'silent',
    };
    worker = runWorker({ env, keepRuntime: true, onReady: (stop) => (stopWorker = stop) });
    for (let i = 0; i < 100 && !stopWorker; i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(stopWorker, 'the worker started');
    client = await connectTemporal({ TEMPORAL_ADDRESS: temporal.address });
  });

  after(async () => {
    if (saved === undefined) delete process.env.REDIS_PASSWORD;
    else process.env.REDIS_PASSWORD = saved;
    stopWorker?.();
    await worker?.catch(() => undefined);
    await client?.close();
    await cluster?.stop();
    await redis?.stop();
    await temporal?.teardown();
  });

  it('authenticates with env.REDIS_PASSWORD although process.env holds another', async () => {
    const started = await startRunbook(
      client.client,
      {
        incidentId: 'ENV-1',
        startedBy: 'test@example.com',
        dryRun: true,
        target: {
          namespace: 'cache',
          pod: 'redis-0',
          container: 'redis',
          redis: { host: redis.host, port: redis.port },
        },
      },
      { taskQueue: 'env-test' },
    );
    const report: RunbookReport = await client.client.workflow.getHandle(started.workflowId).result();
    assert.equal(report.outcome, 'dry-run');
    const ids: string[] = report.findings.map((f) => f.id);
    assert.ok(!ids.includes('redis-unreachable'), `Redis was diagnosed: ${ids.join(', ')}`);
    assert.ok(report.before && Object.keys(report.before).length > 0, 'figures from INFO');
  });
});
