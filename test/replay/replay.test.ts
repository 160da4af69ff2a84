/**
 * Replays the histories recorded by the end-to-end runs (test/histories/) with today's workflow code. A change that
 * would break running workflows (a step added, removed or reordered without `patched()`) fails here.
 * Re-record after an intended, compatible change with `RECORD_HISTORIES=1 node --test dist/test/e2e/`.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import {
  ACT_WITHOUT_REDIS_PATCH,
  BACKUP_COPY_PATCH,
  CONTINUE_APPROVAL_PATCH,
  NODE_AND_STORAGE_PATCH,
  PROBE_ACTION_PATCH,
  SAFE_PRODUCTION_PATCH,
  TOPOLOGY_PODS_PATCH,
} from '../../workflows/definitions.js';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { DeterminismViolationError } from '@temporalio/workflow';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { bundleRunbookWorkflows } from '../../worker/workflow-bundle.js';
import { installQuietRuntime } from '../../local-servers/temporal.js';

installQuietRuntime();

const HISTORIES = fileURLToPath(new URL('../../../test/histories/', import.meta.url));

async function histories(): Promise<Array<{ name: string; history: ReturnType<typeof historyFromJSON> }>> {
  const files = (await readdir(HISTORIES)).filter((f) => f.endsWith('.json')).sort();
  return Promise.all(
    files.map(async (name) => ({
      name,
      history: historyFromJSON(JSON.parse(await readFile(HISTORIES + name, 'utf8'))),
    })),
  );
}

describe('replay of recorded histories', () => {
  let current: WorkflowBundleWithSourceMap;
  let traced: WorkflowBundleWithSourceMap;
  let changed: WorkflowBundleWithSourceMap;
  before(async () => {
    // As workers run it: without tracing, and with the SDK's OpenTelemetry workflow interceptors (one build id).
    current = await bundleRunbookWorkflows();
    traced = await bundleRunbookWorkflows({ tracing: true });
    changed = await bundleRunbookWorkflows({
      workflowsPath: fileURLToPath(new URL('./changed-workflow.js', import.meta.url)),
    });
  });

  it("has the approved, rejected and dry-run histories of each version, a continued approval wait, and the intake's three endings", async () => {
    const names = (await histories()).map((h) => h.name);
    assert.deepEqual(names, [
      'approved.json',
      'approved.v2.json',
      'approved.v3.json',
      'approved.v4.json',
      'approved.v6.json',
      'continued.v3.json',
      'dry-run.json',
      'dry-run.v2.json',
      'dry-run.v3.json',
      'dry-run.v4.json',
      'dry-run.v6.json',
      'intake-alerts-unreadable.json',
      'intake-routed.json',
      'intake-unroutable.json',
      'node-probe.v6.json',
      'rejected.json',
      'rejected.v2.json',
      'rejected.v3.json',
      'rejected.v4.json',
      'rejected.v6.json',
      'resumed.v3.json',
      'sentinel.v7.json',
      'unreachable.v5.json',
    ]);
  });

  it('each version ran behind the patches of its time (v2 safe-production, v3 continue-approval-wait, v4 backup-copy, v5 act-without-redis, v6 node-and-storage and probe-action, v7 topology-pods)', async () => {
    for (const { name } of await histories()) {
      const text = await readFile(HISTORIES + name, 'utf8');
      const decoded = [...text.matchAll(/"data":\s*"([A-Za-z0-9+/=]+)"/g)].map((m) =>
        Buffer.from(m[1]!, 'base64').toString('utf8'),
      );
      const marked = (patch: string) => decoded.some((d) => d.includes(`"id":${JSON.stringify(patch)}`));
      if (name.startsWith('intake-')) {
        // The intake is a workflow of its own, with no patch yet.
        assert.ok(!decoded.some((d) => /"id":"[a-z-]+","deprecated"/.test(d)), name);
        continue;
      }
      const version = /\.(v\d)\.json$/.exec(name)?.[1] ?? 'v1';
      assert.equal(marked(SAFE_PRODUCTION_PATCH), version !== 'v1', name);
      // A dry run never backs up nor waits for approval, so it never meets the later patches.
      const waited = !name.startsWith('dry-run');
      const unreachable = name.startsWith('unreachable');
      const since = (first: number) => Number(version.slice(1)) >= first;
      assert.equal(marked(CONTINUE_APPROVAL_PATCH), since(3) && waited, name);
      // A Redis that is down is not backed up: the backup-copy patch never comes up in that run.
      assert.equal(marked(BACKUP_COPY_PATCH), since(4) && waited && !unreachable, name);
      assert.equal(marked(ACT_WITHOUT_REDIS_PATCH), unreachable, name);
      // Every v6 run looks at the node and the claims, and each of them meets the demo's too-tight liveness probe.
      assert.equal(marked(NODE_AND_STORAGE_PATCH), since(6), name);
      assert.equal(marked(PROBE_ACTION_PATCH), since(6), name);
      // Only a run on a replicated set or a Cluster looks up its nodes' pods (v7: a Sentinel-managed set).
      assert.equal(marked(TOPOLOGY_PODS_PATCH), since(7), name);
    }
  });

  it('replays every history with the current workflow code, with tracing and without', async () => {
    for (const { name, history } of await histories()) {
      await Worker.runReplayHistory({ workflowBundle: current, replayName: name }, history);
      await Worker.runReplayHistory({ workflowBundle: traced, replayName: `${name} (traced)` }, history);
    }
  });

  it('fails on a workflow change that would break running workflows', async () => {
    for (const { name, history } of await histories()) {
      await assert.rejects(
        Worker.runReplayHistory({ workflowBundle: changed, replayName: name }, history),
        (err) => err instanceof DeterminismViolationError,
        `${name} must not replay on incompatible code`,
      );
    }
  });
});
