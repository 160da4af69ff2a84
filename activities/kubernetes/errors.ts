import { ApiException } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { RunbookErrorType } from '../../workflows/definitions.js';

/** What a call asked for, so a failure can say it: `get` `pods` `redis-0` in `cache`. */
export interface KubernetesRequest {
  verb: 'get' | 'list' | 'patch' | 'read logs of';
  /** Resource as the API server names it in messages: `pods`, `statefulsets.apps`, `events`. */
  resource: string;
  name?: string;
  /** Absent for cluster-scoped objects (nodes) and lists across namespaces. */
  namespace?: string;
}

/** HTTP status of a Kubernetes API error, or undefined when the error did not come from the API server. */
export function apiStatusCode(err: unknown): number | undefined {
  return err instanceof ApiException && typeof err.code === 'number' ? err.code : undefined;
}

/** The `message` of the `Status` body the API server sent, when there is one. */
export function apiStatusMessage(err: unknown): string | undefined {
  if (!(err instanceof ApiException)) return undefined;
  let body: unknown = err.body;
  if (typeof body === 'string') {
    const text = body.trim();
    try {
      body = JSON.parse(text);
    } catch {
      return text === '' ? undefined : text.slice(0, 300);
    }
  }
  if (body !== null && typeof body === 'object' && 'message' in body && typeof body.message === 'string') {
    return body.message;
  }
  return undefined;
}

function describeRequest(req: KubernetesRequest): string {
  const object = req.name === undefined ? req.resource : `${req.resource} "${req.name}"`;
  return req.namespace === undefined ? object : `${object} in namespace ${req.namespace}`;
}

/**
 * Turns an error of the Kubernetes client into what the activity should throw, with a message saying what was asked.
 *
 * - 404 → `ApplicationFailure` of type {@link RunbookErrorType.PodNotFound}, non-retryable (for any missing object:
 *   the runbook cannot act on a target that is gone);
 * - 401, 403 → {@link RunbookErrorType.Forbidden}, non-retryable;
 * - 409 → {@link RunbookErrorType.Conflict}, retryable;
 * - 400, 415, 422 → {@link RunbookErrorType.InvalidAction}, non-retryable: the request itself is wrong;
 * - anything else (5xx, 429, connection refused, timeouts) → a plain retryable `Error` with the original as `cause`.
 */
export function toActivityError(err: unknown, req: KubernetesRequest): Error {
  const code = apiStatusCode(err);
  const serverMessage = apiStatusMessage(err);
  const what = describeRequest(req);
  const detail = serverMessage === undefined ? '' : `: ${serverMessage}`;
  switch (code) {
    case 404:
      return ApplicationFailure.create({
        type: RunbookErrorType.PodNotFound,
        message:
          req.namespace === undefined ? `${what} not found` : what.replace(' in namespace', ' not found in namespace'),
        nonRetryable: true,
        cause: err as Error,
      });
    case 401:
    case 403:
      return ApplicationFailure.create({
        type: RunbookErrorType.Forbidden,
        message: `not allowed to ${req.verb} ${what} (HTTP ${code})${detail}`,
        nonRetryable: true,
        cause: err as Error,
      });
    case 409:
      return ApplicationFailure.create({
        type: RunbookErrorType.Conflict,
        message: `conflict trying to ${req.verb} ${what}${detail}`,
        nonRetryable: false,
        cause: err as Error,
      });
    case 400:
    case 415:
    case 422:
      return ApplicationFailure.create({
        type: RunbookErrorType.InvalidAction,
        message: `the API server refused to ${req.verb} ${what} (HTTP ${code})${detail}`,
        nonRetryable: true,
        cause: err as Error,
      });
    case undefined: {
      const reason = err instanceof Error ? err.message : String(err);
      return new Error(`cannot reach the Kubernetes API to ${req.verb} ${what}: ${reason}`, { cause: err });
    }
    default:
      return new Error(`Kubernetes API error trying to ${req.verb} ${what} (HTTP ${code})${detail}`, { cause: err });
  }
}

/** Runs one API call and rethrows its failure through {@link toActivityError}. */
export async function callApi<T>(req: KubernetesRequest, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw toActivityError(err, req);
  }
}

/** A request the runbook itself got wrong (a container the template lacks, a value out of range): never retried. */
export function invalidAction(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: RunbookErrorType.InvalidAction, message, nonRetryable: true });
}
