import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/**
 * A file of the repository by its path from the root (`api/pagerduty-rest.yaml`), found from the sources and from
 * the compiled output alike (tsc copies no YAML into `dist/`).
 */
export function repoFile(path: string): string {
  if (!root) {
    let dir = dirname(fileURLToPath(import.meta.url));
    for (;;) {
      const pkg = join(dir, 'package.json');
      if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'redis-runbook')
        break;
      const up = dirname(dir);
      if (up === dir) throw new Error('redis-runbook: cannot find the repository root above ' + import.meta.url);
      dir = up;
    }
    root = dir;
  }
  return join(root, path);
}
