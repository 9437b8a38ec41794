/**
 * A node keeps one replica id through hinted handoffs and transfers (node/store.ts, traces): a
 * fallback that writes a key, hands it off, and writes it again later numbers on under the same id,
 * so the key's clock has an entry per node that wrote it, not per handoff, and nothing written
 * before a handoff is superseded or brought back by what is written after it.
 */
import { describe, expect, it } from 'vitest'
import { preferenceList, type Ring } from '../../src/core/ring.js'
import { decodeContext } from '../../src/core/record.js'
import { createSimNetwork, undeliveredHints } from '../../src/sim/index.js'
import { createNode, memoryStorage, type DynameshNode } from '../../src/index.js'
import type { Storage } from '../../src/types.js'
import { cluster, ownersOf, partitionOfKey, texts, type Cluster } from './cluster.js'

/** The key's owner (N = 1) and the node that stands in for it while it is down. */
function ownerAndFallback(c: Cluster, key: string): [string, string] {
  const ring = (c.node('a') as unknown as { ring(): Ring }).ring()
  const walk = preferenceList(ring, partitionOfKey(key), c.ids.length, () => true).map((e) => e.node as string)
  expect(walk[0]).toBe(ownersOf(c.node('a'), key)[0])
  return [walk[0]!, walk[1]!]
}

describe('replica ids across handoffs', () => {
  for (const mode of ['blind', 'read-modify-write'] as const) {
    it(`${mode} writes by a fallback through 5 handoffs: one clock entry, every write accounted for`, async () => {
      const c = await cluster(4, { seed: 41, n: 1, r: 1, w: 1 })
      const key = 'fallback-key'
      const [owner, fallback] = ownerAndFallback(c, key)
      const written: string[] = []
      for (let round = 0; round < 5; round++) {
        const f = c.node(fallback)
        // Read while the owner is up, then write while it is down (through the fallback, as a hint).
        const ctx = mode === 'blind' ? undefined : (await f.get(key)).context || undefined
        c.net.crash(owner)
        await f.put(key, `x${round}`, ctx ? { context: ctx } : {})
        written.push(`x${round}`)
        expect(f.inspect().hints).toBe(1)
        await c.net.restart(owner)
        await c.net.settle()
        expect(undeliveredHints(c.nodes())).toEqual([])
      }
      const got = await c.node(owner).get(key)
      expect(texts(got.values)).toEqual(mode === 'blind' ? written : ['x4'])
      // One entry: the fallback's id, the same in every round (it used to be a new one per handoff).
      expect(Object.keys(decodeContext(got.context))).toHaveLength(1)
      await c.stop()
    })
  }
})

describe('replica ids across restarts', () => {
  it('a clean stop keeps the id; a crash starts a new epoch, so dots lost with unsynced writes are never stamped again', async () => {
    const net = createSimNetwork({ seed: 43 })
    const disk = memoryStorage()
    // Survives stop(), as a disk does.
    const kept: Storage = { get: (k) => disk.get(k), batch: (ops) => disk.batch(ops), iterate: (r) => disk.iterate(r), close: async () => {} }
    await createNode({ storage: kept, ...net.join('a'), n: 1, r: 1, w: 1 })
    await net.settle({ quietMs: 1000 })
    const node = (): DynameshNode => net.node('a') as DynameshNode
    const idsOf = async (): Promise<string[]> => Object.keys(decodeContext((await node().get('k')).context)).sort()
    const rewrite = async (v: string): Promise<void> => void (await node().put('k', v, { context: (await node().get('k')).context }))
    await node().put('k', 'v1')
    const first = await idsOf()
    expect(first).toHaveLength(1)

    await node().stop()
    await net.restart('a')
    await rewrite('v2')
    expect(await idsOf()).toEqual(first) // numbered on under the same id

    net.crash('a')
    await net.restart('a')
    await rewrite('v3')
    const after = await idsOf()
    expect(after).toHaveLength(2) // the old id (seen) and the new epoch's
    expect(after).toEqual(expect.arrayContaining(first))
    expect(texts((await node().get('k')).values)).toEqual(['v3'])
    await node().stop()
    await net.stop()
  })
})
