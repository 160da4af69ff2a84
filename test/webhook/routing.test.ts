import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IncidentAlert } from '../../activities/pagerduty/index.js';
import { cleanupFromDetails, routeIncident } from '../../activities/pagerduty/routing.js';

const service = { id: 'PSVC1', namespace: 'cache', redis: { host: 'redis.cache', port: 6379 } };
const targets = [
  {
    name: 'cache',
    namespace: 'cache',
    pod: 'redis-0',
    redis: { host: 'redis-0.cache', port: 6379 },
    cleanup: ['sess:tmp:*'],
  },
];
const alert = (details: unknown) => ({ body: { details } }) as unknown as IncidentAlert;

describe('routing: cleanup patterns', () => {
  it('joins the target’s configured patterns and the alert’s, once each', () => {
    const route = routeIncident(
      { id: 'P1', service: { id: 'PSVC1' } },
      [alert({ pod: 'redis-0', cleanup: ['cache:tmp:*', 'sess:tmp:*'] })],
      [service],
      targets,
    );
    assert.equal(route.kind, 'routed');
    assert.deepEqual(route.kind === 'routed' && route.cleanup, ['sess:tmp:*', 'cache:tmp:*']);
  });

  it('reads a string or a list, and ignores anything else', () => {
    assert.deepEqual(cleanupFromDetails({ cleanup: 'a:b:*' }), ['a:b:*']);
    assert.deepEqual(cleanupFromDetails({ cleanup: ['a:b:*', 3, '', 'x'.repeat(201)] }), ['a:b:*']);
    assert.deepEqual(cleanupFromDetails({ cleanup: { pattern: 'a:*' } }), []);
    assert.deepEqual(cleanupFromDetails('cleanup'), []);
  });
});
