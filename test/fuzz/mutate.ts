/**
 * The mutation layer of the fuzz suites: turns valid inputs (arbitraries.ts) into hostile ones.
 *
 * Two levels, because a decoder has two lines of defence to get past:
 * - bytes: bit flips, truncation, deletion, insertion of random or "interesting" bytes (0x00, 0xff,
 *   msgpack markers), duplication, splicing with another valid input, and length-field tampering
 *   (a MessagePack length header, or a LEB128 varint, rewritten to 0, off by one, or huge);
 * - structure: the decoded tree (MessagePack or JSON) with one node replaced by a value of another
 *   type (type confusion), a field removed or added, the tag swapped for another message's, or a
 *   subtree nested thousands deep; then encoded again, so the result still parses and reaches the
 *   validator instead of the parser.
 * Everything is a fast-check arbitrary, so failures shrink and replay from the seed.
 */
import fc from 'fast-check'
import { Packr } from 'msgpackr'

/** One byte-level edit; positions are taken modulo the input's length. */
export type ByteEdit =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'truncate'; at: number }
  | { op: 'delete'; at: number; n: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'overwrite'; at: number; bytes: Uint8Array }
  | { op: 'duplicate'; at: number; n: number }
  | { op: 'splice'; at: number; from: number }
  | { op: 'length'; at: number; value: number }
  | { op: 'varint'; at: number; value: number }

/** Bytes decoders treat specially: zero, sign and continuation bits, MessagePack type markers. */
const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc6, 0xc7, 0xcb, 0xcf, 0xd3, 0xd9, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0x90, 0x9f, 0x8f, 0xa0, 0xbf]
/** Lengths and counts that sit on a boundary. */
const LENGTHS = [0, 1, 2, 15, 16, 31, 127, 128, 255, 256, 1023, 1024, 1025, 16384, 65535, 65536, 2 ** 24, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1]

const interesting = fc.oneof(
  fc.constantFrom(...INTERESTING).map((b) => Uint8Array.of(b)),
  fc.uint8Array({ minLength: 1, maxLength: 8 }),
  fc.array(fc.constantFrom(...INTERESTING), { minLength: 1, maxLength: 4 }).map((a) => Uint8Array.from(a)),
)

export const byteEdit: fc.Arbitrary<ByteEdit> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: interesting }),
  fc.record({ op: fc.constant('overwrite' as const), at: fc.nat(), bytes: interesting }),
  fc.record({ op: fc.constant('duplicate' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ op: fc.constant('splice' as const), at: fc.nat(), from: fc.nat() }),
  fc.record({ op: fc.constant('length' as const), at: fc.nat(), value: fc.oneof(fc.constantFrom(...LENGTHS), fc.nat(300)) }),
  fc.record({ op: fc.constant('varint' as const), at: fc.nat(), value: fc.oneof(fc.constantFrom(...LENGTHS), fc.nat(300)) }),
)

const cat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

function leb128(v: number): Uint8Array {
  const out: number[] = []
  for (; v >= 128; v = Math.floor(v / 128)) out.push((v % 128) | 0x80)
  out.push(v)
  return Uint8Array.from(out)
}

function bigEndian(v: number, width: number): Uint8Array {
  const out = new Uint8Array(width)
  for (let i = width - 1; i >= 0; i--, v = Math.floor(v / 256)) out[i] = v % 256
  return out
}

/** Width of the length field after a MessagePack header byte, 0 for fix types, undefined for no length header. */
function msgpackLengthWidth(b: number): number | undefined {
  if ((b >= 0x80 && b <= 0x9f) || (b >= 0xa0 && b <= 0xbf)) return 0
  if (b === 0xc4 || b === 0xd9) return 1
  if (b === 0xc5 || b === 0xda || b === 0xdc || b === 0xde) return 2
  if (b === 0xc6 || b === 0xdb || b === 0xdd || b === 0xdf) return 4
  return undefined
}

/** Rewrites the first MessagePack length header at or after `at` (wrapping) to `value`, clipped to its width. */
function tamperLength(b: Uint8Array, at: number, value: number): Uint8Array {
  for (let k = 0; k < b.length; k++) {
    const i = (at + k) % b.length
    const width = msgpackLengthWidth(b[i]!)
    if (width === undefined) continue
    const out = new Uint8Array(b)
    if (width === 0) {
      const mask = b[i]! >= 0xa0 ? 0x1f : 0x0f
      out[i] = (b[i]! & ~mask) | (value & mask)
      return out
    }
    const field = bigEndian(value % 2 ** (8 * width), width)
    return cat(out.subarray(0, i + 1), field, out.subarray(Math.min(out.length, i + 1 + width)))
  }
  return b
}

/**
 * Applies one edit; `donor` is another valid input for splicing. Never writes to its inputs (which
 * may be shared corpus entries), and works on a plain Uint8Array copy: `Buffer#slice` is a view.
 */
export function applyEdit(input: Uint8Array, e: ByteEdit, donor: Uint8Array): Uint8Array {
  const b = new Uint8Array(input)
  const len = b.length
  const pos = len === 0 ? 0 : e.at % (len + 1)
  switch (e.op) {
    case 'flip':
      if (len > 0) b[e.at % len]! ^= 1 << e.bit
      return b
    case 'truncate':
      return b.slice(0, len === 0 ? 0 : e.at % len)
    case 'delete':
      return cat(b.subarray(0, pos), b.subarray(Math.min(len, pos + e.n)))
    case 'insert':
      return cat(b.subarray(0, pos), e.bytes, b.subarray(pos))
    case 'overwrite':
      b.set(e.bytes.subarray(0, Math.max(0, len - pos)), pos)
      return b
    case 'duplicate':
      return cat(b.subarray(0, pos), b.subarray(pos, pos + e.n), b.subarray(pos))
    case 'splice':
      return cat(b.subarray(0, pos), donor.subarray(donor.length === 0 ? 0 : e.from % donor.length))
    case 'length':
      return len === 0 ? b : tamperLength(b, e.at % len, e.value)
    case 'varint':
      return cat(b.subarray(0, pos), leb128(e.value), b.subarray(Math.min(len, pos + 1)))
  }
}

/** `valid` inputs after one to four byte edits (splicing with a second valid input). */
export function mutatedBytes(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(valid, valid, fc.array(byteEdit, { minLength: 1, maxLength: 4 }))
    .map(([b, donor, edits]) => edits.reduce((acc, e) => applyEdit(acc, e, donor), b))
}

// ---- structure level: a decoded tree (MessagePack or JSON) with one node changed ----

/**
 * A value of some other type, for type confusion: wrong scalars, bytes, containers, extremes, and
 * (rarely, they are slow to build and pack) arrays nested up to `maxDepth` deep.
 */
export const confusingValue = (maxDepth: number): fc.Arbitrary<unknown> => fc.oneof(
  fc.constantFrom(null, undefined, true, false, 0, -1, 1.5, -0, NaN, Infinity, -Infinity, 2 ** 53, 2 ** 64, -(2 ** 63), '', '0', 'up', 'a', '__proto__', 'constructor'),
  fc.integer(),
  fc.double(),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
  fc.string({ maxLength: 40 }),
  fc.string({ minLength: 200, maxLength: 300, unit: 'binary' }),
  fc.uint8Array({ maxLength: 40 }),
  fc.array(fc.oneof(fc.integer(), fc.string({ maxLength: 4 }), fc.uint8Array({ maxLength: 4 })), { maxLength: 5 }),
  fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(fc.integer(), fc.string({ maxLength: 4 })), { maxKeys: 4 }),
  fc.constant(new Date(0)),
  fc.nat(9).chain((k): fc.Arbitrary<unknown> => (k === 0 ? fc.integer({ min: 100, max: maxDepth }).map(deepNest) : fc.constant([[[[]]]]))),
)

/**
 * An array nested `depth` deep: parsers and re-serializers that recurse run out of stack on it.
 * Kept as a marker until the tree is written out, because the tools that write it recurse too.
 */
export class DeepNest {
  constructor(readonly depth: number) {}
  /** The nested arrays themselves. */
  build(): unknown {
    let v: unknown = []
    for (let i = 0; i < this.depth; i++) v = [v]
    return v
  }
  get json(): string {
    return '['.repeat(this.depth + 1) + ']'.repeat(this.depth + 1)
  }
}
const deepNest = (depth: number): DeepNest => new DeepNest(depth)

/** One structural change to a tree. */
export type TreeEdit =
  | { op: 'set'; at: number; value: unknown }
  | { op: 'remove'; at: number }
  | { op: 'add'; at: number; key: string; value: unknown }
  | { op: 'retag'; tag: string }

const isPlain = (v: unknown): v is Record<string, unknown> | unknown[] =>
  typeof v === 'object' && v !== null && !(v instanceof Uint8Array) && !(v instanceof Date) && !(v instanceof DeepNest)

/** Containers and the keys under them, depth first, root last (never more than a few hundred). */
function slots(root: unknown): Array<{ parent: Record<string, unknown> | unknown[]; key: string | number }> {
  const out: Array<{ parent: Record<string, unknown> | unknown[]; key: string | number }> = []
  const walk = (v: unknown, depth: number): void => {
    if (!isPlain(v) || depth > 8 || out.length > 256) return
    const keys: Array<string | number> = Array.isArray(v) ? v.map((_, i) => i) : Object.keys(v)
    for (const k of keys) {
      out.push({ parent: v, key: k })
      walk((v as Record<string, unknown>)[k as string], depth + 1)
    }
  }
  walk(root, 0)
  return out
}

/** Applies a tree edit in place (the tree is a fresh decode); `tagField` names the union's tag ('t', 'type'). */
export function applyTreeEdit(root: unknown, e: TreeEdit, tagField: string): unknown {
  if (e.op === 'retag') {
    if (isPlain(root) && !Array.isArray(root)) root[tagField] = e.tag
    return root
  }
  const all = slots(root)
  if (all.length === 0) return e.op === 'set' ? e.value : root
  const s = all[e.at % all.length]!
  if (e.op === 'set') (s.parent as Record<string, unknown>)[s.key as string] = e.value
  else if (e.op === 'remove') {
    if (Array.isArray(s.parent)) s.parent.splice(s.key as number, 1)
    else delete s.parent[s.key as string]
  } else {
    const target = (s.parent as Record<string, unknown>)[s.key as string]
    const host = isPlain(target) && !Array.isArray(target) ? target : s.parent
    if (Array.isArray(host)) host.push(e.value)
    else Object.defineProperty(host, e.key, { value: e.value, enumerable: true, writable: true, configurable: true })
  }
  return root
}

export function treeEdit(tags: readonly string[], maxDepth: number): fc.Arbitrary<TreeEdit> {
  const value = confusingValue(maxDepth)
  return fc.oneof(
    { weight: 5, arbitrary: fc.record({ op: fc.constant('set' as const), at: fc.nat(), value }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('remove' as const), at: fc.nat() }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('add' as const), at: fc.nat(), key: fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('__proto__', 'constructor', 't', 'type')), value }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('retag' as const), tag: fc.oneof(fc.constantFrom(...tags), fc.string({ maxLength: 6 })) }) },
  )
}

/** The tree with its deep-nest markers built out (MessagePack writes them as they are). */
function materialize(v: unknown): unknown {
  if (v instanceof DeepNest) return v.build()
  if (isPlain(v)) for (const k of Object.keys(v)) (v as Record<string, unknown>)[k] = materialize((v as Record<string, unknown>)[k])
  return v
}

/** A codec that packs whatever JS value it is given, as a hostile peer's would. */
const anyPacker = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' })

const packOrNull = (v: unknown): Uint8Array | null => {
  try {
    return anyPacker.pack(v)
  } catch {
    return null // deep nests may exceed the packer's own stack: that input is simply not sent
  }
}

/**
 * MessagePack `valid` inputs after one to three structural edits, re-packed: type confusion at the
 * MessagePack level (`tags`: the union's known tags, for retagging).
 */
export function confusedMsgpack(valid: fc.Arbitrary<Uint8Array>, tags: readonly string[], tagField = 't'): fc.Arbitrary<Uint8Array> {
  return fc.tuple(valid, fc.array(treeEdit(tags, 1000), { minLength: 1, maxLength: 3 })).map(([b, edits]) => {
    const tree = edits.reduce((t, e) => applyTreeEdit(t, e, tagField), anyPacker.unpack(b) as unknown)
    return packOrNull(materialize(tree)) ?? b
  })
}

/** JSON text of `valid` after one to three structural edits (type confusion at the JSON level). */
export function confusedJson(valid: fc.Arbitrary<string>, tags: readonly string[], tagField = 'type'): fc.Arbitrary<string> {
  return fc.tuple(valid, fc.array(treeEdit(tags, 8000), { minLength: 1, maxLength: 3 })).map(([s, edits]) => {
    const tree = edits.reduce((t, e) => applyTreeEdit(t, e, tagField), JSON.parse(s) as unknown)
    const deep: DeepNest[] = []
    const text = JSON.stringify(tree, (_k, v: unknown) => {
      if (v instanceof DeepNest) return `\u0000deep${deep.push(v) - 1}\u0000`
      return typeof v === 'bigint' ? Number(v) : v instanceof Uint8Array ? [...v] : v
    }) ?? 'null'
    return text.replace(/"\\u0000deep(\d+)\\u0000"/g, (_m, i: string) => deep[Number(i)]!.json)
  })
}

const utf8 = new TextEncoder()
const utf8Lossy = new TextDecoder()

/** Text inputs after byte edits of their UTF-8 (invalid sequences become U+FFFD, as a socket's text would). */
export function mutatedText(valid: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return mutatedBytes(valid.map((s) => utf8.encode(s))).map((b) => utf8Lossy.decode(b))
}

/** Strings in the shape of a base64 or base64url token, mutated at character level (swaps, padding, junk). */
export function mutatedToken(valid: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const junk = fc.constantFrom('=', '==', '-', '_', '+', '/', ' ', '%', '\u0000', 'é', 'A', '.')
  return fc.tuple(valid, fc.array(fc.tuple(fc.nat(), fc.nat(3), junk), { minLength: 1, maxLength: 3 })).map(([s, edits]) => {
    let out = s
    for (const [at, op, c] of edits) {
      const i = out.length === 0 ? 0 : at % (out.length + 1)
      if (op === 0) out = out.slice(0, i) + c + out.slice(i)
      else if (op === 1) out = out.slice(0, i) + out.slice(i + 1)
      else if (op === 2) out = out.slice(0, i) + c + out.slice(i + 1)
      else out = out.slice(0, i)
    }
    return out
  })
}
