/**
 * `allowed_signers` (the format of `ssh-keygen -Y verify -f` and git's `gpg.ssh.allowedSignersFile`): one line per key,
 * `principals [options] keytype base64-key [comment]`, principals comma-separated. The keys are parsed by sshpk.
 */
import sshpk from 'sshpk';

export interface AllowedSigner {
  /** Emails (lower case) this key signs for. */
  principals: string[];
  key: sshpk.Key;
  /** `namespaces="…"`: the signature namespaces the key may sign in; any when absent. */
  namespaces?: string[];
}

const KEY_TYPE = /^(ssh-|ecdsa-|sk-)/;

/** Splits on spaces outside double quotes (`namespaces="a,b"` may not hold spaces, but a comment may). */
function fields(line: string): string[] {
  return line.match(/(?:[^\s"]+|"[^"]*")+/g) ?? [];
}

/**
 * Parses `allowed_signers` lines; blank lines and `#` comments are skipped.
 * @throws {Error} naming `source` and the line for a line that holds no principal or no valid public key.
 */
export function parseAllowedSigners(lines: string[], source: string): AllowedSigner[] {
  const signers: AllowedSigner[] = [];
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const [principals, ...rest] = fields(line);
    const at = `${source} line ${i + 1}`;
    const keyAt = rest.findIndex((f) => KEY_TYPE.test(f));
    if (!principals || keyAt < 0 || !rest[keyAt + 1])
      throw new Error(`${at}: expected "email keytype base64-key", e.g. "sre@example.com ssh-ed25519 AAAA…"`);
    const options = rest.slice(0, keyAt).join(',');
    let key: sshpk.Key;
    try {
      key = sshpk.parseKey(`${rest[keyAt]} ${rest[keyAt + 1]}`, 'ssh');
    } catch (err) {
      throw new Error(`${at}: not a valid SSH public key (${err instanceof Error ? err.message : String(err)})`, {
        cause: err,
      });
    }
    const namespaces = /namespaces="([^"]*)"/.exec(options)?.[1];
    signers.push({
      principals: principals.split(',').map((p) => p.trim().toLowerCase()),
      key,
      ...(namespaces ? { namespaces: namespaces.split(',') } : {}),
    });
  });
  return signers;
}
