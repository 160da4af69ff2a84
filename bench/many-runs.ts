/**
 * `npm run bench:runs [-- --runs 50] [-- --waiting 500] [-- --rounds 3] [-- --markdown FILE]`: many runs on one worker
 * process (`node dist/worker/main.js`, as deployed) against a real dev server, the simulated cluster of the demo's
 * scenario and the PagerDuty stand-in, all real processes on loopback.
 *
 * (a) `--runs` runs started at once against as many `redis-server`s, each seeded with the demo's crash, each approved
 *     as soon as it waits: all must complete. Worker peak RSS (VmHWM), p50/p99 from the start to the plan note on
 *     the incident, and from the approval to the first remediation activity (its scheduled time in the history).
 * (b) `--waiting` runs started at once and left waiting for approval: worker RSS once all wait and its peak, and the
 *     round trip of a `status` query to a sample of them. Targets are distinct addresses (what the runbook keys a
 *     target by), 16 per `redis-server` (each server binds 16 loopback addresses): the runs only diagnose and back up.
 *
 * Each round starts a fresh worker and fresh servers, (a) then (b); each figure is the median over rounds with its
 * min–max. `--worker-env` sets the worker's environment (RUNBOOK_MAX_CACHED_WORKFLOWS, NODE_OPTIONS), as deployed.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { readStatus, sendDecision, startRunbook } from '../client/index.js';
import { seedCrashScenario } from '../demo/seed-redis.js';
import { DEMO_TARGET } from '../demo/stack.js';
import { startPagerDutyStandIn, type PagerDutyStandIn } from '../local-servers/pagerduty/standin.js';
import { startRedisServer, type RedisServer } from '../local-servers/redis-server.js';
import { demoScenarioPath, loadScenario, startSimulatedCluster } from '../local-servers/simulated-cluster/index.js';
import { installQuietRuntime, startDevServer } from '../local-servers/temporal.js';
import { startWorkerProcess } from '../local-servers/worker-process.js';
import { LOCK_WORKFLOW_TYPE, WORKFLOW_TYPE, type RunbookReport } from '../workflows/definitions.js';
import { eventMs, loadNow, quantile, spread, writeMarkdown } from './stats.js';

const opts = new Command()
  .option('--runs <n>', 'runs approved at once, one redis-server each', Number, 50)
  .option('--waiting <n>', 'runs left waiting for approval at once', Number, 500)
  .option('--rounds <n>', 'rounds, each with a fresh worker', (v) => Math.max(1, Number(v)), 3)
  .option('--worker-env <k=v...>', 'extra environment of the worker (RUNBOOK_MAX_CACHED_WORKFLOWS=…, NODE_OPTIONS=…)')
  .option('--markdown <file>', 'write the tables between the bench:<block> markers of this file')
  .option('--block <name>', 'which bench:<name> block --markdown writes', 'runs')
  .parse()
  .opts<{ runs: number; waiting: number; rounds: number; workerEnv?: string[]; markdown?: string; block: string }>();
const WORKER_ENV = Object.fromEntries(
  (opts.workerEnv ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);

const APPROVER = 'oncall@example.com';
const PER_SERVER = 16;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `fn` over `items`, `limit` at a time. */
async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

/** `VmRSS` and `VmHWM` (peak) of a process, in MiB. */
async function memoryOf(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 };
}

interface Target {
  host: string;
  port: number;
}

/** `servers` redis-servers seeded with the demo's crash at `scale`, each reachable at `perServer` loopback hosts. */
async function seededTargets(
  count: number,
  perServer: number,
  scale: number,
): Promise<{ targets: Target[]; servers: RedisServer[] }> {
  const hosts = Array.from({ length: perServer }, (_, i) => `127.0.0.${i + 1}`);
  const servers = await pool(Array.from({ length: Math.ceil(count / perServer) }), 4, async () => {
    const server = await startRedisServer({ args: ['--bind', ...hosts] });
    const redis = new Redis({ host: server.host, port: server.port, maxRetriesPerRequest: 1 });
    await seedCrashScenario(redis, { scale });
    redis.disconnect();
    return server;
  });
  const targets = servers.flatMap((s) => hosts.map((host) => ({ host, port: s.port }))).slice(0, count);
  return { targets, servers };
}

interface Stack {
  client: Client;
  standIn: PagerDutyStandIn;
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

async function startStack(): Promise<Stack> {
  installQuietRuntime();
  const temporal = await startDevServer();
  const cluster = await startSimulatedCluster(loadScenario(demoScenarioPath('oomkilled-redis.yaml')));
  const standIn = await startPagerDutyStandIn();
  standIn.addUser({ id: 'PONCALL', email: APPROVER, name: 'On Call' });
  const dir = await mkdtemp(join(tmpdir(), 'bench-runs-'));
  const config = join(dir, 'runbook.yaml');
  await writeFile(
    config,
    stringify({
      approval: { approvers: [APPROVER], timeoutSeconds: 3600, reminderIntervalSeconds: 0, requireProof: false },
      verify: { windowSeconds: 1, intervalSeconds: 1 },
      backup: { directory: join(dir, 'backups'), keep: 1 },
      pagerduty: { acknowledgeOnStart: true, resolveOnSuccess: true },
    }),
  );
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    TEMPORAL_ADDRESS: temporal.address,
    RUNBOOK_CONFIG: config,
    KUBECONFIG: cluster.kubeconfigPath,
    LOG_LEVEL: 'info',
    PAGERDUTY_API_TOKEN: standIn.token,
    PAGERDUTY_FROM_EMAIL: 'runbook-bot@example.com',
    PAGERDUTY_API_URL: standIn.url,
    ...WORKER_ENV,
  };
  return {
    client: temporal.client,
    standIn,
    env,
    async stop() {
      await standIn.stop();
      await cluster.stop();
      await temporal.teardown();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Starts one run per target on `taskQueue` at once (incident `<prefix>-<i>`); the handles in target order. */
async function startRuns(stack: Stack, taskQueue: string, prefix: string, targets: Target[]) {
  const incidents = targets.map((_, i) => `${prefix}X${i}`);
  for (const id of incidents) stack.standIn.addIncident({ id, title: `[FIRING] Redis OOMKilled (${id})` });
  const startedAt = Date.now();
  const started = await Promise.all(
    targets.map((redis, i) =>
      startRunbook(
        stack.client,
        { incidentId: incidents[i]!, startedBy: 'pagerduty', target: { ...DEMO_TARGET, redis } },
        { taskQueue },
      ),
    ),
  );
  return { incidents, startedAt, handles: started.map((s) => stack.client.workflow.getHandle(s.workflowId)) };
}

/** Workflow ids of the runs on `taskQueue` waiting for approval (the visibility store: no worker involved). */
async function waitingRuns(client: Client, taskQueue: string): Promise<Set<string>> {
  const ids = new Set<string>();
  const query = `WorkflowType = '${WORKFLOW_TYPE}' AND TaskQueue = '${taskQueue}' AND RunbookPhase = 'awaiting-approval'`;
  for await (const info of client.workflow.list({ query, pageSize: 1000 })) ids.add(info.workflowId);
  return ids;
}

/** When the first `applyRedisAction` was scheduled, from the history (ms since the epoch). */
async function remediationStartedAt(handle: WorkflowHandle): Promise<number> {
  const history = await handle.fetchHistory();
  const e = history.events?.find(
    (x) => x.activityTaskScheduledEventAttributes?.activityType?.name === 'applyRedisAction',
  );
  return eventMs(e?.eventTime);
}

interface ApprovedRound {
  planNoteMs: number[];
  approvalToRemediationMs: number[];
  outcomes: Map<string, number>;
  peakMiB: number;
  wallMs: number;
}

/** (a): every run approved as soon as it waits; until all complete. */
async function approvedRound(stack: Stack, round: number): Promise<ApprovedRound> {
  const taskQueue = `bench-runs-a${round}`;
  const { targets, servers } = await seededTargets(opts.runs, 1, 1);
  const worker = await startWorkerProcess({ ...stack.env, RUNBOOK_TASK_QUEUE: taskQueue }, 60_000);
  try {
    const { incidents, startedAt, handles } = await startRuns(stack, taskQueue, `A${round}`, targets);
    const planNoteAt = new Map<string, number>();
    const approvedAt = new Map<string, number>();
    const decisions: Array<Promise<unknown>> = [];
    const deadline = Date.now() + 20 * 60_000;
    while (approvedAt.size < handles.length || planNoteAt.size < incidents.length) {
      if (Date.now() > deadline)
        throw new Error(
          `in 20 min ${approvedAt.size} of ${handles.length} runs waited, ${planNoteAt.size} noted a plan`,
        );
      for (const id of incidents)
        if (!planNoteAt.has(id) && stack.standIn.incident(id)?.notes.some((n) => n.content.startsWith('Findings (')))
          planNoteAt.set(id, Date.now());
      for (const workflowId of await waitingRuns(stack.client, taskQueue)) {
        if (approvedAt.has(workflowId)) continue;
        const handle = stack.client.workflow.getHandle(workflowId);
        approvedAt.set(workflowId, NaN);
        decisions.push(
          readStatus(stack.client, handle, 60_000).then((s) => {
            approvedAt.set(workflowId, Date.now());
            return sendDecision(
              stack.client,
              handle,
              { decision: 'approve', by: APPROVER, planId: s.plan!.id, via: 'bench' },
              60_000,
            );
          }),
        );
      }
      await sleep(100);
    }
    await Promise.all(decisions);
    const reports = (await Promise.all(handles.map((h) => h.result()))) as RunbookReport[];
    const wallMs = Date.now() - startedAt;
    const outcomes = new Map<string, number>();
    for (const r of reports) outcomes.set(r.outcome, (outcomes.get(r.outcome) ?? 0) + 1);
    const approvalToRemediationMs = await pool(handles, 8, async (h) => {
      return (await remediationStartedAt(h)) - approvedAt.get(h.workflowId)!;
    });
    const { peak } = await memoryOf(worker.child.pid!);
    return {
      planNoteMs: incidents.map((id) => planNoteAt.get(id)! - startedAt),
      approvalToRemediationMs,
      outcomes,
      peakMiB: peak,
      wallMs,
    };
  } finally {
    worker.child.kill('SIGKILL');
    // The targets' coordinators outlive the runs, on this round's queue: a later round's server may get the same port.
    await terminateOpen(stack.client, taskQueue);
    await Promise.all(servers.map((s) => s.stop()));
  }
}

interface WaitingRound {
  allWaitingMs: number;
  rssMiB: number;
  peakMiB: number;
  queryP50: number;
  queryP99: number;
}

/** (b): every run left waiting; RSS and `status` query times once all wait; then all terminated. */
async function waitingRound(stack: Stack, round: number): Promise<WaitingRound> {
  const taskQueue = `bench-runs-b${round}`;
  const { targets, servers } = await seededTargets(opts.waiting, PER_SERVER, 0.2);
  const worker = await startWorkerProcess({ ...stack.env, RUNBOOK_TASK_QUEUE: taskQueue }, 60_000);
  try {
    const { startedAt, handles } = await startRuns(stack, taskQueue, `B${round}`, targets);
    let waiting = 0;
    const deadline = Date.now() + 30 * 60_000;
    while ((waiting = (await waitingRuns(stack.client, taskQueue)).size) < handles.length) {
      if (Date.now() > deadline) throw new Error(`only ${waiting} of ${handles.length} runs wait after 30 min`);
      await sleep(500);
    }
    const allWaitingMs = Date.now() - startedAt;
    // Settle: the last runs' notes and heartbeats done, then the worker's memory with everything waiting.
    await sleep(5000);
    const { rss, peak } = await memoryOf(worker.child.pid!);
    const sample = handles.filter((_, i) => i % Math.max(1, Math.floor(handles.length / 50)) === 0);
    const queryMs: number[] = [];
    for (let pass = 0; pass < 3; pass++)
      for (const h of sample) {
        const t = performance.now();
        await readStatus(stack.client, h, 30_000);
        queryMs.push(performance.now() - t);
      }
    return {
      allWaitingMs,
      rssMiB: rss,
      peakMiB: peak,
      queryP50: quantile(queryMs, 0.5),
      queryP99: quantile(queryMs, 0.99),
    };
  } finally {
    worker.child.kill('SIGKILL');
    await terminateOpen(stack.client, taskQueue);
    await Promise.all(servers.map((s) => s.stop()));
  }
}

/** Ends what a round left open on `taskQueue` (runs still waiting and the targets' coordinators). */
async function terminateOpen(client: Client, taskQueue: string): Promise<void> {
  const query = `(WorkflowType = '${WORKFLOW_TYPE}' OR WorkflowType = '${LOCK_WORKFLOW_TYPE}') AND TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Running'`;
  const ids: string[] = [];
  for await (const info of client.workflow.list({ query, pageSize: 1000 })) ids.push(info.workflowId);
  await pool(ids, 16, (id) =>
    client.workflow
      .getHandle(id)
      .terminate('bench round over')
      .catch(() => undefined),
  );
}

const ms = (xs: number[]) => spread(xs, 0);

async function main(): Promise<void> {
  const stack = await startStack();
  const load: number[] = [];
  const a: ApprovedRound[] = [];
  const b: WaitingRound[] = [];
  try {
    for (let round = 0; round < opts.rounds; round++) {
      load.push(loadNow());
      if (opts.runs > 0) {
        a.push(await approvedRound(stack, round));
        const r = a[a.length - 1]!;
        console.log(
          `round ${round + 1} (a) ${opts.runs} runs: ${[...r.outcomes].map(([k, v]) => `${v} ${k}`).join(', ')} in ${r.wallMs} ms; peak RSS ${r.peakMiB.toFixed(0)} MiB`,
        );
      }
      if (opts.waiting > 0) {
        b.push(await waitingRound(stack, round));
        const r = b[b.length - 1]!;
        console.log(
          `round ${round + 1} (b) ${opts.waiting} waiting after ${r.allWaitingMs} ms; RSS ${r.rssMiB.toFixed(0)} MiB (peak ${r.peakMiB.toFixed(0)}); status query p50 ${r.queryP50.toFixed(1)} ms, p99 ${r.queryP99.toFixed(1)} ms`,
        );
      }
    }
  } finally {
    await stack.stop();
  }
  const settings =
    Object.entries(WORKER_ENV)
      .map(([k, v]) => `\`${k}=${v}\``)
      .join(', ') || 'the worker defaults';
  const md: string[] = [];
  if (a.length > 0) {
    const completed = a.map((r) => [...r.outcomes.values()].reduce((x, y) => x + y, 0));
    md.push(
      `(a) ${opts.runs} runs started at once against ${opts.runs} \`redis-server\`s seeded with the demo's crash, each approved as soon as it waits (${settings}):`,
      '',
      '| figure | median (min–max) |',
      '| --- | --- |',
      `| runs completed | ${spread(completed, 0)} of ${opts.runs} |`,
      `| outcomes | ${a.map((r) => [...r.outcomes].map(([k, v]) => `${v} ${k}`).join(', ')).join('; ')} |`,
      `| worker peak RSS, MiB | ${ms(a.map((r) => r.peakMiB))} |`,
      `| start to plan note on the incident, p50 ms | ${ms(a.map((r) => quantile(r.planNoteMs, 0.5)))} |`,
      `| start to plan note on the incident, p99 ms | ${ms(a.map((r) => quantile(r.planNoteMs, 0.99)))} |`,
      `| approval to remediation start, p50 ms | ${ms(a.map((r) => quantile(r.approvalToRemediationMs, 0.5)))} |`,
      `| approval to remediation start, p99 ms | ${ms(a.map((r) => quantile(r.approvalToRemediationMs, 0.99)))} |`,
      `| start to all complete, ms | ${ms(a.map((r) => r.wallMs))} |`,
      '',
    );
  }
  if (b.length > 0) {
    md.push(
      `(b) ${opts.waiting} runs started at once and left waiting for approval (${PER_SERVER} target addresses per \`redis-server\`; ${settings}):`,
      '',
      '| figure | median (min–max) |',
      '| --- | --- |',
      `| start to all waiting, ms | ${ms(b.map((r) => r.allWaitingMs))} |`,
      `| worker RSS with all waiting, MiB | ${ms(b.map((r) => r.rssMiB))} |`,
      `| worker peak RSS, MiB | ${ms(b.map((r) => r.peakMiB))} |`,
      `| \`status\` query, p50 ms | ${spread(
        b.map((r) => r.queryP50),
        1,
      )} |`,
      `| \`status\` query, p99 ms | ${spread(
        b.map((r) => r.queryP99),
        1,
      )} |`,
      '',
    );
  }
  md.push(`Load average (1 min) at each round: ${spread(load, 2)}.`);
  console.log(`\n${md.join('\n')}`);
  if (opts.markdown)
    await writeMarkdown(
      opts.markdown,
      opts.block,
      `npm run bench:runs -- --runs ${opts.runs} --waiting ${opts.waiting} --rounds ${opts.rounds}` +
        (Object.keys(WORKER_ENV).length
          ? ` --worker-env ${Object.entries(WORKER_ENV)
              .map(([k, v]) => `${k}=${v}`)
              .join(' ')}`
          : '') +
        (opts.block === 'runs' ? '' : ` --markdown ${opts.markdown} --block ${opts.block}`),
      md.join('\n'),
    );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
