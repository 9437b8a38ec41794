/**
 * The edges of node/batch.ts that the budget property in limits.test.ts does not pin down: what an
 * item costs, a batch filled to exactly its item count or its bytes, an item above the budget
 * travelling alone without an empty batch before it, no batch at all for no items, and the caps a
 * caller's budget cannot raise.
 */
import { describe, expect, it } from 'vitest'
import { MAX_BATCH_ITEMS, MAX_MESSAGE_BYTES } from '../../src/limits.js'
import { batches, itemBytes } from '../../src/node/batch.js'

/** An item of `n` bytes in all (160 of them the item's overhead), named by `i`. */
const item = (i: number, n = 170): { key: Uint8Array; rec: Uint8Array } => ({ key: Uint8Array.of(i >> 8, i & 0xff), rec: new Uint8Array(n - 162) })
const items = (count: number, n?: number): Array<{ key: Uint8Array; rec: Uint8Array }> => Array.from({ length: count }, (_, i) => item(i, n))
const sizes = <T>(out: T[][]): number[] => out.map((b) => b.length)

describe('batch edges: itemBytes', () => {
  it('counts key, record and 160 bytes of overhead', () => {
    expect(itemBytes({ key: new Uint8Array(3), rec: new Uint8Array(5) })).toBe(168)
    expect(itemBytes(item(0, 500))).toBe(500)
  })
})

describe('batch edges: batches', () => {
  it('makes no batch of no items', () => {
    expect(batches([])).toEqual([])
  })

  it('fills a batch to exactly its item count, in order', () => {
    const all = items(7)
    const out = batches(all, { maxItems: 3 })
    expect(sizes(out)).toEqual([3, 3, 1])
    expect(out.flat()).toEqual(all)
    expect(sizes(batches(items(6), { maxItems: 3 }))).toEqual([3, 3])
    expect(sizes(batches(items(3), { maxItems: 1 }))).toEqual([1, 1, 1])
  })

  it('fills a batch to exactly its bytes and starts the next afresh', () => {
    expect(sizes(batches(items(7, 200), { maxBytes: 600 }))).toEqual([3, 3, 1])
    expect(sizes(batches(items(7, 200), { maxBytes: 599 }))).toEqual([2, 2, 2, 1])
    expect(sizes(batches([item(0, 400), item(1, 300), item(2, 200), item(3, 500), item(4, 400)], { maxBytes: 900 }))).toEqual([3, 2])
  })

  it('sends an item above the budget alone, without an empty batch before it', () => {
    expect(sizes(batches([item(0, 700), item(1, 200)], { maxBytes: 600 }))).toEqual([1, 1])
    expect(sizes(batches([item(0, 200), item(1, 700), item(2, 200)], { maxBytes: 600 }))).toEqual([1, 1, 1])
  })

  it('holds at most MAX_BATCH_ITEMS items, whatever the budget asks', () => {
    expect(sizes(batches(items(MAX_BATCH_ITEMS + 1)))).toEqual([MAX_BATCH_ITEMS, 1])
    expect(sizes(batches(items(MAX_BATCH_ITEMS + 1), { maxItems: 1000 }))).toEqual([MAX_BATCH_ITEMS, 1])
    expect(sizes(batches(items(MAX_BATCH_ITEMS + 1), { maxBytes: 1e9 }))).toEqual([MAX_BATCH_ITEMS, 1])
  })

  it('holds at most MAX_MESSAGE_BYTES bytes, whatever the budget asks', () => {
    const third = Math.floor(MAX_MESSAGE_BYTES / 3)
    expect(sizes(batches(items(4, third)))).toEqual([3, 1])
    expect(sizes(batches(items(4, third), { maxBytes: 4 * MAX_MESSAGE_BYTES }))).toEqual([3, 1])
    expect(sizes(batches(items(4, third), { maxItems: 2 }))).toEqual([2, 2])
    expect(sizes(batches(items(3, third + 1)))).toEqual([2, 1])
  })
})
