/**
 * Membership gossip, one exchange at a time: Gossip instances wired to each other through the real
 * codec, with deterministic time and randomness, so byte and message counts are exact.
 */
import { describe, expect, it } from 'vitest'
import { FailureDetector } from '../../src/core/detector.js'
import { signedPart, type MemberEntry } from '../../src/core/membership.js'
import { buildRing, placementsMade } from '../../src/core/ring.js'
import { encodeCells } from '../../src/core/riblt.js'
import { MAX_MEMBER_VERSION } from '../../src/limits.js'
import type { NodeContext } from '../../src/node/context.js'
import { Gossip } from '../../src/node/gossip.js'
import { simAuth, simSecret } from '../../src/sim/auth.js'
import { clusterKeyFromSecret, verifyCredential } from '../../src/credential.js'
import { asNodeId, type MemberAuth, type NodeId } from '../../src/types.js'
import { decodeMessage, encodeMessage, type Msg } from '../../src/wire/messages.js'
import { deliverTo, signedEntry, type Sent } from './gossip-harness.js'

const secret = simSecret(7)


/** A few Gossip instances and the wire between them. */
function world() {
  let now = 1_000_000
  let seed = 1
  const random = (): number => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646
  const queue: Sent[] = []
  const log: Sent[] = []
  const nodes = new Map<NodeId, { g: Gossip; changes: Array<{ ids: string[]; ring: boolean }>; detector: FailureDetector; verifies: { n: number }; saved: string[][] }>()

  function add(id: string, opts: { auth?: MemberAuth | null; removeAfterMs?: number; foreign?: { partition: number; owner: string } } = {}) {
    const detector = new FailureDetector(() => now)
    const verifies = { n: 0 }
    const base = opts.auth === null ? undefined : (opts.auth ?? simAuth(secret, id))
    const auth: MemberAuth | undefined = base && { ...base, verify: (...a) => (verifies.n++, base.verify(...a)) }
    const ctx = {
      id: id as NodeId,
      env: { now: () => now, setTimer: () => () => {}, random },
      config: { weight: 1, removeAfterMs: opts.removeAfterMs ?? 60_000, gossipMs: 1000 },
      transport: { ...(auth ? { auth } : {}), peers: () => [] },
      store: { hintOwners: () => new Set<string>(), heldPartitions: () => (opts.foreign ? [opts.foreign.partition] : []) },
      // A ring of one partition per index up to the foreign one, all owned by its owner.
      ring: () => ({ q: (opts.foreign?.partition ?? 0) + 1, n: 1, members: [{ id: opts.foreign?.owner ?? id, weight: 1 }], owners: Array.from({ length: (opts.foreign?.partition ?? 0) + 1 }, () => [opts.foreign?.owner ?? id]) }),
      detector,
      isUp: (x: NodeId) => x === id || detector.isUp(x),
      running: () => true,
      send: (to: NodeId, msg: Msg) => {
        const s = { from: id as NodeId, to, t: msg.t, bytes: encodeMessage(msg) }
        queue.push(s)
        log.push(s)
      },
    } as unknown as NodeContext
    const changes: Array<{ ids: string[]; ring: boolean }> = []
    const saved: string[][] = []
    const g = new Gossip(ctx, [], (changed, ring) => changes.push({ ids: changed.map((m) => m.id), ring }), async (entries) => void saved.push(entries.map((e) => e.id)))
    nodes.set(id as NodeId, { g, changes, detector, verifies, saved })
    g.setSelf('up', 1)
    changes.length = 0
    return nodes.get(id as NodeId)!
  }

  /** Delivers every queued message (and what answering them sends), in order. */
  function run(): void {
    while (queue.length > 0) {
      const s = queue.shift()!
      const g = nodes.get(s.to)?.g
      if (g) deliverTo(g, s) // else a member of the view with no Gossip of its own here
    }
  }

  /** One exchange begun by `a` with `b`; returns what travelled. */
  function exchange(a: string, b: string): Sent[] {
    const start = log.length
    nodes.get(a as NodeId)!.g.begin(b as NodeId)
    run()
    return log.slice(start)
  }

  return { add, run, exchange, nodes, log, advance: (ms: number) => (now += ms), drop: () => void queue.splice(0) }
}

/** A signed entry of a simulated member. */
const entry = (id: string, version = 1, status: MemberEntry['status'] = 'up', weight = 1): MemberEntry => signedEntry(secret, id, version, status, weight)

const ids = (n: number, prefix = 'm'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`)
const bytesOf = (sent: Sent[]): number => sent.reduce((n, s) => n + s.bytes.length, 0)

describe('gossip exchange', () => {
  it('two agreeing views trade one digest each way, the same bytes whatever the view size', () => {
    const sizes: number[] = []
    for (const n of [300, 3000]) {
      const w = world()
      const a = w.add('a')
      const b = w.add('b')
      const all = [...ids(n), 'a', 'b'].map((id) => (id === 'a' ? a.g.self! : id === 'b' ? b.g.self! : entry(id)))
      a.g.load(all)
      b.g.load(all)
      const sent = w.exchange('a', 'b')
      expect(sent.map((s) => s.t)).toEqual(['g-sum', 'g-sum'])
      sizes.push(bytesOf(sent))
    }
    expect(sizes[0]).toBe(sizes[1])
    expect(sizes[0]).toBeLessThan(80)
  })

  it('one differing entry among 1,000 costs that entry and 16 cells, under 600 bytes, either way round', () => {
    const w = world()
    const a = w.add('a')
    const b = w.add('b')
    const all = [...ids(1000), 'a', 'b'].map((id) => (id === 'a' ? a.g.self! : id === 'b' ? b.g.self! : entry(id)))
    a.g.load(all)
    b.g.load(all)
    b.g.load([entry('m17', 2, 'leaving')])
    // b is newer: a decodes b's cells, asks for m17 and gets it in b's answer, which ends the exchange.
    const sent = w.exchange('a', 'b')
    expect(sent.map((s) => s.t)).toEqual(['g-sum', 'g-cells', 'g-delta', 'g-delta'])
    expect((decodeMessage(sent[1]!.bytes) as Extract<Msg, { t: 'g-cells' }>).c).toHaveLength(16 * 13)
    const ask = decodeMessage(sent[2]!.bytes) as Extract<Msg, { t: 'g-delta' }>
    expect(ask).toMatchObject({ members: [], ask: true })
    expect(ask.want).toHaveLength(6)
    const answer = decodeMessage(sent[3]!.bytes) as Extract<Msg, { t: 'g-delta' }>
    expect(answer.members.map((m) => `${m.id}@${m.version}`)).toEqual(['m17@2'])
    expect(answer.end).toBe(true)
    expect(bytesOf(sent)).toBeLessThan(600)
    expect(a.g.view.get('m17')?.status).toBe('leaving')
    expect(w.exchange('a', 'b').map((s) => s.t)).toEqual(['g-sum', 'g-sum'])
    // The other way round, a gives its newer entry at once and wants nothing; b's answer only ends the exchange.
    a.g.load([entry('m99', 3, 'left')])
    const back = w.exchange('a', 'b')
    expect(back.map((s) => s.t)).toEqual(['g-sum', 'g-cells', 'g-delta', 'g-delta'])
    const give = decodeMessage(back[2]!.bytes) as Extract<Msg, { t: 'g-delta' }>
    expect(give.members.map((m) => `${m.id}@${m.version}`)).toEqual(['m99@3'])
    expect(give.want).toHaveLength(0)
    expect(decodeMessage(back[3]!.bytes)).toMatchObject({ members: [], end: true })
    expect(b.g.view.get('m99')?.status).toBe('left')
    expect(bytesOf(back)).toBeLessThan(600)
  })

  it('entries missing on either side cost cells in proportion: more asked for until they decode, the same bytes at 300 and at 3,000 members', () => {
    const costs: number[] = []
    for (const n of [300, 3000]) {
      const w = world()
      const a = w.add('a')
      const b = w.add('b')
      const common = [...ids(n), 'a', 'b'].map((id) => (id === 'a' ? a.g.self! : id === 'b' ? b.g.self! : entry(id)))
      a.g.load(common)
      b.g.load(common)
      a.g.load(ids(20, 'x').map((id) => entry(id)))
      b.g.load(ids(20, 'y').map((id) => entry(id)))
      const sent = w.exchange('a', 'b')
      // 40 differing items need more than the first 16 cells: a asks for as many again until they
      // decode (these 40 take 128; ~54 on average).
      expect(sent.map((s) => s.t)).toEqual(['g-sum', 'g-cells', 'g-more', 'g-cells', 'g-more', 'g-cells', 'g-more', 'g-cells', 'g-delta', 'g-delta'])
      expect(sent.filter((s) => s.t === 'g-more').map((s) => decodeMessage(s.bytes))).toEqual([
        { t: 'g-more', at: 16, k: 16 },
        { t: 'g-more', at: 32, k: 32 },
        { t: 'g-more', at: 64, k: 64 },
      ])
      expect(a.g.view.digest()).toEqual(b.g.view.digest())
      expect(a.g.view.size).toBe(n + 42)
      costs.push(bytesOf(sent.filter((s) => s.t !== 'g-delta')))
    }
    expect(costs[0]).toBe(costs[1])
    // Views 30 entries apart in size: the reply starts with cells for at least that gap, and they
    // decode at once (gossip-edges pins the moving average of recent differences).
    const w = world()
    const a = w.add('a')
    const b = w.add('b')
    a.g.load(ids(20, 'x').map((id) => entry(id)))
    b.g.load(ids(20, 'y').map((id) => entry(id)))
    w.exchange('b', 'a')
    b.g.load(ids(30, 'z').map((id) => entry(id)))
    expect(w.exchange('a', 'b').map((s) => s.t)).toEqual(['g-sum', 'g-cells', 'g-delta', 'g-delta'])
  })

  it('ignores cells of an exchange it is not decoding, and batches out of order', () => {
    const w = world()
    const a = w.add('a')
    const b = w.add('b')
    a.g.load(ids(20, 'x').map((id) => entry(id)))
    b.g.load(ids(20, 'y').map((id) => entry(id)))
    const cells = (at: number, k: number): Uint8Array => encodeCells(b.g.view.cellsAt(at, k))
    a.g.onCells('b' as NodeId, 16, cells(16, 16)) // no exchange under way with b
    expect(w.log).toHaveLength(0)
    a.g.onCells('b' as NodeId, 0, cells(0, 16))
    expect(w.log.map((s) => decodeMessage(s.bytes))).toEqual([{ t: 'g-more', at: 16, k: 16 }])
    a.g.onCells('b' as NodeId, 32, cells(32, 16)) // not the batch asked for
    a.g.onCells('b' as NodeId, 0 + 16, cells(16, 16).subarray(0, 13)) // the batch asked for, from its start
    expect(w.log.slice(1).map((s) => decodeMessage(s.bytes))).toEqual([{ t: 'g-more', at: 17, k: 17 }])
    w.drop()
  })

  it('views far apart in size, cells that do not decode, and entries that differ in content only compare bucket sums', () => {
    const w = world()
    const a = w.add('a')
    const b = w.add('b')
    // More than VIEW_CELLS / 2 entries apart in size: straight to bucket sums.
    b.g.load(ids(600).map((id) => entry(id)))
    expect(w.exchange('a', 'b').map((s) => s.t)).toEqual(['g-sum', 'g-bkt', 'g-ver', 'g-delta', 'g-delta'])
    expect(a.g.view.digest()).toEqual(b.g.view.digest())
    // 1,200 entries differ though the sizes are equal: every cell up to VIEW_CELLS, then bucket sums.
    a.g.load(ids(600, 'x').map((id) => entry(id)))
    b.g.load(ids(600, 'y').map((id) => entry(id)))
    const far = w.exchange('a', 'b').map((s) => s.t)
    expect(far.slice(0, 2)).toEqual(['g-sum', 'g-cells'])
    expect(far.filter((t) => t === 'g-more')).toHaveLength(6) // 16 cells, then 16, 32, ..., 512: 1,024 in all
    expect(far.slice(far.lastIndexOf('g-cells') + 1)).toEqual(['g-sum', 'g-bkt', 'g-ver', 'g-delta', 'g-delta'])
    expect(a.g.view.digest()).toEqual(b.g.view.digest())
    // One entry at the same version with other content (a weight): the same item in both views'
    // cells, which decode to nothing; the digests still differ, so bucket sums find it.
    a.g.load([entry('m5', 2, 'up', 1)])
    b.g.load([entry('m5', 2, 'up', 3)])
    const same = w.exchange('a', 'b').map((s) => s.t)
    expect(same).toEqual(['g-sum', 'g-cells', 'g-sum', 'g-bkt', 'g-ver', 'g-delta', 'g-delta'])
    expect(a.g.view.digest()).toEqual(b.g.view.digest())
  })

  it('an empty view pulls the whole view in one exchange, and the other side learns the newcomer', () => {
    const w = world()
    const a = w.add('a')
    const b = w.add('b')
    b.g.load(ids(500).map((id) => entry(id)))
    w.exchange('a', 'b')
    expect(a.g.view.size).toBe(502)
    expect(b.g.view.get('a')?.version).toBe(1)
    expect(a.g.view.digest()).toEqual(b.g.view.digest())
  })

  it('a batch of received entries rebuilds the ring once, and not at all when no ring member changed', () => {
    const w = world()
    const a = w.add('a')
    const b = w.add('b')
    b.g.load(ids(50).map((id) => entry(id)))
    w.exchange('a', 'b')
    expect(a.changes.filter((c) => c.ids.length > 0 && c.ids[0] !== 'a')).toEqual([{ ids: expect.any(Array), ring: true }])
    expect(a.changes.at(-1)!.ids.length).toBeGreaterThanOrEqual(50)
    a.changes.length = 0
    b.g.load(ids(20, 'j').map((id) => entry(id, 1, 'joining')))
    w.exchange('a', 'b')
    expect(a.changes).toEqual([{ ids: expect.any(Array), ring: false }])
    expect(a.changes[0]!.ids).toHaveLength(20)
  })

  it('a ring asked for after batches is built only when read, once, from the view as it is then', () => {
    const w = world()
    const a = w.add('a')
    const b = w.add('b')
    const opts = { q: 64, n: 3 }
    let ring = a.g.ring(undefined, opts)
    b.g.load(ids(30).map((id) => entry(id)))
    w.exchange('a', 'b')
    const before = placementsMade()
    ring = a.g.ring(ring, opts)
    b.g.load(ids(10, 'k').map((id) => entry(id)))
    w.exchange('a', 'b')
    expect(placementsMade()).toBe(before)
    const owners = ring.owners
    expect(ring.members).toHaveLength(42)
    expect(placementsMade()).toBe(before + 1)
    expect(a.g.ring(ring, opts).owners).toBe(owners)
    expect(placementsMade()).toBe(before + 1)
    expect(owners).toEqual(buildRing(a.g.ringMembers(), opts).owners)
  })

  it('after more than 256 changed members the next ring comes from the whole view, the same ring', () => {
    for (const changed of [256, 257, 600]) {
      const w = world()
      const a = w.add('a')
      const b = w.add('b')
      const opts = { q: 64, n: 3 }
      a.g.load(ids(100, 'base').map((id) => entry(id)))
      let ring = a.g.ring(undefined, opts)
      expect(ring.members).toHaveLength(101)
      b.g.load([...ids(changed - 10, 'new').map((id) => entry(id)), ...ids(10, 'base').map((id) => entry(id, 2, 'left'))])
      w.exchange('a', 'b')
      ring = a.g.ring(ring, opts)
      expect(ring.members.map((m) => m.id)).toEqual(buildRing(a.g.ringMembers(), opts).members.map((m) => m.id))
      expect(ring.owners).toEqual(buildRing(a.g.ringMembers(), opts).owners)
      expect(ring.members).toHaveLength(101 + changed - 10 + 1 - 10)
      // And changes after that are tracked again, one at a time.
      b.g.load([entry('base50', 3, 'left')])
      w.exchange('a', 'b')
      expect(a.g.ring(ring, opts).owners).toEqual(buildRing(a.g.ringMembers(), opts).owners)
    }
  })
})

describe('confirming a leave', () => {
  it('ends only with the answer to its own exchange, not with news the peer pushed meanwhile', async () => {
    const w = world()
    const b = w.add('b')
    const c = w.add('c')
    w.exchange('b', 'c')
    c.g.setSelf('left')
    let confirmed: boolean | undefined
    void c.g.confirm(60_000).then((ok) => (confirmed = ok))
    w.drop() // c's digest to b is lost
    b.g.setSelf('leaving')
    b.g.announce() // b's own news reaches c, outside any exchange
    w.run()
    await new Promise((r) => setImmediate(r))
    expect(confirmed).toBeUndefined()
    expect(b.g.view.get('c')?.status).toBe('up')
    // The exchange done again: b asks for c's entry, so c makes sure with one more, which agrees.
    c.g.begin('b' as NodeId)
    w.run()
    for (let i = 0; i < 5 && confirmed === undefined; i++) {
      await new Promise((r) => setImmediate(r))
      w.run()
    }
    expect(confirmed).toBe(true)
    expect(b.g.view.get('c')?.status).toBe('left')
  })
})

describe('the stored view', () => {
  it('is written once per round, and only the entries that changed', async () => {
    const w = world()
    const a = w.add('a')
    const b = w.add('b')
    b.g.load(ids(500).map((id) => entry(id)))
    w.exchange('a', 'b')
    expect(a.saved).toEqual([])
    a.g.tick()
    w.run()
    expect(a.saved).toHaveLength(1)
    expect(a.saved[0]!.sort()).toEqual(['a', 'b', ...ids(500)].sort())
    b.g.load([entry('m3', 2, 'leaving'), entry('m4', 2, 'leaving')])
    w.exchange('a', 'b')
    w.exchange('a', 'b')
    a.g.tick()
    a.g.tick()
    expect(a.saved.slice(1).map((x) => x.sort())).toEqual([['m3', 'm4']])
  })
})

describe('signed entries', () => {
  it('refuses entries not signed by the member they describe, unsigned ones, and verifies each new version once', () => {
    const w = world()
    const a = w.add('a')
    const b = w.add('b')
    w.exchange('a', 'b')
    const verified = a.verifies.n
    const forged = { id: asNodeId('b'), weight: 200, status: 'left' as const, version: 9 }
    const byA = simAuth(secret, 'a')
    a.g.onDelta('x' as NodeId, [forged, { ...forged, key: byA.publicKey, sig: byA.sign(signedPart(forged)) }, { ...entry('b', 9, 'left'), weight: 200 }], new Uint8Array(0))
    expect(a.g.refused).toBe(3)
    expect(a.g.view.get('b')).toEqual(b.g.self)
    // Replays of what the view already holds (or older) are ignored before any check.
    const before = a.verifies.n
    a.g.onDelta('x' as NodeId, [b.g.self!, { ...b.g.self!, version: 0 }], new Uint8Array(0))
    expect(a.verifies.n).toBe(before)
    expect(a.g.refused).toBe(3)
    expect(verified).toBeGreaterThan(0)
  })

  it('a newer entry of its own (from before a restart) makes a node re-assert above it, never past the cap', () => {
    const w = world()
    const a = w.add('a')
    a.g.onDelta('x' as NodeId, [entry('a', 41, 'left')], new Uint8Array(0))
    expect(a.g.self).toMatchObject({ status: 'up', version: 42 })
    a.g.onDelta('x' as NodeId, [entry('a', MAX_MEMBER_VERSION, 'leaving')], new Uint8Array(0))
    expect(a.g.self).toMatchObject({ status: 'up', version: MAX_MEMBER_VERSION })
  })

  it('in a closed cluster, admits only entries whose credential the cluster key signed', () => {
    const cluster = clusterKeyFromSecret(new Uint8Array(32).fill(3))
    const other = clusterKeyFromSecret(new Uint8Array(32).fill(4))
    const closed = (id: string): MemberAuth => {
      const base = simAuth(secret, id)
      return {
        ...base,
        credential: cluster.admit(base.publicKey),
        admits: (key, cred) => verifyCredential(cluster.publicKey, key, cred),
      }
    }
    const w = world()
    const a = w.add('a', { auth: closed('a') })
    const b = w.add('b', { auth: closed('b') })
    w.exchange('a', 'b')
    // Members' own entries carry their credentials, and pass.
    expect(a.g.view.get('b')?.cred).toEqual(cluster.admit(b.g.self!.key!))
    expect(a.g.refused).toBe(0)
    // A member of someone's own making: signed by its own key, but with no credential or another cluster's.
    const invented = entry('m1')
    a.g.onDelta('b' as NodeId, [invented, { ...entry('m2'), cred: other.admit(entry('m2').key!) }, { ...entry('m3'), cred: cluster.admit(entry('m4').key!) }], new Uint8Array(0))
    expect(a.g.refused).toBe(3)
    expect(['m1', 'm2', 'm3'].map((id) => a.g.view.get(id))).toEqual([undefined, undefined, undefined])
    // Admitted by the cluster key: taken.
    a.g.onDelta('b' as NodeId, [{ ...entry('m5'), cred: cluster.admit(entry('m5').key!) }], new Uint8Array(0))
    expect(a.g.view.get('m5')?.status).toBe('up')
    expect(a.g.refused).toBe(3)
  })

  it('the credential travels in the member tuple and survives the wire', () => {
    const cluster = clusterKeyFromSecret(new Uint8Array(32).fill(5))
    const e = { ...entry('m6'), cred: cluster.admit(entry('m6').key!) }
    const m = decodeMessage(encodeMessage({ t: 'g-delta', members: [e, entry('m7')], want: new Uint8Array(0) }))
    expect(m.t === 'g-delta' && m.members.map((x) => [x.key, x.sig, x.cred])).toEqual([[e.key, e.sig, e.cred], [entry('m7').key, entry('m7').sig, undefined]])
  })

  it('without an id-proving transport, entries travel unsigned', () => {
    const w = world()
    const a = w.add('a', { auth: null })
    w.add('b', { auth: null })
    w.exchange('a', 'b')
    expect(a.g.view.get('b')).toEqual({ id: 'b', weight: 1, status: 'up', version: 1 })
    expect(a.g.refused).toBe(0)
  })
})

describe('choosing whom to gossip with', () => {
  it('tries a suspected member every other period while it owns records this node holds for it', () => {
    for (const owns of [true, false]) {
      const w = world()
      const a = w.add('a', owns ? { foreign: { partition: 3, owner: 'o' } } : {})
      const peers = ['o', ...ids(8, 'p')]
      a.g.load(peers.map((id) => entry(id)))
      a.detector.suspect('o' as NodeId)
      const targets: string[] = []
      for (let t = 1; t <= 6; t++) {
        const before = w.log.length
        a.g.tick()
        targets.push(w.log.slice(before).find((x) => x.from === 'a' && x.t === 'g-sum')?.to ?? '-')
        w.drop()
      }
      // Periods 2, 4 and 6 go to the owner; without records waiting for it, only the fourth does
      // (a suspect is tried every fourth period), and the others go to members believed up.
      const toOwner = targets.map((t, i) => (t === 'o' ? i + 1 : 0)).filter((x) => x > 0)
      expect(toOwner).toEqual(owns ? [2, 4, 6] : [4])
    }
  })
})

describe('local expiry', () => {
  it('a member absent past removeAfterMs is left here only: nothing is written or gossiped about it, and it is back when heard', () => {
    const w = world()
    const a = w.add('a', { removeAfterMs: 10_000 })
    const b = w.add('b')
    w.add('c')
    w.exchange('a', 'b')
    w.exchange('c', 'a')
    w.exchange('a', 'b')
    expect(a.g.ringMembers().map((m) => m.id)).toEqual(['a', 'b', 'c'])
    a.detector.suspect('c' as NodeId)
    w.advance(10_000)
    a.g.tick()
    w.run()
    expect(a.g.status(asNodeId('c'))).toBe('left')
    expect(a.g.ringMembers().map((m) => m.id)).toEqual(['a', 'b'])
    expect(a.changes.at(-1)).toEqual({ ids: ['c'], ring: true })
    // The view itself is unchanged: an exchange with b still finds nothing to send.
    expect(w.exchange('a', 'b').map((s) => s.t)).toEqual(['g-sum', 'g-sum'])
    expect(b.g.status(asNodeId('c'))).toBe('up')
    a.detector.heard('c' as NodeId)
    a.g.tick()
    expect(a.g.status(asNodeId('c'))).toBe('up')
    expect(a.g.ringMembers().map((m) => m.id)).toEqual(['a', 'b', 'c'])
  })
})
