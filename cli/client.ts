import { Client, Connection, ServiceError, WorkflowNotFoundError } from '@temporalio/client';
import {
  ConfigError,
  loadTemporalSettings,
  TemporalUnreachableError,
  type TemporalSettings,
} from '../worker/config.js';

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

/** A connected client and how to let go of it. */
export interface CliClient {
  client: Client;
  settings: TemporalSettings;
  close(): Promise<void>;
}

const GRPC_UNAVAILABLE = 14;

/**
 * Connects a client with the worker's environment settings (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`…).
 * @throws {CliError} exit code 3 when the server does not answer within `connectTimeoutMs` (default 5 s), 2 when the
 * environment is malformed.
 */
export async function connectClient(env: NodeJS.ProcessEnv = process.env, connectTimeoutMs = 5000): Promise<CliClient> {
  let settings: TemporalSettings;
  try {
    settings = loadTemporalSettings(env);
  } catch (err) {
    throw new CliError(err instanceof Error ? err.message : String(err), ExitCode.refused, { cause: err });
  }
  let connection: Connection;
  try {
    connection = await Connection.connect({ address: settings.address, connectTimeout: connectTimeoutMs });
  } catch (err) {
    const unreachable = TemporalUnreachableError.from(settings.address, err);
    throw new CliError(unreachable.message, ExitCode.unreachable, { cause: err });
  }
  return {
    client: new Client({ connection, namespace: settings.namespace }),
    settings,
    close: () => connection.close(),
  };
}

/** Link to a run in the Temporal Web UI. */
export function uiLink(settings: Pick<TemporalSettings, 'uiUrl' | 'namespace'>, workflowId: string): string {
  return `${settings.uiUrl}/namespaces/${encodeURIComponent(settings.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/** Exit code for an error thrown by a command. */
export function exitCodeFor(err: unknown): ExitCode {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof WorkflowNotFoundError) return ExitCode.notFound;
  if (err instanceof ConfigError) return ExitCode.refused;
  if (err instanceof TemporalUnreachableError) return ExitCode.unreachable;
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
