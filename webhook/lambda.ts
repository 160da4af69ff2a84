/**
 * The receiver as an AWS Lambda (function URL or API Gateway HTTP API, payload format 2.0): the event becomes a Fetch
 * `Request`, the handler's `Response` becomes the result. `handler` builds the receiver from the environment once
 * per container and reuses its Temporal connection.
 */
import type { Logger } from 'pino';
import { preflight, type WebhookHandler } from './handler.js';

/** The parts of an API Gateway v2 / function URL event the adapter reads. */
export interface HttpApiEvent {
  rawPath: string;
  rawQueryString?: string;
  /** Lower-cased by API Gateway; repeated headers arrive comma-joined. */
  headers?: Record<string, string | undefined>;
  body?: string;
  isBase64Encoded?: boolean;
  requestContext: { http: { method: string }; domainName?: string };
}

/** The result format 2.0 expects. */
export interface HttpApiResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  isBase64Encoded: boolean;
}

/** The event as a Fetch `Request`, its body as the exact bytes received (the signature is over them). */
export function eventToRequest(event: HttpApiEvent): Request {
  const headers = new Headers();
  for (const [k, v] of Object.entries(event.headers ?? {})) if (v !== undefined) headers.set(k, v);
  const method = event.requestContext.http.method.toUpperCase();
  const host = event.requestContext.domainName ?? 'lambda.local';
  const url = `https://${host}${event.rawPath}${event.rawQueryString ? `?${event.rawQueryString}` : ''}`;
  const hasBody = method !== 'GET' && method !== 'HEAD' && event.body !== undefined;
  const body = hasBody ? Buffer.from(event.body!, event.isBase64Encoded ? 'base64' : 'utf8') : undefined;
  return new Request(url, { method, headers, ...(body ? { body } : {}) });
}

/** The `Response` as a format 2.0 result. */
export async function responseToResult(response: Response): Promise<HttpApiResult> {
  return {
    statusCode: response.status,
    headers: Object.fromEntries(response.headers),
    body: await response.text(),
    isBase64Encoded: false,
  };
}

function refusal(statusCode: number, error: string, headers: Record<string, string> = {}): HttpApiResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ error }),
    isBase64Encoded: false,
  };
}

/**
 * Wraps a receiver as a Lambda handler held to the Node server's promise: every event gets an answer (a malformed
 * event 400, a method Fetch cannot carry 405/501, a failure 500 without detail, logged), never a thrown error.
 */
export function lambdaAdapter(
  handle: WebhookHandler,
  log?: Pick<Logger, 'warn' | 'error'>,
): (event: HttpApiEvent) => Promise<HttpApiResult> {
  return async (event) => {
    try {
      const method = event?.requestContext?.http?.method;
      const path = event?.rawPath;
      if (typeof method !== 'string' || typeof path !== 'string' || !path.startsWith('/')) {
        log?.warn({ reason: 'malformed event' }, 'request refused');
        return refusal(400, 'malformed event');
      }
      let url: URL;
      try {
        url = new URL(`https://lambda.local${path}`);
      } catch {
        return refusal(400, 'request target is not a URL path');
      }
      const early = preflight(method, url.pathname);
      if (early) return refusal(early.status, early.error, early.headers);
      return await responseToResult(await handle(eventToRequest(event)));
    } catch (err) {
      log?.error({ err }, 'request failed');
      return refusal(500, 'internal error');
    }
  };
}

let fromEnv: Promise<(event: HttpApiEvent) => Promise<HttpApiResult>> | undefined;

/** The Lambda entry point (`webhook/lambda.handler`), configured by the same environment as `runbook webhook`. */
export async function handler(event: HttpApiEvent): Promise<HttpApiResult> {
  fromEnv ??= import('./from-env.js').then(async ({ createWebhookFromEnv }) => {
    const receiver = await createWebhookFromEnv(process.env);
    return lambdaAdapter(receiver.handle, receiver.logger);
  });
  try {
    return await (
      await fromEnv
    )(event);
  } catch (err) {
    fromEnv = undefined;
    throw err;
  }
}
