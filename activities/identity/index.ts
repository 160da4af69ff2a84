/**
 * Checks the proof a decision carries before the run counts it: an SSH signature against the allowed_signers list,
 * or a gateway's signature. Pure computation over the worker's configuration, so it can be retried at will.
 */
import type { Decision, VerifiedIdentity } from '../../workflows/definitions.js';
import {
  DECISION_SIGNATURE_NAMESPACE,
  decisionMessage,
  PROOF_MAX_AGE_MS,
  type DecisionScope,
} from '../../workflows/logic/decision-message.js';
import type { AllowedSigner } from './allowed-signers.js';
import { verifyGatewaySignature } from './gateway.js';
import { parseSshSignature, verifySshSignature } from './sshsig.js';

export type { AllowedSigner } from './allowed-signers.js';

/** The worker's side of the approval policy: which proofs count, the SSH keys, the gateways' secrets. */
export interface IdentityPolicy {
  acceptProofs: Array<'ssh' | 'pagerduty' | 'slack'>;
  allowedSigners: AllowedSigner[];
  gatewaySecrets: string[];
}

export interface ProofCheck {
  decision: Decision;
  scope: DecisionScope;
  /** The run's clock (workflow time), against which the signature's age is judged. */
  at: string;
}

export type ProofVerdict = { ok: true; verified: VerifiedIdentity } | { ok: false; reason: string };

export const HOW_TO_SIGN =
  'sign it: runbook approve <incident> --plan <id> --by <email> --sign ~/.ssh/id_ed25519 (a key listed in approval.allowedSigners)';

function checkSsh(policy: IdentityPolicy, message: string, d: Decision, signature: string): ProofVerdict {
  let sig;
  try {
    sig = parseSshSignature(signature);
  } catch (err) {
    return { ok: false, reason: `unreadable SSH signature: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (sig.namespace !== DECISION_SIGNATURE_NAMESPACE)
    return { ok: false, reason: `signed in namespace "${sig.namespace}", not "${DECISION_SIGNATURE_NAMESPACE}"` };
  const fingerprint = sig.key.fingerprint('sha256').toString();
  const by = d.by.trim().toLowerCase();
  const signer = policy.allowedSigners.find(
    (s) =>
      s.key.fingerprint('sha256').toString() === fingerprint &&
      s.principals.includes(by) &&
      (!s.namespaces || s.namespaces.includes(DECISION_SIGNATURE_NAMESPACE)),
  );
  if (!signer) return { ok: false, reason: `key ${fingerprint} is not an allowed signer for ${by}` };
  if (!verifySshSignature(sig, message))
    return { ok: false, reason: `forged or altered: the signature by ${fingerprint} does not match this decision` };
  return { ok: true, verified: { scheme: 'ssh', identity: by, by: fingerprint } };
}

export function createIdentityActivities(policy: IdentityPolicy) {
  return {
    /** Whether the decision's proof is valid, fresh and from someone the policy knows; never throws on bad proof. */
    verifyDecisionProof({ decision, scope, at }: ProofCheck): Promise<ProofVerdict> {
      const proof = decision.proof;
      const verdict = ((): ProofVerdict => {
        if (!proof) return { ok: false, reason: `unsigned: ${HOW_TO_SIGN}` };
        const scheme = proof.scheme === 'ssh' ? 'ssh' : proof.gateway;
        if (!policy.acceptProofs.includes(scheme))
          return {
            ok: false,
            reason: `the policy does not accept ${scheme} proofs (accepts: ${policy.acceptProofs.join(', ')})`,
          };
        const age = Math.abs(Date.parse(at) - Date.parse(proof.signedAt));
        if (!(age <= PROOF_MAX_AGE_MS))
          return {
            ok: false,
            reason: `signed at ${proof.signedAt}: more than ${PROOF_MAX_AGE_MS / 60000} minutes from now`,
          };
        const message = decisionMessage(decision, scope, proof.signedAt);
        if (proof.scheme === 'ssh') return checkSsh(policy, message, decision, proof.signature);
        if (!verifyGatewaySignature(policy.gatewaySecrets, message, proof.signature))
          return { ok: false, reason: `forged or altered: not signed by the ${proof.gateway} gateway` };
        return {
          ok: true,
          verified: { scheme: 'gateway', identity: decision.by.trim().toLowerCase(), by: proof.gateway },
        };
      })();
      return Promise.resolve(verdict);
    },
  };
}
