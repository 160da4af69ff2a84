import type { Redis } from 'ioredis';

/**
 * `CONFIG GET` of several parameters in one call, as `name → value`. Accepts the flat RESP2-style array and the
 * RESP3 map (a connector may choose either reply mapping). Unknown parameters are simply absent.
 */
export async function configGet(redis: Redis, ...names: string[]): Promise<Record<string, string>> {
  const reply: unknown = await redis.config('GET', ...names);
  const out: Record<string, string> = {};
  if (Array.isArray(reply)) {
    for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1]);
  } else if (reply instanceof Map) {
    for (const [name, value] of reply) out[String(name)] = String(value);
  } else if (reply !== null && typeof reply === 'object') {
    for (const [name, value] of Object.entries(reply)) out[name] = String(value);
  }
  return out;
}

/** The `INFO` text of the given sections, in one call. */
export async function infoText(redis: Redis, ...sections: string[]): Promise<string> {
  const reply: unknown = await redis.info(...sections);
  return Buffer.isBuffer(reply) ? reply.toString('utf8') : String(reply);
}
