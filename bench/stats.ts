/** How the benches report: medians of interleaved runs with their spread, and the load the machine was under. */
import { readFile, writeFile } from 'node:fs/promises';
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

/** The `q` quantile of `xs` (nearest rank); NaN when empty. */
export function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

/**
 * Replaces what stands between the `bench:<name>` markers of `file` with `command` (what made it, with the date) and
 * `text`.
 */
export async function writeMarkdown(file: string, name: string, command: string, text: string): Promise<void> {
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  const doc = await readFile(file, 'utf8');
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  if (i < 0 || j < i) throw new Error(`${file} has no ${start} … ${end} block to write into`);
  const made = `\`${command}\`, ${new Date().toISOString().slice(0, 10)}:`;
  await writeFile(
    file,
    `${doc.slice(0, i + start.length)}\n\n<!-- written by bench/; do not edit -->\n\n${made}\n\n${text}\n\n${doc.slice(j)}`,
  );
  console.log(`wrote ${file}`);
}

/** A history event's time (`eventTime`) in ms since the epoch; NaN when absent. */
export function eventMs(t: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  return t ? Number(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : NaN;
}
