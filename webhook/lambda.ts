/**
 * The receiver as an AWS Lambda (function URL or API Gateway HTTP API, payload format 2.0): the event becomes a Fetch
 * `Request`, the handler's `Response` becomes the result. `handler` builds the receiver from the environment once
 * per container and reuses its Temporal connection.
 */
import type { WebhookHandler } from './handler.js';

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

/** Wraps a receiver as a Lambda handler. */
export function lambdaAdapter(handle: WebhookHandler): (event: HttpApiEvent) => Promise<HttpApiResult> {
  return async (event) => responseToResult(await handle(eventToRequest(event)));
}

let fromEnv: Promise<(event: HttpApiEvent) => Promise<HttpApiResult>> | undefined;

/** The Lambda entry point (`webhook/lambda.handler`), configured by the same environment as `runbook webhook`. */
export async function handler(event: HttpApiEvent): Promise<HttpApiResult> {
  fromEnv ??= import('./from-env.js').then(async ({ createWebhookFromEnv }) =>
    lambdaAdapter((await createWebhookFromEnv(process.env)).handle),
  );
  try {
    return await (
      await fromEnv
    )(event);
  } catch (err) {
    fromEnv = undefined;
    throw err;
  }
}
