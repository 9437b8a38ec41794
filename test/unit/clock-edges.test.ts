/**
 * The edges of core/clock.ts that the algebra properties in clock.test.ts do not reach: the exact
 * id order at the surrogate boundary, which of two equal counters a merge keeps, which entries
 * pruning drops when times and ids disagree, every field equalSets compares, which copy of a
 * duplicated dot a merge keeps, and the errors update throws.
 */
import { describe, expect, it } from 'vitest'
import { compareIds, emptySet, equalSets, merge, mergeVV, update, type Sibling, type VersionSet } from '../../src/core/clock.js'

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
const sib = (id: string, n: number, ts: number, value: string | null): Sibling => ({ dot: { id, n }, ts, value: value === null ? null : bytes(value) })

describe('clock edges: id order at U+E000', () => {
  it('puts U+E000 after the surrogates and before every supplementary code point', () => {
    expect(compareIds('\ue000', '\u{10000}')).toBeLessThan(0)
    expect(compareIds('\u{10000}', '\ue000')).toBeGreaterThan(0)
    expect(compareIds('\ud7ff', '\ue000')).toBeLessThan(0)
    expect(compareIds('a\ue000', 'a\u{10000}')).toBeLessThan(0)
  })
})

describe('clock edges: mergeVV on equal counters', () => {
  it('keeps the later time whichever side holds it', () => {
    const early = { r: { n: 3, ts: 5 } }
    const late = { r: { n: 3, ts: 9 } }
    expect(mergeVV(early, late).r).toEqual({ n: 3, ts: 9 })
    expect(mergeVV(late, early).r).toEqual({ n: 3, ts: 9 })
  })
})

describe('clock edges: update', () => {
  it('stamps -0 as 0, as a decoded copy holds it', () => {
    const s = update(emptySet, {}, 'a', null, -0)
    expect(Object.is(s.siblings[0]!.ts, 0)).toBe(true)
    expect(Object.is(s.vv.a!.ts, 0)).toBe(true)
  })

  it('names what is wrong with its arguments', () => {
    expect(() => update(emptySet, {}, '', null, 1)).toThrow('replica id must be a non-empty string')
    expect(() => update(emptySet, {}, 7 as unknown as string, null, 1)).toThrow('replica id must be a non-empty string')
    expect(() => update(emptySet, {}, 'a', 'x' as unknown as Uint8Array, 1)).toThrow('value must be a Uint8Array or null')
    expect(() => update(emptySet, {}, 'a', null, Infinity)).toThrow('now must be a finite number')
    expect(() => update(emptySet, {}, 'a', null, 1, { maxEntries: 1.5 })).toThrow('maxEntries must be an integer >= 1')
    expect(update(emptySet, {}, 'a', null, 1).siblings).toHaveLength(1)
  })
})

describe('clock edges: pruning order', () => {
  /** One blind write per id at its time, all merged, then a write by z that saw them all. */
  const pruned = (writes: Array<[string, number]>, maxEntries: number): string[] => {
    let s = emptySet
    for (const [id, ts] of writes) s = merge(s, update(emptySet, {}, id, bytes(id), ts))
    s = update(s, s.vv, 'z', bytes('z'), 100, { maxEntries })
    return Object.keys(s.vv).sort()
  }

  it('drops the oldest by time, not by id or by arrival', () => {
    expect(pruned([['a', 50], ['b', 10], ['c', 40], ['d', 20], ['e', 30]], 3)).toEqual(['a', 'c', 'z'])
    expect(pruned([['e', 50], ['d', 10], ['c', 40], ['b', 20], ['a', 30]], 3)).toEqual(['c', 'e', 'z'])
  })

  it('breaks a tie in time by id, the smaller going first', () => {
    expect(pruned([['q', 7], ['p', 7], ['r', 9]], 3)).toEqual(['q', 'r', 'z'])
    expect(pruned([['p', 7], ['q', 7], ['r', 9]], 3)).toEqual(['q', 'r', 'z'])
  })
})

describe('clock edges: equalSets', () => {
  const base = (): VersionSet => ({
    vv: { a: { n: 2, ts: 10 }, b: { n: 1, ts: 4 } },
    siblings: [sib('a', 2, 10, 'x'), sib('b', 1, 4, null)],
  })
  const changed = (f: (s: VersionSet) => void): VersionSet => {
    const s = base()
    f(s)
    return s
  }

  it('holds for equal sets, vector entries in any order', () => {
    const s = base()
    const t: VersionSet = { vv: { b: { n: 1, ts: 4 }, a: { n: 2, ts: 10 } }, siblings: [sib('a', 2, 10, 'x'), sib('b', 1, 4, null)] }
    expect(equalSets(s, t)).toBe(true)
    expect(equalSets(emptySet, emptySet)).toBe(true)
  })

  it('fails on any one difference in the vector', () => {
    const cases: VersionSet[] = [
      changed((s) => void (s.vv.c = { n: 1, ts: 1 })),
      changed((s) => void delete s.vv.b),
      changed((s) => void (s.vv = { a: { n: 2, ts: 10 }, c: { n: 1, ts: 4 } })),
      changed((s) => void (s.vv.a = { n: 3, ts: 10 })),
      changed((s) => void (s.vv.a = { n: 2, ts: 11 })),
    ]
    for (const c of cases) {
      expect(equalSets(base(), c)).toBe(false)
      expect(equalSets(c, base())).toBe(false)
    }
  })

  it('fails on any one difference in the siblings', () => {
    const cases: VersionSet[] = [
      changed((s) => void s.siblings.pop()),
      changed((s) => void (s.siblings[0] = sib('c', 2, 10, 'x'))),
      changed((s) => void (s.siblings[0] = sib('a', 1, 10, 'x'))),
      changed((s) => void (s.siblings[0] = sib('a', 2, 11, 'x'))),
      changed((s) => void (s.siblings[0] = sib('a', 2, 10, 'y'))),
      changed((s) => void (s.siblings[0] = sib('a', 2, 10, null))),
      changed((s) => void (s.siblings[1] = sib('b', 1, 4, 'x'))),
    ]
    for (const c of cases) {
      expect(equalSets(base(), c)).toBe(false)
      expect(equalSets(c, base())).toBe(false)
    }
  })
})

describe('clock edges: a dot held in two copies', () => {
  const one = (s: Sibling): VersionSet => ({ vv: { a: { n: 1, ts: s.ts } }, siblings: [s] })
  const kept = (x: Sibling, y: Sibling): Sibling[] => {
    const ab = merge(one(x), one(y)).siblings
    expect(merge(one(y), one(x)).siblings).toEqual(ab)
    return ab
  }

  it('keeps the later copy, whichever side holds it', () => {
    expect(kept(sib('a', 1, 3, 'x'), sib('a', 1, 8, 'x'))).toEqual([sib('a', 1, 8, 'x')])
  })

  it('at the same time, keeps a value over a delete', () => {
    expect(kept(sib('a', 1, 3, null), sib('a', 1, 3, 'x'))).toEqual([sib('a', 1, 3, 'x')])
  })

  it('at the same time, keeps the larger value', () => {
    expect(kept(sib('a', 1, 3, 'x'), sib('a', 1, 3, 'y'))).toEqual([sib('a', 1, 3, 'y')])
  })
})
