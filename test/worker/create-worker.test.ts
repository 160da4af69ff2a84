import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { allSearchAttributeKeys } from '../../workflows/definitions.js';
import {
  createRunbookWorker,
  DEFAULT_WORKFLOWS_PATH,
  ensureSearchAttributes,
  searchAttributeCreateCommand,
} from '../../worker/create-worker.js';
import { temporalCliPath } from '../../local-servers/temporal-binaries.js';

void describe('worker set-up against a dev server without registered search attributes', () => {
  let env: TestWorkflowEnvironment;

  before(async () => {
    env = await TestWorkflowEnvironment.createLocal({
      server: { executable: { type: 'existing-path', path: temporalCliPath() }, ui: false },
    });
  });
  after(async () => {
    await env?.teardown();
  });

  void it('registers the missing keys once, through a client or a native connection', async () => {
    const names = allSearchAttributeKeys.map((k) => k.name).sort();
    assert.deepEqual((await ensureSearchAttributes(env.connection, 'default')).sort(), names);
    assert.deepEqual(await ensureSearchAttributes(env.connection, 'default'), []);
    assert.deepEqual(await ensureSearchAttributes(env.nativeConnection, 'default'), []);
    const listed = await env.connection.operatorService.listSearchAttributes({ namespace: 'default' });
    for (const name of names) assert.equal(listed.customAttributes?.[name], 2, `${name} is a Keyword`);
  });

  void it('creates a worker from the compiled workflows next to it, which runs and stops', async () => {
    assert.match(DEFAULT_WORKFLOWS_PATH, /dist\/workflows\/index\.js$/);
    const worker = await createRunbookWorker({
      connection: env.nativeConnection,
      namespace: 'default',
      taskQueue: 'create-worker-test',
      activities: {},
      shutdownGraceTimeMs: 1000,
    });
    const running = worker.run();
    assert.equal(worker.getState(), 'RUNNING');
    worker.shutdown();
    await running;
    assert.equal(worker.getState(), 'STOPPED');
  });

  void it('gives the command to register the keys by hand', () => {
    assert.equal(
      searchAttributeCreateCommand('prod'),
      'temporal operator search-attribute create --namespace prod --name RunbookIncidentId --name RunbookTarget ' +
        '--name RunbookPhase --name RunbookOutcome --type Keyword --type Keyword --type Keyword --type Keyword',
    );
  });
});
