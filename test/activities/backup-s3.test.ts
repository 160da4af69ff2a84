/**
 * The S3 backup store against a real S3-compatible server (moto's server mode) and a real redis-server: the verified
 * copy uploaded in parts (a snapshot above one part), described, found again by a retry, left by a killed attempt only
 * as things the next attempt removes (an unfinished multipart upload, an undescribed object), and kept per target.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Redis } from 'ioredis';
import { createBackupActivities } from '../../activities/backup/index.js';
import { targetSlug } from '../../activities/backup/store.js';
import { suiteConnector } from './suite-connector.js';
import type { BackupCopy } from '../../activities/redis/types.js';
import { startRedisServer, type RedisServer } from '../../local-servers/redis-server.js';
import { s3SuiteSkip, startS3Server, type S3Server } from '../servers/s3-server.js';

const TARGET = 'cache/redis-0@127.0.0.1:6379';
const BUCKET = 'redis-backups';
const PREFIX = 'runbook/';
const FOLDER = `${PREFIX}${targetSlug(TARGET)}/`;

describe('backup copies in an S3-compatible bucket', { skip: s3SuiteSkip() }, () => {
  let s3: S3Server;
  let client: S3Client;
  let server: RedisServer;
  let redis: Redis;
  let staging: string;

  const activities = (keep = 5) =>
    createBackupActivities(suiteConnector(), {
      directory: staging,
      keep,
      s3: { bucket: BUCKET, prefix: PREFIX, region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true },
    });
  const copyIn = async (runId: string, incidentId: string, keep = 5, beats?: unknown[]): Promise<BackupCopy> => {
    const env = new MockActivityEnvironment({
      workflowExecution: { workflowId: `redis-runbook-${incidentId}`, runId },
    });
    if (beats) env.on('heartbeat', (d: unknown) => beats.push(d));
    return env.run(() =>
      activities(keep).copyBackup({ redis: { host: server.host, port: server.port }, incidentId, target: TARGET }),
    );
  };
  const keys = async () =>
    ((await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: FOLDER }))).Contents ?? [])
      .map((o) => o.Key!.slice(FOLDER.length))
      .sort();
  const fullSyncs = async () => Number(/sync_full:(\d+)/.exec(await redis.info('stats'))![1]);
  const stagedRdbs = async () =>
    (await readdir(join(staging, targetSlug(TARGET))).catch(() => [] as string[])).filter((f) => f.endsWith('.rdb'));

  before(async () => {
    s3 = await startS3Server();
    client = s3.client();
    await s3.createBucket(BUCKET);
    server = await startRedisServer({ enableDebug: true });
    redis = new Redis({ host: server.host, port: server.port });
    // About 24 MiB of RDB that does not compress: more than one 16 MiB part, so the upload is a multipart one.
    await redis.call('DEBUG', 'POPULATE', '20000', 'key', '64');
    for (let i = 0; i < 24; i++) await redis.set(`blob:${i}`, randomBytes(768 * 1024).toString('base64'));
    staging = await mkdtemp(join(tmpdir(), 'backup-staging-'));
  });
  after(async () => {
    redis?.disconnect();
    await server?.stop();
    await s3?.stop();
    if (staging) await rm(staging, { recursive: true, force: true });
  });

  it('uploads the verified copy in parts, describes it, and keeps no staged copy', async () => {
    const beats: unknown[] = [];
    const copy = await copyIn('run-1', 'P1', 5, beats);
    assert.equal(copy.verified, true, JSON.stringify(copy.restoreTest));
    assert.match(copy.path, new RegExp(`^s3://${BUCKET}/${FOLDER}\\d{8}T\\d{6}Z-P1\\.rdb$`));
    const key = copy.path.slice(`s3://${BUCKET}/`.length);
    const head = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    assert.equal(head.ContentLength, copy.bytes);
    assert.ok(copy.bytes > 16 * 1024 * 1024, `${copy.bytes} bytes: more than one part`);
    assert.match(head.ETag ?? '', /-2"$/, 'a two-part multipart upload');
    assert.equal(head.Metadata?.['sha256'], copy.sha256);
    const body = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    const bytes = Buffer.from(await body.Body!.transformToByteArray());
    assert.equal(createHash('sha256').update(bytes).digest('hex'), copy.sha256, 'the object is the verified copy');
    const described = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key.replace(/\.rdb$/, '.json') }));
    const description = JSON.parse(await described.Body!.transformToString()) as { path: string; run: string };
    assert.equal(description.path, copy.path);
    assert.equal(description.run, 'redis-runbook-P1/run-1');
    assert.match(copy.restoreHint, /aws s3 cp s3:\/\//);
    assert.deepEqual(await stagedRdbs(), [], 'the staging directory keeps nothing once uploaded');
    const stages = new Set(beats.map((b) => (b as { stage?: string }).stage));
    assert.ok(stages.has('upload'), `upload progress heartbeated (${[...stages].join()})`);

    // The same run again (its result lost with its worker): the described copy, no second snapshot.
    const syncs = await fullSyncs();
    const again = await copyIn('run-1', 'P1');
    assert.equal(again.path, copy.path);
    assert.equal(await fullSyncs(), syncs);
  });

  it('after a killed attempt: its unfinished upload is aborted and its undescribed object removed', async () => {
    const partial = `${FOLDER}20260101T000000Z-P2.rdb`;
    const orphan = `${FOLDER}20260101T000001Z-P2.rdb`;
    const started = await client.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: partial }));
    await client.send(
      new UploadPartCommand({
        Bucket: BUCKET,
        Key: partial,
        UploadId: started.UploadId,
        PartNumber: 1,
        Body: Buffer.alloc(5 * 1024 * 1024, 1),
      }),
    );
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: orphan, Body: 'REDIS0011 no description' }));
    // Another incident's unfinished upload is not this run's to touch.
    const other = await client.send(
      new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: `${FOLDER}20260101T000000Z-P9.rdb` }),
    );

    const copy = await copyIn('run-2', 'P2');
    assert.equal(copy.verified, true);
    const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: FOLDER }));
    assert.deepEqual(
      (uploads.Uploads ?? []).map((u) => u.UploadId),
      [other.UploadId],
    );
    const now = await keys();
    assert.ok(!now.includes(orphan.slice(FOLDER.length)), 'the undescribed object is gone');
    assert.ok(now.some((k) => copy.path.endsWith(k)));
  });

  it('retention keeps the newest copies with their descriptions', async () => {
    await new Promise((r) => setTimeout(r, 1100)); // names carry the second
    const third = await copyIn('run-3', 'P3', 2);
    assert.equal(third.pruned, 1, 'P1 went; P2 and P3 stay');
    const now = await keys();
    assert.deepEqual(
      now.map((k) => k.replace(/^\d{8}T\d{6}Z-/, '')),
      ['P2.json', 'P2.rdb', 'P3.json', 'P3.rdb'],
    );
  });
});
