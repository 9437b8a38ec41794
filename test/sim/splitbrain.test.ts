import { describe, expect, it } from 'vitest'
import { History, divergentPartitions, finalReads, lostWrites, undeliveredHints } from '../../src/sim/index.js'
import { cluster } from './cluster.js'

describe('split brain', () => {
  it('writes on both sides of a partition all survive or are causally superseded, and replicas converge', async () => {
    const c = await cluster(5, { seed: 51 })
    const h = new History()
    const keys = ['x', 'y', 'z', 'w']
    for (const k of keys) await h.write(c.node('a'), k)
    c.net.partition(['a', 'b'], ['c', 'd', 'e'])
    for (let round = 0; round < 10; round++) {
      for (const k of keys) {
        const left = c.node(round % 2 ? 'a' : 'b')
        const right = c.node(['c', 'd', 'e'][round % 3]!)
        const rl = await h.get(left, k).catch(() => undefined)
        await h.write(left, k, rl ? { context: rl.context } : {})
        await h.write(right, k)
        const rr = await h.get(right, k).catch(() => undefined)
        if (rr && round % 3 === 0) await h.write(right, k, { context: rr.context, del: round === 6 })
      }
    }
    const acked = h.writes.filter((w) => w.acked).length
    expect(acked).toBeGreaterThan(60)
    c.net.heal()
    await c.net.settle({ quietMs: 10_000 })
    const final = await finalReads(h, c.node('c'))
    expect(lostWrites(h, final)).toEqual([])
    expect(divergentPartitions(c.nodes())).toEqual([])
    expect(undeliveredHints(c.nodes())).toEqual([])
    // Concurrent writes from the two sides show up as siblings.
    expect([...final.values()].some((v) => v.length > 1)).toBe(true)
    await c.stop()
  })
})
