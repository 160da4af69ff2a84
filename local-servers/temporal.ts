import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, makeTelemetryFilterString, Runtime } from '@temporalio/worker';
import { ensureSearchAttributes } from '../worker/create-worker.js';
import { allSearchAttributeKeys } from '../workflows/definitions.js';
import { temporalCliPath, temporalTestServerPath } from './temporal-binaries.js';

/**
 * A Temporal dev server (`temporal server start-dev`, SQLite in memory) on free loopback ports with the runbook's
 * search attributes registered. Never downloads: the binary must exist (see temporal-binaries.ts).
 */
export function startDevServer(
  opts: { port?: number; ui?: boolean; uiPort?: number; dbFilename?: string } = {},
): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: temporalCliPath() },
      ip: '127.0.0.1',
      ...(opts.port ? { port: opts.port } : {}),
      searchAttributes: allSearchAttributeKeys,
      ui: opts.ui ?? false,
      ...(opts.uiPort ? { uiPort: opts.uiPort } : {}),
      ...(opts.dbFilename ? { dbFilename: opts.dbFilename } : {}),
      log: { format: 'pretty', level: 'error' },
    },
  });
}

/** The time-skipping test server, for timers (approval deadlines, reminders, verify windows). */
export async function startTimeSkippingServer(): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: temporalTestServerPath() } },
  });
  await ensureSearchAttributes(env.connection, env.namespace ?? 'default');
  return env;
}

/** Installs an SDK runtime that logs errors only, so test output stays readable. Call once per test process. */
export function installQuietRuntime(): void {
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }) } },
  });
}
