/**
 * Which key patterns a cleanup may use. Pure, so the plan refuses a pattern before anything scans it, and the cleanup
 * activity refuses it again should a plan ever carry one.
 */

/** Literal characters a pattern must start with before its first glob character. */
export const MIN_PATTERN_PREFIX = 3;
/** Longest pattern accepted (it is shown in plans, notes and the UI). */
export const MAX_PATTERN_LENGTH = 200;

/**
 * Why `pattern` may not drive a cleanup, or undefined when it may: fewer than {@link MIN_PATTERN_PREFIX} literal
 * characters before the first glob character (`*`, `*:foo`, `?a*`, `st*` would match far more than intended).
 */
export function patternRefusal(pattern: string): string | undefined {
  if (pattern.length > MAX_PATTERN_LENGTH) return `longer than ${MAX_PATTERN_LENGTH} characters`;
  const firstGlob = pattern.search(/[*?[\\]/);
  const literal = firstGlob === -1 ? pattern.length : firstGlob;
  if (literal < MIN_PATTERN_PREFIX)
    return `too broad: it needs at least ${MIN_PATTERN_PREFIX} literal characters before any glob character`;
  return undefined;
}
