/**
 * PagerDuty's REST OpenAPI document (read from `../shared/reference/` beside the repository, never copied into it)
 * and a validator for what the stand-in receives and answers: operation lookup by method and path template,
 * parameters (path, query, header), the `Authorization` scheme, and bodies against the operation's JSON schema.
 *
 * The schema validator covers the subset of JSON Schema the document uses (OpenAPI 3.0 flavour: `nullable`, `$ref`
 * as local JSON pointers, `allOf`/`oneOf`/`anyOf`, formats). A keyword it does not know is reported as an error, so
 * a gap in the validator fails a test instead of passing a request unchecked.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** `dist/test/pagerduty/` → the repository root → `../shared/reference/`. */
export const REST_DOCUMENT_PATH = fileURLToPath(
  new URL('../../../../shared/reference/pagerduty-rest-openapiv3.json', import.meta.url),
);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Schema = Record<string, Json>;

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: Schema;
}

interface Operation {
  operationId?: string;
  parameters?: Array<Parameter | { $ref: string }>;
  requestBody?: { required?: boolean; content: Record<string, { schema?: Schema }> };
  responses: Record<string, { $ref?: string; content?: Record<string, { schema?: Schema; examples?: unknown }> }>;
  security?: Array<Record<string, string[]>>;
}

/** The parsed document, as much of its shape as the validator walks. */
export interface RestDocument {
  paths: Record<string, Record<string, unknown> & { parameters?: Operation['parameters'] }>;
  components: Record<string, Record<string, unknown>>;
  security?: Array<Record<string, string[]>>;
}

let cached: RestDocument | undefined;

/** Reads (once per process) and parses the REST document. */
export function loadRestDocument(path = REST_DOCUMENT_PATH): RestDocument {
  if (!cached || path !== REST_DOCUMENT_PATH) {
    const doc = JSON.parse(readFileSync(path, 'utf8')) as RestDocument;
    if (path !== REST_DOCUMENT_PATH) return doc;
    cached = doc;
  }
  return cached;
}

/** Follows a local `#/a/b~1c` pointer. */
export function resolvePointer(doc: RestDocument, ref: string): unknown {
  if (!ref.startsWith('#/')) throw new Error(`only local $refs are supported: ${ref}`);
  let node: unknown = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || !(key in node)) throw new Error(`unresolvable $ref ${ref}`);
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function deref<T>(doc: RestDocument, x: T | { $ref: string }): T {
  let node: unknown = x;
  for (let i = 0; i < 20 && node && typeof node === 'object' && '$ref' in node; i++) {
    node = resolvePointer(doc, (node as { $ref: string }).$ref);
  }
  return node as T;
}

/** An operation found for a method and a concrete path. */
export interface MatchedOperation {
  template: string;
  method: string;
  operation: Operation;
  pathParams: Record<string, string>;
}

/** The operation serving `method pathname`; literal segments win over `{params}` (`/incidents/count` before `{id}`). */
export function findOperation(doc: RestDocument, method: string, pathname: string): MatchedOperation | undefined {
  const segments = pathname.split('/').slice(1);
  let best: { m: MatchedOperation; params: number } | undefined;
  for (const [template, item] of Object.entries(doc.paths)) {
    const parts = template.split('/').slice(1);
    if (parts.length !== segments.length) continue;
    const pathParams: Record<string, string> = {};
    const ok = parts.every((p, i) => {
      const seg = decodeURIComponent(segments[i]!);
      const param = /^\{(.+)\}$/.exec(p);
      if (param) {
        pathParams[param[1]!] = seg;
        return seg.length > 0;
      }
      return p === seg;
    });
    if (!ok) continue;
    const operation = item[method.toLowerCase()] as Operation | undefined;
    if (!operation) continue;
    const params = Object.keys(pathParams).length;
    if (!best || params < best.params) best = { m: { template, method, operation, pathParams }, params };
  }
  return best?.m;
}

/** The methods the document defines for the path template matching `pathname`, for a 405's `Allow`. */
export function methodsFor(doc: RestDocument, pathname: string): string[] {
  const methods = new Set<string>();
  for (const m of ['get', 'post', 'put', 'delete', 'patch']) {
    if (findOperation(doc, m, pathname)) methods.add(m.toUpperCase());
  }
  return [...methods];
}

const ANNOTATIONS = new Set([
  'description',
  'title',
  'example',
  'examples',
  'x-examples',
  'default',
  'readOnly',
  'writeOnly',
  'deprecated',
  'discriminator',
  'externalDocs',
  'xml',
]);
const VALIDATION = new Set([
  '$ref',
  'type',
  'nullable',
  'enum',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'allOf',
  'oneOf',
  'anyOf',
  'format',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minItems',
  'maxItems',
  'uniqueItems',
  'pattern',
]);

const FORMATS: Record<string, (s: string) => boolean> = {
  email: (s) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(s),
  'date-time': (s) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(s),
  url: (s) => URL.canParse(s),
  uri: (s) => URL.canParse(s),
  uuid: (s) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s),
};

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/**
 * Validates `value` against `schema`; returns one line per problem, each with its JSON path (`$.note.content`).
 * `additionalProperties` is honoured only where the document sets it, as OpenAPI allows extra properties otherwise.
 */
export function validateSchema(doc: RestDocument, schema: Schema, value: unknown, at = '$'): string[] {
  const s = deref<Schema>(doc, schema);
  const errors: string[] = [];
  for (const key of Object.keys(s)) {
    if (!VALIDATION.has(key) && !ANNOTATIONS.has(key) && !key.startsWith('x-')) {
      errors.push(`${at}: schema keyword "${key}" is not supported by the validator`);
    }
  }
  if (value === null && s.nullable === true) return errors;
  if (typeof s.type === 'string') {
    const actual = typeOf(value);
    const okType = actual === s.type || (s.type === 'number' && actual === 'integer');
    if (!okType) return [...errors, `${at}: expected ${s.type}${s.nullable ? ' or null' : ''}, got ${actual}`];
  }
  if (Array.isArray(s.enum) && !s.enum.some((e) => e === value)) {
    errors.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(s.enum)}`);
  }
  if (typeof value === 'string') {
    if (typeof s.minLength === 'number' && value.length < s.minLength)
      errors.push(`${at}: shorter than ${s.minLength}`);
    if (typeof s.maxLength === 'number' && value.length > s.maxLength) errors.push(`${at}: longer than ${s.maxLength}`);
    if (typeof s.pattern === 'string' && !new RegExp(s.pattern, 'u').test(value)) {
      errors.push(`${at}: does not match ${s.pattern}`);
    }
    const check = typeof s.format === 'string' ? FORMATS[s.format] : undefined;
    if (check && !check(value))
      errors.push(`${at}: ${JSON.stringify(value)} is not a valid ${JSON.stringify(s.format)}`);
  }
  if (typeof value === 'number') {
    if (typeof s.minimum === 'number' && value < s.minimum) errors.push(`${at}: below ${s.minimum}`);
    if (typeof s.maximum === 'number' && value > s.maximum) errors.push(`${at}: above ${s.maximum}`);
  }
  if (Array.isArray(value)) {
    if (typeof s.minItems === 'number' && value.length < s.minItems) errors.push(`${at}: fewer than ${s.minItems}`);
    if (typeof s.maxItems === 'number' && value.length > s.maxItems) errors.push(`${at}: more than ${s.maxItems}`);
    if (s.uniqueItems === true && new Set(value.map((v) => JSON.stringify(v))).size !== value.length) {
      errors.push(`${at}: items are not unique`);
    }
    if (s.items && typeof s.items === 'object' && !Array.isArray(s.items)) {
      value.forEach((v, i) => errors.push(...validateSchema(doc, s.items as Schema, v, `${at}[${i}]`)));
    }
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    const props = (s.properties ?? {}) as Record<string, Schema>;
    for (const name of (s.required ?? []) as string[]) {
      if (!(name in obj)) errors.push(`${at}: missing required property "${name}"`);
    }
    for (const [name, v] of Object.entries(obj)) {
      const p = props[name];
      if (p) errors.push(...validateSchema(doc, p, v, `${at}.${name}`));
      else if (s.additionalProperties === false) errors.push(`${at}: unexpected property "${name}"`);
      else if (s.additionalProperties && typeof s.additionalProperties === 'object') {
        errors.push(...validateSchema(doc, s.additionalProperties as Schema, v, `${at}.${name}`));
      }
    }
  }
  if (Array.isArray(s.allOf)) {
    for (const sub of s.allOf as Schema[]) errors.push(...validateSchema(doc, sub, value, at));
  }
  if (Array.isArray(s.anyOf)) {
    const results = (s.anyOf as Schema[]).map((sub) => validateSchema(doc, sub, value, at));
    if (!results.some((r) => r.length === 0)) errors.push(`${at}: matches none of anyOf (${results.flat()[0] ?? ''})`);
  }
  if (Array.isArray(s.oneOf)) {
    const passing = (s.oneOf as Schema[]).filter((sub) => validateSchema(doc, sub, value, at).length === 0).length;
    if (passing !== 1) errors.push(`${at}: matches ${passing} of oneOf's ${s.oneOf.length} schemas (expected 1)`);
  }
  return errors;
}

function coerce(schema: Schema | undefined, raw: string): unknown {
  const type = schema?.type;
  if (type === 'integer' || type === 'number') return /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
  if (type === 'boolean') return raw === 'true' ? true : raw === 'false' ? false : raw;
  return raw;
}

/** A request as the stand-in saw it. */
export interface SeenRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  /** Lower-cased header names. */
  headers: Record<string, string | undefined>;
  body: string;
}

/** The outcome of validating one request. */
export interface RequestCheck {
  operation?: MatchedOperation;
  errors: string[];
  /** The body, parsed, when it was JSON. */
  json?: unknown;
}

/**
 * Validates a request against the document: the operation exists for the method and path, the API-key scheme is
 * used (`Authorization: Token token=…`), every required header/query/path parameter is present and matches its
 * schema, no query parameter is unknown to the operation, and the body is JSON of the operation's schema.
 */
export function validateRequest(doc: RestDocument, req: SeenRequest): RequestCheck {
  const operation = findOperation(doc, req.method, req.path);
  if (!operation) return { errors: [`${req.method} ${req.path}: no such operation in the REST document`] };
  const errors: string[] = [];
  const op = operation.operation;
  const security = op.security ?? doc.security ?? [];
  if (security.some((s) => 'api_key' in s)) {
    if (!/^Token token=\S+$/.test(req.headers.authorization ?? '')) {
      errors.push('header Authorization: expected "Token token=<API key>"');
    }
  }
  const item = doc.paths[operation.template]!;
  const params = [...(item.parameters ?? []), ...(op.parameters ?? [])].map((p) => deref<Parameter>(doc, p));
  const knownQuery = new Set<string>();
  for (const p of params) {
    let raw: string | undefined;
    if (p.in === 'header') raw = req.headers[p.name.toLowerCase()];
    else if (p.in === 'path') raw = operation.pathParams[p.name];
    else if (p.in === 'query') {
      knownQuery.add(p.name);
      raw = req.query.get(p.name) ?? undefined;
    } else continue;
    if (raw === undefined) {
      if (p.required) errors.push(`${p.in} parameter ${p.name}: required`);
      continue;
    }
    if (p.schema) {
      for (const e of validateSchema(doc, p.schema, coerce(p.schema, raw), `${p.in} ${p.name}`)) errors.push(e);
    }
  }
  for (const name of new Set(req.query.keys())) {
    if (!knownQuery.has(name)) errors.push(`query parameter ${name}: not defined for ${operation.template}`);
  }
  let json: unknown;
  const body = op.requestBody;
  if (!body) {
    if (req.body.length > 0) errors.push(`${req.method} ${operation.template} takes no body`);
  } else if (req.body.length === 0) {
    if (body.required !== false) errors.push('body: required');
  } else {
    const mediaType = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
    const media = body.content[mediaType];
    if (!media) errors.push(`body: content type ${mediaType || '(none)'} not accepted`);
    try {
      json = JSON.parse(req.body);
      if (media?.schema) errors.push(...validateSchema(doc, media.schema, json, 'body'));
    } catch {
      errors.push('body: not JSON');
    }
  }
  return { operation, errors, json };
}

/** Validates an answer the stand-in is about to give against the operation's documented response. */
export function validateResponse(doc: RestDocument, op: MatchedOperation, status: number, body: unknown): string[] {
  const documented = op.operation.responses[String(status)];
  if (!documented) return [`${op.method} ${op.template}: status ${status} is not documented`];
  const response = deref<{ content?: Record<string, { schema?: Schema }> }>(doc, documented);
  const schema = response.content?.['application/json']?.schema;
  return schema ? validateSchema(doc, schema, body, `response ${status}`) : [];
}

/** The documented example of an operation's response, to answer with PagerDuty's own shapes. */
export function responseExample(op: MatchedOperation, status = 200): unknown {
  const examples = op.operation.responses[String(status)]?.content?.['application/json']?.examples as
    Record<string, { value?: unknown }> | undefined;
  const first = examples ? Object.values(examples)[0]?.value : undefined;
  return first === undefined ? undefined : structuredClone(first);
}
