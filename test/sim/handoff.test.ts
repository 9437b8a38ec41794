import { describe, expect, it } from 'vitest'
import { undeliveredHints } from '../../src/sim/index.js'
import { cluster, missingFromOwners, ownersOf, texts } from './cluster.js'

describe('hinted handoff', () => {
  it('1,000 keys written while a node is down reach it when it restarts; fallbacks keep none', async () => {
    const c = await cluster(5, { seed: 11 })
    const a = c.node('a')
    c.net.crash('c')
    const keys = Array.from({ length: 1000 }, (_, i) => `key-${i}`)
    for (const k of keys) await a.put(k, `v-${k}`)
    const held = c.nodes().reduce((n, x) => n + x.inspect().hints, 0)
    expect(held).toBeGreaterThan(0)
    // While c is down, hints are readable on the fallbacks: every key reads back.
    for (const k of keys.slice(0, 50)) expect(texts((await c.node('b').get(k)).values)).toEqual([`v-${k}`])

    await c.net.restart('c')
    await c.net.settle()
    expect(undeliveredHints(c.nodes())).toEqual([])

    // c holds every key it owns, by itself.
    const cNode = c.node('c')
    const owners = cNode.cluster().partitions
    const { partitionOf } = await import('../../src/core/ring.js')
    const mine = keys.filter((k) => owners[partitionOf(new TextEncoder().encode(k), 256)]!.includes(cNode.id))
    expect(mine.length).toBeGreaterThan(100)
    for (const k of mine) expect(texts((await cNode.get(k, { r: 1, n: 1 })).values)).toEqual([`v-${k}`])
    expect(cNode.inspect().records).toBe(mine.length)
    // No node holds a record of a partition it does not own.
    for (const n of c.nodes()) {
      const ownedRecords = keys.filter((k) => owners[partitionOf(new TextEncoder().encode(k), 256)]!.includes(n.id)).length
      expect(n.inspect().records).toBe(ownedRecords)
    }
    await c.stop()
  })

  // Above, anti-entropy would refill c even if no hint were delivered. Here it is off, and at N = 1
  // a hint is the only copy of a key: only handoff can bring the keys to their owner.
  for (const n of [1, 3]) {
    it(`N = ${n}, anti-entropy off: keys written while the owner was down reach it through hints alone`, async () => {
      const c = await cluster(4, { seed: 12 + n, n, r: 1, w: 1, antiEntropyMs: 1e9 })
      c.net.crash('c')
      const keys = Array.from({ length: 300 }, (_, i) => `h-${i}`)
      for (const [i, k] of keys.entries()) await c.node(['a', 'b', 'd'][i % 3]!).put(k, `v-${k}`)
      const forC = keys.filter((k) => ownersOf(c.node('a'), k).includes('c'))
      expect(forC.length).toBeGreaterThan(50)
      await c.net.advance(1000)
      expect(c.nodes().reduce((s, x) => s + x.inspect().hints, 0)).toBeGreaterThanOrEqual(forC.length)
      await c.net.restart('c')
      await c.net.settle()
      expect(undeliveredHints(c.nodes())).toEqual([])
      expect(await missingFromOwners(c, keys, (k) => [`v-${k}`])).toEqual([])
      await c.stop()
    })
  }
})
