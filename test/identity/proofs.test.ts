/**
 * Proofs of who decided: SSH signatures made by the real `ssh-keygen -Y sign` (what `runbook approve --sign` runs),
 * checked by the worker's verifier, which must agree with `ssh-keygen -Y verify` on every case; and gateway
 * signatures. Each forged, altered, misplaced or stale proof is refused with a reason an auditor can read.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllowedSigners } from '../../activities/identity/allowed-signers.js';
import { gatewaySignature } from '../../activities/identity/gateway.js';
import { createIdentityActivities, type IdentityPolicy } from '../../activities/identity/index.js';
import { sshSigner } from '../../cli/sign.js';
import type { Decision, DecisionProof } from '../../workflows/definitions.js';
import { DECISION_SIGNATURE_NAMESPACE, decisionMessage } from '../../workflows/logic/decision-message.js';

const scope = { workflowId: 'redis-runbook-P1', runId: 'run-1' };
const approval: Decision = { decision: 'approve', by: 'alice@example.com', planId: 'plan-abc', via: 'cli' };
const NOW = '2026-12-02T12:00:00.000Z';

describe('decision proofs', () => {
  let dir: string;
  const keys: Record<string, string> = {};
  let policy: IdentityPolicy;
  let allowedFile: string;

  async function sign(key: string, d: Decision, signedAt = NOW, s = scope): Promise<DecisionProof> {
    const proof = await sshSigner(keys[key]!)(decisionMessage(d, s, signedAt));
    return { ...proof, signedAt } as DecisionProof;
  }

  /** What `ssh-keygen -Y verify` says of the same signature and message (the reference). */
  function referenceVerifies(d: Decision, proof: DecisionProof, principal: string): boolean {
    const sig = join(dir, 'ref.sig');
    execFileSync('sh', ['-c', `cat > ${sig}`], { input: proof.signature });
    try {
      execFileSync(
        'ssh-keygen',
        ['-Y', 'verify', '-f', allowedFile, '-I', principal, '-n', DECISION_SIGNATURE_NAMESPACE, '-s', sig],
        { input: decisionMessage(d, scope, proof.signedAt), stdio: ['pipe', 'ignore', 'ignore'] },
      );
      return true;
    } catch {
      return false;
    }
  }

  const verify = (d: Decision, at = NOW) =>
    createIdentityActivities(policy).verifyDecisionProof({ decision: d, scope, at });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'proofs-'));
    for (const [name, args] of Object.entries({
      ed25519: ['-t', 'ed25519'],
      rsa: ['-t', 'rsa', '-b', '2048'],
      ecdsa: ['-t', 'ecdsa', '-b', '256'],
      mallory: ['-t', 'ed25519'],
    })) {
      keys[name] = join(dir, name);
      execFileSync('ssh-keygen', [...args, '-N', '', '-q', '-C', name, '-f', keys[name]]);
    }
    const pub = async (k: string) => (await readFile(`${keys[k]}.pub`, 'utf8')).trim();
    const lines = [
      '# who may sign decisions',
      `alice@example.com ${await pub('ed25519')}`,
      `alice@example.com,bob@example.com ${await pub('rsa')}`,
      `bob@example.com namespaces="${DECISION_SIGNATURE_NAMESPACE}" ${await pub('ecdsa')}`,
    ];
    allowedFile = join(dir, 'allowed_signers');
    await writeFile(allowedFile, lines.join('\n'));
    policy = {
      acceptProofs: ['ssh', 'pagerduty'],
      allowedSigners: parseAllowedSigners(lines, 'test'),
      gatewaySecrets: ['gateway-secret'],
    };
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('accepts an approval signed by an allowed key of each type, as ssh-keygen does', async () => {
    for (const [key, by] of [
      ['ed25519', 'alice@example.com'],
      ['rsa', 'bob@example.com'],
      ['ecdsa', 'bob@example.com'],
    ] as const) {
      const d = { ...approval, by };
      const proof = await sign(key, d);
      const verdict = await verify({ ...d, proof });
      assert.equal(verdict.ok, true, `${key}: ${JSON.stringify(verdict)}`);
      assert.equal(verdict.ok && verdict.verified.identity, by);
      assert.match(verdict.ok ? verdict.verified.by : '', /^SHA256:/);
      assert.equal(referenceVerifies(d, proof, by), true, `ssh-keygen agrees for ${key}`);
    }
  });

  it('refuses an altered decision: other actions, another decision, another plan, another run', async () => {
    const proof = await sign('ed25519', approval);
    const altered: Decision[] = [
      { ...approval, actions: ['rolling-restart'] },
      { ...approval, decision: 'reject', reason: 'x' },
      { ...approval, planId: 'plan-other' },
      { ...approval, overrideBackup: true },
    ];
    for (const d of altered) {
      const verdict = await verify({ ...d, proof });
      assert.equal(verdict.ok, false);
      assert.match(verdict.ok ? '' : verdict.reason, /forged or altered/);
      assert.equal(referenceVerifies(d, proof, 'alice@example.com'), false, 'ssh-keygen refuses it too');
    }
    const otherRun = await sign('ed25519', approval, NOW, { ...scope, runId: 'run-2' });
    const verdict = await verify({ ...approval, proof: otherRun });
    assert.match(verdict.ok ? '' : verdict.reason, /forged or altered/);
  });

  it('refuses a key that is not listed, or listed for someone else', async () => {
    const mallory = await verify({ ...approval, proof: await sign('mallory', approval) });
    assert.match(mallory.ok ? '' : mallory.reason, /is not an allowed signer for alice@example.com/);
    const asCarol = { ...approval, by: 'carol@example.com' };
    const carol = await verify({ ...asCarol, proof: await sign('ed25519', asCarol) });
    assert.match(carol.ok ? '' : carol.reason, /not an allowed signer for carol@example.com/);
    assert.equal(referenceVerifies(asCarol, await sign('ed25519', asCarol), 'carol@example.com'), false);
  });

  it('refuses a stale signature, an unsigned decision, garbage, and a proof the policy does not accept', async () => {
    const old = await verify({ ...approval, proof: await sign('ed25519', approval, '2026-12-02T11:00:00.000Z') });
    assert.match(old.ok ? '' : old.reason, /more than 10 minutes/);
    const unsigned = await verify(approval);
    assert.match(unsigned.ok ? '' : unsigned.reason, /unsigned: sign it: runbook approve/);
    const garbage = await verify({ ...approval, proof: { scheme: 'ssh', signedAt: NOW, signature: 'hello' } });
    assert.match(garbage.ok ? '' : garbage.reason, /unreadable SSH signature/);
    const sshOnly = { ...policy, acceptProofs: ['ssh' as const] };
    const gw: DecisionProof = {
      scheme: 'gateway',
      gateway: 'pagerduty',
      signedAt: NOW,
      signature: gatewaySignature('gateway-secret', decisionMessage(approval, scope, NOW)),
    };
    const refused = await createIdentityActivities(sshOnly).verifyDecisionProof({
      decision: { ...approval, proof: gw },
      scope,
      at: NOW,
    });
    assert.match(refused.ok ? '' : refused.reason, /does not accept pagerduty proofs/);
  });

  it("takes a gateway's signature with the identity it verified, and refuses a wrong secret", async () => {
    const message = decisionMessage(approval, scope, NOW);
    const good = await verify({
      ...approval,
      proof: {
        scheme: 'gateway',
        gateway: 'pagerduty',
        signedAt: NOW,
        signature: gatewaySignature('gateway-secret', message),
      },
    });
    assert.deepEqual(good, {
      ok: true,
      verified: { scheme: 'gateway', identity: 'alice@example.com', by: 'pagerduty' },
    });
    const bad = await verify({
      ...approval,
      proof: { scheme: 'gateway', gateway: 'pagerduty', signedAt: NOW, signature: gatewaySignature('guess', message) },
    });
    assert.match(bad.ok ? '' : bad.reason, /not signed by the pagerduty gateway/);
  });

  it('refuses an allowed_signers line without a valid key, naming the line', () => {
    assert.throws(
      () => parseAllowedSigners(['', 'alice@example.com ssh-ed25519 notbase64!!'], 'f'),
      /f line 2: not a valid SSH public key/,
    );
    assert.throws(
      () => parseAllowedSigners(['alice@example.com'], 'f'),
      /f line 1: expected "email keytype base64-key"/,
    );
  });
});
