/**
 * Worker Deployment Versioning: the version a worker polls as, and making it the deployment's current version
 * (what `temporal worker deployment set-current-version` does) for set-ups with one worker, such as compose.
 */
import { readFileSync } from 'node:fs';
import type { NativeConnection } from '@temporalio/worker';

/** The package's version (`package.json` sits above `dist/` in the repository and in the image). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/**
 * The build id: the one configured (an image tag), else the package version and the bundle's hash, so that changed
 * workflow code never polls under the build id of the code that started older runs.
 */
export function deploymentBuildId(configured: string | undefined, bundleBuildId: string): string {
  return configured ?? `${packageVersion()}-${bundleBuildId}`;
}

/**
 * Makes `buildId` the current version of `deploymentName`: new runs start on it, pinned runs stay where they are.
 * The server accepts it only once this version's pollers reached it, so it retries for up to `timeoutMs`.
 */
export async function promoteVersion(
  connection: NativeConnection,
  namespace: string,
  version: { deploymentName: string; buildId: string },
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await connection.workflowService.setWorkerDeploymentCurrentVersion({
        namespace,
        ...version,
        identity: 'redis-runbook worker (RUNBOOK_PROMOTE_VERSION)',
      });
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}
