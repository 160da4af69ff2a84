import { createRedisConnector, type RedisConnector } from '../../activities/redis/index.js';
import { RUNBOOK_SUITE_USER, RUNBOOK_USER_ENV } from '../../local-servers/redis-server.js';

/**
 * The connector the Redis suites give the activities: the `default` user, or in the ACL pass (`RUNBOOK_USER_ENV` set)
 * the runbook's own user, which the servers then have with exactly the rules of `runbookAclRules`.
 */
export function suiteConnector(): RedisConnector {
  return process.env[RUNBOOK_USER_ENV] ? createRedisConnector(() => RUNBOOK_SUITE_USER) : createRedisConnector();
}
