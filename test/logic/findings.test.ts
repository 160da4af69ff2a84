import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { deriveFindings } from '../../workflows/logic/findings.js';
import type { PodDescription } from '../../activities/kubernetes/types.js';
import type { RedisDiagnostics } from '../../activities/redis/types.js';
import type { Evidence, FindingId } from '../../workflows/logic/findings.js';
import { GiB, seedLimits, seedPod, seedRedis, testSettings } from '../workflows/fixtures.js';

const MiB = 1024 * 1024;
const thresholds = testSettings().thresholds;

/** A Redis with nothing to report: bounded well below the 2 GiB limit, room left, TTLs in place, quiet commands. */
function healthyRedis(): RedisDiagnostics {
  const seed = seedRedis();
  return seedRedis({
    memory: {
      usedMemory: 500 * MiB,
      usedMemoryRss: 560 * MiB,
      usedMemoryPeak: 600 * MiB,
      fragmentationRatio: 1.1,
      allocatorFragRatio: 1.02,
      maxmemory: 1536 * MiB,
      maxmemoryPolicy: 'volatile-lru',
    },
    config: { maxmemory: 1536 * MiB, maxmemoryPolicy: 'volatile-lru' },
    bigKeys: [{ key: 'dead', db: 0, type: 'zset', bytes: 3 * MiB, ttlSeconds: -1 }],
    prefixes: [{ prefix: 'stat:', keys: 5000, bytes: 400_000, keysWithoutTtl: 0 }],
    sidekiq: { ...seed.sidekiq!, dead: 100, retry: 20, statKeysWithoutTtl: 0, oldestDeadAgeSeconds: 86_400 },
    commands: { keys: 0, del: 10, delUsecPerCall: 3, monitor: 0, flushall: 0, flushdb: 0 },
    writable: true,
    writeError: undefined,
  });
}

function healthyPod(): PodDescription {
  const pod = seedPod();
  return {
    ...pod,
    ready: true,
    failedProbes: 0,
    containers: [{ name: 'redis', ready: true, restartCount: 0, state: { state: 'running' } }],
  };
}

/** A well set-up pod spec: probes with room for the load, request = limit, a pinned image, the data on a volume. */
function goodSpec(): NonNullable<PodDescription['spec']> {
  return {
    containers: [
      {
        name: 'redis',
        image: 'redis:7.0.15',
        memoryRequestBytes: 2048 * MiB,
        memoryLimitBytes: 2048 * MiB,
        liveness: {
          kind: 'tcpSocket',
          initialDelaySeconds: 60,
          periodSeconds: 10,
          timeoutSeconds: 1,
          failureThreshold: 3,
        },
        mounts: [{ volume: 'data', path: '/data', readOnly: false }],
      },
    ],
    volumes: [{ name: 'data', kind: 'persistentVolumeClaim', claim: 'data-redis-0' }],
    fsGroup: 999,
  };
}

/** Evidence with the pod's spec changed by `change`, Redis's data in /data and a last load of `loadSeconds`. */
function deployed(change: (s: NonNullable<PodDescription['spec']>) => void, loadSeconds = 20): Evidence {
  const spec = goodSpec();
  change(spec);
  return {
    ...evidence({ config: { ...healthyRedis().config, dir: '/data' } }),
    pod: { ...healthyPod(), spec },
    logs: { available: true, bytesRead: 1, signals: [], lastLines: [], loadSeconds },
  };
}

function evidence(redis: Partial<RedisDiagnostics> = {}, rest: Partial<Evidence> = {}): Evidence {
  return { pod: healthyPod(), limits: seedLimits(), redis: { ...healthyRedis(), ...redis }, ...rest };
}

const memory = (m: Partial<RedisDiagnostics['memory']>) => ({ memory: { ...healthyRedis().memory, ...m } });
const ids = (e: Evidence) => deriveFindings(e, thresholds).map((f) => f.id);
const finding = (e: Evidence, id: string) => deriveFindings(e, thresholds).find((f) => f.id === id);

void describe('deriveFindings', () => {
  void it('finds nothing in a healthy Redis', () => {
    assert.deepEqual(ids(evidence()), []);
  });

  const cases: Array<{ rule: FindingId; positive: Evidence; negatives: Array<[string, Evidence]> }> = [
    {
      rule: 'noeviction-near-limit',
      positive: evidence(memory({ usedMemory: 95 * MiB, maxmemory: 100 * MiB, maxmemoryPolicy: 'noeviction' })),
      negatives: [
        [
          'noeviction with room',
          evidence(memory({ usedMemory: 50 * MiB, maxmemory: 100 * MiB, maxmemoryPolicy: 'noeviction' })),
        ],
        ['near the limit with an eviction policy', evidence(memory({ usedMemory: 95 * MiB, maxmemory: 100 * MiB }))],
      ],
    },
    {
      rule: 'maxmemory-unbounded',
      positive: evidence(memory({ maxmemory: 0 })),
      negatives: [['bounded below the limit share', evidence()]],
    },
    {
      rule: 'maxmemory-above-limit-share',
      positive: evidence(memory({ maxmemory: 1900 * MiB })),
      negatives: [
        ['at the share exactly', evidence(memory({ maxmemory: 1536 * MiB }))],
        ['no container limit known', evidence(memory({ maxmemory: 1900 * MiB }), { limits: undefined })],
      ],
    },
    {
      rule: 'fragmentation-high',
      positive: evidence(memory({ usedMemory: 100 * MiB, usedMemoryRss: 400 * MiB, fragmentationRatio: 4 })),
      negatives: [
        [
          'high ratio on a tiny dataset',
          evidence(memory({ usedMemory: 10 * MiB, usedMemoryRss: 40 * MiB, fragmentationRatio: 4 })),
        ],
        [
          'big gap, ratio below threshold',
          evidence(memory({ usedMemory: 1000 * MiB, usedMemoryRss: 1400 * MiB, fragmentationRatio: 1.4 })),
        ],
      ],
    },
    {
      rule: 'no-ttl-prefix:Course#',
      positive: evidence({ prefixes: [{ prefix: 'Course#', keys: 200, bytes: 80 * MiB, keysWithoutTtl: 190 }] }),
      negatives: [
        [
          'too few keys to judge',
          evidence({ prefixes: [{ prefix: 'Course#', keys: 99, bytes: MiB, keysWithoutTtl: 99 }] }),
        ],
        [
          'most keys have a TTL',
          evidence({ prefixes: [{ prefix: 'Course#', keys: 200, bytes: MiB, keysWithoutTtl: 150 }] }),
        ],
      ],
    },
    {
      rule: 'sidekiq-stat-no-ttl',
      positive: evidence({ sidekiq: { ...healthyRedis().sidekiq!, statKeysWithoutTtl: 10 } }),
      negatives: [['no Sidekiq at all', evidence({ sidekiq: undefined })]],
    },
    {
      rule: 'sidekiq-dead-large',
      positive: evidence({ sidekiq: { ...healthyRedis().sidekiq!, dead: 15_000, oldestDeadAgeSeconds: 60 * 86_400 } }),
      negatives: [['at the limit', evidence({ sidekiq: { ...healthyRedis().sidekiq!, dead: 10_000 } })]],
    },
    {
      rule: 'liveness-kills-loading',
      positive: deployed((s) => (s.containers[0]!.liveness!.initialDelaySeconds = 5), 40),
      negatives: [
        ['a probe with room for the load', deployed(() => undefined, 20)],
        [
          'a startup probe guards the load',
          deployed((s) => (s.containers[0]!.startup = s.containers[0]!.liveness), 400),
        ],
      ],
    },
    {
      rule: 'memory-request-below-limit',
      positive: deployed((s) => (s.containers[0]!.memoryRequestBytes = 1024 * MiB)),
      negatives: [['request = limit', deployed(() => undefined)]],
    },
    {
      rule: 'image-latest',
      positive: deployed((s) => (s.containers[0]!.image = 'redis')),
      negatives: [
        ['a pinned tag', deployed(() => undefined)],
        ['a digest', deployed((s) => (s.containers[0]!.image = 'redis@sha256:abc'))],
      ],
    },
    {
      rule: 'sidecar-without-memory-limit',
      positive: deployed((s) =>
        s.containers.push({ name: 'exporter', image: 'oliver006/redis_exporter:v1.62.0', mounts: [] }),
      ),
      negatives: [
        [
          'a sidecar with a limit',
          deployed((s) =>
            s.containers.push({ name: 'exporter', image: 'e:1', memoryLimitBytes: 64 * MiB, mounts: [] }),
          ),
        ],
      ],
    },
    {
      rule: 'data-dir-not-on-volume',
      positive: deployed((s) => (s.containers[0]!.mounts = [{ volume: 'conf', path: '/etc/redis', readOnly: true }])),
      negatives: [['/data mounted', deployed(() => undefined)]],
    },
    {
      rule: 'client-buffers-large',
      positive: evidence({
        signals: {
          clientsMemory: 120 * MiB,
          maxmemoryClients: '0',
          largestOutputBuffer: { bytes: 90 * MiB, client: 'pubsub-reader (10.0.0.9:5512), last command subscribe' },
        },
      }),
      negatives: [
        ['small buffers', evidence({ signals: { clientsMemory: 2 * MiB } })],
        ['an older server', evidence({ signals: {} })],
      ],
    },
    {
      rule: 'memory-not-counted-for-evict',
      positive: evidence({ signals: { notCountedForEvict: 300 * MiB } }),
      negatives: [['a small AOF buffer', evidence({ signals: { notCountedForEvict: 1 * MiB } })]],
    },
    {
      rule: 'clients-evicted',
      positive: evidence({ signals: { evictedClients: 3, maxmemoryClients: '5%' } }),
      negatives: [['none evicted', evidence({ signals: { evictedClients: 0 } })]],
    },
    {
      rule: 'latency-spikes',
      positive: evidence({ signals: { latency: [{ event: 'fork', latestMs: 420, maxMs: 900 }] } }),
      negatives: [['small blips', evidence({ signals: { latency: [{ event: 'command', latestMs: 3, maxMs: 12 }] } })]],
    },
    {
      rule: 'sidekiq-dead-old',
      positive: evidence({ sidekiq: { ...healthyRedis().sidekiq!, dead: 500, oldestDeadAgeSeconds: 181 * 86_400 } }),
      negatives: [
        [
          'within the retention',
          evidence({ sidekiq: { ...healthyRedis().sidekiq!, oldestDeadAgeSeconds: 180 * 86_400 } }),
        ],
        ['an empty dead set', evidence({ sidekiq: { ...healthyRedis().sidekiq!, dead: 0 } })],
      ],
    },
    {
      rule: 'sidekiq-retry-large',
      positive: evidence({ sidekiq: { ...healthyRedis().sidekiq!, retry: 20_000 } }),
      negatives: [['a few retries', evidence({ sidekiq: { ...healthyRedis().sidekiq!, retry: 500 } })]],
    },
    {
      rule: 'big-key:2:blob',
      positive: evidence({ bigKeys: [{ key: 'blob', db: 2, type: 'string', bytes: 11 * MiB, ttlSeconds: -1 }] }),
      negatives: [
        [
          'below the size threshold',
          evidence({ bigKeys: [{ key: 'blob', db: 2, type: 'string', bytes: 9 * MiB, ttlSeconds: -1 }] }),
        ],
      ],
    },
    {
      rule: 'bgsave-failing',
      positive: evidence({ persistence: { ...healthyRedis().persistence, rdbLastBgsaveStatus: 'err' } }),
      negatives: [['ok', evidence({ persistence: { ...healthyRedis().persistence, rdbLastBgsaveStatus: 'ok' } })]],
    },
    {
      rule: 'aof-write-failing',
      positive: evidence({
        persistence: { ...healthyRedis().persistence, aofEnabled: true, aofLastWriteStatus: 'err' },
      }),
      negatives: [
        [
          'AOF off',
          evidence({ persistence: { ...healthyRedis().persistence, aofEnabled: false, aofLastWriteStatus: 'err' } }),
        ],
      ],
    },
    {
      rule: 'writes-rejected',
      positive: evidence({ writable: false, writeError: 'MISCONF Redis is configured to save RDB snapshots' }),
      negatives: [['writable', evidence({ writable: true })]],
    },
    {
      rule: 'evictions',
      positive: evidence({ stats: { ...healthyRedis().stats, evictedKeys: 12 } }),
      negatives: [['none evicted', evidence({ stats: { ...healthyRedis().stats, evictedKeys: 0 } })]],
    },
    {
      rule: 'connections-rejected',
      positive: evidence({ stats: { ...healthyRedis().stats, rejectedConnections: 3 } }),
      negatives: [['none rejected', evidence({ stats: { ...healthyRedis().stats, rejectedConnections: 0 } })]],
    },
    {
      rule: 'pod-oomkilled',
      positive: evidence(
        {},
        {
          pod: {
            ...healthyPod(),
            containers: [
              {
                ...healthyPod().containers[0]!,
                restartCount: 3,
                lastState: { state: 'terminated', reason: 'OOMKilled', exitCode: 137 },
              },
            ],
          },
        },
      ),
      negatives: [
        [
          'a clean restart',
          evidence(
            {},
            {
              pod: {
                ...healthyPod(),
                containers: [
                  {
                    ...healthyPod().containers[0]!,
                    restartCount: 1,
                    lastState: { state: 'terminated', reason: 'Completed', exitCode: 0 },
                  },
                ],
              },
            },
          ),
        ],
      ],
    },
    ...(['keys', 'monitor', 'flushall', 'flushdb'] as const).map((command) => ({
      rule: `command-${command}` as const,
      positive: evidence({ commands: { ...healthyRedis().commands!, [command]: 2 } }),
      negatives: [['never called', evidence()] as [string, Evidence]],
    })),
    {
      rule: 'command-del-slow',
      positive: evidence({ commands: { ...healthyRedis().commands!, del: 40, delUsecPerCall: 25_000 } }),
      negatives: [
        ['many fast DELs', evidence({ commands: { ...healthyRedis().commands!, del: 1_000_000, delUsecPerCall: 2 } })],
      ],
    },
  ];

  for (const c of cases) {
    void it(`${c.rule}: raised by its evidence alone`, () => {
      assert.deepEqual(ids(c.positive), [c.rule]);
      const f = finding(c.positive, c.rule)!;
      assert.ok(f.message.length > 20 && /[.]$/.test(f.message), 'a plain sentence');
      assert.ok(Object.keys(f.evidence).length > 0, 'with its figures');
    });
    for (const [why, negative] of c.negatives) {
      void it(`${c.rule}: not raised when ${why}`, () => {
        assert.ok(!ids(negative).includes(c.rule), ids(negative).join(', '));
      });
    }
  }

  void it('says how much room to leave below the container limit', () => {
    const unbounded = finding(evidence(memory({ maxmemory: 0 })), 'maxmemory-unbounded')!;
    assert.equal(unbounded.severity, 'critical');
    assert.match(
      unbounded.message,
      /at most 75\.0% of the limit \(1536\.0 MiB\), leaving 512\.0 MiB for fork copy-on-write/,
    );
    assert.equal(unbounded.evidence['suggestedMaxmemory'], 1536 * MiB);
    const noLimit = finding(evidence(memory({ maxmemory: 0 }), { limits: undefined }), 'maxmemory-unbounded')!;
    assert.equal(noLimit.severity, 'warning');
    assert.equal(
      finding(evidence(memory({ maxmemory: 1900 * MiB })), 'maxmemory-above-limit-share')?.severity,
      'warning',
    );
    const over = finding(evidence(memory({ maxmemory: 2 * GiB })), 'maxmemory-above-limit-share')!;
    assert.equal(over.severity, 'critical');
    assert.match(over.message, /leaving 512\.0 MiB/);
  });

  void it('tells a historical peak from live fragmentation', () => {
    const frag = { usedMemory: 100 * MiB, usedMemoryRss: 400 * MiB, fragmentationRatio: 4 };
    const peak = finding(evidence(memory({ ...frag, usedMemoryPeak: 900 * MiB })), 'fragmentation-high')!;
    assert.equal(peak.evidence['historicalPeak'], true);
    assert.match(peak.message, /peaked at 900\.0 MiB/);
    const live = finding(
      evidence(memory({ ...frag, usedMemoryPeak: 110 * MiB, allocatorFragRatio: 3.5 })),
      'fragmentation-high',
    )!;
    assert.equal(live.evidence['historicalPeak'], false);
    assert.match(live.message, /live fragmentation \(allocator_frag_ratio 3\.50\)/);
  });

  void it('names the failing job classes, and raises no age finding for runs whose settings predate the threshold', () => {
    const sk = {
      ...healthyRedis().sidekiq!,
      dead: 500,
      oldestDeadAgeSeconds: 300 * 86_400,
      failingClasses: [
        { name: 'WebhookDeliveryJob', dead: 120, retry: 30 },
        { name: 'MailerJob', dead: 20, retry: 2 },
      ],
    };
    assert.match(
      finding(evidence({ sidekiq: sk }), 'sidekiq-dead-old')!.message,
      /300 days, past the 180-day retention.*WebhookDeliveryJob \(120 dead, 30 retrying\), MailerJob/,
    );
    const older = { ...thresholds, sidekiqDeadMaxAgeDays: undefined };
    assert.equal(
      deriveFindings(evidence({ sidekiq: sk }), older).some((f) => f.id === 'sidekiq-dead-old'),
      false,
    );
  });

  void it('says which field to change and gives the patch for a liveness probe that kills Redis while it loads', () => {
    const e = deployed((s) => (s.containers[0]!.liveness!.initialDelaySeconds = 5), 40);
    const f = finding(e, 'liveness-kills-loading')!;
    assert.match(f.message, /gives Redis 35 s .* last load took 40 s/);
    assert.match(f.message, /initialDelaySeconds to 80/);
    assert.match(
      f.message,
      /kubectl patch statefulset\/redis -n cache --type json .*"\/spec\/template\/spec\/containers\/0\/livenessProbe\/initialDelaySeconds","value":80/,
    );
  });

  void it('names the client with the largest buffer, asks for maxmemory-clients, and explains a slow fork', () => {
    const buffers = finding(
      evidence({
        signals: {
          clientsMemory: 120 * MiB,
          maxmemoryClients: '0',
          largestOutputBuffer: { bytes: 90 * MiB, client: 'pubsub-reader (10.0.0.9:5512), last command subscribe' },
        },
      }),
      'client-buffers-large',
    )!;
    assert.match(buffers.message, /largest output buffer is 90.0 MiB, pubsub-reader .*maxmemory-clients is 0/);
    const fork = finding(
      evidence({ signals: { latency: [{ event: 'fork', latestMs: 420, maxMs: 900 }] } }),
      'latency-spikes',
    )!;
    assert.match(fork.message, /fork up to 900 ms.*a slow fork/);
  });

  void it('says how old the oldest dead job is', () => {
    const sk = { ...healthyRedis().sidekiq!, dead: 15_000, oldestDeadAgeSeconds: 60 * 86_400 + 5 };
    assert.match(finding(evidence({ sidekiq: sk }), 'sidekiq-dead-large')!.message, /oldest dead for 60 days/);
  });

  void it('reports an unreachable Redis and orders the findings most severe first', () => {
    assert.deepEqual(ids({ limits: seedLimits(), redisError: 'connect ECONNREFUSED' }), ['redis-unreachable']);
    const seed = deriveFindings({ pod: seedPod(), limits: seedLimits(), redis: seedRedis() }, thresholds);
    const order = { critical: 0, warning: 1, info: 2 };
    assert.deepEqual(
      seed.map((f) => order[f.severity]),
      seed.map((f) => order[f.severity]).sort((a, b) => a - b),
    );
    for (const id of ['pod-oomkilled', 'noeviction-near-limit', 'writes-rejected', 'sidekiq-stat-no-ttl']) {
      assert.ok(
        seed.some((f) => f.id === id),
        id,
      );
    }
  });

  void it('is pure: equal evidence, equal findings', () => {
    const e = evidence({ writable: false, writeError: 'OOM' });
    assert.deepEqual(deriveFindings(e, thresholds), deriveFindings(structuredClone(e), thresholds));
  });
});
