/** The domain errors of `client/`: the CLI maps them to exit codes, the receiver to HTTP statuses. */

/** The Temporal frontend did not answer, or refused the connection (TLS, API key). */
export class TemporalUnreachableError extends Error {
  constructor(
    public readonly address: string,
    public readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(
      `cannot reach Temporal at ${address}: is the server running? \`temporal server start-dev\` (${reason}); ` +
        'for a secured server check TEMPORAL_TLS_* and TEMPORAL_API_KEY, or the profile',
      options,
    );
    this.name = 'TemporalUnreachableError';
  }

  /** Wraps a connection failure, extracting the readable part of the SDK's transport error. */
  static from(address: string, err: unknown): TemporalUnreachableError {
    const text = err instanceof Error ? err.message : String(err);
    const reason =
      /message: \\?"([^"\\]+)\\?"/.exec(text)?.[1] ??
      /error: \\?"([^"\\]+)\\?"/.exec(text)?.[1] ??
      text.split('\n')[0] ??
      text;
    return new TemporalUnreachableError(address, reason, { cause: err });
  }
}

/** The connection settings (environment or profile file) are malformed. */
export class ConnectionSettingsError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConnectionSettingsError';
  }
}

/** The run refused a decision (its validator's words), or has already finished. */
export class DecisionRefusedError extends Error {
  constructor(
    public readonly refusal: string,
    options?: { cause?: unknown },
  ) {
    super(`refused: ${refusal}`, options);
    this.name = 'DecisionRefusedError';
  }
}

/** No worker answered in time (a decision, a status query): nothing was decided. */
export class NoWorkerError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NoWorkerError';
  }
}
