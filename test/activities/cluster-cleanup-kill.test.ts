/**
 * A Cluster cleanup whose worker dies with SIGKILL mid-way, several times (seeded: KILL_SEED), on one primary and
 * between primaries: the cap across the primaries holds exactly, the reported count is Redis's own, and no key
 * outside the pattern is touched.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster, Redis } from 'ioredis';
import { repoFile } from '../../local-servers/repo-path.js';
import { startRedisCluster, type RedisClusterServers } from '../../local-servers/redis-topology.js';
import type { ActionResult } from '../../workflows/logic/actions.js';
import { planned } from './planned-action.js';

const KEYS = 60_000;
const OTHERS = 1_000;
const CAP = 40_000;
const KILLS = 3;
const SEED = Number(process.env.KILL_SEED ?? 20261206);

describe('a Cluster cleanup survives SIGKILL of its worker (real processes, real Cluster)', () => {
  let cluster: RedisClusterServers;
  let nodes: Redis[];
  before(async () => {
    cluster = await startRedisCluster({ primaries: 3, replicasEach: 0 });
    nodes = cluster.primaries.map((p) => new Redis({ host: p.host, port: p.port }));
    const client = new Cluster([{ host: cluster.primaries[0]!.host, port: cluster.primaries[0]!.port }], {
      enableAutoPipelining: true,
    });
    try {
      for (const [prefix, n] of [
        ['kill:', KEYS],
        ['other:', OTHERS],
      ] as const) {
        for (let i = 0; i < n; i += 2000) {
          await Promise.all(
            Array.from({ length: Math.min(2000, n - i) }, (_, j) => client.set(`${prefix}${i + j}`, 'x'.repeat(40))),
          );
        }
      }
    } finally {
      client.disconnect();
    }
  });
  after(async () => {
    nodes?.forEach((n) => n.disconnect());
    await cluster?.stop();
  });

  const keysLeft = async () => (await Promise.all(nodes.map((n) => n.dbsize()))).reduce((a, b) => a + b, 0);
  const matching = async (pattern: string) => {
    let n = 0;
    for (const node of nodes)
      for await (const keys of node.scanStream({ match: pattern, count: 1000 })) n += keys.length;
    return n;
  };
  const worker = () => {
    const input = {
      redis: { host: cluster.primaries[1]!.host, port: cluster.primaries[1]!.port },
      action: planned('unlink-kill', { kind: 'unlink-keys', pattern: 'kill:*', maxKeys: CAP }),
    };
    const child = spawn(
      process.execPath,
      [repoFile('dist/test/activities/cluster-cleanup-child.js'), JSON.stringify(input)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { child, exited, output: () => out };
  };
  const kill = async (child: ChildProcess, exited: Promise<unknown>) => {
    child.kill('SIGKILL');
    await exited;
  };

  it(`killed ${KILLS} times mid-cleanup: exactly ${CAP} keys unlinked in all, the rest and the others untouched`, async (t) => {
    let random = SEED >>> 0;
    const next = () => ((random = (Math.imul(random, 1103515245) + 12345) >>> 0) % 1000) / 1000;
    const total = KEYS + OTHERS;
    const killedAt: number[] = [];
    for (let k = 1; k <= KILLS; k++) {
      // Somewhere in the k-th quarter of the cap: on the first primary, at a border, on a later one.
      const threshold = Math.round(CAP * ((k - 1 + next()) / (KILLS + 1)));
      const w = worker();
      let done = false;
      void w.exited.then(() => (done = true));
      while (!done && total - (await keysLeft()) < Math.max(1, threshold)) await sleep(2);
      if (done) break;
      await kill(w.child, w.exited);
      killedAt.push(total - (await keysLeft()));
    }
    t.diagnostic(`killed after ${killedAt.join(', ')} keys`);
    assert.ok(killedAt.length >= 2 && killedAt.every((n) => n < CAP), `killed mid-way: ${killedAt.join(', ')}`);
    const last = worker();
    assert.equal(await last.exited, 0);
    const result = JSON.parse(last.output()) as ActionResult;
    assert.equal(result.keysTouched, CAP, result.detail);
    assert.equal(result.capReached, true);
    assert.equal(await matching('kill:*'), KEYS - CAP, 'exactly the cap, over the three primaries together');
    assert.equal(await matching('other:*'), OTHERS, 'no key outside the pattern');
  });
});
