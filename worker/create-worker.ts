import { fileURLToPath } from 'node:url';
import type { OperatorService } from '@temporalio/client';
import type { SearchAttributeType } from '@temporalio/common';
import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import type { WorkerCapacity } from '../config/environment.js';
import { allSearchAttributeKeys } from '../workflows/definitions.js';
import { NO_TRACING, WORKFLOW_TRACING_INTERCEPTORS, workerTracingOptions, type Tracing } from '../tracing/index.js';

/**
 * The compiled workflow entry point: `dist/worker/create-worker.js` → `dist/workflows/index.js`, resolved from this
 * module so the worker starts from any working directory.
 */
export const DEFAULT_WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.js', import.meta.url));

/** Options of {@link createRunbookWorker}. */
export interface RunbookWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  /** The activities, usually `createActivities(deps)`. */
  activities: object;
  /** Workflow module to bundle at start-up; {@link DEFAULT_WORKFLOWS_PATH} when neither this nor a bundle is given. */
  workflowsPath?: string;
  /** A prebuilt bundle (`bundleWorkflowCode`), which skips bundling at start-up; wins over `workflowsPath`. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** The build id the worker reports (the bundle's, see `workflow-bundle.ts`). */
  buildId?: string;
  /**
   * Poll as this Worker Deployment Version: new runs go to the deployment's current version and stay pinned to the
   * version that started them (see README, "Changing the workflow"). Without it the worker is unversioned.
   */
  deployment?: { deploymentName: string; buildId: string };
  /** How long running activities get to finish after a shutdown signal before they are cancelled, in ms. Default 30 s. */
  shutdownGraceTimeMs?: number;
  identity?: string;
  /** Where activity and workflow spans go (`startTracing`); dropped when absent or not `enabled`. */
  tracing?: Pick<Tracing, 'processor' | 'resource'> & { enabled?: boolean };
  /** Cache and concurrency limits (`RUNBOOK_MAX_*`); the SDK's defaults where absent. */
  capacity?: WorkerCapacity;
}

/**
 * Creates (does not run) the runbook's worker on `taskQueue`. Bundling the workflow code takes a few seconds unless a
 * `workflowBundle` is given. Run it with `worker.run()`: the SDK's runtime shuts it down gracefully on SIGINT/SIGTERM.
 */
export async function createRunbookWorker(opts: RunbookWorkerOptions): Promise<Worker> {
  const tracing = workerTracingOptions(opts.tracing ?? NO_TRACING);
  return Worker.create({
    ...tracing,
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    activities: opts.activities,
    ...(opts.workflowBundle
      ? { workflowBundle: opts.workflowBundle }
      : { workflowsPath: opts.workflowsPath ?? DEFAULT_WORKFLOWS_PATH }),
    // A bundle has its workflow interceptors built in (`bundleRunbookWorkflows`); bundled here, they go in with tracing.
    interceptors: {
      ...tracing.interceptors,
      ...(!opts.workflowBundle && opts.tracing?.enabled && { workflowModules: [WORKFLOW_TRACING_INTERCEPTORS] }),
    },
    shutdownGraceTime: opts.shutdownGraceTimeMs ?? 30_000,
    ...opts.capacity,
    // Progress of long cleanups reaches `runbook status` and the UI within 2 s (the SDK's default waits up to 60 s).
    maxHeartbeatThrottleInterval: '2s',
    defaultHeartbeatThrottleInterval: '2s',
    ...(opts.deployment
      ? {
          workerDeploymentOptions: {
            version: opts.deployment,
            useWorkerVersioning: true,
            // Every run finishes on the version that started it (a workflow may declare a behaviour only on a
            // versioned worker, so the default says it for all); the lock moves on at a continue-as-new.
            defaultVersioningBehavior: 'PINNED' as const,
          },
        }
      : opts.buildId
        ? {
            workerDeploymentOptions: {
              version: { deploymentName: 'redis-runbook', buildId: opts.buildId },
              useWorkerVersioning: false,
            },
          }
        : {}),
    ...(opts.identity ? { identity: opts.identity } : {}),
  });
}

// Values of temporal.api.enums.v1.IndexedValueType (the proto package is not a direct dependency).
const INDEXED_VALUE_TYPE: Record<SearchAttributeType, number> = {
  TEXT: 1,
  KEYWORD: 2,
  INT: 3,
  DOUBLE: 4,
  BOOL: 5,
  DATETIME: 6,
  KEYWORD_LIST: 7,
};

const GRPC_ALREADY_EXISTS = 6;
const GRPC_PERMISSION_DENIED = 7;
const GRPC_UNIMPLEMENTED = 12;

/** The `temporal` CLI command that registers the runbook's search attributes, for messages and docs. */
export function searchAttributeCreateCommand(namespace: string): string {
  const names = allSearchAttributeKeys.map((k) => `--name ${k.name}`).join(' ');
  const types = allSearchAttributeKeys.map((k) => `--type ${k.type.charAt(0)}${k.type.slice(1).toLowerCase()}`);
  return `temporal operator search-attribute create --namespace ${namespace} ${names} ${types.join(' ')}`;
}

/**
 * Registers the search attributes of `allSearchAttributeKeys` on `namespace` where missing, through the operator
 * service of a worker `NativeConnection` or a client `Connection`. Idempotent: present keys are left alone and a
 * concurrent registration ("already exists") counts as success. Returns the names it added.
 * @throws when a key exists with another type, or when the server refuses operator calls (Temporal Cloud): the
 * message gives the command to register them by hand.
 */
export async function ensureSearchAttributes(
  connection: { operatorService: OperatorService },
  namespace: string,
): Promise<string[]> {
  const ops = connection.operatorService;
  let existing: Record<string, number>;
  try {
    existing = (await ops.listSearchAttributes({ namespace })).customAttributes ?? {};
  } catch (err) {
    const code = (err as { code?: number }).code;
    // The time-skipping test server can add search attributes but not list them: add them all.
    if (code !== GRPC_UNIMPLEMENTED && code !== GRPC_PERMISSION_DENIED) throw err;
    if (code === GRPC_PERMISSION_DENIED) {
      throw new Error(
        `cannot list search attributes of namespace ${namespace} (${(err as Error).message}); ` +
          `register them once with: ${searchAttributeCreateCommand(namespace)}`,
        { cause: err },
      );
    }
    existing = {};
  }
  const missing: Record<string, number> = {};
  for (const key of allSearchAttributeKeys) {
    const want = INDEXED_VALUE_TYPE[key.type];
    const have = existing[key.name];
    if (have === undefined) missing[key.name] = want;
    else if (have !== want) {
      throw new Error(
        `search attribute ${key.name} exists in namespace ${namespace} with another type (${have}); expected ${key.type}`,
      );
    }
  }
  const names = Object.keys(missing);
  if (names.length === 0) return [];
  try {
    await ops.addSearchAttributes({ namespace, searchAttributes: missing });
  } catch (err) {
    if ((err as { code?: number }).code !== GRPC_ALREADY_EXISTS) throw err;
  }
  return names;
}
