/**
 * The consistent-hashing ring (Dynamo §4.2 partitioning, §4.3 preference lists), as pure functions
 * over plain values: every peer that sees the same member set computes the same ring.
 *
 *   key ──hash64──► top log2(Q) bits = partition p ──owners[p]──► N distinct members
 *
 *        ·tok(b)   p=0 ·tok(a)          Q equal partitions cut the 64-bit hash space (Dynamo's
 *    ·tok(c)              ·tok(b)       strategy 3). Each member puts round(T·weight) tokens on the
 *   p=3 ·      ring      · p=1          ring; walking clockwise from a partition's first hash meets
 *    ·tok(a)              ·tok(c)       the members in that partition's order of preference.
 *        ·tok(c)   p=2 ·tok(a)
 *
 * How members are placed on partitions (bounded loads, and why) is in ring-place.ts.
 */
import { MAX_Q, MAX_WEIGHT } from '../limits.js'
import type { NodeId } from '../types.js'
import { hash, hash64, toBytes } from './hash.js'
import { memoByString } from './memo.js'
import { place, posOf, tokenCount } from './ring-place.js'
import { tokenView, TokenWalk, type TokenView } from './ring-tokens.js'

export { FLOOR_SIGMAS, LOAD_CAP, TOKENS_PER_WEIGHT } from './ring-place.js'

/** A member as placement sees it: weight > 0 is its capacity relative to the others. */
export interface RingMember {
  readonly id: NodeId
  readonly weight: number
}

/**
 * Placement of Q partitions on the members. Frozen plain data (owners and ownerIndex are made on
 * first read); treat the typed arrays as read-only too.
 */
export interface Ring {
  /** Number of partitions, a power of two. */
  readonly q: number
  /** Replicas per partition the ring was balanced for. */
  readonly n: number
  /** Sorted by id. */
  readonly members: readonly RingMember[]
  /** owners[p]: the min(n, members) distinct primaries of partition p, in preference order. */
  readonly owners: readonly (readonly NodeId[])[]
  /** Same as owners, as indexes into members. */
  readonly ownerIndex: readonly (readonly number[])[]
  /** The members' tokens on the 32-bit ring, read through an index shared with other rings (ring-tokens.ts). */
  readonly tokens: TokenView
  /** Two words summing the members (XOR of a hash of each id and weight): rings that agree share one (sharedRing). */
  readonly fingerprint: readonly [number, number]
}

/** A member entering the ring, changing weight (weight set) or leaving it (weight undefined): see nextRing. */
export interface RingChange {
  readonly id: NodeId
  readonly weight?: number | undefined
}

/** An entry of a sloppy preference list; fallbacks name the down primary they stand in for. */
export interface PrefEntry {
  node: NodeId
  primary: boolean
  hintFor?: NodeId
}

/** Bounds that keep token arrays and per-partition tables reasonable (defined in limits.ts). */
export { MAX_Q, MAX_WEIGHT }

function checkQ(q: number): number {
  if (!Number.isInteger(q) || q < 1 || q > MAX_Q || (q & (q - 1)) !== 0) {
    throw new TypeError(`q must be a power of two in [1, ${MAX_Q}], got ${q}`)
  }
  return 31 - Math.clz32(q)
}

/** The partition of a 64-bit hash: its top log2(q) bits. */
export function partitionOfHash(h64: bigint, q: number): number {
  const bits = checkQ(q)
  return Number(BigInt.asUintN(64, h64) >> BigInt(64 - bits))
}

/** The partition of a key: partitionOfHash(hash64(key), q). */
export const partitionOf = (key: Uint8Array, q: number): number => partitionOfHash(hash64(key), q)

/**
 * The partition of a key from its SHA-256 (the same top bits as partitionOf; q <= 2^16 needs the
 * first two bytes only), for callers that hash the key once for several uses.
 */
export function partitionOfDigest(d: Uint8Array, q: number): number {
  // q = 1 (bits 0) shifts all 16 bits out: partition 0.
  return ((d[0]! << 8) | d[1]!) >>> (16 - checkQ(q))
}

function byId(a: { id: string }, b: { id: string }): number {
  if (a.id < b.id) return -1
  // Stryker disable next-line ConditionalExpression,EqualityOperator: V8's sort only asks whether a result is < 0
  return a.id > b.id ? 1 : 0
}

function checkMember(id: unknown, weight: unknown): void {
  if (typeof id !== 'string') throw new TypeError('member id must be a string')
  if (typeof weight !== 'number' || !(weight > 0 && weight <= MAX_WEIGHT)) {
    throw new TypeError(`weight of ${id} must be in (0, ${MAX_WEIGHT}], got ${String(weight)}`)
  }
}

/** One frozen copy of each (id, weight) member in the process: rings share them. */
const memberOf = memoByString(200_000, (k) => {
  const at = k.lastIndexOf(':')
  return Object.freeze({ id: k.slice(0, at) as NodeId, weight: Number(k.slice(at + 1)) })
})
/** Two words of a hash of a member's id and weight, XORed into a ring's fingerprint. */
const memberHash = memoByString(200_000, (k) => {
  const h = hash(toBytes(k)), v = new DataView(h.buffer, h.byteOffset, 8)
  return [v.getUint32(0), v.getUint32(4)] as const
})
const keyOf = (m: RingMember): string => `${m.id}:${m.weight}`

function checkOpts(opts: { q: number; n: number }): void {
  checkQ(opts.q)
  if (!Number.isInteger(opts.n) || opts.n < 1) throw new TypeError(`n must be a positive integer, got ${opts.n}`)
}

let placements = 0
/** Placements made in this process so far (a ring places its members on first read of its owners): for tests and benchmarks. */
export const placementsMade = (): number => placements

/**
 * The ring of members sorted by id and validated. `reuse`: the previous ring's token index, with
 * each member's registration there (-1: none) and token count (-1: by its weight).
 */
function assemble(sorted: readonly RingMember[], q: number, n: number, fp: readonly [number, number], reuse?: { index: TokenView['index']; regs: Int32Array; counts: Uint32Array }): Ring {
  const counts = reuse?.counts ?? Uint32Array.from(sorted, (m) => tokenCount(m.weight))
  const tokens = tokenView((i) => sorted[i]!.id, counts, reuse)
  // Placement is the costly part of a ring, and many rings are never asked where a partition goes
  // (a node whose view changes every period, asked only for its members or nothing at all): it is
  // made on first use of owners or ownerIndex, once, and is the same whenever that happens.
  let placed: { ids: readonly (readonly NodeId[])[]; owners: readonly (readonly number[])[] } | undefined
  const placement = (): NonNullable<typeof placed> => {
    if (placed) return placed
    placements++
    const owners = place(sorted, tokens, q, n)
    // Stryker disable next-line ArrayDeclaration: only presizes
    const ids: (readonly NodeId[])[] = new Array(q)
    for (let p = 0; p < q; p++) {
      // Stryker disable next-line ArrayDeclaration: only presizes
      const o = owners[p]!, x: NodeId[] = new Array(o.length)
      for (let k = 0; k < o.length; k++) x[k] = sorted[o[k]!]!.id
      ids[p] = Object.freeze(x)
      Object.freeze(o)
    }
    return (placed = { ids: Object.freeze(ids), owners: Object.freeze(owners) })
  }
  const ring = { q, n, members: Object.freeze(sorted), tokens, fingerprint: fp } as Ring
  Object.defineProperties(ring, {
    owners: { enumerable: true, get: () => placement().ids },
    ownerIndex: { enumerable: true, get: () => placement().owners },
  })
  return Object.freeze(ring)
}

function sortedMembers(members: readonly RingMember[]): { sorted: RingMember[]; fp: [number, number] } {
  let f0 = 0, f1 = 0
  const sorted = members.map(({ id, weight }) => {
    checkMember(id, weight)
    const k = keyOf({ id, weight })
    const [h0, h1] = memberHash(k)
    f0 ^= h0; f1 ^= h1
    return memberOf(k)
  }).sort(byId)
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.id === sorted[i - 1]!.id) throw new TypeError(`duplicate member id ${sorted[i]!.id}`)
  }
  return { sorted, fp: [f0 >>> 0, f1 >>> 0] }
}

/**
 * Builds the ring for a member set. Deterministic: the same members in any order give the same ring.
 * @throws TypeError when q is not a power of two in [1, MAX_Q], n is not a positive integer, an id
 *   repeats, or a weight is not in (0, MAX_WEIGHT].
 */
export function buildRing(members: readonly RingMember[], opts: { q: number; n: number }): Ring {
  checkOpts(opts)
  const { sorted, fp } = sortedMembers(members)
  return assemble(sorted, opts.q, opts.n, fp)
}

/** Recently built rings by fingerprint (see sharedRing). */
const recentRings = new Map<string, Ring>()
const RECENT_RINGS = 16

/** Whether members of one length (a key of recentRings holds it) are the same, id and weight. */
function sameMembers(a: readonly RingMember[], b: readonly RingMember[]): boolean {
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!, y = b[i]!
    if (x.id !== y.id || x.weight !== y.weight) return false
  }
  return true
}

/** A recent ring of exactly these members, else `make()`'s, remembered. */
function recent(q: number, n: number, sorted: readonly RingMember[], fp: readonly [number, number], make: () => Ring): Ring {
  const key = `${q}/${n}/${sorted.length}/${fp[0]}/${fp[1]}`
  let ring = recentRings.get(key)
  if (ring && sameMembers(ring.members, sorted)) recentRings.delete(key)
  else ring = make()
  recentRings.set(key, ring)
  if (recentRings.size > RECENT_RINGS) recentRings.delete(recentRings.keys().next().value!)
  return ring
}

/**
 * buildRing, through a small cache shared by every node in the process: rings are pure and frozen,
 * so nodes that agree on the membership share one. A tab or a Node peer rebuilds as before; a
 * simulation of a thousand nodes builds each distinct ring once instead of once per node.
 */
export function sharedRing(members: readonly RingMember[], opts: { q: number; n: number }): Ring {
  checkOpts(opts)
  const { sorted, fp } = sortedMembers(members)
  return recent(opts.q, opts.n, sorted, fp, () => assemble(sorted, opts.q, opts.n, fp))
}

/**
 * The ring of `prev`'s members after `changes` (later changes of one id win): the same ring
 * buildRing would give for that member set, without sorting or hashing the members that stayed,
 * and through prev's token index. Cost O(members + changes·log) plus the placement itself, which
 * on a large ring walks only a few tokens per partition. Shared with other nodes as sharedRing does.
 * @throws TypeError on a weight not in (0, MAX_WEIGHT].
 */
export function nextRing(prev: Ring, changes: readonly RingChange[]): Ring {
  const last = new Map<string, RingChange>()
  for (const c of changes) {
    if (c.weight !== undefined) checkMember(c.id, c.weight)
    last.set(c.id, c)
  }
  // Every changed id in id order, with its new member (none: it leaves the ring).
  const all = [...last.values()]
    .map((c) => ({ id: c.id, m: c.weight === undefined ? undefined : memberOf(keyOf(c as RingMember)) }))
    .sort(byId)
  let f0 = prev.fingerprint[0], f1 = prev.fingerprint[1]
  const flip = (m: RingMember): void => {
    const [h0, h1] = memberHash(keyOf(m))
    f0 ^= h0; f1 ^= h1
  }
  const old = prev.members, oldRegs = prev.tokens.regs, oldCounts = prev.tokens.counts
  const size = old.length + all.length
  const sorted: RingMember[] = [], regs = new Int32Array(size), counts = new Uint32Array(size)
  let changed = false, k = 0, i = 0
  /** Keeps old[i, to) as they are: one run, found by a binary search, not a lookup per member. */
  const run = (to: number): void => {
    for (let x = i; x < to; x++) sorted.push(old[x]!)
    regs.set(oldRegs.subarray(i, to), k)
    counts.set(oldCounts.subarray(i, to), k)
    k += to - i
    i = to
  }
  for (const c of all) {
    let lo = i, hi = old.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (old[mid]!.id < c.id) lo = mid + 1
      else hi = mid
    }
    run(lo)
    const a = old[i]
    if (a !== undefined && a.id === c.id) {
      i++
      if (c.m === undefined) { flip(a); changed = true; continue } // leaves
      const same = a.weight === c.m.weight
      if (!same) { flip(a); flip(c.m); changed = true }
      sorted.push(c.m)
      regs[k] = oldRegs[i - 1]!
      counts[k++] = same ? oldCounts[i - 1]! : tokenCount(c.m.weight)
    } else if (c.m !== undefined) { // joins
      flip(c.m); changed = true
      sorted.push(c.m)
      regs[k] = -1
      counts[k++] = tokenCount(c.m.weight)
    }
  }
  run(old.length)
  if (!changed) return prev
  const fp = [f0 >>> 0, f1 >>> 0] as const
  // Stryker disable next-line ObjectLiteral: reuse only saves work; a ring reads the same through any index
  return recent(prev.q, prev.n, sorted, fp, () => assemble(sorted, prev.q, prev.n, fp, { index: prev.tokens.index, regs: regs.subarray(0, k), counts: counts.subarray(0, k) }))
}

const checkPartition = (ring: Ring, p: number): void => {
  if (!Number.isInteger(p) || p < 0 || p >= ring.q) throw new TypeError(`partition ${p} out of range [0, ${ring.q})`)
}

/** Distinct members clockwise from partition p's first hash, skipping (and marking) `seen`; -1 at the end. */
function walker(ring: Ring, p: number, seen: Uint8Array): () => number {
  const walk = new TokenWalk(ring.tokens, posOf(p, ring.q))
  return () => {
    for (let i = walk.next(); i >= 0; i = walk.next()) {
      if (!seen[i]) { seen[i] = 1; return i }
    }
    return -1
  }
}

/**
 * The sloppy preference list of a partition (Dynamo §4.6; riak_core's get_apl_ann): its first n
 * primaries (owners[p], continued along the walk when n > ring.n), the up ones first in preference
 * order, then one fallback per down primary, tagged with the primary it stands in for. Fallbacks
 * are the up non-primaries in walk order, so members that bounded loads passed over for this
 * partition (the nearest ones) come first. Shorter than n when too few members are up.
 * @throws TypeError on a partition outside [0, q) or n not a non-negative integer.
 */
export function preferenceList(ring: Ring, partition: number, n: number, isUp: (id: NodeId) => boolean): PrefEntry[] {
  checkPartition(ring, partition)
  if (!Number.isInteger(n) || n < 0) throw new TypeError(`n must be a non-negative integer, got ${n}`)
  const primaries = ring.ownerIndex[partition]!.slice(0, n)
  const seen = new Uint8Array(ring.members.length)
  for (const i of primaries) seen[i] = 1
  const next = walker(ring, partition, seen) // one walk: extra primaries first, then fallbacks
  // Every member holds a token (tokenCount >= 1), so the walk meets each one: no -1 here.
  while (primaries.length < Math.min(n, ring.members.length)) primaries.push(next())
  const out: PrefEntry[] = [], down: NodeId[] = []
  for (const i of primaries) {
    const node = ring.members[i]!.id
    if (isUp(node)) out.push({ node, primary: true })
    else down.push(node)
  }
  for (let k = 0; k < down.length;) {
    const i = next()
    if (i < 0) break
    const node = ring.members[i]!.id
    if (isUp(node)) out.push({ node, primary: false, hintFor: down[k++]! })
  }
  return out
}

/** Ascending partitions where `id` is a primary; [] for a non-member. A scan: not for per-request use. */
export function partitionsOf(ring: Ring, id: NodeId): number[] {
  const out: number[] = []
  const owners = ring.owners
  for (let p = 0; p < owners.length; p++) if (owners[p]!.includes(id)) out.push(p)
  return out
}

/** Whether `id` is one of partition's primaries (owners[partition]). */
export function isPrimary(ring: Ring, partition: number, id: NodeId): boolean {
  checkPartition(ring, partition)
  return ring.owners[partition]!.includes(id)
}
