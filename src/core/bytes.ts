/**
 * The byte tools every hand-written binary format here shares (records, contexts and vectors in
 * record.ts, Merkle diff messages in merkle-codec.ts, reconciliation sums in riblt.ts, data-channel
 * frames in transport/framing.ts, keys and signatures in transport/signal-protocol.ts): unsigned
 * LEB128 varints, a writer into an exactly sized buffer, a strict bounded reader, base64url and
 * base64. One copy, so every format rejects the same things (overlong varints, truncation, trailing
 * bytes, non-canonical base64) the same way. Pure: runs alike in browsers and Node.
 */

/** Bytes of the minimal unsigned LEB128 encoding of `v` (a safe integer >= 0). */
export function varintSize(v: number): number {
  let n = 1
  for (; v >= 128; v = Math.floor(v / 128)) n++
  return n
}

/** Writes into a buffer sized beforehand; `done` checks the size was exact. */
export class Writer {
  readonly buf: Uint8Array
  private readonly view: DataView
  pos = 0
  constructor(size: number) {
    this.buf = new Uint8Array(size)
    this.view = new DataView(this.buf.buffer)
  }
  u8(v: number): void {
    this.buf[this.pos++] = v
  }
  /** Minimal unsigned LEB128 of a safe integer >= 0. */
  varint(v: number): void {
    for (; v >= 128; v = Math.floor(v / 128)) this.buf[this.pos++] = (v % 128) | 0x80
    this.buf[this.pos++] = v
  }
  /** Big-endian IEEE 754 double; -0 is written as 0 (one encoding per number). */
  f64(v: number): void {
    this.view.setFloat64(this.pos, v + 0)
    this.pos += 8
  }
  bytes(b: Uint8Array): void {
    this.buf.set(b, this.pos)
    this.pos += b.length
  }
  /** The buffer, once exactly full: a mismatch is a bug in the size computation, not bad input. */
  done(): Uint8Array {
    if (this.pos !== this.buf.length) throw new Error(`encoded ${this.pos} bytes into ${this.buf.length}`)
    return this.buf
  }
}

/** Reads untrusted bytes; every failure goes through `fail`, which must throw. */
export class Reader {
  private readonly view: DataView
  pos = 0
  constructor(
    readonly buf: Uint8Array,
    readonly fail: (why: string) => never,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  }
  left(): number {
    return this.buf.length - this.pos
  }
  end(): void {
    if (this.pos !== this.buf.length) this.fail('trailing bytes')
  }
  u8(): number {
    if (this.pos >= this.buf.length) this.fail('truncated')
    return this.buf[this.pos++]!
  }
  /** Minimal LEB128 up to `max` (default 2^53 - 1). */
  varint(max = Number.MAX_SAFE_INTEGER): number {
    let v = 0
    let scale = 1
    for (let i = 0; i < 8; i++) {
      const b = this.u8()
      v += (b & 0x7f) * scale
      if ((b & 0x80) === 0) {
        if (b === 0 && i > 0) this.fail('overlong varint')
        if (v > Number.MAX_SAFE_INTEGER) this.fail('varint too large')
        if (v > max) this.fail(`count or index ${v} over ${max}`)
        return v
      }
      scale *= 128
    }
    return this.fail('varint too long')
  }
  f64(): number {
    if (this.left() < 8) this.fail('truncated')
    const v = this.view.getFloat64(this.pos)
    this.pos += 8
    return v
  }
  /** A copy of the next `n` bytes: decoded values must not pin or alias a (possibly reused) message buffer. */
  bytes(n: number): Uint8Array {
    if (n > this.left()) this.fail('truncated')
    return new Uint8Array(this.buf.subarray(this.pos, (this.pos += n))) // a real copy, also of a Node Buffer
  }
  /** A view of the next `n` bytes, for bytes that are only looked at. */
  sub(n: number): Uint8Array {
    if (n > this.left()) this.fail('truncated')
    return this.buf.subarray(this.pos, (this.pos += n))
  }
}

/** A list of safe integers >= 0 as concatenated varints. */
export function encodeVarints(ns: readonly number[]): Uint8Array {
  const w = new Writer(ns.reduce((n, v) => n + varintSize(v), 0))
  for (const v of ns) w.varint(v)
  return w.done()
}

/** Parses `encodeVarints` output: at most `maxCount` numbers, each at most `max`, or `fail`. */
export function decodeVarints(b: Uint8Array, fail: (why: string) => never, maxCount: number, max = Number.MAX_SAFE_INTEGER): number[] {
  const r = new Reader(b, fail)
  const out: number[] = []
  while (r.left() > 0) {
    if (out.length === maxCount) fail(`more than ${maxCount} numbers`)
    out.push(r.varint(max))
  }
  return out
}

const URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const STD_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
const sextets = (alphabet: string): Int8Array => {
  const out = new Int8Array(128).fill(-1)
  for (let i = 0; i < 64; i++) out[alphabet.charCodeAt(i)] = i
  return out
}
const URL_SEXTET = sextets(URL_ALPHABET)
const STD_SEXTET = sextets(STD_ALPHABET)

function encode64(b: Uint8Array, alphabet: string, pad: boolean): string {
  let out = ''
  let i = 0
  for (; i + 2 < b.length; i += 3) {
    const v = (b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!
    out += alphabet[v >> 18]! + alphabet[(v >> 12) & 63]! + alphabet[(v >> 6) & 63]! + alphabet[v & 63]!
  }
  if (i < b.length) {
    const v = (b[i]! << 16) | ((b[i + 1] ?? 0) << 8)
    out += alphabet[v >> 18]! + alphabet[(v >> 12) & 63]!
    out += i + 1 < b.length ? alphabet[(v >> 6) & 63]! : pad ? '=' : ''
    if (pad) out += '='
  }
  return out
}

/** Strict inverse of encode64: other characters, wrong padding and non-zero spare bits are refused. */
function decode64(s: string, sextet: Int8Array, pad: boolean): Uint8Array | undefined {
  let body = s
  if (pad) {
    if (s.length % 4 !== 0) return undefined
    body = s.endsWith('==') ? s.slice(0, -2) : s.endsWith('=') ? s.slice(0, -1) : s
  }
  if (body.length % 4 === 1) return undefined
  const out = new Uint8Array(Math.floor((body.length * 3) / 4))
  let acc = 0
  let bits = 0
  let o = 0
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i)
    const v = c < 128 ? sextet[c]! : -1
    if (v < 0) return undefined
    acc = ((acc << 6) | v) & 0xfff
    bits += 6
    if (bits >= 8) {
      bits -= 8
      out[o++] = (acc >> bits) & 0xff
    }
  }
  if ((acc & ((1 << bits) - 1)) !== 0) return undefined
  return out
}

/** RFC 4648 section 5 base64url, no padding. Written here: `btoa` and `Buffer` are not on both platforms alike. */
export const toBase64url = (b: Uint8Array): string => encode64(b, URL_ALPHABET, false)

/** Strict inverse of `toBase64url`, or undefined: rejects padding, other characters and non-zero spare bits. */
export const fromBase64url = (s: string): Uint8Array | undefined => decode64(s, URL_SEXTET, false)

/** RFC 4648 section 4 base64, padded. */
export const toBase64 = (b: Uint8Array): string => encode64(b, STD_ALPHABET, true)

/** Strict inverse of `toBase64`, or undefined: only the canonical, padded spelling of some bytes. */
export const fromBase64 = (s: string): Uint8Array | undefined => decode64(s, STD_SEXTET, true)

/** Writes the minimal unsigned LEB128 of `v` (0 to 2^32 - 1) at `offset` of `out`; returns the offset after it. */
export function putVarint(out: Uint8Array, offset: number, v: number): number {
  let x = v >>> 0
  while (x >= 0x80) {
    out[offset++] = (x & 0x7f) | 0x80
    x >>>= 7
  }
  out[offset++] = x
  return offset
}

/**
 * Reads a minimal unsigned LEB128 of at most 5 bytes (a u32) at `offset`: [value, offset after], or
 * undefined when truncated, overlong or too large. For decoders that count garbage instead of throwing.
 */
export function getVarint(buf: Uint8Array, offset: number): [value: number, next: number] | undefined {
  let value = 0
  for (let i = 0; i < 5; i++) {
    const b = buf[offset + i]
    if (b === undefined) return undefined
    value += (b & 0x7f) * 2 ** (7 * i)
    if ((b & 0x80) === 0) return (b === 0 && i > 0) || value > 0xffffffff ? undefined : [value, offset + i + 1]
  }
  return undefined
}
