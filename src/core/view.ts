/**
 * A membership view indexed for cheap reconciliation (Scuttlebutt-style: exchange summaries, then
 * only what differs). Every entry hashes to 8 bytes; the view keeps the XOR of those hashes over the
 * whole view (the digest) and over each of 1,024 buckets of ids, both updated in O(1) per change,
 * and the first VIEW_CELLS cells of rateless reconciliation over its entries (riblt.ts). Two views
 * with equal digests agree; otherwise the cells decode the entries that differ at ~1.35 cells each,
 * whatever the views' size, and where they cannot (views far apart), comparing bucket sums at a
 * resolution chosen for the view's size, then the (short id, version) lists of the differing
 * buckets, finds them while sending a few bytes per member only where something changed. Pure.
 */
import { Reader, Writer, varintSize } from './bytes.js'
import { memoByString } from './memo.js'
import { hash, toBytes } from './hash.js'
import { supersedes, type MemberEntry } from './membership.js'
import type { NodeId } from '../types.js'
import { MAX_GOSSIP_BUCKETS, MAX_MEMBER_VERSION, VIEW_CELLS } from '../limits.js'
import { cellsOf, checksumOf } from './riblt.js'

/** Bytes of an id's short form in version lists and wants (48 bits: no collision in practice below millions of members). */
export const SHORT_ID_BYTES = 6
const FINE_BITS = Math.log2(MAX_GOSSIP_BUCKETS)

/**
 * What a view needs of an entry, computed once per entry object and shared by every view holding it
 * (a simulation's thousand views hold the same interned entries): a view keeps only the entries.
 */
interface Info {
  /** The entry's id's number in this process (see `numberOf`). */
  num: number
  /** Two 32-bit words of the entry's hash (XORed into sums), and 16 more bits as a check in version lists. */
  h0: number
  h1: number
  check: number
  /** The entry as a rateless-reconciliation item (`itemOf`), its checksum, and the kept cells it maps to. */
  lo: number
  hi: number
  chk: number
  cells: Uint16Array
}

const infos = new WeakMap<MemberEntry, Info>()
/**
 * The last entry asked about of each id number, and its info: views mostly hold the same interned
 * entry of an id, so a version list or a comparison finds it here by the number it already has,
 * without a WeakMap lookup per line.
 */
const lastEntry: Array<MemberEntry | undefined> = []
const lastInfo: Info[] = []

/** infoOf(e) for an entry of id number k. */
function infoAt(k: number, e: MemberEntry): Info {
  // Stryker disable next-line ConditionalExpression: a cache; infoOf gives the same info
  if (lastEntry[k] === e) return lastInfo[k]!
  const info = infoOf(e)
  lastEntry[k] = e
  lastInfo[k] = info
  return info
}

function infoOf(e: MemberEntry): Info {
  let info = infos.get(e)
  // Stryker disable next-line ConditionalExpression: a cache; made again, the info is equal (memoized hash, same number)
  if (!info) {
    const [h0, h1, check] = entryHashOf(`${e.id}\n${e.weight}\n${e.status}\n${e.version}`)
    const num = numberOf(e.id)
    const [lo, hi] = itemOf(shortNumOf[num]!, e.version)
    info = { num, h0, h1, check, lo, hi, chk: checksumOf(lo, hi), cells: cellsOf(lo, hi, VIEW_CELLS) }
    infos.set(e, info)
  }
  return info
}

/**
 * Ids by number, shared by every view in the process: a view is an array indexed by these numbers
 * (one pointer per id, no map entry, no per-view copy of the id), and the fine buckets' member lists
 * are kept here once, not once per view. An id gets a number when an entry of it first enters a
 * view (entries are verified before that), so the table grows with the members a process has
 * held, never with what peers merely claim.
 */
const ids: NodeId[] = []
const numbers = new Map<string, number>()
const shortOf: Uint8Array[] = []
/** The short id as a number (48 bits: exact in a double), the form lists are compared in. */
const shortNumOf: number[] = []
/** Id numbers by fine bucket, in the order they were numbered. */
const bucketIds: number[][] = Array.from({ length: MAX_GOSSIP_BUCKETS }, () => [])
/** Id number by short id, the first numbered when two ids share one (48 bits: not in practice). */
const byShort = new Map<number, number>()
/**
 * Id numbers in id order (JavaScript's string order), kept as ids are numbered (a binary search and
 * a shift of 4-byte numbers each): a view lists its entries in id order without sorting them.
 */
let inIdOrder = new Int32Array(64)

/** Puts number `k` (of `id`) in its place in `inIdOrder`; ids.length - 1 numbers are there already. */
function placeInOrder(k: number, id: NodeId): void {
  const count = ids.length - 1
  if (count === inIdOrder.length) {
    const grown = new Int32Array(2 * count)
    grown.set(inIdOrder)
    inIdOrder = grown
  }
  let lo = 0
  let hi = count
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (ids[inIdOrder[mid]!]! < id) lo = mid + 1
    else hi = mid
  }
  inIdOrder.copyWithin(lo + 1, lo, count)
  inIdOrder[lo] = k
}

/** The process-wide number of `id` (given one now if it has none); see `idOfNumber`. */
export function numberOf(id: NodeId): number {
  let k = numbers.get(id)
  if (k === undefined) {
    k = ids.length
    const short = hash(toBytes(id)).slice(0, SHORT_ID_BYTES)
    const num = shortNumber(short, 0)
    ids.push(id)
    numbers.set(id, k)
    shortOf.push(short)
    shortNumOf.push(num)
    bucketIds[bucketOfShort(num)]!.push(k)
    if (!byShort.has(num)) byShort.set(num, k)
    placeInOrder(k, id)
  }
  return k
}

/** The number of `id`, if it has one (never gives one). */
export const numberIfAny = (id: string): number | undefined => numbers.get(id)

/** The id numbered `k` by `numberOf`. */
export const idOfNumber = (k: number): NodeId => ids[k]!

/** A short id (6 bytes at `at`) as a number. */
const shortNumber = (b: Uint8Array, at: number): number =>
  ((b[at]! << 8) | b[at + 1]!) * 2 ** 32 + (((b[at + 2]! << 24) | (b[at + 3]! << 16) | (b[at + 4]! << 8) | b[at + 5]!) >>> 0)
/** The fine bucket of a short id: its top bits. */
const bucketOfShort = (num: number): number => Math.floor(num / 2 ** (SHORT_ID_BYTES * 8 - FINE_BITS))

/**
 * An entry as an item of rateless reconciliation (riblt.ts): its 48-bit short id and the low 16 bits
 * of its version, as two 32-bit words. Two entries of one id at versions 65,536 apart, or at one
 * version with other content, are the same item: cells miss that difference, the digests do not,
 * and the bucket sums find it.
 */
export function itemOf(short: number, version: number): [number, number] {
  return [Math.floor(short / 2 ** 16) | 0, (((short % 2 ** 16) << 16) | (version % 2 ** 16)) | 0]
}

/** The short id and low 16 version bits of an item. */
const shortOfItem = (lo: number, hi: number): number => (lo >>> 0) * 2 ** 16 + (hi >>> 16)

/** True when version bits `t` (a peer's, modulo 2^16) stand for a version above `v`: fewer than 2^15 steps ahead. */
const aheadOf = (t: number, v: number): boolean => {
  const d = (t - (v % 2 ** 16) + 2 ** 16) % 2 ** 16
  return d > 0 && d < 2 ** 15
}

/** A peer's version list, parsed: line i is (shorts[i], versions[i], checks[i]). */
export interface VersionLines {
  shorts: Float64Array
  versions: Float64Array
  checks: Uint16Array
}

/** The bucket resolution for a view of `size` members: about 8 members per bucket, a power of two. */
export function bucketsFor(size: number): number {
  let nb = 1
  while (nb < MAX_GOSSIP_BUCKETS && nb * 8 < size) nb *= 2
  return nb
}

export class MemberView {
  /**
   * The entry of each id, by the id's number (undefined: not in this view). One pointer per id the
   * process numbered: a thousand simulated views of a thousand members cost 8 bytes a pair here,
   * where a map per view cost several times that.
   */
  private slots: Array<MemberEntry | undefined> = []
  private count = 0
  /** Per fine bucket, the XOR of its entries' h0 words (h1 goes only into the digest). */
  private readonly sums = new Uint32Array(MAX_GOSSIP_BUCKETS)
  private d0 = 0
  private d1 = 0
  private digestBytes: Uint8Array | undefined
  /** The first VIEW_CELLS cells of rateless reconciliation over the view's items, kept on every change. */
  private readonly cells = new Int32Array(4 * VIEW_CELLS)

  get size(): number {
    return this.count
  }

  get(id: string): MemberEntry | undefined {
    const k = numbers.get(id)
    // Stryker disable next-line ConditionalExpression: slots[undefined] is undefined too
    return k === undefined ? undefined : this.slots[k]
  }

  /** The entries, in the order their ids were numbered in the process. */
  *values(): IterableIterator<MemberEntry> {
    const slots = this.slots
    // Stryker disable next-line EqualityOperator: slots[length] is undefined, and skipped
    for (let k = 0; k < slots.length; k++) {
      const e = slots[k]
      if (e !== undefined) yield e
    }
  }

  /** The entries in id order (JavaScript's string order). */
  sorted(): MemberEntry[] {
    const out: MemberEntry[] = []
    for (let i = 0; i < ids.length; i++) {
      const e = this.slots[inIdOrder[i]!]
      if (e !== undefined) out.push(e)
    }
    return out
  }

  /** Puts `entry` in place of any entry of the same id (no version check: see `offer`). */
  set(entry: MemberEntry): void {
    const info = infoOf(entry)
    const k = info.num
    // Stryker disable next-line ConditionalExpression,EqualityOperator,ArithmeticOperator: slots are only presized; a write past the end grows the array
    if (k >= this.slots.length) this.grow(k + 1)
    const old = this.slots[k]
    if (old) this.xor(infoAt(k, old), -1)
    else this.count++
    this.slots[k] = entry
    this.xor(info, 1)
  }

  /** Grows the slots to at least `n` (doubling, filled: an array of holes would turn into a dictionary). */
  // Stryker disable next-line BlockStatement: slots are only presized; a write past the end grows the array
  private grow(n: number): void {
    // Stryker disable next-line ArrayDeclaration,MethodExpression,ArithmeticOperator: only presizes; a write past the end grows the array
    const next = new Array<MemberEntry | undefined>(Math.max(n, ids.length, this.slots.length * 2)).fill(undefined)
    // Stryker disable next-line EqualityOperator: one more copies slots[length], undefined, into an undefined slot
    for (let k = 0; k < this.slots.length; k++) next[k] = this.slots[k]
    this.slots = next
  }

  /** True when `entry` would replace what the view holds of its id (or the view has none). */
  wouldTake(entry: MemberEntry): boolean {
    const mine = this.get(entry.id)
    return !mine || supersedes(entry, mine)
  }

  /** The id a peer's short id names here, if any. */
  idOfShort(short: number): NodeId | undefined {
    return this.entryOfShort(short)?.id
  }

  /** The entry this view holds of the id a peer's short id names, if any. */
  entryOfShort(short: number): MemberEntry | undefined {
    const k = byShort.get(short)
    // Stryker disable next-line ConditionalExpression: a shortcut; no numbered id has this short, so the walk finds none
    if (k === undefined) return undefined
    // Stryker disable next-line ConditionalExpression: a shortcut; the walk (in number order) finds the same entry
    if (this.slots[k] !== undefined) return this.slots[k]
    // Another id with the same short id (a 48-bit collision) may be the one held here.
    for (const j of bucketIds[bucketOfShort(short)]!) if (this.slots[j] !== undefined && shortNumOf[j] === short) return this.slots[j]
    return undefined
  }

  /** 8 bytes summarising the whole view (kept until the view changes: do not modify). */
  digest(): Uint8Array {
    // Stryker disable next-line ConditionalExpression: a cache; made again, the bytes are equal
    if (!this.digestBytes) {
      this.digestBytes = new Uint8Array(8)
      const dv = new DataView(this.digestBytes.buffer)
      dv.setUint32(0, this.d0)
      dv.setUint32(4, this.d1)
    }
    return this.digestBytes
  }

  /** The 4-byte sums of `nb` buckets (a power of two up to MAX_GOSSIP_BUCKETS), concatenated. */
  bucketSums(nb: number): Uint8Array {
    const shift = FINE_BITS - Math.log2(nb)
    const coarse = new Uint32Array(nb)
    // Stryker disable next-line EqualityOperator: coarse[nb] is past the end, and a typed array ignores the write
    for (let b = 0; b < MAX_GOSSIP_BUCKETS; b++) coarse[b >>> shift]! ^= this.sums[b]!
    const out = new Uint8Array(nb * 4)
    const dv = new DataView(out.buffer)
    for (let c = 0; c < nb; c++) dv.setUint32(c * 4, coarse[c]!)
    return out
  }

  /** Buckets (at the resolution of `theirs`) whose sums differ from this view's. */
  differingBuckets(theirs: Uint8Array): number[] {
    const mine = this.bucketSums(theirs.length / 4)
    const out: number[] = []
    // Stryker disable next-line EqualityOperator,ArithmeticOperator: past the end both sides read undefined, so no bucket is added
    for (let c = 0; c < theirs.length / 4; c++) {
      const o = c * 4
      if (mine[o] !== theirs[o] || mine[o + 1] !== theirs[o + 1] || mine[o + 2] !== theirs[o + 2] || mine[o + 3] !== theirs[o + 3]) out.push(c)
    }
    return out
  }

  /** Id numbers held here in the given buckets at resolution `nb`. */
  private slotsIn(nb: number, buckets: readonly number[]): number[] {
    const span = MAX_GOSSIP_BUCKETS / nb
    const out: number[] = []
    for (const c of buckets) {
      for (let b = c * span; b < (c + 1) * span; b++) for (const k of bucketIds[b]!) if (this.slots[k] !== undefined) out.push(k)
    }
    return out
  }

  /** The version list of the given buckets: per entry its short id, 2 check bytes, its version as a varint. */
  versions(nb: number, buckets: readonly number[]): Uint8Array {
    const held = this.slotsIn(nb, buckets)
    let size = 0
    for (const k of held) size += SHORT_ID_BYTES + 2 + varintSize(this.slots[k]!.version)
    const w = new Writer(size)
    for (const k of held) {
      const entry = this.slots[k]!
      const check = infoAt(k, entry).check
      w.bytes(shortOf[k]!)
      w.u8(check >>> 8)
      w.u8(check & 0xff)
      w.varint(entry.version)
    }
    return w.done()
  }

  /**
   * Compares a peer's version list of `buckets` with this view: the entries the peer should get
   * (missing there, older there, or the same version with other content) and the short ids this
   * view should ask for (missing here, newer there, or the same version with other content).
   */
  compare(nb: number, buckets: readonly number[], theirs: VersionLines): { give: MemberEntry[]; want: number[] } {
    const remaining = new Map<number, number>()
    for (let i = 0; i < theirs.shorts.length; i++) remaining.set(theirs.shorts[i]!, i)
    const give: MemberEntry[] = []
    const want: number[] = []
    for (const k of this.slotsIn(nb, buckets)) {
      const e = this.slots[k]!
      const short = shortNumOf[k]!
      const t = remaining.get(short)
      if (t === undefined || theirs.versions[t]! < e.version) give.push(e)
      else if (theirs.versions[t]! > e.version) want.push(short)
      else if (theirs.checks[t] !== infoAt(k, e).check) {
        give.push(e)
        want.push(short)
      }
      // Stryker disable next-line ConditionalExpression: deleting a short not in the map does nothing
      if (t !== undefined) remaining.delete(short)
    }
    for (const short of remaining.keys()) want.push(short)
    return { give, want }
  }

  /** The given short ids, concatenated as bytes: a want list. */
  shortsOf(shorts: readonly number[]): Uint8Array {
    const out = new Uint8Array(shorts.length * SHORT_ID_BYTES)
    const dv = new DataView(out.buffer)
    shorts.forEach((num, i) => {
      dv.setUint16(i * SHORT_ID_BYTES, Math.floor(num / 2 ** 32))
      dv.setUint32(i * SHORT_ID_BYTES + 2, num % 2 ** 32)
    })
    return out
  }

  /** Cells [at, at + k) of the view's items (k + at <= VIEW_CELLS), a copy. */
  cellsAt(at: number, k: number): Int32Array {
    return this.cells.slice(4 * at, 4 * (at + k))
  }

  /**
   * What a decoded difference of items means: `mine` are items only this view holds, `theirs` only
   * the peer's. The peer should get this view's entry of every short id in `mine` unless the peer's
   * item of that id is ahead; this view wants every short id in `theirs` it lacks or holds behind
   * it. At equal version bits (other content, or 2^16 versions apart) both sides send theirs and
   * the merge decides.
   */
  reconcile(mine: ReadonlyArray<readonly [number, number]>, theirs: ReadonlyArray<readonly [number, number]>): { give: MemberEntry[]; want: number[] } {
    const ahead = new Map<number, number>()
    for (const [lo, hi] of theirs) ahead.set(shortOfItem(lo, hi), hi & 0xffff)
    const give: MemberEntry[] = []
    const want: number[] = []
    for (const [lo, hi] of mine) {
      const short = shortOfItem(lo, hi)
      const e = this.entryOfShort(short)
      const t = ahead.get(short)
      if (e && (t === undefined || !aheadOf(t, e.version))) give.push(e)
    }
    for (const [short, t] of ahead) {
      const e = this.entryOfShort(short)
      if (!e || aheadOf(t, e.version) || t === e.version % 2 ** 16) want.push(short)
    }
    return { give, want }
  }

  private xor(s: Info, dc: 1 | -1): void {
    const i = idBucket(s.num)
    this.sums[i] = this.sums[i]! ^ s.h0
    this.d0 = (this.d0 ^ s.h0) >>> 0
    this.d1 = (this.d1 ^ s.h1) >>> 0
    this.digestBytes = undefined
    const c = this.cells
    for (const cell of s.cells) {
      const at = 4 * cell
      c[at]! ^= s.lo
      c[at + 1]! ^= s.hi
      c[at + 2]! ^= s.chk
      c[at + 3]! += dc
    }
  }
}

const idBucket = (k: number): number => bucketOfShort(shortNumOf[k]!)

/** The two sum words and the check of an entry's hash, by its fields, shared by every view in the process. */
const entryHashOf = memoByString(200_000, (fields) => {
  const h = hash(toBytes(fields))
  const dv = new DataView(h.buffer, h.byteOffset, 10)
  return [dv.getUint32(0), dv.getUint32(4), dv.getUint16(8)] as const
})

/** Parses a version list; `fail` throws. */
export function parseVersions(blob: Uint8Array, fail: (why: string) => never): VersionLines {
  // At most one line per 9 bytes (6 + 2 + a 1-byte varint): sized for that, trimmed at the end.
  // Stryker disable next-line ArithmeticOperator: only sizes the arrays, which are trimmed to n
  const most = Math.floor(blob.length / (SHORT_ID_BYTES + 3))
  const shorts = new Float64Array(most), versions = new Float64Array(most), checks = new Uint16Array(most)
  const r = new Reader(blob, fail)
  let n = 0
  while (r.left() > 0) {
    const at = r.pos
    r.sub(SHORT_ID_BYTES)
    shorts[n] = shortNumber(blob, at)
    checks[n] = (r.u8() << 8) | r.u8()
    versions[n++] = r.varint(MAX_MEMBER_VERSION)
  }
  return { shorts: shorts.subarray(0, n), versions: versions.subarray(0, n), checks: checks.subarray(0, n) }
}

/** Splits a want list into short ids; `fail` throws on a length that is not a whole number of ids. */
export function parseShorts(blob: Uint8Array, fail: (why: string) => never): number[] {
  if (blob.length % SHORT_ID_BYTES !== 0) fail('want list: length')
  const out: number[] = []
  for (let o = 0; o < blob.length; o += SHORT_ID_BYTES) out.push(shortNumber(blob, o))
  return out
}
