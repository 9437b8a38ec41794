import { describe, expect, it } from 'vitest'
import {
  CELL_BYTES,
  Difference,
  KEPT_CELLS,
  TOW,
  addItem,
  addSigns,
  checksumOf,
  decodeTow,
  encodeCells,
  estimateDifference,
  itemHi,
  itemLo,
  unionCells,
  unionTow,
} from '../../src/core/riblt.js'
import { h, source } from './riblt-fixtures.js'

/** The cells below `to` that the item of hash `x` in partition `p` maps to. */
function cellsOf(p: number, x: Uint8Array, to: number): number[] {
  const cells = new Int32Array(4 * to)
  addItem(cells, 0, to, itemLo(x), itemHi(p, x), 1)
  return Array.from({ length: to }, (_, i) => i).filter((i) => cells[4 * i + 3] === 1)
}

/** The first `n` hashes labelled `prefix i` whose item in partition `p` maps to cell `cell`. */
function hashesInCell(p: number, cell: number, n: number, prefix: string): Uint8Array[] {
  const out: Uint8Array[] = []
  for (let i = 0; out.length < n; i++) {
    const x = h(`${prefix} ${i}`)
    const at = new Int32Array(4)
    addItem(at, cell, cell + 1, itemLo(x), itemHi(p, x), 1)
    if (at[3] === 1) out.push(x)
  }
  return out
}

const fail = (why: string): never => {
  throw new Error(why)
}

describe('rateless cells: the mapping peers must agree on', () => {
  it('maps an item to fixed cells with a fixed checksum (a change breaks reconciliation between versions)', () => {
    expect(cellsOf(5, h('golden a'), 2000)).toEqual([0, 3, 4, 7, 19, 82, 85, 103, 482, 522, 1350])
    expect(cellsOf(5, h('golden b'), 2000)).toEqual([0, 2, 3, 11, 16, 18, 37, 49, 54, 116, 180, 197, 384, 627, 1753])
    // An item whose draws include a tiny one, where the gap formula is steepest.
    const steep = new Uint8Array(16)
    steep.set([0x00, 0x01, 0x3b, 0x1c, 0, 0])
    expect(itemLo(steep)).toBe(80668)
    expect(cellsOf(5, steep, 2000)).toEqual([0, 1, 2, 3, 4, 8, 263, 318, 384, 503, 695, 722, 1400, 1846, 1969])
    const x = h('golden a')
    expect([itemLo(x), itemHi(5, x), checksumOf(itemLo(x), itemHi(5, x))]).toEqual([1252250242, 337403, -1263385399])
    const cells = new Int32Array(4 * 4)
    addItem(cells, 0, 4, itemLo(x), itemHi(5, x), 1)
    expect([...cells.subarray(12)]).toEqual([1252250242, 337403, -1263385399, 1])
  })

  it('adds an item only to cells in [from, to), at their place in the array', () => {
    const x = h('golden a')
    // Cells 3 and 4 hold the item; an array of cells [3, 7) has it in its first two.
    const cells = new Int32Array(4 * 4)
    addItem(cells, 3, 7, itemLo(x), itemHi(5, x), -1)
    expect(Array.from({ length: 4 }, (_, i) => cells[4 * i + 3])).toEqual([-1, -1, 0, 0])
    // Cell 4 holds it too, but lies outside [0, 4) even where the array goes on.
    const longer = new Int32Array(4 * 8)
    addItem(longer, 0, 4, itemLo(x), itemHi(5, x), 1)
    expect(Array.from({ length: 8 }, (_, i) => longer[4 * i + 3])).toEqual([1, 0, 0, 1, 0, 0, 0, 0])
    const past = new Int32Array(4 * 1)
    addItem(past, 4, 5, itemLo(x), itemHi(5, x), 1)
    expect([...past]).toEqual([itemLo(x), itemHi(5, x), checksumOf(itemLo(x), itemHi(5, x)), 1])
  })

  it('tug-of-war signs are the bits of hash bytes 8..15, low bit first', () => {
    const x = new Uint8Array(16)
    x.set([0b0000_0001, 0b1000_0000, 0xff, 0, 0b0101_0101, 0, 0, 0b1000_0001], 8)
    const tow = new Int32Array(TOW)
    addSigns(tow, x, 1)
    const bit = (k: number): number => (x[8 + Math.floor(k / 8)]! >> k % 8) & 1
    expect([...tow]).toEqual(Array.from({ length: TOW }, (_, k) => (bit(k) ? 1 : -1)))
    addSigns(tow, x, -1)
    expect([...tow]).toEqual(new Array<number>(TOW).fill(0))
    // Exactly TOW sums, even in a longer array.
    const longer = new Int32Array(TOW + 1)
    addSigns(longer, x, 1)
    expect(longer[TOW]).toBe(0)
  })
})

describe('rateless cells of a union of partitions', () => {
  const a = Array.from({ length: 40 }, (_, i) => h(`ua ${i}`))
  const b = Array.from({ length: 30 }, (_, i) => h(`ub ${i}`))

  it('a partition without items adds nothing, wherever the range starts', () => {
    const empty = source(1, [])
    expect(empty.sketch.cells).toBeUndefined()
    expect(unionCells([empty, source(2, a)], 0, 10)).toEqual(unionCells([source(2, a)], 0, 10))
    expect(unionCells([empty], 3, 8)).toEqual(new Int32Array(4 * 5))
  })

  it('any range [from, to) is that slice of the cells from 0, across the kept boundary', () => {
    const parts = [source(2, a), source(3, b)]
    const all = unionCells(parts, 0, KEPT_CELLS + 8)
    for (const [from, to] of [
      [5, 10],
      [KEPT_CELLS - 3, KEPT_CELLS + 3],
      [KEPT_CELLS + 2, KEPT_CELLS + 8],
      [7, 7],
    ] as const) {
      expect(unionCells(parts, from, to)).toEqual(all.subarray(4 * from, 4 * to))
    }
  })

  it('the first cell past the kept ones sums every partition’s items', () => {
    // Items that reach cell KEPT_CELLS, in the first of two partitions and in the second.
    const first = hashesInCell(2, KEPT_CELLS, 2, 'edge a')
    const second = hashesInCell(3, KEPT_CELLS, 1, 'edge b')
    const cell = unionCells([source(2, first), source(3, second)], KEPT_CELLS - 1, KEPT_CELLS + 1).subarray(4)
    expect(cell[3]).toBe(3)
    const lo = first.map(itemLo).reduce((x, y) => x ^ y) ^ itemLo(second[0]!)
    expect(cell[0]).toBe(lo)
  })

  it('cells within the kept ones never read the items', () => {
    let reads = 0
    const parts = [source(2, a), source(3, b)].map((src) => ({
      sketch: src.sketch,
      hashes: () => {
        reads++
        return src.hashes()
      },
    }))
    unionCells(parts, 0, KEPT_CELLS)
    unionCells(parts, 10, 20)
    expect(reads).toBe(0)
    unionCells(parts, 0, KEPT_CELLS + 1)
    expect(reads).toBe(2)
  })

  it('the tug-of-war sums of a union are TOW sums, each the sum of the partitions’', () => {
    const sa = source(2, a)
    const sb = source(3, b)
    const sums = unionTow([sa, sb])
    expect(sums).toHaveLength(TOW)
    expect(sums).toEqual(Array.from({ length: TOW }, (_, k) => sa.sketch.tow[k]! + sb.sketch.tow[k]!))
  })
})

describe('tug-of-war estimate and its wire form', () => {
  it('the estimate is the mean squared difference of the sums', () => {
    const ones = new Array<number>(TOW).fill(1)
    const minus = new Array<number>(TOW).fill(-1)
    expect(estimateDifference(ones, minus)).toBe(4)
    expect(estimateDifference([8], [])).toBe(1)
    // Only the first TOW sums are part of the sketch.
    expect(estimateDifference([...ones, 100], [...minus, -100])).toBe(4)
  })

  it('accepts sums up to 32 bits and refuses larger ones', () => {
    const varint = (v: number): number[] => {
      const out: number[] = []
      for (; v >= 128; v = Math.floor(v / 128)) out.push((v % 128) | 0x80)
      return [...out, v]
    }
    const blob = (z: number): Uint8Array => new Uint8Array([...varint(z), ...new Array<number>(TOW - 1).fill(0)])
    expect(decodeTow(blob(2 ** 32 - 1), fail)[0]).toBe(-(2 ** 31))
    expect(() => decodeTow(blob(2 ** 32), fail)).toThrow()
  })
})

describe('decoding a difference', () => {
  const common = Array.from({ length: 200 }, (_, i) => h(`dc ${i}`))
  const onlyA = Array.from({ length: 40 }, (_, i) => h(`da ${i}`))
  const onlyB = Array.from({ length: 40 }, (_, i) => h(`db ${i}`))
  const mine = [source(4, [...common, ...onlyA])]
  const theirs = [source(4, [...common, ...onlyB])]
  const batch = (diff: Difference, from: number, to: number): void =>
    diff.add(encodeCells(unionCells(theirs, from, to)), unionCells(mine, from, to))

  it('counts the cells received, and is not done before any', () => {
    const diff = new Difference()
    expect(diff.done).toBe(false)
    diff.add(new Uint8Array(0), new Int32Array(0))
    expect(diff.size).toBe(0)
    expect(diff.done).toBe(false)
    batch(diff, 0, 3)
    batch(diff, 3, 10)
    expect(diff.size).toBe(10)
  })

  it('refuses local cells of another range than the remote ones', () => {
    const diff = new Difference()
    const remote = encodeCells(unionCells(theirs, 0, 2))
    expect(() => diff.add(remote, unionCells(mine, 0, 3))).toThrow(TypeError)
    expect(() => diff.add(remote, unionCells(mine, 0, 1))).toThrow('cells of different ranges')
    expect(() => diff.add(remote.subarray(1), unionCells(mine, 0, 2))).toThrow('cells of different ranges')
    expect(diff.size).toBe(0)
  })

  it('decodes everything from one batch of enough cells, peeling cells that others leave pure', () => {
    const diff = new Difference()
    batch(diff, 0, 400)
    expect(diff.done).toBe(true)
    expect(diff.mine).toHaveLength(40)
    expect(diff.theirs).toHaveLength(40)
  })

  it('stays done as more cells arrive, though a cell held more items than a count byte can', () => {
    // 128 items only this side holds, all in cell 320: its count on the wire wraps to -128.
    const many = source(6, hashesInCell(6, 320, 128, 'wrap'))
    const none = source(6, [])
    const diff = new Difference()
    diff.add(encodeCells(unionCells([none], 0, 320)), unionCells([many], 0, 320))
    expect(diff.done).toBe(true)
    expect(diff.mine).toHaveLength(128)
    diff.add(encodeCells(unionCells([none], 320, 330)), unionCells([many], 320, 330))
    expect(diff.done).toBe(true)
    expect(diff.mine).toHaveLength(128)
  })

  it('takes the items it decoded on either side out of later cells', () => {
    const diff = new Difference()
    batch(diff, 0, 400)
    batch(diff, 400, 420)
    expect(diff.inconsistent).toBe(false)
    expect(diff.done).toBe(true)
    expect([diff.mine.length, diff.theirs.length]).toEqual([40, 40])
  })

  it('is done only when every word of every cell is zero', () => {
    const zero = new Difference()
    zero.add(new Uint8Array(CELL_BYTES * 5), new Int32Array(4 * 5))
    expect(zero.done).toBe(true)
    // One word set, to 2: no cell is pure (a count of 2, or words without a count).
    for (let w = 0; w < 4 * 5; w++) {
      const local = new Int32Array(4 * 5)
      local[w] = 2
      const diff = new Difference()
      diff.add(new Uint8Array(CELL_BYTES * 5), local)
      expect(diff.done, `word ${w}`).toBe(false)
    }
  })

  it('decodes no cell whose count is other than one or minus one, though its words name an item', () => {
    const x = h('not pure')
    const [lo, hi] = [itemLo(x), itemHi(1, x)]
    for (const count of [0, 2, 3, -2, -3]) {
      const diff = new Difference()
      diff.add(new Uint8Array(CELL_BYTES), Int32Array.of(lo, hi, checksumOf(lo, hi), count))
      expect([diff.mine, diff.theirs, diff.done], `count ${count}`).toEqual([[], [], false])
    }
    const diff = new Difference()
    diff.add(new Uint8Array(CELL_BYTES), Int32Array.of(lo, hi, checksumOf(lo, hi), -1))
    expect([diff.mine, diff.theirs, diff.done]).toEqual([[], [[lo, hi]], true])
  })

})
