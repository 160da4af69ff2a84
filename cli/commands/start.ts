import { userInfo } from 'node:os';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
  type Client,
} from '@temporalio/client';
import { searchAttributes, targetLabel, WORKFLOW_TYPE, workflowIdFor } from '../../workflows/definitions.js';
import type { RedisAddress, RunbookInput, RunbookReport, RunbookTarget } from '../../workflows/types.js';
import { CliError, ExitCode, uiLink, type CommandContext } from '../client.js';

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

type RunbookWorkflow = (input: RunbookInput) => Promise<RunbookReport>;

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
  return parseRedisAddress(opts.redis);
}

/** Markdown shown on the run's page in the Web UI. */
function staticDetails(input: RunbookInput): string {
  const t = input.target;
  return [
    `**Incident** ${input.incidentUrl ? `[${input.incidentId}](${input.incidentUrl})` : input.incidentId}` +
      (input.title ? `: ${input.title}` : ''),
    `**Target** pod \`${t.namespace}/${t.pod}\`${t.container ? ` (container \`${t.container}\`)` : ''}, ` +
      `Redis \`${t.redis.host}:${t.redis.port}\`${t.redis.db !== undefined ? ` db ${t.redis.db}` : ''}`,
    `**Started by** ${input.startedBy} (${input.targetSource ?? 'manual'})`,
    `**Dry run** ${input.dryRun ? 'yes: diagnose and plan only, no backup, no change' : 'no'}`,
  ].join('\n\n');
}

/** What {@link startRunbook} found: a run it started, one already running, or one that already finished. */
export type StartOutcome =
  | { kind: 'started' | 'running'; workflowId: string; runId: string }
  | { kind: 'closed'; workflowId: string; runId: string; status: string; outcome?: string };

/**
 * Starts `redisIncidentRunbook` for `input.incidentId` with workflow id `workflowIdFor(incident)`, its search
 * attributes and UI summary, under the id-conflict policy FAIL (so we know whether this call started it) and the
 * reuse policy REJECT_DUPLICATE unless `rerun`: a retried or concurrent start never makes a second run. Shared by
 * `runbook start` and the PagerDuty webhook.
 */
export async function startRunbook(
  client: Client,
  input: RunbookInput,
  opts: { taskQueue: string; rerun?: boolean },
): Promise<StartOutcome> {
  const workflowId = workflowIdFor(input.incidentId);
  const t = input.target;
  try {
    const started = await client.workflow.start<RunbookWorkflow>(WORKFLOW_TYPE, {
      workflowId,
      taskQueue: opts.taskQueue,
      args: [input],
      // FAIL (not USE_EXISTING) so that we know whether this call started the run or found one.
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
      workflowIdReusePolicy: opts.rerun
        ? WorkflowIdReusePolicy.ALLOW_DUPLICATE
        : WorkflowIdReusePolicy.REJECT_DUPLICATE,
      typedSearchAttributes: [
        { key: searchAttributes.incidentId, value: input.incidentId },
        { key: searchAttributes.target, value: targetLabel(t) },
        { key: searchAttributes.phase, value: 'starting' },
        { key: searchAttributes.outcome, value: 'running' },
      ],
      staticSummary: `Redis incident ${input.incidentId}: ${t.namespace}/${t.pod}${input.dryRun ? ' (dry run)' : ''}`,
      staticDetails: staticDetails(input),
    });
    return { kind: 'started', workflowId, runId: started.firstExecutionRunId };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    const description = await client.workflow.getHandle(workflowId).describe();
    if (description.status.name === 'RUNNING') return { kind: 'running', workflowId, runId: description.runId };
    const outcome = description.typedSearchAttributes.get(searchAttributes.outcome);
    return {
      kind: 'closed',
      workflowId,
      runId: description.runId,
      status: description.status.name,
      ...(outcome ? { outcome } : {}),
    };
  }
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
