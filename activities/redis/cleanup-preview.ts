import type { Redis } from 'ioredis';
import { z } from 'zod';
import { MARKER_PREFIX, assertNarrowPattern } from './cleanup.js';
import type { Progress } from './progress.js';
import type { CleanupPreview } from './types.js';

/** Heartbeat of a preview: the cursor and the figures so far, so a retry resumes instead of walking again. */
export const previewStateSchema = z.object({
  kind: z.literal('cleanup-preview'),
  pattern: z.string(),
  cursor: z.string(),
  keys: z.number(),
  bytes: z.number(),
  withTtl: z.number(),
  samples: z.array(z.string()),
});
export type PreviewState = z.infer<typeof previewStateSchema>;

/**
 * What `UNLINK` of `pattern` would remove in the current db: SCAN MATCH in pages of `scanCount`, and for each match
 * `MEMORY USAGE` and `PTTL` in one pipeline. Read-only; never KEYS. Resumes from a heartbeat of the same pattern.
 */
export async function previewPattern(
  redis: Redis,
  pattern: string,
  opts: { scanCount?: number; pace?: () => Promise<unknown> },
  progress: Progress<PreviewState>,
): Promise<CleanupPreview> {
  assertNarrowPattern(pattern);
  const previous = progress.resumeFrom?.pattern === pattern ? progress.resumeFrom : undefined;
  const state: PreviewState = previous ?? {
    kind: 'cleanup-preview',
    pattern,
    cursor: '0',
    keys: 0,
    bytes: 0,
    withTtl: 0,
    samples: [],
  };
  do {
    const [next, found] = await redis.scanBuffer(state.cursor, 'MATCH', pattern, 'COUNT', opts.scanCount ?? 1000);
    const keys = found.filter((k) => !k.toString('latin1').startsWith(MARKER_PREFIX));
    if (keys.length > 0) {
      const replies = (await keys.reduce((p, k) => p.memory('USAGE', k).pttl(k), redis.pipeline()).exec()) ?? [];
      keys.forEach((key, i) => {
        const [, bytes] = replies[i * 2] ?? [];
        const [, pttl] = replies[i * 2 + 1] ?? [];
        if (pttl === -2) return; // gone meanwhile
        state.keys++;
        state.bytes += typeof bytes === 'number' ? bytes : 0;
        if (typeof pttl === 'number' && pttl >= 0) state.withTtl++;
        if (state.samples.length < 3) state.samples.push(key.toString('utf8').slice(0, 100));
      });
    }
    state.cursor = next.toString();
    progress.report({ ...state, samples: [...state.samples] });
    if (state.cursor !== '0') await opts.pace?.();
  } while (state.cursor !== '0');
  const { keys, bytes, withTtl, samples } = state;
  return { pattern, keys, bytes, withTtl, samples, dbKeys: await redis.dbsize() };
}
