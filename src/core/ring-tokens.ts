/**
 * Members' token positions on the ring, kept in an index a ring reads through rather than in arrays
 * of its own. A ring of m members holds 128·m tokens; copying and sorting them for every ring made
 * each rebuild O(m log m) in time and O(m) in memory for every node, and a simulation of thousands
 * of nodes holds thousands of rings at once. So a ring holds only which index entries are its
 * members' (a table by registered id), and walks the index skipping the others:
 *
 *   index (shared by every ring in the process, entries only ever added):
 *     bucket b = top 16 bits of a position: [(pos, id, k), ...] sorted by pos, then id, then k
 *   ring: table[reg] = member index or -1, counts[i] = member i's tokens (k < counts[i] are its)
 *
 * A walk's order (position, then id, then stream index) does not depend on what else the index
 * holds, so a ring reads the same through any index that has its members' tokens: the shared one,
 * or a flat one of its own (one sorted bucket, for small rings or when the shared index is mostly
 * other members, whose tokens a walk would have to skip).
 */
import { hash, toBytes } from './hash.js'
import { memoByString } from './memo.js'

/** who = reg · K + k: member registration and index in its token stream (k < 128 × MAX_WEIGHT = 32,768). */
const K = 32768

/** Seeds of members' token streams, by id, shared by every ring built in the process. */
const streamSeed = memoByString(100_000, (id) => {
  const h = hash(toBytes(id)), v = new DataView(h.buffer, h.byteOffset, 16)
  return Int32Array.of(v.getInt32(0), v.getInt32(4), v.getInt32(8), v.getInt32(12))
})

/**
 * Token positions of one member: a xoshiro128** stream seeded by SHA-256(id). One hash per member
 * rather than per token keeps a 50-member rebuild in a few ms (SHA-256 in JS is ~10 µs a call),
 * and a weight change only adds or drops tokens at the end of the stream.
 */
export function memberTokens(id: string, count: number, out: Uint32Array, at: number): void {
  const s = streamSeed(id)
  let a = s[0]! | 1, b = s[1]!, c = s[2]!, d = s[3]! // | 1: never the all-zero state
  const rotl = (x: number, k: number): number => (x << k) | (x >>> (32 - k))
  for (let i = 0; i < count; i++) {
    out[at + i] = Math.imul(rotl(Math.imul(b, 5), 7), 9)
    const t = b << 9
    c ^= a; d ^= b; b ^= c; a ^= d; c ^= t; d = rotl(d, 11)
  }
}

/** A member's first `count` tokens, ascending (for distances from a partition to its nearest token). */
export const sortedTokens = memoByString(200_000, (key) => {
  const at = key.indexOf(':')
  const count = Number(key.slice(0, at))
  const out = new Uint32Array(count)
  memberTokens(key.slice(at + 1), count, out, 0)
  return out.sort()
})

/** Sorts keys ascending, carrying vals along: four stable 8-bit counting passes (a comparison sort was most of a rebuild). */
function radixSort(keys: Uint32Array, vals: Uint32Array): void {
  const n = keys.length, at = new Uint32Array(257)
  let k: Uint32Array = keys, v: Uint32Array = vals, k2: Uint32Array = new Uint32Array(n), v2: Uint32Array = new Uint32Array(n)
  // Stryker disable next-line EqualityOperator: a fifth pass would write only the scratch arrays; keys/vals keep the fourth's
  for (let shift = 0; shift < 32; shift += 8) {
    at.fill(0)
    for (let i = 0; i < n; i++) at[((k[i]! >>> shift) & 255) + 1]!++
    // Stryker disable next-line EqualityOperator: at[257] is past the end, and a typed array ignores the write
    for (let b = 0; b < 256; b++) at[b + 1]! += at[b]!
    for (let i = 0; i < n; i++) {
      const j = at[(k[i]! >>> shift) & 255]!++
      k2[j] = k[i]!; v2[j] = v[i]!
    }
    const tk = k, tv = v // an even number of passes leaves the result in keys/vals
    k = k2; k2 = tk; v = v2; v2 = tv
  }
}

const lowerBound = (a: ArrayLike<number>, x: number): number => {
  let lo = 0, hi = a.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (a[mid]! < x) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** Token positions by bucket (see the header). Entries are only added; a walk reads them in order. */
export class TokenIndex {
  readonly pos: Array<ArrayLike<number> | undefined>
  readonly who: Array<ArrayLike<number> | undefined>
  /** Registered ids, by registration. */
  readonly ids: string[] = []
  /** Tokens held so far, in all. */
  size = 0
  private readonly regs = new Map<string, number>()
  /** Tokens of each registered id in the index (the first made[reg] of its stream). */
  private readonly made: number[] = []

  constructor(readonly bits: number) {
    this.pos = new Array<ArrayLike<number> | undefined>(2 ** bits).fill(undefined)
    this.who = new Array<ArrayLike<number> | undefined>(2 ** bits).fill(undefined)
  }

  get registered(): number {
    return this.ids.length
  }

  /** A flat index of exactly these members' tokens (registered in the given order), one sorted bucket. */
  static flat(ids: readonly string[], counts: ArrayLike<number>): TokenIndex {
    const ix = new TokenIndex(0)
    let total = 0
    for (let i = 0; i < ids.length; i++) total += counts[i]!
    const pos = new Uint32Array(total), gen = new Uint32Array(total)
    for (let i = 0, at = 0; i < ids.length; i++) {
      memberTokens(ids[i]!, counts[i]!, pos, at)
      // Stryker disable next-line EqualityOperator: one more writes gen[at + count] = at + count, what the next member writes there
      for (let k = 0; k < counts[i]!; k++) gen[at + k] = at + k
      at += counts[i]!
      ix.register(ids[i]!, counts[i]!)
    }
    radixSort(pos, gen) // stable: generated in (id, k) order, so a shared position falls back to it
    const regOf = new Uint32Array(total), first = new Uint32Array(ids.length)
    // Stryker disable next-line EqualityOperator: one more pass writes past first's end and fills an empty range (end NaN)
    for (let i = 0, at = 0; i < ids.length; i++) {
      first[i] = at
      regOf.fill(i, at, at + counts[i]!)
      at += counts[i]!
    }
    const who = new Float64Array(total)
    // Stryker disable next-line EqualityOperator: one more writes who[total], past its end
    for (let j = 0; j < total; j++) {
      const r = regOf[gen[j]!]!
      who[j] = r * K + (gen[j]! - first[r]!)
    }
    ix.pos[0] = pos
    ix.who[0] = who
    ix.size = total
    return ix
  }

  /** The registration of `id`, registering it (with no tokens yet) if new. */
  regOf(id: string): number {
    let r = this.regs.get(id)
    if (r === undefined) r = this.register(id, 0)
    return r
  }

  private register(id: string, made: number): number {
    const r = this.ids.length
    this.regs.set(id, r)
    this.ids.push(id)
    this.made.push(made)
    return r
  }

  /** Adds whatever of the first `count` tokens of reg's stream the index lacks (bucketed indexes only). */
  ensure(reg: number, count: number): void {
    const made = this.made[reg]!
    // Stryker disable next-line EqualityOperator: at made === count the loop below adds nothing
    if (made >= count) return
    const id = this.ids[reg]!
    const toks = new Uint32Array(count)
    memberTokens(id, count, toks, 0)
    const shift = 32 - this.bits
    for (let k = made; k < count; k++) {
      const p = toks[k]!, b = p >>> shift
      const P = (this.pos[b] ??= []) as number[], W = (this.who[b] ??= []) as number[]
      let j = lowerBound(P, p)
      // Equal positions (past the end P[j] is undefined): by id, then by stream index (the order a
      // flat index sorts them in). An entry of this id already here has a smaller stream index
      // (made only grows), so goes first.
      while (P[j] === p) {
        // Stryker disable next-line EqualityOperator: before or after its own entry at one position, a walk meets this member there alike
        if (this.ids[Math.floor(W[j]! / K)]! > id) break
        j++
      }
      P.splice(j, 0, p)
      W.splice(j, 0, reg * K + k)
    }
    this.made[reg] = count
    this.size += count - made
  }
}

/** The shared index; a new one starts when it holds this many tokens (rings keep the one they read). */
const SHARED_LIMIT = 8_000_000
let shared = new TokenIndex(16)

/** Rings with fewer tokens than this use a flat index of their own: cheap to build, and the fastest to walk. */
const FLAT_BELOW = 32_768

/** Which index entries are a ring's members' (see the header). */
export interface TokenView {
  readonly index: TokenIndex
  /** reg → member index, or -1 (regs at or past its length are no members either). */
  readonly table: Int32Array
  /** Member index → reg. */
  readonly regs: Int32Array
  /** Member index → its token count. */
  readonly counts: Uint32Array
  /** All members' tokens. */
  readonly total: number
}

/**
 * The token view of members (sorted by id) with the given token counts: through the shared index
 * when the ring is large and makes up a good part of it, else through a flat index of its own.
 * `reuse`: an index that may be kept (the previous ring's), with each member's reg there (-1: not
 * known; the array is taken over).
 */
export function tokenView(ids: (i: number) => string, counts: Uint32Array, reuse?: { index: TokenIndex; regs: Int32Array }): TokenView {
  const m = counts.length
  let total = 0
  for (let i = 0; i < m; i++) total += counts[i]!
  let index = reuse?.index
  if (index !== shared) {
    if (total < FLAT_BELOW) index = undefined
    else {
      // A ring reads the same through any index (see the header): a fresh shared index changes no
      // walk, only memory, and a test would have to put 8,000,000 tokens in the old one.
      // Stryker disable next-line ConditionalExpression,EqualityOperator,ArithmeticOperator: changes no walk (above)
      if (shared.size + total > SHARED_LIMIT) shared = new TokenIndex(16)
      // A walk through an index mostly of others' tokens would skip more than it reads.
      // Stryker disable next-line EqualityOperator: at exactly four times, either index gives the same walk
      index = shared.size <= 4 * total ? shared : undefined
    }
  }
  if (index === undefined) {
    const flat = TokenIndex.flat(Array.from({ length: m }, (_, i) => ids(i)), counts)
    const regs = new Int32Array(m)
    // Stryker disable next-line EqualityOperator: regs[m] is past the end, and a typed array ignores the write
    for (let i = 0; i < m; i++) regs[i] = i
    return { index: flat, table: regs.slice(), regs, counts, total }
  }
  const regs = reuse?.index === index ? reuse.regs : new Int32Array(m).fill(-1)
  for (let i = 0; i < m; i++) {
    // Stryker disable next-line ConditionalExpression,EqualityOperator: a shortcut; regOf gives a registered id its reg again
    if (regs[i]! < 0) regs[i] = index.regOf(ids(i))
    index.ensure(regs[i]!, counts[i]!)
  }
  const table = new Int32Array(index.registered).fill(-1)
  // Stryker disable next-line EqualityOperator: table[regs[m]] is table[undefined], not an element
  for (let i = 0; i < m; i++) table[regs[i]!] = i
  return { index, table, regs, counts, total }
}

/** Walks a ring's tokens clockwise from a position: next() is the member holding the next one, -1 after a full turn. */
export class TokenWalk {
  private b: number
  private j: number
  private left: number
  /** Position of the token next() returned last. */
  at = 0

  constructor(private readonly v: TokenView, from: number) {
    const ix = v.index
    this.b = ix.bits === 0 ? 0 : from >>> (32 - ix.bits)
    const P = ix.pos[this.b]
    this.j = P ? lowerBound(P, from) : 0
    this.left = v.total
  }

  next(): number {
    if (this.left <= 0) return -1
    const { index, table, counts } = this.v
    const nb = index.pos.length
    for (;;) {
      const P = index.pos[this.b]
      if (P !== undefined) {
        const W = index.who[this.b]! // made with P, always
        // Stryker disable next-line EqualityOperator: the entry past the end reads as no member's (reg NaN), and is skipped
        while (this.j < P.length) {
          const w = W[this.j]!, at = P[this.j]!
          this.j++
          const reg = Math.floor(w / K)
          const i = table[reg] ?? -1 // past the table's end: registered after this view, no member
          // Stryker disable next-line ConditionalExpression: counts[-1] is undefined, so a non-member fails the count test too
          if (i >= 0 && w - reg * K < counts[i]!) {
            this.left--
            this.at = at
            return i
          }
        }
      }
      // Stryker disable next-line ArithmeticOperator: b - 1 === nb wraps to 0 two (empty) buckets past the end instead
      this.b = this.b + 1 === nb ? 0 : this.b + 1
      this.j = 0
    }
  }
}
