/**
 * Canonical binary encoding of a key's versions (a DVV set, see `clock.ts`) and of its causal
 * context. Equal sets encode to identical bytes on every replica, so the digest of the encoding can
 * stand for the version in Merkle trees (Dynamo section 4.7): replicas agree exactly when their
 * digests do. The same bytes are stored on disk and sent on the wire. Byte tools: bytes.ts.
 *
 * Layout, version 2 (varint = unsigned LEB128, minimal, at most 2^53 - 1; f64 = big-endian double):
 *
 *   set      := 0x02 varint(#entries) entry* varint(#siblings) sibling* [gone]
 *   context  := 0x02 varint(#entries >= 1) entry*          then base64url, no padding; {} is ''
 *   entry    := id varint(n >= 1) time                     sorted by id, strictly
 *   sibling  := varint(entry index) varint(n >= 1) stime kind [stamp] [value]   sorted by (id, n), strictly
 *   id       := varint(1..256) utf8-bytes
 *   time     := varint(2 + 2 t)  for an integer t in [0, 2^52 - 2] (wall-clock ms: 6 bytes)
 *             | 0x01 f64(t)      for any other finite t
 *   stime    := 0x00 when the sibling's time is its entry's, else time
 *   kind     := 0x00 (tombstone) | 0x01 (value), plus 0x02 when a stamp follows
 *   stamp    := tag(4 bytes, big-endian) time(at)           value := varint(len) bytes
 *   gone     := varint(1..MAX_GONE) stamp (tag(4) varint(previous at - at))*
 *                                                          latest first by (at, tag), strictly; none a sibling's
 *
 * Why: the vector covers every sibling, so a sibling's id is always one of the vector's: it is named
 * by its index instead of repeating the text, and the newest sibling of a replica usually shares
 * the entry's time. A 100-byte value with a 2-entry clock of 12-character ids is 153 bytes (version
 * 1 spent 8 bytes on every time and repeated each sibling's id: 186).
 *
 * Decoding is strict: it accepts exactly the bytes `encode*` produces (no -0, no overlong varint,
 * no time in the f64 form that has the short one, no unsorted or duplicate entries, no trailing
 * bytes, every sibling covered by the vector), so `encode(decode(b))` is `b` whenever decode succeeds.
 */
import { DynameshError, type ErrorCode } from '../errors.js'
import { Reader as ByteReader, Writer as ByteWriter, fromBase64url as fromB64, toBase64url, varintSize } from './bytes.js'
import { MAX_GONE, compareDots, compareIds, compareOps, covers, entryOf, isOpStamp, sameOp, setEntry, type OpStamp, type Sibling, type VersionSet, type VersionVector } from './clock.js'
import { compareBytes, hash } from './hash.js'
import { HARD_SIBLINGS } from '../limits.js'

const FORMAT = 2
/** Longest replica id, in UTF-8 bytes. */
export const MAX_ID_BYTES = 256
/** Most siblings a decoded set may hold: the hard bound of limits.ts (writes stop far earlier, at MAX_SIBLINGS there). */
export const MAX_SIBLINGS = HARD_SIBLINGS
/** Most vector entries a decoded set or context may hold. */
export const MAX_ENTRIES = 10_000

/** Largest time with the short form: 2 + 2t stays a safe integer. */
const SHORT_TIME_MAX = 2 ** 52 - 2
const isShortTime = (t: number): boolean => Number.isInteger(t) && t >= 0 && t <= SHORT_TIME_MAX
// -0 is short too (Number.isInteger(-0), -0 >= 0) and 2 + 2 * -0 is 2: one encoding per number.
const timeSize = (t: number): number => (isShortTime(t) ? varintSize(2 + 2 * t) : 9)

// Smallest encodings, used to reject a count the remaining input cannot hold before allocating.
const MIN_ENTRY = 1 + 1 + 1 + 1
const MIN_SIBLING = 1 + 1 + 1 + 1
const MAX_ENTRY = 2 + MAX_ID_BYTES + 8 + 9
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
  const index = new Map(entries.map(([id], i) => [id, i]))
  const w = new Writer(sizeOf(entries, siblings, s.gone))
  w.u8(FORMAT)
  writeEntries(w, entries)
  w.varint(siblings.length)
  for (const x of siblings) {
    const at = index.get(x.dot.id)
    // An uncovered sibling still encodes (its id in the vector's place is missing): decoders reject it.
    if (at === undefined) throw new TypeError('sibling not covered by its version vector')
    w.varint(at)
    w.counter(x.dot.n)
    w.stime(x.ts, entries[at]![1].ts)
    w.u8((x.value === null ? 0 : 1) | (x.op === undefined ? 0 : 2))
    if (x.op !== undefined) w.stamp(x.op)
    if (x.value !== null) {
      w.varint(x.value.length)
      w.bytes(x.value)
    }
  }
  if (s.gone !== undefined && s.gone.length > 0) {
    if (s.gone.length > MAX_GONE) throw new TypeError('too many superseded operations')
    const gone = s.gone
    for (let i = 1; i < gone.length; i++) if (compareOps(gone[i - 1]!, gone[i]!) >= 0) throw new TypeError('superseded operations not latest first')
    if (siblings.some((x) => gone.some((g) => sameOp(x.op, g)))) throw new TypeError('a superseded operation is live')
    w.varint(gone.length)
    w.stamp(gone[0]!)
    for (let i = 1; i < gone.length; i++) {
      w.tag(gone[i]!.tag)
      if (!isOpStamp(gone[i]!)) throw new TypeError(STAMP_ERROR)
      w.varint(gone[i - 1]!.at - gone[i]!.at)
    }
  }
  return w.done()
}

/** Parses `encodeSet` output. Anything else throws `DynameshError('INVALID_MESSAGE')`. */
export function decodeSet(b: Uint8Array): VersionSet {
  return guard('INVALID_MESSAGE', () => {
    const r = new Reader(b, 'INVALID_MESSAGE')
    if (r.u8() !== FORMAT) r.fail('unknown version set format')
    const { vv, ids } = readEntries(r, 0)
    const count = r.varint()
    if (count > MAX_SIBLINGS) r.fail('too many siblings')
    if (count * MIN_SIBLING > r.left()) r.fail('truncated siblings')
    const siblings: Sibling[] = []
    for (let i = 0; i < count; i++) {
      const at = r.varint()
      if (at >= ids.length) r.fail('sibling id not in the vector')
      const id = ids[at]!
      const dot = { id, n: r.counter() }
      const ts = r.stime(vv[id]!.ts)
      const kind = r.u8()
      if (kind > 3) r.fail('bad sibling kind')
      const op = kind & 2 ? r.stamp() : undefined
      const value = kind & 1 ? r.bytes(r.varint()) : null
      const prev = siblings[siblings.length - 1]
      if (prev !== undefined && compareDots(prev.dot, dot) >= 0) r.fail('siblings not in canonical order')
      if (!covers(vv, dot)) r.fail('sibling not covered by its version vector')
      // Stryker disable next-line ConditionalExpression: op: undefined is no stamp to every reader
      siblings.push(op === undefined ? { dot, value, ts } : { dot, value, ts, op })
    }
    if (r.left() === 0) return { vv, siblings }
    const n = r.varint()
    if (n < 1 || n > MAX_GONE) r.fail('bad count of superseded operations')
    const gone: OpStamp[] = []
    for (let i = 0; i < n; i++) {
      const prev = gone[i - 1]
      const g = prev === undefined ? r.stamp() : { tag: r.tag(), at: prev.at - r.varint(prev.at) }
      if (prev !== undefined && compareOps(prev, g) >= 0) r.fail('superseded operations not in canonical order')
      if (siblings.some((x) => sameOp(x.op, g))) r.fail('a superseded operation is live')
      gone.push(g)
    }
    r.end()
    return { vv, siblings, gone }
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
    const raw = fromB64(s)
    if (raw === undefined) throw new DynameshError('INVALID_CONTEXT', 'context: not base64url')
    const r = new Reader(raw, 'INVALID_CONTEXT')
    if (r.u8() !== FORMAT) r.fail('unknown context format')
    const { vv } = readEntries(r, 1)
    r.end()
    return vv
  })
}

/**
 * The counters (not the times) of many keys' version vectors in one blob, replica ids written once:
 * `ids` (varint count, each id), then per vector a varint count of (varint id index, varint counter)
 * pairs. Anti-entropy sends it for the keys whose versions differ, so the peer can tell which side
 * has seen what. Decoded times are 0.
 */
export function encodeVectors(vvs: readonly VersionVector[]): Uint8Array {
  const index = new Map<string, number>()
  const ids: string[] = []
  for (const vv of vvs) for (const id of Object.keys(vv)) if (!index.has(id)) index.set(id, ids.push(id) - 1)
  let size = varintSize(ids.length) + varintSize(vvs.length)
  for (const id of ids) size += idSize(id)
  for (const vv of vvs) {
    const es = Object.entries(vv)
    size += varintSize(es.length)
    for (const [id, e] of es) size += varintSize(index.get(id)!) + varintSize(e.n)
  }
  const w = new Writer(size)
  w.varint(ids.length)
  for (const id of ids) w.id(id)
  w.varint(vvs.length)
  for (const vv of vvs) {
    const es = Object.entries(vv)
    w.varint(es.length)
    for (const [id, e] of es) {
      w.varint(index.get(id)!)
      w.counter(e.n)
    }
  }
  return w.done()
}

/** Parses `encodeVectors` output. Anything else throws `DynameshError('INVALID_MESSAGE')`. */
export function decodeVectors(b: Uint8Array): VersionVector[] {
  return guard('INVALID_MESSAGE', () => {
    const r = new Reader(b, 'INVALID_MESSAGE')
    const idCount = r.varint(MAX_ENTRIES)
    if (idCount * 2 > r.left()) r.fail('truncated ids')
    const ids: string[] = []
    const seen = new Set<string>()
    for (let i = 0; i < idCount; i++) {
      const id = r.decodeId(r.idBytes())
      if (seen.has(id)) r.fail('repeated replica id')
      seen.add(id)
      ids.push(id)
    }
    const count = r.varint()
    if (count > r.left()) r.fail('truncated vectors')
    const out: VersionVector[] = []
    for (let i = 0; i < count; i++) {
      const n = r.varint(MAX_ENTRIES)
      if (n * 2 > r.left()) r.fail('truncated vector')
      const vv: VersionVector = {}
      for (let j = 0; j < n; j++) {
        // The bound makes the index name an id (with none, every index is over it).
        const id = ids[r.varint(ids.length - 1)]!
        if (entryOf(vv, id) !== undefined) r.fail('bad or repeated id index')
        setEntry(vv, id, { n: r.counter(), ts: 0 })
      }
      out.push(vv)
    }
    r.end()
    return out
  })
}

/** Size in bytes of the set's encoding, without building it (for size limits). */
export const setSize = (s: VersionSet): number => sizeOf(sortedEntries(s.vv), s.siblings, s.gone)

type Entry = [string, { n: number; ts: number }]

const sortedEntries = (vv: VersionVector): Entry[] => Object.entries(vv).sort((a, b) => compareIds(a[0], b[0]))

function sizeOf(entries: Entry[], siblings: Sibling[], gone: readonly OpStamp[] | undefined): number {
  let n = 1 + entriesSize(entries) + varintSize(siblings.length)
  const index = new Map(entries.map(([id, e], i) => [id, { at: i, ts: e.ts }]))
  for (const x of siblings) {
    const ref = index.get(x.dot.id)
    n += varintSize(ref?.at ?? 0) + varintSize(x.dot.n) + (ref !== undefined && ref.ts === x.ts ? 1 : timeSize(x.ts)) + 1
    if (x.op !== undefined) n += 4 + timeSize(x.op.at)
    if (x.value !== null) n += varintSize(x.value.length) + x.value.length
  }
  if (gone !== undefined && gone.length > 0) {
    n += varintSize(gone.length)
    n += 4 + timeSize(gone[0]!.at)
    for (let i = 1; i < gone.length; i++) n += 4 + varintSize(gone[i - 1]!.at - gone[i]!.at)
  }
  return n
}

function entriesSize(entries: Entry[]): number {
  let n = varintSize(entries.length)
  for (const [id, e] of entries) n += idSize(id) + varintSize(e.n) + timeSize(e.ts)
  return n
}

function writeEntries(w: Writer, entries: Entry[]): void {
  w.varint(entries.length)
  for (const [id, e] of entries) {
    w.id(id)
    w.counter(e.n)
    w.time(e.ts)
  }
}

/** Reads a vector whose entries are strictly sorted by id; at least `min` of them. `ids` in order. */
function readEntries(r: Reader, min: number): { vv: VersionVector; ids: string[] } {
  const count = r.varint()
  if (count < min) r.fail('empty vector')
  if (count > MAX_ENTRIES) r.fail('too many vector entries')
  if (count * MIN_ENTRY > r.left()) r.fail('truncated vector')
  const vv: VersionVector = {}
  const ids: string[] = []
  let prev: Uint8Array | undefined
  for (let i = 0; i < count; i++) {
    const raw = r.idBytes()
    if (prev !== undefined && compareBytes(prev, raw) >= 0) r.fail('vector entries not in canonical order')
    prev = raw
    const n = r.counter()
    const id = r.decodeId(raw)
    setEntry(vv, id, { n, ts: r.time() })
    ids.push(id)
  }
  return { vv, ids }
}

/** Runs a decoder so that nothing but a DynameshError with `code` can escape it. */
function guard<T>(code: ErrorCode, run: () => T): T {
  try {
    return run()
  } catch (e) {
    // Stryker disable next-line ConditionalExpression,LogicalOperator: every DynameshError raised inside carries the decoder's code
    if (e instanceof DynameshError && e.code === code) throw e
    throw new DynameshError(code, 'malformed input', { cause: e })
  }
}

/**
 * UTF-8 length without encoding, of well-formed text (`Writer.id` refuses a lone surrogate before
 * anything is written): a surrogate pair is one 4-byte character, so each of its halves counts 2.
 */
function utf8Size(s: string): number {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) n += 1
    else if (c < 0x800 || (c >= 0xd800 && c < 0xe000)) n += 2
    else n += 3
  }
  return n
}

function idSize(id: string): number {
  const n = utf8Size(id)
  return varintSize(n) + n
}

const STAMP_ERROR = 'op: tag must be a 32-bit unsigned integer, at a safe integer >= 0'

/** The shared writer plus the record's fields: counters, times and replica ids. */
class Writer extends ByteWriter {
  counter(n: number): void {
    if (!Number.isSafeInteger(n) || n < 1) throw new TypeError(`counter must be a safe integer >= 1, got ${n}`)
    this.varint(n)
  }
  time(t: number): void {
    if (!Number.isFinite(t)) throw new TypeError(`time must be finite, got ${t}`)
    // -0 takes the short form, as 0 (see timeSize).
    if (isShortTime(t)) this.varint(2 + 2 * t)
    else {
      this.u8(1)
      this.f64(t)
    }
  }
  tag(tag: number): void {
    if (!Number.isInteger(tag) || tag < 0 || tag >= 2 ** 32) throw new TypeError(`op tag must be a 32-bit unsigned integer, got ${tag}`)
    this.u8(tag >>> 24)
    this.u8((tag >>> 16) & 0xff)
    this.u8((tag >>> 8) & 0xff)
    this.u8(tag & 0xff)
  }
  stamp(op: OpStamp): void {
    if (!isOpStamp(op)) throw new TypeError(STAMP_ERROR)
    this.tag(op.tag)
    this.time(op.at)
  }
  /** A sibling's time: 0x00 when it is its entry's. */
  stime(t: number, ref: number): void {
    if (Number.isFinite(t) && t === ref) this.u8(0)
    else this.time(t)
  }
  id(id: string): void {
    // Ids are object keys, so strings.
    if (id.length === 0 || LONE_SURROGATE.test(id)) throw new TypeError('replica id must be non-empty, well-formed text')
    const n = utf8Size(id)
    if (n > MAX_ID_BYTES) throw new TypeError(`replica id longer than ${MAX_ID_BYTES} bytes`)
    this.varint(n)
    this.pos += utf8.encodeInto(id, this.buf.subarray(this.pos, this.pos + n)).written
  }
}

/** The shared strict reader plus the record's fields; failures carry the decoder's error code. */
class Reader extends ByteReader {
  constructor(buf: Uint8Array, code: ErrorCode) {
    super(buf, (why: string): never => {
      throw new DynameshError(code, `${code === 'INVALID_CONTEXT' ? 'context' : 'version set'}: ${why}`)
    })
  }
  counter(): number {
    const n = this.varint()
    if (n < 1) this.fail('counter must be >= 1')
    return n
  }
  time(): number {
    const v = this.varint()
    if (v === 0) this.fail('bad time')
    if (v >= 2) {
      if (v % 2 !== 0) this.fail('bad time')
      return (v - 2) / 2
    }
    const t = this.f64()
    // A short time (-0 among them, see timeSize) has only the short form.
    if (!Number.isFinite(t) || isShortTime(t)) this.fail('bad time')
    return t
  }
  tag(): number {
    return ((this.u8() << 24) >>> 0) + (this.u8() << 16) + (this.u8() << 8) + this.u8()
  }
  stamp(): OpStamp {
    const tag = this.tag()
    const at = this.time()
    if (!Number.isSafeInteger(at) || at < 0) this.fail('op time must be an integer >= 0')
    return { tag, at }
  }
  stime(ref: number): number {
    // Stryker disable next-line ConditionalExpression,EqualityOperator: past the end buf[pos] is undefined, and time() then fails as truncated
    if (this.left() > 0 && this.buf[this.pos] === 0) {
      this.pos++
      return ref
    }
    const t = this.time()
    if (t === ref) this.fail('sibling time not in its short form')
    return t
  }
  idBytes(): Uint8Array {
    const n = this.varint()
    if (n < 1 || n > MAX_ID_BYTES) this.fail('bad replica id length')
    return this.sub(n)
  }
  decodeId(raw: Uint8Array): string {
    try {
      return utf8Strict.decode(raw)
    } catch {
      return this.fail('replica id is not UTF-8')
    }
  }
}
