/**
 * The worker's Prometheus endpoint during a real run (dev server, the worker and its activities, redis-server, the
 * simulated Kubernetes API): the SDK's metrics and the runbook's own (phases, decisions, runs by outcome, keys
 * changed) move as the run moves, and carry no incident id or pod in a label.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { sendDecision, startRunbook } from '../../client/index.js';
import { demoRunInput, startLocalStack, type LocalStack } from '../../demo/stack.js';
import { freePort } from '../../local-servers/free-port.js';
import { metricValue, scrape as scrapeText } from '../prometheus-text.js';
import { statusQuery, workflowIdFor, type RunbookReport } from '../../workflows/definitions.js';

const INCIDENT = 'QMETRICS1';
let stack: LocalStack;
let metricsUrl: string;

const scrape = () => scrapeText(metricsUrl);
const value = metricValue;

describe('worker metrics (Prometheus, during a run)', () => {
  before(async () => {
    const port = await freePort();
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
    // What the worker installs when RUNBOOK_METRICS_ADDRESS is set.
    Runtime.install({
      logger: new DefaultLogger('ERROR'),
      telemetryOptions: {
        metrics: { prometheus: { bindAddress: `127.0.0.1:${port}`, countersTotalSuffix: true } },
      },
    });
    stack = await startLocalStack({ keepRuntime: true });
  });
  after(async () => {
    await stack?.stop();
  });

  it('phases, decisions, the outcome and the keys changed move with the run; the SDK’s metrics are beside them', async () => {
    const before = await scrape();
    await startRunbook(stack.temporal.client, demoRunInput(stack, INCIDENT), { taskQueue: stack.taskQueue });
    const handle = stack.temporal.client.workflow.getHandle(workflowIdFor(INCIDENT));
    let planId: string | undefined;
    for (let i = 0; i < 600 && !planId; i++) {
      const s = await handle.query(statusQuery).catch(() => undefined);
      if (s?.phase === 'awaiting-approval') planId = s.plan?.id;
      else await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(planId, 'the run never waited for approval');
    // A refused decision (not an approver), then the approval.
    await assert.rejects(
      sendDecision(
        stack.temporal.client,
        handle,
        { decision: 'approve', by: 'mallory@example.com', planId, via: 'cli' },
        20_000,
      ),
    );
    const record = await sendDecision(
      stack.temporal.client,
      handle,
      { decision: 'approve', by: 'oncall@example.com', planId, via: 'cli' },
      20_000,
    );
    assert.equal(record.accepted, true);
    const report = (await handle.result()) as RunbookReport;
    assert.equal(report.outcome, 'resolved', report.summary);

    // The exporter reads the meters as they are: give it a moment past the last workflow task.
    let after: string[] = [];
    for (let i = 0; i < 50; i++) {
      after = await scrape();
      if (value(after, 'runbook_runs_finished_total', { outcome: 'resolved' }) > 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const moved = (name: string, labels: Record<string, string> = {}) =>
      value(after, name, labels) - value(before, name, labels);
    assert.equal(moved('runbook_runs_finished_total', { outcome: 'resolved' }), 1);
    assert.equal(moved('runbook_decisions_total', { decision: 'approve', accepted: 'true', via: 'cli' }), 1);
    assert.equal(moved('runbook_decisions_total', { decision: 'approve', accepted: 'false', via: 'cli' }), 1);
    assert.equal(moved('runbook_approval_wait_count'), 1);
    for (const phase of ['diagnosing', 'planning', 'backing-up', 'awaiting-approval', 'remediating', 'verifying'])
      assert.ok(moved('runbook_phase_duration_count', { phase }) >= 1, `phase ${phase}`);
    const keys = report.results.reduce((n, r) => n + (r.keysTouched ?? 0), 0);
    assert.equal(moved('runbook_keys_changed_total'), keys);
    // The SDK's own, from the same endpoint.
    assert.ok(
      after.some((l) => l.startsWith('temporal_workflow_completed')),
      'the SDK’s workflow metrics',
    );
    assert.ok(
      after.some((l) => l.startsWith('temporal_activity_execution_latency')),
      'the SDK’s activity metrics',
    );
    // Labels stay bounded: nothing names the incident or the pod.
    const ours = after.filter((l) => l.startsWith('runbook_'));
    assert.ok(
      ours.every((l) => !l.includes(INCIDENT) && !l.includes('redis-0')),
      ours.join('\n'),
    );
  });
});
