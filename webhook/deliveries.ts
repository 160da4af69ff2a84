/**
 * Deliveries this receiver already answered with a 2xx, by PagerDuty's `X-Webhook-Id`, so a redelivery (PagerDuty
 * delivers at least once) is answered at once without a second call to Temporal. A cache, not the truth: another
 * replica, or this one after a restart, may not know an id, and then the workflow ids keep it to one run per incident.
 */
export class RecentDeliveries {
  readonly #seen = new Map<string, number>();

  /** @param max ids kept (oldest dropped first); @param ttlMs how long one is kept (PagerDuty retries within minutes). */
  constructor(
    private readonly max = 10_000,
    private readonly ttlMs = 15 * 60_000,
  ) {}

  has(id: string, now = Date.now()): boolean {
    const at = this.#seen.get(id);
    if (at === undefined) return false;
    if (now - at <= this.ttlMs) return true;
    this.#seen.delete(id);
    return false;
  }

  add(id: string, now = Date.now()): void {
    this.#seen.delete(id);
    this.#seen.set(id, now);
    // A Map iterates in insertion order: the first key is the oldest.
    while (this.#seen.size > this.max) this.#seen.delete(this.#seen.keys().next().value!);
  }
}
