/**
 * End to end on a real Temporal dev server: the real worker and activities against a real redis-server seeded with
 * the incident and the simulated Kubernetes API, driven through the CLI's command functions. Order matters: the dry
 * run and the rejection must leave Redis as it was; the approved run then fixes it.
 *
 * With RECORD_HISTORIES=1 the runs' histories are written to test/histories/ for the replay test.
 */
import assert from 'node:assert/strict';
import { writeFile, mkdir } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { approveCommand } from '../../cli/commands/approve.js';
import { rejectCommand } from '../../cli/commands/reject.js';
import { startCommand } from '../../cli/commands/start.js';
import { statusCommand } from '../../cli/commands/status.js';
import { exitCodeFor, ExitCode, type CommandContext } from '../../cli/client.js';
import { DecisionRefusedError } from '../../client/index.js';
import { loadTemporalSettings } from '../../config/environment.js';
import { DEMO_TARGET, startLocalStack, type LocalStack } from '../../demo/stack.js';
import { statusQuery, toWorkflowId } from '../../workflows/definitions.js';
import type { RunbookReport, RunbookStatus } from '../../workflows/definitions.js';
import { installQuietRuntime } from '../../local-servers/temporal.js';

installQuietRuntime();

const HISTORIES = fileURLToPath(new URL('../../../test/histories/', import.meta.url));
/** The suffix of the histories this version records (`.json` was version 1): bump it on each workflow change. */
const HISTORY_VERSION = 'v6';
let stack: LocalStack;
let client: Client;
let ctx: CommandContext;
const output: string[] = [];

function start(incident: string, extra: { dryRun?: boolean } = {}) {
  return startCommand(
    client,
    {
      incident,
      namespace: DEMO_TARGET.namespace,
      pod: DEMO_TARGET.pod,
      container: DEMO_TARGET.container,
      redis: `${stack.redisServer.host}:${stack.redisServer.port}`,
      by: 'pagerduty-bot@example.com',
      ...extra,
    },
    ctx,
  );
}

async function waitForPhase(incident: string, phase: RunbookStatus['phase']): Promise<RunbookStatus> {
  const handle = client.workflow.getHandle(toWorkflowId(incident));
  for (let i = 0; i < 600; i++) {
    const s = await handle.query(statusQuery);
    if (s.phase === phase) return s;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${incident} never reached ${phase}`);
}

async function finish(incident: string, record: string): Promise<{ report: RunbookReport; historyText: string }> {
  const handle = client.workflow.getHandle(toWorkflowId(incident));
  const report = (await handle.result()) as RunbookReport;
  const historyText = historyToJSON(await handle.fetchHistory());
  if (process.env.RECORD_HISTORIES) {
    await mkdir(HISTORIES, { recursive: true });
    // Beside the histories of earlier versions, never over them: the replay test replays them all.
    await writeFile(`${HISTORIES}${record}.${HISTORY_VERSION}.json`, historyText);
  }
  return { report, historyText };
}

/** Every payload of a history, decoded: what an auditor reads in the UI. */
function decodedPayloads(historyText: string): string {
  return [...historyText.matchAll(/"data":\s*"([A-Za-z0-9+/=]+)"/g)]
    .map((m) => Buffer.from(m[1]!, 'base64').toString('utf8'))
    .join('\n');
}

async function redisConfig(name: string): Promise<string> {
  const [, value] = (await stack.redis.config('GET', name)) as [string, string];
  return value;
}

describe('redisIncidentRunbook end to end on the dev server', () => {
  before(async () => {
    stack = await startLocalStack({ keepRuntime: true });
    client = stack.temporal.client;
    ctx = { settings: loadTemporalSettings(stack.env), out: (line) => output.push(line) };
    assert.ok(stack.seed.writeFailsWithOom, 'the seed reproduces the incident');
  });
  after(async () => {
    await stack?.stop();
  });

  it('dry run: diagnoses the seeded crash, plans, changes nothing', async () => {
    await start('E2E-DRY', { dryRun: true });
    const { report } = await finish('E2E-DRY', 'dry-run');
    assert.equal(report.outcome, 'dry-run');
    const ids: string[] = report.findings.map((f) => f.id);
    for (const expected of [
      'pod-oomkilled',
      'noeviction-near-limit',
      'writes-rejected',
      'sidekiq-stat-no-ttl',
      'sidekiq-dead-old',
    ]) {
      assert.ok(ids.includes(expected), `finding ${expected} in ${ids.join(', ')}`);
    }
    assert.deepEqual(
      report.plan!.actions.map((a) => a.id),
      [
        'set-maxmemory',
        'set-maxmemory-policy',
        'expire-stat-keys',
        'trim-sidekiq-dead',
        'memory-purge',
        'config-rewrite',
        'delay-liveness-probe',
      ],
    );
    // The node is under memory pressure: a finding, and a line of its own outside the plan's actions; the claim is bound.
    assert.ok(ids.includes('node-memory-pressure'), ids.join(', '));
    assert.ok(!ids.some((id) => id.startsWith('node-') && id !== 'node-memory-pressure'), ids.join(', '));
    assert.ok(!ids.some((id) => id.startsWith('claim-')), ids.join(', '));
    assert.match(report.plan!.outsideAdvice?.join('\n') ?? '', /does not fix the node: node-memory-pressure/);
    assert.equal(await redisConfig('maxmemory-policy'), 'noeviction');
    assert.equal(report.backup, undefined);
  });

  it('a second start for the same incident finds the first run', async () => {
    const first = await start('E2E-REJECT');
    assert.equal(first.alreadyRunning, false);
    const second = await start('E2E-REJECT');
    assert.equal(second.alreadyRunning, true);
    assert.equal(second.runId, first.runId);
  });

  it('reject path: the run stops without acting', async () => {
    const status = await waitForPhase('E2E-REJECT', 'awaiting-approval');
    assert.ok(status.backup?.confirmed, 'a confirmed backup precedes the approval');
    await rejectCommand(client, { id: 'E2E-REJECT', by: 'sre-lead@example.com', reason: 'handling it by hand' }, ctx);
    const { report } = await finish('E2E-REJECT', 'rejected');
    assert.equal(report.outcome, 'rejected');
    assert.equal(report.results.length, 0);
    assert.equal(await redisConfig('maxmemory-policy'), 'noeviction');
  });

  it('approve path: refuses a non-allowed approver, then remediates and verifies the seeded crash', async () => {
    const lastSaveBefore = Number(await stack.redis.lastsave());
    await start('E2E-APPROVE');
    const waiting = await waitForPhase('E2E-APPROVE', 'awaiting-approval');
    const planId = waiting.plan!.id;
    assert.ok(waiting.backup!.lastSave > lastSaveBefore || waiting.backup!.lastSave >= lastSaveBefore);

    await assert.rejects(
      approveCommand(client, { id: 'E2E-APPROVE', by: 'mallory@example.com', plan: planId }, ctx),
      (err) => {
        assert.ok(err instanceof DecisionRefusedError);
        assert.equal(exitCodeFor(err), ExitCode.refused);
        assert.match(err.message, /not on the approvers list/);
        return true;
      },
    );
    await assert.rejects(
      approveCommand(client, { id: 'E2E-APPROVE', by: 'oncall@example.com', plan: 'plan-0123456789ab' }, ctx),
      /stale plan/,
    );
    const record = await approveCommand(
      client,
      { id: 'E2E-APPROVE', by: 'oncall@example.com', plan: planId, reason: 'runbook plan looks right' },
      ctx,
    );
    assert.equal(record.accepted, true);

    const view = await statusCommand(client, { id: 'E2E-APPROVE' }, ctx);
    assert.ok(view);

    const { report, historyText } = await finish('E2E-APPROVE', 'approved');
    assert.equal(report.outcome, 'resolved', report.summary);
    assert.equal(report.approvedBy, 'oncall@example.com');
    assert.ok(report.verification?.passed);
    assert.ok(
      report.results.every((r) => r.ok || r.id === 'config-rewrite'),
      JSON.stringify(report.results),
    );

    // Redis afterwards: policy, maxmemory (75% of the 2 GiB limit), the backup, TTLs on stat:*, writes accepted
    assert.equal(await redisConfig('maxmemory-policy'), 'volatile-lru');
    assert.equal(Number(await redisConfig('maxmemory')), 1536 * 1024 * 1024);
    assert.ok(report.backup!.confirmed && report.backup!.lastSave >= lastSaveBefore);
    // The dead set keeps what the policy keeps: nothing that died more than 180 days ago, the recent ones all there.
    const now = Number((await stack.redis.time())[0]);
    assert.equal(await stack.redis.zcount('dead', '-inf', String(now - 180 * 86400)), 0);
    assert.ok((await stack.redis.zcard('dead')) >= 3900, 'the recent dead jobs stay');
    const [, statKeys] = await stack.redis.scan('0', 'MATCH', 'stat:*', 'COUNT', 1000);
    for (const key of statKeys.slice(0, 50)) assert.ok((await stack.redis.ttl(key)) > 0, `${key} has a TTL`);
    assert.equal(await stack.redis.set('e2e:write', 'x', 'EX', 10), 'OK');

    // the approver, in the history
    const payloads = decodedPayloads(historyText);
    assert.match(payloads, /"by":"oncall@example\.com"/);
    assert.match(payloads, /runbook plan looks right/);
  });
});
