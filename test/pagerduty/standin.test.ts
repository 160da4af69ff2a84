/**
 * The stand-in's validation can fail: requests PagerDuty would refuse (no From on a write, a body outside the
 * schema, a wrong auth scheme, an unknown path or parameter) are answered 400 and listed as violations.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OpenApiDescription, PAGERDUTY_REST_API } from '../../local-servers/openapi.js';
import { startPagerDutyStandIn, type PagerDutyStandIn } from '../../local-servers/pagerduty/standin.js';

let pd: PagerDutyStandIn;

async function call(method: string, path: string, headers: Record<string, string>, body?: unknown) {
  const res = await fetch(`${pd.url}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as { error?: { errors?: string[] } } };
}

describe('PagerDuty stand-in validation against api/pagerduty-rest.yaml', () => {
  const ok = () => ({
    Authorization: `Token token=${pd.token}`,
    Accept: 'application/vnd.pagerduty+json;version=2',
    'Content-Type': 'application/json',
    From: 'bot@example.com',
  });
  before(async () => {
    pd = await startPagerDutyStandIn();
    pd.addIncident({ id: 'QVALID' });
  });
  after(async () => {
    await pd?.stop();
  });

  const cases: Array<[string, string, string, (h: Record<string, string>) => void, unknown, RegExp]> = [
    [
      'a note without From',
      'POST',
      '/incidents/QVALID/notes',
      (h) => delete h.From,
      { note: { content: 'x' } },
      /header: must have required property 'from'/,
    ],
    [
      'a From that is no email',
      'POST',
      '/incidents/QVALID/notes',
      (h) => (h.From = 'bot'),
      { note: { content: 'x' } },
      /header\.from: must match format "email"/,
    ],
    [
      'a note without content',
      'POST',
      '/incidents/QVALID/notes',
      () => undefined,
      { note: {} },
      /requestBody\.note: must have required property 'content'/,
    ],
    [
      'a status PagerDuty does not have',
      'PUT',
      '/incidents/QVALID',
      () => undefined,
      { incident: { type: 'incident_reference', status: 'fixed' } },
      /requestBody\.incident\.status: must be equal to one of the allowed values/,
    ],
    [
      'a Bearer token on an API-key endpoint',
      'GET',
      '/incidents/QVALID',
      (h) => (h.Authorization = `Bearer ${pd.token}`),
      undefined,
      /Token token=/,
    ],
    ['no Authorization header', 'GET', '/incidents/QVALID', (h) => delete h.Authorization, undefined, /Token token=/],
    [
      'a Content-Type with parameters',
      'GET',
      '/incidents/QVALID',
      (h) => (h['Content-Type'] = 'application/json; charset=utf-8'),
      undefined,
      /header\.content-type: must be equal to one of the allowed values \["application\/json"\]/,
    ],
    ['an unknown path', 'GET', '/incidentz/QVALID', () => undefined, undefined, /no such operation/],
    [
      'an unknown query parameter',
      'GET',
      '/incidents/QVALID/alerts?colour=red',
      () => undefined,
      undefined,
      /query: must NOT have additional properties "colour"/,
    ],
  ];
  for (const [name, method, path, mutate, body, expected] of cases) {
    it(`refuses ${name}`, async () => {
      const headers = ok();
      mutate(headers);
      const before = pd.violations.length;
      const res = await call(method, path, headers, body);
      assert.equal(res.status, 400);
      assert.equal(pd.violations.length, before + 1);
      assert.match(pd.violations.at(-1)!, expected);
    });
  }

  it('accepts a request as the document describes it', async () => {
    const before = pd.violations.length;
    const res = await call('POST', '/incidents/QVALID/notes', ok(), { note: { content: 'ok' } });
    assert.equal(res.status, 200);
    assert.equal(pd.violations.length, before);
  });

  it('refuses to load a description that is not valid OpenAPI', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pd-api-'));
    const path = join(dir, 'broken.yaml');
    await writeFile(path, 'openapi: 3.0.3\ninfo: {title: x, version: "1"}\npaths: {/x: {get: {responses: 7}}}\n');
    await assert.rejects(OpenApiDescription.load(path));
    await rm(dir, { recursive: true, force: true });
  });

  it('checks its own answers against the documented response schema', async () => {
    const api = await OpenApiDescription.load(PAGERDUTY_REST_API);
    const op = api.checkRequest({
      method: 'GET',
      path: '/users/PX1',
      query: '',
      headers: { authorization: 'Token token=t' },
      body: '',
    }).operation!;
    assert.deepEqual(api.checkResponse(op, 200, { user: { id: 'PX1', type: 'user', name: 'A', email: 'a@b.co' } }), []);
    assert.match(api.checkResponse(op, 200, { user: { id: 'PX1', type: 'user', name: 'A' } }).join(), /email/);
    assert.match(
      api.checkResponse(op, 200, { user: { id: 'PX1', type: 'user', name: 'A', email: 'nope' } }).join(),
      /format/,
    );
    assert.match(api.checkResponse(op, 503, {}).join(), /not documented/);
  });
});
