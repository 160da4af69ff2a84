/**
 * A snapshot streamed off a Redis server the way `redis-cli --rdb` takes it: over the replication protocol (`SYNC`),
 * so it needs no `kubectl exec` and no access to the pod's volume, only the Redis port and credentials. It announces
 * `capa eof`, so a server with `repl-diskless-sync yes` (the default since 7.0) streams the snapshot from its fork
 * without writing it to the pod's disk (after its `repl-diskless-sync-delay`), ended by a 40-byte marker; a
 * disk-based server sends it with its length first. Both are handled.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';

/** Where and how to reach the server (what ioredis was configured with). */
export interface ReplicationEndpoint {
  host: string;
  port: number;
  username?: string;
  password?: string;
  tls?: ConnectionOptions;
}

/** The snapshot's bytes, chunk by chunk; `write` may wait (backpressure), so memory stays bounded. */
export type SnapshotSink = (chunk: Buffer) => Promise<void>;

const resp = (...args: string[]) =>
  `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;

/** Reads the socket as lines and then as raw bytes, in order. */
class Wire {
  private buffered: Buffer = Buffer.alloc(0);
  private readonly chunks: AsyncIterator<Buffer>;

  constructor(private readonly socket: Socket) {
    this.chunks = (socket as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  }

  private async more(): Promise<void> {
    const next = await this.chunks.next();
    if (next.done) throw new Error('Redis closed the connection during the snapshot');
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, next.value]) : next.value;
  }

  /** One `\r\n`-terminated reply line; the bare `\n` keepalives Redis sends while it prepares the RDB are skipped. */
  async line(): Promise<string> {
    for (;;) {
      while (this.buffered[0] === 0x0a) this.buffered = this.buffered.subarray(1);
      const end = this.buffered.indexOf('\r\n');
      if (end >= 0) {
        const text = this.buffered.subarray(0, end).toString('utf8');
        this.buffered = this.buffered.subarray(end + 2);
        return text;
      }
      if (this.buffered.length > 64 * 1024) throw new Error('Redis sent an overlong reply line');
      await this.more();
    }
  }

  /**
   * Bytes up to the 40-byte end marker of a diskless transfer, handed to `sink` as they arrive (the marker held back
   * until more comes, so it never reaches the sink).
   */
  async streamUntil(mark: Buffer, sink: SnapshotSink, onBytes: (done: number) => void): Promise<number> {
    let done = 0;
    // The last mark.length bytes seen (a copy): the marker, unless more comes. Whole chunks are never copied.
    let held: Buffer = Buffer.alloc(0);
    const emit = async (bytes: Buffer) => {
      if (bytes.length === 0) return;
      done += bytes.length;
      await sink(bytes);
      onBytes(done);
    };
    let chunk: Buffer = this.buffered;
    this.buffered = Buffer.alloc(0);
    for (;;) {
      if (chunk.length >= mark.length) {
        await emit(held);
        await emit(chunk.subarray(0, chunk.length - mark.length));
        held = Buffer.from(chunk.subarray(chunk.length - mark.length));
      } else {
        const joined = Buffer.concat([held, chunk]);
        await emit(joined.subarray(0, Math.max(0, joined.length - mark.length)));
        held = Buffer.from(joined.subarray(Math.max(0, joined.length - mark.length)));
      }
      if (held.equals(mark)) return done;
      const next = await this.chunks.next();
      if (next.done) throw new Error('Redis closed the connection before the end of the snapshot');
      chunk = next.value;
    }
  }

  /** Exactly `length` bytes, handed to `sink` as they arrive. */
  async stream(length: number, sink: SnapshotSink, onBytes: (done: number) => void): Promise<void> {
    let done = 0;
    while (done < length) {
      if (this.buffered.length === 0) await this.more();
      const take = this.buffered.subarray(0, length - done);
      this.buffered = this.buffered.subarray(take.length);
      done += take.length;
      await sink(take);
      onBytes(done);
    }
  }

  write(text: string): void {
    this.socket.write(text);
  }
}

async function expectOk(wire: Wire, what: string): Promise<string> {
  const reply = await wire.line();
  if (reply.startsWith('-')) throw new Error(`${what}: ${reply.slice(1)}`);
  return reply;
}

function open(endpoint: ReplicationEndpoint, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = endpoint.tls
      ? tlsConnect({ host: endpoint.host, port: endpoint.port, ...endpoint.tls })
      : netConnect({ host: endpoint.host, port: endpoint.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`cannot connect to Redis at ${endpoint.host}:${endpoint.port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once(endpoint.tls ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (err: Error) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/**
 * Streams the server's current snapshot into `sink` and returns its length. `onBytes` sees the count after each
 * chunk (for heartbeats). A server that refuses (`NOPERM` without the `sync` permission, a failed fork) throws with
 * its words.
 */
export async function streamSnapshot(
  endpoint: ReplicationEndpoint,
  sink: SnapshotSink,
  onBytes: (done: number, total: number) => void = () => undefined,
  { connectTimeoutMs = 5000 } = {},
): Promise<number> {
  const socket = await open(endpoint, connectTimeoutMs);
  try {
    const wire = new Wire(socket);
    if (endpoint.password !== undefined) {
      wire.write(
        endpoint.username ? resp('AUTH', endpoint.username, endpoint.password) : resp('AUTH', endpoint.password),
      );
      await expectOk(wire, 'AUTH');
    }
    // Diskless when the server allows it; only the snapshot, no replication stream after it (Redis >= 7.0; older
    // servers refuse the option, harmlessly).
    wire.write(resp('REPLCONF', 'capa', 'eof'));
    await wire.line();
    wire.write(resp('REPLCONF', 'rdb-only', '1'));
    await wire.line();
    wire.write(resp('SYNC'));
    const header = await expectOk(wire, 'SYNC');
    const diskless = /^\$EOF:(.{40})$/.exec(header);
    if (diskless) return await wire.streamUntil(Buffer.from(diskless[1]!, 'latin1'), sink, (done) => onBytes(done, 0));
    const match = /^\$(\d+)$/.exec(header);
    if (!match) throw new Error(`SYNC: unexpected reply ${JSON.stringify(header.slice(0, 80))}`);
    const length = Number(match[1]);
    await wire.stream(length, sink, (done) => onBytes(done, length));
    return length;
  } finally {
    socket.destroy();
  }
}
