/**
 * The receiver behind Node's HTTP server, hardened for whatever the network sends: every request gets an HTTP answer
 * and a short log reason, and nothing a client sends can stop the process. Malformed requests Node's parser refuses
 * are answered 400/431 by the `clientError` handler; targets that are no URL 400, too long 414; methods a Fetch
 * `Request` cannot carry (TRACE, CONNECT) 405/501 before one is built; an oversize body 413 with a lingering close,
 * so the client reads the answer instead of a reset; any other failure 500 without detail, logged with its stack.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { preflight, type WebhookHandler } from './handler.js';

/** Longest request target served; longer ones are answered 414. */
export const MAX_TARGET_BYTES = 4096;
/** Longest request head (request line and headers) Node's parser accepts; beyond it 431. */
export const MAX_HEADER_BYTES = 16 * 1024;
/** How long an unread body is read and thrown away after its answer, so the client sees the answer, not a reset. */
const LINGER_MS = 2000;

/** The path and query of a request target, or undefined when it is no URL (`//[`, a port of 99999…). */
export function parseTarget(target: string): URL | undefined {
  try {
    if (target.startsWith('/')) return new URL(`http://webhook.local${target}`);
    if (/^https?:\/\//i.test(target)) return new URL(target);
  } catch {
    // not a URL
  }
  return undefined;
}

/** The request as a Fetch `Request`; its body streams, so the handler's size cap stops reading early. */
export function toFetchRequest(req: IncomingMessage, url: URL): Request {
  const headers = new Headers();
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    try {
      headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
    } catch {
      // A header Fetch refuses (Node's parser let it through) carries nothing the receiver reads.
    }
  }
  const method = req.method ?? 'GET';
  const hasBody = method !== 'GET' && method !== 'HEAD';
  return new Request(new URL(url.pathname + url.search, 'http://webhook.local'), {
    method,
    headers,
    ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream<Uint8Array>, duplex: 'half' } : {}),
  });
}

function answer(res: ServerResponse, status: number, error: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body = JSON.stringify({ error });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/**
 * The headers closing an answer given before its request's body was read (refused early, too large, busy): the
 * connection goes away after it, and says so, so a keep-alive client does not send its next request on it.
 */
function closingHeaders(req: IncomingMessage, socket: Socket): Record<string, string> {
  if (req.complete) return {};
  lingerOnClose(socket);
  return { connection: 'close' };
}

/**
 * Node closes a `Connection: close` answer with `destroySoon`: a FIN, then the socket destroyed as soon as it is
 * written. With the client still sending its body, that destroy resets the connection, and a reset makes the client's
 * kernel discard the answer it already received. Here the close lingers instead: half-close, keep reading and
 * dropping what still arrives, close when the client does or after {@link LINGER_MS}. The socket is the one taken at
 * the start of the request: once its body stream was cancelled, `req.socket` is gone.
 */
function lingerOnClose(socket: Socket): void {
  if (socket.destroyed) return;
  socket.destroySoon = function lingeringClose(this: Socket) {
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
    socket.once('end', () => socket.destroy());
    if (socket.writable) socket.end();
    socket.resume();
  };
}

async function writeResponse(res: ServerResponse, response: Response, closing: () => Record<string, string>) {
  const body = Buffer.from(await response.arrayBuffer());
  res.writeHead(response.status, {
    ...Object.fromEntries(response.headers),
    'content-length': body.byteLength,
    ...closing(),
  });
  res.end(body);
}

const CLIENT_ERRORS: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large'],
  HPE_URI_TOO_LONG: [414, 'URI Too Long'],
};

/** Answers what Node's parser refused before a request existed (bad request line, header, chunking), then closes. */
function onClientError(err: NodeJS.ErrnoException, socket: Socket, log?: Logger): void {
  if (err.code === 'ECONNRESET' || err.code === 'EPIPE' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, text] = CLIENT_ERRORS[err.code ?? ''] ?? [400, 'Bad Request'];
  log?.warn({ reason: err.code ?? 'malformed request', status }, 'request refused');
  const body = JSON.stringify({ error: text.toLowerCase() });
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n` +
      `Connection: close\r\n\r\n${body}`,
  );
}

/** Options of {@link createWebhookServer}. */
export interface WebhookServerOptions {
  logger?: Logger;
}

/** A Node HTTP server that hands every request to `handle`, and answers every request whatever happens. */
export function createWebhookServer(handle: WebhookHandler, opts: WebhookServerOptions = {}): Server {
  const log = opts.logger;
  const server = createServer(
    { maxHeaderSize: MAX_HEADER_BYTES, requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000 },
    (req, res) => {
      req.on('error', () => undefined);
      res.on('error', () => undefined);
      const socket = req.socket;
      const refuse = (status: number, reason: string, headers?: Record<string, string>) => {
        log?.warn({ reason, status }, 'request refused');
        answer(res, status, reason, { ...headers, ...closingHeaders(req, socket) });
      };
      try {
        const target = req.url ?? '/';
        if (Buffer.byteLength(target) > MAX_TARGET_BYTES) return refuse(414, 'request target too long');
        const url = parseTarget(target);
        if (!url) return refuse(400, 'request target is not a URL path');
        const early = preflight(req.method ?? '', url.pathname);
        if (early) return refuse(early.status, early.error, early.headers);
        handle(toFetchRequest(req, url))
          .then((response) => writeResponse(res, response, () => closingHeaders(req, socket)))
          .catch((err: unknown) => {
            log?.error({ err }, 'request failed');
            answer(res, 500, 'internal error', closingHeaders(req, socket));
          });
      } catch (err) {
        log?.error({ err }, 'request failed');
        answer(res, 500, 'internal error', closingHeaders(req, socket));
      }
    },
  );
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => onClientError(err, socket, log));
  // CONNECT never reaches the request handler: Node hands over the socket, which must be answered here.
  server.on('connect', (_req: IncomingMessage, socket: Socket) => {
    socket.on('error', () => undefined);
    log?.warn({ reason: 'CONNECT', status: 405 }, 'request refused');
    const body = '{"error":"method not allowed"}';
    socket.end(
      `HTTP/1.1 405 Method Not Allowed\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n` +
        `Connection: close\r\n\r\n${body}`,
    );
  });
  return server;
}

/** A listening receiver. */
export interface WebhookServer {
  server: Server;
  port: number;
  url: string;
  close(): Promise<void>;
}

/** Serves `handle` on `port` (0: a free one) of `host` (default loopback). */
export async function serveWebhook(
  handle: WebhookHandler,
  opts: { port: number; host?: string; logger?: Logger },
): Promise<WebhookServer> {
  const server = createWebhookServer(handle, opts.logger ? { logger: opts.logger } : {});
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const reachable = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return {
    server,
    port,
    url: `http://${reachable}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
