import { describe, expect, it } from 'vitest'
import { partitionOf } from '../../src/core/ring.js'
import { divergentPartitions } from '../../src/sim/index.js'
import { decodeMessage } from '../../src/wire/messages.js'
import { cluster, texts } from './cluster.js'

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)

describe('read repair', () => {
  it('a get repairs a stale replica', async () => {
    // No anti-entropy and no handoff in this run, so only a read can repair.
    const c = await cluster(5, { seed: 21, antiEntropyMs: 1e9, handoffMs: 1e9 })
    const p = partitionOf(enc('stale'), 256)
    const owners = c.node('a').cluster().partitions[p]!
    const [o1, o2, o3] = owners as unknown as [string, string, string]
    const writer = c.node(o1)
    await writer.put('stale', 'old', { w: 3 })
    c.net.partition([o3])
    const r = await writer.get('stale')
    await writer.put('stale', 'new', { context: r.context })
    c.net.heal()
    await c.net.settle()
    expect(c.node(o3).inspect().roots[p]).not.toBe(c.node(o2).inspect().roots[p])

    expect(texts((await writer.get('stale', { r: 3 })).values)).toEqual(['new'])
    await c.net.settle()
    expect(c.node(o3).inspect().roots[p]).toBe(c.node(o2).inspect().roots[p])
    expect(texts((await c.node(o3).get('stale', { r: 1, n: 1 })).values)).toEqual(['new'])
    await c.stop()
  })
})

describe('anti-entropy', () => {
  it('restores every key of a node whose storage was wiped, and reports the bytes exchanged', async () => {
    const c = await cluster(5, { seed: 31 })
    const keys = Array.from({ length: 2000 }, (_, i) => `ae-${i}`)
    for (const k of keys) await c.node('a').put(k, `value-${k}`.padEnd(100, '.'))
    await c.net.settle()
    const owned = (id: string): string[] => {
      const parts = c.node(id).cluster().partitions
      return keys.filter((k) => parts[partitionOf(enc(k), 256)]!.includes(id as never))
    }
    const expected = owned('c').length
    expect(expected).toBeGreaterThan(500)
    // The replaced node starts with fresh counters, so its baseline is zero.
    const sentBefore = await sentByType(c.nodes().filter((n) => n.id !== 'c'))

    await c.net.replace('c')
    expect(c.node('c').inspect().records).toBe(0)
    await c.net.settle({ quietMs: 10_000 })
    const after = await sentByType(c.nodes())
    const delta = Object.fromEntries(Object.entries(after).map(([t, b]) => [t, b - (sentBefore[t] ?? 0)]))
    const total = Object.values(delta).reduce((a, b) => a + b, 0)
    console.log(`anti-entropy: restored ${expected} keys (~${expected * 110} value bytes); ${total} bytes sent in all while repairing, by message type:`, delta)

    const cNode = c.node('c')
    expect(cNode.inspect().records).toBe(expected)
    for (const k of owned('c')) expect(texts((await cNode.get(k, { r: 1, n: 1 })).values)).toEqual([`value-${k}`.padEnd(100, '.')])
    expect(divergentPartitions(c.nodes())).toEqual([])
    await c.stop()
  })
})

describe('anti-entropy rounds', () => {
  it('compare with a fellow replica every round, however few of the members are fellows', async () => {
    // 12 nodes over 16 partitions at N = 3: each replicates about 4, with about 6 of the 11 others.
    const c = await cluster(12, { seed: 5, q: 16 })
    const ring = c.node('a').cluster().partitions
    const fellows = (id: string): Set<string> => new Set(ring.filter((o) => o.includes(id as never)).flat().filter((o) => o !== id))
    expect(Math.max(...c.ids.map((id) => fellows(id).size))).toBeLessThan(11)
    // Every partition holds keys, so every node holds records (one holding none starts no rounds).
    for (let i = 0; i < 64; i++) await c.node('a').put(`k${i}`, 'v', { w: 3 })
    expect(c.ids.filter((id) => c.node(id).inspect().records === 0)).toEqual([])
    await c.net.settle({ quietMs: 3000 })
    const rounds = new Map<string, number>()
    const strangers: string[] = []
    const off = c.net.observe((ev) => {
      if (ev.type !== 'send' || !ev.data) return
      const msg = decodeMessage(ev.data) as { t: string; level?: number }
      if (msg.t !== 'ae-sum' || msg.level !== 0) return
      rounds.set(ev.from, (rounds.get(ev.from) ?? 0) + 1)
      if (!fellows(ev.from).has(ev.to)) strangers.push(`${ev.from}>${ev.to}`)
    })
    await c.net.advance(20 * 2000) // 20 periods at the default antiEntropyMs
    off()
    expect(strangers).toEqual([])
    // A round that drew a member sharing nothing would send nothing: about half of them would.
    for (const id of c.ids) expect(rounds.get(id) ?? 0, id).toBeGreaterThanOrEqual(18)
    await c.stop()
  })

  it('are started only by nodes that hold records, which fill a node that holds none', async () => {
    // N = 5: every node replicates everything. No hinted handoff: only anti-entropy moves records.
    const c = await cluster(5, { seed: 6, q: 16, n: 5, r: 1, w: 1, handoffMs: 1e9 })
    const rounds = new Map<string, number>()
    const off = c.net.observe((ev) => {
      if (ev.type !== 'send' || !ev.data) return
      const msg = decodeMessage(ev.data) as { t: string; level?: number }
      if (msg.t === 'ae-sum' && msg.level === 0) rounds.set(ev.from, (rounds.get(ev.from) ?? 0) + 1)
    })
    await c.net.advance(10 * 2000)
    // Nothing stored anywhere: no node compares (nor builds its ring to find whom to compare with).
    expect([...rounds.keys()]).toEqual([])
    // A key written to one node alone: the holder's rounds bring it to the others.
    c.net.partition(['a'])
    await c.net.advance(5000)
    await c.node('a').put('only', 'here')
    expect(c.ids.map((id) => c.node(id).inspect().records)).toEqual([1, 0, 0, 0, 0])
    c.net.heal()
    await c.net.settle({ quietMs: 10_000 })
    off()
    expect(rounds.get('a') ?? 0).toBeGreaterThan(0)
    for (const id of c.ids) expect(c.node(id).inspect().records, id).toBe(1)
    await c.stop()
  })
})

async function sentByType(nodes: { stats(): Promise<{ sent: Record<string, { bytes: number }> }> }[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const n of nodes) for (const [t, s] of Object.entries((await n.stats()).sent)) out[t] = (out[t] ?? 0) + s.bytes
  return out
}
