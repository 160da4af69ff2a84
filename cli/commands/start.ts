import { userInfo } from 'node:os';
import type { Client } from '@temporalio/client';
import { startRunbook, uiLink, type RunbookWorkflow } from '../../client/index.js';
import { workflowIdFor } from '../../workflows/definitions.js';
import { patternRefusal } from '../../workflows/logic/patterns.js';
import type { RedisAddress, RunbookInput, RunbookReport, RunbookTarget } from '../../workflows/definitions.js';
import { CliError, ExitCode, type CommandContext } from '../client.js';

/** Options of `runbook start`. */
export interface StartOptions {
  incident: string;
  namespace: string;
  pod: string;
  container?: string;
  /** `host:port`, `redis://host:port[/db]` or `rediss://…`, never with credentials. */
  redis: string;
  title?: string;
  incidentUrl?: string;
  /** Who starts the run; the local user name when absent. */
  by?: string;
  dryRun?: boolean;
  /** Key patterns to clean up (`--cleanup`, repeatable). */
  cleanup?: string[];
  /** Wait for the run to finish and print its outcome. */
  wait?: boolean;
  /** Start a new run even though this incident already had one that finished. */
  rerun?: boolean;
}

/** What `runbook start` did. */
export interface StartResult {
  workflowId: string;
  runId: string;
  /** The incident already had a running run: it was not started again. */
  alreadyRunning: boolean;
  uiUrl: string;
  report?: RunbookReport;
}

const INCIDENT_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/**
 * Parses `host:port`, `redis://host:port[/db]` or `rediss://…` (port 6379 when absent).
 * @throws {CliError} exit code 2 for anything else, and for a URL with a user or password: secrets must not reach
 * workflow history; the worker reads the password from `REDIS_PASSWORD` (or the variable its config names).
 */
export function parseRedisAddress(text: string): RedisAddress {
  const invalid = (why: string) => new CliError(`--redis ${JSON.stringify(redactUrl(text))}: ${why}`, ExitCode.refused);
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `redis://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw invalid('expected host:port or redis://host:port[/db]');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw invalid('expected a redis:// or rediss:// URL');
  if (url.password || url.username) {
    throw invalid(
      'contains credentials; they would be stored in the workflow history. ' +
        'Set REDIS_PASSWORD (or the target’s passwordEnv) on the worker instead',
    );
  }
  if (!url.hostname) throw invalid('expected a host');
  if ((url.search && url.search !== '?') || url.hash) throw invalid('query strings and fragments are not supported');
  const port = url.port ? Number(url.port) : 6379;
  const path = url.pathname.replace(/^\//, '');
  const addr: RedisAddress = { host: url.hostname.replace(/^\[|\]$/g, ''), port };
  if (path) {
    if (!/^\d+$/.test(path)) throw invalid('the path must be a database number, e.g. redis://host:6379/0');
    addr.db = Number(path);
  }
  return addr;
}

function redactUrl(text: string): string {
  return text.replace(/\/\/[^@/]*@/, '//***@');
}

function defaultUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

/**
 * Checks the options of `runbook start` without contacting anything, and returns the parsed Redis address.
 * @throws {CliError} exit code 2 naming the flag.
 */
export function validateStartOptions(opts: StartOptions): RedisAddress {
  if (!INCIDENT_ID.test(opts.incident)) {
    throw new CliError(
      `--incident ${JSON.stringify(opts.incident)}: expected letters, digits, '.', '_', ':' or '-' (at most 128)`,
      ExitCode.refused,
    );
  }
  for (const [flag, value] of [
    ['--namespace', opts.namespace],
    ['--pod', opts.pod],
  ] as const) {
    if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(value)) {
      throw new CliError(`${flag} ${JSON.stringify(value)}: not a valid Kubernetes name`, ExitCode.refused);
    }
  }
  if (opts.by !== undefined && !opts.by.trim()) throw new CliError('--by: empty', ExitCode.refused);
  for (const pattern of opts.cleanup ?? []) {
    const refusal = patternRefusal(pattern);
    if (refusal) throw new CliError(`--cleanup ${JSON.stringify(pattern)}: ${refusal}`, ExitCode.refused);
  }
  return parseRedisAddress(opts.redis);
}

/**
 * Starts `redisIncidentRunbook` for an incident, one run per incident: the workflow id is `workflowIdFor(incident)`,
 * a second start while a run is open finds that run (`alreadyRunning`) instead of starting another, and an incident
 * whose run already finished is refused (exit code 2) unless `rerun` is set.
 * @throws {CliError} exit code 2 for invalid input.
 */
export async function startCommand(client: Client, opts: StartOptions, ctx: CommandContext): Promise<StartResult> {
  const redis = validateStartOptions(opts);
  const target: RunbookTarget = {
    namespace: opts.namespace,
    pod: opts.pod,
    ...(opts.container ? { container: opts.container } : {}),
    redis,
  };
  const input: RunbookInput = {
    incidentId: opts.incident,
    ...(opts.incidentUrl ? { incidentUrl: opts.incidentUrl } : {}),
    ...(opts.title ? { title: opts.title } : {}),
    target,
    startedBy: opts.by ?? defaultUser(),
    ...(opts.dryRun ? { dryRun: true } : {}),
    ...(opts.cleanup?.length ? { cleanup: [...new Set(opts.cleanup)] } : {}),
    targetSource: 'manual',
  };
  const workflowId = workflowIdFor(opts.incident);
  const link = uiLink(ctx.settings, workflowId);
  const started = await startRunbook(client, input, {
    taskQueue: ctx.settings.taskQueue,
    ...(opts.rerun ? { rerun: true } : {}),
  });
  if (started.kind === 'closed') {
    throw new CliError(
      `incident ${opts.incident} already had a run, now ${started.status.toLowerCase()}` +
        `${started.outcome ? ` (outcome ${started.outcome})` : ''}: ${link}; pass --rerun to start a new one`,
      ExitCode.refused,
    );
  }
  const { runId } = started;
  const alreadyRunning = started.kind === 'running';
  const handle = client.workflow.getHandle<RunbookWorkflow>(workflowId, runId);
  ctx.out(
    alreadyRunning ? `already running: ${workflowId}` : `started: ${workflowId}${opts.dryRun ? ' (dry run)' : ''}`,
  );
  ctx.out(link);
  const result: StartResult = { workflowId, runId, alreadyRunning, uiUrl: link };
  if (opts.wait) {
    const report = await handle.result();
    ctx.out(`outcome: ${report.outcome}: ${report.summary}`);
    result.report = report;
  }
  return result;
}
