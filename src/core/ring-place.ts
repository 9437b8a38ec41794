/**
 * Placement of the ring's members on Q partitions: bounded-load assignment along the walks (tokens
 * are read through ring-tokens.ts), completion of partitions the walks left short, and the floors.
 * Separate from ring.ts,
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
import type { RingMember } from './ring.js'
import { sortedTokens, TokenWalk, type TokenView } from './ring-tokens.js'

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
export const posOf = (p: number, q: number): number => p * (RING / q)

/** A member's token count for its weight. */
export const tokenCount = (weight: number): number => Math.max(1, Math.round(TOKENS_PER_WEIGHT * weight))

/** What the placement steps read: the members, their tokens (through the view) and each one's tokens sorted, fetched on demand. */
interface Layout {
  q: number
  m: number
  members: readonly RingMember[]
  v: TokenView
  mine: Map<number, Uint32Array>
  /** Distances the walks measured, by p · m + i: the same as dist(L, i, p), already known. */
  walked: Map<number, number>
}

/** Clockwise distance from partition p's first hash to member i's first token at or after it. */
function dist(L: Layout, i: number, p: number): number {
  const pp = posOf(p, L.q)
  let mine = L.mine.get(i)
  // Stryker disable next-line ConditionalExpression: a cache; the tokens made again are the same
  if (!mine) L.mine.set(i, (mine = sortedTokens(`${L.v.counts[i]}:${L.members[i]!.id}`)))
  let lo = 0, hi = mine.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (mine[mid]! < pp) lo = mid + 1
    else hi = mid
  }
  return ((lo === mine.length ? mine[0]! : mine[lo]!) - pp) >>> 0
}

/**
 * Each member's cap and floor (see LOAD_CAP, FLOOR_SIGMAS) from its share of `slots` replicas by
 * weight, none above q (a member holds a partition once). Members of one weight have one share, so
 * both are kept per weight, not per member: a ring of thousands of equal members costs a few
 * entries here, not arrays of its size. The sums run over the members in order, as a share per
 * member did, so every share is the same number to the last bit (placement is part of the protocol).
 */
interface Bounds {
  cap(i: number): number
  floor(i: number): number
  /** Some member's floor is above 0 (else no member can be under its floor). */
  floors: boolean
}

function bounds(members: readonly RingMember[], slots: number, q: number): Bounds {
  const m = members.length
  const weights = new Set<number>()
  for (let i = 0, last = NaN; i < m; i++) {
    const x = members[i]!.weight
    // Stryker disable next-line ConditionalExpression: a shortcut; a Set keeps one of each weight anyway
    if (x !== last) weights.add((last = x))
  }
  const full = new Set<number>()
  let w = 0, rest = slots
  for (;;) {
    w = 0
    rest = slots
    for (let i = 0; i < m; i++) {
      const x = members[i]!.weight
      // Stryker disable next-line ConditionalExpression,EqualityOperator: a shortcut; an empty set has no weight
      if (full.size > 0 && full.has(x)) rest -= q
      else w += x
    }
    let over = false
    // Stryker disable next-line EqualityOperator: a share of exactly q is q either way, and the others' shares the same
    for (const x of weights) if (!full.has(x) && (rest * x) / w > q) { full.add(x); over = true }
    if (!over) break
  }
  const caps = new Map<number, number>(), floors = new Map<number, number>()
  // Stryker disable next-line BooleanLiteral: it only lets work run that lifts no member without a floor above 0
  let anyFloor = false
  for (const x of weights) {
    const s = full.has(x) ? q : (rest * x) / w
    caps.set(x, Math.min(q, Math.ceil(LOAD_CAP * s)))
    const f = Math.floor(s - FLOOR_SIGMAS * Math.sqrt(s * (1 - s / q)))
    floors.set(x, f)
    // Stryker disable next-line ConditionalExpression,EqualityOperator: a floor of 0 lifts no member
    if (f > 0) anyFloor = true
  }
  return { cap: (i) => caps.get(members[i]!.weight)!, floor: (i) => floors.get(members[i]!.weight)!, floors: anyFloor }
}

const remove = (a: number[], x: number): void => { a.splice(a.indexOf(x), 1) }

/**
 * Deferred acceptance: each partition proposes to the next member on its walk; a full member keeps
 * the partitions whose first hash is nearest one of its tokens and bumps the farthest, which then
 * proposes further on. A member's preferences are distances to its own tokens, which no other
 * member's join or leave changes, so a membership change only shifts who is bumped at the margin.
 */
function propose(L: Layout, target: number, cap: (i: number) => number): number[][] {
  const { q } = L
  const owners: number[][] = Array.from({ length: q }, () => [])
  // Stryker disable next-line ArrayDeclaration: a string entry matches no member index
  const tried: number[][] = Array.from({ length: q }, () => [])
  // Held partitions and their distances, for members proposed to (most members of a large ring are not).
  const heldP = new Map<number, number[]>(), heldD = new Map<number, number[]>()
  const walks = Array.from({ length: q }, (_, p) => new TokenWalk(L.v, posOf(p, q)))
  const queue: number[] = []
  for (let p = 0; p < q; p++) for (let k = 0; k < target; k++) queue.push(p)
  for (let qi = 0; qi < queue.length; qi++) {
    const p = queue[qi]!
    const walk = walks[p]!
    let i = -1, d = 0
    for (let t = walk.next(); t >= 0; t = walk.next()) {
      if (!tried[p]!.includes(t)) { i = t; d = (walk.at - posOf(p, q)) >>> 0; break }
    }
    if (i < 0) continue // walk exhausted; fill() completes p
    tried[p]!.push(i)
    L.walked.set(p * L.m + i, d)
    let hp = heldP.get(i), hd = heldD.get(i)
    // Stryker disable next-line LogicalOperator: the two are set together
    if (!hp || !hd) { heldP.set(i, (hp = [])); heldD.set(i, (hd = [])) }
    if (hp.length < cap(i)) { hp.push(p); hd.push(d); owners[p]!.push(i); continue }
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
function fill(L: Layout, owners: number[][], target: number, cap: (i: number) => number, load: Int32Array): void {
  const { q, m } = L
  // Stryker disable next-line ConditionalExpression,ArrowFunction,EqualityOperator: a shortcut; with none short the loop does nothing, and all cannot be (a member with room takes every proposal)
  if (owners.every((o) => o.length >= target)) return
  // Stryker disable next-line ArrayDeclaration: a string entry names no partition (from[string] is not -2)
  const holders: number[][] = Array.from({ length: m }, () => [])
  owners.forEach((o, p) => o.forEach((i) => holders[i]!.push(p)))
  for (let p0 = 0; p0 < q; p0++) {
    while (owners[p0]!.length < target) {
      const from = new Int32Array(q).fill(-2), via = new Int32Array(q)
      // Stryker disable next-line UnaryOperator: the search reads it only as not -2, and the path stops at p0 by its own test
      from[p0] = -1
      const frontier = [p0]
      // Stryker disable next-line UnaryOperator: both are set by the search, which always finds a member with room (caps sum to the slots or more)
      let end = -1, free = -1
      // Stryker disable next-line EqualityOperator: the search ends at a member with room before the frontier runs out
      search: for (let f = 0; f < frontier.length; f++) {
        const p = frontier[f]!
        for (let i = 0; i < m; i++) {
          if (owners[p]!.includes(i)) continue
          if (load[i]! < cap(i)) { end = p; free = i; break search }
          for (const p2 of holders[i]!) if (from[p2] === -2) { from[p2] = p; via[p2] = i; frontier.push(p2) }
        }
      }
      // Stryker disable next-line BlockStatement,ConditionalExpression: unreachable, as the search always finds a member with room
      if (end < 0) { // caps cannot all hold: take the nearest member not yet in p0
        // Stryker disable all: unreachable (above)
        free = [...Array(m).keys()].filter((i) => !owners[p0]!.includes(i))
          .reduce((a, b) => (dist(L, b, p0) < dist(L, a, p0) ? b : a))
        // Stryker restore all
        end = p0
      }
      owners[end]!.push(free); holders[free]!.push(end); load[free]!++
      // Stryker disable next-line LogicalOperator,ConditionalExpression: from[p] is -1 at p0 only, so either test ends the path there
      for (let p = end; from[p] !== -1 && p !== p0; p = from[p]!) {
        const i = via[p]!, to = from[p]!
        remove(owners[p]!, i); remove(holders[i]!, p)
        owners[to]!.push(i); holders[i]!.push(to)
      }
    }
  }
}

/** Members under their floor take the partitions nearest their tokens from members above theirs. */
function raiseFloors(L: Layout, owners: number[][], floor: (i: number) => number, load: Int32Array): void {
  for (let u = 0; u < L.m; u++) {
    // Stryker disable next-line ConditionalExpression,EqualityOperator: a shortcut; the loop below tests it again
    if (load[u]! >= floor(u)) continue
    const du = Array.from({ length: L.q }, (_, p) => dist(L, u, p))
    while (load[u]! < floor(u)) {
      let best = -1
      for (let p = 0; p < L.q; p++) {
        if ((best < 0 || du[p]! < du[best]!) && !owners[p]!.includes(u) && owners[p]!.some((i) => load[i]! > floor(i))) best = p
      }
      if (best < 0) break // no partition lacking u has an owner to spare: leave u short
      const o = owners[best]!
      const victim = o.filter((i) => load[i]! > floor(i)).reduce((a, b) => (dist(L, b, best) > dist(L, a, best) ? b : a))
      o[o.indexOf(victim)] = u; load[victim]!--; load[u]!++
    }
  }
}

/**
 * Places members (sorted by id, validated; their tokens in `v`) on q partitions with n replicas
 * each: owners[p], the indexes of partition p's min(n, members) primaries in preference order.
 */
export function place(sorted: readonly RingMember[], v: TokenView, q: number, n: number): number[][] {
  const L: Layout = { q, m: sorted.length, members: sorted, v, mine: new Map(), walked: new Map() }
  const m = sorted.length, target = Math.min(n, m)
  let owners: number[][]
  // Stryker disable next-line ConditionalExpression,EqualityOperator: with m <= n, bounded loads give every member every partition too
  if (m <= n) {
    owners = Array.from({ length: q }, () => [...Array(m).keys()])
  } else {
    const b = bounds(sorted, q * target, q)
    owners = propose(L, target, b.cap)
    // Loads matter only to complete short partitions or to raise floors; a large ring of equal
    // members needs neither, and is spared an array of its size.
    if (b.floors || owners.some((o) => o.length < target)) {
      const load = new Int32Array(m)
      for (const o of owners) for (const i of o) load[i]!++
      fill(L, owners, target, b.cap, load)
      // Stryker disable next-line ConditionalExpression: with no floor above 0, raiseFloors lifts no member
      if (b.floors) raiseFloors(L, owners, b.floor, load)
    }
  }
  owners.forEach((o, p) => { // preference order = walk order, whatever step placed each owner
    const d = o.map((i) => L.walked.get(p * m + i) ?? dist(L, i, p))
    owners[p] = o.map((_, k) => k).sort((a, b) => d[a]! - d[b]! || o[a]! - o[b]!).map((k) => o[k]!)
  })
  return owners
}
