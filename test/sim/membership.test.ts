import { describe, expect, it } from 'vitest'
import { partitionOf } from '../../src/core/ring.js'
import { divergentPartitions, undeliveredHints } from '../../src/sim/index.js'
import { cluster, ownersOf, texts, type Cluster } from './cluster.js'

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const keys = Array.from({ length: 500 }, (_, i) => `m-${i}`)

/** Reads a sample of keys through random nodes; returns those that did not read back. */
async function unreadable(c: Cluster, sample: string[]): Promise<string[]> {
  const bad: string[] = []
  const nodes = c.nodes()
  for (const [i, k] of sample.entries()) {
    const node = nodes[i % nodes.length]!
    const r = await node.get(k).catch(() => ({ values: [] as Uint8Array[] }))
    if (texts(r.values).join() !== `v-${k}`) bad.push(k)
  }
  return bad
}

function recordsOutsideOwnership(c: Cluster): string[] {
  const out: string[] = []
  for (const n of c.nodes()) {
    const parts = n.cluster().partitions
    const owned = keys.filter((k) => parts[partitionOf(enc(k), 256)]!.includes(n.id)).length
    if (n.inspect().records !== owned) out.push(`${n.id}: ${n.inspect().records} records, owns ${owned}`)
  }
  return out
}

describe('join and leave', () => {
  it('a joining node receives its partitions and no key is unreadable meanwhile', async () => {
    const c = await cluster(4, { seed: 41 })
    for (const k of keys) await c.node('a').put(k, `v-${k}`)
    await c.net.settle()
    const joining = c.add('e')
    // Read while the node joins and partitions move: every key stays readable at every step.
    const e = await joining
    for (let step = 0; step < 10; step++) {
      expect(await unreadable(c, keys.filter((_, i) => i % 10 === step))).toEqual([])
      await c.net.advance(500)
    }
    await c.net.settle()
    expect(e.inspect().records).toBeGreaterThan(50)
    expect(recordsOutsideOwnership(c)).toEqual([])
    expect(await unreadable(c, keys)).toEqual([])
    expect(divergentPartitions(c.nodes())).toEqual([])
    await c.stop()
  })

  it('a leaving node moves its data off first, and no key is unreadable meanwhile', async () => {
    const c = await cluster(5, { seed: 43 })
    for (const k of keys) await c.node('a').put(k, `v-${k}`)
    await c.net.settle()
    const b = c.node('b')
    expect(b.inspect().records).toBeGreaterThan(50)
    let left = false
    const leaving = b.leave().then(() => (left = true))
    let rounds = 0
    while (!left && rounds < 50) {
      const rest = c.nodes().filter((n) => n.id !== b.id)
      const k = keys[rounds % keys.length]!
      const r = await rest[rounds % rest.length]!.get(k)
      expect(texts(r.values)).toEqual([`v-${k}`])
      rounds++
    }
    await leaving
    await c.net.settle()
    const rest = c.nodes().filter((n) => n.id !== b.id)
    for (const n of rest) {
      const m = n.cluster().members.find((x) => x.id === b.id)
      expect(m?.status).toBe('left')
      expect(n.cluster().partitions.every((o) => !o.includes(b.id))).toBe(true)
    }
    const bad: string[] = []
    for (const [i, k] of keys.entries()) {
      const r = await rest[i % rest.length]!.get(k, { r: 3 })
      if (texts(r.values).join() !== `v-${k}`) bad.push(k)
    }
    expect(bad).toEqual([])
    expect(undeliveredHints(rest)).toEqual([])
    await c.stop()
  })

  it("a leaving node hands an away owner's share to a node standing in for it, as hints that reach the owner when it is back", async () => {
    // N = 2 over four nodes; no anti-entropy, so only the handoff can move what b holds.
    const c = await cluster(4, { seed: 45, n: 2, r: 1, w: 1, antiEntropyMs: 1e9 })
    for (const k of keys) await c.node('a').put(k, `v-${k}`, { w: 2 })
    await c.net.settle()
    // c is away (a crash: its disk stays), and stays a member: nobody expires it for a day.
    c.net.crash('c')
    await c.net.advance(5000)
    let left = false
    const leaving = c.node('b').leave().then(() => (left = true))
    for (let i = 0; i < 60 && !left; i++) await c.net.advance(1000)
    expect(left).toBe(true)
    await leaving
    // What c was due while away waits as hints on a node standing in for it, and reaches it back.
    const held = c.nodes().reduce((n, x) => n + x.inspect().hints, 0)
    expect(held).toBeGreaterThan(0)
    await c.net.restart('c')
    await c.net.settle({ quietMs: 5000 })
    expect(c.nodes().reduce((n, x) => n + x.inspect().hints, 0)).toBe(0)
    const bad: string[] = []
    for (const k of keys) {
      const owners = ownersOf(c.node('a'), k)
      for (const o of owners) {
        const r = await c.node(o).get(k, { r: 1, n: 1 })
        if (texts(r.values).join() !== `v-${k}`) bad.push(`${k}@${o}`)
      }
    }
    expect(bad).toEqual([])
    await c.stop()
  })

  it('a leave only one peer heard survives that peer crashing right after, and reaches everyone', async () => {
    // Long gossip periods: e's round, which stores what changed, does not come before the crash.
    const c = await cluster(5, { seed: 44, gossipMs: 20_000 })
    // d and e are cut off from the rest; d leaves, so only e can hear it (confirm: e agrees).
    c.net.partition(['a', 'b', 'c'], ['d', 'e'])
    await c.net.advance(3000)
    await c.node('d').leave()
    expect(c.node('e').cluster().members.find((m) => m.id === 'd')?.status).toBe('left')
    // e crashes at once; what it stored is all it knows when it comes back.
    c.net.crash('e')
    c.net.heal()
    await c.net.restart('e')
    for (let i = 0; i < 30 && !c.nodes().every((n) => n.cluster().members.find((m) => m.id === 'd')?.status === 'left'); i++) await c.net.advance(10_000)
    for (const n of c.nodes()) expect(n.cluster().members.find((m) => m.id === 'd')?.status, n.id).toBe('left')
    await c.stop()
  })
})

describe('long absence', () => {
  it('marks a member left after removeAfterMs; its partitions move; it re-asserts itself when back', async () => {
    const c = await cluster(5, { seed: 45, removeAfterMs: 60_000 })
    for (const k of keys.slice(0, 100)) await c.node('a').put(k, `v-${k}`)
    c.net.crash('e')
    await c.net.advance(90_000)
    await c.net.settle()
    for (const n of c.nodes()) {
      expect(n.cluster().members.find((m) => m.id === 'e')?.status).toBe('left')
      expect(n.cluster().partitions.every((o) => !o.includes('e' as never))).toBe(true)
    }
    expect(divergentPartitions(c.nodes())).toEqual([])
    for (const k of keys.slice(0, 100)) expect(texts((await c.node('b').get(k, { r: 3 })).values)).toEqual([`v-${k}`])
    await c.net.restart('e')
    await c.net.settle()
    expect(c.node('a').cluster().members.find((m) => m.id === 'e')?.status).toBe('up')
    expect(c.node('a').cluster().partitions.some((o) => o.includes('e' as never))).toBe(true)
    await c.stop()
  })
})
