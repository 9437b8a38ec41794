/**
 * Offline first, in the simulation: a peer cut off from every other keeps taking writes at W = 1 as
 * hints and hands them off on heal; reads without a quorum answer from what the peer knows, flagged
 * stale; change events report every version that reaches a store; a weight-0 member (a client tab)
 * coordinates its own calls and holds no partitions. Anti-entropy is off (a period far past the
 * run) wherever it could deliver what hinted handoff is being tested for.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { isDynameshError, type NodeEvent } from '../../src/index.js'
import { cluster, localValues, ownersOf, texts, type Cluster } from './cluster.js'

const NO_AE = 24 * 3600 * 1000
let c: Cluster | undefined
afterEach(async () => {
  await c?.stop()
  c = undefined
})

describe('a peer that lost every other peer', () => {
  it('keeps taking W=1 writes as hints and hands them to their owners when connectivity returns', async () => {
    c = await cluster(3, { seed: 11, n: 1, r: 1, w: 1, antiEntropyMs: NO_AE })
    const tab = await c.add('tab', { weight: 0 })
    await c.net.settle({ quietMs: 3000 })
    c.net.partition(['tab'], ['a', 'b', 'c'])
    const keys = Array.from({ length: 20 }, (_, i) => `offline-${i}`)
    for (const k of keys) await tab.put(k, `v-${k}`, { w: 1 })
    expect(tab.inspect().hints).toBe(keys.length)
    // N = 1: the hint is the only copy; nothing reached an owner.
    for (const k of keys) expect(await localValues(c.node(ownersOf(c.node('a'), k)[0]!), k)).toBeUndefined()
    c.net.heal()
    await c.net.settle({ quietMs: 5000 })
    expect(tab.inspect().hints).toBe(0)
    for (const k of keys) expect(await localValues(c.node(ownersOf(c.node('a'), k)[0]!), k)).toEqual([`v-${k}`])
  })

  it('answers reads from its hints and recent reads, flagged stale; a node without staleReads fails', async () => {
    c = await cluster(3, { seed: 12, antiEntropyMs: NO_AE })
    const tab = await c.add('tab', { weight: 0, staleReads: true })
    const strict = await c.add('strict', { weight: 0 })
    await c.net.settle({ quietMs: 3000 })
    await c.node('a').put('seen', 'online value')
    const online = await tab.get('seen')
    expect(online).toMatchObject({ stale: false })
    expect(texts(online.values)).toEqual(['online value'])
    c.net.partition(['tab'], ['strict'], ['a', 'b', 'c'])
    await tab.put('mine', 'written offline', { w: 1 })
    const seen = await tab.get('seen', { timeoutMs: 500 })
    expect(seen.stale).toBe(true)
    expect(texts(seen.values)).toEqual(['online value'])
    const mine = await tab.get('mine', { timeoutMs: 500 })
    expect(mine.stale).toBe(true)
    expect(texts(mine.values)).toEqual(['written offline'])
    expect(await tab.get('never-seen', { timeoutMs: 500 })).toMatchObject({ values: [], stale: true })
    const err = await strict.get('seen', { timeoutMs: 500 }).catch((e: unknown) => e)
    expect(isDynameshError(err, 'QUORUM_FAILED') || isDynameshError(err, 'TIMEOUT')).toBe(true)
    // allowStale per call overrides the node's default both ways.
    expect((await strict.get('seen', { timeoutMs: 500, allowStale: true })).stale).toBe(true)
    await expect(tab.get('seen', { timeoutMs: 500, allowStale: false })).rejects.toThrow()
  })
})

describe('change events', () => {
  it('report versions that reach a store by replication and by hinted handoff', async () => {
    c = await cluster(4, { seed: 13, antiEntropyMs: NO_AE })
    const seen = new Map<string, string[]>()
    for (const id of c.ids) {
      c.node(id).on('change', (ev) => {
        const list = seen.get(id) ?? []
        list.push(new TextDecoder().decode(ev.key) + (ev.hintFor ? ` (hint for ${ev.hintFor})` : ''))
        seen.set(id, list)
      })
    }
    // Replication: every replica of the key hears of the write, and no other node does.
    await c.node('a').put('k1', 'v1', { w: 3 })
    const owners1 = ownersOf(c.node('a'), 'k1')
    for (const id of c.ids) expect((seen.get(id) ?? []).includes('k1')).toBe(owners1.includes(id))
    // Hinted handoff: with one owner cut off, the write is hinted to the fourth node; on heal the
    // owner hears of it (anti-entropy is off, so only the hint can bring it).
    const key = Array.from({ length: 200 }, (_, i) => `k2-${i}`).find((k) => ownersOf(c!.node('a'), k).includes('a'))!
    const away = ownersOf(c.node('a'), key).find((id) => id !== 'a')!
    const spare = c.ids.find((id) => !ownersOf(c!.node('a'), key).includes(id))!
    c.net.partition([away], c.ids.filter((id) => id !== away))
    await c.node('a').put(key, 'v2', { w: 2, timeoutMs: 1000 })
    await c.net.advance(1500)
    expect(seen.get(away) ?? []).not.toContain(key)
    expect(seen.get(spare)).toContain(`${key} (hint for ${away})`)
    c.net.heal()
    await c.net.settle({ quietMs: 4000 })
    expect(seen.get(away)).toContain(key)
    // Only the event type asked for reaches a typed handler.
    const types: NodeEvent['type'][] = []
    const ofB = Array.from({ length: 200 }, (_, i) => `k3-${i}`).filter((k) => ownersOf(c!.node('b'), k).includes('b'))
    const off = c.node('b').on('change', (ev) => types.push(ev.type))
    await c.node('b').put(ofB[0]!, 'v3', { w: 3 })
    off()
    await c.node('b').put(ofB[1]!, 'v4', { w: 3 })
    expect(new Set(types)).toEqual(new Set(['change']))
    expect(types.length).toBe(1)
  })
})

describe('a weight-0 member', () => {
  it('is a member that coordinates its own calls but holds no partition and no record', async () => {
    c = await cluster(3, { seed: 14 })
    const client = await c.add('client', { weight: 0 })
    await c.net.settle({ quietMs: 3000 })
    expect(c.node('a').cluster().members.map((m) => m.id)).toContain('client')
    for (const owners of c.node('a').cluster().partitions) expect(owners).not.toContain('client')
    for (let i = 0; i < 30; i++) await client.put(`c-${i}`, `v${i}`)
    for (let i = 0; i < 30; i += 7) expect(texts((await client.get(`c-${i}`)).values)).toEqual([`v${i}`])
    expect((await client.stats()).records).toBe(0)
    expect(client.inspect().hints).toBe(0)
  })
})
