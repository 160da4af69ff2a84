/**
 * The workflow code bundled ahead of time: `npm run build` (and so the Docker image) writes `dist/workflow-bundle.js`
 * and, with the SDK's OpenTelemetry workflow interceptors, `dist/workflow-bundle.traced.js`; the worker loads the one
 * its tracing setting asks for instead of bundling at start-up, which takes seconds. The interceptors only when
 * tracing is on: they are instantiated in every cached run (about 1.3 MB each), and they add no command, so both
 * bundles replay the same histories (`test/replay`) and report one build id: the plain bundle's content hash. Two
 * workers report the same id exactly when they run the same workflow code.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';
import { isEntryPoint } from './entry-point.js';
import { WORKFLOW_TRACING_INTERCEPTORS } from '../tracing/index.js';

/** Bundles the workflow code, with the SDK's OpenTelemetry workflow interceptors when `tracing`. */
export function bundleRunbookWorkflows(opts: { workflowsPath?: string; tracing?: boolean } = {}) {
  return bundleWorkflowCode({
    workflowsPath: opts.workflowsPath ?? WORKFLOWS_PATH,
    workflowInterceptorModules: opts.tracing ? [WORKFLOW_TRACING_INTERCEPTORS] : [],
    logger: quiet,
  });
}

/** `dist/workflow-bundle.js` (and `.traced.js`), beside the compiled `dist/workflows/`. */
export const WORKFLOW_BUNDLE_PATH = fileURLToPath(new URL('../workflow-bundle.js', import.meta.url));
export const TRACED_WORKFLOW_BUNDLE_PATH = fileURLToPath(new URL('../workflow-bundle.traced.js', import.meta.url));
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

async function prebuiltOrNow(path: string, tracing: boolean): Promise<{ code: string; prebuilt: boolean }> {
  if (existsSync(path)) return { code: await readFile(path, 'utf8'), prebuilt: true };
  return { code: (await bundleRunbookWorkflows({ tracing })).code, prebuilt: false };
}

/**
 * The prebuilt bundle when `npm run build` made one, else a bundle made now (seconds: development only); the traced
 * one when `tracing`. The build id is the plain bundle's either way.
 */
export async function loadWorkflowBundle(
  opts: { tracing?: boolean } = {},
): Promise<WorkflowBundle & { prebuilt: boolean }> {
  const plain = await prebuiltOrNow(WORKFLOW_BUNDLE_PATH, false);
  const buildId = buildIdOf(plain.code);
  if (!opts.tracing) return { ...plain, buildId };
  return { ...(await prebuiltOrNow(TRACED_WORKFLOW_BUNDLE_PATH, true)), buildId };
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
  const traced = await bundleRunbookWorkflows({ tracing: true });
  await writeFile(TRACED_WORKFLOW_BUNDLE_PATH, traced.code);
  console.log(
    `with the tracing interceptors ${TRACED_WORKFLOW_BUNDLE_PATH}: ${(traced.code.length / 1024).toFixed(0)} KiB`,
  );
}
