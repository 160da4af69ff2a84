/**
 * The stand-in's validation can fail: requests PagerDuty would refuse (no From on a write, a body outside the
 * schema, a wrong auth scheme, an unknown path or parameter) are answered 400 and listed as violations.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadRestDocument, validateSchema } from './openapi-document.js';
import { startPagerDutyStandIn, type PagerDutyStandIn } from '../servers/pagerduty-standin.js';

let pd: PagerDutyStandIn;

async function call(method: string, path: string, headers: Record<string, string>, body?: unknown) {
  const res = await fetch(`${pd.url}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as { error?: { errors?: string[] } } };
}

describe('PagerDuty stand-in validation against the OpenAPI document', () => {
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
      /header parameter From: required/,
    ],
    [
      'a From that is no email',
      'POST',
      '/incidents/QVALID/notes',
      (h) => (h.From = 'bot'),
      { note: { content: 'x' } },
      /is not a valid "email"/,
    ],
    [
      'a note without content',
      'POST',
      '/incidents/QVALID/notes',
      () => undefined,
      { note: {} },
      /missing required property "content"/,
    ],
    [
      'a status PagerDuty does not have',
      'PUT',
      '/incidents/QVALID',
      () => undefined,
      { incident: { type: 'incident_reference', status: 'fixed' } },
      /"fixed" is not one of/,
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
      /is not one of \["application\/json"\]/,
    ],
    ['an unknown path', 'GET', '/incidentz/QVALID', () => undefined, undefined, /no such operation/],
    [
      'an unknown query parameter',
      'GET',
      '/incidents/QVALID/alerts?colour=red',
      () => undefined,
      undefined,
      /query parameter colour: not defined/,
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

  it('validates JSON Schema keywords the document uses, and flags ones it does not know', () => {
    const doc = loadRestDocument();
    assert.deepEqual(
      validateSchema(doc, { $ref: '#/components/schemas/UserReference' }, { id: 'P1', type: 'user_reference' }),
      [],
    );
    assert.match(
      validateSchema(doc, { $ref: '#/components/schemas/UserReference' }, { type: 'user_reference' })[0]!,
      /"id"/,
    );
    assert.match(
      validateSchema(doc, { oneOf: [{ type: 'string' }, { type: 'string' }] }, 'x')[0]!,
      /matches 2 of oneOf/,
    );
    assert.deepEqual(validateSchema(doc, { type: 'string', nullable: true }, null), []);
    assert.match(validateSchema(doc, { type: 'string' }, null)[0]!, /expected string, got null/);
    assert.match(validateSchema(doc, { if: { type: 'string' } }, 'x')[0]!, /keyword "if" is not supported/);
  });
});
