/**
 * The workflow code bundled ahead of time: `npm run build` (and so the Docker image) writes `dist/workflow-bundle.js`,
 * and the worker loads it instead of bundling at start-up, which takes seconds. The build id is the bundle's content
 * hash, so two workers report the same id exactly when they run the same workflow code.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';
import { isEntryPoint } from './entry-point.js';
import { WORKFLOW_TRACING_INTERCEPTORS } from '../tracing/index.js';

/** Bundles the workflow code with the SDK's OpenTelemetry workflow interceptors, as every worker runs it. */
export function bundleRunbookWorkflows(workflowsPath = WORKFLOWS_PATH) {
  return bundleWorkflowCode({
    workflowsPath,
    workflowInterceptorModules: [WORKFLOW_TRACING_INTERCEPTORS],
    logger: quiet,
  });
}

/** `dist/workflow-bundle.js`, beside the compiled `dist/workflows/`. */
export const WORKFLOW_BUNDLE_PATH = fileURLToPath(new URL('../workflow-bundle.js', import.meta.url));
/** The compiled workflow entry point the bundle is made from. */
export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.js', import.meta.url));

/** A bundle and the build id it stands for. */
export interface WorkflowBundle {
  code: string;
  buildId: string;
}

/** `bundle-` and the first 16 hex digits of the code's SHA-256. */
export function buildIdOf(code: string): string {
  return `bundle-${createHash('sha256').update(code).digest('hex').slice(0, 16)}`;
}

/** The prebuilt bundle when `npm run build` made one, else a bundle made now (seconds: development only). */
export async function loadWorkflowBundle(path = WORKFLOW_BUNDLE_PATH): Promise<WorkflowBundle & { prebuilt: boolean }> {
  if (existsSync(path)) {
    const code = await readFile(path, 'utf8');
    return { code, buildId: buildIdOf(code), prebuilt: true };
  }
  const { code } = await bundleRunbookWorkflows();
  return { code, buildId: buildIdOf(code), prebuilt: false };
}

const quiet = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
};

if (isEntryPoint(import.meta.url)) {
  const { code } = await bundleRunbookWorkflows();
  await writeFile(WORKFLOW_BUNDLE_PATH, code);
  console.log(`workflow bundle ${WORKFLOW_BUNDLE_PATH}: ${(code.length / 1024).toFixed(0)} KiB, ${buildIdOf(code)}`);
}
