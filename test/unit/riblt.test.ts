import { describe, expect, it } from 'vitest'
import type { VersionVector } from '../../src/core/clock.js'
import { MerkleTree } from '../../src/core/merkle.js'
import { decodeVectors, encodeVectors } from '../../src/core/record.js'
import {
  CELL_BYTES,
  Difference,
  KEPT_CELLS,
  PartitionSketch,
  TOW,
  decodeTow,
  encodeCells,
  encodeTow,
  estimateDifference,
  itemHi,
  itemLo,
  unionCells,
  unionTow,
  type SketchSource,
} from '../../src/core/riblt.js'
import { h, source } from './riblt-fixtures.js'
import { isDynameshError } from '../../src/errors.js'


/** Feeds `theirs`' cells to a Difference against `mine`, `step` cells at a time, until it decodes. */
function decode(mine: SketchSource[], theirs: SketchSource[], step = 16, limit = 20_000): { diff: Difference; cells: number } {
  const diff = new Difference()
  let at = 0
  while (!diff.done && at < limit) {
    diff.add(encodeCells(unionCells(theirs, at, at + step)), unionCells(mine, at, at + step))
    at += step
  }
  return { diff, cells: at }
}

const items = (hs: Uint8Array[], p: number): string[] => hs.map((x) => `${itemLo(x)}:${itemHi(p, x)}`).sort()
const names = (xs: Array<[number, number]>): string[] => xs.map(([lo, hi]) => `${lo}:${hi}`).sort()

describe('rateless reconciliation cells', () => {
  it('decode exactly the symmetric difference, with about 1.5 cells per differing item', () => {
    for (const d of [1, 4, 40, 400]) {
      const common = Array.from({ length: 3000 }, (_, i) => h(`common ${i}`))
      const onlyA = Array.from({ length: d }, (_, i) => h(`a ${d} ${i}`))
      const onlyB = Array.from({ length: d }, (_, i) => h(`b ${d} ${i}`))
      const { diff, cells } = decode([source(7, [...common, ...onlyA])], [source(7, [...common, ...onlyB])], Math.max(1, d / 4))
      expect(diff.done).toBe(true)
      expect(names(diff.mine)).toEqual(items(onlyA, 7))
      expect(names(diff.theirs)).toEqual(items(onlyB, 7))
      // 2d items differ; the paper's overhead is ~1.35 for large differences, more for tiny ones.
      expect(cells).toBeLessThanOrEqual(Math.max(16, 2.2 * 2 * d))
    }
  })

  it('identical sets decode at once to nothing', () => {
    const same = Array.from({ length: 500 }, (_, i) => h(`s ${i}`))
    const { diff, cells } = decode([source(1, same)], [source(1, same)], 1)
    expect(cells).toBe(1)
    expect(diff.mine).toEqual([])
    expect(diff.theirs).toEqual([])
  })

  it('the cells of a union are the sums of each partition’s, kept and computed from the items alike', () => {
    const a = Array.from({ length: 300 }, (_, i) => h(`pa ${i}`))
    const b = Array.from({ length: 200 }, (_, i) => h(`pb ${i}`))
    const union = unionCells([source(3, a), source(4, b)], 0, KEPT_CELLS + 200)
    // Computed from the items only: sketches that keep nothing.
    const bare = (p: number, hs: Uint8Array[]): SketchSource => ({ sketch: new PartitionSketch(p), hashes: () => hs })
    const fromItems = unionCells([bare(3, a), bare(4, b)], KEPT_CELLS, KEPT_CELLS + 200)
    expect(union.subarray(4 * KEPT_CELLS)).toEqual(fromItems)
    // Cell 0 holds every item: its count is the set size.
    expect(union[3]).toBe(500)
  })

  it('a Merkle tree keeps its partition’s sketch current through sets, replacements and deletes', () => {
    const tree = new MerkleTree(9)
    const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
    for (let i = 0; i < 50; i++) tree.set(enc(`k${i}`), h(`v${i}`))
    for (let i = 0; i < 10; i++) tree.set(enc(`k${i}`), h(`w${i}`))
    for (let i = 40; i < 50; i++) tree.delete(enc(`k${i}`))
    const rebuilt = source(9, [...tree.hashes()])
    expect(tree.sketch!.cells).toEqual(rebuilt.sketch.cells)
    expect([...tree.sketch!.tow]).toEqual([...rebuilt.sketch.tow])
    // A clone keeps its own copy.
    const copy = tree.clone()
    tree.delete(enc('k0'))
    expect(copy.sketch!.cells).toEqual(rebuilt.sketch.cells)
    expect(tree.sketch!.cells).not.toEqual(rebuilt.sketch.cells)
  })

  it('cells from sets that changed between two batches are reported, not decoded forever', () => {
    const base = Array.from({ length: 100 }, (_, i) => h(`base ${i}`))
    const extra = Array.from({ length: 30 }, (_, i) => h(`extra ${i}`))
    const diff = new Difference()
    // The first cells before `extra` were added on their side, the rest after.
    diff.add(encodeCells(unionCells([source(2, base)], 0, 200)), unionCells([source(2, base)], 0, 200))
    diff.add(encodeCells(unionCells([source(2, [...base, ...extra])], 200, 400)), unionCells([source(2, base)], 200, 400))
    expect(diff.inconsistent).toBe(true)
    expect(diff.done).toBe(false)
    expect(diff.mine.length + diff.theirs.length).toBeLessThanOrEqual(400)
    // Once inconsistent, more cells decode nothing more.
    const decoded = diff.mine.length + diff.theirs.length
    diff.add(encodeCells(unionCells([source(2, [...base, ...extra])], 400, 600)), unionCells([source(2, base)], 400, 600))
    expect(diff.mine.length + diff.theirs.length).toBe(decoded)
  })

  it('the tug-of-war estimate lands near the true difference', () => {
    const common = Array.from({ length: 5000 }, (_, i) => h(`c ${i}`))
    for (const d of [10, 100, 1000]) {
      const extra = Array.from({ length: d }, (_, i) => h(`x ${d} ${i}`))
      const est = estimateDifference(unionTow([source(0, [...common, ...extra])]), unionTow([source(0, common)]))
      expect(est).toBeGreaterThan(d / 3)
      expect(est).toBeLessThan(d * 3)
    }
  })

  it('encodes cells in 13 bytes and the tug-of-war sums as zigzag varints, strictly', () => {
    const cells = unionCells([source(5, [h('one'), h('two')])], 0, 3)
    expect(encodeCells(cells).length).toBe(3 * CELL_BYTES)
    const sums = Array.from({ length: TOW }, (_, k) => (k % 2 ? -k * 1000 : k))
    const fail = (why: string): never => {
      throw new Error(why)
    }
    expect(decodeTow(encodeTow(sums), fail)).toEqual(sums)
    expect(() => decodeTow(encodeTow(sums).subarray(1), fail)).toThrow()
    expect(() => decodeTow(new Uint8Array([...encodeTow(sums), 0]), fail)).toThrow('trailing')
  })
})

describe('version vectors of many keys in one blob', () => {
  it('round-trips counters with ids written once, and refuses malformed blobs with INVALID_MESSAGE', () => {
    const vvs: VersionVector[] = [{ 'a~1': { n: 3, ts: 5 }, 'b~2': { n: 1, ts: 9 } }, {}, { 'b~2': { n: 7, ts: 1 } }]
    const blob = encodeVectors(vvs)
    expect(decodeVectors(blob)).toEqual([{ 'a~1': { n: 3, ts: 0 }, 'b~2': { n: 1, ts: 0 } }, {}, { 'b~2': { n: 7, ts: 0 } }])
    // Each id once: "b~2" appears in two vectors, written once.
    expect(new TextDecoder().decode(blob).split('b~2').length - 1).toBe(1)
    for (const bad of [blob.subarray(0, blob.length - 1), new Uint8Array([...blob, 0]), new Uint8Array([0, 1, 1, 5, 1])]) {
      let code = ''
      try {
        decodeVectors(bad)
      } catch (e) {
        code = isDynameshError(e) ? e.code : 'other'
      }
      expect(code).toBe('INVALID_MESSAGE')
    }
  })
})
