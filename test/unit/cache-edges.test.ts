/**
 * The record cache (src/node/cache.ts) at its edges: the default and clamped budgets, an entry of
 * exactly the byte budget and one past it, the byte count after evictions, rewrites, deletes and a
 * clear, hit and miss counts, and which offers it refuses: after a write of the key or of another
 * key in the same stamp slot (FNV-1a of the key, folded into 1,024 slots), never after a write of a
 * key in another slot, and never over a set it already holds.
 */
import { describe, expect, it } from 'vitest'
import { emptySet, update, type VersionSet } from '../../src/core/clock.js'
import { encodeSet } from '../../src/core/record.js'
import { RecordCache, encodeOnce, rememberEncoding } from '../../src/node/cache.js'

const set = (v: string): VersionSet => update(emptySet, {}, 'a', new TextEncoder().encode(v), 1)
const MiB = 1024 * 1024

/** The stamp slot a key should have: FNV-1a of its characters, the low 10 bits. */
function slot(key: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193)
  return (h >>> 0) % 1024
}

/** Keys `prefix0`, `prefix1`, ... grouped by slot, until some slot holds two keys. */
function collidingPair(prefix: string): [string, string] {
  const seen = new Map<number, string>()
  for (let i = 0; ; i++) {
    const k = `${prefix}${i}`
    const other = seen.get(slot(k))
    if (other !== undefined) return [other, k]
    seen.set(slot(k), k)
  }
}

/** Which of `keys` the cache holds now (a get each, so it touches them in this order). */
const held = (c: RecordCache, keys: string[]): string[] => keys.filter((k) => c.get(k) !== undefined)

describe('cache edges: budgets', () => {
  it('holds 4,096 keys by default, the least recently used out first past that', () => {
    const c = new RecordCache()
    for (let i = 0; i < 4096; i++) c.wrote(`k${i}`, set('v'), 1)
    expect(c.size).toBe(4096)
    c.wrote('one more', set('v'), 1)
    expect(c.size).toBe(4096)
    expect(c.get('k0')).toBeUndefined()
    expect(c.get('k1')).toBeDefined()
    expect(c.get('one more')).toBeDefined()
  })

  it('holds a record of exactly 16 MiB by default, and none larger', () => {
    const c = new RecordCache()
    c.wrote('small', set('s'), 10)
    c.wrote('whole', set('w'), 16 * MiB - 10)
    expect(held(c, ['small', 'whole'])).toEqual(['small', 'whole'])
    const d = new RecordCache()
    d.wrote('big', set('b'), 16 * MiB + 1)
    expect(d.get('big')).toBeUndefined()
    d.wrote('exact', set('e'), 16 * MiB)
    expect(d.get('exact')).toBeDefined()
  })

  it('keeps a record of exactly the byte budget, and exactly as many keys as allowed', () => {
    const c = new RecordCache({ maxEntries: 3, maxBytes: 100 })
    c.wrote('a', set('a'), 100)
    expect(c.get('a')).toBeDefined()
    c.wrote('b', set('b'), 50)
    c.wrote('c', set('c'), 50)
    expect(held(c, ['a', 'b', 'c'])).toEqual(['b', 'c'])
    c.wrote('d', set('d'), 0)
    expect(held(c, ['b', 'c', 'd'])).toEqual(['b', 'c', 'd'])
    expect(c.size).toBe(3)
  })

  it('refuses a record larger than the byte budget without evicting any other', () => {
    const c = new RecordCache({ maxBytes: 100 })
    c.wrote('a', set('a'), 40)
    c.wrote('b', set('b'), 40)
    c.wrote('big', set('big'), 101)
    expect(c.get('big')).toBeUndefined()
    expect(held(c, ['a', 'b'])).toEqual(['a', 'b'])
    c.offer('big', set('big'), 101, c.stamp('big'))
    expect(c.get('big')).toBeUndefined()
    expect(held(c, ['a', 'b'])).toEqual(['a', 'b'])
  })

  it('evicts for the key count alone while bytes fit, and for bytes alone while the count fits', () => {
    const byCount = new RecordCache({ maxEntries: 2, maxBytes: 1000 })
    byCount.wrote('a', set('a'), 1)
    byCount.wrote('b', set('b'), 1)
    byCount.wrote('c', set('c'), 1)
    expect(held(byCount, ['a', 'b', 'c'])).toEqual(['b', 'c'])
    const byBytes = new RecordCache({ maxEntries: 10, maxBytes: 100 })
    byBytes.wrote('a', set('a'), 60)
    byBytes.wrote('b', set('b'), 30)
    byBytes.wrote('c', set('c'), 30)
    expect(held(byBytes, ['a', 'b', 'c'])).toEqual(['b', 'c'])
  })

  it('clamps negative budgets to nothing: no keys, or only records of no bytes', () => {
    const noKeys = new RecordCache({ maxEntries: -1 })
    noKeys.wrote('a', set('a'), 1)
    expect(noKeys.get('a')).toBeUndefined()
    expect(noKeys.size).toBe(0)
    const noBytes = new RecordCache({ maxBytes: -1 })
    noBytes.wrote('empty', set('e'), 0)
    noBytes.wrote('one', set('o'), 1)
    expect(held(noBytes, ['empty', 'one'])).toEqual(['empty'])
  })

  it('holds nothing with a budget of no keys', () => {
    const c = new RecordCache({ maxEntries: 0 })
    c.wrote('a', set('a'), 1)
    c.offer('b', set('b'), 1, c.stamp('b'))
    expect(c.size).toBe(0)
    expect(held(c, ['a', 'b'])).toEqual([])
  })
})

describe('cache edges: the byte count', () => {
  it('frees the bytes of each evicted record, only those', () => {
    const c = new RecordCache({ maxBytes: 100 })
    c.wrote('a', set('a'), 60)
    c.wrote('b', set('b'), 60) // a out: 60 held
    c.wrote('c', set('c'), 40) // 100 held, nothing out
    expect(held(c, ['b', 'c'])).toEqual(['b', 'c'])
    c.wrote('d', set('d'), 1) // b out (least recent): 41 held
    c.wrote('e', set('e'), 59) // 100 held
    expect(held(c, ['a', 'b', 'c', 'd', 'e'])).toEqual(['c', 'd', 'e'])
  })

  it('counts a rewritten key once, with its new size', () => {
    const c = new RecordCache({ maxBytes: 100 })
    c.wrote('a', set('a1'), 60)
    c.wrote('a', set('a2'), 60)
    c.wrote('b', set('b'), 40)
    expect(held(c, ['a', 'b'])).toEqual(['a', 'b'])
    const a2 = c.get('a')
    c.offer('a', set('a3'), 10, c.stamp('a')) // held already: the offer changes nothing
    expect(c.get('a')).toBe(a2)
    c.wrote('c', set('c'), 1) // 101: b, the least recent, goes
    expect(held(c, ['a', 'b', 'c'])).toEqual(['a', 'c'])
  })

  it('frees the bytes of a deleted record, and forgets it', () => {
    const c = new RecordCache({ maxBytes: 100 })
    c.wrote('a', set('a'), 60)
    c.wrote('b', set('b'), 40)
    c.dropped('a')
    expect(c.get('a')).toBeUndefined()
    expect(c.size).toBe(1)
    c.wrote('c', set('c'), 60)
    expect(held(c, ['b', 'c'])).toEqual(['b', 'c'])
    c.dropped('missing') // a key not held: nothing changes
    expect(c.size).toBe(2)
  })

  it('starts from no bytes and no keys after a clear', () => {
    const c = new RecordCache({ maxBytes: 100 })
    c.wrote('a', set('a'), 60)
    c.wrote('b', set('b'), 40)
    c.clear()
    expect(c.size).toBe(0)
    expect(held(c, ['a', 'b'])).toEqual([])
    c.wrote('c', set('c'), 50)
    c.wrote('d', set('d'), 50)
    expect(held(c, ['c', 'd'])).toEqual(['c', 'd'])
  })
})

describe('cache edges: reads', () => {
  it('counts each hit and each miss, and moves a hit to most recent', () => {
    const c = new RecordCache({ maxEntries: 2 })
    const a = set('a')
    c.wrote('a', a, 1)
    c.wrote('b', set('b'), 1)
    expect(c.get('a')).toBe(a)
    expect(c.get('x')).toBeUndefined()
    expect(c.get('y')).toBeUndefined()
    expect([c.hits, c.misses]).toEqual([1, 2])
    c.wrote('c', set('c'), 1)
    expect(held(c, ['a', 'b', 'c'])).toEqual(['a', 'c'])
    expect([c.hits, c.misses]).toEqual([3, 3])
  })
})

describe('cache edges: offers and stamps', () => {
  it('keeps an offer made with the current stamp, and moves no stamp for a read or an offer', () => {
    const c = new RecordCache()
    const s = c.stamp('k')
    const v = set('v')
    c.offer('k', v, 10, s)
    expect(c.get('k')).toBe(v)
    expect(c.stamp('k')).toBe(s)
  })

  it('moves the stamp on every write and delete, never back to one seen before', () => {
    const c = new RecordCache()
    const seen = new Set([c.stamp('k')])
    for (let i = 0; i < 5; i++) {
      if (i % 2) c.dropped('k')
      else c.wrote('k', set(`v${i}`), 1)
      expect(seen.has(c.stamp('k'))).toBe(false)
      seen.add(c.stamp('k'))
    }
  })

  it('refuses an offer after a write of the key, and after a delete of it', () => {
    const c = new RecordCache()
    const before = c.stamp('k')
    c.wrote('k', set('new'), 1)
    c.dropped('k')
    c.offer('k', set('old'), 1, before)
    expect(c.get('k')).toBeUndefined()
    const s = c.stamp('k')
    c.dropped('k')
    c.offer('k', set('old'), 1, s)
    expect(c.get('k')).toBeUndefined()
  })

  it('refuses an offer after a write of another key in the same slot', () => {
    for (const prefix of ['k', 'key-', 'ab']) {
      const c = new RecordCache()
      const [a, b] = collidingPair(prefix)
      const s = c.stamp(a)
      c.wrote(b, set('b'), 1)
      expect(c.stamp(a)).not.toBe(s)
      c.offer(a, set('a'), 1, s)
      expect(c.get(a)).toBeUndefined()
      expect(c.get(b)).toBeDefined()
    }
  })

  it('keeps an offer after writes and deletes of keys in other slots', () => {
    const c = new RecordCache()
    const keys = Array.from({ length: 64 }, (_, i) => `key-${i}`)
    const mine = 'mine'
    const others = keys.filter((k) => slot(k) !== slot(mine))
    expect(others.length).toBeGreaterThan(60)
    const s = c.stamp(mine)
    for (const k of others) c.wrote(k, set(k), 1)
    for (const k of others.slice(0, 10)) c.dropped(k)
    expect(c.stamp(mine)).toBe(s)
    const v = set('mine')
    c.offer(mine, v, 1, s)
    expect(c.get(mine)).toBe(v)
  })

  it('moves the stamp of the written slot only, at either end of the slots', () => {
    const c = new RecordCache()
    const bySlot = new Map<number, string>()
    for (let i = 0; bySlot.size < 1024; i++) {
      const k = `s${i}`
      if (!bySlot.has(slot(k))) bySlot.set(slot(k), k)
    }
    const stamps = new Map([...bySlot].map(([n, k]) => [n, c.stamp(k)]))
    c.wrote(bySlot.get(1023)!, set('x'), 1)
    c.wrote(bySlot.get(0)!, set('y'), 1)
    for (const [n, k] of bySlot) {
      if (n === 1023 || n === 0) expect(c.stamp(k)).not.toBe(stamps.get(n))
      else expect(c.stamp(k)).toBe(stamps.get(n))
    }
  })
})

describe('cache edges: encodings', () => {
  it('encodes a set once, and returns what was remembered for it', () => {
    const s = set('x')
    const first = encodeOnce(s)
    expect(first).toEqual(encodeSet(s))
    expect(encodeOnce(s)).toBe(first)
    const t = set('y')
    const bytes = Uint8Array.from(encodeSet(t))
    rememberEncoding(t, bytes)
    expect(encodeOnce(t)).toBe(bytes)
    const u = set('y')
    expect(encodeOnce(u)).not.toBe(bytes)
    expect(encodeOnce(u)).toEqual(bytes)
  })
})
