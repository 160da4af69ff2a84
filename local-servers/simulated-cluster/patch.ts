/** The three patch formats of the API server: JSON merge patch, strategic merge patch, and JSON patch. */
import { HttpError } from './status.js';

export const MERGE_PATCH = 'application/merge-patch+json';
export const STRATEGIC_MERGE_PATCH = 'application/strategic-merge-patch+json';
export const JSON_PATCH = 'application/json-patch+json';

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An object patch merged key by key: `null` removes a key, anything else is merged in by `merge`. */
function mergeKeys(target: unknown, patch: Record<string, unknown>, merge: (t: unknown, p: unknown) => unknown) {
  const result: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = merge(result[key], value);
  }
  return result;
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  return isPlainObject(patch) ? mergeKeys(target, patch, mergePatch) : patch;
}

/**
 * Strategic merge patch, simplified: a merge patch where lists of named objects (containers, env, volumes) merge by
 * `name` instead of being replaced. `$patch` directives are not supported.
 */
function strategicMergePatch(target: unknown, patch: unknown): unknown {
  if (
    Array.isArray(patch) &&
    Array.isArray(target) &&
    patch.every((p) => isPlainObject(p) && typeof p['name'] === 'string')
  ) {
    const result: unknown[] = [...(target as unknown[])];
    for (const item of patch as Array<Record<string, unknown>>) {
      const at = result.findIndex((t) => isPlainObject(t) && t['name'] === item['name']);
      if (at === -1) result.push(item);
      else result[at] = strategicMergePatch(result[at], item);
    }
    return result;
  }
  return isPlainObject(patch) ? mergeKeys(target, patch, strategicMergePatch) : patch;
}

/** RFC 6902 JSON patch: `add`, `remove`, `replace` and `test`. */
function jsonPatch(target: unknown, operations: unknown[]): unknown {
  const doc = structuredClone(target);
  for (const op of operations) {
    if (!isPlainObject(op) || typeof op['op'] !== 'string' || typeof op['path'] !== 'string') {
      throw new HttpError(400, 'BadRequest', 'invalid JSON patch operation: needs "op" and "path"');
    }
    const tokens = op['path']
      .split('/')
      .slice(1)
      .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = tokens.pop();
    if (last === undefined) throw new HttpError(422, 'Invalid', 'JSON patch on the whole document is not supported');
    let parent: unknown = doc;
    for (const token of tokens) {
      parent = Array.isArray(parent) ? parent[Number(token)] : isPlainObject(parent) ? parent[token] : undefined;
      if (parent === undefined) throw new HttpError(422, 'Invalid', `doc is missing path: "${op['path']}"`);
    }
    const missing = () => new HttpError(422, 'Invalid', `doc is missing path: "${String(op['path'])}"`);
    if (Array.isArray(parent)) {
      const index = last === '-' ? parent.length : Number(last);
      if (op['op'] === 'add') parent.splice(index, 0, op['value']);
      else if (op['op'] === 'remove') parent.splice(index, 1);
      else if (op['op'] === 'replace') parent[index] = op['value'];
      else if (op['op'] === 'test') {
        if (JSON.stringify(parent[index]) !== JSON.stringify(op['value']))
          throw new HttpError(422, 'Invalid', 'test failed');
      } else throw new HttpError(422, 'Invalid', `unsupported JSON patch operation "${op['op']}"`);
    } else if (isPlainObject(parent)) {
      if (op['op'] === 'add' || op['op'] === 'replace') {
        if (op['op'] === 'replace' && !(last in parent)) throw missing();
        parent[last] = op['value'];
      } else if (op['op'] === 'remove') {
        if (!(last in parent)) throw missing();
        delete parent[last];
      } else if (op['op'] === 'test') {
        if (JSON.stringify(parent[last]) !== JSON.stringify(op['value']))
          throw new HttpError(422, 'Invalid', 'test failed');
      } else throw new HttpError(422, 'Invalid', `unsupported JSON patch operation "${op['op']}"`);
    } else throw missing();
  }
  return doc;
}

/** `body` applied to `target` as `contentType` says; a 400 or 415 `Status` as the API server answers otherwise. */
export function applyPatch(target: unknown, contentType: string, body: unknown): unknown {
  if (contentType === MERGE_PATCH) return mergePatch(target, body);
  if (contentType === STRATEGIC_MERGE_PATCH) return strategicMergePatch(target, body);
  if (contentType === JSON_PATCH) {
    if (!Array.isArray(body))
      throw new HttpError(400, 'BadRequest', 'json: cannot unmarshal object into Go value of type jsonpatch.Patch');
    return jsonPatch(target, body);
  }
  throw new HttpError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: ${JSON_PATCH}, ${MERGE_PATCH}, application/apply-patch+yaml, ${STRATEGIC_MERGE_PATCH}`,
  );
}
