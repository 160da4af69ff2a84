/**
 * The worker side of the Cluster kill test: one cleanup, run as an activity of a fixed run (so each new process finds
 * the markers of the killed ones), its result printed as JSON. Argument: the JSON of `applyRedisAction`'s input.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { createRedisActivities } from '../../activities/redis/index.js';
import { suiteConnector } from './suite-connector.js';

const input = JSON.parse(process.argv[2] ?? '{}') as Parameters<
  ReturnType<typeof createRedisActivities>['applyRedisAction']
>[0];
const env = new MockActivityEnvironment({ workflowExecution: { workflowId: 'redis-runbook-KILL', runId: 'run-1' } });
const result = await env.run(() => createRedisActivities(suiteConnector()).applyRedisAction(input));
process.stdout.write(JSON.stringify(result));
process.exit(0);
