import type { CoreV1Api } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { RunbookErrorType } from '../../workflows/definitions.js';
import { classifyLogs } from '../../workflows/logic/classify-logs.js';
import type { LogClassification } from './types.js';
import { apiStatusCode, apiStatusMessage, callApi, toActivityError } from './errors.js';

/** Bytes read at most from the API server when the caller does not say: 64 KiB. */
export const DEFAULT_LIMIT_BYTES = 64 * 1024;

/** Lines asked for when the caller does not say. */
export const DEFAULT_TAIL_LINES = 500;

/** Input of `fetchPreviousLogs`. */
export interface PreviousLogsInput {
  namespace: string;
  pod: string;
  /** The pod's first container when absent. */
  container?: string;
  /** Bytes read at most (default {@link DEFAULT_LIMIT_BYTES}). */
  limitBytes?: number;
  /** Lines read at most, from the end (default {@link DEFAULT_TAIL_LINES}). */
  tailLines?: number;
}

const MAX_ATTEMPTS = 4;

/**
 * Builds the `fetchPreviousLogs` activity: the log tail of the container's previous (crashed) instance, classified by
 * {@link classifyLogs}.
 *
 * No previous container (the API answers 400) or no pod (404) is not a failure: the result says `available: false`
 * with the server's reason. Forbidden and unreachable API servers throw as the other activities do.
 */
export function createFetchPreviousLogs(core: CoreV1Api) {
  async function containerName(namespace: string, name: string): Promise<string> {
    const pod = await callApi({ verb: 'get', resource: 'pods', name, namespace }, () =>
      core.readNamespacedPod({ name, namespace }),
    );
    const first = pod.spec?.containers[0]?.name;
    if (first === undefined) throw new Error(`pod "${name}" in namespace ${namespace} has no containers`);
    return first;
  }

  return async function fetchPreviousLogs(input: PreviousLogsInput): Promise<LogClassification> {
    const { namespace, pod: name } = input;
    const limitBytes = input.limitBytes ?? DEFAULT_LIMIT_BYTES;
    let tailLines = input.tailLines ?? DEFAULT_TAIL_LINES;
    const request = { verb: 'read logs of', resource: 'pods', name, namespace } as const;

    let container: string;
    try {
      container = input.container ?? (await containerName(namespace, name));
    } catch (err) {
      if (err instanceof ApplicationFailure && err.type === RunbookErrorType.PodNotFound) {
        return unavailable(err.message);
      }
      throw err;
    }

    let text = '';
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      try {
        text = await core.readNamespacedPodLog({ name, namespace, container, previous: true, tailLines, limitBytes });
      } catch (err) {
        const code = apiStatusCode(err);
        if (code === 400 || code === 404) {
          const reason = apiStatusMessage(err) ?? `no previous container "${container}" in pod ${namespace}/${name}`;
          return unavailable(reason);
        }
        throw toActivityError(err, request);
      }
      // limitBytes cuts the end of the tail, where the lines before the crash are: ask for as many lines as fitted.
      if (Buffer.byteLength(text, 'utf8') < limitBytes || tailLines <= 1) break;
      const fitted = text.split('\n').length - 1;
      tailLines = Math.max(1, Math.min(tailLines - 1, fitted - 1));
    }

    return { available: true, bytesRead: Buffer.byteLength(text, 'utf8'), ...classifyLogs(text) };
  };
}

function unavailable(reason: string): LogClassification {
  return { available: false, unavailableReason: reason, bytesRead: 0, signals: [], lastLines: [] };
}
