/**
 * The edges of core/ring.ts that whole rings in ring.test.ts do not pin down: the bounds on q, n,
 * weights and partitions and what their errors say, the partition of a negative hash and of a
 * digest, ids holding colons, the fingerprint as documented, what a ring freezes and when it
 * places, the cache of recent rings (its size, what a hit refreshes), nextRing's bookkeeping of
 * joins, leaves and weight changes, member sets whose fingerprints collide, and whom fallbacks stand
 * in for (and when there are none).
 */
import { describe, expect, it } from 'vitest'
import { hash, hash64, toBytes } from '../../src/core/hash.js'
import {
  MAX_Q, MAX_WEIGHT, buildRing, isPrimary, nextRing, partitionOf, partitionOfDigest, partitionOfHash, partitionsOf,
  placementsMade, preferenceList, sharedRing, type RingMember,
} from '../../src/core/ring.js'
import { asNodeId, type NodeId } from '../../src/types.js'

const id = asNodeId
const members = (spec: Record<string, number>): RingMember[] => Object.entries(spec).map(([k, weight]) => ({ id: id(k), weight }))

/** The fingerprint as ring.ts documents it: XOR over members of the first two big-endian words of SHA-256(`${id}:${weight}`). */
function fingerprintOf(ms: readonly RingMember[]): [number, number] {
  let f0 = 0, f1 = 0
  for (const m of ms) {
    const h = hash(toBytes(`${m.id}:${m.weight}`))
    f0 ^= ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!)
    f1 ^= ((h[4]! << 24) | (h[5]! << 16) | (h[6]! << 8) | h[7]!)
  }
  return [f0 >>> 0, f1 >>> 0]
}

/** The first 64 bits of SHA-256(`${id}:${weight}`): a member's share of the fingerprint, as one number. */
function memberWord(key: string): bigint {
  const h = hash(toBytes(key))
  let v = 0n
  for (let i = 0; i < 8; i++) v = (v << 8n) | BigInt(h[i]!)
  return v
}

/** Indexes of a non-empty subset of `vs` whose XOR is 0 (Gaussian elimination over GF(2)). */
function xorZero(vs: readonly bigint[]): number[] {
  const basis = new Map<number, { v: bigint; mask: bigint }>()
  for (let j = 0; j < vs.length; j++) {
    let v = vs[j]!, mask = 1n << BigInt(j)
    while (v !== 0n) {
      const top = v.toString(2).length - 1, b = basis.get(top)
      if (!b) { basis.set(top, { v, mask }); break }
      v ^= b.v; mask ^= b.mask
    }
    if (v === 0n) return vs.map((_, i) => i).filter((i) => ((mask >> BigInt(i)) & 1n) === 1n)
  }
  throw new Error('no dependent subset')
}

describe('ring edges: partitions of hashes and digests', () => {
  it('accepts q from 1 to MAX_Q and says what is wrong with any other', () => {
    expect(MAX_Q).toBe(65536)
    expect(partitionOfHash(2n ** 64n - 1n, 1)).toBe(0)
    expect(partitionOfHash(2n ** 64n - 1n, MAX_Q)).toBe(MAX_Q - 1)
    expect(() => partitionOfHash(1n, 2 * MAX_Q)).toThrow('q must be a power of two in [1, 65536], got 131072')
    expect(() => partitionOfHash(1n, 0)).toThrow('q must be a power of two in [1, 65536], got 0')
    expect(() => partitionOfHash(1n, 6)).toThrow('q must be a power of two in [1, 65536], got 6')
  })

  it('reads a negative hash as its 64-bit two\'s complement', () => {
    expect(partitionOfHash(-1n, 256)).toBe(255)
    expect(partitionOfHash(-(2n ** 63n), 4)).toBe(2)
  })

  it('gives a digest the partition partitionOf gives its key, for every q', () => {
    for (const key of ['', 'a', 'user:42', 'ü', 'zzzz']) {
      const k = toBytes(key), d = hash(k)
      for (let q = 1; q <= MAX_Q; q *= 2) expect(partitionOfDigest(d, q)).toBe(partitionOf(k, q))
    }
    expect(() => partitionOfDigest(hash(toBytes('a')), 3)).toThrow(TypeError)
    expect(partitionOf(toBytes('a'), 1024)).toBe(Number(hash64(toBytes('a')) >> 54n))
  })
})

describe('ring edges: members and options', () => {
  it('says what is wrong with an id, a weight, a repeated id or n', () => {
    const opts = { q: 4, n: 3 }
    expect(() => buildRing([{ id: 7 as unknown as NodeId, weight: 1 }], opts)).toThrow('member id must be a string')
    expect(() => buildRing(members({ a: 0 }), opts)).toThrow('weight of a must be in (0, 256], got 0')
    expect(() => buildRing([{ id: id('a'), weight: '1' as unknown as number }], opts)).toThrow('weight of a must be in (0, 256], got 1')
    expect(() => buildRing(members({ a: 1, b: 1 }).concat(members({ b: 2 })), opts)).toThrow('duplicate member id b')
    expect(() => buildRing([], { q: 4, n: 1.5 })).toThrow('n must be a positive integer, got 1.5')
    expect(() => sharedRing([], { q: 4, n: 0 })).toThrow('n must be a positive integer, got 0')
    expect(() => sharedRing([], { q: 5, n: 1 })).toThrow('q must be a power of two')
  })

  it('takes weights up to MAX_WEIGHT and no more', () => {
    expect(MAX_WEIGHT).toBe(256)
    expect(buildRing(members({ a: MAX_WEIGHT, b: 1e-9 }), { q: 4, n: 1 }).members.map((m) => m.weight)).toEqual([256, 1e-9])
    expect(() => buildRing(members({ a: MAX_WEIGHT + 1e-9 }), { q: 4, n: 1 })).toThrow(TypeError)
  })

  it('keeps ids holding colons whole, and their weight', () => {
    const r = buildRing(members({ 'a:b:2': 3, 'c:': 0.5 }), { q: 4, n: 2 })
    expect(r.members).toEqual([{ id: 'a:b:2', weight: 3 }, { id: 'c:', weight: 0.5 }])
    expect(r.fingerprint).toEqual(fingerprintOf(r.members))
  })

  it('fingerprints the members by id and weight, in any order, and nothing for none', () => {
    const ms = members({ a: 1, b: 2, c: 0.5 })
    expect(buildRing(ms, { q: 4, n: 2 }).fingerprint).toEqual(fingerprintOf(ms))
    expect(buildRing([...ms].reverse(), { q: 8, n: 1 }).fingerprint).toEqual(fingerprintOf(ms))
    expect(buildRing([], { q: 4, n: 2 }).fingerprint).toEqual([0, 0])
  })
})

describe('ring edges: a ring', () => {
  it('is frozen, its owners read as enumerable properties, and places once on first read', () => {
    const r = buildRing(members({ a: 1, b: 1, c: 2, d: 1 }), { q: 8, n: 2 })
    expect(Object.isFrozen(r)).toBe(true)
    expect(Object.isFrozen(r.members)).toBe(true)
    expect(Object.keys(r).sort()).toEqual(['fingerprint', 'members', 'n', 'ownerIndex', 'owners', 'q', 'tokens'])
    const before = placementsMade()
    const { ownerIndex } = r
    expect(placementsMade()).toBe(before + 1)
    expect(Object.isFrozen(ownerIndex)).toBe(true)
    expect(Object.isFrozen(r.owners)).toBe(true)
    for (let p = 0; p < 8; p++) {
      expect(Object.isFrozen(r.owners[p])).toBe(true)
      expect(Object.isFrozen(ownerIndex[p])).toBe(true)
      expect(r.owners[p]).toEqual(ownerIndex[p]!.map((i) => r.members[i]!.id))
    }
    expect(placementsMade()).toBe(before + 1)
    expect({ ...r }.owners).toBe(r.owners)
  })
})

describe('ring edges: recent rings', () => {
  it('are one ring per q, n and member set', () => {
    const ms = members({ 'per-q-a': 1, 'per-q-b': 2 })
    const r = sharedRing(ms, { q: 4, n: 1 })
    expect(sharedRing([...ms].reverse(), { q: 4, n: 1 })).toBe(r)
    expect(sharedRing(ms, { q: 8, n: 1 }).q).toBe(8)
    expect(sharedRing(ms, { q: 4, n: 2 }).n).toBe(2)
    expect(sharedRing(members({ 'per-q-a': 1, 'per-q-b': 1 }), { q: 4, n: 1 }).members[1]!.weight).toBe(1)
    expect(sharedRing(ms.slice(0, 1), { q: 4, n: 1 }).members).toHaveLength(1)
  })

  it('keep the last 16, a ring asked for again counting as the latest', () => {
    const ringOf = (k: number) => sharedRing(members({ [`recent-${k}`]: 1 }), { q: 4, n: 1 })
    const first = Array.from({ length: 16 }, (_, k) => ringOf(k))
    expect(ringOf(0)).toBe(first[0]) // all 16 held; 0 is now the latest
    ringOf(16) // the oldest, 1, goes
    expect(ringOf(0)).toBe(first[0])
    expect(ringOf(1)).not.toBe(first[1]) // and comes back, pushing out 2
    expect(ringOf(3)).toBe(first[3])
    expect(ringOf(2)).not.toBe(first[2])
  })

  it('tell apart member sets whose fingerprints collide: other ids, or the same ids at other weights', () => {
    // A fingerprint is a XOR of 64-bit words, so 66 members hold an even-sized subset whose words
    // XOR to 0: any split of it into halves gives two member sets of one size and one fingerprint.
    const ids = Array.from({ length: 80 }, (_, j) => `collide-${j}`)
    const even = xorZero(ids.map((x) => memberWord(`${x}:1`) | (1n << 64n)))
    const half = even.length / 2
    const a = members(Object.fromEntries(even.slice(0, half).map((j) => [ids[j]!, 1])))
    const b = members(Object.fromEntries(even.slice(half).map((j) => [ids[j]!, 1])))
    const ra = sharedRing(a, { q: 4, n: 1 })
    expect(fingerprintOf(b)).toEqual(ra.fingerprint)
    const rb = sharedRing(b, { q: 4, n: 1 })
    expect(rb).not.toBe(ra)
    expect(rb.members.map((m) => m.id)).toEqual(b.map((m) => m.id).sort())
    expect(sharedRing([...b].reverse(), { q: 4, n: 1 })).toBe(rb) // one ring a key: the latest
    // Weights 1 and 2 of the same ids: the words of the two weights XOR to the same over a subset.
    const same = xorZero(ids.map((x) => memberWord(`${x}:1`) ^ memberWord(`${x}:2`)))
    const one = members(Object.fromEntries(same.map((j) => [ids[j]!, 1])))
    const two = members(Object.fromEntries(same.map((j) => [ids[j]!, 2])))
    const r1 = sharedRing(one, { q: 4, n: 1 })
    expect(fingerprintOf(two)).toEqual(r1.fingerprint)
    const r2 = sharedRing(two, { q: 4, n: 1 })
    expect(r2).not.toBe(r1)
    expect(r2.members.every((m) => m.weight === 2)).toBe(true)
  })
})

describe('ring edges: nextRing', () => {
  const base = members({ b: 1, d: 2, f: 0.5 })

  it('joins, leaves and reweighs in id order, whatever order the changes come in, the last change of an id winning', () => {
    const r = buildRing(base, { q: 8, n: 2 })
    const next = nextRing(r, [
      { id: id('g'), weight: 1 }, { id: id('d') }, { id: id('a'), weight: 3 }, { id: id('f'), weight: 4 },
      { id: id('c'), weight: 1 }, { id: id('c') }, { id: id('e'), weight: 2 }, { id: id('a'), weight: 1 },
    ])
    const expected = members({ a: 1, b: 1, e: 2, f: 4, g: 1 })
    expect(next.members).toEqual(expected)
    expect(next.fingerprint).toEqual(fingerprintOf(expected))
    expect(next.owners).toEqual(buildRing(expected, { q: 8, n: 2 }).owners)
  })

  it('keeps a member whose weight is unchanged, and changes nothing for a leave of a non-member', () => {
    const r = buildRing(base, { q: 8, n: 2 })
    expect(nextRing(r, [{ id: id('d'), weight: 2 }, { id: id('zz') }, { id: id('a') }])).toBe(r)
    const next = nextRing(r, [{ id: id('d'), weight: 2 }, { id: id('f'), weight: 1 }])
    expect(next.members).toEqual(members({ b: 1, d: 2, f: 1 }))
    expect(next.fingerprint).toEqual(fingerprintOf(next.members))
    expect(() => nextRing(r, [{ id: id('b'), weight: -1 }])).toThrow('weight of b must be in (0, 256], got -1')
  })

  it('empties a ring and fills it again', () => {
    const r = buildRing(base, { q: 4, n: 2 })
    const none = nextRing(r, base.map((m) => ({ id: m.id })))
    expect(none.members).toEqual([])
    expect(none.fingerprint).toEqual([0, 0])
    expect(none.owners).toEqual([[], [], [], []])
    const again = nextRing(none, base)
    expect(again.members).toEqual(base)
    expect(again.owners).toEqual(r.owners)
  })
})

describe('ring edges: lookups', () => {
  const five = () => buildRing(members({ a: 1, b: 1, c: 1, d: 1, e: 1 }), { q: 8, n: 3 })

  it('say what is wrong with a partition or n', () => {
    const r = five()
    expect(() => preferenceList(r, 8, 3, () => true)).toThrow('partition 8 out of range [0, 8)')
    expect(() => preferenceList(r, -1, 3, () => true)).toThrow('partition -1 out of range [0, 8)')
    expect(() => isPrimary(r, 8, id('a'))).toThrow('partition 8 out of range [0, 8)')
    expect(() => isPrimary(r, 0.5, id('a'))).toThrow(TypeError)
    expect(() => preferenceList(r, 0, -1, () => true)).toThrow('n must be a non-negative integer, got -1')
    expect(() => preferenceList(r, 0, 1.5, () => true)).toThrow(TypeError)
    expect(preferenceList(r, 7, 1, () => true)).toEqual([{ node: r.owners[7]![0], primary: true }])
  })

  it('list fallbacks for down primaries in preference order, the first fallback for the first down primary', () => {
    const r = five()
    for (let p = 0; p < 8; p++) {
      const [o0, o1, o2] = r.owners[p]!
      const rest = preferenceList(r, p, 5, () => true).slice(3).map((e) => e.node)
      const down = new Set([o0, o2])
      expect(preferenceList(r, p, 3, (x) => !down.has(x))).toEqual([
        { node: o1, primary: true },
        { node: rest[0], primary: false, hintFor: o0 },
        { node: rest[1], primary: false, hintFor: o2 },
      ])
    }
  })

  it('name a fractional or NaN partition in their error', () => {
    const r = five()
    expect(() => isPrimary(r, 0.5, id('a'))).toThrow('partition 0.5 out of range [0, 8)')
    expect(() => preferenceList(r, Number.NaN, 3, () => true)).toThrow('partition NaN out of range [0, 8)')
  })

  it('skip down non-primaries as fallbacks, and give a fallback only to down primaries', () => {
    const r = buildRing(members({ a: 1, b: 1, c: 1, d: 1, e: 1, f: 1, g: 1 }), { q: 8, n: 3 })
    for (let p = 0; p < 8; p++) {
      const [o0, o1, o2] = r.owners[p]!
      const rest = preferenceList(r, p, 7, () => true).slice(3).map((e) => e.node)
      expect(new Set([o0, o1, o2, ...rest]).size).toBe(7)
      const down = new Set([o0, o2, rest[0]])
      expect(preferenceList(r, p, 3, (x) => !down.has(x))).toEqual([
        { node: o1, primary: true },
        { node: rest[1], primary: false, hintFor: o0 },
        { node: rest[2], primary: false, hintFor: o2 },
      ])
      expect(preferenceList(r, p, 3, (x) => x !== o1)).toEqual([
        { node: o0, primary: true },
        { node: o2, primary: true },
        { node: rest[0], primary: false, hintFor: o1 },
      ])
    }
  })

  it('end the list when the walk has no member left to stand in', () => {
    const r = buildRing(members({ a: 1, b: 1, c: 1 }), { q: 4, n: 3 })
    for (let p = 0; p < 4; p++) {
      const list = preferenceList(r, p, 3, (x) => x !== id('a'))
      expect(list.map((e) => e.node).sort()).toEqual(['b', 'c'])
      expect(list.every((e) => e.primary)).toBe(true)
      expect(preferenceList(r, p, 5, (x) => x !== id('c')).map((e) => e.node).sort()).toEqual(['a', 'b'])
    }
  })

  it('finds a member\'s partitions by scan, and whether it is a primary', () => {
    const r = five()
    const mine = partitionsOf(r, id('c'))
    expect(mine).toEqual(r.owners.flatMap((o, p) => (o.includes(id('c')) ? [p] : [])))
    for (let p = 0; p < 8; p++) expect(isPrimary(r, p, id('c'))).toBe(mine.includes(p))
    expect(isPrimary(r, 0, id('zz'))).toBe(false)
  })
})
