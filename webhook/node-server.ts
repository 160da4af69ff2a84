import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import type { WebhookHandler } from './handler.js';

/** The request as a Fetch `Request`; its body streams, so the handler's size cap stops reading early. */
export function toFetchRequest(req: IncomingMessage): Request {
  const headers = new Headers();
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
  const method = req.method ?? 'GET';
  const hasBody = method !== 'GET' && method !== 'HEAD';
  return new Request(new URL(req.url ?? '/', 'http://webhook.local'), {
    method,
    headers,
    ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream<Uint8Array>, duplex: 'half' } : {}),
  });
}

async function writeResponse(res: ServerResponse, response: Response): Promise<void> {
  const body = Buffer.from(await response.arrayBuffer());
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.end(body);
}

/** A Node HTTP server that hands every request to `handle`. */
export function createWebhookServer(handle: WebhookHandler): Server {
  return createServer((req, res) => {
    handle(toFetchRequest(req))
      .then((response) => writeResponse(res, response))
      .catch(() => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end('{"error":"internal error"}');
      })
      // A refused body (413, 401…) may be partly unread: drop the connection rather than drain it.
      .finally(() => {
        if (!req.complete) req.destroy();
      });
  });
}

/** A listening receiver. */
export interface WebhookServer {
  server: Server;
  port: number;
  url: string;
  close(): Promise<void>;
}

/** Serves `handle` on `port` (0: a free one) of `host` (default all interfaces). */
export async function serveWebhook(
  handle: WebhookHandler,
  opts: { port: number; host?: string },
): Promise<WebhookServer> {
  const server = createWebhookServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host && opts.host !== '0.0.0.0' ? opts.host : '127.0.0.1';
  return {
    server,
    port,
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
