/**
 * `npm run bench:worker-start`: how long a worker process takes from spawn to polling, with the prebuilt workflow
 * bundle (`npm run build` makes it) and without it (bundled at start-up, as before), interleaved, median of RUNS
 * (default 5) with the spread. Needs a built tree and the Temporal CLI; starts its own dev server.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevServer } from '../local-servers/temporal.js';
import { startWorkerProcess } from '../local-servers/worker-process.js';
import { WORKFLOW_BUNDLE_PATH } from '../worker/workflow-bundle.js';

const RUNS = Number(process.env.RUNS ?? 5);

interface Start {
  ms: number;
  workflowCodeMs: number;
  buildId: string;
}

async function startOnce(env: NodeJS.ProcessEnv): Promise<Start> {
  const { child, started, startMs } = await startWorkerProcess(env);
  child.kill('SIGKILL');
  return { ms: startMs, workflowCodeMs: Number(started['workflowCodeMs']), buildId: String(started['buildId']) };
}

function summary(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const median = s[Math.floor(s.length / 2)]!;
  return `${Math.round(median)} ms (${Math.round(s[0]!)}–${Math.round(s[s.length - 1]!)})`;
}

const temporal = await startDevServer();
const dir = await mkdtemp(join(tmpdir(), 'worker-start-'));
const aside = `${WORKFLOW_BUNDLE_PATH}.aside`;
try {
  if (!existsSync(WORKFLOW_BUNDLE_PATH)) throw new Error('no prebuilt bundle: run `npm run build` first');
  const kubeconfig = join(dir, 'kubeconfig.yaml');
  await writeFile(
    kubeconfig,
    'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "http://127.0.0.1:1"}}]\n' +
      'users: [{name: u, user: {}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n',
  );
  const env = {
    PATH: process.env.PATH,
    TEMPORAL_ADDRESS: temporal.address,
    RUNBOOK_TASK_QUEUE: 'worker-start',
    KUBECONFIG: kubeconfig,
    LOG_LEVEL: 'info',
  };
  const results = { prebuilt: [] as Start[], bundled: [] as Start[] };
  for (let i = 0; i < RUNS; i++) {
    results.prebuilt.push(await startOnce(env));
    await rename(WORKFLOW_BUNDLE_PATH, aside);
    try {
      results.bundled.push(await startOnce(env));
    } finally {
      await rename(aside, WORKFLOW_BUNDLE_PATH);
    }
  }
  for (const [name, starts] of Object.entries(results)) {
    console.log(
      `${name.padEnd(9)} spawn to polling ${summary(starts.map((s) => s.ms))}; workflow code ${summary(starts.map((s) => s.workflowCodeMs))}; build ids ${[...new Set(starts.map((s) => s.buildId))].join(', ')}`,
    );
  }
} finally {
  if (existsSync(aside)) await rename(aside, WORKFLOW_BUNDLE_PATH);
  await rm(dir, { recursive: true, force: true });
  await temporal.teardown();
}
