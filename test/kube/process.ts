/** A long-running child process of a test server (etcd, kube-apiserver, kwok), with its output kept for errors. */
import { spawn, type ChildProcess } from 'node:child_process';

const OUTPUT_KEEP = 6000;

/** A started child process. */
export interface ServerProcess {
  name: string;
  child: ChildProcess;
  /** The last few thousand characters of its stdout and stderr. */
  output(): string;
  /** Why it exited, once it has; undefined while it runs. */
  exitReason(): string | undefined;
  /** SIGTERM, then SIGKILL after `graceMs` (default 5 s). Safe to call twice. */
  stop(graceMs?: number): Promise<void>;
}

/** Spawns `binary` with `args`; spawn failures (ENOENT) surface through {@link ServerProcess.exitReason}. */
export function startProcess(name: string, binary: string, args: string[], env?: NodeJS.ProcessEnv): ServerProcess {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_KEEP);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let reason: string | undefined;
  // A test process that ends without stop() (a failed assertion in a hook) must not leave servers behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const exited = new Promise<void>((resolve) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      reason = `could not start ${binary}: ${err.message}`;
      process.off('exit', killOnExit);
      resolve();
    });
    child.once('exit', (code, signal) => {
      reason ??= `${name} exited (${signal ?? `code ${code}`})`;
      process.off('exit', killOnExit);
      resolve();
    });
  });
  return {
    name,
    child,
    output: () => output.trim(),
    exitReason: () => reason,
    async stop(graceMs = 5000) {
      if (reason !== undefined || child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Polls `ready` every 100 ms until it is true; fails early with the process's output when it exits, or after
 * `timeoutMs`.
 */
export async function waitUntilReady(
  proc: ServerProcess,
  ready: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const exit = proc.exitReason();
    if (exit !== undefined) throw new Error(`${exit} before ${what}\n${proc.output()}`);
    if (await ready().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${proc.name}: no ${what} within ${timeoutMs} ms\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
