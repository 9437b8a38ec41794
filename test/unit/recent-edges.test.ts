/**
 * node/recent.ts, the recent reads a node answers from when it is cut off: a set is kept up to an
 * eighth of the byte budget, a key read again replaces its set and its bytes, and past the entry or
 * the byte budget the least recently remembered or read goes first, down to exactly the budget.
 */
import { describe, expect, it } from 'vitest'
import { emptySet, update, type VersionSet } from '../../src/core/clock.js'
import { RecentReads } from '../../src/node/recent.js'

const k = (i: number): Uint8Array => Uint8Array.of(i >> 8, i & 0xff)
const setOf = (i: number): VersionSet => update(emptySet, {}, 'w', Uint8Array.of(i), i)
/** Which of keys 0..n-1 the reads hold. */
const held = (r: RecentReads, n: number): number[] => Array.from({ length: n }, (_, i) => i).filter((i) => r.get(k(i)) !== undefined)

describe('recent edges: remember and get', () => {
  it('gives back the set remembered for a key, and nothing for a key it never saw', () => {
    const r = new RecentReads(4, 800)
    r.remember(k(1), setOf(1), 10)
    expect(r.get(k(1))).toEqual(setOf(1))
    expect(r.get(k(2))).toBeUndefined()
  })

  it('keeps a set of an eighth of the byte budget, not one byte more, and then drops what it held for the key', () => {
    const r = new RecentReads(4, 800)
    r.remember(k(1), setOf(1), 100)
    expect(r.get(k(1))).toEqual(setOf(1))
    r.remember(k(1), setOf(2), 101)
    expect(r.get(k(1))).toBeUndefined()
  })

  it('replaces the set of a key remembered again, and its bytes with it', () => {
    const r = new RecentReads(100, 800)
    r.remember(k(0), setOf(0), 100)
    r.remember(k(0), setOf(9), 100)
    expect(r.get(k(0))).toEqual(setOf(9))
    for (let i = 1; i < 8; i++) r.remember(k(i), setOf(i), 100)
    expect(held(r, 8)).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
  })
})

describe('recent edges: eviction', () => {
  it('holds exactly the entry budget, dropping the least recently remembered', () => {
    const r = new RecentReads(3, 800)
    for (let i = 0; i < 3; i++) r.remember(k(i), setOf(i), 1)
    expect(held(r, 3)).toEqual([0, 1, 2])
    r.remember(k(3), setOf(3), 1)
    expect(held(r, 4)).toEqual([1, 2, 3])
  })

  it('counts a read as a use: the set read last stays', () => {
    const r = new RecentReads(3, 800)
    for (let i = 0; i < 3; i++) r.remember(k(i), setOf(i), 1)
    expect(r.get(k(0))).toEqual(setOf(0))
    r.remember(k(3), setOf(3), 1)
    expect(held(r, 4)).toEqual([0, 2, 3])
  })

  it('holds exactly the byte budget, dropping as many of the oldest as it takes', () => {
    const r = new RecentReads(100, 800)
    for (let i = 0; i < 80; i++) r.remember(k(i), setOf(i), 10)
    expect(held(r, 80)).toHaveLength(80)
    r.remember(k(80), setOf(80), 100)
    expect(held(r, 81)).toEqual(Array.from({ length: 71 }, (_, i) => 10 + i))
  })

  it('defaults to 1024 entries and 8 MiB, a set of at most 1 MiB', () => {
    const r = new RecentReads()
    for (let i = 0; i < 1024; i++) r.remember(k(i), setOf(i), 1)
    expect(held(r, 1024)).toHaveLength(1024)
    r.remember(k(1024), setOf(0), 1)
    expect(held(r, 1025)).toHaveLength(1024)
    expect(r.get(k(0))).toBeUndefined()
    r.remember(k(2000), setOf(1), 1024 * 1024)
    expect(r.get(k(2000))).toEqual(setOf(1))
    r.remember(k(2001), setOf(1), 1024 * 1024 + 1)
    expect(r.get(k(2001))).toBeUndefined()
    for (let i = 1; i < 8; i++) r.remember(k(2000 + i), setOf(i), 1024 * 1024)
    expect([0, 1, 2, 3, 4, 5, 6, 7].filter((i) => r.get(k(2000 + i)) !== undefined)).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
    r.remember(k(3000), setOf(0), 1)
    expect(r.get(k(2000))).toBeUndefined()
    expect(r.get(k(2001))).toEqual(setOf(1))
  })
})
