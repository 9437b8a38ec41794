/**
 * A peer that is reachable again is compared at once (antientropy.ts onReachable), not at the next
 * round: the period here is a minute (and a reconnect counts as that peer's round), so only the
 * reconnect can bring the replicas together within seconds. Times are virtual and deterministic.
 */
import { describe, expect, it } from 'vitest'
import { createNode, memoryStorage, type DynameshNode } from '../../src/index.js'
import { createSimNetwork } from '../../src/sim/index.js'

describe('reconnect', () => {
  it('replicas apart for a while agree within seconds of meeting again, though anti-entropy runs once a minute', async () => {
    const net = createSimNetwork({ seed: 7, latencyMs: [1, 5] })
    const opts = { n: 2, r: 1, w: 1, antiEntropyMs: 60_000 }
    for (const id of ['a', 'b']) await createNode({ storage: memoryStorage(), ...net.join(id), ...opts })
    const node = (id: string): DynameshNode => net.node(id) as DynameshNode
    await net.settle({ quietMs: 2000 })
    for (let i = 0; i < 50; i++) await node('a').put(`k${i}`, `v${i}`, { w: 2 })
    // Well past the first round, so the next one is a minute away for both.
    await net.advance(61_000)

    net.partition(['a'], ['b'])
    await net.advance(20_000)
    for (let i = 0; i < 5; i++) await node('a').put(`a${i}`, 'from a')
    for (let i = 0; i < 5; i++) await node('b').put(`b${i}`, 'from b')
    const roots = (id: string): string => JSON.stringify(node(id).inspect().roots)
    expect(roots('a')).not.toBe(roots('b'))

    net.heal()
    await net.advance(5_000) // gossip notices the other side within a few periods of one second
    expect(roots('a')).toBe(roots('b'))
    for (const id of ['a', 'b']) {
      for (let i = 0; i < 5; i++) {
        expect((await node(id).get(`a${i}`, { r: 1, n: 1 })).values.length).toBe(1)
        expect((await node(id).get(`b${i}`, { r: 1, n: 1 })).values.length).toBe(1)
      }
    }
    for (const id of ['a', 'b']) await node(id).stop()
    await net.stop()
  })
})

