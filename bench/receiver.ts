/**
 * `npm run bench:receiver [-- --full]`: signed `incident.triggered` deliveries, one incident each, at increasing rates
 * to the real receiver process (`runbook webhook`) on a real dev server, side by side with the floor: the same intake
 * starts sent straight to Temporal with the SDK client (`startIntake`, what the receiver calls), no HTTP, no checks.
 *
 * Open loop: each delivery leaves on schedule whether or not the earlier ones were answered, as PagerDuty's would.
 * Every tenth is delivered again 50 ms later with the same `X-Webhook-Id`. Deliveries answered 503 are redelivered
 * after the rate, as PagerDuty would, until taken. Per rate: p50/p99 from request to answer and from request to the
 * intake's start time in Temporal, the receiver's peak RSS, the answers by status, and the count of incidents without
 * exactly one intake (lost or doubled). ROUNDS (default 3) rounds, receiver and floor interleaved; each figure is the
 * median over rounds with its min–max.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { stringify } from 'yaml';
import { startIntake } from '../client/index.js';
import { freePort } from '../local-servers/free-port.js';
import { repoFile } from '../local-servers/repo-path.js';
import { startDevServer } from '../local-servers/temporal.js';
import { signatureHeader } from '../webhook/signature.js';
import { intakeWorkflowIdFor } from '../workflows/definitions.js';
import { loadNow, quantile, spread } from './stats.js';

const opts = new Command()
  .option('--full', 'rates up to 800/s for 10 s each (default up to 400/s for 4 s)')
  .parse()
  .opts<{ full?: boolean }>();
const RATES = process.env.RATES
  ? process.env.RATES.split(',').map(Number)
  : opts.full
    ? [50, 100, 200, 400, 800]
    : [50, 100, 200, 400];
const SECONDS = opts.full ? 10 : 4;
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SECRET = 'bench-webhook-secret';
const SERVICE = 'PBENCH1';
const QUEUE = 'bench-receiver-no-worker';

interface Delivery {
  incident: string;
  sentAt: number;
  answeredMs: number;
  status: number;
  answer: string;
}

interface RateRun {
  answerMs: number[];
  visibleMs: number[];
  byStatus: Map<string, number>;
  wrong: number;
  peakRssMiB: number;
  /** The receiver's CPU time per delivery it answered, ms. */
  cpuPerDeliveryMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

function body(incident: string): string {
  return JSON.stringify({
    event: {
      id: `01BENCH${incident}`,
      event_type: 'incident.triggered',
      resource_type: 'incident',
      occurred_at: new Date().toISOString(),
      agent: null,
      data: {
        id: incident,
        type: 'incident',
        title: `[FIRING] Redis cache/redis-0 OOMKilled (${incident})`,
        service: { id: SERVICE, type: 'service_reference' },
      },
    },
  });
}

/** Sends `send(i)` for i < rate × SECONDS on schedule, not waiting for answers; resolves when all are answered. */
async function openLoop<T>(rate: number, send: (i: number) => Promise<T>): Promise<T[]> {
  const n = rate * SECONDS;
  const pending: Promise<T>[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    await sleep(t0 + (i * 1000) / rate - performance.now());
    pending.push(send(i));
  }
  return Promise.all(pending);
}

async function deliver(url: string, incident: string, deliveryId: string): Promise<Delivery> {
  const text = body(incident);
  const sentAt = Date.now();
  const t = performance.now();
  try {
    const res = await fetch(`${url}/pagerduty/webhook`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-pagerduty-signature': signatureHeader(text, SECRET),
        'x-webhook-id': deliveryId,
      },
      body: text,
      signal: AbortSignal.timeout(10_000),
    });
    const json = (await res.json()) as { status?: string; error?: string };
    const answer = json.status ?? json.error ?? 'no answer';
    return { incident, sentAt, answeredMs: performance.now() - t, status: res.status, answer };
  } catch (err) {
    // fetch's TypeError says little: its cause names the socket's error (ECONNRESET, UND_ERR_SOCKET…).
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    return { incident, sentAt, answeredMs: performance.now() - t, status: 0, answer: cause ?? (err as Error).name };
  }
}

/** Milliseconds from `sentAt` to the intake's start time in Temporal; undefined when there is no intake. */
async function visibleAfter(client: Client, incident: string, sentAt: number): Promise<number | undefined> {
  try {
    const d = await client.workflow.getHandle(intakeWorkflowIdFor(incident)).describe();
    return d.startTime.getTime() - sentAt;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/** CPU time the process has used, in ms (user + system, from /proc: clock ticks of 10 ms). */
async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) * 10;
}

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** Checks afterwards: each incident has exactly one intake (counted through visibility, which lags a little). */
async function countIntakes(client: Client, prefix: string, expected: number): Promise<number> {
  let seen = 0;
  for (let attempt = 0; attempt < 50; attempt++) {
    seen = await client.workflow.count(`WorkflowId STARTS_WITH '${intakeWorkflowIdFor(prefix)}'`).then((c) => c.count);
    if (seen >= expected) break;
    await sleep(200);
  }
  return seen;
}

async function throughReceiver(client: Client, url: string, pid: number, rate: number, tag: string): Promise<RateRun> {
  let peak = await rssMiB(pid);
  const cpu0 = await cpuMs(pid);
  const sampler = setInterval(() => void rssMiB(pid).then((r) => (peak = Math.max(peak, r))), 100);
  const id = (i: number) => `${tag}N${i}`;
  const deliveries = await openLoop(rate, async (i) => {
    const first = deliver(url, id(i), `delivery-${id(i)}`);
    if (i % 10 !== 0) return [await first];
    await sleep(50);
    return [await first, await deliver(url, id(i), `delivery-${id(i)}`)];
  });
  clearInterval(sampler);
  const all = deliveries.flat();
  const cpuPerDeliveryMs = ((await cpuMs(pid)) - cpu0) / all.length;
  const byStatus = new Map<string, number>();
  for (const d of all) byStatus.set(`${d.status} ${d.answer}`, (byStatus.get(`${d.status} ${d.answer}`) ?? 0) + 1);
  // What PagerDuty does with a 503 or a timeout: it delivers again, until taken.
  const refused = [...new Set(all.filter((d) => d.status !== 202).map((d) => d.incident))];
  for (const incident of refused) {
    for (let i = 0; i < 20 && (await deliver(url, incident, `redelivery-${incident}`)).status !== 202; i++)
      await sleep(200);
  }
  const firsts = deliveries.map((d) => d[0]!);
  const visibleMs: number[] = [];
  for (const d of firsts.filter((x) => x.status === 202)) {
    const ms = await visibleAfter(client, d.incident, d.sentAt);
    if (ms !== undefined) visibleMs.push(ms);
  }
  const intakes = await countIntakes(client, `${tag}N`, firsts.length);
  return {
    answerMs: all.filter((d) => d.status === 202).map((d) => d.answeredMs),
    visibleMs,
    byStatus,
    wrong: Math.abs(intakes - firsts.length),
    peakRssMiB: peak,
    cpuPerDeliveryMs,
  };
}

async function straightToTemporal(client: Client, rate: number, tag: string): Promise<RateRun> {
  const id = (i: number) => `${tag}N${i}`;
  const starts = await openLoop(rate, async (i) => {
    const sentAt = Date.now();
    const t = performance.now();
    const out = await startIntake(client, { incident: { id: id(i), serviceId: SERVICE } }, { taskQueue: QUEUE });
    return { incident: id(i), sentAt, ms: performance.now() - t, kind: out.kind };
  });
  const visibleMs: number[] = [];
  for (const s of starts) {
    const ms = await visibleAfter(client, s.incident, s.sentAt);
    if (ms !== undefined) visibleMs.push(ms);
  }
  const intakes = await countIntakes(client, `${tag}N`, starts.length);
  return {
    answerMs: starts.map((s) => s.ms),
    visibleMs,
    byStatus: new Map([['started', starts.filter((s) => s.kind === 'accepted').length]]),
    wrong: Math.abs(intakes - starts.length),
    peakRssMiB: 0,
    cpuPerDeliveryMs: 0,
  };
}

/** `median (min–max)` of one figure over the rounds. */
async function startReceiver(address: string, dir: string): Promise<{ url: string; child: ChildProcess }> {
  const config = join(dir, 'runbook.yaml');
  await writeFile(
    config,
    stringify({
      approval: { approvers: ['oncall@example.com'] },
      pagerduty: { services: [{ id: SERVICE, namespace: 'cache', redis: { host: '127.0.0.1', port: 6379 } }] },
    }),
  );
  const port = await freePort();
  // RECEIVER_PROFILE=dir: a CPU profile of the receiver (`node --cpu-prof`), written when it stops.
  const profile = process.env.RECEIVER_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.RECEIVER_PROFILE}`] : [];
  const child = spawn(process.execPath, [...profile, repoFile('dist/cli/main.js'), 'webhook', '--port', String(port)], {
    env: {
      PATH: process.env.PATH,
      TEMPORAL_ADDRESS: address,
      RUNBOOK_TASK_QUEUE: QUEUE,
      RUNBOOK_CONFIG: config,
      PAGERDUTY_WEBHOOK_SECRET: SECRET,
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (
      await fetch(`${url}/healthz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return { url, child };
    await sleep(100);
  }
  child.kill();
  throw new Error('the receiver did not start');
}

const temporal = await startDevServer();
const dir = await mkdtemp(join(tmpdir(), 'bench-receiver-'));
const { url, child } = await startReceiver(temporal.address, dir);
const load: number[] = [];
try {
  const results = new Map<number, { receiver: RateRun[]; floor: RateRun[] }>(
    RATES.map((r) => [r, { receiver: [], floor: [] }]),
  );
  for (let round = 0; round < ROUNDS; round++) {
    for (const rate of RATES) {
      const runs = results.get(rate)!;
      // Interleaved, and the order alternates by round, so neither side always runs on a warmer server.
      const order = round % 2 === 0 ? (['receiver', 'floor'] as const) : (['floor', 'receiver'] as const);
      for (const side of order) {
        const tag = `B${round}R${rate}${side[0]}`;
        runs[side].push(
          side === 'receiver'
            ? await throughReceiver(temporal.client, url, child.pid!, rate, tag)
            : await straightToTemporal(temporal.client, rate, tag),
        );
        load.push(loadNow());
      }
    }
  }
  console.log(`receiver load, ${ROUNDS} rounds × ${RATES.length} rates × ${SECONDS} s; median (min–max) over rounds`);
  const columns = [
    'rate /s',
    'receiver p50 → 202 ms',
    'p99 → 202',
    'p50 → in Temporal',
    'p99 → in Temporal',
    'receiver CPU ms/delivery',
    'RSS MiB',
    'answers (last round)',
    'lost or doubled',
    'floor p50 (SDK start)',
    'floor p99',
  ];
  console.log(`| ${columns.join(' | ')} |`);
  console.log(`|${columns.map((_, i) => (i === 7 ? '---' : '---:')).join('|')}|`);
  for (const rate of RATES) {
    const { receiver, floor } = results.get(rate)!;
    const q = (runs: RateRun[], key: 'answerMs' | 'visibleMs', p: number) =>
      spread(runs.map((r) => quantile(r[key], p)));
    const answers = [...receiver[receiver.length - 1]!.byStatus.entries()].map(([k, n]) => `${k}: ${n}`).join(', ');
    const row = [
      String(rate),
      q(receiver, 'answerMs', 0.5),
      q(receiver, 'answerMs', 0.99),
      q(receiver, 'visibleMs', 0.5),
      q(receiver, 'visibleMs', 0.99),
      spread(
        receiver.map((r) => r.cpuPerDeliveryMs),
        2,
      ),
      spread(
        receiver.map((r) => r.peakRssMiB),
        0,
      ),
      answers,
      String(receiver.reduce((n, r) => n + r.wrong, 0)),
      q(floor, 'answerMs', 0.5),
      q(floor, 'answerMs', 0.99),
    ];
    console.log(`| ${row.join(' | ')} |`);
  }
  console.log(`load average (1 min) over the runs: ${spread(load, 2)}`);
} finally {
  child.kill('SIGTERM');
  await temporal.teardown();
  await rm(dir, { recursive: true, force: true });
}
