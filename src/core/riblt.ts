/**
 * Rateless set reconciliation over anti-entropy items (Yang, Gilad and Alizadeh, "Practical Rateless
 * Set Reconciliation", SIGCOMM 2024), and a tug-of-war estimate of how many items differ (Alon,
 * Matias and Szegedy's sketch).
 *
 * An item stands for one (key, version digest) a replica holds: 8 bytes, the partition (16 bits)
 * and 48 bits of the Merkle entry hash. A coded cell is the XOR of the items mapped to it, the XOR of
 * their checksums and their count. Every item maps to cell 0 and then to ever sparser cells (about
 * 1 / (1 + i/2) of the items reach cell i), so any prefix of the cell stream is a valid sketch:
 *
 * ```
 *  A's cells - B's cells = cells of the symmetric difference (common items cancel)
 *  a cell holding one item ("pure": count +-1, checksum matches) names it; removing that item from
 *  the other cells it maps to makes more cells pure (peeling)
 * ```
 *
 * About 1.35 cells per differing item decode, whatever the set sizes. Cells are linear, so the cells
 * of several partitions are the sums of each partition's cells: each partition keeps its first
 * KEPT_CELLS current on every write (PartitionSketch), and the union of any set of partitions costs
 * one pass over those arrays, not over the items. Cells past KEPT_CELLS are computed from the items
 * when a very large difference needs them.
 *
 * The tug-of-war sketch: TOW sums of +-1 per item (the sign is a bit of the item's hash). Items both
 * sides hold cancel in the difference of two sums, so the mean of the squared differences estimates
 * the number of differing items (relative error about sqrt(2 / TOW)).
 */

/**
 * Bytes of an item asked for (`want` of ae-diff): its `hi` word, the partition and 16 hash bits.
 * The holder finds the record by those bits; a rare false match only sends one record more.
 */
export const WANT_BYTES = 4
/** Wire bytes of one cell: item (8), checksum (4), count modulo 256 (1). */
export const CELL_BYTES = 13
/** Cells each partition keeps current; enough for ~750 differing items without touching the items. */
export const KEPT_CELLS = 1024
/** Sums of the tug-of-war estimate. */
export const TOW = 64

import { Reader, Writer, varintSize } from './bytes.js'

const WORDS = 4 // lo, hi, checksum, count

const fmix = (x: number): number => {
  x ^= x >>> 16
  x = Math.imul(x, 0x85ebca6b)
  x ^= x >>> 13
  x = Math.imul(x, 0xc2b2ae35)
  x ^= x >>> 16
  return x | 0
}

/** The 32-bit checksum of an item, which tells a pure cell from a mixed one. */
export const checksumOf = (lo: number, hi: number): number => fmix(lo ^ Math.imul(fmix(hi ^ 0x1b873593), 0x27d4eb2f))
const seedOf = (lo: number, hi: number): number => fmix(hi ^ Math.imul(fmix(lo ^ 0x7f4a7c15), 0x165667b1)) | 1

/** The item of entry hash `h` in partition `p`: [lo, hi]. */
export const itemLo = (h: Uint8Array): number => ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) | 0
export const itemHi = (p: number, h: Uint8Array): number => ((p << 16) | (h[4]! << 8) | h[5]!) | 0
/** The partition an item belongs to. */
export const partitionOfItem = (hi: number): number => hi >>> 16
/** 16 of an item's hash bits (the low half of `hi`), which find its record among its partition's with few false matches. */
export const itemTag = (hi: number): number => hi & 0xffff
/** The tag of entry hash `h`. */
export const tagOfHash = (h: Uint8Array): number => (h[4]! << 8) | h[5]!

/**
 * Adds the item (lo, hi) `dc` times (+1 or -1) to every cell in [from, to) it maps to; `cells` holds
 * cell i at words [4 (i - from), 4 (i - from) + 4). The index sequence: 0, then gaps drawn so that
 * cell i holds an item with probability ~1 / (1 + i/2) (the paper's mapping, with a 32-bit draw).
 */
export function addItem(cells: Int32Array, from: number, to: number, lo: number, hi: number, dc: number): void {
  const chk = checksumOf(lo, hi)
  for (let i = 0, s = seedOf(lo, hi); i < to; s = nextState(s), i = nextIndex(i, s)) {
    // Stryker disable next-line ConditionalExpression: a cell before `from` lies before `cells`, where typed-array writes are dropped
    if (i < from) continue
    const at = WORDS * (i - from)
    cells[at]! ^= lo
    cells[at + 1]! ^= hi
    cells[at + 2]! ^= chk
    cells[at + 3]! += dc
  }
}

/**
 * The cells below `to` the item (lo, hi) maps to, in order: what `addItem` walks, for a caller that
 * keeps them (a membership entry is added to and removed from every view in a process).
 */
export function cellsOf(lo: number, hi: number, to: number): Uint16Array {
  const out: number[] = []
  for (let i = 0, s = seedOf(lo, hi); i < to; s = nextState(s), i = nextIndex(i, s)) out.push(i)
  return Uint16Array.from(out)
}

/** The item's draw after `s` (xorshift32). */
const nextState = (s: number): number => {
  s ^= s << 13
  s ^= s >>> 17
  return s ^ (s << 5)
}

/** The cell after `i` for draw `s`: a gap that makes cell i hold an item with probability ~1 / (1 + i/2). */
const nextIndex = (i: number, s: number): number => i + Math.max(1, Math.ceil((i + 1.5) * (65536 / Math.sqrt((s >>> 0) + 1) - 1)))

/** Adds the signs of entry hash `h` (bits of bytes 8..12) times `dc` to the tug-of-war sums. */
export function addSigns(tow: Int32Array, h: Uint8Array, dc: number): void {
  for (let k = 0; k < TOW; k++) tow[k]! += (h[8 + (k >>> 3)]! >>> (k & 7)) & 1 ? dc : -dc
}

/** Both sketches of one partition's items, kept current by its Merkle tree on every write. */
export class PartitionSketch {
  /** The first KEPT_CELLS cells; allocated with the first item. */
  cells: Int32Array | undefined
  readonly tow = new Int32Array(TOW)

  constructor(readonly partition: number) {}

  /** Adds (dc = 1) or removes (dc = -1) the item of entry hash `h`. */
  toggle(h: Uint8Array, dc: 1 | -1): void {
    this.cells ??= new Int32Array(WORDS * KEPT_CELLS)
    addItem(this.cells, 0, KEPT_CELLS, itemLo(h), itemHi(this.partition, h), dc)
    addSigns(this.tow, h, dc)
  }
}

/** What a union of partitions is built from: each one's sketch and, for cells past KEPT_CELLS, its entry hashes. */
export interface SketchSource {
  sketch: PartitionSketch
  hashes(): Iterable<Uint8Array>
}

/** Cells [from, to) of the union of `parts` (disjoint partitions). */
export function unionCells(parts: SketchSource[], from: number, to: number): Int32Array {
  const out = new Int32Array(WORDS * Math.max(0, to - from))
  const keptTo = Math.min(to, KEPT_CELLS)
  for (const src of parts) {
    const kept = src.sketch.cells
    if (kept) {
      // Stryker disable next-line ConditionalExpression,EqualityOperator: the loop below is empty when from >= keptTo
      if (from < keptTo) {
        for (let w = WORDS * from, o = 0; w < WORDS * keptTo; w += WORDS, o += WORDS) {
          out[o]! ^= kept[w]!
          out[o + 1]! ^= kept[w + 1]!
          out[o + 2]! ^= kept[w + 2]!
          out[o + 3]! += kept[w + 3]!
        }
      }
    }
    if (to > KEPT_CELLS) {
      const start = Math.max(from, KEPT_CELLS)
      const tail = out.subarray(WORDS * (start - from))
      for (const h of src.hashes()) addItem(tail, start, to, itemLo(h), itemHi(src.sketch.partition, h), 1)
    }
  }
  return out
}

/** Tug-of-war sums of the union of `parts`. */
export function unionTow(parts: SketchSource[]): number[] {
  const out = new Array<number>(TOW).fill(0)
  for (const src of parts) for (let k = 0; k < TOW; k++) out[k]! += src.sketch.tow[k]!
  return out
}

const zigzag = (v: number): number => (v < 0 ? -2 * v - 1 : 2 * v)

/** Tug-of-war sums on the wire: TOW zigzag varints. */
export function encodeTow(sums: readonly number[]): Uint8Array {
  const w = new Writer(sums.reduce((n, v) => n + varintSize(zigzag(v)), 0))
  for (const v of sums) w.varint(zigzag(v))
  return w.done()
}

/** Parses `encodeTow` output: exactly TOW sums within 32 bits, or `fail`. */
export function decodeTow(b: Uint8Array, fail: (why: string) => never): number[] {
  const r = new Reader(b, fail)
  const out: number[] = []
  for (let k = 0; k < TOW; k++) {
    const z = r.varint(2 ** 32 - 1)
    out.push(z % 2 === 1 ? -(z + 1) / 2 : z / 2)
  }
  r.end()
  return out
}

/** How many items differ, estimated from two sides' tug-of-war sums. */
export function estimateDifference(mine: readonly number[], theirs: readonly number[]): number {
  let sq = 0
  for (let k = 0; k < TOW; k++) sq += ((mine[k] ?? 0) - (theirs[k] ?? 0)) ** 2
  return sq / TOW
}

/** Cells on the wire: 13 bytes each, big-endian words, the count modulo 256. */
export function encodeCells(cells: Int32Array): Uint8Array {
  const n = cells.length / WORDS
  const out = new Uint8Array(CELL_BYTES * n)
  const v = new DataView(out.buffer)
  for (let i = 0; i < n; i++) {
    v.setInt32(CELL_BYTES * i, cells[WORDS * i]!)
    v.setInt32(CELL_BYTES * i + 4, cells[WORDS * i + 1]!)
    v.setInt32(CELL_BYTES * i + 8, cells[WORDS * i + 2]!)
    out[CELL_BYTES * i + 12] = cells[WORDS * i + 3]! & 0xff
  }
  return out
}

/** A count modulo 256 as a small signed number. */
const wrap = (c: number): number => (c << 24) >> 24

/**
 * The difference "mine minus theirs", decoded as cells arrive: `mine` are the items only this side
 * holds (as [lo, hi]), `theirs` those only the peer holds. Feed it the peer's cells in order with
 * the same range of this side's own cells; `done` says every cell peeled to zero.
 */
export class Difference {
  #cells = new Int32Array(0)
  #size = 0
  readonly mine: Array<[number, number]> = []
  readonly theirs: Array<[number, number]> = []
  readonly #decoded = new Set<string>()
  #inconsistent = false

  /**
   * The cells cannot come from one pair of sets: an item decoded twice (the sets changed between
   * two batches of cells). Peeling stops; the caller starts over or reconciles another way.
   */
  get inconsistent(): boolean {
    return this.#inconsistent
  }

  /** Cells received so far. */
  get size(): number {
    return this.#size
  }

  /** Appends cells [size, size + n): the peer's wire cells and this side's own cells of that range. */
  add(remote: Uint8Array, local: Int32Array): void {
    const n = remote.length / CELL_BYTES
    // Stryker disable next-line ConditionalExpression: a length not a multiple of CELL_BYTES fails the next check too
    if (!Number.isInteger(n)) throw new TypeError('cells of different ranges')
    if (local.length !== WORDS * n) throw new TypeError('cells of different ranges')
    const from = this.#size
    const next = new Int32Array(WORDS * (from + n))
    next.set(this.#cells.subarray(0, WORDS * from))
    const v = new DataView(remote.buffer, remote.byteOffset, remote.byteLength)
    for (let i = 0; i < n; i++) {
      const at = WORDS * (from + i)
      next[at] = local[WORDS * i]! ^ v.getInt32(CELL_BYTES * i)
      next[at + 1] = local[WORDS * i + 1]! ^ v.getInt32(CELL_BYTES * i + 4)
      next[at + 2] = local[WORDS * i + 2]! ^ v.getInt32(CELL_BYTES * i + 8)
      next[at + 3] = wrap(local[WORDS * i + 3]! - remote[CELL_BYTES * i + 12]!)
    }
    this.#cells = next
    this.#size = from + n
    // Items already peeled are removed from the new cells too.
    const tail = next.subarray(WORDS * from)
    for (const [lo, hi] of this.mine) addItem(tail, from, from + n, lo, hi, -1)
    for (const [lo, hi] of this.theirs) addItem(tail, from, from + n, lo, hi, 1)
    // Stryker disable next-line EqualityOperator: cell from + n lies past `next`, where typed-array writes are dropped
    for (let i = from; i < from + n; i++) next[WORDS * i + 3] = wrap(next[WORDS * i + 3]!)
    this.#peel()
  }

  #pure(i: number): boolean {
    const c = this.#cells
    const at = WORDS * i
    const count = c[at + 3]!
    return (count === 1 || count === -1) && c[at + 2] === checksumOf(c[at]!, c[at + 1]!)
  }

  #peel(): void {
    const c = this.#cells
    // Stryker disable next-line ArrayDeclaration: the pop re-checks purity, and no cell is pure at a non-number index
    const stack: number[] = []
    // Stryker disable next-line EqualityOperator: cell #size lies past the cells, which #pure reads as not pure
    for (let i = 0; i < this.#size; i++) {
      // Stryker disable next-line ConditionalExpression: the pop re-checks purity; only the order of decoded items differs
      if (this.#pure(i)) stack.push(i)
    }
    while (stack.length && !this.#inconsistent) {
      const i = stack.pop()!
      if (!this.#pure(i)) continue
      const at = WORDS * i
      const lo = c[at]!
      const hi = c[at + 1]!
      const sign = c[at + 3]!
      const id = `${lo}:${hi}`
      if (this.#decoded.has(id)) {
        this.#inconsistent = true
        return
      }
      this.#decoded.add(id)
      ;(sign === 1 ? this.mine : this.theirs).push([lo, hi])
      // Remove the item from every cell it maps to; cells it leaves pure are peeled next.
      const chk = checksumOf(lo, hi)
      // Stryker disable next-line EqualityOperator: cell #size lies past the cells; writes are dropped, #pure reads it as not pure
      for (let j = 0, st = seedOf(lo, hi); j < this.#size; st = nextState(st), j = nextIndex(j, st)) {
        const w = WORDS * j
        c[w]! ^= lo
        c[w + 1]! ^= hi
        c[w + 2]! ^= chk
        c[w + 3] = wrap(c[w + 3]! - sign)
        // Stryker disable next-line ConditionalExpression: the pop re-checks purity; only the order of decoded items differs
        if (this.#pure(j)) stack.push(j)
      }
    }
  }

  /** Every cell peeled to zero: `mine` and `theirs` are the whole difference. */
  get done(): boolean {
    if (this.#size === 0) return false
    // Stryker disable next-line ConditionalExpression: an inconsistent difference keeps the pure cell it stopped at, so is never all zero
    if (this.#inconsistent) return false
    const c = this.#cells
    for (let w = 0; w < WORDS * this.#size; w++) if (c[w] !== 0) return false
    return true
  }
}
