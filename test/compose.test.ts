import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { allSearchAttributeKeys } from '../workflows/definitions.js';
import { ENV_VARS } from '../config/environment.js';
import { loadConfig } from '../config/runbook-config.js';
import { WEBHOOK_ENV_VARS } from '../webhook/from-env.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  environment?: Record<string, string | null> | string[];
  env_file?: string | string[];
  volumes?: Array<string | { type?: string; source?: string; target?: string }>;
}

function envOf(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((e) => [e.split('=')[0]!, e.slice(e.indexOf('=') + 1)]));
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v ?? '']));
}

/** The values compose would use with nothing set in the shell: `${VAR:-default}` → `default`. */
function withShellDefaults(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1')]));
}

/** Bind mounts as [host path, container path]; named volumes are skipped. */
function bindMounts(service: Service): Array<[string, string]> {
  return (service.volumes ?? []).flatMap((v): Array<[string, string]> => {
    if (typeof v === 'string') {
      const [source, target] = v.split(':');
      if (!source || !target || !(source.startsWith('.') || source.startsWith('/'))) return [];
      return [[source, target]];
    }
    return v.type === 'bind' && v.source && v.target ? [[v.source, v.target]] : [];
  });
}

/** The repository file a container path maps to through the service's bind mounts. */
function hostPathOf(service: Service, containerPath: string): string | undefined {
  for (const [source, target] of bindMounts(service)) {
    const rel = relative(target, containerPath);
    if (!rel.startsWith('..') && !isAbsolute(rel)) return join(resolve(repoRoot, source), rel);
  }
  return undefined;
}

void describe('docker-compose.yml', () => {
  let services: Record<string, Service>;

  before(async () => {
    const doc = parse(await readFile(join(repoRoot, 'docker-compose.yml'), 'utf8')) as {
      services: Record<string, Service>;
    };
    services = doc.services;
  });

  void it('has the temporal, redis and worker services', () => {
    for (const name of ['temporal', 'redis', 'worker']) assert.ok(services[name], `service ${name}`);
  });

  void it('names only build contexts, Dockerfiles, bind-mount sources and env files that exist', () => {
    for (const [name, service] of Object.entries(services)) {
      if (service.build) {
        const build = typeof service.build === 'string' ? { context: service.build } : service.build;
        const context = resolve(repoRoot, build.context ?? '.');
        assert.ok(existsSync(context) && statSync(context).isDirectory(), `${name}: build context ${context}`);
        const dockerfile = join(context, build.dockerfile ?? 'Dockerfile');
        assert.ok(existsSync(dockerfile), `${name}: ${dockerfile}`);
      }
      for (const [source] of bindMounts(service)) {
        assert.ok(existsSync(resolve(repoRoot, source)), `${name}: bind-mount source ${source}`);
      }
      const envFiles = service.env_file === undefined ? [] : [service.env_file].flat();
      for (const file of envFiles) assert.ok(existsSync(resolve(repoRoot, file)), `${name}: env_file ${file}`);
    }
  });

  void it('gives the worker only variables config/environment.ts reads, and the files they name exist', async () => {
    const worker = services.worker!;
    const env = envOf(worker);
    const known = new Set<string>(ENV_VARS);
    for (const name of Object.keys(env))
      assert.ok(known.has(name), `worker sets ${name}, which the worker never reads`);
    for (const name of ['TEMPORAL_ADDRESS', 'RUNBOOK_CONFIG', 'KUBECONFIG'])
      assert.ok(env[name], `worker sets ${name}`);
    assert.equal(env.TEMPORAL_ADDRESS, 'temporal:7233');

    const configFile = hostPathOf(worker, env.RUNBOOK_CONFIG!);
    const kubeconfig = hostPathOf(worker, env.KUBECONFIG!);
    assert.ok(configFile && existsSync(configFile), `RUNBOOK_CONFIG ${env.RUNBOOK_CONFIG} is mounted from the repo`);
    assert.ok(kubeconfig && existsSync(kubeconfig), `KUBECONFIG ${env.KUBECONFIG} is mounted from the repo`);
    // The worker would accept this configuration: same variables, with the container paths mapped to the repo.
    const cfg = await loadConfig({
      ...withShellDefaults(env),
      REDIS_PASSWORD: '',
      RUNBOOK_CONFIG: configFile,
      KUBECONFIG: kubeconfig,
    });
    assert.equal(cfg.temporal.address, 'temporal:7233');
    assert.ok(cfg.approval.approvers.length > 0);
  });

  void it('runs the PagerDuty receiver on demand with only variables it reads, secrets from the shell', async () => {
    const webhook = services.webhook!;
    assert.deepEqual(webhook.command, ['webhook']);
    const env = envOf(webhook);
    const known = new Set<string>(WEBHOOK_ENV_VARS);
    for (const name of Object.keys(env)) assert.ok(known.has(name), `webhook sets ${name}, which it never reads`);
    for (const secret of ['PAGERDUTY_WEBHOOK_SECRET', 'PAGERDUTY_API_TOKEN']) {
      assert.match(env[secret] ?? '', /^\$\{[A-Z_]+:-\}$/, `${secret} comes from the shell, never the file`);
    }
    assert.equal(
      envOf(services.worker!).PAGERDUTY_WEBHOOK_SECRET,
      undefined,
      'the worker never gets the signing secret',
    );
    const configFile = hostPathOf(webhook, env.RUNBOOK_CONFIG!);
    assert.ok(configFile && existsSync(configFile));
    const cfg = await loadConfig({ RUNBOOK_CONFIG: configFile });
    assert.ok(Array.isArray(cfg.pagerduty.services));
  });

  void it('registers exactly the runbook search attributes, as Keyword, on the dev server', () => {
    const command = services.temporal!.command;
    const args = Array.isArray(command) ? command : (command ?? '').split(/\s+/);
    const registered = args.flatMap((arg, i) => (args[i - 1] === '--search-attribute' ? [arg] : []));
    assert.deepEqual(registered.sort(), allSearchAttributeKeys.map((k) => `${k.name}=Keyword`).sort());
    assert.ok(allSearchAttributeKeys.every((k) => k.type === 'KEYWORD'));
  });

  void it('builds an image whose entry point is the compiled CLI', async () => {
    const dockerfile = await readFile(join(repoRoot, 'Dockerfile'), 'utf8');
    assert.match(dockerfile, /^ENTRYPOINT \["node", "dist\/cli\/main\.js"\]$/m);
    assert.match(dockerfile, /^USER (?!root)\S+$/m);
    assert.ok(existsSync(join(repoRoot, 'package-lock.json')), 'npm ci needs the lock file');
  });
});
