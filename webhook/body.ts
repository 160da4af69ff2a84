/** Default cap on a request body: PagerDuty's webhook payloads are a few KiB. */
export const DEFAULT_MAX_BODY_BYTES = 256 * 1024;

/**
 * Reads a request's body, stopping as soon as it exceeds `maxBytes` (a declared `Content-Length` above it is refused
 * before reading anything). Returns `undefined` when too large.
 */
export async function readBodyCapped(request: Request, maxBytes: number): Promise<Uint8Array | undefined> {
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) return undefined;
  if (!request.body) return new Uint8Array();
  const reader: ReadableStreamDefaultReader<Uint8Array> = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  const body = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    body.set(c, offset);
    offset += c.byteLength;
  }
  return body;
}
