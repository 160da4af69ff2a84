import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runbookAclRules, runbookSentinelAclRules } from '../activities/redis/acl.js';
import { freePort } from './free-port.js';

/**
 * When set (to `remediate` or `diagnose`), every data server started also has the runbook's own ACL user with exactly
 * that profile's rules ({@link RUNBOOK_SUITE_USER}): the suites' ACL pass gives it to the activities, so a command the
 * code uses without a rule fails a test. The `default` user stays open for the suites' own setup.
 */
export const RUNBOOK_USER_ENV = 'REDIS_SUITE_RUNBOOK_USER';
export const RUNBOOK_SUITE_USER = { username: 'runbook', password: 'runbook-suite' } as const;

/** A redis-server started by {@link startRedisServer}. */
export interface RedisServer {
  host: '127.0.0.1';
  port: number;
  /** Its working directory (a fresh temp dir): RDB files land here. */
  dir: string;
  /** Kills the server (SIGKILL after 5 s) and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartRedisServerOptions {
  /** Extra command-line arguments, e.g. `['--requirepass', 'secret']`. */
  args?: string[];
  /** Adds `--enable-debug-command yes` so tests can use `DEBUG POPULATE`/`DEBUG SLEEP`. */
  enableDebug?: boolean;
  /** How long to wait for PING to answer, in ms (default 10 000). */
  readyTimeoutMs?: number;
  /**
   * A Sentinel (`redis-server <file> --sentinel`) with these configuration lines, written to a file in its directory
   * (Sentinel rewrites its file). The data options (persistence, snapshots) are then left out.
   */
  sentinelConfig?: string[];
}

const STDERR_KEEP = 4000;

/**
 * Starts a throwaway redis-server on a free port of 127.0.0.1, with no persistence configured and a temp dir, and
 * resolves once it answers PING. The binary is `REDIS_SERVER_PATH` or `redis-server` on PATH. Rejects with the
 * server's output when it does not come up within the timeout. No test-framework imports: the demo uses it too.
 */
export async function startRedisServer(opts: StartRedisServerOptions = {}): Promise<RedisServer> {
  const binary = process.env['REDIS_SERVER_PATH'] ?? 'redis-server';
  const dir = await mkdtemp(join(tmpdir(), 'redis-runbook-'));
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      return await launch(binary, port, dir, opts);
    } catch (err) {
      lastError = err;
      // Another process may have taken the port between freePort() and the bind: try another one.
      if (!(err instanceof Error && /Address already in use/i.test(err.message))) break;
    }
  }
  await rm(dir, { recursive: true, force: true });
  throw lastError;
}

async function launch(binary: string, port: number, dir: string, opts: StartRedisServerOptions): Promise<RedisServer> {
  const user = await runbookUser(binary, opts.sentinelConfig !== undefined);
  const sentinel =
    opts.sentinelConfig !== undefined
      ? [
          await sentinelFile(dir, [
            ...opts.sentinelConfig,
            ...(user.length > 0 ? [['user', ...user.slice(1)].join(' ')] : []),
          ]),
          '--sentinel',
        ]
      : [];
  const address = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir];
  const args =
    sentinel.length > 0
      ? [...sentinel, ...address, ...(opts.args ?? [])]
      : [
          ...address,
          '--save',
          '',
          '--appendonly',
          'no',
          '--daemonize',
          'no',
          // A diskless snapshot (the backup copy) starts at once instead of waiting 5 s for more replicas.
          '--repl-diskless-sync-delay',
          '0',
          ...(opts.enableDebug ? ['--enable-debug-command', 'yes'] : []),
          ...user,
          ...(opts.args ?? []),
        ];
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-STDERR_KEEP);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<string>((resolve) => {
    child.once('error', (err: NodeJS.ErrnoException) =>
      resolve(
        err.code === 'ENOENT'
          ? `${binary} not found: install Debian's redis-server (apt-get install redis-server) or set REDIS_SERVER_PATH`
          : `could not start ${binary}: ${err.message}`,
      ),
    );
    child.once('exit', (code, signal) => resolve(`${binary} exited (${signal ?? `code ${code}`})`));
  });

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 10_000);
  let exitReason: string | undefined;
  void exited.then((reason) => (exitReason = reason));
  while (!(await pingAnswers(port))) {
    if (exitReason !== undefined || Date.now() > deadline) {
      const reason =
        exitReason ?? `redis-server on port ${port} did not answer PING within ${opts.readyTimeoutMs ?? 10_000} ms`;
      await kill(child);
      throw new Error(`${reason}\n${output.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  let stopped = false;
  return {
    host: '127.0.0.1',
    port,
    dir,
    async stop() {
      if (stopped) return;
      stopped = true;
      await kill(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * `--user runbook …` with the rules of the profile {@link RUNBOOK_USER_ENV} names (a Sentinel's own rules on a
 * Sentinel); nothing when it is unset.
 */
async function runbookUser(binary: string, sentinel: boolean): Promise<string[]> {
  const profile = process.env[RUNBOOK_USER_ENV];
  if (!profile) return [];
  if (profile !== 'remediate' && profile !== 'diagnose') throw new Error(`${RUNBOOK_USER_ENV}: ${profile}?`);
  // `Redis server v=7.0.15 …`, `Valkey server v=9.1.2 …`: the rules name the commands this version has.
  const version = await new Promise<string>((resolve) =>
    execFile(binary, ['--version'], (_err, stdout) => resolve(/v=(\d+\.\d+\.\d+)/.exec(stdout)?.[1] ?? '7.0.0')),
  );
  const { username, password } = RUNBOOK_SUITE_USER;
  const rules = sentinel ? runbookSentinelAclRules() : runbookAclRules(profile, { redisVersion: version });
  return ['--user', username, 'reset', 'on', `>${password}`, ...rules];
}

async function sentinelFile(dir: string, lines: string[]): Promise<string> {
  const file = join(dir, 'sentinel.conf');
  await writeFile(file, `${lines.join('\n')}\n`);
  return file;
}

/** PING over a raw socket, so the helper depends on nothing but Node. */
function pingAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      // NOAUTH: up, with `--requirepass`. LOADING and the like: not ready yet.
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG') || reply.startsWith('-NOAUTH'));
    });
  });
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await gone;
  clearTimeout(timer);
}
