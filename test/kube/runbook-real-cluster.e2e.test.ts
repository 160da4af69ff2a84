/**
 * The approve path of test/e2e/runbook.e2e.test.ts with a real API server in place of the simulated cluster: the real
 * worker (its kubeconfig holds the k8s/ worker ServiceAccount's token, so the Role in k8s/ is all it may use) runs the
 * runbook against a crashed redis-0 whose status, events and previous log the API server and kwok serve; Redis itself
 * is the local seeded redis-server, and a readiness prober plays the kubelet's probe against it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CoreV1Api } from '@kubernetes/client-node';
import { Redis } from 'ioredis';
import type { Client } from '@temporalio/client';
import { approveCommand } from '../../cli/commands/approve.js';
import { startCommand } from '../../cli/commands/start.js';
import type { CommandContext } from '../../cli/client.js';
import { DEMO_TARGET, startLocalStack, type ExternalClusterStack } from '../../demo/stack.js';
import { loadTemporalSettings } from '../../config/environment.js';
import { statusQuery, toWorkflowId } from '../../workflows/definitions.js';
import type { RunbookReport, RunbookStatus } from '../../workflows/definitions.js';
import { startKubeApiServer, type KubeApiServer } from '../servers/kube-apiserver.js';
import { installQuietRuntime } from '../../local-servers/temporal.js';
import { readManifestFile, serverSideApply } from './manifests.js';
import { startReadinessProber, type ReadinessProber } from './redis-readiness.js';
import { createRedisScenario, NAMESPACE, REDIS_CONTAINER, REDIS_POD, scenarioLogs } from './redis-workloads.js';
import { serviceAccountToken } from './service-account-token.js';
import { kubeSuiteSkip } from './suite-gate.js';

installQuietRuntime();

let server: KubeApiServer;
let stack: ExternalClusterStack;
let prober: ReadinessProber;
let probeClient: Redis | undefined;
let core: CoreV1Api;
let client: Client;
let ctx: CommandContext;

async function waitForPhase(incident: string, phase: RunbookStatus['phase']): Promise<RunbookStatus> {
  const handle = client.workflow.getHandle(toWorkflowId(incident));
  for (let i = 0; i < 900; i++) {
    const s = await handle.query(statusQuery);
    if (s.phase === phase) return s;
    if (s.phase === 'done') throw new Error(`${incident} finished before ${phase}: ${JSON.stringify(s.findings)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${incident} never reached ${phase}`);
}

describe('redisIncidentRunbook end to end against a real Kubernetes API server', { skip: kubeSuiteSkip() }, () => {
  before(async () => {
    server = await startKubeApiServer({ logs: scenarioLogs() });
    const admin = server.adminConfig();
    await createRedisScenario(admin);
    for (const file of ['namespace.yaml', 'serviceaccounts.yaml', 'rbac-target-namespace.yaml']) {
      for (const { object } of readManifestFile(file)) await serverSideApply(admin, object);
    }
    const token = await serviceAccountToken(admin, 'redis-runbook', 'redis-runbook-worker');
    const kubeconfigPath = await server.writeKubeconfig(token, 'worker', NAMESPACE);
    stack = await startLocalStack({ keepRuntime: true, kubeconfigPath });
    probeClient = new Redis({ host: stack.redisServer.host, port: stack.redisServer.port, maxRetriesPerRequest: 1 });
    core = admin.makeApiClient(CoreV1Api);
    client = stack.temporal.client;
    ctx = { settings: loadTemporalSettings(stack.env), out: () => undefined };
    assert.ok(stack.seed.writeFailsWithOom, 'the seed reproduces the incident');
  });
  after(async () => {
    await prober?.stop();
    probeClient?.disconnect();
    await stack?.stop();
    await server?.stop();
  });

  it('approve path: diagnoses the pod through the API server, remediates Redis, verifies the pod ready', async () => {
    assert.equal(DEMO_TARGET.pod, REDIS_POD);
    await startCommand(
      client,
      {
        incident: 'KUBE-APPROVE',
        namespace: NAMESPACE,
        pod: REDIS_POD,
        container: REDIS_CONTAINER,
        redis: `${stack.redisServer.host}:${stack.redisServer.port}`,
        by: 'pagerduty-bot@example.com',
      },
      ctx,
    );
    const waiting = await waitForPhase('KUBE-APPROVE', 'awaiting-approval');
    // The diagnosis saw the crash as scripted; from here the kubelet's probe reports what Redis does. (Started earlier,
    // a probe write slipping under maxmemory could mark the pod running while the runbook describes it.)
    prober = startReadinessProber(core, {
      namespace: NAMESPACE,
      pod: REDIS_POD,
      container: REDIS_CONTAINER,
      redis: probeClient!,
    });
    const ids: string[] = waiting.findings.map((f) => f.id);
    // From the API server (pod status, events) and from kwok (the previous log), through the worker's Role.
    for (const expected of ['pod-oomkilled', 'pod-crashloop', 'probes-failing', 'log-fork-cannot-allocate-memory']) {
      assert.ok(ids.includes(expected), `finding ${expected} in ${ids.join(', ')}`);
    }
    // maxmemory from the limit the API server reported (75% of 2Gi).
    assert.ok(
      waiting.plan!.actions.some((a) => a.action.kind === 'set-maxmemory' && a.action.bytes === 1536 * 1024 * 1024),
    );

    await approveCommand(
      client,
      { id: 'KUBE-APPROVE', by: 'oncall@example.com', plan: waiting.plan!.id, reason: 'real cluster run' },
      ctx,
    );
    const report = (await client.workflow.getHandle(toWorkflowId('KUBE-APPROVE')).result()) as RunbookReport;
    assert.equal(report.outcome, 'resolved', `${report.summary} ${JSON.stringify(report.verification)}`);
    assert.ok(report.verification?.passed);
    assert.ok(prober.statusWrites() > 0, 'the pod became ready through the status subresource');
    assert.equal(prober.lastError(), undefined, String(prober.lastError()));
  });
});
