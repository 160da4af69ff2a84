/** Redis Cluster's key slots (CRC16 of the key or its hash tag, mod 16384), by the library ioredis uses for it. */
import calculateSlot from 'cluster-key-slot';

/** Inclusive slot ranges, as `CLUSTER SHARDS` and `CLUSTER NODES` give them. */
export type SlotRanges = Array<[number, number]>;

export function slotOf(key: string | Buffer): number {
  return calculateSlot(key);
}

export function inRanges(slot: number, ranges: SlotRanges): boolean {
  return ranges.some(([a, b]) => slot >= a && slot <= b);
}

/**
 * `base{n}` for the smallest `n` whose slot is in `ranges`: a key the node serving them may write (the same on every
 * attempt while the slots stay). A node serving a single slot needs about 16,384 tries, a few milliseconds.
 */
export function keyInRanges(base: string, ranges: SlotRanges): string | undefined {
  if (ranges.length === 0) return undefined;
  for (let n = 0; n < 1_000_000; n++) {
    const key = `${base}{${n}}`;
    if (inRanges(slotOf(key), ranges)) return key;
  }
  return undefined;
}
