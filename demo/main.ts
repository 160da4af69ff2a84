/**
 * `npm run demo`: the seeded incident walked end to end on a local stack. Starts a Temporal dev server (Web UI on
 * http://localhost:8233), a redis-server seeded with the crash, the simulated cluster with the OOMKilled pod, the
 * worker, a PagerDuty stand-in and the webhook receiver; starts the run the way PagerDuty does (a signed
 * `incident.triggered`), prints its UI link, findings and plan; waits for `runbook approve` from another terminal (or
 * approves itself with --auto-approve); prints the verified outcome, the incident's notes, and each phase's time. Then
 * it keeps the stack up until Ctrl-C so the audit trail can be read in the UI; the dev server keeps its history in a
 * file under the user's cache, so a later demo still shows earlier runs. --auto-approve exits at once.
 */
import { Command, Option } from 'commander';
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Client } from '@temporalio/client';
import { listRuns, temporalSettingsFrom, uiLink } from '../client/index.js';
import { repoFile } from '../local-servers/repo-path.js';
import { intakeWorkflowIdFor, statusQuery, toWorkflowId } from '../workflows/definitions.js';
import type { IntakeResult, Phase, RunbookReport, RunbookStatus } from '../workflows/definitions.js';
import { temporalCliPath, TemporalBinaryNotFound } from '../local-servers/temporal-binaries.js';
import { installQuietRuntime } from '../local-servers/temporal.js';
import { startDemoPagerDuty } from './pagerduty.js';
import { startLocalStack, type LocalStack } from './stack.js';

/** A new incident id per demo: earlier runs stay in the history file under their own ids. */
const INCIDENT = `PDEMO${Date.now().toString(36).toUpperCase()}`;
const APPROVER = 'oncall@example.com';

interface DemoOptions {
  autoApprove: boolean;
  port: number;
  uiPort: number;
  scale: number;
}

const say = (line = '') => process.stdout.write(`${line}\n`);

/** The dev server's SQLite history: `$XDG_CACHE_HOME/redis-runbook/demo/temporal.db` (`~/.cache` by default). */
async function historyFile(): Promise<string> {
  const dir = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'redis-runbook', 'demo');
  await mkdir(dir, { recursive: true });
  return join(dir, 'temporal.db');
}

/** Runs of an earlier demo left open (stopped while waiting for approval) would act on servers that are gone. */
async function terminateEarlierRuns(client: Client): Promise<void> {
  for (const run of await listRuns(client)) {
    await client.workflow
      .getHandle(run.workflowId)
      .terminate('an earlier demo run: its Redis and cluster stopped with that demo');
    say(`  terminated ${run.workflowId}, left open by an earlier demo`);
  }
}

/** Resolves at the first Ctrl-C (or SIGTERM). */
function untilInterrupted(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls the run's status, noting when each phase was first seen, until `until` holds. */
async function follow(
  stack: LocalStack,
  seen: Map<Phase, number>,
  until: (s: RunbookStatus) => boolean,
): Promise<RunbookStatus> {
  const handle = stack.temporal.client.workflow.getHandle(toWorkflowId(INCIDENT));
  for (;;) {
    const s = await handle.query(statusQuery);
    if (!seen.has(s.phase)) seen.set(s.phase, performance.now());
    if (until(s)) return s;
    await sleep(150);
  }
}

async function demo(opts: DemoOptions): Promise<number> {
  try {
    temporalCliPath();
  } catch (err) {
    if (err instanceof TemporalBinaryNotFound) {
      say(err.message);
      return 1;
    }
    throw err;
  }
  const timings: Array<[string, number]> = [];
  const onStep = (step: string, ms: number) => {
    timings.push([`start ${step}`, ms]);
    say(`  ${step}: up in ${ms} ms`);
  };
  const timedStep = async <T>(step: string, fn: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    const out = await fn();
    onStep(step, Math.round(performance.now() - t));
    return out;
  };
  say('Starting the local stack…');
  installQuietRuntime();
  const pd = await startDemoPagerDuty();
  const dbFilename = await historyFile();
  const stack = await startLocalStack({
    dbFilename,
    keepRuntime: true,
    port: opts.port,
    uiPort: opts.uiPort,
    scale: opts.scale,
    workerEnv: pd.workerEnv,
    onStep,
  });
  const stop = () =>
    void stack
      .stop()
      .then(() => pd.stop())
      .then(() => process.exit(130));
  process.once('SIGINT', stop);
  try {
    const settings = temporalSettingsFrom(stack.env);
    // The demo types what an operator types: the real `runbook` CLI, against the demo's Temporal.
    const runbook = async (...args: string[]) => {
      const cli = repoFile('dist/cli/main.js');
      const { stdout } = await promisify(execFile)(process.execPath, [cli, ...args], {
        env: { ...process.env, ...stack.env },
      });
      return stdout.trimEnd().split('\n');
    };
    await terminateEarlierRuns(stack.temporal.client);
    const receiverUrl = await timedStep('PagerDuty receiver', () => pd.startReceiver(stack));
    say(
      `  redis-server ${stack.redisServer.host}:${stack.redisServer.port} seeded: ${stack.seed.keys} keys, ` +
        `maxmemory ${stack.seed.maxmemory} B, noeviction; a write fails: ${stack.seed.oomError ?? stack.seed.writeFailsWithOom}`,
    );
    say(`  simulated Kubernetes API ${stack.cluster.url}: pod cache/redis-0 OOMKilled 14 times, CrashLoopBackOff`);
    say(`  PagerDuty stand-in ${pd.standIn.url}, webhook receiver ${receiverUrl}`);
    say();

    const t0 = performance.now();
    const title = '[FIRING] Redis cache/redis-0 OOMKilled, CrashLoopBackOff';
    const answer = await pd.trigger(INCIDENT, title);
    const workflowId = answer.workflowId ?? toWorkflowId(INCIDENT);
    say(`PagerDuty incident ${INCIDENT} triggered → signed webhook → 202 ${answer.status} ${workflowId}`);
    const routed = (await stack.temporal.client.workflow
      .getHandle(answer.intakeWorkflowId ?? intakeWorkflowIdFor(INCIDENT))
      .result()) as IntakeResult;
    say(
      `  intake ${answer.intakeWorkflowId ?? ''}: run ${routed.status}` +
        (routed.status === 'started' ? `, target from the ${routed.targetSource}` : ''),
    );
    say(`  Temporal UI: ${uiLink(settings, workflowId)}`);
    const seen = new Map<Phase, number>();
    const waiting = await follow(stack, seen, (s) => s.phase === 'awaiting-approval' || s.phase === 'done');
    say();
    say(`$ runbook status ${INCIDENT}`);
    for (const line of await runbook('status', INCIDENT)) say(line);
    say();

    if (waiting.phase === 'awaiting-approval') {
      if (opts.autoApprove) {
        say(`--auto-approve: approving plan ${waiting.plan?.id} as ${APPROVER}`);
        const args = ['approve', INCIDENT, '--by', APPROVER, '--plan', waiting.plan?.id ?? '', '--reason', 'demo'];
        say(`$ runbook ${args.join(' ')}`);
        for (const line of await runbook(...args)) say(line);
      } else {
        say('Waiting for approval. From another terminal in this directory:');
        say(
          `  TEMPORAL_ADDRESS=${stack.temporal.address} npx runbook approve ${INCIDENT} --by ${APPROVER} --plan ${waiting.plan?.id}`,
        );
        say(
          `  (or reject: npx runbook reject ${INCIDENT} --by ${APPROVER} --reason "…"; approvers: oncall@, sre-lead@example.com)`,
        );
      }
    }
    await follow(stack, seen, (s) => s.phase === 'done');
    const report = (await stack.temporal.client.workflow.getHandle(toWorkflowId(INCIDENT)).result()) as RunbookReport;
    const total = performance.now() - t0;

    say();
    say(`Outcome: ${report.outcome}: ${report.summary}`);
    for (const r of report.results) say(`  ${r.ok ? 'ok  ' : 'FAIL'} ${r.id}: ${r.detail}`);
    if (report.before && report.after) {
      say('  before → after:');
      for (const key of Object.keys(report.before)) say(`    ${key}: ${report.before[key]} → ${report.after[key]}`);
    }
    if (report.plan?.persistAdvice.length)
      say(`  persist in redis.conf / Helm values: ${report.plan.persistAdvice.join(', ')}`);
    for (const advice of report.plan?.appAdvice ?? []) say(`  application: ${advice}`);

    const incident = pd.standIn.incident(INCIDENT);
    if (incident) {
      say();
      say(`PagerDuty incident ${INCIDENT}: ${incident.status}; the runbook's notes:`);
      for (const n of incident.notes) say(`  - ${n.content.split('\n')[0]}`);
    }

    const phases = [...seen.entries()].sort((a, b) => a[1] - b[1]);
    say();
    say('Timings:');
    for (const [step, ms] of timings) say(`  ${step.padEnd(28)} ${ms} ms`);
    for (let i = 0; i < phases.length - 1; i++) {
      const [phase, at] = phases[i]!;
      say(`  phase ${phase.padEnd(22)} ${Math.round(phases[i + 1]![1] - at)} ms`);
    }
    say(`  run, start to result         ${Math.round(total)} ms`);
    say();
    say(`Audit trail: ${report.uiUrl}`);
    const code = report.outcome === 'resolved' ? 0 : 1;
    if (opts.autoApprove) return code;
    say(`The stack stays up so the audit trail can be read; history is kept in ${dbFilename}. Ctrl-C stops it.`);
    process.off('SIGINT', stop);
    await untilInterrupted();
    say('Stopping the local stack…');
    return code;
  } finally {
    process.off('SIGINT', stop);
    await stack.stop();
    await pd.stop();
  }
}

const program = new Command('demo')
  .description('Walk the seeded Redis crash through the runbook on a local stack')
  .option('--auto-approve', 'approve the plan without waiting for a person', false)
  .addOption(new Option('--port <n>', 'Temporal frontend port').default(7233).argParser(Number))
  .addOption(new Option('--ui-port <n>', 'Temporal Web UI port').default(8233).argParser(Number))
  .addOption(new Option('--scale <n>', 'multiply the seeded key counts').default(1).argParser(Number));

program.parse();
demo(program.opts<DemoOptions>()).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
