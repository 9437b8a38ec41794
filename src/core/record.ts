/**
 * Canonical binary encoding of a key's versions (a DVV set, see `clock.ts`) and of its causal
 * context. Equal sets encode to identical bytes on every replica, so the digest of the encoding can
 * stand for the version in Merkle trees (Dynamo section 4.7): replicas agree exactly when their
 * digests do. Hand-written over DataView so it runs the same in browsers and Node.
 *
 * Layout, version 1 (varint = unsigned LEB128, minimal, at most 2^53 - 1; f64 = big-endian double):
 *
 *   set      := 0x01 varint(#entries) entry* varint(#siblings) sibling*
 *   context  := 0x01 varint(#entries >= 1) entry*          then base64url, no padding; {} is ''
 *   entry    := id varint(n >= 1) f64(ts)                  sorted by id, strictly
 *   sibling  := id varint(n >= 1) f64(ts) kind [value]     sorted by (id, n), strictly
 *   id       := varint(1..256) utf8-bytes
 *   kind     := 0x00 (tombstone) | 0x01 (value)            value := varint(len) bytes
 *
 * Decoding is strict: it accepts exactly the bytes `encode*` produces (no -0, no overlong varint,
 * no unsorted or duplicate entries, no trailing bytes, every sibling covered by the vector), so
 * `encode(decode(b))` is `b` whenever decode succeeds.
 */
import { DynameshError, type ErrorCode } from '../errors.js'
import { compareDots, compareIds, covers, setEntry, type Sibling, type VersionSet, type VersionVector } from './clock.js'
import { compareBytes, hash } from './hash.js'
import { HARD_SIBLINGS } from '../limits.js'

const FORMAT = 1
/** Longest replica id, in UTF-8 bytes. */
export const MAX_ID_BYTES = 256
/** Most siblings a decoded set may hold: the hard bound of limits.ts (writes stop far earlier, at MAX_SIBLINGS there). */
export const MAX_SIBLINGS = HARD_SIBLINGS
/** Most vector entries a decoded set or context may hold. */
export const MAX_ENTRIES = 10_000

// Smallest encodings, used to reject a count the remaining input cannot hold before allocating.
const MIN_ENTRY = 1 + 1 + 1 + 8
const MIN_SIBLING = MIN_ENTRY + 1
const MAX_ENTRY = 2 + MAX_ID_BYTES + 8 + 8
const MAX_CONTEXT_CHARS = Math.ceil(((1 + 3 + MAX_ENTRIES * MAX_ENTRY) * 4) / 3)

const utf8 = new TextEncoder()
// fatal: malformed UTF-8 is an error, not U+FFFD; ignoreBOM: a leading U+FEFF is part of the id.
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
const LONE_SURROGATE = /\p{Cs}/u

/** Canonical bytes of a set. Throws `TypeError` for a set no decoder would accept back. */
export function encodeSet(s: VersionSet): Uint8Array {
  const entries = sortedEntries(s.vv)
  const siblings = [...s.siblings].sort((a, b) => compareDots(a.dot, b.dot))
  for (let i = 1; i < siblings.length; i++) {
    if (compareDots(siblings[i - 1]!.dot, siblings[i]!.dot) === 0) throw new TypeError('duplicate sibling dot')
  }
  if (entries.length > MAX_ENTRIES || siblings.length > MAX_SIBLINGS) throw new TypeError('version set too large')
  const w = new Writer(sizeOf(entries, siblings))
  w.u8(FORMAT)
  writeEntries(w, entries)
  w.varint(siblings.length)
  for (const x of siblings) {
    w.id(x.dot.id)
    w.counter(x.dot.n)
    w.f64(x.ts)
    if (x.value === null) w.u8(0)
    else {
      w.u8(1)
      w.varint(x.value.length)
      w.bytes(x.value)
    }
  }
  return w.done()
}

/** Parses `encodeSet` output. Anything else throws `DynameshError('INVALID_MESSAGE')`. */
export function decodeSet(b: Uint8Array): VersionSet {
  return guard('INVALID_MESSAGE', () => {
    const r = new Reader(b, 'INVALID_MESSAGE')
    if (r.u8() !== FORMAT) r.fail('unknown version set format')
    const vv = readEntries(r, 0)
    const count = r.varint()
    if (count > MAX_SIBLINGS) r.fail('too many siblings')
    if (count * MIN_SIBLING > r.left()) r.fail('truncated siblings')
    const siblings: Sibling[] = []
    for (let i = 0; i < count; i++) {
      const dot = { id: r.id(), n: r.counter() }
      const ts = r.ts()
      const kind = r.u8()
      if (kind > 1) r.fail('bad sibling kind')
      const value = kind === 0 ? null : r.bytes(r.varint())
      const prev = siblings[siblings.length - 1]
      if (prev !== undefined && compareDots(prev.dot, dot) >= 0) r.fail('siblings not in canonical order')
      if (!covers(vv, dot)) r.fail('sibling not covered by its version vector')
      siblings.push({ dot, value, ts })
    }
    r.end()
    return { vv, siblings }
  })
}

/** 16 bytes standing for the set: the first half of SHA-256 of its canonical encoding. */
export const digestSet = (s: VersionSet): Uint8Array => digestOfEncoded(encodeSet(s))

/** The digest of a set already in its canonical encoding (stored records are), without re-encoding it. */
export const digestOfEncoded = (encoded: Uint8Array): Uint8Array => hash(encoded).slice(0, 16)

/** The context string handed to clients: base64url of the encoded vector; `''` when empty. */
export function encodeContext(vv: VersionVector): string {
  const entries = sortedEntries(vv)
  if (entries.length === 0) return ''
  if (entries.length > MAX_ENTRIES) throw new TypeError('context too large')
  const w = new Writer(1 + entriesSize(entries))
  w.u8(FORMAT)
  writeEntries(w, entries)
  return toBase64url(w.done())
}

/** Parses `encodeContext` output; `''` is `{}`. Anything else throws `DynameshError('INVALID_CONTEXT')`. */
export function decodeContext(s: string): VersionVector {
  if (s === '') return {}
  return guard('INVALID_CONTEXT', () => {
    if (typeof s !== 'string' || s.length > MAX_CONTEXT_CHARS) throw new DynameshError('INVALID_CONTEXT', 'context too long')
    const r = new Reader(fromBase64url(s), 'INVALID_CONTEXT')
    if (r.u8() !== FORMAT) r.fail('unknown context format')
    const vv = readEntries(r, 1)
    r.end()
    return vv
  })
}

/** Size in bytes of the set's encoding, without building it (for size limits). */
export const setSize = (s: VersionSet): number => sizeOf(Object.entries(s.vv), s.siblings)

type Entry = [string, { n: number; ts: number }]

const sortedEntries = (vv: VersionVector): Entry[] => Object.entries(vv).sort((a, b) => compareIds(a[0], b[0]))

function sizeOf(entries: Entry[], siblings: Sibling[]): number {
  let n = 1 + entriesSize(entries) + varintSize(siblings.length)
  for (const x of siblings) {
    n += idSize(x.dot.id) + varintSize(x.dot.n) + 8 + 1
    if (x.value !== null) n += varintSize(x.value.length) + x.value.length
  }
  return n
}

function entriesSize(entries: Entry[]): number {
  let n = varintSize(entries.length)
  for (const [id, e] of entries) n += idSize(id) + varintSize(e.n) + 8
  return n
}

function writeEntries(w: Writer, entries: Entry[]): void {
  w.varint(entries.length)
  for (const [id, e] of entries) {
    w.id(id)
    w.counter(e.n)
    w.f64(e.ts)
  }
}

/** Reads a vector whose entries are strictly sorted by id; at least `min` of them. */
function readEntries(r: Reader, min: number): VersionVector {
  const count = r.varint()
  if (count < min) r.fail('empty vector')
  if (count > MAX_ENTRIES) r.fail('too many vector entries')
  if (count * MIN_ENTRY > r.left()) r.fail('truncated vector')
  const vv: VersionVector = {}
  let prev: Uint8Array | undefined
  for (let i = 0; i < count; i++) {
    const raw = r.idBytes()
    if (prev !== undefined && compareBytes(prev, raw) >= 0) r.fail('vector entries not in canonical order')
    prev = raw
    const n = r.counter()
    setEntry(vv, r.decodeId(raw), { n, ts: r.ts() })
  }
  return vv
}

/** Runs a decoder so that nothing but a DynameshError with `code` can escape it. */
function guard<T>(code: ErrorCode, run: () => T): T {
  try {
    return run()
  } catch (e) {
    if (e instanceof DynameshError && e.code === code) throw e
    throw new DynameshError(code, 'malformed input', { cause: e })
  }
}

const varintSize = (v: number): number => (v < 128 ? 1 : 1 + varintSize(Math.floor(v / 128)))

/** UTF-8 length without encoding (a lone surrogate counts as U+FFFD; `Writer.id` rejects it). */
function utf8Size(s: string): number {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) n += 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4
      i++
    } else n += 3
  }
  return n
}

function idSize(id: string): number {
  const n = utf8Size(id)
  return varintSize(n) + n
}

class Writer {
  private readonly buf: Uint8Array
  private readonly view: DataView
  private off = 0
  constructor(size: number) {
    this.buf = new Uint8Array(size)
    this.view = new DataView(this.buf.buffer)
  }
  u8(v: number): void {
    this.buf[this.off++] = v
  }
  varint(v: number): void {
    while (v >= 128) {
      this.buf[this.off++] = (v % 128) | 0x80
      v = Math.floor(v / 128)
    }
    this.buf[this.off++] = v
  }
  counter(n: number): void {
    if (!Number.isSafeInteger(n) || n < 1) throw new TypeError(`counter must be a safe integer >= 1, got ${n}`)
    this.varint(n)
  }
  f64(v: number): void {
    if (!Number.isFinite(v)) throw new TypeError(`time must be finite, got ${v}`)
    this.view.setFloat64(this.off, v + 0) // + 0 turns -0 into 0: one encoding per number
    this.off += 8
  }
  id(id: string): void {
    if (typeof id !== 'string' || id.length === 0 || LONE_SURROGATE.test(id)) throw new TypeError('replica id must be non-empty, well-formed text')
    const n = utf8Size(id)
    if (n > MAX_ID_BYTES) throw new TypeError(`replica id longer than ${MAX_ID_BYTES} bytes`)
    this.varint(n)
    this.off += utf8.encodeInto(id, this.buf.subarray(this.off, this.off + n)).written
  }
  bytes(b: Uint8Array): void {
    this.buf.set(b, this.off)
    this.off += b.length
  }
  done(): Uint8Array {
    if (this.off !== this.buf.length) throw new Error('record size mismatch') // a bug in sizeOf, not bad input
    return this.buf
  }
}

class Reader {
  private readonly view: DataView
  private off = 0
  constructor(
    private readonly buf: Uint8Array,
    private readonly code: ErrorCode,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  }
  fail(why: string): never {
    throw new DynameshError(this.code, `${this.code === 'INVALID_CONTEXT' ? 'context' : 'version set'}: ${why}`)
  }
  left(): number {
    return this.buf.length - this.off
  }
  end(): void {
    if (this.off !== this.buf.length) this.fail('trailing bytes')
  }
  u8(): number {
    if (this.off >= this.buf.length) this.fail('truncated')
    return this.buf[this.off++]!
  }
  /** Minimal LEB128 up to 2^53 - 1. */
  varint(): number {
    let v = 0
    let scale = 1
    for (let i = 0; i < 8; i++) {
      const b = this.u8()
      v += (b & 0x7f) * scale
      if ((b & 0x80) === 0) {
        if (b === 0 && i > 0) this.fail('overlong varint')
        if (v > Number.MAX_SAFE_INTEGER) this.fail('varint too large')
        return v
      }
      scale *= 128
    }
    return this.fail('varint too long')
  }
  counter(): number {
    const n = this.varint()
    if (n < 1) this.fail('counter must be >= 1')
    return n
  }
  ts(): number {
    if (this.left() < 8) this.fail('truncated')
    const v = this.view.getFloat64(this.off)
    this.off += 8
    if (!Number.isFinite(v) || Object.is(v, -0)) this.fail('bad time')
    return v
  }
  bytes(n: number): Uint8Array {
    if (n > this.left()) this.fail('truncated')
    // A copy: the set must not pin or alias the (possibly large, reused) message buffer.
    return this.buf.slice(this.off, (this.off += n))
  }
  idBytes(): Uint8Array {
    const n = this.varint()
    if (n < 1 || n > MAX_ID_BYTES) this.fail('bad replica id length')
    if (n > this.left()) this.fail('truncated')
    return this.buf.subarray(this.off, (this.off += n))
  }
  decodeId(raw: Uint8Array): string {
    try {
      return utf8Strict.decode(raw)
    } catch {
      return this.fail('replica id is not UTF-8')
    }
  }
  id = (): string => this.decodeId(this.idBytes())
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const SEXTET = new Int8Array(128).fill(-1)
for (let i = 0; i < 64; i++) SEXTET[ALPHABET.charCodeAt(i)] = i

/** RFC 4648 section 5 base64url, no padding. Written here: `btoa` and `Buffer` are not on both platforms alike. */
function toBase64url(b: Uint8Array): string {
  let out = ''
  let i = 0
  for (; i + 2 < b.length; i += 3) {
    const v = (b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!
    out += ALPHABET[v >> 18]! + ALPHABET[(v >> 12) & 63]! + ALPHABET[(v >> 6) & 63]! + ALPHABET[v & 63]!
  }
  if (i < b.length) {
    const v = (b[i]! << 16) | ((b[i + 1] ?? 0) << 8)
    out += ALPHABET[v >> 18]! + ALPHABET[(v >> 12) & 63]!
    if (i + 1 < b.length) out += ALPHABET[(v >> 6) & 63]!
  }
  return out
}

/** Strict inverse of `toBase64url`: rejects padding, other characters and non-zero spare bits. */
function fromBase64url(s: string): Uint8Array {
  const bad = (): never => {
    throw new DynameshError('INVALID_CONTEXT', 'context: not base64url')
  }
  if (s.length % 4 === 1) bad()
  const out = new Uint8Array(Math.floor((s.length * 3) / 4))
  let acc = 0
  let bits = 0
  let o = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    const v = c < 128 ? SEXTET[c]! : -1
    if (v < 0) bad()
    acc = ((acc << 6) | v) & 0xfff
    bits += 6
    if (bits >= 8) {
      bits -= 8
      out[o++] = (acc >> bits) & 0xff
    }
  }
  if ((acc & ((1 << bits) - 1)) !== 0) bad()
  return out
}
