/**
 * The consistent-hashing ring (Dynamo §4.2 partitioning, §4.3 preference lists), as pure functions
 * over plain values: every peer that sees the same member set computes the same ring.
 *
 *   key ──hash64──► top log2(Q) bits = partition p ──owners[p]──► N distinct members
 *
 *        ·tok(b)   p=0 ·tok(a)          Q equal partitions cut the 64-bit hash space (Dynamo's
 *    ·tok(c)              ·tok(b)       strategy 3). Each member puts round(T·weight) tokens on the
 *   p=3 ·      ring      · p=1          ring; walking clockwise from a partition's first hash meets
 *    ·tok(a)              ·tok(c)       members in that partition's preference order ("walk").
 *        ·tok(c)   p=2 ·tok(a)
 *
 * A bare walk is not balanced enough: whether member X owns partition p is a coin flip per
 * partition, so over 256×3 replicas some member carries ~17% above the mean, and a weight-2 member
 * gets only ~1.8× (not 2×) because a member can appear once per partition. So placement is
 * consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam 2018) in an
 * order-independent form: partitions propose down their walks, members keep at most
 * ceil(LOAD_CAP·share) partitions, preferring those nearest their tokens (deferred acceptance),
 * then members under floor(LOAD_FLOOR·share) take the partitions nearest their tokens from members
 * above theirs. Both steps are local to the walk, so a join or leave moves little beyond its share.
 */
import type { NodeId } from '../types.js'
import { hash, hash64, toBytes } from './hash.js'

/** A member as placement sees it: weight > 0 is its capacity relative to the others. */
export interface RingMember {
  readonly id: NodeId
  readonly weight: number
}

/** Placement of Q partitions on the members. Plain data; treat the typed arrays as read-only. */
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
  /** byMember[i]: ascending partitions where members[i] is a primary. */
  readonly byMember: readonly (readonly number[])[]
}

/** An entry of a sloppy preference list; fallbacks name the down primary they stand in for. */
export interface PrefEntry {
  node: NodeId
  primary: boolean
  hintFor?: NodeId
}

/** Tokens per unit of weight: enough that token noise is small next to partition noise. */
export const TOKENS_PER_WEIGHT = 128
/** No member holds more than ceil(LOAD_CAP × its share) partition replicas. */
export const LOAD_CAP = 1.1
/** Members below floor(LOAD_FLOOR × their share) take replicas from members above theirs. */
export const LOAD_FLOOR = 0.9
/** Bounds that keep token arrays and per-partition tables reasonable. */
export const MAX_Q = 2 ** 16
export const MAX_WEIGHT = 256

const RING = 2 ** 32
const PACK = 2 ** 21 // token sort key = position · PACK + member index
const MAX_MEMBERS = 2 ** 20

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

/** First hash of partition p on the 32-bit token ring. */
const posOf = (p: number, q: number): number => p * (RING / q)

/**
 * Token positions of one member: a xoshiro128** stream seeded by SHA-256(id). One hash per member
 * rather than per token keeps a 50-member rebuild in a few ms (SHA-256 in JS is ~10 µs a call),
 * and a weight change only adds or drops tokens at the end of the stream.
 */
function memberTokens(id: string, count: number, out: Float64Array, at: number, index: number): void {
  const h = hash(toBytes(id))
  let a = ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) | 0
  let b = ((h[4]! << 24) | (h[5]! << 16) | (h[6]! << 8) | h[7]!) | 0
  let c = ((h[8]! << 24) | (h[9]! << 16) | (h[10]! << 8) | h[11]!) | 0
  let d = ((h[12]! << 24) | (h[13]! << 16) | (h[14]! << 8) | h[15]!) | 0
  if ((a | b | c | d) === 0) a = 1 // an all-zero state would repeat forever
  const rotl = (x: number, k: number): number => (x << k) | (x >>> (32 - k))
  for (let i = 0; i < count; i++) {
    out[at + i] = (Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0) * PACK + index
    const t = b << 9
    c ^= a; d ^= b; b ^= c; a ^= d; c ^= t; d = rotl(d, 11)
  }
}

/** Working tables shared by the placement steps. */
interface Layout {
  q: number
  m: number
  tokens: Uint32Array
  tokenOwner: Uint32Array
  start: Uint32Array
  /** Each member's tokens, ascending: mine[off[i]..off[i+1]). */
  mine: Uint32Array
  off: Uint32Array
}

function layout(members: readonly RingMember[], q: number): Layout {
  const m = members.length
  const off = new Uint32Array(m + 1)
  for (let i = 0; i < m; i++) off[i + 1] = off[i]! + Math.max(1, Math.round(TOKENS_PER_WEIGHT * members[i]!.weight))
  const nt = off[m]!
  const keys = new Float64Array(nt)
  for (let i = 0; i < m; i++) memberTokens(members[i]!.id, off[i + 1]! - off[i]!, keys, off[i]!, i)
  keys.sort() // ties on a position fall back to member index, so the order is total
  const tokens = new Uint32Array(nt), tokenOwner = new Uint32Array(nt), mine = new Uint32Array(nt)
  const fill = off.slice(0, m)
  for (let i = 0; i < nt; i++) {
    const pos = Math.floor(keys[i]! / PACK), owner = keys[i]! - pos * PACK
    tokens[i] = pos; tokenOwner[i] = owner; mine[fill[owner]!++] = pos
  }
  const start = new Uint32Array(q)
  for (let p = 0, j = 0; p < q; p++) {
    while (j < nt && tokens[j]! < posOf(p, q)) j++
    start[p] = j === nt ? 0 : j
  }
  return { q, m, tokens, tokenOwner, start, mine, off }
}

/** Clockwise distance from partition p's first hash to member i's first token at or after it. */
function dist(L: Layout, i: number, p: number): number {
  const pp = posOf(p, L.q)
  let lo = L.off[i]!, hi = L.off[i + 1]!
  const first = lo
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (L.mine[mid]! < pp) lo = mid + 1
    else hi = mid
  }
  return ((lo === L.off[i + 1]! ? L.mine[first]! : L.mine[lo]!) - pp) >>> 0
}

/** Each member's share of `slots` replicas by weight, none above q (a member holds a partition once). */
function shares(weights: readonly number[], slots: number, q: number): number[] {
  const full = weights.map(() => false)
  for (;;) {
    let w = 0, rest = slots
    weights.forEach((x, i) => { if (full[i]) rest -= q; else w += x })
    const share = weights.map((x, i) => (full[i] ? q : (rest * x) / w))
    const over = share.map((s, i) => !full[i] && s > q)
    if (!over.includes(true)) return share
    over.forEach((o, i) => { if (o) full[i] = true })
  }
}

const remove = (a: number[], x: number): void => { a.splice(a.indexOf(x), 1) }

/**
 * Deferred acceptance: each partition proposes to the next member on its walk; a full member keeps
 * the partitions whose first hash is nearest one of its tokens and bumps the farthest. The outcome
 * does not depend on processing order, which is what keeps a membership change local.
 */
function propose(L: Layout, target: number, cap: readonly number[]): number[][] {
  const { q, tokens, tokenOwner, start } = L
  const nt = tokens.length
  const owners: number[][] = Array.from({ length: q }, () => [])
  const tried: number[][] = Array.from({ length: q }, () => [])
  const heldP: number[][] = Array.from({ length: L.m }, () => [])
  const heldD: number[][] = Array.from({ length: L.m }, () => [])
  const cursor = Uint32Array.from(start), steps = new Uint32Array(q)
  const queue: number[] = []
  for (let p = 0; p < q; p++) for (let k = 0; k < target; k++) queue.push(p)
  for (let qi = 0; qi < queue.length; qi++) {
    const p = queue[qi]!
    let i = -1, d = 0
    while (steps[p]! < nt) {
      const t = cursor[p]!
      cursor[p] = t + 1 === nt ? 0 : t + 1
      steps[p]!++
      if (!tried[p]!.includes(tokenOwner[t]!)) { i = tokenOwner[t]!; d = (tokens[t]! - posOf(p, q)) >>> 0; break }
    }
    if (i < 0) continue // walk exhausted; fill() completes p
    tried[p]!.push(i)
    const hp = heldP[i]!, hd = heldD[i]!
    if (hp.length < cap[i]!) { hp.push(p); hd.push(d); owners[p]!.push(i); continue }
    let w = 0
    for (let k = 1; k < hp.length; k++) if (hd[k]! > hd[w]! || (hd[k] === hd[w] && hp[k]! > hp[w]!)) w = k
    if (hp.length > 0 && (d < hd[w]! || (d === hd[w] && p < hp[w]!))) {
      const bumped = hp[w]!
      hp[w] = p; hd[w] = d; owners[p]!.push(i)
      remove(owners[bumped]!, i)
      queue.push(bumped)
    } else queue.push(p)
  }
  return owners
}

/**
 * Completes partitions left short by exhausted walks along augmenting paths (p0 takes a member
 * from p1, p1 takes one from p2, ..., the last takes a member with room), so caps still hold;
 * only when no such path exists does a member go over its cap.
 */
function fill(L: Layout, owners: number[][], target: number, cap: readonly number[], load: number[]): void {
  const { q, m } = L
  const holders: number[][] = Array.from({ length: m }, () => [])
  owners.forEach((o, p) => o.forEach((i) => holders[i]!.push(p)))
  for (let p0 = 0; p0 < q; p0++) {
    while (owners[p0]!.length < target) {
      const from = new Int32Array(q).fill(-2), via = new Int32Array(q)
      from[p0] = -1
      const frontier = [p0]
      let end = -1, free = -1
      search: for (let f = 0; f < frontier.length; f++) {
        const p = frontier[f]!
        for (let i = 0; i < m; i++) {
          if (owners[p]!.includes(i)) continue
          if (load[i]! < cap[i]!) { end = p; free = i; break search }
          for (const p2 of holders[i]!) if (from[p2] === -2) { from[p2] = p; via[p2] = i; frontier.push(p2) }
        }
      }
      if (end < 0) { // caps cannot all hold: take the nearest member not yet in p0
        free = [...Array(m).keys()].filter((i) => !owners[p0]!.includes(i))
          .reduce((a, b) => (dist(L, b, p0) < dist(L, a, p0) ? b : a))
        end = p0
      }
      owners[end]!.push(free); holders[free]!.push(end); load[free]!++
      for (let p = end; from[p] !== -1 && p !== p0; p = from[p]!) {
        const i = via[p]!, to = from[p]!
        remove(owners[p]!, i); remove(holders[i]!, p)
        owners[to]!.push(i); holders[i]!.push(to)
      }
    }
  }
}

/** Members under their floor take the partitions nearest their tokens from members above theirs. */
function raiseFloors(L: Layout, owners: number[][], floor: readonly number[], load: number[]): void {
  for (let u = 0; u < L.m; u++) {
    if (load[u]! >= floor[u]!) continue
    const du = Array.from({ length: L.q }, (_, p) => dist(L, u, p))
    while (load[u]! < floor[u]!) {
      let best = -1
      for (let p = 0; p < L.q; p++) {
        if ((best < 0 || du[p]! < du[best]!) && !owners[p]!.includes(u) && owners[p]!.some((i) => load[i]! > floor[i]!)) best = p
      }
      if (best < 0) return // cannot happen while floors sum below Q·N; stay best-effort
      const o = owners[best]!
      const victim = o.filter((i) => load[i]! > floor[i]!).reduce((a, b) => (dist(L, b, best) > dist(L, a, best) ? b : a))
      o[o.indexOf(victim)] = u; load[victim]!--; load[u]!++
    }
  }
}

/**
 * Builds the ring for a member set. Deterministic: the same members in any order give the same ring.
 * @throws TypeError when q is not a power of two in [1, MAX_Q], n is not a positive integer, an id
 *   repeats, or a weight is not in (0, MAX_WEIGHT].
 */
export function buildRing(members: readonly RingMember[], opts: { q: number; n: number }): Ring {
  const { q, n } = opts
  checkQ(q)
  if (!Number.isInteger(n) || n < 1) throw new TypeError(`n must be a positive integer, got ${n}`)
  if (members.length > MAX_MEMBERS) throw new TypeError(`at most ${MAX_MEMBERS} members`)
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
  const L = layout(sorted, q)
  const m = sorted.length, target = Math.min(n, m)
  let owners: number[][]
  if (m <= n) {
    owners = Array.from({ length: q }, () => [...Array(m).keys()])
  } else {
    const share = shares(sorted.map((x) => x.weight), q * target, q)
    const cap = share.map((s) => Math.min(q, Math.ceil(LOAD_CAP * s)))
    owners = propose(L, target, cap)
    const load = new Array<number>(m).fill(0)
    for (const o of owners) for (const i of o) load[i]!++
    fill(L, owners, target, cap, load)
    raiseFloors(L, owners, share.map((s) => Math.floor(LOAD_FLOOR * s)), load)
  }
  const byMember: number[][] = sorted.map(() => [])
  owners.forEach((o, p) => {
    const d = new Map(o.map((i) => [i, dist(L, i, p)]))
    o.sort((a, b) => d.get(a)! - d.get(b)! || a - b)
    for (const i of o) byMember[i]!.push(p)
  })
  return Object.freeze({
    q, n, members: Object.freeze(sorted),
    owners: Object.freeze(owners.map((o) => Object.freeze(o.map((i) => sorted[i]!.id)))),
    ownerIndex: Object.freeze(owners.map((o) => Object.freeze(o))),
    tokens: L.tokens, tokenOwner: L.tokenOwner, start: L.start,
    byMember: Object.freeze(byMember.map((b) => Object.freeze(b))),
  })
}

function checkPartition(ring: Ring, p: number): void {
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
 * primaries (owners[p], continued along the walk when n > ring.n), up ones first in preference
 * order, then for each down primary the next up member further along the walk, tagged with the
 * primary it stands in for. Shorter than n when too few members are up.
 */
export function preferenceList(ring: Ring, partition: number, n: number, isUp: (id: NodeId) => boolean): PrefEntry[] {
  checkPartition(ring, partition)
  if (!Number.isInteger(n) || n < 0) throw new TypeError(`n must be a non-negative integer, got ${n}`)
  const own = ring.ownerIndex[partition]!
  const want = Math.min(n, ring.members.length)
  const primaries = own.slice(0, want)
  let seen: Uint8Array | undefined, next: (() => number) | undefined
  if (want > own.length) {
    seen = new Uint8Array(ring.members.length)
    for (const i of own) seen[i] = 1
    next = walker(ring, partition, seen)
    while (primaries.length < want) {
      const i = next()
      if (i < 0) break
      primaries.push(i)
    }
  }
  const out: PrefEntry[] = [], down: NodeId[] = []
  for (const i of primaries) {
    const node = ring.members[i]!.id
    if (isUp(node)) out.push({ node, primary: true })
    else down.push(node)
  }
  if (down.length === 0) return out
  if (!seen || !next) { // walk again, skipping exactly this request's primaries
    seen = new Uint8Array(ring.members.length)
    for (const i of primaries) seen[i] = 1
    next = walker(ring, partition, seen)
  }
  for (let k = 0; k < down.length;) {
    const i = next()
    if (i < 0) break
    const node = ring.members[i]!.id
    if (isUp(node)) out.push({ node, primary: false, hintFor: down[k++]! })
  }
  return out
}

function memberIndex(ring: Ring, id: NodeId): number {
  let lo = 0, hi = ring.members.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (ring.members[mid]!.id < id) lo = mid + 1
    else hi = mid
  }
  return ring.members[lo]?.id === id ? lo : -1
}

/** Ascending partitions where `id` is a primary; [] for a non-member. */
export function partitionsOf(ring: Ring, id: NodeId): number[] {
  const i = memberIndex(ring, id)
  return i < 0 ? [] : [...ring.byMember[i]!]
}

/** Whether `id` is one of partition's primaries (owners[partition]). */
export function isPrimary(ring: Ring, partition: number, id: NodeId): boolean {
  checkPartition(ring, partition)
  return ring.owners[partition]!.includes(id)
}
