import { createHmac, timingSafeEqual } from 'node:crypto';

/** How far a request's `X-Slack-Request-Timestamp` may be from now: Slack's documented five minutes (replays). */
export const SLACK_MAX_SKEW_SECONDS = 300;

/** `v0=` and the HMAC-SHA256, hex, of `v0:<timestamp>:<raw body>` under `secret`: what Slack sends. */
export function slackSignature(secret: string, timestamp: string, body: string | Uint8Array): string {
  const mac = createHmac('sha256', secret).update(`v0:${timestamp}:`).update(body);
  return `v0=${mac.digest('hex')}`;
}

/**
 * Why a Slack request is not authentic, or undefined when it is: Slack's request signing (`X-Slack-Signature` v0 over
 * the timestamp and the raw body, any of `secrets` during a rotation), compared in constant time, the timestamp within
 * {@link SLACK_MAX_SKEW_SECONDS} of `nowSeconds`.
 */
export function slackRequestProblem(
  body: Uint8Array,
  headers: { signature: string | null; timestamp: string | null },
  secrets: readonly string[],
  nowSeconds: number,
): string | undefined {
  const { signature, timestamp } = headers;
  if (!signature || !timestamp) return 'no X-Slack-Signature or X-Slack-Request-Timestamp';
  if (!/^\d{1,12}$/.test(timestamp)) return 'malformed X-Slack-Request-Timestamp';
  if (Math.abs(nowSeconds - Number(timestamp)) > SLACK_MAX_SKEW_SECONDS) return 'stale X-Slack-Request-Timestamp';
  if (!/^v0=[0-9a-f]{64}$/.test(signature)) return 'malformed X-Slack-Signature';
  const given = Buffer.from(signature);
  let authentic = false;
  for (const secret of secrets) {
    if (timingSafeEqual(given, Buffer.from(slackSignature(secret, timestamp, body)))) authentic = true;
  }
  return authentic ? undefined : 'bad X-Slack-Signature';
}
