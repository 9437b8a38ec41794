/**
 * Placement of the ring's members on Q partitions: token generation, bounded-load assignment along
 * the walks, completion of partitions the walks left short, and the floors. Separate from ring.ts,
 * which validates members and answers lookups, because this is the one intricate algorithm of the
 * ring and reads best on its own; ring.ts re-exports its tuning constants.
 *
 * A bare walk is not balanced enough: each partition's owners are a fresh draw, so over 256×3
 * replicas some member often carries ~17% over the mean, and a weight-2 member gets ~1.8× (not 2×)
 * because a member can hold a partition only once. So placement uses bounded loads (Mirrokni,
 * Thorup, Zadimoghaddam 2018) in an order-independent form: partitions propose down their walks and
 * a member keeps at most ceil(LOAD_CAP × share), preferring partitions nearest its tokens (deferred
 * acceptance); then members more than FLOOR_SIGMAS binomial deviations under their share take the
 * partitions nearest their tokens from members above their own floor. Both corrections follow the
 * walk, so a join or leave moves little beyond the changed member's share.
 */
import { memoByString } from './memo.js'
import { hash, toBytes } from './hash.js'
import type { RingMember } from './ring.js'

/** Tokens per unit of weight: enough that token noise is small next to partition noise. */
export const TOKENS_PER_WEIGHT = 128
/** No member holds more than ceil(LOAD_CAP × its share) partition replicas. */
export const LOAD_CAP = 1.1
/**
 * A member under share − FLOOR_SIGMAS·σ takes replicas from others, σ = √(share·(1 − share/Q)) being
 * the walk's own binomial scatter: low enough that equal members rarely trip it (each trip costs a
 * move on the next membership change), high enough to lift members the walk under-selects.
 */
export const FLOOR_SIGMAS = 1.5

const RING = 2 ** 32

/** First hash of partition p on the 32-bit token ring. */
const posOf = (p: number, q: number): number => p * (RING / q)

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
function memberTokens(id: string, count: number, out: Uint32Array, at: number): void {
  const s = streamSeed(id)
  let a = s[0]! | 1, b = s[1]!, c = s[2]!, d = s[3]! // | 1: never the all-zero state
  const rotl = (x: number, k: number): number => (x << k) | (x >>> (32 - k))
  for (let i = 0; i < count; i++) {
    out[at + i] = Math.imul(rotl(Math.imul(b, 5), 7), 9)
    const t = b << 9
    c ^= a; d ^= b; b ^= c; a ^= d; c ^= t; d = rotl(d, 11)
  }
}

/** Sorts keys ascending, carrying vals along: four stable 8-bit counting passes (a comparison sort was most of a rebuild). */
function radixSort(keys: Uint32Array, vals: Uint32Array): void {
  const n = keys.length, at = new Uint32Array(257)
  let k: Uint32Array = keys, v: Uint32Array = vals, k2: Uint32Array = new Uint32Array(n), v2: Uint32Array = new Uint32Array(n)
  for (let shift = 0; shift < 32; shift += 8) {
    at.fill(0)
    for (let i = 0; i < n; i++) at[((k[i]! >>> shift) & 255) + 1]!++
    for (let b = 0; b < 256; b++) at[b + 1]! += at[b]!
    for (let i = 0; i < n; i++) {
      const j = at[(k[i]! >>> shift) & 255]!++
      k2[j] = k[i]!; v2[j] = v[i]!
    }
    const tk = k, tv = v // an even number of passes leaves the result in keys/vals
    k = k2; k2 = tk; v = v2; v2 = tv
  }
}

function layout(members: readonly RingMember[], q: number) {
  const m = members.length
  const off = new Uint32Array(m + 1)
  for (let i = 0; i < m; i++) off[i + 1] = off[i]! + Math.max(1, Math.round(TOKENS_PER_WEIGHT * members[i]!.weight))
  const nt = off[m]!
  const tokens = new Uint32Array(nt), tokenOwner = new Uint32Array(nt)
  for (let i = 0; i < m; i++) {
    memberTokens(members[i]!.id, off[i + 1]! - off[i]!, tokens, off[i]!)
    tokenOwner.fill(i, off[i]!, off[i + 1]!)
  }
  radixSort(tokens, tokenOwner) // stable: a shared position falls back to member order
  const mine = new Uint32Array(nt), fill = off.slice(0, m)
  for (let i = 0; i < nt; i++) mine[fill[tokenOwner[i]!]!++] = tokens[i]!
  const start = new Uint32Array(q)
  for (let p = 0, j = 0; p < q; p++) {
    while (j < nt && tokens[j]! < posOf(p, q)) j++
    start[p] = j === nt ? 0 : j
  }
  return { q, m, tokens, tokenOwner, start, mine, off }
}
/** Working tables of the placement steps; member i's tokens, ascending, are mine[off[i]..off[i+1]). */
type Layout = ReturnType<typeof layout>

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
 * the partitions whose first hash is nearest one of its tokens and bumps the farthest, which then
 * proposes further on. A member's preferences are distances to its own tokens, which no other
 * member's join or leave changes, so a membership change only shifts who is bumped at the margin.
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
      if (best < 0) break // no partition lacking u has an owner to spare: leave u short
      const o = owners[best]!
      const victim = o.filter((i) => load[i]! > floor[i]!).reduce((a, b) => (dist(L, b, best) > dist(L, a, best) ? b : a))
      o[o.indexOf(victim)] = u; load[victim]!--; load[u]!++
    }
  }
}

/**
 * Places members (sorted by id, validated) on q partitions with n replicas each: the token tables
 * and owners[p], the indexes of partition p's min(n, members) primaries in preference order.
 */
export function place(sorted: readonly RingMember[], q: number, n: number): {
  tokens: Uint32Array; tokenOwner: Uint32Array; start: Uint32Array; owners: number[][]
} {
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
    raiseFloors(L, owners, share.map((s) => Math.floor(s - FLOOR_SIGMAS * Math.sqrt(s * (1 - s / q)))), load)
  }
  owners.forEach((o, p) => { // preference order = walk order, whatever step placed each owner
    const d = o.map((i) => dist(L, i, p))
    owners[p] = o.map((_, k) => k).sort((a, b) => d[a]! - d[b]! || o[a]! - o[b]!).map((k) => o[k]!)
  })
  return { tokens: L.tokens, tokenOwner: L.tokenOwner, start: L.start, owners }
}
