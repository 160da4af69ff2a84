/**
 * Latency-paced work: a probe measures how long a trivial command takes on a second connection while a cleanup runs,
 * and the cleanup pauses between batches whenever the probe's p99 rises above a target. What the probe sees is what
 * the application sees: Redis is single-threaded, so our batches delay everyone's commands.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import type { Redis, RedisOptions } from 'ioredis';
import type { ProbeMessage, ProbeRequest } from './probe-thread.js';

/** Default probe p99 target, in ms: an application's GET should not wait longer than this because of us. */
export const DEFAULT_P99_TARGET_MS = 5;

export interface PacingOptions {
  /** Probe p99 above which the cleanup pauses, in ms (default {@link DEFAULT_P99_TARGET_MS}). */
  p99TargetMs?: number;
  /** Time between probe commands, in ms (default 2). */
  probeIntervalMs?: number;
  /** Longest pause between two batches, in ms (default 100). */
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

/** Round trips the p99 is taken over: with a 2 ms interval, about the last 100 ms, so one hiccup is soon forgotten. */
const WINDOW = 50;
const MIN_PAUSE_MS = 2;

/** p99 of `values` (nearest rank); 0 for none. */
export function p99(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)] ?? 0;
}

/** Where round-trip times come from: a connection in this process, or one in a worker thread. */
export interface LatencySource {
  /** Starts measuring; `sample` gets each round trip in ms. */
  start(sample: (ms: number) => void): void;
  /** Age of the measurement under way when it can be known (a stuck probe counts as slow), in ms. */
  inFlightMs(): number | undefined;
  stop(): Promise<void>;
}

/**
 * `PING`s `redis` (a connection of its own, left open) every `intervalMs` from this process. Simple, but a busy event
 * loop here reads as latency too: for tests, and where worker threads are not available.
 */
export function connectionLatency(redis: Redis, intervalMs = 2): LatencySource {
  let sentAt: number | undefined;
  let running = true;
  let loop: Promise<void> = Promise.resolve();
  return {
    start(sample) {
      loop = (async () => {
        while (running) {
          sentAt = performance.now();
          try {
            await redis.ping();
          } catch {
            return;
          }
          sample(performance.now() - sentAt);
          sentAt = undefined;
          await sleep(intervalMs);
        }
      })();
    },
    inFlightMs: () => (sentAt === undefined ? undefined : performance.now() - sentAt),
    async stop() {
      running = false;
      await loop;
    },
  };
}

/** How long the probe thread outlives its last watch, in ms: back-to-back steps reuse it. */
const PROBE_THREAD_IDLE_MS = 5000;

/** The process's one probe thread (`probe-thread.ts`), started at the first watch and ended once idle. */
class ProbeThread {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly samples = new Map<number, (ms: number) => void>();
  private readonly ended = new Map<number, () => void>();
  private idle: NodeJS.Timeout | undefined;

  watch(options: RedisOptions, intervalMs: number, sample: (ms: number) => void): number {
    clearTimeout(this.idle);
    const id = this.nextId++;
    this.samples.set(id, sample);
    this.thread().postMessage({ op: 'watch', id, options, intervalMs } satisfies ProbeRequest);
    return id;
  }

  /** Ends watch `id`; resolves once its connection is closed (at most about a second later). */
  async unwatch(id: number): Promise<void> {
    if (!this.samples.has(id)) return;
    const done = new Promise<void>((resolve) => this.ended.set(id, resolve));
    this.worker?.postMessage({ op: 'unwatch', id } satisfies ProbeRequest);
    await Promise.race([done, sleep(1000)]);
    this.forget(id);
  }

  private forget(id: number): void {
    this.samples.delete(id);
    this.ended.get(id)?.();
    this.ended.delete(id);
    if (this.samples.size > 0 || !this.worker) return;
    const worker = this.worker;
    clearTimeout(this.idle);
    this.idle = setTimeout(() => {
      if (this.worker === worker && this.samples.size === 0) {
        this.worker = undefined;
        void worker.terminate();
      }
    }, PROBE_THREAD_IDLE_MS).unref();
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./probe-thread.js', import.meta.url));
    // The thread never keeps the process alive: a worker shutting down does not wait for it.
    worker.unref();
    worker.on('message', (m: ProbeMessage) => {
      if ('ms' in m) this.samples.get(m.id)?.(m.ms);
      else this.forget(m.id);
    });
    const gone = () => {
      // Its watches get no more samples (a failing probe paces nothing); the next watch starts a new thread.
      if (this.worker === worker) this.worker = undefined;
      for (const id of [...this.samples.keys()]) this.forget(id);
    };
    worker.on('error', gone);
    worker.on('exit', gone);
    this.worker = worker;
    return worker;
  }
}

const probeThread = new ProbeThread();

/**
 * `PING`s from the process's probe thread with a connection of its own built from `options` (host, port,
 * credentials, TLS: the serialisable part of the main connection's options), so the clock is not slowed by this
 * thread's work.
 */
export function threadLatency(options: RedisOptions, intervalMs = 2): LatencySource {
  let id: number | undefined;
  return {
    start(sample) {
      const { host, port, path, username, password, db, tls, family, connectTimeout } = options;
      const serialisable = { host, port, path, username, password, db, tls, family, connectTimeout };
      id = probeThread.watch(serialisable, intervalMs, sample);
    },
    inFlightMs: () => undefined,
    async stop() {
      if (id !== undefined) await probeThread.unwatch(id);
      id = undefined;
    },
  };
}

/**
 * Paces a cleanup by a {@link LatencySource}: call {@link LatencyPacer.afterBatch} between batches. While the p99 of the
 * last {@link WINDOW} round trips (a probe still waiting counts with its age) is above the target, the pause doubles
 * (from 2 ms, up to `maxPauseMs`); once below, it halves.
 */
export class LatencyPacer {
  private readonly target: number;
  private readonly maxPause: number;
  private readonly recent: number[] = [];
  private readonly all: number[] = [];
  private pause = 0;
  private pauses = 0;
  private pausedMs = 0;
  private firstSample: () => void = () => undefined;
  private readonly sampled = new Promise<void>((resolve) => (this.firstSample = resolve));

  constructor(
    private readonly source: LatencySource,
    options: PacingOptions = {},
  ) {
    this.target = options.p99TargetMs ?? DEFAULT_P99_TARGET_MS;
    this.maxPause = options.maxPauseMs ?? 100;
    source.start((rtt) => {
      this.firstSample();
      this.recent.push(rtt);
      if (this.recent.length > WINDOW) this.recent.shift();
      if (this.all.length < 1_000_000) this.all.push(rtt);
    });
  }

  /** Resolves at the first round trip measured, or after `timeoutMs`: a cleanup starts once it can be watched. */
  async ready(timeoutMs = 2000): Promise<void> {
    await Promise.race([this.sampled, sleep(timeoutMs)]);
  }

  /** Waits as long as the latency asks for; returns the pause taken, in ms. */
  async afterBatch(): Promise<number> {
    const inFlight = this.source.inFlightMs();
    const over = p99(inFlight === undefined ? this.recent : [...this.recent, inFlight]) > this.target;
    this.pause = over ? Math.min(this.maxPause, Math.max(MIN_PAUSE_MS, this.pause * 2)) : Math.floor(this.pause / 2);
    if (this.pause < MIN_PAUSE_MS) this.pause = 0;
    if (this.pause === 0) return 0;
    this.pauses++;
    this.pausedMs += this.pause;
    await sleep(this.pause);
    return this.pause;
  }

  /** Stops the source and tells what happened. */
  async stop(): Promise<PacingReport> {
    await this.source.stop();
    return {
      p99TargetMs: this.target,
      samples: this.all.length,
      p99Ms: Math.round(p99(this.all) * 100) / 100,
      pauses: this.pauses,
      pausedMs: this.pausedMs,
    };
  }
}
