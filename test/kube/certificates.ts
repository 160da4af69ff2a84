/** Throwaway TLS material for a test API server, made with the `openssl` command line (OpenSSL 3). */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Files written by {@link generateCertificates}, all in one directory. */
export interface TestCertificates {
  /** CA that signed the serving certificate; clients trust it, the API server verifies client certs with it. */
  caCert: string;
  caKey: string;
  /** PEM text of the CA, for kubeconfigs' `certificate-authority-data`. */
  caPem: string;
  /** Serving certificate for 127.0.0.1 and localhost (kube-apiserver and kwok's kubelet endpoint share it). */
  servingCert: string;
  servingKey: string;
  /** Key pair that signs and verifies service-account tokens. */
  serviceAccountKey: string;
  serviceAccountPub: string;
  /** `--token-auth-file`: one admin user in `system:masters`. */
  tokenFile: string;
  adminToken: string;
}

async function openssl(args: string[], dir: string): Promise<void> {
  try {
    await run('openssl', args, { cwd: dir });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT')
      throw new Error('openssl not found: install it (Debian: apt-get install openssl)', { cause: err });
    throw new Error(`openssl ${args[0] ?? ''} failed: ${e.stderr ?? e.message}`, { cause: err });
  }
}

/** Writes a CA, a serving certificate for the loopback address, a service-account key pair and a token file. */
export async function generateCertificates(dir: string): Promise<TestCertificates> {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await openssl(
    [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '2',
      '-subj',
      '/CN=redis-runbook-test-ca',
    ].concat(['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']),
    dir,
  );
  await openssl(
    ['req', '-x509', '-CA', 'ca.crt', '-CAkey', 'ca.key', ...ec, '-keyout', 'serving.key', '-out', 'serving.crt']
      .concat(['-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'])
      .concat(['-addext', 'extendedKeyUsage=serverAuth', '-addext', 'basicConstraints=CA:FALSE']),
    dir,
  );
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'sa.key'], dir);
  await openssl(['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
  const adminToken = randomBytes(24).toString('hex');
  const tokenFile = join(dir, 'tokens.csv');
  await writeFile(tokenFile, `${adminToken},admin,admin-uid,"system:masters"\n`, { mode: 0o600 });
  return {
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    caPem: await readFile(join(dir, 'ca.crt'), 'utf8'),
    servingCert: join(dir, 'serving.crt'),
    servingKey: join(dir, 'serving.key'),
    serviceAccountKey: join(dir, 'sa.key'),
    serviceAccountPub: join(dir, 'sa.pub'),
    tokenFile,
    adminToken,
  };
}
