/** How the benches report: medians of interleaved runs with their spread, and the load the machine was under. */
import { loadavg } from 'node:os';

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** `median (min–max)`, each with `digits` decimals. */
export function spread(xs: readonly number[], digits = 1): string {
  const s = [...xs].sort((a, b) => a - b);
  const f = (x: number) => x.toFixed(digits);
  return `${f(median(s))} (${f(s[0]!)}–${f(s[s.length - 1]!)})`;
}

/** The 1-minute load average now, to print beside figures taken under it. */
export function loadNow(): number {
  return loadavg()[0]!;
}
