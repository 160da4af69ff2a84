/**
 * What the runbook reads of an RDB file without loading it: the format version, the key count of its first database
 * (the `RESIZEDB` hint Redis writes before each database's keys) and whether its trailing CRC-64 matches the content.
 */
import { Crc64 } from './crc64.js';

const OP_AUX = 0xfa;
const OP_RESIZEDB = 0xfb;
const OP_SELECTDB = 0xfe;
const OP_EOF = 0xff;
const OP_FUNCTION2 = 0xf5;

export interface RdbHeader {
  version: number;
  /** `redis-ver` and the other AUX fields before the first database. */
  aux: Record<string, string>;
  /** The first database and its key count (`RESIZEDB`); absent for an empty snapshot. */
  firstDb?: { db: number; keys: number };
}

class Reader {
  offset = 0;
  constructor(private readonly buf: Buffer) {}
  byte(): number {
    if (this.offset >= this.buf.length) throw new RangeError('RDB header longer than what was read');
    return this.buf[this.offset++]!;
  }
  bytes(n: number): Buffer {
    if (this.offset + n > this.buf.length) throw new RangeError('RDB header longer than what was read');
    const out = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }
  /** A length, or a special string encoding (`{ special }`). */
  length(): number | { special: number } {
    const first = this.byte();
    switch (first >> 6) {
      case 0:
        return first & 0x3f;
      case 1:
        return ((first & 0x3f) << 8) | this.byte();
      case 2:
        if (first === 0x80) return this.bytes(4).readUInt32BE(0);
        if (first === 0x81) return Number(this.bytes(8).readBigUInt64BE(0));
        throw new Error(`unknown RDB length encoding 0x${first.toString(16)}`);
      default:
        return { special: first & 0x3f };
    }
  }
  count(): number {
    const n = this.length();
    if (typeof n !== 'number') throw new Error('expected an RDB length, found a string encoding');
    return n;
  }
  string(): string {
    const n = this.length();
    if (typeof n === 'number') return this.bytes(n).toString('utf8');
    if (n.special === 0) return String(this.bytes(1).readInt8(0));
    if (n.special === 1) return String(this.bytes(2).readInt16LE(0));
    if (n.special === 2) return String(this.bytes(4).readInt32LE(0));
    if (n.special === 3) {
      // LZF-compressed: skipped, the header's fields of interest are never compressed.
      const compressed = this.count();
      this.count();
      this.bytes(compressed);
      return '';
    }
    throw new Error(`unknown RDB string encoding ${n.special}`);
  }
}

/** Parses the header of an RDB file from its first bytes (a MiB covers any header seen in practice). */
export function parseRdbHeader(head: Buffer): RdbHeader {
  const magic = head.subarray(0, 5).toString('latin1');
  if (magic !== 'REDIS') throw new Error('not an RDB file (no REDIS magic)');
  const version = Number(head.subarray(5, 9).toString('latin1'));
  if (!Number.isInteger(version)) throw new Error('not an RDB file (bad version)');
  const r = new Reader(head);
  r.offset = 9;
  const aux: Record<string, string> = {};
  for (;;) {
    const op = r.byte();
    if (op === OP_AUX) {
      const key = r.string();
      aux[key] = r.string();
    } else if (op === OP_FUNCTION2) {
      r.string(); // a function library's code
    } else if (op === OP_SELECTDB) {
      const db = r.count();
      if (r.byte() !== OP_RESIZEDB) return { version, aux, firstDb: { db, keys: Number.NaN } };
      const keys = r.count();
      r.count(); // keys with an expiry
      return { version, aux, firstDb: { db, keys } };
    } else if (op === OP_EOF) {
      return { version, aux };
    } else {
      throw new Error(`unexpected RDB opcode 0x${op.toString(16)} before the first database`);
    }
  }
}

/**
 * Checks an RDB as it streams by, in one pass with bounded memory: its first MiB for the header, the CRC-64 of all
 * but its last 8 bytes, and those 8 bytes, which must equal it.
 */
export class RdbVerifier {
  private readonly crc = new Crc64();
  private readonly head: Buffer[] = [];
  private headBytes = 0;
  private tail: Buffer = Buffer.alloc(0);
  bytes = 0;

  push(chunk: Buffer): void {
    this.bytes += chunk.length;
    if (this.headBytes < HEAD_BYTES) {
      this.head.push(chunk.subarray(0, HEAD_BYTES - this.headBytes));
      this.headBytes += Math.min(chunk.length, HEAD_BYTES - this.headBytes);
    }
    // The last 8 bytes seen are held back: they are the trailer, unless more comes. No copy of a full chunk.
    if (chunk.length >= 8) {
      this.crc.update(this.tail);
      this.crc.update(chunk.subarray(0, chunk.length - 8));
      this.tail = Buffer.from(chunk.subarray(chunk.length - 8));
      return;
    }
    const joined = Buffer.concat([this.tail, chunk]);
    const body = joined.length - 8;
    if (body > 0) this.crc.update(joined.subarray(0, body));
    this.tail = Buffer.from(joined.subarray(Math.max(0, body)));
  }

  /** The header and the checksum verdict. Redis writes zeros when `rdbchecksum no`: that does not count as ok. */
  result(): RdbHeader & { bytes: number; crc64: string; crcOk: boolean } {
    if (this.bytes < 9 + 1 + 8) throw new Error(`RDB too short (${this.bytes} bytes)`);
    const header = parseRdbHeader(Buffer.concat(this.head));
    return { ...header, bytes: this.bytes, crc64: this.crc.hex(), crcOk: this.crc.littleEndian().equals(this.tail) };
  }
}

const HEAD_BYTES = 1 << 20;
