import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The Redis suites a whole pass runs again under other conditions (another server, the runbook's ACL user). */
export const REDIS_SUITES = [
  'redis.test.js',
  'redis-info.test.js',
  'redis-topology.test.js',
  'redis-topology-actions.test.js',
  'redis-acl.test.js',
  'backup-copy.test.js',
  'cluster-cleanup-kill.test.js',
];

/**
 * Runs `suites` (files beside this one) in a child `node --test` with `env` added, and returns its TAP summary and
 * the lines of its failures. Without NODE_TEST_CONTEXT: with it, the child would report to this runner instead.
 */
export async function runSuitePass(
  suites: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ pass: number; fail: number; failures: string[]; tail: string }> {
  const files = suites.map((f) => fileURLToPath(new URL(f, import.meta.url)));
  const base = { ...process.env };
  delete base['NODE_TEST_CONTEXT'];
  const result = await run(
    process.execPath,
    ['--test', '--test-concurrency=1', '--test-force-exit', '--test-reporter=tap', ...files],
    {
      env: { ...base, ...env },
      maxBuffer: 64 * 1024 * 1024,
    },
  ).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
  const summary = /# pass (\d+)[\s\S]*# fail (\d+)/.exec(result.stdout);
  return {
    pass: Number(summary?.[1] ?? 0),
    fail: summary ? Number(summary[2]) : -1,
    failures: result.stdout.split('\n').filter((l) => /^\s*not ok|^\s+error:|^\s+message:/.test(l)),
    tail: result.stdout.slice(-2000),
  };
}
