import { createHmac, timingSafeEqual } from 'node:crypto';

/** Most signature entries looked at: a header with more is refused rather than hashed against every secret. */
const MAX_ENTRIES = 8;

/**
 * Whether `header` (`X-PagerDuty-Signature`: `v1=<hex>[,v1=<hex>…]`) holds a lowercase-hex HMAC-SHA256 of the raw
 * `body` under any of `secrets` (several during a rotation). Compares in constant time; entries of another version
 * or malformed ones never match. No secret: never authentic.
 */
export function isSignedBy(body: Uint8Array, header: string | null, secrets: readonly string[]): boolean {
  if (!header || secrets.length === 0) return false;
  const entries = header.split(',').map((e) => e.trim());
  if (entries.length > MAX_ENTRIES) return false;
  const given = entries
    .filter((e) => e.startsWith('v1=') && /^[0-9a-f]{64}$/.test(e.slice(3)))
    .map((e) => Buffer.from(e.slice(3), 'hex'));
  let authentic = false;
  for (const secret of secrets) {
    const expected = createHmac('sha256', secret).update(body).digest();
    // No early exit: the time taken does not tell which entry or secret matched.
    for (const g of given) if (timingSafeEqual(g, expected)) authentic = true;
  }
  return authentic;
}

/** The `X-PagerDuty-Signature` value PagerDuty would send for `body` under `secrets` (tests, the demo). */
export function signatureHeader(body: string | Uint8Array, ...secrets: string[]): string {
  return secrets.map((s) => `v1=${createHmac('sha256', s).update(body).digest('hex')}`).join(',');
}

/** Header carrying the shared secret of `/pagerduty/action` when the caller cannot sign (PagerDuty's workflow HTTP step). */
export const ACTION_SECRET_HEADER = 'x-runbook-action-secret';

/**
 * Whether `given` equals one of `secrets`, in constant time: both sides are hashed first so that neither the
 * length nor the content of a secret leaks through timing. No secret configured: never authentic.
 */
export function matchesSharedSecret(given: string | null, secrets: readonly string[]): boolean {
  if (!given || secrets.length === 0) return false;
  const digest = (v: string) => createHmac('sha256', 'redis-runbook-action').update(v).digest();
  const g = digest(given);
  let authentic = false;
  for (const secret of secrets) if (timingSafeEqual(g, digest(secret))) authentic = true;
  return authentic;
}
