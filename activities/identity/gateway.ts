/**
 * Gateway proofs: a gateway that verified its user itself (the receiver checks PagerDuty's or Slack's request
 * signature and looks the user up there) signs the decision message with a secret it shares with the worker.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** HMAC-SHA256 of `message` under `secret`, hex. */
export function gatewaySignature(secret: string, message: string): string {
  return createHmac('sha256', secret).update(message).digest('hex');
}

/** Whether `signature` is `message` signed by one of `secrets` (several during a rotation). */
export function verifyGatewaySignature(secrets: string[], message: string, signature: string): boolean {
  const given = Buffer.from(signature, 'hex');
  return secrets.some((secret) => {
    const expected = Buffer.from(gatewaySignature(secret, message), 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

/** The receiver's signer for the decisions it forwards from `gateway`'s users (`sendDecision`'s `proof.sign`). */
export function gatewaySigner(secret: string, gateway: 'pagerduty' | 'slack' = 'pagerduty') {
  return (message: string) =>
    Promise.resolve({
      scheme: 'gateway' as const,
      gateway,
      signature: gatewaySignature(secret, message),
    });
}
