import { describe, expect, it } from 'vitest'
import { undeliveredHints } from '../../src/sim/index.js'
import { cluster, texts } from './cluster.js'

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
})
