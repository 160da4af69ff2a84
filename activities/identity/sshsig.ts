/**
 * Verifies an SSH signature in the format `ssh-keygen -Y sign` writes (OpenSSH's PROTOCOL.sshsig, the one git uses for
 * signed commits). The envelope is a few length-prefixed fields, read here; keys and the signature algorithms
 * (Ed25519, ECDSA, RSA-SHA2) are sshpk's.
 */
import { createHash } from 'node:crypto';
import sshpk from 'sshpk';

const MAGIC = Buffer.from('SSHSIG');
const ARMOR = /-----BEGIN SSH SIGNATURE-----([\s\S]*?)-----END SSH SIGNATURE-----/;

export interface SshSignature {
  key: sshpk.Key;
  namespace: string;
  hashAlgorithm: 'sha256' | 'sha512';
  /** The signature field: `string format, string blob`, as sshpk parses it. */
  signature: Buffer;
}

/** Reads length-prefixed (uint32 big-endian) strings off a buffer. */
class Reader {
  private at = 0;
  constructor(private readonly buf: Buffer) {}
  bytes(n: number): Buffer {
    if (this.at + n > this.buf.length) throw new Error('truncated SSH signature');
    const out = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
  uint32(): number {
    return this.bytes(4).readUInt32BE(0);
  }
  string(): Buffer {
    return this.bytes(this.uint32());
  }
}

function sshString(b: Buffer | string): Buffer {
  const data = typeof b === 'string' ? Buffer.from(b) : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  return Buffer.concat([len, data]);
}

/** @throws {Error} when `armored` is not an SSH signature this reads. */
export function parseSshSignature(armored: string): SshSignature {
  const body = ARMOR.exec(armored)?.[1];
  if (!body) throw new Error('not an SSH signature (expected -----BEGIN SSH SIGNATURE-----)');
  const r = new Reader(Buffer.from(body.replace(/\s+/g, ''), 'base64'));
  if (!r.bytes(6).equals(MAGIC)) throw new Error('not an SSH signature (no SSHSIG preamble)');
  const version = r.uint32();
  if (version !== 1) throw new Error(`unsupported SSH signature version ${version}`);
  const key = sshpk.parseKey(r.string(), 'rfc4253');
  const namespace = r.string().toString();
  r.string(); // reserved
  const hashAlgorithm = r.string().toString();
  if (hashAlgorithm !== 'sha256' && hashAlgorithm !== 'sha512')
    throw new Error(`unsupported SSH signature hash ${hashAlgorithm}`);
  return { key, namespace, hashAlgorithm, signature: r.string() };
}

/** The bytes an SSHSIG signature signs: the preamble, namespace, hash name and the hash of the message. */
function signedData(sig: SshSignature, message: string): Buffer {
  const digest = createHash(sig.hashAlgorithm).update(message).digest();
  return Buffer.concat([
    MAGIC,
    sshString(sig.namespace),
    sshString(''),
    sshString(sig.hashAlgorithm),
    sshString(digest),
  ]);
}

/** The hash the key's signature algorithm uses (the format name says it for RSA; ECDSA follows its curve). */
function algorithmHash(key: sshpk.Key, format: string): sshpk.AlgorithmHashType {
  if (key.type === 'rsa') return format === 'rsa-sha2-256' ? 'sha256' : 'sha512';
  if (key.type === 'ecdsa') return key.size === 256 ? 'sha256' : key.size === 384 ? 'sha384' : 'sha512';
  return 'sha512';
}

/** Whether `sig` is a valid signature of `message` by its own key (who the key belongs to is the caller's check). */
export function verifySshSignature(sig: SshSignature, message: string): boolean {
  const format = new Reader(sig.signature).string().toString();
  if (sig.key.type === 'rsa' && format === 'ssh-rsa') return false; // SHA-1: refused by ssh-keygen too
  let parsed: sshpk.Signature;
  try {
    parsed = sshpk.parseSignature(sig.signature, sig.key.type as sshpk.AlgorithmType, 'ssh');
  } catch {
    return false;
  }
  const verifier = sig.key.createVerify(algorithmHash(sig.key, format));
  verifier.update(signedData(sig, message));
  return verifier.verify(parsed);
}
