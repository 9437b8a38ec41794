/**
 * The edges of core/merkle-codec.ts that the random round trips in merkle.test.ts do not reach: the
 * position of a listing of an interior node (65536 + its breadth-first number) at every level and
 * at each level's first and last node, the largest honest listing message (every leaf and interior
 * node once), the entry cap shared by all listings of a message, the probe level and index bounds,
 * and every refusal with its message.
 */
import { describe, expect, it } from 'vitest'
import { encodeVarints } from '../../src/core/bytes.js'
import { DEPTH, FANOUT, decodeListings, decodeProbes, encodeListings, encodeProbes, type LeafListing } from '../../src/core/merkle.js'

const LEAVES = FANOUT ** DEPTH
/** Interior nodes: 1 + 16 + 256 + 4096. */
const INTERIOR = (FANOUT ** DEPTH - 1) / (FANOUT - 1)
const listingsMsg = (...parts: number[][]): Uint8Array => Uint8Array.of(0x4c, ...parts.flat())
const varint = (v: number): number[] => [...encodeVarints([v])]
const digest = (v: number): Uint8Array => new Uint8Array(16).fill(v)
const hashes = (v: number): Uint8Array[] => Array.from({ length: FANOUT }, () => digest(v))

/** The listings of every node of `level` (or of the leaves) at the given indexes, each with no entries. */
const nodes = (level: number, leaves: number[]): LeafListing[] =>
  leaves.map((leaf) => (level === DEPTH ? { leaf, entries: [] } : { level, leaf, entries: [] }))

describe('merkle codec: listing positions', () => {
  it('places an interior node at 65536 + its breadth-first number', () => {
    const key = Uint8Array.of(7)
    expect(encodeListings([{ level: 2, leaf: 3, entries: [{ key, digest: digest(1) }] }]))
      .toEqual(listingsMsg([1], varint(LEAVES + 1 + 16 + 3), [1, 1, 7], [...digest(1)]))
    expect(encodeListings(nodes(0, [0]))).toEqual(listingsMsg([1], varint(LEAVES), [0]))
    expect(encodeListings(nodes(1, [15]))).toEqual(listingsMsg([1], varint(LEAVES + 1 + 15), [0]))
    expect(encodeListings(nodes(3, [1]))).toEqual(listingsMsg([1], varint(LEAVES + 1 + 16 + 256 + 1), [0]))
    expect(encodeListings(nodes(DEPTH, [LEAVES - 1]))).toEqual(listingsMsg([1], varint(LEAVES - 1), [0]))
  })

  it('reads each level back from its first and last position', () => {
    const firstAndLast = (level: number): number[] => [0, 1, FANOUT ** level - 1].filter((i) => i < FANOUT ** level)
    for (let level = 0; level <= DEPTH; level++) {
      const listings = nodes(level, [...new Set(firstAndLast(level))])
      expect(decodeListings(encodeListings(listings))).toEqual(listings)
    }
    // Positions on each side of every boundary between levels.
    const at = (v: number) => decodeListings(listingsMsg([1], varint(v), [0]))[0]
    expect([LEAVES - 1, LEAVES, LEAVES + 1, LEAVES + 16, LEAVES + 17, LEAVES + 272, LEAVES + 273, LEAVES + INTERIOR - 1].map(at)).toEqual([
      { leaf: LEAVES - 1, entries: [] },
      { level: 0, leaf: 0, entries: [] },
      { level: 1, leaf: 0, entries: [] },
      { level: 1, leaf: 15, entries: [] },
      { level: 2, leaf: 0, entries: [] },
      { level: 2, leaf: 255, entries: [] },
      { level: 3, leaf: 0, entries: [] },
      { level: 3, leaf: 4095, entries: [] },
    ])
  })

  it('refuses the first position past the last interior node', () => {
    expect(() => decodeListings(listingsMsg([1], varint(LEAVES + INTERIOR), [0]))).toThrow(`merkle: count or index ${LEAVES + INTERIOR} over ${LEAVES + INTERIOR - 1}`)
  })
})

describe('merkle codec: listing counts', () => {
  it('takes every leaf and interior node in one message, and no more listings than that', () => {
    const all = [...nodes(DEPTH, Array.from({ length: LEAVES }, (_, i) => i))]
    for (let level = 0; level < DEPTH; level++) all.push(...nodes(level, Array.from({ length: FANOUT ** level }, (_, i) => i)))
    const msg = encodeListings(all)
    expect(decodeListings(msg)).toHaveLength(LEAVES + INTERIOR)
    expect(() => decodeListings(listingsMsg(varint(LEAVES + INTERIOR + 1)))).toThrow(`merkle: count or index ${LEAVES + INTERIOR + 1} over ${LEAVES + INTERIOR}`)
  })

  it('caps the entries of all listings of a message together', () => {
    const entry = (v: number) => ({ key: Uint8Array.of(v), digest: digest(v) })
    const msg = (counts: number[]) => encodeListings(counts.map((n, leaf) => ({ leaf, entries: Array.from({ length: n }, (_, i) => entry(i)) })))
    expect(decodeListings(msg([2, 1]), { maxEntries: 3 }).map((l) => l.entries.length)).toEqual([2, 1])
    expect(() => decodeListings(msg([2, 2]), { maxEntries: 3 })).toThrow('merkle: count or index 2 over 1')
    expect(() => decodeListings(msg([2, 1, 1]), { maxEntries: 3 })).toThrow('merkle: count or index 1 over 0')
  })
})

describe('merkle codec: probes', () => {
  it('takes the last index of a level and refuses the next', () => {
    // 0x81: level 1 with every child hash zero (no hashes follow).
    expect(decodeProbes(Uint8Array.of(0x50, 1, 0x81, 15))).toEqual([{ node: { level: 1, index: 15 }, childHashes: Array.from({ length: FANOUT }, () => new Uint8Array(8)) }])
    expect(() => decodeProbes(Uint8Array.of(0x50, 1, 0x81, 16))).toThrow('merkle: count or index 16 over 15')
  })

  it('refuses a probe of the leaf level or below, whole or empty', () => {
    expect(() => decodeProbes(Uint8Array.of(0x50, 1, DEPTH, 0, ...new Uint8Array(FANOUT * 8)))).toThrow(`merkle: probe level ${DEPTH}`)
    expect(() => decodeProbes(Uint8Array.of(0x50, 1, 0x80 | DEPTH, 0))).toThrow(`merkle: probe level ${DEPTH}`)
    expect(() => decodeProbes(Uint8Array.of(0x50, 1, 0x80 | (DEPTH + 1), 0))).toThrow(`merkle: probe level ${DEPTH + 1}`)
  })
})

describe('merkle codec: refusals', () => {
  it('names a message of the other kind', () => {
    expect(() => decodeProbes(listingsMsg([0]))).toThrow('merkle: not a probe message')
    expect(() => decodeListings(Uint8Array.of(0x50, 0))).toThrow('merkle: not a listing message')
  })

  it('refuses to encode a probe with a child hash of another size, or a listing with such a digest', () => {
    for (const size of [8, 15, 17]) {
      const childHashes = hashes(1)
      childHashes[5] = new Uint8Array(size).fill(1)
      expect(() => encodeProbes([{ node: { level: 0, index: 0 }, childHashes }])).toThrow(new TypeError('a probe has 16 hashes of 16 bytes'))
      expect(() => encodeListings([{ leaf: 0, entries: [{ key: Uint8Array.of(1), digest: new Uint8Array(size) }] }])).toThrow(new TypeError('digest must be 16 bytes'))
    }
  })
})
