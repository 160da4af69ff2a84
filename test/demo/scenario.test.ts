import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { demoScenarioPath, loadScenario } from '../../local-servers/simulated-cluster/index.js';
import { classifyLogs } from '../../workflows/logic/classify-logs.js';

void describe('demo scenario oomkilled-redis', () => {
  void it('is valid and shows the seeded crash', () => {
    const scenario = loadScenario(demoScenarioPath('oomkilled-redis'));
    const pod = scenario.pods.find((p) => p.metadata.name === 'redis-0');
    assert.equal(pod?.metadata.namespace, 'cache');
    const status = pod?.status?.containerStatuses?.[0];
    assert.equal(status?.restartCount, 14);
    assert.equal(status?.state?.waiting?.reason, 'CrashLoopBackOff');
    assert.equal(status?.lastState?.terminated?.reason, 'OOMKilled');
    assert.equal(status?.lastState?.terminated?.exitCode, 137);
    assert.deepEqual(pod?.spec.containers[0]?.resources?.limits, { memory: '2Gi' });
    assert.equal(pod?.metadata.ownerReferences?.[0]?.kind, 'StatefulSet');
    assert.ok(scenario.statefulSets.some((s) => s.metadata.name === 'redis'));
    const reasons = new Set(scenario.events.map((e) => e.reason));
    for (const reason of ['BackOff', 'Unhealthy', 'OOMKilling', 'Killing', 'Pulled', 'Started']) {
      assert.ok(reasons.has(reason), `event ${reason}`);
    }
  });

  void it('has a previous log whose classification finds the fork failure', () => {
    const scenario = loadScenario(demoScenarioPath('oomkilled-redis.yaml'));
    const log = scenario.previousLogs['cache/redis-0/redis'] ?? '';
    const signals = classifyLogs(log).signals.map((s) => s.signal);
    assert.deepEqual(signals, ['fork-cannot-allocate-memory']);
    assert.match(log, /Background saving error/);
  });

  void it('says clearly when a demo scenario does not exist', () => {
    assert.throws(() => demoScenarioPath('nope'), /no demo scenario "nope.yaml"/);
  });
});
