import type { RunWorkerOptions } from '../../worker/main.js';

/**
 * `runbook worker`: runs the worker in this process until SIGINT/SIGTERM. Loaded on demand so the other commands
 * never load the worker's dependencies (the Temporal core bridge, the Kubernetes client).
 */
export async function workerCommand(opts: RunWorkerOptions = {}): Promise<void> {
  const { runWorker } = await import('../../worker/main.js');
  await runWorker(opts);
}
