/**
 * Content ids for plans: FNV-1a (64-bit) over a canonical JSON form. Pure and deterministic, so the workflow sandbox
 * can compute it and any client can check it. Not a security boundary: it names a plan so that an approval of an
 * older plan is recognised as stale.
 */

/** JSON with object keys sorted, so that equal content gives equal text whatever the key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK_64 = 0xffffffffffffffffn;

/** 16 hex digits of FNV-1a 64 over the UTF-16 code units of `text`. */
export function fnv1a64(text: string): string {
  let hash = FNV_OFFSET;
  for (let i = 0; i < text.length; i++) {
    hash ^= BigInt(text.charCodeAt(i));
    hash = (hash * FNV_PRIME) & MASK_64;
  }
  return hash.toString(16).padStart(16, '0');
}

/** `plan-` and 12 hex digits derived from the content. */
export function contentId(prefix: string, content: unknown): string {
  return `${prefix}-${fnv1a64(canonicalJson(content)).slice(0, 12)}`;
}
