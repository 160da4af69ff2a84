/**
 * Latency-paced work: a probe measures how long a trivial command takes on a second connection while a cleanup runs,
 * and the cleanup pauses between batches whenever the probe's p99 rises above a target. What the probe sees is what
 * the application sees: Redis is single-threaded, so our batches delay everyone's commands.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';

/** Default probe p99 target, in ms: an application's GET should not wait longer than this because of us. */
export const DEFAULT_P99_TARGET_MS = 5;

export interface PacingOptions {
  /** Probe p99 above which the cleanup pauses, in ms (default {@link DEFAULT_P99_TARGET_MS}). */
  p99TargetMs?: number;
  /** Time between probe commands, in ms (default 2). */
  probeIntervalMs?: number;
  /** Longest pause between two batches, in ms (default 1000). */
  maxPauseMs?: number;
}

/** What the pacing did, for the action's result. */
export interface PacingReport {
  p99TargetMs: number;
  /** Probe round trips measured. */
  samples: number;
  /** p99 of all of them, in ms. */
  p99Ms: number;
  pauses: number;
  pausedMs: number;
}

const WINDOW = 128;
const MIN_PAUSE_MS = 2;

/** p99 of `values` (nearest rank); 0 for none. */
export function p99(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)] ?? 0;
}

/**
 * Probes `probe` (a connection of its own) with `PING` every `probeIntervalMs` and paces the caller: call
 * {@link LatencyPacer.afterBatch} between batches. The pause doubles (from 2 ms, up to `maxPauseMs`) while the p99 of the
 * probes since the last batch (a probe still waiting counts with its age) is above the target, and halves when below.
 * The probe's clock runs in this process, so a busy event loop here reads as latency too: the pacing errs on the side
 * of gentleness.
 */
export class LatencyPacer {
  private readonly target: number;
  private readonly maxPause: number;
  private readonly recent: number[] = [];
  private readonly all: number[] = [];
  private sentAt: number | undefined;
  private pause = 0;
  private pauses = 0;
  private pausedMs = 0;
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(
    private readonly probe: Redis,
    options: PacingOptions = {},
  ) {
    this.target = options.p99TargetMs ?? DEFAULT_P99_TARGET_MS;
    this.maxPause = options.maxPauseMs ?? 1000;
    const interval = options.probeIntervalMs ?? 2;
    this.loop = (async () => {
      while (!this.stopped) {
        this.sentAt = performance.now();
        try {
          await this.probe.ping();
        } catch {
          // A failing probe paces nothing; the cleanup's own connection reports real failures.
          return;
        }
        const rtt = performance.now() - this.sentAt;
        this.sentAt = undefined;
        this.recent.push(rtt);
        if (this.all.length < 1_000_000) this.all.push(rtt);
        if (this.recent.length > WINDOW) this.recent.shift();
        await sleep(interval);
      }
    })();
  }

  /** Waits as long as the latency asks for; returns the pause taken, in ms. */
  async afterBatch(): Promise<number> {
    const samples = [...this.recent];
    this.recent.length = 0;
    if (this.sentAt !== undefined) samples.push(performance.now() - this.sentAt);
    const over = p99(samples) > this.target;
    this.pause = over ? Math.min(this.maxPause, Math.max(MIN_PAUSE_MS, this.pause * 2)) : Math.floor(this.pause / 2);
    if (this.pause < MIN_PAUSE_MS) this.pause = 0;
    if (this.pause === 0) return 0;
    this.pauses++;
    this.pausedMs += this.pause;
    await sleep(this.pause);
    return this.pause;
  }

  /** Stops probing and tells what happened. Does not close the probe connection. */
  async stop(): Promise<PacingReport> {
    this.stopped = true;
    await this.loop;
    return {
      p99TargetMs: this.target,
      samples: this.all.length,
      p99Ms: Math.round(p99(this.all) * 100) / 100,
      pauses: this.pauses,
      pausedMs: this.pausedMs,
    };
  }
}
