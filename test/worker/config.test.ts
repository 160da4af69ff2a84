import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTemporalSettings } from '../../config/environment.js';
import { ConfigError } from '../../config/errors.js';
import { loadConfig, settingsFromConfig } from '../../config/runbook-config.js';
import { deploymentBuildId } from '../../worker/deployment.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

void describe('loadConfig', () => {
  let dir: string;
  const file = async (name: string, text: string) => {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  };
  const rejectsWith = async (env: NodeJS.ProcessEnv, expected: string[]) => {
    await assert.rejects(loadConfig(env), (err: unknown) => {
      assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
      for (const line of expected) assert.ok(err.issues.includes(line), `missing "${line}" in:\n${err.message}`);
      return true;
    });
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'runbook-config-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  void it('uses development defaults without RUNBOOK_CONFIG, and warns', async () => {
    const cfg = await loadConfig({});
    assert.deepEqual(cfg.temporal, {
      address: 'localhost:7233',
      namespace: 'default',
      taskQueue: 'redis-runbook',
      uiUrl: 'http://localhost:8233',
    });
    assert.deepEqual(cfg.approval, {
      approvers: ['*'],
      requireDifferentApprover: true,
      timeoutSeconds: 3600,
      reminderIntervalSeconds: 900,
      onTimeout: 'reject',
      requireProof: false,
      acceptProofs: ['ssh', 'pagerduty', 'slack'],
    });
    assert.deepEqual(cfg.cooldown, { maxRemediations: 3, windowSeconds: 3600 });
    assert.deepEqual(cfg.verify, { windowSeconds: 300, intervalSeconds: 30 });
    assert.deepEqual(cfg.thresholds, {
      memoryNearLimitRatio: 0.9,
      maxmemoryShareOfLimit: 0.75,
      fragmentationRatio: 1.5,
      bigKeyBytes: 10 * 1024 * 1024,
      statKeyTtlSeconds: 90 * 24 * 3600,
      sidekiqDeadMax: 10_000,
      sidekiqDeadMaxAgeDays: 180,
      maxKeysPerAction: 100_000,
      cleanupP99TargetMs: 5,
      scanP99TargetMs: 5,
    });
    assert.deepEqual(cfg.redis, { passwordEnv: 'REDIS_PASSWORD', usernameEnv: 'REDIS_USERNAME', tls: false });
    assert.deepEqual(cfg.targets, []);
    assert.equal(cfg.logLevel, 'info');
    assert.equal(cfg.configFile, undefined);
    assert.match(cfg.warnings.join('\n'), /RUNBOOK_CONFIG is not set/);
  });

  void it('reads the environment, trims the UI URL and treats empty variables as unset', async () => {
    const cfg = await loadConfig({
      TEMPORAL_ADDRESS: 'temporal:7233',
      TEMPORAL_NAMESPACE: 'ops',
      RUNBOOK_TASK_QUEUE: 'q',
      TEMPORAL_UI_URL: 'https://temporal.example.com/',
      LOG_LEVEL: 'debug',
      KUBECONFIG: '',
    });
    assert.deepEqual(cfg.temporal, {
      address: 'temporal:7233',
      namespace: 'ops',
      taskQueue: 'q',
      uiUrl: 'https://temporal.example.com',
    });
    assert.equal(cfg.logLevel, 'debug');
    assert.equal(cfg.kubeconfig, undefined);
  });

  void it('names the variable of a malformed environment value', async () => {
    await rejectsWith({ TEMPORAL_ADDRESS: 'http://x' }, ['TEMPORAL_ADDRESS: expected host:port, e.g. localhost:7233']);
    assert.throws(() => loadTemporalSettings({ LOG_LEVEL: 'info', TEMPORAL_UI_URL: 'nope' }), /TEMPORAL_UI_URL/);
  });

  void it('turns Worker Deployment Versioning on with a deployment name, and refuses names Temporal cannot take', async () => {
    assert.equal((await loadConfig({})).deployment, undefined, 'unversioned by default');
    assert.deepEqual((await loadConfig({ RUNBOOK_DEPLOYMENT_NAME: 'redis-runbook' })).deployment, {
      deploymentName: 'redis-runbook',
      promote: false,
    });
    assert.deepEqual(
      (await loadConfig({ RUNBOOK_DEPLOYMENT_NAME: 'rr', RUNBOOK_BUILD_ID: '0.2.0', RUNBOOK_PROMOTE_VERSION: 'true' }))
        .deployment,
      { deploymentName: 'rr', buildId: '0.2.0', promote: true },
    );
    // A dot separates the deployment name from the build id in a version string.
    await rejectsWith({ RUNBOOK_DEPLOYMENT_NAME: 'redis.runbook' }, [
      'RUNBOOK_DEPLOYMENT_NAME: expected letters, digits, - or _ (no dots), e.g. redis-runbook',
    ]);
    await rejectsWith({ RUNBOOK_DEPLOYMENT_NAME: 'rr', RUNBOOK_PROMOTE_VERSION: 'yes' }, [
      'RUNBOOK_PROMOTE_VERSION: expected true or false',
    ]);
    assert.match(deploymentBuildId(undefined, 'bundle-0123456789abcdef'), /^\d+\.\d+\.\d+-bundle-0123456789abcdef$/);
    assert.equal(deploymentBuildId('0.2.0', 'bundle-0123456789abcdef'), '0.2.0');
  });

  void it('reads a valid file, fills defaults, and never holds a password', async () => {
    const path = await file(
      'valid.yaml',
      [
        'approval:',
        '  approvers: [lead@example.com, " sre@example.com "]',
        '  onTimeout: escalate',
        'verify: { windowSeconds: 60, intervalSeconds: 10 }',
        'thresholds: { bigKeyBytes: 1024 }',
        'redis: { tls: true }',
        'targets:',
        '  - { name: s, namespace: cache, pod: r-0, redis: { host: r.cache, port: 6380, db: 2 }, passwordEnv: S_PW }',
      ].join('\n'),
    );
    const cfg = await loadConfig({ RUNBOOK_CONFIG: path, REDIS_PASSWORD: 'hunter2', S_PW: 'secret' });
    assert.equal(cfg.configFile, path);
    assert.deepEqual(cfg.approval.approvers, ['lead@example.com', 'sre@example.com']);
    assert.equal(cfg.approval.onTimeout, 'escalate');
    assert.equal(cfg.approval.requireDifferentApprover, true);
    assert.equal(cfg.approval.timeoutSeconds, 3600);
    assert.deepEqual(cfg.verify, { windowSeconds: 60, intervalSeconds: 10 });
    assert.equal(cfg.thresholds.bigKeyBytes, 1024);
    assert.equal(cfg.thresholds.maxKeysPerAction, 100_000);
    assert.deepEqual(cfg.redis, { passwordEnv: 'REDIS_PASSWORD', usernameEnv: 'REDIS_USERNAME', tls: true });
    assert.deepEqual(cfg.targets, [
      { name: 's', namespace: 'cache', pod: 'r-0', redis: { host: 'r.cache', port: 6380, db: 2 }, passwordEnv: 'S_PW' },
    ]);
    assert.equal(cfg.approval.requireProof, true, 'with a file, decisions need a proof unless it says otherwise');
    assert.deepEqual(cfg.warnings, [
      `backup.directory is not set: copies of the snapshots go to ${cfg.backup.directory}, which does not outlive this machine; point it at a persistent volume`,
      'approval.requireProof is on and no allowed_signers are configured: only gateway proofs (PagerDuty) can count',
    ]);
    assert.equal(cfg.backup.keep, 5);
    const serialized = JSON.stringify(cfg);
    assert.ok(!serialized.includes('hunter2') && !serialized.includes('secret'));

    const settings = settingsFromConfig(cfg);
    assert.deepEqual(Object.keys(settings).sort(), [
      'approval',
      'cooldown',
      'namespace',
      'temporalUiUrl',
      'thresholds',
      'verify',
    ]);
    assert.equal(settings.namespace, 'default');
    assert.equal(settings.temporalUiUrl, 'http://localhost:8233');
  });

  void it('warns when a password variable named by the file is not set', async () => {
    const path = await file('pwenv.yaml', 'approval: { approvers: ["*"] }\nredis: { passwordEnv: OTHER_PW }\n');
    const cfg = await loadConfig({ RUNBOOK_CONFIG: path });
    assert.ok(
      cfg.warnings.some((w) => w.startsWith('OTHER_PW is not set')),
      cfg.warnings.join('\n'),
    );
    assert.ok(cfg.warnings.some((w) => w.includes('anyone may approve')));
  });

  void it('rejects an unknown key, naming the key, the file and the key it was probably meant to be', async () => {
    const path = await file('typo.yaml', 'approval:\n  approvers: ["*"]\n  timeoutSecond: 60\nthreshold: {}\nfoo: 1\n');
    await rejectsWith({ RUNBOOK_CONFIG: path }, [
      `RUNBOOK_CONFIG ${path}: approval: unknown key \`timeoutSecond\` — did you mean \`timeoutSeconds\`?`,
      `RUNBOOK_CONFIG ${path}: unknown key \`threshold\` — did you mean \`thresholds\`?`,
      `RUNBOOK_CONFIG ${path}: unknown key \`foo\` (known keys: approval, verify, thresholds, cooldown, backup, targets, redis, pagerduty)`,
    ]);
  });

  void it('names a typo that replaces a required key instead of calling the key missing', async () => {
    const cases: Array<[string, string, string[]]> = [
      ['aproval.yaml', 'aproval:\n  approvers: ["*"]\n', ['unknown key `aproval` — did you mean `approval`?']],
      [
        'approverz.yaml',
        'approval:\n  approverz: ["*"]\n',
        ['approval: unknown key `approverz` — did you mean `approvers`?'],
      ],
      [
        'hots.yaml',
        'approval: { approvers: ["*"] }\ntargets:\n  - { name: a, namespace: n, pod: p, redis: { hots: h, port: 6379 } }\n',
        ['targets[0].redis: unknown key `hots` — did you mean `host`?'],
      ],
    ];
    for (const [name, text, expected] of cases) {
      const path = await file(name, text);
      await assert.rejects(loadConfig({ RUNBOOK_CONFIG: path }), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(
          err.issues,
          expected.map((e) => `RUNBOOK_CONFIG ${path}: ${e}`),
          'the typo alone, not also "required"',
        );
        return true;
      });
    }
  });

  void it('takes cleanup patterns per target and refuses one that matches everything', async () => {
    const target = (cleanup: string) =>
      `approval: { approvers: ["*"] }\ntargets:\n  - { name: a, namespace: n, pod: p, redis: { host: h, port: 6379 }, cleanup: [${cleanup}] }\n`;
    const ok = await loadConfig({ RUNBOOK_CONFIG: await file('cleanup.yaml', target('"sess:tmp:*"')) });
    assert.deepEqual(ok.targets[0]?.cleanup, ['sess:tmp:*']);
    const path = await file('broad.yaml', target('"*"'));
    await rejectsWith({ RUNBOOK_CONFIG: path }, [
      `RUNBOOK_CONFIG ${path}: targets[0].cleanup[0]: pattern "*" is too broad: it needs at least 3 literal characters before any glob character`,
    ]);
  });

  void it('rejects a bad type or value, naming its path', async () => {
    const path = await file(
      'bad.yaml',
      [
        'approval:',
        '  approvers: [not-an-email]',
        '  timeoutSeconds: -5',
        '  onTimeout: ignore',
        'thresholds: { memoryNearLimitRatio: 1.5 }',
        'targets:',
        '  - { name: a, namespace: n, pod: p, redis: { host: h, port: "6379" }, passwordEnv: "hunter2!" }',
      ].join('\n'),
    );
    await rejectsWith({ RUNBOOK_CONFIG: path }, [
      `RUNBOOK_CONFIG ${path}: approval.approvers[0]: expected an email or "*"`,
      `RUNBOOK_CONFIG ${path}: approval.timeoutSeconds: expected a positive number`,
      `RUNBOOK_CONFIG ${path}: approval.onTimeout: expected "reject" or "escalate"`,
      `RUNBOOK_CONFIG ${path}: thresholds.memoryNearLimitRatio: expected a number between 0 and 1`,
      `RUNBOOK_CONFIG ${path}: targets[0].redis.port: expected a port number`,
      `RUNBOOK_CONFIG ${path}: targets[0].passwordEnv: expected the name of an environment variable (letters, digits, _), not its value`,
    ]);
  });

  void it('takes an S3 bucket for the backups (no directory warning then) and refuses a bad bucket or endpoint', async () => {
    const good = await file(
      's3.yaml',
      [
        'approval: { approvers: [a@example.com] }',
        'backup:',
        '  keep: 3',
        '  s3: { bucket: acme-redis-backups, prefix: runbook/, endpoint: "https://minio.storage:9000", forcePathStyle: true }',
      ].join('\n'),
    );
    const cfg = await loadConfig({ RUNBOOK_CONFIG: good });
    assert.deepEqual(cfg.backup.s3, {
      bucket: 'acme-redis-backups',
      prefix: 'runbook/',
      endpoint: 'https://minio.storage:9000',
      forcePathStyle: true,
    });
    assert.equal(cfg.backup.keep, 3);
    assert.ok(!cfg.warnings.some((w) => w.startsWith('backup.directory')), cfg.warnings.join('\n'));
    const bad = await file(
      's3-bad.yaml',
      [
        'approval: { approvers: [a@example.com] }',
        'backup: { s3: { bucket: Not_A_Bucket, endpoint: "ftp://x" } }',
      ].join('\n'),
    );
    await rejectsWith({ RUNBOOK_CONFIG: bad }, [
      `RUNBOOK_CONFIG ${bad}: backup.s3.bucket: expected an S3 bucket name`,
      `RUNBOOK_CONFIG ${bad}: backup.s3.endpoint: expected an http(s) URL`,
    ]);
  });

  void it('requires approvers in a file, and refuses an empty list', async () => {
    const none = await file('none.yaml', 'verify: { windowSeconds: 60 }\n');
    await rejectsWith({ RUNBOOK_CONFIG: none }, [
      `RUNBOOK_CONFIG ${none}: approval.approvers: required: list the emails allowed to approve, or "*" for anyone`,
    ]);
    const empty = await file('empty.yaml', 'approval: { approvers: [] }\n');
    await rejectsWith({ RUNBOOK_CONFIG: empty }, [
      `RUNBOOK_CONFIG ${empty}: approval.approvers: empty, so nobody could approve: list the emails allowed to approve, or "*" for anyone`,
    ]);
  });

  void it('refuses duplicate target names and an interval longer than the window', async () => {
    const path = await file(
      'dup.yaml',
      [
        'approval: { approvers: ["*"] }',
        'verify: { windowSeconds: 10, intervalSeconds: 30 }',
        'targets:',
        '  - { name: a, namespace: n, pod: p, redis: { host: h, port: 1 } }',
        '  - { name: a, namespace: n, pod: q, redis: { host: h, port: 2 } }',
      ].join('\n'),
    );
    await rejectsWith({ RUNBOOK_CONFIG: path }, [
      `RUNBOOK_CONFIG ${path}: verify.intervalSeconds: intervalSeconds must not exceed windowSeconds`,
      `RUNBOOK_CONFIG ${path}: targets[1].name: duplicate name "a"`,
    ]);
  });

  void it('takes a Sentinel-managed target and TLS files; a certificate without its key is refused', async () => {
    const ok = await file(
      'sentinel.yaml',
      [
        'approval: { approvers: [lead@example.com] }',
        'redis: { tls: true, tlsCaFile: /etc/redis-tls/ca.crt, tlsCertFile: /etc/redis-tls/tls.crt, tlsKeyFile: /etc/redis-tls/tls.key }',
        'targets:',
        '  - name: s',
        '    namespace: cache',
        '    pod: redis-node-0',
        '    redis:',
        '      host: redis.cache',
        '      port: 6379',
        '      sentinel: { masterName: mymaster, nodes: [{ host: redis.cache, port: 26379 }] }',
      ].join('\n'),
    );
    const cfg = await loadConfig({ RUNBOOK_CONFIG: ok });
    assert.deepEqual(cfg.targets[0]?.redis.sentinel, {
      masterName: 'mymaster',
      nodes: [{ host: 'redis.cache', port: 26379 }],
    });
    assert.equal(cfg.redis.tlsKeyFile, '/etc/redis-tls/tls.key');
    const half = await file(
      'half.yaml',
      ['approval: { approvers: [lead@example.com] }', 'redis: { tls: true, tlsCertFile: /etc/redis-tls/tls.crt }'].join(
        '\n',
      ),
    );
    await assert.rejects(loadConfig({ RUNBOOK_CONFIG: half }), /tlsKeyFile.*tlsCertFile and tlsKeyFile go together/s);
  });

  void it('reports a YAML syntax error with its line', async () => {
    const path = await file('syntax.yaml', 'approval:\n  approvers: [a@b.c\n');
    await assert.rejects(loadConfig({ RUNBOOK_CONFIG: path }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, new RegExp(`^RUNBOOK_CONFIG ${path}: line \\d+, column \\d+: `));
      return true;
    });
  });

  void it('reports a missing file and a missing kubeconfig', async () => {
    const missing = join(dir, 'absent.yaml');
    await rejectsWith({ RUNBOOK_CONFIG: missing }, [`RUNBOOK_CONFIG ${missing}: cannot read: file not found`]);
    const kube = join(dir, 'absent-kubeconfig');
    await rejectsWith({ KUBECONFIG: kube }, [`KUBECONFIG ${kube}: file not found or not readable`]);
  });

  void it('accepts the example file and the compose file shipped in config/', async () => {
    for (const name of ['runbook.example.yaml', 'runbook.yaml']) {
      const cfg = await loadConfig({ RUNBOOK_CONFIG: join(repoRoot, 'config', name) });
      assert.ok(cfg.approval.approvers.length > 0, name);
    }
  });
});
