/**
 * The S3 backup store (any S3-compatible service): a verified copy, staged in the worker's directory store, is
 * uploaded as `<prefix><target>/<name>.rdb` by a multipart upload (bounded memory: a few parts in flight), then
 * described by `<name>.json`. The description is the moment the copy counts: an upload cut short leaves no object (S3
 * shows a multipart object only once completed, and the next attempt aborts the unfinished ones), and an `.rdb` left
 * without its description is removed by the next attempt. Credentials come from the SDK's usual chain (environment,
 * web identity, instance role), never from the configuration.
 */
import { createReadStream } from 'node:fs';
import {
  AbortMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { BackupCopy } from '../redis/types.js';
import { incidentTag, targetSlug } from './store.js';

export interface S3StoreConfig {
  bucket: string;
  /** Key prefix, e.g. `redis-runbook/` (default none). */
  prefix?: string;
  region?: string;
  /** An S3-compatible service's URL (MinIO, Ceph, moto…); AWS's own when absent. */
  endpoint?: string;
  /** Path-style URLs (`<endpoint>/<bucket>/<key>`), which most S3-compatible services need. */
  forcePathStyle?: boolean;
}

/** The AWS SDK's static credentials, which the worker Deployment takes from the Secret when set (IRSA needs none). */
export const S3_CREDENTIAL_ENV = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'] as const;

/** Upload part size: S3's minimum is 5 MiB; 16 MiB keeps a 10 GiB snapshot under S3's 10,000 parts. */
const PART_BYTES = 16 * 1024 * 1024;
const PARTS_IN_FLIGHT = 2;

export class S3Store {
  readonly client: S3Client;

  constructor(
    readonly config: S3StoreConfig,
    private readonly keep: number,
    client?: S3Client,
  ) {
    this.client =
      client ??
      new S3Client({
        ...(config.region ? { region: config.region } : {}),
        ...(config.endpoint ? { endpoint: config.endpoint } : {}),
        ...(config.forcePathStyle ? { forcePathStyle: true } : {}),
      });
  }

  /** `s3://bucket/key`, as the report and the note give it. */
  url(key: string): string {
    return `s3://${this.config.bucket}/${key}`;
  }

  private folder(target: string): string {
    return `${this.config.prefix ?? ''}${targetSlug(target)}/`;
  }

  /** The verified copy an earlier attempt of the same run uploaded and described. */
  async findCopyOf(target: string, run: string): Promise<BackupCopy | undefined> {
    for (const key of await this.listObjectKeys(target, '.json')) {
      const got = await this.client.send(new GetObjectCommand({ Bucket: this.config.bucket, Key: key }));
      const copy = JSON.parse(await got.Body!.transformToString()) as BackupCopy & { run?: string };
      if (copy.run === run && (await this.has(key.replace(/\.json$/, '.rdb')))) return copy;
    }
    return undefined;
  }

  /**
   * Removes what a killed attempt for `incidentId` left: unfinished multipart uploads and `.rdb` objects without a
   * description. Returns how many.
   */
  async removePartials(target: string, incidentId: string): Promise<number> {
    const tag = `-${incidentTag(incidentId)}.rdb`;
    const Bucket = this.config.bucket;
    const uploads = await this.client.send(new ListMultipartUploadsCommand({ Bucket, Prefix: this.folder(target) }));
    const unfinished = (uploads.Uploads ?? []).filter((u) => u.Key?.endsWith(tag));
    for (const u of unfinished)
      await this.client.send(new AbortMultipartUploadCommand({ Bucket, Key: u.Key, UploadId: u.UploadId }));
    const described = new Set((await this.listObjectKeys(target, '.json')).map((k) => k.replace(/\.json$/, '.rdb')));
    const orphans = (await this.listObjectKeys(target, '.rdb')).filter((k) => k.endsWith(tag) && !described.has(k));
    await this.remove(orphans);
    return unfinished.length + orphans.length;
  }

  /**
   * Uploads the verified local copy at `copy.path` under its file name, then its description (with the `s3://` path):
   * the copy counts from then on. Returns the copy as stored.
   */
  async publish(target: string, copy: BackupCopy, run: string, onBytes: (bytes: number) => void): Promise<BackupCopy> {
    const name = copy.path.split('/').pop()!;
    const key = `${this.folder(target)}${name}`;
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.config.bucket,
        Key: key,
        Body: createReadStream(copy.path),
        ContentType: 'application/octet-stream',
        Metadata: { sha256: copy.sha256, crc64: copy.crc64, run: run.slice(0, 200) },
      },
      partSize: PART_BYTES,
      queueSize: PARTS_IN_FLIGHT,
      leavePartsOnError: false,
    });
    upload.on('httpUploadProgress', (p) => onBytes(p.loaded ?? 0));
    await upload.done();
    const stored: BackupCopy = {
      ...copy,
      path: this.url(key),
      restoreHint: copy.restoreHint.replace(name, `${name} (aws s3 cp ${this.url(key)} .)`),
    };
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.config.bucket,
        Key: key.replace(/\.rdb$/, '.json'),
        Body: JSON.stringify({ ...stored, run }, null, 2),
        ContentType: 'application/json',
      }),
    );
    return stored;
  }

  /** Keeps the newest `keep` described copies of the target; returns the keys deleted. */
  async applyRetention(target: string): Promise<string[]> {
    const copies = (await this.listObjectKeys(target, '.json')).sort();
    const old = copies.slice(0, Math.max(0, copies.length - this.keep));
    // The description first: a copy half-deleted by a crash is then an orphan the next attempt removes.
    await this.remove(old);
    await this.remove(old.map((k) => k.replace(/\.json$/, '.rdb')));
    return old.map((k) => k.replace(/\.json$/, '.rdb'));
  }

  private async listObjectKeys(target: string, suffix: string): Promise<string[]> {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.config.bucket, Prefix: this.folder(target), ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) if (o.Key?.endsWith(suffix)) out.push(o.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  private async has(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.config.bucket, Key: key }));
      return true;
    } catch (err) {
      if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
      throw err;
    }
  }

  private async remove(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.client.send(
      new DeleteObjectsCommand({
        Bucket: this.config.bucket,
        Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true },
      }),
    );
  }
}
