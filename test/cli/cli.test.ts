import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { allSearchAttributeKeys } from '../../workflows/definitions.js';
import type { RunbookStatus } from '../../workflows/definitions.js';
import { uiLink } from '../../client/index.js';
import type { CommandContext } from '../../cli/client.js';
import { listCommand, renderRuns } from '../../cli/commands/list.js';
import { listQuery } from '../../client/index.js';
import { parseRedisAddress, startCommand, validateStartOptions } from '../../cli/commands/start.js';
import { renderStatus, type StatusView } from '../../cli/commands/status.js';
import { temporalCliPath } from '../../local-servers/temporal-binaries.js';

const cliPath = fileURLToPath(new URL('../../cli/main.js', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cliPath, ...args],
      { env: { PATH: process.env.PATH, ...env }, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const startArgs = ['start', '--incident', 'INC-1', '--namespace', 'cache', '--pod', 'redis-0'];

void describe('runbook CLI process', () => {
  void it('exits 3 with a clear message when Temporal is unreachable', async () => {
    const r = await runCli(['list'], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    assert.equal(r.code, 3, r.stderr);
    assert.match(
      r.stderr,
      /^runbook: cannot reach Temporal at 127\.0\.0\.1:1: is the server running\? `temporal server start-dev`/,
    );
    assert.equal(r.stderr.trim().split('\n').length, 1, 'one line, no stack');
  });

  void it('exits 2 for a malformed TEMPORAL_ADDRESS', async () => {
    const r = await runCli(['list'], { TEMPORAL_ADDRESS: 'http://temporal' });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /TEMPORAL_ADDRESS: expected host:port/);
  });

  void it('refuses a Redis URL with a password before contacting anything, without echoing it', async () => {
    const r = await runCli([...startArgs, '--redis', 'redis://:hunter2@redis:6379/0'], {
      TEMPORAL_ADDRESS: '127.0.0.1:1',
    });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--redis .*contains credentials.*REDIS_PASSWORD/);
    assert.ok(!r.stderr.includes('hunter2'));
  });

  void it('exits 2 for missing required options, an unknown command and a bad list', async () => {
    const missing = await runCli(['start', '--incident', 'x']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /required option '--namespace <ns>' not specified/);
    const reject = await runCli(['reject', 'INC-1', '--by', 'a@b.c']);
    assert.equal(reject.code, 2);
    assert.match(reject.stderr, /--reason/);
    assert.equal((await runCli(['frobnicate'])).code, 2);
    const actions = await runCli(['approve', 'INC-1', '--by', 'a@b.c', '--actions', ',']);
    assert.equal(actions.code, 2);
  });

  void it('prints help with exit 0', async () => {
    const r = await runCli(['--help']);
    assert.equal(r.code, 0);
    for (const command of ['start', 'status', 'approve', 'reject', 'list', 'worker'])
      assert.match(r.stdout, new RegExp(command));
  });
});

void describe('runbook start --cleanup', () => {
  const base = { incident: 'INC-1', namespace: 'cache', pod: 'redis-0', redis: '127.0.0.1:6379' };
  void it('accepts narrow patterns and refuses one that matches everything', () => {
    assert.deepEqual(validateStartOptions({ ...base, cleanup: ['sess:tmp:*'] }), { host: '127.0.0.1', port: 6379 });
    for (const broad of ['*', '*:tmp', 'se*'])
      assert.throws(() => validateStartOptions({ ...base, cleanup: [broad] }), /--cleanup .*too broad/);
  });
});

void describe('parseRedisAddress', () => {
  void it('accepts host:port and redis URLs', () => {
    assert.deepEqual(parseRedisAddress('redis-0.cache:6380'), { host: 'redis-0.cache', port: 6380 });
    assert.deepEqual(parseRedisAddress('redis://10.0.0.1:6379/2'), { host: '10.0.0.1', port: 6379, db: 2 });
    assert.deepEqual(parseRedisAddress('rediss://r.example.com'), { host: 'r.example.com', port: 6379 });
    assert.deepEqual(parseRedisAddress('redis://[::1]:7000'), { host: '::1', port: 7000 });
  });

  void it('refuses credentials, other schemes and bad paths with exit code 2', () => {
    for (const bad of [
      'redis://user:pw@h:1',
      'redis://:pw@h:1',
      'redis://user@h:1',
      'http://h:1',
      'redis://h:1/x',
      'h:99999',
    ]) {
      assert.throws(
        () => parseRedisAddress(bad),
        (err: Error & { exitCode?: number }) => err.exitCode === 2,
        bad,
      );
    }
  });
});

void describe('rendering', () => {
  const status: RunbookStatus = {
    incidentId: 'INC-1',
    phase: 'awaiting-approval',
    outcome: 'running',
    target: { namespace: 'cache', pod: 'redis-0', redis: { host: 'r', port: 6379 } },
    startedBy: 'alice@example.com',
    findings: [{ id: 'noeviction-near-limit', severity: 'critical', message: 'memory at 97%', evidence: {} }],
    plan: {
      id: 'p-abc',
      actions: [
        {
          id: 'set-maxmemory-policy',
          risk: 'risky',
          destructive: false,
          summary: 'CONFIG SET maxmemory-policy allkeys-lru',
          action: { kind: 'set-maxmemory-policy', policy: 'allkeys-lru' },
        },
      ],
      persistAdvice: ['set maxmemory-policy in the Helm values'],
    },
    awaitingApproval: ['set-maxmemory-policy'],
    approvalDeadline: '2026-01-01T01:00:00.000Z',
    decisions: [
      {
        decision: 'approve',
        by: 'alice@example.com',
        planId: 'p-abc',
        at: '2026-01-01T00:10:00.000Z',
        accepted: false,
        refusal: 'same person',
      },
    ],
    results: [],
    uiUrl: 'http://ui',
  };
  const view: StatusView = {
    workflowId: 'redis-runbook-INC-1',
    runId: 'r1',
    execution: { status: 'RUNNING', startTime: '2026-01-01T00:00:00.000Z' },
    status,
    pendingActivities: [
      { activityType: 'scanKeys', attempt: 2, state: 'STARTED', heartbeat: { scanned: 120000, cursor: '42' } },
    ],
    uiUrl: 'http://ui/namespaces/default/workflows/redis-runbook-INC-1',
  };

  void it('shows findings, plan, what waits for approval, refusals and progress', () => {
    const text = renderStatus(view).join('\n');
    assert.match(text, /phase: awaiting-approval {2}outcome: running/);
    assert.match(text, /\[critical\] noeviction-near-limit: memory at 97%/);
    assert.match(text, /plan p-abc:\n {2}set-maxmemory-policy \(risky\): CONFIG SET/);
    assert.match(text, /awaiting approval: set-maxmemory-policy \(deadline 2026-01-01T01:00:00.000Z\)/);
    assert.match(text, /approve REFUSED \(same person\) by alice@example.com/);
    assert.match(text, /scanKeys attempt 2 started {"scanned":120000,"cursor":"42"}/);
  });

  void it('falls back to the search attributes when no worker answers', () => {
    const text = renderStatus({
      ...view,
      status: undefined,
      phase: 'diagnosing',
      outcome: 'running',
      statusError: 'no answer',
    }).join('\n');
    assert.match(text, /phase: diagnosing {2}outcome: running \(from search attributes\)\n {2}no answer/);
  });

  void it('lists runs as a table', () => {
    assert.equal(listQuery(), `WorkflowType = 'redisIncidentRunbook' AND ExecutionStatus = 'Running'`);
    assert.equal(listQuery(true), `WorkflowType = 'redisIncidentRunbook'`);
    const lines = renderRuns([
      {
        incidentId: 'INC-1',
        workflowId: 'w',
        status: 'RUNNING',
        phase: 'diagnosing',
        outcome: 'running',
        startTime: '2026-01-01T00:00:00.123Z',
      },
    ]);
    assert.equal(lines[0], 'INCIDENT  PHASE       OUTCOME  STARTED               TARGET');
    assert.equal(lines[1], 'INC-1     diagnosing  running  2026-01-01T00:00:00Z  -');
    assert.match(renderRuns([])[0]!, /no open runbook runs/);
  });
});

void describe('commands against a dev server (no worker)', () => {
  let env: TestWorkflowEnvironment;
  let ctx: CommandContext & { lines: string[] };

  before(async () => {
    env = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: temporalCliPath() },
        searchAttributes: allSearchAttributeKeys,
        ui: false,
      },
    });
    const lines: string[] = [];
    ctx = {
      lines,
      settings: { address: '', namespace: 'default', taskQueue: 'cli-test', uiUrl: 'http://ui' },
      out: (text) => lines.push(text),
    };
  });
  after(async () => {
    await env?.teardown();
  });

  void it('starts one run per incident, and finds it on a second start', async () => {
    const opts = {
      incident: 'INC-7',
      namespace: 'cache',
      pod: 'redis-0',
      redis: 'redis://r:6379/1',
      by: 'alice@example.com',
    };
    const first = await startCommand(env.client, opts, ctx);
    assert.equal(first.alreadyRunning, false);
    assert.equal(first.workflowId, 'redis-runbook-INC-7');
    assert.equal(first.uiUrl, uiLink(ctx.settings, 'redis-runbook-INC-7'));
    const second = await startCommand(env.client, opts, ctx);
    assert.equal(second.alreadyRunning, true);
    assert.equal(second.runId, first.runId);
    assert.deepEqual(ctx.lines.slice(0, 4), [
      'started: redis-runbook-INC-7',
      'http://ui/namespaces/default/workflows/redis-runbook-INC-7',
      'already running: redis-runbook-INC-7',
      'http://ui/namespaces/default/workflows/redis-runbook-INC-7',
    ]);

    const description = await env.client.workflow.getHandle('redis-runbook-INC-7').describe();
    assert.equal(description.typedSearchAttributes.get(allSearchAttributeKeys[0]!), 'INC-7');
    assert.equal(await description.staticSummary(), 'Redis incident INC-7: cache/redis-0');
    assert.match((await description.staticDetails()) ?? '', /\*\*Started by\*\* alice@example.com/);
  });

  void it('refuses to start again once the run finished, unless --rerun', async () => {
    const opts = { incident: 'INC-8', namespace: 'cache', pod: 'redis-0', redis: 'r:6379' };
    await startCommand(env.client, opts, ctx);
    await env.client.workflow.getHandle('redis-runbook-INC-8').terminate('test');
    await assert.rejects(startCommand(env.client, opts, ctx), (err: Error & { exitCode?: number }) => {
      assert.equal(err.exitCode, 2);
      assert.match(err.message, /already had a run, now terminated.*--rerun/);
      return true;
    });
    const again = await startCommand(env.client, { ...opts, rerun: true }, ctx);
    assert.equal(again.alreadyRunning, false);
  });

  void it('lists open runs from the search attributes', async () => {
    let rows: Awaited<ReturnType<typeof listCommand>> = [];
    // Visibility is eventually consistent: give the dev server a moment.
    for (let i = 0; i < 20 && rows.length < 2; i++) {
      rows = await listCommand(env.client, { json: true }, ctx);
      if (rows.length < 2) await new Promise((r) => setTimeout(r, 250));
    }
    const incidents = rows.map((r) => r.incidentId).sort();
    assert.deepEqual(incidents, ['INC-7', 'INC-8']);
    assert.ok(rows.every((r) => r.phase === 'starting' && r.outcome === 'running' && r.status === 'RUNNING'));
  });

  void it('exits 4 for a run that does not exist', async () => {
    const r = await runCli(['status', 'INC-404'], { TEMPORAL_ADDRESS: env.address });
    assert.equal(r.code, 4, r.stderr);
    assert.equal(r.stderr.trim(), 'runbook: no run found: redis-runbook-INC-404');
  });
});
