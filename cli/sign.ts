/**
 * `runbook approve --sign <key>`: signs a decision the way git signs commits with SSH, by running `ssh-keygen -Y sign`
 * (a private key file, or a public key whose private half is in ssh-agent). The worker checks the signature
 * against its allowed_signers list.
 */
import { execFile } from 'node:child_process';
import type { DecisionSigner } from '../client/index.js';
import { DECISION_SIGNATURE_NAMESPACE } from '../workflows/logic/decision-message.js';
import { CliError, ExitCode } from './client.js';

/** A signer for `keyPath`; ssh-keygen may ask for the key's passphrase on the terminal. */
export function sshSigner(keyPath: string): DecisionSigner {
  return (message) =>
    new Promise((resolve, reject) => {
      const child = execFile(
        'ssh-keygen',
        ['-Y', 'sign', '-n', DECISION_SIGNATURE_NAMESPACE, '-f', keyPath, '-q'],
        { timeout: 60_000 },
        (err, stdout, stderr) => {
          if (err) {
            const why =
              (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'ssh-keygen is not installed' : stderr.trim();
            reject(new CliError(`--sign ${keyPath}: could not sign (${why || err.message})`, ExitCode.refused));
            return;
          }
          resolve({ scheme: 'ssh', signature: stdout });
        },
      );
      child.stdin?.end(message);
    });
}
