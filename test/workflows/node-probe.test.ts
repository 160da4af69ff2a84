/**
 * The node and storage steps and the probe fix in a run, on the time-skipping server with activity doubles: the node
 * is read where the pod runs, the claims its volumes name, the plan says what it cannot fix, and an approved probe
 * fix is applied once, with the patch's input as planned. Records `node-probe.v6.json` with RECORD_HISTORIES=1.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import type { WorkflowHandle } from '@temporalio/client';
import { decideUpdate, type RunbookStatus } from '../../workflows/definitions.js';
import { healthyNode, seedPod } from './fixtures.js';
import { Harness, waitForPhase } from './harness.js';

const harness = new Harness();
const HISTORIES = fileURLToPath(new URL('../../../test/histories/', import.meta.url));

/** The seed's pod on a node, with a liveness probe that gives Redis 15 s and its data on a claim. */
function podOnNode() {
  return {
    ...seedPod(),
    nodeName: 'node-a',
    spec: {
      containers: [
        {
          name: 'redis',
          image: 'redis:7.0.15',
          memoryRequestBytes: 2 * 1024 ** 3,
          memoryLimitBytes: 2 * 1024 ** 3,
          liveness: {
            kind: 'tcpSocket' as const,
            initialDelaySeconds: 5,
            periodSeconds: 5,
            timeoutSeconds: 1,
            failureThreshold: 2,
          },
          mounts: [{ volume: 'data', path: '/data', readOnly: false }],
        },
      ],
      volumes: [{ name: 'data', kind: 'persistentVolumeClaim' as const, claim: 'data-redis-0' }],
    },
  };
}

describe('node, storage and the probe fix in a run', () => {
  before(() => harness.start());
  after(() => harness.stop());

  it('reads the node and the claims, says the node is not its to fix, and applies the approved probe delay once', async () => {
    const node = healthyNode('node-a');
    node.conditions = node.conditions.map((c) => (c.type === 'MemoryPressure' ? { ...c, status: 'True' } : c));
    let waiting: RunbookStatus | undefined;
    let history: Awaited<ReturnType<WorkflowHandle['fetchHistory']>> | undefined;
    const { report, recorder } = await harness.run({ pod: podOnNode(), node, loadSeconds: 17.5 }, async (h) => {
      waiting = await waitForPhase(h, 'awaiting-approval');
      await h.executeUpdate(decideUpdate, {
        args: [{ decision: 'approve', by: 'alice@example.com', planId: waiting.plan!.id }],
      });
      await h.result();
      history = await h.fetchHistory();
    });
    assert.deepEqual(recorder.named('describeNode'), [[{ node: 'node-a', namespace: 'cache', pod: 'redis-0' }]]);
    assert.deepEqual(recorder.named('describeClaims'), [[{ namespace: 'cache', claims: ['data-redis-0'] }]]);
    const ids = waiting!.findings.map((f) => f.id);
    assert.ok(ids.includes('node-memory-pressure'), ids.join());
    assert.ok(ids.includes('liveness-kills-loading'), ids.join());
    assert.match(waiting!.plan!.outsideAdvice?.[0] ?? '', /does not fix the node: node-memory-pressure/);
    const probe = waiting!.plan!.actions.find((a) => a.id === 'delay-liveness-probe');
    assert.ok(probe && waiting!.awaitingApproval.includes(probe.id), 'the probe fix waits for approval');
    assert.deepEqual(recorder.named('setLivenessDelay'), [
      [
        {
          workload: { kind: 'StatefulSet', name: 'redis', namespace: 'cache' },
          container: 'redis',
          initialDelaySeconds: 35,
          actionId: 'delay-liveness-probe',
        },
      ],
    ]);
    // A Redis that holds data is backed up before a patch that rolls its pod.
    const order = recorder.calls.map((c) => c.name);
    assert.ok(order.indexOf('copyBackup') < order.indexOf('setLivenessDelay'), order.join());
    assert.equal(report.outcome, 'resolved', report.summary);
    if (process.env.RECORD_HISTORIES) await writeFile(`${HISTORIES}node-probe.v6.json`, historyToJSON(history!));
  });
});
