import { describe, expect, it } from 'vitest'
import { cluster, texts } from './cluster.js'

describe('basic (3,2,2)', () => {
  it('puts, gets and deletes through any node', async () => {
    const c = await cluster(5)
    const [a, b, e] = [c.node('a'), c.node('b'), c.node('e')]
    expect((await a.get('k')).values).toEqual([])
    await a.put('k', 'v1')
    const r = await b.get('k')
    expect(texts(r.values)).toEqual(['v1'])
    await e.put('k', 'v2', { context: r.context })
    expect(texts((await a.get('k')).values)).toEqual(['v2'])
    const before = await c.node('c').get('k')
    await b.delete('k', { context: before.context })
    const after = await c.node('d').get('k')
    expect(after.values).toEqual([])
    expect(after.deleted).toBe(true)
    await c.stop()
  })

  it('keeps concurrent blind writes as siblings, one each, and a context put resolves them', async () => {
    const c = await cluster(5)
    const a = c.node('a')
    await Promise.all([a.put('s', 'x'), c.node('b').put('s', 'y'), c.node('c').put('s', 'z')])
    const r = await c.node('d').get('s')
    expect(texts(r.values)).toEqual(['x', 'y', 'z'])
    // Two blind writes through the same coordinator stay separate siblings, not a growing pile.
    await a.put('t', '1')
    await a.put('t', '2')
    expect(texts((await a.get('t')).values)).toEqual(['1', '2'])
    await c.node('e').put('s', 'merged', { context: r.context })
    expect(texts((await a.get('s', { r: 3 })).values)).toEqual(['merged'])
    await c.stop()
  })

  it("cluster() names each partition's replicas, read directly, spread or serialized alike", async () => {
    const c = await cluster(5)
    const info = c.node('a').cluster()
    expect(info.members.map((m) => m.id)).toEqual(['a', 'b', 'c', 'd', 'e'])
    expect(info.partitions).toHaveLength(256)
    expect(info.partitions.every((owners) => owners.length === 3 && new Set(owners).size === 3)).toBe(true)
    // Placed once, when first read: the same value after, and in a copy or JSON.
    expect(info.partitions).toBe(info.partitions)
    expect({ ...info }.partitions).toEqual(info.partitions)
    expect(JSON.parse(JSON.stringify(info)).partitions).toEqual(info.partitions)
    // Every node places the same ring.
    expect(c.node('e').cluster().partitions).toEqual(info.partitions)
    await c.stop()
  })
})
