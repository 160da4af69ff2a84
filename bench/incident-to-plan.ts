/**
 * `npm run bench:incident [-- --keys 1000000] [-- --rounds 3] [-- --markdown FILE]`: from PagerDuty's signed
 * `incident.triggered` to the plan-ready note on the incident, end to end on the demo's stack (dev server, simulated
 * cluster, worker, the real receiver, the PagerDuty stand-in) with the demo's crash seeded into a Redis of `--keys`
 * more keys. Per round, a fresh stack: the receiver's answer, the diagnosis (`diagnoseRedis`, from the history) and
 * the note's arrival, each from the delivery. Medians over rounds with min–max.
 */
import { Command } from 'commander';
import type { WorkflowHandle } from '@temporalio/client';
import { startDemoPagerDuty } from '../demo/pagerduty.js';
import { startLocalStack } from '../demo/stack.js';
import { installQuietRuntime } from '../local-servers/temporal.js';
import { toWorkflowId } from '../workflows/definitions.js';
import { eventMs, loadNow, spread, writeMarkdown } from './stats.js';

const opts = new Command()
  .option('--keys <n>', 'keys besides the crash', Number, 1_000_000)
  .option('--rounds <n>', 'rounds, each on a fresh stack', (v) => Math.max(1, Number(v)), 3)
  .option('--markdown <file>', 'write the table between the bench:incident markers of this file')
  .parse()
  .opts<{ keys: number; rounds: number; markdown?: string }>();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How long `diagnoseRedis` took (scheduled to completed), from the run's history. */
async function diagnosisMs(handle: WorkflowHandle): Promise<number> {
  const events = (await handle.fetchHistory()).events ?? [];
  const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'diagnoseRedis');
  const completed = events.find(
    (e) => Number(e.activityTaskCompletedEventAttributes?.scheduledEventId ?? -1) === Number(scheduled?.eventId),
  );
  return eventMs(completed?.eventTime) - eventMs(scheduled?.eventTime);
}

interface Round {
  answerMs: number;
  planNoteMs: number;
  diagnosisMs: number;
  keys: number;
}

async function round(i: number): Promise<Round> {
  const pd = await startDemoPagerDuty();
  const stack = await startLocalStack({ keepRuntime: true, bulkKeys: opts.keys, workerEnv: pd.workerEnv });
  try {
    await pd.startReceiver(stack);
    const incident = `PBENCH${i}${Date.now().toString(36).toUpperCase()}`;
    const t0 = Date.now();
    await pd.trigger(incident, '[FIRING] Redis cache/redis-0 OOMKilled, CrashLoopBackOff');
    const answerMs = Date.now() - t0;
    const deadline = t0 + 10 * 60_000;
    while (!pd.standIn.incident(incident)?.notes.some((n) => n.content.startsWith('Findings ('))) {
      if (Date.now() > deadline) throw new Error('no plan note within 10 min');
      await sleep(20);
    }
    const planNoteMs = Date.now() - t0;
    const handle = stack.temporal.client.workflow.getHandle(toWorkflowId(incident));
    return { answerMs, planNoteMs, diagnosisMs: await diagnosisMs(handle), keys: stack.seed.keys };
  } finally {
    await stack.stop();
    await pd.stop();
  }
}

async function main(): Promise<void> {
  installQuietRuntime();
  const rounds: Round[] = [];
  const load: number[] = [];
  for (let i = 0; i < opts.rounds; i++) {
    load.push(loadNow());
    rounds.push(await round(i));
    const r = rounds[rounds.length - 1]!;
    console.log(
      `round ${i + 1}: ${r.keys} keys; 202 after ${r.answerMs} ms, diagnosis ${r.diagnosisMs} ms, plan note after ${r.planNoteMs} ms`,
    );
  }
  const keys = rounds[0]!.keys.toLocaleString('en-US');
  const md = [
    `From the signed \`incident.triggered\` delivery, on a Redis of ${keys} keys (the demo's crash and ${opts.keys.toLocaleString('en-US')} more):`,
    '',
    '| step | ms, median (min–max) |',
    '| --- | --- |',
    `| receiver's 202 | ${spread(
      rounds.map((r) => r.answerMs),
      0,
    )} |`,
    `| diagnosis (\`diagnoseRedis\`, scheduled to completed) | ${spread(
      rounds.map((r) => r.diagnosisMs),
      0,
    )} |`,
    `| plan-ready note on the incident | ${spread(
      rounds.map((r) => r.planNoteMs),
      0,
    )} |`,
    '',
    `Load average (1 min) at each round: ${spread(load, 2)}.`,
  ];
  console.log(`\n${md.join('\n')}`);
  if (opts.markdown)
    await writeMarkdown(
      opts.markdown,
      'incident',
      `npm run bench:incident -- --keys ${opts.keys} --rounds ${opts.rounds}`,
      md.join('\n'),
    );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
