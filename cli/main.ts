#!/usr/bin/env node
/**
 * `runbook`: start a Redis incident runbook, follow it, approve or reject its plan, list runs, or run the worker.
 * Exit codes: 0 ok, 1 unexpected, 2 refused or invalid input, 3 Temporal unreachable, 4 run not found.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { connectClient, errorLine, ExitCode, exitCodeFor, type CliClient, type Out } from './client.js';
import { approveCommand, type ApproveOptions } from './commands/approve.js';
import { cancelCommand } from './commands/cancel.js';
import { diagnoseCommand } from './commands/diagnose.js';
import { listCommand } from './commands/list.js';
import { rejectCommand } from './commands/reject.js';
import { startCommand, validateStartOptions, type StartOptions } from './commands/start.js';
import { statusCommand } from './commands/status.js';
import { workerCommand } from './commands/worker.js';
import { isEntryPoint } from '../worker/entry-point.js';

/** Where the CLI reads its settings and writes its output; tests replace them. */
export interface CliIo {
  out: Out;
  err: Out;
  env: NodeJS.ProcessEnv;
}

const defaultIo: CliIo = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  env: process.env,
};

/** `--sign <key>`: the SSH key that signs a decision; `RUNBOOK_SIGNING_KEY` when set. */
const SIGN_OPTION = () =>
  new Option('--sign <key>', 'SSH key that signs the decision (a private key, or a .pub held by ssh-agent)').env(
    'RUNBOOK_SIGNING_KEY',
  );

function commaList(value: string): string[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) throw new InvalidArgumentError('expected a comma-separated list of action ids');
  return items;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive whole number');
  return n;
}

function portNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('expected a port number (0-65535)');
  return n;
}

/** Builds the `runbook` program. Each action connects, runs one command function, and closes the connection. */
export function buildProgram(io: CliIo = defaultIo): Command {
  const withClient = async (fn: (c: CliClient) => Promise<unknown>): Promise<void> => {
    const c = await connectClient(io.env);
    try {
      await fn(c);
    } finally {
      await c.close();
    }
  };

  const program = new Command('runbook')
    .description('Redis-in-Kubernetes crash runbook on Temporal, with human approval')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out(s.replace(/\n$/, '')),
      writeErr: (s) => io.err(s.replace(/\n$/, '')),
    })
    .showHelpAfterError('(runbook --help for usage)');

  program
    .command('start')
    .description('start the runbook for an incident (one run per incident)')
    .requiredOption('--incident <id>', 'incident id (PagerDuty id or any unique name)')
    .requiredOption('--namespace <ns>', 'Kubernetes namespace of the Redis pod')
    .requiredOption('--pod <pod>', 'the Redis pod')
    .option('--container <name>', "container running redis-server (default: the pod's first)")
    .requiredOption('--redis <address>', 'host:port or redis://host:port[/db], without credentials')
    .option('--title <text>', 'short title shown in the UI')
    .option('--incident-url <url>', 'link back to the incident')
    .option('--by <email>', 'who starts the run (default: local user name)')
    .option(
      '--cleanup <pattern>',
      'also plan a paced, capped UNLINK of the keys matching this pattern, previewed before approval (repeatable)',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option('--dry-run', 'diagnose and plan only: no backup, no approval, no change')
    .option('--wait', 'wait for the run to finish and print its outcome')
    .option('--rerun', 'start a new run even though this incident already had one')
    .action(async (opts: StartOptions) => {
      validateStartOptions(opts);
      await withClient(({ client, settings }) => startCommand(client, opts, { settings, out: io.out }));
    });

  program
    .command('status')
    .description("show a run's phase, findings, plan, approvals, results and progress")
    .argument('<id>', 'incident id or workflow id')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      await withClient(({ client, settings }) => statusCommand(client, { id, ...opts }, { settings, out: io.out }));
    });

  program
    .command('approve')
    .description('approve the plan of a run (or some of its actions)')
    .argument('<id>', 'incident id or workflow id')
    .requiredOption('--by <email>', 'who approves')
    .option('--plan <planId>', 'the plan approved (default: the current plan, printed)')
    .addOption(new Option('--actions <ids>', 'comma-separated action ids (default: all waiting)').argParser(commaList))
    .option('--reason <text>', 'why')
    .option('--override-backup', 'approve although no backup was confirmed (a second approver must confirm)')
    .addOption(SIGN_OPTION())
    .action(async (id: string, opts: Omit<ApproveOptions, 'id'>) => {
      await withClient(({ client, settings }) => approveCommand(client, { id, ...opts }, { settings, out: io.out }));
    });

  program
    .command('reject')
    .description('reject the plan of a run: it stops without acting')
    .argument('<id>', 'incident id or workflow id')
    .requiredOption('--by <email>', 'who rejects')
    .requiredOption('--reason <text>', 'why (required)')
    .addOption(SIGN_OPTION())
    .action(async (id: string, opts: { by: string; reason: string; sign?: string }) => {
      await withClient(({ client, settings }) => rejectCommand(client, { id, ...opts }, { settings, out: io.out }));
    });

  program
    .command('cancel')
    .description('stop a run cleanly: no further action starts, a running cleanup stops at its next batch')
    .argument('<id>', 'incident id or workflow id')
    .requiredOption('--by <email>', 'who cancels')
    .requiredOption('--reason <text>', 'why (required)')
    .action(async (id: string, opts: { by: string; reason: string }) => {
      await withClient(({ client, settings }) => cancelCommand(client, { id, ...opts }, { settings, out: io.out }));
    });

  program
    .command('list')
    .description('list runbook runs (open ones unless --all)')
    .option('--all', 'include finished runs')
    .addOption(new Option('--limit <n>', 'most runs to show').argParser(positiveInt).default(50))
    .option('--json', 'print JSON')
    .action(async (opts: { all?: boolean; limit: number; json?: boolean }) => {
      await withClient(({ client, settings }) => listCommand(client, opts, { settings, out: io.out }));
    });

  program
    .command('webhook')
    .description('serve the PagerDuty receiver: POST /pagerduty/webhook, POST /pagerduty/action, GET /healthz')
    .addOption(new Option('--port <n>', 'port (default: PORT, else 8080)').argParser(portNumber))
    .option('--host <address>', 'interface to listen on (default: HOST, else 127.0.0.1; 0.0.0.0 for all)')
    .action(async (opts: { port?: number; host?: string }) => {
      // Loaded on demand, like the worker: the other commands never load the receiver.
      const { webhookCommand } = await import('./commands/webhook.js');
      await webhookCommand({
        env: io.env,
        ...(opts.port !== undefined ? { port: opts.port } : {}),
        ...(opts.host ? { host: opts.host } : {}),
      });
    });

  program
    .command('diagnose')
    .description('diagnose a Redis without Temporal: biggest keys, prefixes, memory, Sidekiq, and the findings')
    .requiredOption('--redis <url>', 'host:port or redis://host:port[/db], without credentials (REDIS_PASSWORD)')
    .option('--json', 'print JSON')
    .addOption(new Option('--top <n>', 'biggest keys to list').argParser(positiveInt).default(20))
    .action(async (opts: { redis: string; json?: boolean; top: number }) => {
      await diagnoseCommand(opts, io);
    });

  program
    .command('worker')
    .description('run the worker until SIGINT/SIGTERM (configuration: environment and RUNBOOK_CONFIG)')
    .action(async () => {
      await workerCommand({ env: io.env });
    });

  return program;
}

/** Runs the CLI on `argv` (as `process.argv`) and returns the exit code; never throws. */
export async function main(argv: string[] = process.argv, io: CliIo = defaultIo): Promise<number> {
  try {
    await buildProgram(io).parseAsync(argv);
    return ExitCode.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has printed its message already; usage errors are invalid input.
      return err.exitCode === 0 ? ExitCode.ok : ExitCode.refused;
    }
    io.err(`runbook: ${errorLine(err)}`);
    if (io.env.DEBUG && err instanceof Error && err.stack) io.err(err.stack);
    return exitCodeFor(err);
  }
}

if (isEntryPoint(import.meta.url)) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(err);
      process.exit(ExitCode.unexpected);
    },
  );
}
