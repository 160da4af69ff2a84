/**
 * The Redis suites once more with every activity connecting as the runbook's own ACL user, whose rules are exactly
 * `runbookAclRules('remediate')` (each server started with it): a command the code uses that the documented rule does
 * not grant fails here, not in a production run. The suites' own setup keeps the `default` user.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RUNBOOK_USER_ENV } from '../../local-servers/redis-server.js';
import { REDIS_SUITES, runSuitePass } from './suite-pass.js';

describe('the Redis suites as the runbook ACL user', () => {
  it('pass with only the documented rule', async () => {
    // redis-acl.test.js sets up users of its own: it proves the profiles one by one already.
    const suites = REDIS_SUITES.filter((s) => s !== 'redis-acl.test.js');
    const result = await runSuitePass(suites, { [RUNBOOK_USER_ENV]: 'remediate' });
    console.log(`# as the runbook user: pass ${result.pass}, fail ${result.fail}`);
    assert.ok(result.fail >= 0, `the child run printed no summary:\n${result.tail}`);
    assert.equal(result.fail, 0, result.failures.join('\n'));
    assert.ok(result.pass > 50, 'the suites ran');
  });
});
