/**
 * The backup store: a directory (a volume mounted in the worker), one subdirectory per target. A copy is written as
 * `<name>.rdb.partial` and renamed to `<name>.rdb` only once verified and described by `<name>.json`, so a file that
 * looks complete is complete; a partial file left by a killed attempt is removed by the next one.
 */
import { access, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BackupCopy } from '../redis/types.js';
import type { S3StoreConfig } from './s3-store.js';

export interface BackupStoreConfig {
  /** The directory the copies go to (with `s3`, where they are staged and restore-tested before the upload). */
  directory: string;
  /** Copies kept per target; older ones are deleted after a new one is verified. */
  keep: number;
  /** An S3-compatible bucket the verified copies go to, instead of staying in `directory`. */
  s3?: S3StoreConfig;
  /** The node that saves and serves the snapshot: a replica in sync by default, else the primary. */
  from?: BackupSource;
}

/** Where a backup is taken: `replica` (one in sync, else the primary) or `primary`. */
export type BackupSource = 'replica' | 'primary';

/** The incident id as it appears in a copy's name. */
export function incidentTag(incidentId: string): string {
  return incidentId.replace(/[^A-Za-z0-9-]+/g, '_').slice(0, 60);
}

/** A file-name-safe form of a target label (`cache/redis-0@10.0.0.5:6379` → `cache_redis-0_10.0.0.5_6379`). */
export function targetSlug(target: string): string {
  return target.replace(/[^A-Za-z0-9.-]+/g, '_').slice(0, 120);
}

/** `20261203T064501Z`: sorts by time, safe in file names. */
function stamp(at: Date): string {
  return at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

export class DirectoryStore {
  constructor(private readonly config: BackupStoreConfig) {}

  dirFor(target: string): string {
    return join(this.config.directory, targetSlug(target));
  }

  /** Where a new copy for `incidentId` goes, and its partial and description files. */
  async reserve(target: string, incidentId: string, at: Date) {
    const dir = this.dirFor(target);
    await mkdir(dir, { recursive: true });
    const name = `${stamp(at)}-${incidentTag(incidentId)}`;
    const path = join(dir, `${name}.rdb`);
    return { path, partial: `${path}.partial`, description: join(dir, `${name}.json`) };
  }

  /** The verified copy an earlier attempt of the same run made (its result may have been lost with its worker). */
  async findCopyOf(target: string, run: string): Promise<BackupCopy | undefined> {
    for (const file of await this.files(target, '.json')) {
      const copy = JSON.parse(await readFile(file, 'utf8')) as BackupCopy & { run?: string };
      if (copy.run === run && (await this.exists(copy.path))) return copy;
    }
    return undefined;
  }

  /** Removes partial files an earlier, killed attempt for `incidentId` left behind. */
  async removePartials(target: string, incidentId: string): Promise<number> {
    const tag = `-${incidentTag(incidentId)}.rdb.partial`;
    const stale = (await this.files(target, '.partial')).filter((f) => f.endsWith(tag));
    await Promise.all(stale.map((f) => rm(f, { force: true })));
    return stale.length;
  }

  /** Describes the verified copy, then gives it its final name: the rename is the moment it counts. */
  async commit(reserved: { path: string; partial: string; description: string }, copy: BackupCopy, run: string) {
    await writeFile(reserved.description, JSON.stringify({ ...copy, run }, null, 2));
    await rename(reserved.partial, reserved.path);
  }

  /** Removes a staged copy once it is stored elsewhere. */
  async discard(path: string): Promise<void> {
    await rm(path, { force: true });
    await rm(path.replace(/\.rdb$/, '.json'), { force: true });
  }

  /** Keeps the newest `keep` copies of the target; returns the paths deleted. */
  async applyRetention(target: string): Promise<string[]> {
    const copies = (await this.files(target, '.rdb')).sort();
    const old = copies.slice(0, Math.max(0, copies.length - this.config.keep));
    for (const file of old) {
      await rm(file, { force: true });
      await rm(file.replace(/\.rdb$/, '.json'), { force: true });
    }
    return old;
  }

  private async files(target: string, suffix: string): Promise<string[]> {
    const dir = this.dirFor(target);
    const names = await readdir(dir).catch(() => [] as string[]);
    return names.filter((n) => n.endsWith(suffix)).map((n) => join(dir, n));
  }

  private exists(path: string): Promise<boolean> {
    return access(path).then(
      () => true,
      () => false,
    );
  }
}
