/**
 * The run checker (src/sim/checker.ts) against synthetic histories: it must fail a run whose final
 * read holds a resurrected value (one an acknowledged write had superseded) or a phantom value (one
 * nobody wrote there), and pass the runs that only look alike (a concurrent write, a failed write
 * that took effect, a value stored twice of which a write saw only one copy).
 */
import { describe, expect, it } from 'vitest'
import { History, lostWrites, phantomValues, restampedValues, resurrectedValues, type WriteRecord } from '../../src/sim/index.js'
import { encodeContext } from '../../src/core/record.js'
import type { Sibling, VersionSet } from '../../src/core/clock.js'

const enc = new TextEncoder()

function history(writes: Array<Partial<WriteRecord> & { id: string }>): History {
  const h = new History()
  for (const w of writes) h.writes.push({ key: 'k', deleted: false, saw: [], acked: true, ...w })
  return h
}
const reads = (values: string[], key = 'k'): Map<string, string[]> => new Map([[key, values]])
const ids = (xs: Array<{ id: string }>): string[] => xs.map((x) => x.id)

/** A final set of versions: each [value id, replica, counter]. */
function set(...sibs: Array<[string, string, number]>): VersionSet {
  const vv: VersionSet['vv'] = {}
  const siblings: Sibling[] = sibs.map(([v, id, n]) => {
    vv[id] = { n: Math.max(n, vv[id]?.n ?? 0), ts: 1 }
    return { dot: { id, n }, value: enc.encode(v), ts: 1 }
  })
  return { vv, siblings }
}
const ctx = (entries: Record<string, number>): string =>
  encodeContext(Object.fromEntries(Object.entries(entries).map(([id, n]) => [id, { n, ts: 1 }])))

describe('resurrected values', () => {
  it('fails a value that an acknowledged put had seen and superseded', () => {
    const h = history([{ id: 'w:1' }, { id: 'w:2', saw: ['w:1'] }])
    expect(ids(resurrectedValues(h, reads(['w:2'])))).toEqual([])
    const bad = resurrectedValues(h, reads(['w:2', 'w:1']))
    expect(bad).toEqual([{ id: 'w:1', key: 'k', supersededBy: h.writes[1] }])
    // lostWrites alone sees nothing wrong with this run: that is why the new check exists.
    expect(lostWrites(h, reads(['w:2', 'w:1']))).toEqual([])
  })

  it('fails a value that an acknowledged delete superseded', () => {
    const h = history([{ id: 'w:1' }, { id: 'del:2', deleted: true, saw: ['w:1'] }])
    expect(ids(resurrectedValues(h, reads(['w:1'])))).toEqual(['w:1'])
  })

  it('follows what the superseding writes had seen, through writes that failed but took effect', () => {
    const h = history([{ id: 'w:1' }, { id: 'w:2', saw: ['w:1'], acked: false }, { id: 'w:3', saw: ['w:2'] }])
    expect(ids(resurrectedValues(h, reads(['w:3', 'w:1'])))).toEqual(['w:1'])
    // A failed write nobody saw may never have been stored: it supersedes nothing.
    const unseen = history([{ id: 'w:1' }, { id: 'w:2', saw: ['w:1'], acked: false }])
    expect(resurrectedValues(unseen, reads(['w:1']))).toEqual([])
  })

  it('passes concurrent writes, and supersession on another key', () => {
    const h = history([{ id: 'w:1' }, { id: 'w:2' }, { id: 'w:3', key: 'j', saw: ['w:1'] }])
    expect(resurrectedValues(h, reads(['w:1', 'w:2']))).toEqual([])
  })

  it('with versions: fails a version whose dot a superseding context covered', () => {
    const h = history([{ id: 'w:1' }, { id: 'w:2', saw: ['w:1'], context: ctx({ A: 1 }) }])
    const final = reads(['w:1', 'w:2'])
    const bad = resurrectedValues(h, final, new Map([['k', set(['w:1', 'A', 1], ['w:2', 'B', 1])]]))
    expect(ids(bad)).toEqual(['w:1'])
    // Covered through a context that saw a later event of the same replica, too.
    const later = history([{ id: 'w:1' }, { id: 'w:2', saw: [], context: ctx({ A: 3 }) }])
    expect(ids(resurrectedValues(later, final, new Map([['k', set(['w:1', 'A', 2], ['w:2', 'B', 1])]])))).toEqual(['w:1'])
  })

  it('with versions: passes a value stored twice when the write saw only one copy', () => {
    // w:1 was coordinated twice, as (A,1) and (C,1); w:2 read only (A,1) and superseded it.
    const h = history([{ id: 'w:1' }, { id: 'w:2', saw: ['w:1'], context: ctx({ A: 1 }) }])
    const final = reads(['w:1', 'w:2'])
    expect(resurrectedValues(h, final, new Map([['k', set(['w:1', 'C', 1], ['w:2', 'B', 1])]]))).toEqual([])
    // Judged by values alone, the same run fails: the stricter reading.
    expect(ids(resurrectedValues(h, final))).toEqual(['w:1'])
    // restampedValues reports it apart, and not what the dots already fail.
    expect(ids(restampedValues(h, final, new Map([['k', set(['w:1', 'C', 1], ['w:2', 'B', 1])]])))).toEqual(['w:1'])
    expect(restampedValues(h, final, new Map([['k', set(['w:1', 'A', 1], ['w:2', 'B', 1])]]))).toEqual([])
    expect(restampedValues(h, reads(['w:2']), new Map([['k', set(['w:2', 'B', 1])]]))).toEqual([])
  })
})

describe('phantom values', () => {
  it('fails a value nobody wrote', () => {
    const h = history([{ id: 'w:1' }])
    expect(phantomValues(h, reads(['w:1']))).toEqual([])
    expect(phantomValues(h, reads(['w:1', 'w:9']))).toEqual([{ id: 'w:9', key: 'k' }])
  })

  it('fails a value written to another key, or a delete id read back as a value', () => {
    const h = history([{ id: 'w:1', key: 'j' }, { id: 'del:2', deleted: true }])
    expect(ids(phantomValues(h, reads(['w:1', 'del:2'])))).toEqual(['w:1', 'del:2'])
  })

  it('passes a failed write that took effect', () => {
    const h = history([{ id: 'w:1', acked: false, error: 'TIMEOUT: put' }])
    expect(phantomValues(h, reads(['w:1']))).toEqual([])
  })
})

describe('History', () => {
  it('keeps the context a write carried, with what the read behind it returned', async () => {
    const h = new History('t')
    const node = {
      get: async () => ({ values: [enc.encode('t:0')], context: ctx({ A: 1 }), deleted: false, stale: false }),
      put: async () => ({ context: '' }),
    } as unknown as Parameters<History['get']>[0]
    const got = await h.get(node, 'k')
    const w = await h.write(node, 'k', { context: got.context })
    expect(w).toMatchObject({ saw: ['t:0'], context: ctx({ A: 1 }), acked: true })
  })

  it('tells apart reads of two keys that returned the same context string', async () => {
    const h = new History('t')
    const node = {
      get: async (key: string) => ({ values: [enc.encode(`v-${key}`)], context: ctx({ A: 1 }), deleted: false, stale: false }),
      put: async () => ({ context: '' }),
    } as unknown as Parameters<History['get']>[0]
    const got = await h.get(node, 'k')
    await h.get(node, 'j')
    expect((await h.write(node, 'k', { context: got.context })).saw).toEqual(['v-k'])
  })
})
