/**
 * CRC-64/Jones as Redis computes it (`crc64.c`: reflected polynomial 0x95ac9329ac4bc9b5, init 0, no final xor): the
 * checksum in the last 8 bytes of an RDB file. 64-bit arithmetic in two 32-bit halves, a table per byte.
 */
const TABLE_LO = new Uint32Array(256);
const TABLE_HI = new Uint32Array(256);
const POLY_LO = 0xac4bc9b5;
const POLY_HI = 0x95ac9329;

for (let i = 0; i < 256; i++) {
  let lo = i;
  let hi = 0;
  for (let bit = 0; bit < 8; bit++) {
    const carry = lo & 1;
    lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
    hi = hi >>> 1;
    if (carry) {
      lo = (lo ^ POLY_LO) >>> 0;
      hi = (hi ^ POLY_HI) >>> 0;
    }
  }
  TABLE_LO[i] = lo;
  TABLE_HI[i] = hi;
}

/** A running CRC-64/Jones: `update` with each chunk, `digest` for the value (as Redis stores it, little-endian). */
export class Crc64 {
  private lo = 0;
  private hi = 0;

  update(bytes: Uint8Array): this {
    let { lo, hi } = this;
    for (let i = 0; i < bytes.length; i++) {
      const index = (lo ^ bytes[i]!) & 0xff;
      lo = ((lo >>> 8) | (hi << 24)) ^ TABLE_LO[index]!;
      hi = (hi >>> 8) ^ TABLE_HI[index]!;
    }
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
    return this;
  }

  /** The value as 16 hex digits. */
  hex(): string {
    return this.hi.toString(16).padStart(8, '0') + this.lo.toString(16).padStart(8, '0');
  }

  /** The value as the 8 bytes an RDB file ends with. */
  littleEndian(): Buffer {
    const out = Buffer.alloc(8);
    out.writeUInt32LE(this.lo, 0);
    out.writeUInt32LE(this.hi, 4);
    return out;
  }
}
