/**
 * The receiver as a real process (`runbook webhook`, no PagerDuty credentials) against a real Temporal dev server,
 * fed generated requests over raw sockets and fetch: methods, raw request targets, headers, content types, sizes,
 * signatures (right, wrong, truncated, listed, rotated), body shapes, bursts, stalled connections. After each group:
 * the process is alive, `/healthz` answers, every answer is in the set allowed for its kind, nothing unsigned started
 * a run, and the RSS stays bounded. Seeded (FUZZ_SEED, default 20261202; FUZZ_SCALE multiplies the counts), so a
 * failure reproduces; the counts are printed at the end.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { stringify } from 'yaml';
import { repoFile } from '../../local-servers/repo-path.js';
import { freePort } from '../../local-servers/free-port.js';
import { installQuietRuntime, startDevServer } from '../../local-servers/temporal.js';
import { signatureHeader } from '../../webhook/signature.js';

installQuietRuntime();

const SEED = Number(process.env.FUZZ_SEED ?? 20261202);
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
const SECRETS = ['fuzz-old-secret', 'fuzz-new-secret'];
const SERVICE = 'PFUZZ01';
const RSS_LIMIT_MB = 400;

/** mulberry32: small, seeded, good enough to pick cases. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!,
    bytes: (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(next() * 256))),
  };
}
const r = rng(SEED);

let temporal: TestWorkflowEnvironment;
let receiver: ChildProcess;
let port: number;
let dir: string;
let output = '';
const statuses = new Map<number, number>();
const kinds = new Set<string>();
let requests = 0;
const rssSamples: number[] = [];
/** Incidents whose triggers were validly signed: the only runs allowed to exist. */
const signedIncidents = new Set<string>();

function count(kind: string, status: number): void {
  kinds.add(kind);
  requests++;
  statuses.set(status, (statuses.get(status) ?? 0) + 1);
}

/** Sends raw bytes and reads the status line of the answer (0: closed without an answer; -1: timed out). */
function raw(bytes: Buffer | string, opts: { timeoutMs?: number; endAfterWrite?: boolean } = {}): Promise<number> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const done = (status: number) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(status);
    };
    const timer = setTimeout(() => done(-1), opts.timeoutMs ?? 5000);
    socket.on('connect', () => {
      socket.write(bytes);
      if (opts.endAfterWrite) socket.end();
    });
    socket.on('data', (chunk: Buffer) => {
      data += chunk.toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(data);
      if (m && data.includes('\r\n\r\n')) done(Number(m[1]));
    });
    socket.on('error', () => done(data ? Number(/^HTTP\/1\.[01] (\d{3})/.exec(data)?.[1] ?? 0) : 0));
    socket.on('close', () => done(Number(/^HTTP\/1\.[01] (\d{3})/.exec(data)?.[1] ?? 0)));
  });
}

/**
 * A client that sends a chunked body past the limit, keeps sending after the server has answered, and reads the
 * answer only then: the answer must survive (a server that closes at once resets, and the reset drops the answer).
 */
function lateReader(path: string): Promise<number> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const status = () => Number(/^HTTP\/1\.[01] (\d{3})/.exec(data)?.[1] ?? 0);
    socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
    socket.on('error', () => resolve(status()));
    socket.on('close', () => resolve(status()));
    socket.pause();
    socket.write(
      `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`,
    );
    const chunk = Buffer.alloc(64 * 1024, 0x7b);
    const frame = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]);
    for (let i = 0; i < 40; i++) socket.write(frame);
    setTimeout(() => {
      for (let i = 0; i < 8; i++) socket.write(frame);
      setTimeout(() => socket.resume(), 300);
    }, 300);
  });
}

async function post(
  path: string,
  body: string | Buffer,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers, body });
  return { status: res.status, body: await res.text() };
}

function trigger(incidentId: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    event: {
      id: `01FUZZ${incidentId}`,
      event_type: 'incident.triggered',
      resource_type: 'incident',
      occurred_at: '2026-12-02T03:00:00Z',
      agent: null,
      data: {
        id: incidentId,
        type: 'incident',
        title: 'Redis cache/redis-0 OOMKilled',
        status: 'triggered',
        service: { id: SERVICE, type: 'service_reference' },
        ...extra,
      },
    },
  });
}

async function rssMb(): Promise<number> {
  const status = await readFile(`/proc/${receiver.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** The checks after each group. */
async function assertHealthy(group: string): Promise<void> {
  assert.equal(receiver.exitCode, null, `${group}: the receiver exited\n${output.slice(-2000)}`);
  const health = await fetch(`http://127.0.0.1:${port}/healthz`);
  assert.equal(health.status, 200, `${group}: /healthz`);
  const rss = await rssMb();
  rssSamples.push(rss);
  assert.ok(rss < RSS_LIMIT_MB, `${group}: RSS ${rss.toFixed(0)} MiB`);
  for await (const wf of temporal.client.workflow.list()) {
    const incident = wf.workflowId.replace(/^(redis-runbook|pagerduty-intake)-/, '');
    assert.ok(signedIncidents.has(incident), `${group}: a run for ${incident}, which no signed request asked for`);
  }
  assert.doesNotMatch(output, /TypeError|uncaught|unhandled/i, `${group}: the log shows a crash`);
}

function inSet(kind: string, status: number, allowed: readonly number[]): void {
  count(kind, status);
  assert.ok(allowed.includes(status), `${kind}: answered ${status}, allowed ${allowed.join('/')}`);
}

describe(`receiver fuzz (seed ${SEED})`, () => {
  before(async () => {
    temporal = await startDevServer();
    dir = await mkdtemp(join(tmpdir(), 'runbook-fuzz-'));
    const config = join(dir, 'runbook.yaml');
    await writeFile(
      config,
      stringify({
        approval: { approvers: ['oncall@example.com'] },
        pagerduty: {
          services: [{ id: SERVICE, namespace: 'cache', pod: 'redis-0', redis: { host: '127.0.0.1', port: 6399 } }],
        },
      }),
    );
    port = await freePort();
    receiver = spawn(process.execPath, [repoFile('dist/cli/main.js'), 'webhook', '--port', String(port)], {
      env: {
        PATH: process.env.PATH,
        TEMPORAL_ADDRESS: temporal.address,
        RUNBOOK_TASK_QUEUE: 'fuzz-no-worker',
        RUNBOOK_CONFIG: config,
        PAGERDUTY_WEBHOOK_SECRET: SECRETS.join(','),
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    receiver.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    receiver.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    for (let i = 0; i < 100; i++) {
      if (
        await fetch(`http://127.0.0.1:${port}/healthz`).then(
          (res) => res.ok,
          () => false,
        )
      )
        return;
      if (receiver.exitCode !== null) throw new Error(`receiver exited: ${output}`);
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error(`receiver did not start: ${output}`);
  });
  after(async () => {
    if (receiver?.exitCode !== null) console.log(`receiver exited ${receiver?.exitCode}:\n${output.slice(-3000)}`);
    receiver?.kill('SIGTERM');
    await temporal?.teardown();
    if (dir) await rm(dir, { recursive: true, force: true });
    const byStatus = [...statuses.entries()].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}:${n}`);
    const rss = rssSamples.map((x) => x.toFixed(0));
    console.log(
      `fuzz seed ${SEED}: ${requests} requests, ${kinds.size} kinds; answers ${byStatus.join(' ')}; ` +
        `RSS MiB per group ${rss.join(' ')}`,
    );
  });

  it('starts without PagerDuty credentials and says once what it lacks', () => {
    assert.match(output, /PAGERDUTY_API_TOKEN and PAGERDUTY_FROM_EMAIL not set/);
    assert.equal(output.match(/not set: signed webhooks still start intakes/g)?.length, 1);
  });

  it('methods on every route, over a raw socket', async () => {
    const methods = [
      'GET',
      'HEAD',
      'POST',
      'PUT',
      'DELETE',
      'PATCH',
      'OPTIONS',
      'TRACE',
      'PROPFIND',
      'MKCOL',
      'SEARCH',
    ];
    const paths = ['/healthz', '/pagerduty/webhook', '/pagerduty/action', '/', '/x', '/healthz/', '/HEALTHZ'];
    for (let i = 0; i < 150 * SCALE; i++) {
      const method = r.pick(methods);
      const path = r.pick(paths);
      const status = await raw(`${method} ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n`);
      const allowed =
        path === '/healthz' && (method === 'GET' || method === 'HEAD')
          ? [200]
          : path === '/pagerduty/webhook' || path === '/pagerduty/action'
            ? method === 'POST'
              ? [415]
              : [405, 501]
            : path === '/healthz'
              ? [405, 501]
              : [404];
      inSet(`method ${method}`, status, allowed);
    }
    await assertHealthy('methods');
  });

  it('raw request targets, including the ones that used to kill it', async () => {
    const targets = [
      '//[',
      '//a:99999/',
      'http://a:99999/x',
      'http://[::1/',
      '//[/pagerduty/webhook',
      '*',
      'example.com:443',
      '/%',
      '/%zz',
      '/healthz?%',
      '/\u00ff',
      'http://x/healthz',
      '/' + 'a'.repeat(5000),
    ];
    for (let i = 0; i < 200 * SCALE; i++) {
      const target =
        i < targets.length
          ? targets[i]!
          : r.next() < 0.5
            ? r.pick(targets)
            : '/' + r.bytes(1 + r.int(40)).toString('latin1');
      const method = r.pick(['GET', 'POST', 'TRACE', 'CONNECT', 'OPTIONS']);
      const status = await raw(Buffer.from(`${method} ${target} HTTP/1.1\r\nHost: x\r\n\r\n`, 'latin1'));
      inSet(`target ${target.slice(0, 20)}`, status, [200, 400, 404, 405, 414, 415, 501]);
    }
    await assertHealthy('targets');
  });

  it('headers: oversize, many, malformed, conflicting lengths and encodings', async () => {
    const cases: Array<[string, string, number[]]> = [
      ['oversize header', `X-Big: ${'b'.repeat(20_000)}\r\n`, [431]],
      ['many headers', Array.from({ length: 500 }, (_, i) => `X-H${i}: v`).join('\r\n') + '\r\n', [415, 431]],
      ['space in name', 'Bad Header: v\r\n', [400]],
      ['control char', 'X-A: a\u0001b\r\n', [400]],
      ['two lengths', 'Content-Length: 1\r\nContent-Length: 2\r\n', [400]],
      ['length and chunked', 'Content-Length: 5\r\nTransfer-Encoding: chunked\r\n', [400]],
      ['bad chunked', 'Transfer-Encoding: chunked\r\n\r\nzz\r\n', [400]],
      ['negative length', 'Content-Length: -1\r\n', [400]],
      ['huge length', 'Content-Length: 99999999999\r\nContent-Type: application/json\r\n', [413]],
    ];
    for (let i = 0; i < 120 * SCALE; i++) {
      const [kind, headers, allowed] = i < cases.length ? cases[i]! : r.pick(cases);
      const status = await raw(Buffer.from(`POST /pagerduty/webhook HTTP/1.1\r\nHost: x\r\n${headers}\r\n`, 'latin1'), {
        endAfterWrite: true,
      });
      inSet(`header ${kind}`, status, allowed);
    }
    await assertHealthy('headers');
  });

  it('content types and body sizes: oversize bodies get a readable 413', async () => {
    const types = [
      'application/json',
      'text/plain',
      'application/json; charset=utf-8',
      '',
      'application/x-www-form-urlencoded',
      'APPLICATION/JSON',
    ];
    for (let i = 0; i < 60 * SCALE; i++) {
      const type = r.pick(types);
      const body = r.bytes(r.int(2048));
      const headers: Record<string, string> = type ? { 'content-type': type } : {};
      const { status } = await post('/pagerduty/webhook', body, headers);
      const json = type.split(';')[0]!.trim().toLowerCase() === 'application/json';
      inSet(`content type ${type || '(none)'}`, status, json ? [401] : [415]);
    }
    for (const mib of [1, 10, 10, 10, 10]) {
      const body = Buffer.alloc(mib * 1024 * 1024, 0x7b);
      const { status, body: answer } = await post('/pagerduty/webhook', body, { 'content-type': 'application/json' });
      inSet(`body ${mib} MiB`, status, [413]);
      assert.match(answer, /larger than/);
    }
    // Chunked, no Content-Length: cut off at the limit, still a readable answer.
    const chunked = await fetch(`http://127.0.0.1:${port}/pagerduty/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new ReadableStream({
        start(c) {
          for (let i = 0; i < 40; i++) c.enqueue(new Uint8Array(256 * 1024));
          c.close();
        },
      }),
      duplex: 'half',
    });
    inSet('chunked 10 MiB', chunked.status, [413]);
    inSet('chunked, read late', await lateReader('/pagerduty/webhook'), [413]);
    await assertHealthy('sizes');
  });

  it('signatures: right, wrong, truncated, listed, rotated; body shapes', async () => {
    let n = 0;
    for (let i = 0; i < 250 * SCALE; i++) {
      const incident = `QF${SEED % 1000}N${++n}`;
      const kind = r.pick([
        'right-old',
        'right-new',
        'listed',
        'wrong',
        'truncated',
        'none',
        'other-body',
        'mangled',
        'shape',
      ]);
      let body = trigger(incident);
      let header: string | undefined;
      let allowed: number[];
      switch (kind) {
        case 'right-old':
        case 'right-new':
          header = signatureHeader(body, kind === 'right-old' ? SECRETS[0]! : SECRETS[1]!);
          signedIncidents.add(incident);
          allowed = [202];
          break;
        case 'listed':
          header = signatureHeader(body, 'not-ours', SECRETS[1]!);
          signedIncidents.add(incident);
          allowed = [202];
          break;
        case 'wrong':
          header = signatureHeader(body, 'not-ours');
          allowed = [401];
          break;
        case 'truncated':
          header = signatureHeader(body, SECRETS[0]!).slice(0, 10 + r.int(50));
          allowed = [401];
          break;
        case 'none':
          allowed = [401];
          break;
        case 'other-body':
          header = signatureHeader(trigger(`${incident}X`), SECRETS[0]!);
          allowed = [401];
          break;
        case 'mangled':
          header = r.bytes(1 + r.int(80)).toString('base64');
          allowed = [401];
          break;
        default: {
          // A signed body of a random shape: never a 5xx, never a crash; a run only if it is a routed trigger.
          const shapes = [
            '{}',
            '[]',
            'null',
            '{"event":null}',
            '{"event":{"id":1}}',
            trigger(incident, { id: 12 }),
            trigger(incident, { type: 'service' }),
            trigger(incident, { service: null }),
            '{"event":{"id":"e","event_type":"incident.triggered","data":"x"}}',
            r.bytes(64).toString('latin1'),
            '{"a":' + '['.repeat(5000) + ']'.repeat(5000) + '}',
          ];
          body = r.pick(shapes);
          header = signatureHeader(body, SECRETS[1]!);
          allowed = [202, 400];
        }
      }
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (header !== undefined) headers['x-pagerduty-signature'] = header;
      const res = await post('/pagerduty/webhook', body, headers);
      inSet(`signature ${kind}`, res.status, allowed);
      assert.doesNotMatch(res.body, /at .*\.js|fuzz-(old|new)-secret/, 'no stack or secret in an answer');
    }
    await assertHealthy('signatures');
  });

  it('bursts of 50 in parallel: one run per incident, however often it is delivered', async () => {
    for (let b = 0; b < 4 * SCALE; b++) {
      const incident = `QBURST${SEED % 1000}B${b}`;
      const body = trigger(incident);
      signedIncidents.add(incident);
      const headers = {
        'content-type': 'application/json',
        'x-pagerduty-signature': signatureHeader(body, SECRETS[0]!),
      };
      const answers = await Promise.all(Array.from({ length: 50 }, () => post('/pagerduty/webhook', body, headers)));
      const started = answers.filter((a) => JSON.parse(a.body).status === 'accepted').length;
      for (const a of answers) inSet('burst', a.status, [202]);
      assert.equal(started, 1, `exactly one delivery of ${incident} started its intake`);
    }
    await assertHealthy('bursts');
  });

  it('stalled connections do not block others', async () => {
    const stalled = Array.from({ length: 30 }, () => {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => undefined);
      s.write('POST /pagerduty/webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n');
      return s;
    });
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      inSet('beside stalled', res.status, [200]);
    }
    for (const s of stalled) s.destroy();
    await assertHealthy('stalled');
  });

  it('sent at least 1,000 requests of many kinds', () => {
    assert.ok(requests >= 1000, `${requests} requests`);
    assert.ok(kinds.size >= 30, `${kinds.size} kinds`);
  });
});
