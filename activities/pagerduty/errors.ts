/** Failure types of the PagerDuty write-back, as `ApplicationFailure` types in the run's history. */
export enum PagerDutyFailureType {
  /** PagerDuty refused the call (4xx other than 429): retrying cannot help. */
  Rejected = 'PagerDutyRejected',
  /** 429 or 5xx outlasted the client's bounded retries, or the network failed. */
  Unavailable = 'PagerDutyUnavailable',
}

/** A PagerDuty REST call failed. The message names the method, path and status, never the token. */
export class PagerDutyError extends Error {
  /** HTTP status, absent for a network failure. */
  public readonly status?: number;
  /** Whether trying again later might work (429, 5xx, network). */
  public readonly retryable: boolean;

  constructor(message: string, opts: { status?: number; retryable?: boolean; cause?: unknown }) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'PagerDutyError';
    if (opts.status !== undefined) this.status = opts.status;
    this.retryable = opts.retryable ?? false;
  }
}
