/**
 * The time-skipping server, the bundled workflows and a worker per test with activity doubles (`fixtures.ts`): what
 * the workflow-logic suites share.
 */
import { fileURLToPath } from 'node:url';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { installQuietRuntime, startTimeSkippingServer } from '../../local-servers/temporal.js';
import { lockWorkflowIdFor, statusQuery, workflowIdFor } from '../../workflows/definitions.js';
import type { RunbookInput, RunbookReport, RunbookStatus } from '../../workflows/definitions.js';
import type { redisIncidentRunbook } from '../../workflows/runbook.js';
import { fakeActivities, type FakeOptions, type Recorder } from './fixtures.js';

installQuietRuntime();

const workflowsPath = fileURLToPath(new URL('../../workflows/index.js', import.meta.url));

export type RunbookHandle = WorkflowHandle<typeof redisIncidentRunbook>;

export class Harness {
  env!: TestWorkflowEnvironment;
  private bundle!: WorkflowBundleWithSourceMap;
  private counter = 0;

  async start(): Promise<void> {
    this.env = await startTimeSkippingServer();
    this.bundle = await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
  }

  async stop(): Promise<void> {
    await this.env?.teardown();
  }

  /** A target per run unless asked: each test's worker polls a queue of its own, and a target's lock runs on the first asker's. */
  input(overrides: Partial<RunbookInput> = {}): RunbookInput {
    this.counter++;
    return {
      incidentId: `TS${this.counter}`,
      startedBy: 'carol@example.com',
      target: {
        namespace: 'cache',
        pod: 'redis-0',
        container: 'redis',
        redis: { host: '127.0.0.1', port: 20000 + this.counter },
      },
      ...overrides,
    };
  }

  /** A worker on a queue of its own, with doubles, for `body`; `start` starts a run on it. */
  async withWorker<T>(
    fakes: FakeOptions,
    body: (ctx: { start: (input: RunbookInput) => Promise<RunbookHandle>; recorder: Recorder }) => Promise<T>,
  ): Promise<T> {
    const { activities, recorder } = fakeActivities(fakes, this.env.client);
    const taskQueue = `tq-${++this.counter}`;
    const worker = await Worker.create({
      connection: this.env.nativeConnection,
      taskQueue,
      workflowBundle: this.bundle,
      activities,
    });
    const locks = new Set<string>();
    const start = (args: RunbookInput) => {
      locks.add(lockWorkflowIdFor(args.target));
      return this.env.client.workflow.start<typeof redisIncidentRunbook>('redisIncidentRunbook', {
        taskQueue,
        workflowId: workflowIdFor(args.incidentId),
        args: [args],
      });
    };
    try {
      return await worker.runUntil(body({ start, recorder }));
    } finally {
      // A target's lock outlives its runs for the cooldown window, on this queue that nobody polls from now on: an
      // orphan whose pending tasks would stop the server from skipping time for the next tests.
      for (const id of locks)
        await this.env.client.workflow
          .getHandle(id)
          .terminate('test over')
          .catch(() => undefined);
    }
  }

  /** Runs one workflow with activity doubles; `drive` acts on the handle while the worker runs. */
  run(
    fakes: FakeOptions,
    drive: (h: RunbookHandle) => Promise<void>,
    overrides: Partial<RunbookInput> = {},
  ): Promise<{ report: RunbookReport; recorder: Recorder; status: RunbookStatus }> {
    const args = this.input(overrides);
    return this.withWorker(fakes, async ({ start, recorder }) => {
      const handle = await start(args);
      await drive(handle);
      const report = await resultWithin<RunbookReport>(handle);
      const status = await handle.query(statusQuery);
      return { report, recorder, status };
    });
  }
}

/**
 * The run's result, or after `ms` of wall time an error that says where the run stands: a run stuck on a failing
 * workflow task, or waiting on something that never comes, would otherwise hold the suite until CI's own limit.
 */
export async function resultWithin<T>(h: WorkflowHandle, ms = 120_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let over = false;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => void stuck(h, ms).then(reject, reject), ms);
  });
  // A second way to the result: once the run is closed, a fresh call. The first long poll has hung on a closed run
  // after the time-skipping server sent the client a GOAWAY for "excess pings" (seen once in CI).
  const closed = (async () => {
    while (!over) {
      await new Promise((r) => setTimeout(r, 2000));
      const d = await h.describe().catch(() => undefined);
      if (!over && d && d.status.name !== 'RUNNING') return (await h.result()) as T;
    }
    return new Promise<never>(() => undefined);
  })();
  try {
    return (await Promise.race([h.result(), closed, late])) as T;
  } finally {
    over = true;
    clearTimeout(timer);
  }
}

async function stuck(h: WorkflowHandle, ms: number): Promise<Error> {
  const d = await h.describe();
  const events = (await h.fetchHistory()).events ?? [];
  const failures = events
    .map(
      (e) =>
        e.workflowTaskFailedEventAttributes?.failure?.message ??
        (e.workflowTaskTimedOutEventAttributes && 'workflow task timed out'),
    )
    .filter(Boolean);
  const status = await h.query(statusQuery).catch((err: Error) => ({ phase: `(query failed: ${err.message})` }));
  return new Error(
    `${h.workflowId} had no result after ${ms} ms: ${d.status.name}, ${d.historyLength} events, phase ${status.phase}, ` +
      `${d.raw.pendingActivities?.length ?? 0} pending activities, workflow task failures: ${JSON.stringify(failures.slice(-3))}`,
  );
}

/** The status once `ok` holds for it. */
export async function until(
  h: WorkflowHandle,
  ok: (s: RunbookStatus) => boolean,
  why = 'the status never got there',
): Promise<RunbookStatus> {
  let s: RunbookStatus | undefined;
  for (let i = 0; i < 400; i++) {
    s = await h.query(statusQuery);
    if (ok(s)) return s;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${why} (${h.workflowId} is ${s?.phase}, lock ${JSON.stringify(s?.lock)})`);
}

export function waitForPhase(h: WorkflowHandle, phase: RunbookStatus['phase']): Promise<RunbookStatus> {
  return until(h, (s) => s.phase === phase, `workflow never reached ${phase}`);
}
