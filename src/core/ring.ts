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
import { hash64 } from './hash.js'
import { place } from './ring-place.js'

export { FLOOR_SIGMAS, LOAD_CAP, TOKENS_PER_WEIGHT } from './ring-place.js'

/** A member as placement sees it: weight > 0 is its capacity relative to the others. */
export interface RingMember {
  readonly id: NodeId
  readonly weight: number
}

/** Placement of Q partitions on the members. Frozen plain data; treat the typed arrays as read-only too. */
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
  /** Token positions on the 32-bit ring (top 32 bits of the 64-bit hash space), ascending. */
  readonly tokens: Uint32Array
  /** tokenOwner[i]: index into members of the member holding tokens[i]. */
  readonly tokenOwner: Uint32Array
  /** start[p]: index of the first token at or after partition p's first hash (wrapping). */
  readonly start: Uint32Array
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
 * Builds the ring for a member set. Deterministic: the same members in any order give the same ring.
 * @throws TypeError when q is not a power of two in [1, MAX_Q], n is not a positive integer, an id
 *   repeats, or a weight is not in (0, MAX_WEIGHT].
 */
export function buildRing(members: readonly RingMember[], opts: { q: number; n: number }): Ring {
  const { q, n } = opts
  checkQ(q)
  if (!Number.isInteger(n) || n < 1) throw new TypeError(`n must be a positive integer, got ${n}`)
  const sorted = members.map(({ id, weight }) => {
    if (typeof id !== 'string') throw new TypeError('member id must be a string')
    if (typeof weight !== 'number' || !(weight > 0 && weight <= MAX_WEIGHT)) {
      throw new TypeError(`weight of ${id} must be in (0, ${MAX_WEIGHT}], got ${weight}`)
    }
    return Object.freeze({ id, weight })
  }).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.id === sorted[i - 1]!.id) throw new TypeError(`duplicate member id ${sorted[i]!.id}`)
  }
  const { tokens, tokenOwner, start, owners } = place(sorted, q, n)
  return Object.freeze({
    q, n, members: Object.freeze(sorted),
    owners: Object.freeze(owners.map((o) => Object.freeze(o.map((i) => sorted[i]!.id)))),
    ownerIndex: Object.freeze(owners.map((o) => Object.freeze(o))),
    tokens, tokenOwner, start,
  })
}

/** Recently built rings by membership (see sharedRing). */
const recentRings = new Map<string, Ring>()
const RECENT_RINGS = 16

/**
 * buildRing, through a small cache shared by every node in the process: rings are pure and frozen,
 * so nodes that agree on the membership share one. A tab or a Node peer rebuilds as before; a
 * simulation of a thousand nodes builds each distinct ring once instead of once per node.
 */
export function sharedRing(members: readonly RingMember[], opts: { q: number; n: number }): Ring {
  const key = `${opts.q}/${opts.n}/` + [...members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map((m) => `${m.id}:${m.weight}`).join(',')
  let ring = recentRings.get(key)
  if (ring) recentRings.delete(key)
  else ring = buildRing(members, opts)
  recentRings.set(key, ring)
  if (recentRings.size > RECENT_RINGS) recentRings.delete(recentRings.keys().next().value!)
  return ring
}

const checkPartition = (ring: Ring, p: number): void => {
  if (!Number.isInteger(p) || p < 0 || p >= ring.q) throw new TypeError(`partition ${p} out of range [0, ${ring.q})`)
}

/** Distinct members clockwise from partition p's first hash, skipping (and marking) `seen`; -1 at the end. */
function walker(ring: Ring, p: number, seen: Uint8Array): () => number {
  const nt = ring.tokens.length
  let t = ring.start[p] ?? 0, left = nt
  return () => {
    while (left-- > 0) {
      const i = ring.tokenOwner[t]!
      t = t + 1 === nt ? 0 : t + 1
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
  while (primaries.length < Math.min(n, ring.members.length)) {
    const i = next()
    if (i < 0) break
    primaries.push(i)
  }
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
  return ring.owners.flatMap((o, p) => (o.includes(id) ? [p] : []))
}

/** Whether `id` is one of partition's primaries (owners[partition]). */
export function isPrimary(ring: Ring, partition: number, id: NodeId): boolean {
  checkPartition(ring, partition)
  return ring.owners[partition]!.includes(id)
}
