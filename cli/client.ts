import { ServiceError, WorkflowNotFoundError } from '@temporalio/client';
import {
  connectTemporal,
  ConnectionSettingsError,
  DecisionRefusedError,
  NoWorkerError,
  TemporalUnreachableError,
  type TemporalClient,
  type TemporalSettings,
} from '../client/index.js';
import { ConfigError } from '../config/errors.js';

/** Exit codes of `runbook`. */
export const ExitCode = {
  ok: 0,
  unexpected: 1,
  /** The workflow refused a decision, or the input was invalid. */
  refused: 2,
  unreachable: 3,
  notFound: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error the CLI reports as one line with a given exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    public readonly exitCode: ExitCode,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CliError';
  }
}

/** Where commands write their output, one call per line (or per JSON document). */
export type Out = (text: string) => void;

/** What every command receives besides its own options. */
export interface CommandContext {
  settings: TemporalSettings;
  out: Out;
}

const GRPC_UNAVAILABLE = 14;

/** A connected client and how to let go of it. */
export type CliClient = TemporalClient;

/**
 * Connects a client as `client/` does (the environment, the profiles file, TLS, API key).
 * @throws {CliError} exit code 3 when the server does not answer within `connectTimeoutMs` (default 5 s), 2 when the
 * settings are malformed.
 */
export async function connectClient(env: NodeJS.ProcessEnv = process.env, connectTimeoutMs = 5000): Promise<CliClient> {
  try {
    return await connectTemporal(env, { connectTimeoutMs });
  } catch (err) {
    throw new CliError(err instanceof Error ? err.message : String(err), exitCodeFor(err), { cause: err });
  }
}

/** Exit code for an error thrown by a command. */
export function exitCodeFor(err: unknown): ExitCode {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof WorkflowNotFoundError) return ExitCode.notFound;
  if (err instanceof ConfigError) return ExitCode.refused;
  if (err instanceof TemporalUnreachableError) return ExitCode.unreachable;
  if (err instanceof DecisionRefusedError || err instanceof ConnectionSettingsError) return ExitCode.refused;
  if (err instanceof NoWorkerError) return ExitCode.unexpected;
  if (err instanceof ServiceError && (err.cause as { code?: number } | undefined)?.code === GRPC_UNAVAILABLE) {
    return ExitCode.unreachable;
  }
  return ExitCode.unexpected;
}

/** One line describing an error for stderr. */
export function errorLine(err: unknown): string {
  if (err instanceof WorkflowNotFoundError) return `no run found: ${err.workflowId}`;
  if (err instanceof Error) return err.message.split('\n')[0] ?? err.message;
  return String(err);
}
