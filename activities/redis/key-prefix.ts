/**
 * The prefix a key is aggregated under: the key up to and including its first `:` or `#` when that delimiter is within
 * the first 64 characters (`stat:processed:2024-01-01` → `stat:`, `Course#12:cache` → `Course#`); otherwise the whole
 * key cut to 40 characters (`retry`, `dead`), since an undelimited name usually is one well-known key.
 */
export function keyPrefix(key: string): string {
  const match = /[:#]/.exec(key);
  if (match && match.index < 64) return key.slice(0, match.index + 1);
  return key.length > 40 ? `${key.slice(0, 40)}…` : key;
}
