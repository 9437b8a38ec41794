/**
 * Membership gossip in running simulated clusters: joins greet a bounded few, a quiet cluster costs
 * a digest per round whatever its size, and a member that passed the id proof cannot rewrite the
 * membership with well-formed hostile gossip.
 */
import { pack } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import { signedPart, type MemberEntry } from '../../src/core/membership.js'
import { GREET_EXTRA } from '../../src/node/gossip.js'
import { asNodeId, type NodeId } from '../../src/types.js'
import { decodeMessage, encodeMessage, type Msg } from '../../src/wire/messages.js'
import { cluster, texts, type Cluster } from './cluster.js'

const names = (n: number): string[] => Array.from({ length: n }, (_, i) => `n${String(i).padStart(2, '0')}`)

async function namedCluster(n: number, seed: number): Promise<Cluster> {
  const c = await cluster(0, { seed })
  for (const id of names(n)) await c.add(id)
  await c.net.settle({ quietMs: 3000 })
  // Settled is not agreed: gossip spreads the last joins a few periods more.
  const agreed = (): boolean => c.nodes().every((x) => x.cluster().members.filter((m) => m.status === 'up').length === n)
  for (let i = 0; i < 60 && !agreed(); i++) await c.net.advance(1000)
  expect(agreed()).toBe(true)
  return c
}

const gossipBytes = async (c: Cluster): Promise<{ bytes: number; sums: number; other: number }> => {
  let bytes = 0
  let sums = 0
  let other = 0
  for (const node of c.nodes()) {
    for (const [t, s] of Object.entries((await node.stats()).sent)) {
      if (!t.startsWith('g-')) continue
      bytes += s.bytes
      if (t === 'g-sum') sums += s.count
      else other += s.count
    }
  }
  return { bytes, sums, other }
}

const membership = (c: Cluster): string[][] => c.nodes().map((n) => n.cluster().members.map((m) => `${m.id}:${m.status}:${m.weight}`))

describe('gossip at scale', () => {
  it('a joining node greets at most its seeds and a few random peers, and every view has it within 2·log2(n) periods', async () => {
    const c = await namedCluster(40, 11)
    const greeted = new Set<string>()
    const stop = c.net.observe((ev) => void (ev.type === 'send' && ev.from === 'zz' && greeted.add(ev.to)))
    const t0 = c.net.now()
    await c.add('zz', { seeds: ['n00' as NodeId] })
    stop()
    expect(greeted.size).toBeGreaterThan(0)
    expect(greeted.size).toBeLessThanOrEqual(1 + GREET_EXTRA)
    let periods = 0
    const everywhere = (): boolean => c.nodes().every((n) => n.cluster().members.some((m) => m.id === 'zz' && m.status === 'up'))
    while (!everywhere() && periods < 40) {
      await c.net.advance(1000)
      periods++
    }
    expect(everywhere()).toBe(true)
    expect(periods).toBeLessThanOrEqual(2 * Math.log2(41))
    expect(c.net.now() - t0).toBeLessThan(40_000)
    await c.stop()
  }, 60_000)

  it('a quiet cluster trades only digests: the same bytes per round at 10 and at 40 nodes', async () => {
    const perRound: number[] = []
    for (const n of [10, 40]) {
      const c = await namedCluster(n, 12)
      const before = await gossipBytes(c)
      await c.net.advance(10_000)
      const after = await gossipBytes(c)
      expect(after.other - before.other).toBe(0)
      const sums = after.sums - before.sums
      // About two digests per node per period (its own round and its answer to another's).
      expect(sums).toBeGreaterThan(n * 10)
      expect(sums).toBeLessThan(n * 10 * 3)
      perRound.push((after.bytes - before.bytes) / sums)
      await c.stop()
    }
    expect(perRound[0]).toBe(perRound[1])
    expect(perRound[0]).toBeLessThan(40)
  }, 60_000)
})

describe('leaving', () => {
  it('a member that leaves while cut off from everyone gets its last entry out once a link heals', async () => {
    const c = await cluster(5, { seed: 23 })
    c.net.partition(['e'], ['a', 'b', 'c', 'd'])
    await c.net.advance(3000)
    const leaving = c.node('e').leave()
    await c.net.advance(5000)
    c.net.heal()
    await leaving
    await c.net.settle()
    for (const n of c.nodes()) expect(n.cluster().members.find((m) => m.id === 'e')?.status).toBe('left')
    await c.stop()
  }, 60_000)

  it('a member cut off for minutes keeps trying to be heard, so nobody keeps hints for it', async () => {
    const c = await cluster(5, { seed: 23 })
    c.net.partition(['e'], ['a', 'b', 'c', 'd'])
    await c.net.advance(3000)
    // Writes while e is away: the others hold hints for it.
    for (let i = 0; i < 40; i++) await c.node('a').put(`cut-${i}`, `v${i}`)
    const owed = (): number => c.nodes().filter((n) => n.id !== 'e').reduce((s, n) => s + n.inspect().hints, 0)
    expect(owed()).toBeGreaterThan(0)
    const leaving = c.node('e').leave()
    await c.net.advance(5 * 60_000) // far past any confirmation deadline, far short of expiry
    c.net.heal()
    await leaving
    await c.net.settle()
    for (const n of c.nodes().filter((x) => x.id !== 'e')) {
      expect(n.cluster().members.find((m) => m.id === 'e')?.status).toBe('left')
      expect(n.inspect().hintOwners).not.toContain('e')
    }
    expect(owed()).toBe(0)
    for (let i = 0; i < 40; i++) expect(texts((await c.node('b').get(`cut-${i}`)).values)).toEqual([`v${i}`])
    await c.stop()
  }, 60_000)
})

describe('hostile gossip', () => {
  it('a rogue member replaying, forging, inflating weights and inventing members changes no view, no ring and no key', async () => {
    const c = await cluster(5, { seed: 21 })
    const keys = Array.from({ length: 100 }, (_, i) => `h-${i}`)
    for (const k of keys) await c.node('a').put(k, `v-${k}`)
    await c.net.settle()

    // The rogue holds a proven id of its own and talks the protocol; first it collects the signed view.
    const rogue = c.net.join('zz-rogue')
    const captured: MemberEntry[] = []
    rogue.transport.onMessage((_from, bytes) => {
      const m = decodeMessage(bytes)
      if (m.t === 'g-delta') captured.push(...m.members)
      if (m.t === 'g-bkt') {
        const nb = m.h.length / 4
        rogue.transport.send(_from, encodeMessage({ t: 'g-ver', nb, b: Array.from({ length: nb }, (_, i) => i), v: new Uint8Array(0) }))
      }
    })
    await rogue.transport.start()
    rogue.transport.send('a' as NodeId, encodeMessage({ t: 'g-sum', d: new Uint8Array(8), n: 0, reply: true, bkt: true }))
    await c.net.advance(100)
    const oldE = captured.find((m) => m.id === 'e')!
    expect(oldE).toMatchObject({ status: 'up', version: 1 })

    await c.node('e').leave()
    await c.net.settle()
    const views = membership(c)
    const ring = c.nodes().map((n) => JSON.stringify(n.cluster().partitions))
    const rejected = async (): Promise<number> => (await Promise.all(c.nodes().map((n) => n.stats()))).reduce((s, x) => s + x.rejected, 0)
    const rejectedBefore = await rejected()

    const auth = rogue.transport.auth!
    const signedByRogue = (e: MemberEntry): MemberEntry => ({ ...e, key: auth.publicKey, sig: auth.sign(signedPart(e)) })
    const aboutA = { id: asNodeId('a'), weight: 1, status: 'left' as const, version: 99 }
    const a = captured.find((m) => m.id === 'a')!
    const invented = Array.from({ length: 2000 }, (_, i) => ({ id: asNodeId(`ghost-${i}`), weight: 256, status: 'up' as const, version: 1 }))
    const delta = (members: MemberEntry[]): Uint8Array => encodeMessage({ t: 'g-delta', members, want: new Uint8Array(0) } satisfies Msg)
    const hostile = [
      delta([oldE]), // a replay of e's entry from before it left
      delta([aboutA, signedByRogue(aboutA), { ...aboutA, key: a.key!, sig: a.sig! }]), // another member's entry: unsigned, signed by the rogue, a's old signature
      delta([{ ...a, weight: 200, version: 2 }]), // a's key and signature on other fields
      pack({ t: 'g-delta', members: [['zz-rogue', 500, 1, 7, auth.publicKey, auth.sign(signedPart({ id: asNodeId('zz-rogue'), weight: 500, status: 'up', version: 7 }))]], want: new Uint8Array(0) }), // weight past the ring's limit
      delta(invented), // invented members, unsigned
      delta(invented.slice(0, 1000).map(signedByRogue)), // invented members, signed by the rogue
    ]
    for (const to of ['a', 'b', 'c', 'd']) for (const m of hostile) rogue.transport.send(to as NodeId, m)
    await c.net.advance(30_000)
    await c.net.settle()

    expect(membership(c)).toEqual(views)
    expect(c.nodes().map((n) => JSON.stringify(n.cluster().partitions))).toEqual(ring)
    expect(c.nodes().every((n) => n.cluster().members.every((m) => !m.id.startsWith('ghost-')))).toBe(true)
    for (const k of keys) expect(texts((await c.node('b').get(k)).values)).toEqual([`v-${k}`])
    // Every forged entry is refused and counted; the out-of-range message is refused whole.
    expect((await rejected()) - rejectedBefore).toBeGreaterThanOrEqual(4 * (3 + 1 + 1 + 2000 + 1000))
    await rogue.transport.stop()
    await c.stop()
  }, 120_000)
})
