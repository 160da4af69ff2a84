import { spawn, type ChildProcess } from 'node:child_process';
import { repoFile } from './repo-path.js';

/** A worker running in a process of its own (`node dist/worker/main.js`), polling. */
export interface WorkerProcess {
  child: ChildProcess;
  /** The fields of its `worker started` log line (LOG_LEVEL must be `info` or lower). */
  started: Record<string, unknown>;
  /** From spawn to that line, in ms. */
  startMs: number;
}

/**
 * Spawns the built worker with `env` and resolves once it logs `worker started`, i.e. polls its task queue. Rejects
 * with the worker's output when it exits first or does not start within `timeoutMs` (and then kills it).
 */
export function startWorkerProcess(env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<WorkerProcess> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [repoFile('dist/worker/main.js')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise<WorkerProcess>((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${why}:\n${output}`));
    };
    const timer = setTimeout(() => fail('the worker did not start'), timeoutMs);
    const keep = (chunk: Buffer) => (output += chunk.toString());
    const onStdout = (chunk: Buffer) => {
      keep(chunk);
      const line = output.split('\n').find((l) => l.includes('"worker started"'));
      if (!line) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      // Past the start line nobody reads this: drain the pipes (a full pipe would block the worker's logging).
      child.stdout.off('data', onStdout);
      child.stderr.off('data', keep);
      child.stdout.resume();
      child.stderr.resume();
      resolve({ child, started: JSON.parse(line) as Record<string, unknown>, startMs: performance.now() - t0 });
    };
    child.stdout.on('data', onStdout);
    child.stderr.on('data', keep);
    child.once('exit', (code) => fail(`the worker exited (${code})`));
  });
}
