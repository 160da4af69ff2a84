/**
 * Classification of a Redis container's log tail into the signals the runbook reasons about. Pure: no I/O, no Node
 * built-ins, so workflow code can import it as well as activities.
 */
import type { LogClassification, LogSignal } from '../../activities/kubernetes/types.js';

/** Lines kept in `lastLines` when the caller does not say. */
export const DEFAULT_LAST_LINES = 20;

/** Longest line kept, as an example or in `lastLines`: results end up in workflow history. */
export const MAX_LINE_CHARS = 300;

/** What each signal looks like in a log line. Order is the order of the result. */
const PATTERNS: ReadonlyArray<{ signal: LogSignal; patterns: RegExp[] }> = [
  // Redis rejects writes with this error; the server does not log it, but clients and proxies sharing the log do.
  { signal: 'oom-command-not-allowed', patterns: [/OOM command not allowed/i] },
  { signal: 'misconf', patterns: [/\bMISCONF\b/] },
  { signal: 'fork-cannot-allocate-memory', patterns: [/fork: Cannot allocate memory/i] },
  { signal: 'permission-denied', patterns: [/Permission denied/i] },
  { signal: 'disk-full', patterns: [/No space left on device/i] },
  {
    signal: 'oom-killed-by-kernel',
    patterns: [
      /Out of memory: Kill(?:ed)? process/i,
      /invoked oom-killer/i,
      /Memory cgroup out of memory/i,
      /\boom-kill:/i,
      /\bOOMKilled\b/,
      /\boom_reaper\b/i,
    ],
  },
  {
    signal: 'aof-error',
    patterns: [
      /Error writing to the AOF file/i,
      /Bad file format reading the append only file/i,
      /Unexpected end of file reading the append only file/i,
      /Can't open the append[- ]only file/i,
    ],
  },
];

/** Cuts a line to {@link MAX_LINE_CHARS} characters, marking the cut with an ellipsis. */
function truncate(line: string): string {
  return line.length <= MAX_LINE_CHARS ? line : `${line.slice(0, MAX_LINE_CHARS - 1)}…`;
}

/**
 * Finds the known failure signals in a log text.
 *
 * Each line counts at most once per signal, but one line may carry several signals (`Error writing to the AOF file:
 * No space left on device` is both `aof-error` and `disk-full`). The example of a signal is its most recent line,
 * truncated to {@link MAX_LINE_CHARS}. Only signals that occur are returned, in a fixed order.
 *
 * @param text the log, lines separated by `\n` or `\r\n`
 * @param opts.lastLines how many non-blank lines to keep from the end (default {@link DEFAULT_LAST_LINES}), each
 *   truncated like the examples
 */
export function classifyLogs(
  text: string,
  opts: { lastLines?: number } = {},
): Omit<LogClassification, 'available' | 'bytesRead' | 'unavailableReason'> {
  const keep = Math.max(0, Math.floor(opts.lastLines ?? DEFAULT_LAST_LINES));
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  const found = new Map<LogSignal, { count: number; example: string }>();
  let loadedDataBytes: number | undefined;
  let loadSeconds: number | undefined;

  for (const line of lines) {
    const loaded = /RDB memory usage when created ([\d.]+) Mb/.exec(line);
    if (loaded) loadedDataBytes = Math.round(Number(loaded[1]) * 1024 * 1024);
    const took = /DB loaded from disk: ([\d.]+) seconds/.exec(line);
    if (took) loadSeconds = Number(took[1]);
    for (const { signal, patterns } of PATTERNS) {
      if (!patterns.some((pattern) => pattern.test(line))) continue;
      const seen = found.get(signal);
      found.set(signal, { count: (seen?.count ?? 0) + 1, example: truncate(line) });
    }
  }

  const signals: LogClassification['signals'] = [];
  for (const { signal } of PATTERNS) {
    const seen = found.get(signal);
    if (seen) signals.push({ signal, ...seen });
  }
  return {
    signals,
    lastLines: keep === 0 ? [] : lines.slice(-keep).map(truncate),
    ...(loadedDataBytes !== undefined ? { loadedDataBytes } : {}),
    ...(loadSeconds !== undefined ? { loadSeconds } : {}),
  };
}
