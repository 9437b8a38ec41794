/**
 * The edges of core/ring-place.ts that whole rings in ring.test.ts do not pin down: the token count
 * and partition positions, preference order as walk order, each member's cap and floor (shares of
 * members heavier than one replica of every partition spread over the rest), deferred acceptance
 * as a stable assignment and between partitions at one distance from a member (found by search),
 * partitions completed along augmenting paths when their walks run out, and members lifted to
 * their floors by the partitions nearest their tokens.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { FLOOR_SIGMAS, LOAD_CAP, TOKENS_PER_WEIGHT, place, posOf, tokenCount } from '../../src/core/ring-place.js'
import type { RingMember } from '../../src/core/ring.js'
import { sortedTokens, tokenView } from '../../src/core/ring-tokens.js'
import { asNodeId } from '../../src/types.js'

// Fixed so a failure replays.
const fcOpts = { numRuns: 150, seed: 5150 }

interface Placed {
  ids: string[]
  weights: readonly number[]
  q: number
  n: number
  owners: number[][]
}

/** Members m000, m001, ... (already in id order) of these weights, placed on q partitions with n replicas. */
function placed(weights: readonly number[], q: number, n: number, ids = weights.map((_, i) => `m${String(i).padStart(3, '0')}`)): Placed {
  const members: RingMember[] = ids.map((id, i) => ({ id: asNodeId(id), weight: weights[i]! }))
  const counts = Uint32Array.from(weights, tokenCount)
  const owners = place(members, tokenView((i) => ids[i]!, counts), q, n)
  return { ids, weights, q, n, owners }
}

/** Clockwise distance from partition p's first hash to member i's nearest token at or after it. */
function dist(r: Placed, i: number, p: number): number {
  const from = p * (2 ** 32 / r.q)
  const toks = [...sortedTokens(`${tokenCount(r.weights[i]!)}:${r.ids[i]!}`)]
  const at = toks.find((t) => t >= from) ?? toks[0]!
  return (at - from) >>> 0
}

const loadsOf = (r: Placed): number[] => {
  const load = r.weights.map(() => 0)
  for (const o of r.owners) for (const i of o) load[i]!++
  return load
}

/**
 * Each member's share of q·min(n, m) replicas by weight, none above q: a member whose share would
 * exceed q holds every partition once and the rest is shared by the others, again by weight.
 */
function shares(weights: readonly number[], q: number, n: number): number[] {
  const slots = q * Math.min(n, weights.length)
  const full = new Set<number>()
  for (;;) {
    let rest = slots, w = 0
    for (const x of weights) if (full.has(x)) rest -= q; else w += x
    const over = [...new Set(weights)].filter((x) => !full.has(x) && (rest * x) / w > q)
    if (over.length === 0) return weights.map((x) => (full.has(x) ? q : (rest * x) / w))
    for (const x of over) full.add(x)
  }
}
const capOf = (s: number, q: number): number => Math.min(q, Math.ceil(LOAD_CAP * s))
const floorOf = (s: number, q: number): number => Math.floor(s - FLOOR_SIGMAS * Math.sqrt(s * (1 - s / q)))

const configArb = fc.record({
  weights: fc.array(fc.constantFrom(0.01, 0.1, 0.5, 1, 1, 2, 4, 16, 256), { minLength: 1, maxLength: 9 }),
  q: fc.constantFrom(1, 2, 4, 8, 16, 64),
  n: fc.integer({ min: 1, max: 4 }),
})

describe('ring place edges: tokens and positions', () => {
  it('gives round(128 × weight) tokens, at least one', () => {
    expect(TOKENS_PER_WEIGHT).toBe(128)
    expect([1, 0.5, 2, 256, 0.001, 0.0039, 0.0117, 0.0118].map(tokenCount)).toEqual([128, 64, 256, 32768, 1, 1, 1, 2])
  })

  it('puts partition p of q at p · 2^32 / q', () => {
    expect(posOf(0, 1)).toBe(0)
    expect(posOf(1, 4)).toBe(2 ** 30)
    expect(posOf(3, 4)).toBe(3 * 2 ** 30)
    expect(posOf(255, 256)).toBe(255 * 2 ** 24)
  })
})

describe('ring place edges: preference order', () => {
  /** Members of weight 1 with these ids (in id order), on 65,536 partitions, every member an owner of each. */
  const all = (ids: string[]): number[][] => {
    const members: RingMember[] = ids.map((id) => ({ id: asNodeId(id), weight: 1 }))
    return place(members, tokenView((i) => ids[i]!, Uint32Array.from(ids, () => 128)), 65536, ids.length)
  }

  it('counts a token on a partition\'s first hash as at distance 0', () => {
    // edge-41's token 74 is 36818 · 2^16, the first hash of partition 36818; its next token is
    // 51,823,682 further, edge-2's first there 5,617,490.
    expect(sortedTokens('128:edge-41')).toContain(36818 * 2 ** 16)
    expect(all(['edge-2', 'edge-41'])[36818]).toEqual([1, 0])
  })

  it('puts members at one distance in id order', () => {
    // c194's token 16 and c53's token 42 share a position, in partition 51958 with no other
    // token of either before it.
    const shared = 3405177060
    expect(sortedTokens('128:c194')).toContain(shared)
    expect(sortedTokens('128:c53')).toContain(shared)
    expect(Math.floor(shared / 2 ** 16)).toBe(51958)
    expect(all(['c194', 'c53'])[51958]).toEqual([0, 1])
  })
})

describe('ring place edges: every placement', () => {
  it('gives each partition min(n, m) distinct owners in walk order, each member within its cap and floor', () => {
    fc.assert(fc.property(configArb, ({ weights, q, n }) => {
      const r = placed(weights, q, n)
      const target = Math.min(n, weights.length)
      expect(r.owners).toHaveLength(q)
      r.owners.forEach((o, p) => {
        expect(o).toHaveLength(target)
        expect(new Set(o).size).toBe(target)
        for (let k = 1; k < o.length; k++) {
          const a = dist(r, o[k - 1]!, p), b = dist(r, o[k]!, p)
          expect(a < b || (a === b && o[k - 1]! < o[k]!)).toBe(true)
        }
      })
      if (weights.length <= n) return
      const s = shares(weights, q, n), load = loadsOf(r)
      load.forEach((l, i) => {
        expect(l).toBeLessThanOrEqual(capOf(s[i]!, q))
        expect(l).toBeGreaterThanOrEqual(floorOf(s[i]!, q))
      })
    }), fcOpts)
  })
})

describe('ring place edges: deferred acceptance', () => {
  /**
   * Where no member has a floor and no walk ran out, placement is the partitions' deferred
   * acceptance alone, which leaves no blocking pair: a member earlier on a partition's walk than
   * one of its owners is full, of partitions nearer its tokens (by distance, then partition).
   */
  it('leaves no partition preferring a member that has room or holds a partition farther from it', () => {
    const smallShares = fc.record({
      weights: fc.array(fc.constantFrom(0.5, 1, 1, 2), { minLength: 5, maxLength: 24 }),
      q: fc.constantFrom(2, 4, 8, 16),
      n: fc.integer({ min: 1, max: 3 }),
    })
    fc.assert(fc.property(smallShares, ({ weights, q, n }) => {
      const s = shares(weights, q, n)
      fc.pre(s.every((x) => floorOf(x, q) <= 0))
      const r = placed(weights, q, n), load = loadsOf(r)
      const held = r.weights.map((_, i) => r.owners.flatMap((o, p) => (o.includes(i) ? [p] : [])))
      r.owners.forEach((o, p) => {
        const last = o[o.length - 1]!, dl = dist(r, last, p)
        r.weights.forEach((_, i) => {
          const d = dist(r, i, p)
          if (o.includes(i) || d > dl || (d === dl && i > last)) return
          expect(load[i]).toBe(capOf(s[i]!, q))
          for (const p2 of held[i]!) {
            const d2 = dist(r, i, p2)
            expect(d2 < d || (d2 === d && p2 < p)).toBe(true)
          }
        })
      })
    }), fcOpts)
  })
})

describe('ring place edges: equal distances', () => {
  // Two of tie-165654's three tokens, and tie-94129's two, share their low 16 bits: each pair is at
  // one distance from the first hashes of two of 65,536 partitions. Found by search, as were the
  // ids of the five weight-256 members, whose tokens fall in none of the gaps before them.
  const ids = ['big46-0', 'big46-1', 'big46-2', 'big46-3', 'big46-4', 'tie-165654', 'tie-94129']
  const tied = (): Placed => placed([256, 256, 256, 256, 256, 3 / 128, 2 / 128], 65536, 1, ids)
  const partitionsOf = (r: Placed, i: number): number[] => r.owners.flatMap((o, p) => (o.includes(i) ? [p] : []))

  it('a full member bumps the higher of two partitions at its farthest distance', () => {
    // tie-165654 (cap 2) is first on the walks of partitions 119 and 31197, at one distance;
    // partition 63668 proposes later, nearer, and takes the place of 31197.
    const r = tied()
    expect([119, 31197, 63668].map((p) => dist(r, 5, p))).toEqual([31727, 31727, 14348])
    expect(capOf(shares(r.weights, 65536, 1)[5]!, 65536)).toBe(2)
    expect(partitionsOf(r, 5)).toEqual([119, 63668])
  })

  it('a full member keeps the lower of two partitions at one distance', () => {
    // tie-94129 (cap 1) holds partition 16511; 34587, at the same distance, does not bump it.
    const r = tied()
    expect([16511, 34587].map((p) => dist(r, 6, p))).toEqual([29491, 29491])
    expect(capOf(shares(r.weights, 65536, 1)[6]!, 65536)).toBe(1)
    expect(partitionsOf(r, 6)).toEqual([16511])
  })
})

describe('ring place edges: shares over q', () => {
  it('spreads the share a member cannot hold over the others by weight, again until none exceeds q', () => {
    // 12 replicas of 4 partitions: weight 100 would take 8.5 of them, so holds all 4; of the 8
    // left, weight 30 would take 5.7, so holds all 4; weight 10 then has 3.3 of the last 4 (cap 4,
    // floor 2), where one pass would have left it 1.9 (cap 3) and the weight-1 members some.
    const r = placed([100, 30, 10, 1, 1], 4, 3)
    expect(shares(r.weights, 4, 3).map((s) => capOf(s, 4))).toEqual([4, 4, 4, 1, 1])
    expect(loadsOf(r)).toEqual([4, 4, 4, 0, 0])
    expect(r.owners).toEqual([[0, 2, 1], [0, 1, 2], [1, 0, 2], [1, 0, 2]])
  })
})

describe('ring place edges: short partitions', () => {
  it('completes a partition whose walk ran out along an augmenting path, within every cap', () => {
    // Weights 2, 1, 1, 1, 2 on 4 partitions, 3 replicas: caps 4, 2, 2, 2, 4. Deferred acceptance
    // leaves partition 1 with members 4 and 0, every member it lacks (1, 2, 3) full. Partition 1
    // takes member 1 from partition 2, which takes member 0 (2 of 4 held) in its place.
    const r = placed([2, 1, 1, 1, 2], 4, 3)
    expect(shares(r.weights, 4, 3).map((s) => capOf(s, 4))).toEqual([4, 2, 2, 2, 4])
    expect(r.owners).toEqual([[4, 2, 3], [4, 0, 1], [3, 4, 0], [1, 0, 2]])
  })

  it('searches breadth first, and ends a path at partition 0 as at any other', () => {
    // Weights 2, 0.5, 1, 1 on 4 partitions, 2 replicas: caps 4, 1, 2, 2. Partition 1 is left with
    // member 0; members 1, 2 and 3 are full. Of the partitions holding them (3 first, then 0 and 2),
    // 3 lacks only full members, and 0 lacks member 0, which has room: partition 1 takes member 2
    // from partition 0, which takes member 0.
    const r = placed([2, 0.5, 1, 1], 4, 2)
    expect(shares(r.weights, 4, 2).map((s) => capOf(s, 4))).toEqual([4, 1, 2, 2])
    expect(r.owners).toEqual([[3, 0], [0, 2], [2, 3], [1, 0]])
  })
})

describe('ring place edges: floors', () => {
  it('lifts a member under its floor into the partition, in place of the farthest owner above its floor', () => {
    // One partition, 2 replicas: weight 4's share (1.9) is over q = 1, so it holds the partition
    // (cap and floor 1). The walk meets members 2 and 3 first; member 0 takes the place of member
    // 3, the farther of the two, and the walk orders the owners.
    const r = placed([4, 1, 0.1, 1], 1, 2)
    expect([0, 1, 2, 3].map((i) => dist(r, i, 0))).toEqual([17290938, 26104535, 2351556, 12859364])
    expect(floorOf(shares(r.weights, 1, 2)[0]!, 1)).toBe(1)
    expect(r.owners).toEqual([[2, 0]])
  })

  it('takes the partition nearest the member\'s tokens first, from its farthest owner above its floor', () => {
    // Weights 2, 4, 1, 4, 2 on 8 partitions, 3 replicas: floors 1, 6, 0, 6, 1. Deferred acceptance
    // gives member 1 five partitions (2, 4, 5, 6, 7); of those it lacks, 0 is nearest its tokens.
    // There members 4, 3 and 2 are all above their floors, and 2 is the farthest.
    const r = placed([2, 4, 1, 4, 2], 8, 3)
    expect(shares(r.weights, 8, 3).map((s) => floorOf(s, 8))).toEqual([1, 6, 0, 6, 1])
    expect([0, 1, 3].map((p) => dist(r, 1, p))).toEqual([5306254, 9306098, 42760943])
    expect([4, 3, 2].map((i) => dist(r, i, 0))).toEqual([605988, 1418277, 2351556])
    expect(loadsOf(r)).toEqual([4, 6, 2, 7, 5])
    expect(r.owners).toEqual([[4, 3, 1], [4, 3, 0], [4, 0, 1], [2, 3, 4], [1, 3, 2], [3, 1, 4], [1, 3, 0], [0, 1, 3]])
  })

  it('takes the nearest partitions it lacks, not the first ones', () => {
    // Weights 1, 1, 2, 0.25, 1, 1 on 4 partitions, 5 replicas: weight 2 holds every partition, and
    // the weight-1 members have floor 3. Member 0 gets partitions 1 and 3 and needs one of 0 and 2:
    // 2 is nearer its tokens. There member 4 is the farthest owner above its floor.
    const r = placed([1, 1, 2, 0.25, 1, 1], 4, 5)
    expect(shares(r.weights, 4, 5).map((s) => floorOf(s, 4))).toEqual([3, 3, 4, -1, 3, 3])
    expect([0, 2].map((p) => dist(r, 0, p))).toEqual([155239413, 66911001])
    expect(r.owners[0]).not.toContain(0)
    expect(r.owners[2]).toEqual([1, 2, 5, 3, 0])
  })
})
