/**
 * Membership gossip at its edges: target picking per period, greeting, pushing and confirming a
 * leave, cell counts and bounds, chunked deltas, the want/ask/end flags, expiry and the ring.
 * Gossip instances wired through the real codec, with deterministic time, timers and randomness;
 * everything is built inside each test.
 */
import { describe, expect, it } from 'vitest'
import { FailureDetector } from '../../src/core/detector.js'
import type { MemberEntry } from '../../src/core/membership.js'
import { buildRing } from '../../src/core/ring.js'
import { encodeCells } from '../../src/core/riblt.js'
import type { NodeContext } from '../../src/node/context.js'
import { Gossip } from '../../src/node/gossip.js'
import { simAuth, simSecret } from '../../src/sim/auth.js'
import { asNodeId, type MemberAuth, type NodeId } from '../../src/types.js'
import { decodeMessage, encodeMessage, type Msg } from '../../src/wire/messages.js'
import { deliverTo, signedEntry, type Sent } from './gossip-harness.js'

const secret = simSecret(11)


interface AddOpts {
  signed?: boolean
  removeAfterMs?: number
  seeds?: string[]
  peers?: string[]
  hints?: string[]
  weight?: number
  self?: boolean
  failSave?: { on: boolean }
  running?: { on: boolean }
}

function world() {
  let now = 1_000_000
  let seed = 5
  const random = (): number => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646
  const queue: Sent[] = []
  const log: Sent[] = []
  const timers: Array<{ at: number; fn: () => void; off: boolean }> = []
  const nodes = new Map<NodeId, { g: Gossip; changes: Array<{ ids: string[]; ring: boolean }>; detector: FailureDetector; saved: string[][]; peers: string[] }>()

  function add(id: string, opts: AddOpts = {}) {
    const detector = new FailureDetector(() => now)
    const auth: MemberAuth | undefined = opts.signed ? simAuth(secret, id) : undefined
    const peers = opts.peers ?? []
    const ctx = {
      id: id as NodeId,
      env: {
        now: () => now,
        setTimer: (ms: number, fn: () => void) => {
          const t = { at: now + ms, fn, off: false }
          timers.push(t)
          return () => void (t.off = true)
        },
        random,
      },
      config: { weight: opts.weight ?? 1, removeAfterMs: opts.removeAfterMs ?? 60_000, gossipMs: 1000 },
      transport: { ...(auth ? { auth } : {}), peers: () => peers },
      store: { hintOwners: () => new Set<string>(opts.hints ?? []), heldPartitions: () => [] },
      ring: () => ({ q: 1, n: 1, members: [], owners: [[]] }),
      detector,
      isUp: (x: NodeId) => x === id || detector.isUp(x),
      running: () => opts.running?.on ?? true,
      send: (to: NodeId, msg: Msg) => {
        const s = { from: id as NodeId, to, t: msg.t, bytes: encodeMessage(msg) }
        queue.push(s)
        log.push(s)
      },
    } as unknown as NodeContext
    const changes: Array<{ ids: string[]; ring: boolean }> = []
    const saved: string[][] = []
    const save = async (entries: MemberEntry[]): Promise<void> => {
      if (opts.failSave?.on) throw new Error('disk full')
      saved.push(entries.map((e) => e.id))
    }
    const g = new Gossip(ctx, (opts.seeds ?? []) as NodeId[], (changed, ring) => changes.push({ ids: changed.map((m) => m.id), ring }), save)
    nodes.set(id as NodeId, { g, changes, detector, saved, peers })
    if (opts.self !== false) g.setSelf('up', 1)
    changes.length = 0
    return nodes.get(id as NodeId)!
  }

  function deliver(s: Sent): void {
    const g = nodes.get(s.to)?.g
    if (g) deliverTo(g, s)
  }

  function run(): void {
    while (queue.length > 0) deliver(queue.shift()!)
  }

  function exchange(a: string, b: string): Sent[] {
    const start = log.length
    nodes.get(a as NodeId)!.g.begin(b as NodeId)
    run()
    return log.slice(start)
  }

  function advance(ms: number): void {
    now += ms
    for (const t of timers.splice(0)) {
      if (t.off) continue
      if (t.at <= now) t.fn()
      else timers.push(t)
    }
  }

  return { add, run, exchange, nodes, log, queue, advance, now: () => now, drop: () => void queue.splice(0) }
}

const entry = (id: string, version = 1, status: MemberEntry['status'] = 'up', weight = 1): MemberEntry => signedEntry(secret, id, version, status, weight)

const plain = (id: string, version = 1, status: MemberEntry['status'] = 'up', weight = 1): MemberEntry => ({ id: asNodeId(id), weight, status, version })
const ids = (n: number, prefix: string): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`)
/** Messages as decoded, byte fields as plain arrays (the codec hands Buffers). */
const decoded = (sent: Sent[]): Msg[] =>
  sent.map((s) => Object.fromEntries(Object.entries(decodeMessage(s.bytes)).map(([k, v]) => [k, v instanceof Uint8Array ? [...v] : v])) as unknown as Msg)
const settle = async (w: ReturnType<typeof world>, rounds = 6): Promise<void> => {
  for (let i = 0; i < rounds; i++) {
    await new Promise((r) => setImmediate(r))
    w.run()
  }
}
const gsumTargets = (sent: Sent[], from: string): string[] => sent.filter((s) => s.from === from && s.t === 'g-sum').map((s) => s.to)

describe('own entry', () => {
  it('setSelf bumps the version above its own and `above`, keeps its weight by default, and says whether the ring changed', async () => {
    const w = world()
    const a = w.add('a', { self: false, weight: 5 })
    a.g.setSelf('joining')
    expect(a.g.self).toMatchObject({ status: 'joining', version: 1, weight: 5 })
    expect(a.changes).toEqual([{ ids: ['a'], ring: false }])
    a.g.setSelf('up')
    expect(a.g.self).toMatchObject({ status: 'up', version: 2, weight: 5 })
    expect(a.changes.at(-1)).toEqual({ ids: ['a'], ring: true })
    a.g.setSelf('up')
    expect(a.changes.at(-1)).toEqual({ ids: ['a'], ring: false })
    a.g.setSelf('up', 2)
    expect(a.changes.at(-1)).toEqual({ ids: ['a'], ring: true })
    a.g.setSelf('up', 2, 10)
    expect(a.g.self).toMatchObject({ version: 11, weight: 2 })
    a.g.setSelf('up', 2, 3)
    expect(a.g.self).toMatchObject({ version: 12 })
    expect(a.saved).toEqual([])
    a.g.setSelf('leaving')
    expect(a.changes.at(-1)).toEqual({ ids: ['a'], ring: true })
    await new Promise((r) => setImmediate(r))
    // A member going away is stored at once.
    expect(a.saved).toEqual([['a']])
    const b = w.add('b', { self: false })
    b.g.setSelf('up')
    expect(b.changes).toEqual([{ ids: ['b'], ring: true }])
  })

  it('a joining member of weight 0 or a weight change of a member out of the ring changes no ring', () => {
    const w = world()
    const a = w.add('a')
    a.g.onDelta('x' as NodeId, [plain('j', 1, 'joining', 3)], new Uint8Array(0))
    expect(a.changes.at(-1)).toEqual({ ids: ['j'], ring: false })
    a.g.onDelta('x' as NodeId, [plain('j', 2, 'joining', 4)], new Uint8Array(0))
    expect(a.changes.at(-1)).toEqual({ ids: ['j'], ring: false })
    a.g.onDelta('x' as NodeId, [plain('z', 1, 'up', 0)], new Uint8Array(0))
    expect(a.changes.at(-1)).toEqual({ ids: ['z'], ring: false })
    a.g.onDelta('x' as NodeId, [plain('u', 1, 'up', 2)], new Uint8Array(0))
    expect(a.changes.at(-1)).toEqual({ ids: ['u'], ring: true })
    a.g.onDelta('x' as NodeId, [plain('u', 2, 'up', 2)], new Uint8Array(0))
    expect(a.changes.at(-1)).toEqual({ ids: ['u'], ring: false })
    a.g.onDelta('x' as NodeId, [plain('u', 3, 'up', 3)], new Uint8Array(0))
    expect(a.changes.at(-1)).toEqual({ ids: ['u'], ring: true })
    const n = a.changes.length
    a.g.onDelta('x' as NodeId, [plain('u', 3, 'up', 3), plain('u', 2, 'left')], new Uint8Array(0))
    expect(a.changes).toHaveLength(n)
  })

  it('of several newer entries of its own, re-asserts above the newest', () => {
    const w = world()
    const a = w.add('a')
    a.g.onDelta('x' as NodeId, [plain('a', 5), plain('a', 9), plain('a', 7)], new Uint8Array(0))
    expect(a.g.self).toMatchObject({ status: 'up', version: 10 })
    expect(a.g.candidates()).not.toContain('a')
    // A node with no entry of its own yet takes none from others, and asserts none.
    const b = w.add('b', { self: false })
    b.g.onDelta('x' as NodeId, [plain('b', 4), plain('k')], new Uint8Array(0))
    expect(b.g.self).toBeUndefined()
    expect(b.g.view.get('k')).toBeDefined()
  })
})

describe('choosing whom to gossip with', () => {
  it('knowing nobody, gossips with a peer the transport introduces (never itself); knowing members, every eighth period', () => {
    const w = world()
    const a = w.add('a', { peers: ['a', 'z'] })
    const start = w.log.length
    a.g.tick()
    expect(gsumTargets(w.log.slice(start), 'a')).toEqual(['z'])
    w.drop()
    const w2 = world()
    const b = w2.add('b', { peers: ['z'] })
    b.g.load(ids(6, 'p').map((id) => plain(id)))
    const targets: string[] = []
    for (let t = 1; t <= 16; t++) {
      const before = w2.log.length
      b.g.tick()
      targets.push(gsumTargets(w2.log.slice(before), 'b')[0] ?? '-')
      w2.drop()
    }
    expect(targets.map((t, i) => (t === 'z' ? i + 1 : 0)).filter((x) => x > 0)).toEqual([8, 16])
    expect(targets.every((t) => t !== '-')).toBe(true)
    // Random picks, not the first of each list.
    expect(new Set(targets).size).toBeGreaterThan(3)
    const w3 = world()
    const c = w3.add('c', { peers: ['c', 'y', 'z'] })
    const picked = new Set<string>()
    for (let t = 1; t <= 8; t++) {
      const before = w3.log.length
      c.g.tick()
      for (const x of gsumTargets(w3.log.slice(before), 'c')) picked.add(x)
      w3.drop()
    }
    expect(picked).toEqual(new Set(['y', 'z']))
  })

  it('with no member, no seed and no introduced peer, or every member suspected, sends nothing (suspects every fourth period)', () => {
    const w = world()
    const a = w.add('a')
    a.g.tick()
    expect(w.log).toHaveLength(0)
    a.g.load(ids(3, 's').map((id) => plain(id)))
    for (const id of ids(3, 's')) a.detector.suspect(id as NodeId)
    const targets: string[] = []
    for (let t = 1; t <= 8; t++) {
      const before = w.log.length
      a.g.tick()
      targets.push(gsumTargets(w.log.slice(before), 'a')[0] ?? '-')
      w.drop()
    }
    // Periods 2 to 9: the fourth and the eighth try a suspect.
    expect(targets.map((t) => (t === '-' ? '-' : 's'))).toEqual(['-', '-', 's', '-', '-', '-', 's', '-'])
    for (let t = 0; t < 24; t++) {
      const before = w.log.length
      a.g.tick()
      targets.push(gsumTargets(w.log.slice(before), 'a')[0] ?? '-')
      w.drop()
    }
    expect(new Set(targets.filter((t) => t !== '-')).size).toBeGreaterThan(1)
  })

  it('a suspected member it holds hints for is tried every other period, unless it left', () => {
    for (const left of [false, true]) {
      const w = world()
      const a = w.add('a', { hints: ['h'] })
      a.g.load([plain('h', 1, left ? 'left' : 'up'), ...ids(6, 'p').map((id) => plain(id))])
      a.detector.suspect('h' as NodeId)
      const targets: string[] = []
      for (let t = 1; t <= 6; t++) {
        const before = w.log.length
        a.g.tick()
        targets.push(gsumTargets(w.log.slice(before), 'a')[0] ?? '-')
        w.drop()
      }
      expect(targets.map((t, i) => (t === 'h' ? i + 1 : 0)).filter((x) => x > 0)).toEqual(left ? [] : [2, 4, 6])
      expect(targets.every((t) => t !== '-')).toBe(true)
    }
  })

  it('candidates: members that have not left and seeds, never itself, after many joins and leaves', () => {
    const w = world()
    const a = w.add('a', { seeds: ['a', 'seed'] })
    expect(a.g.candidates()).toEqual(['seed'])
    const many = ids(40, 'c')
    a.g.load(many.map((id) => plain(id)))
    a.g.load([plain('seed', 1, 'left')])
    expect(new Set(a.g.candidates())).toEqual(new Set(['seed', ...many]))
    expect(a.g.candidates()).toHaveLength(41)
    a.g.load(many.filter((_, i) => i % 3 === 0).map((id) => plain(id, 2, 'left')))
    const kept = many.filter((_, i) => i % 3 !== 0)
    expect(new Set(a.g.candidates())).toEqual(new Set(['seed', ...kept]))
    expect(a.g.candidates()).toHaveLength(kept.length + 1)
    a.g.load([plain('c0', 3, 'up'), plain('c3', 2, 'left')])
    expect(new Set(a.g.candidates())).toEqual(new Set(['seed', 'c0', ...kept]))
    // Left members are not gossiped with, even when suspected every fourth period.
    for (const id of many) a.detector.suspect(id as NodeId)
    a.detector.suspect('seed' as NodeId)
    a.detector.suspect('c3' as NodeId)
    const targets = new Set<string>()
    for (let t = 0; t < 40; t++) {
      const before = w.log.length
      a.g.tick()
      for (const x of gsumTargets(w.log.slice(before), 'a')) targets.add(x)
      w.drop()
    }
    expect(targets.has('c3')).toBe(false)
    // The first member in the pool leaves, then the last.
    const b = w.add('b')
    b.g.load(ids(20, 'x').map((id) => plain(id)))
    b.g.load([plain('x0', 2, 'left')])
    expect(new Set(b.g.candidates())).toEqual(new Set(ids(20, 'x').slice(1)))
    b.g.load([plain('x19', 2, 'left'), plain('x18', 2, 'left')])
    expect(new Set(b.g.candidates())).toEqual(new Set(ids(20, 'x').slice(1, 18)))
    expect(b.g.candidates()).toHaveLength(17)
    expect(targets.has('c6')).toBe(false)
    expect(targets.size).toBeGreaterThan(0)
  })
})

describe('greeting', () => {
  it('greets three random peers, not the seeds, when the first answers', async () => {
    const w = world()
    const a = w.add('a', { seeds: ['s'], peers: ['a', 'p0', 'p1'] })
    for (const id of ['p0', 'p1', 'p2', 'p3', 'p4', 's']) w.add(id)
    a.g.load(['p2', 'p3', 'p4'].map((id) => plain(id)))
    const start = w.log.length
    let done = false
    void a.g.greet(5000).then(() => (done = true))
    await settle(w)
    const greeted = gsumTargets(w.log.slice(start), 'a')
    expect(greeted).toHaveLength(3)
    expect(new Set(greeted).size).toBe(3)
    expect(greeted).not.toContain('s')
    expect(greeted).not.toContain('a')
    expect(greeted).toEqual(['p2', 'p0', 'p1'])
    expect(done).toBe(true)
  })

  it('knowing nobody, greets every seed; with the first peer silent, the seeds too', async () => {
    const w = world()
    const a = w.add('a', { seeds: ['a', 's1', 's2'] })
    w.add('s1')
    w.add('s2')
    const start = w.log.length
    let done = false
    void a.g.greet(5000).then(() => (done = true))
    await settle(w)
    expect(gsumTargets(w.log.slice(start), 'a')).toEqual(['s1', 's2'])
    expect(done).toBe(true)
    expect(a.g.view.size).toBe(3)

    const w2 = world()
    const b = w2.add('b', { seeds: ['s'], peers: ['x'] })
    w2.add('s')
    const from = w2.log.length
    let over = false
    void b.g.greet(5000).then(() => (over = true))
    await settle(w2)
    expect(gsumTargets(w2.log.slice(from), 'b')).toEqual(['x'])
    expect(over).toBe(false)
    w2.advance(4999)
    await settle(w2)
    expect(gsumTargets(w2.log.slice(from), 'b')).toEqual(['x'])
    w2.advance(1)
    await settle(w2)
    expect(gsumTargets(w2.log.slice(from), 'b')).toEqual(['x', 's'])
    expect(over).toBe(true)
  })

  it('knowing nobody and the first seed silent, greets each seed once', async () => {
    const w = world()
    const a = w.add('a', { seeds: ['s1', 's2'] })
    w.add('s2')
    const start = w.log.length
    let done = false
    void a.g.greet(3000).then(() => (done = true))
    await settle(w)
    expect(gsumTargets(w.log.slice(start), 'a')).toEqual(['s1'])
    w.advance(3000)
    await settle(w)
    expect(gsumTargets(w.log.slice(start), 'a')).toEqual(['s1', 's2'])
    expect(done).toBe(true)
  })

  it('with nobody to greet, resolves at once', async () => {
    const w = world()
    const a = w.add('a', { seeds: ['a'] })
    await a.g.greet(1000)
    expect(w.log).toHaveLength(0)
  })
})

describe('pushing and confirming a leave', () => {
  it('announce pushes its own entry to four members, those believed up first', () => {
    const w = world()
    const a = w.add('a')
    a.g.load(ids(6, 'u').map((id) => plain(id)))
    a.g.setSelf('leaving')
    const start = w.log.length
    a.g.announce()
    const sent = w.log.slice(start)
    expect(sent).toHaveLength(4)
    expect(new Set(sent.map((s) => s.to)).size).toBe(4)
    expect(sent.map((s) => s.to)).toEqual(['u0', 'u4', 'u5', 'u1'])
    for (const m of decoded(sent)) expect(m).toEqual({ t: 'g-delta', members: [expect.objectContaining({ id: 'a', status: 'leaving' })], want: [] })
    w.drop()
    const b = w.add('b')
    b.g.load([...ids(3, 'u').map((id) => plain(id)), ...ids(3, 'd').map((id) => plain(id))])
    for (const id of ids(3, 'd')) b.detector.suspect(id as NodeId)
    const from = w.log.length
    b.g.announce()
    const to = w.log.slice(from).map((s) => s.to)
    expect(to).toHaveLength(4)
    expect(to.slice(0, 3).sort()).toEqual(['u0', 'u1', 'u2'])
    expect(to[3]).toMatch(/^d/)
    const more = w.log.length
    b.g.announce(2)
    expect(w.log.slice(more).map((s) => s.to).every((t) => t.startsWith('u'))).toBe(true)
    expect(w.log.length - more).toBe(2)
    w.drop()
    const c = w.add('c', { self: false })
    c.g.load(ids(3, 'u').map((id) => plain(id)))
    const none = w.log.length
    c.g.announce()
    expect(w.log.length).toBe(none)
  })

  it('confirm: nobody to ask is false at once; an agreeing peer is true; silent peers are asked until the time is up', async () => {
    const w = world()
    const a = w.add('a')
    expect(await a.g.confirm(5000)).toBe(false)
    w.add('b')
    w.exchange('a', 'b')
    a.g.setSelf('left')
    let ok: boolean | undefined
    void a.g.confirm(5000).then((x) => (ok = x))
    await settle(w)
    expect(ok).toBe(true)
    const w2 = world()
    const c = w2.add('c')
    c.g.load([plain('x')])
    let res: boolean | undefined
    const start = w2.log.length
    void c.g.confirm(2500).then((x) => (res = x))
    for (let i = 0; i < 5; i++) {
      await settle(w2, 2)
      w2.advance(1000)
    }
    await settle(w2, 2)
    expect(res).toBe(false)
    expect(gsumTargets(w2.log.slice(start), 'c')).toEqual(['x', 'x', 'x'])
    // A node that stopped asks nobody.
    const running = { on: false }
    const w3 = world()
    const d = w3.add('d', { running })
    w3.add('e')
    d.g.load([plain('e')])
    expect(await d.g.confirm(5000)).toBe(false)
    expect(w3.log).toHaveLength(0)
  })
})

describe('confirming with members up and down', () => {
  it('asks a member believed up first; with none up, a suspected one', async () => {
    const w = world()
    const a = w.add('a')
    w.add('u')
    a.g.load([plain('u'), ...ids(10, 'd').map((id) => plain(id))])
    for (const id of ids(10, 'd')) a.detector.suspect(id as NodeId)
    a.g.setSelf('left')
    const start = w.log.length
    let ok: boolean | undefined
    void a.g.confirm(5000).then((x) => (ok = x))
    await settle(w)
    expect(ok).toBe(true)
    expect(gsumTargets(w.log.slice(start), 'a')[0]).toBe('u')
    const w2 = world()
    const b = w2.add('b')
    w2.add('d')
    b.g.load([plain('d')])
    b.detector.suspect('d' as NodeId)
    let ok2: boolean | undefined
    void b.g.confirm(5000).then((x) => (ok2 = x))
    await settle(w2)
    expect(ok2).toBe(true)
  })
})

describe('digests and cells', () => {
  const cellsSent = (w: ReturnType<typeof world>, g: Gossip, size: number, bkt = false): Msg => {
    const start = w.log.length
    g.onSum('p' as NodeId, new Uint8Array(8).fill(9), size, true, bkt)
    const out = decoded(w.log.slice(start))
    w.drop()
    expect(out).toHaveLength(1)
    return out[0]!
  }

  it('a reply starts with twice the size gap in cells, whole rows of 8, at least 16 and at most VIEW_CELLS; past 512 apart, bucket sums', () => {
    const w = world()
    const a = w.add('a')
    const n = a.g.view.size
    const count = (size: number): number | string => {
      const m = cellsSent(w, a.g, size)
      return m.t === 'g-cells' ? m.c.length / 13 : m.t === 'g-bkt' ? `bkt ${m.h.length / 4}` : m.t
    }
    expect(count(n)).toBe(16)
    expect(count(n + 4)).toBe(16)
    expect(count(n + 8)).toBe(16)
    expect(count(n + 9)).toBe(24)
    expect(count(n + 21)).toBe(48)
    expect(count(n + 100)).toBe(200)
    expect(count(n + 511)).toBe(1024)
    expect(count(n + 512)).toBe(1024)
    expect(count(n + 513)).toBe('bkt 128')
    expect(count(n + 2000)).toBe('bkt 256')
    const m = cellsSent(w, a.g, n, true)
    expect(m.t).toBe('g-bkt')
    // A larger view than the peer's: sums over the larger size, gap either way.
    const b = w.add('b')
    b.g.load(ids(600, 'v').map((id) => plain(id)))
    const big = b.g.view.size
    expect(cellsSent(w, b.g, big - 20)).toMatchObject({ t: 'g-cells' })
    expect((cellsSent(w, b.g, big - 20) as Extract<Msg, { t: 'g-cells' }>).c.length / 13).toBe(40)
    expect(cellsSent(w, b.g, 1)).toMatchObject({ t: 'g-bkt' })
    expect((cellsSent(w, b.g, 1) as Extract<Msg, { t: 'g-bkt' }>).h.length / 4).toBe(128)
    expect((cellsSent(w, b.g, 1, true) as Extract<Msg, { t: 'g-bkt' }>).h.length / 4).toBe(128)
    expect(cellsSent(w, b.g, big - 520)).toMatchObject({ t: 'g-bkt' })
  })

  it('equal digests: a reply only when asked for, and nothing more', () => {
    const w = world()
    const a = w.add('a')
    a.g.onSum('b' as NodeId, a.g.view.digest(), 5, false)
    expect(w.log).toHaveLength(0)
    a.g.onSum('b' as NodeId, a.g.view.digest(), 5, true)
    expect(decoded(w.log)).toEqual([{ t: 'g-sum', d: [...a.g.view.digest()], n: 1, reply: false }])
    w.add('b')
    const ex = w.exchange('a', 'b')
    expect(decoded(ex)[0]).toEqual({ t: 'g-sum', d: expect.any(Array), n: 1, reply: true })
  })

  it('the next reply starts with cells for what recent exchanges found: a moving average of 0.3', () => {
    const w = world()
    const a = w.add('a')
    const b = w.add('b')
    a.g.load(ids(20, 'x').map((id) => plain(id)))
    b.g.load(ids(20, 'y').map((id) => plain(id)))
    w.exchange('a', 'b') // 42 items differed (each lacked the other's own entry too): 0.3 × 42 = 12.6
    const n = a.g.view.size
    const start = w.log.length
    a.g.onSum('q' as NodeId, new Uint8Array(8), n, true)
    const m = decodeMessage(w.log[start]!.bytes) as Extract<Msg, { t: 'g-cells' }>
    expect(m.c.length / 13).toBe(32)
    a.g.onSum('q' as NodeId, new Uint8Array(8), n + 17, true)
    expect((decodeMessage(w.log[start + 1]!.bytes) as Extract<Msg, { t: 'g-cells' }>).c.length / 13).toBe(40)
    w.drop()
  })

  it('g-more answers cells [at, at + k)', () => {
    const w = world()
    const a = w.add('a')
    a.g.load(ids(30, 'm').map((id) => plain(id)))
    a.g.onMore('b' as NodeId, 40, 24)
    expect(decoded(w.log)).toEqual([{ t: 'g-cells', at: 40, c: [...encodeCells(a.g.view.cellsAt(40, 24))] }])
  })

  it('decodes at most 16 exchanges at once, the oldest dropped; restarting one drops none', () => {
    for (const restart of [false, true]) {
      const w = world()
      const a = w.add('a')
      const b = w.add('b')
      a.g.load(ids(20, 'x').map((id) => plain(id)))
      b.g.load(ids(20, 'y').map((id) => plain(id)))
      const cells = (at: number, k: number): Uint8Array => encodeCells(b.g.view.cellsAt(at, k))
      const peers = ids(restart ? 16 : 17, 'p')
      for (const p of peers) a.g.onCells(p as NodeId, 0, cells(0, 16))
      if (restart) a.g.onCells('p5' as NodeId, 0, cells(0, 16))
      expect(w.log.filter((s) => s.t === 'g-more')).toHaveLength(peers.length + (restart ? 1 : 0))
      const start = w.log.length
      a.g.onCells('p0' as NodeId, 16, cells(16, 16))
      a.g.onCells('p1' as NodeId, 16, cells(16, 16))
      expect(w.log.slice(start).map((s) => s.to)).toEqual(restart ? ['p0', 'p1'] : ['p1'])
      w.drop()
    }
  })

  it('asks for no more than VIEW_CELLS, then compares bucket sums; a finished decode takes no more batches', () => {
    const w = world()
    const a = w.add('a')
    const b = w.add('b')
    a.g.load(ids(600, 'x').map((id) => plain(id)))
    b.g.load(ids(600, 'y').map((id) => plain(id)))
    const cells = (at: number, k: number): Uint8Array => encodeCells(b.g.view.cellsAt(at, k))
    a.g.onCells('b' as NodeId, 0, cells(0, 600))
    expect(decoded(w.log)).toEqual([{ t: 'g-more', at: 600, k: 424 }])
    a.g.onCells('b' as NodeId, 600, cells(600, 424))
    expect(decoded(w.log.slice(1))).toEqual([{ t: 'g-sum', d: [...a.g.view.digest()], n: 601, reply: true, bkt: true }])
    a.g.onCells('b' as NodeId, 1024, cells(0, 16))
    expect(w.log).toHaveLength(2)
    w.drop()
    // Decoded: what the peer lacks goes, what this view lacks is asked for; later batches are old.
    const w2 = world()
    const c = w2.add('c')
    const d = w2.add('d')
    c.g.load([plain('k1')])
    d.g.load([plain('k2')])
    const dc = (at: number, k: number): Uint8Array => encodeCells(d.g.view.cellsAt(at, k))
    c.g.onCells('d' as NodeId, 0, dc(0, 16))
    const out = decoded(w2.log)
    expect(out).toEqual([{ t: 'g-delta', members: expect.any(Array), want: expect.any(Array), ask: true }])
    expect((out[0] as Extract<Msg, { t: 'g-delta' }>).members.map((m) => m.id).sort()).toEqual(['c', 'k1'])
    expect((out[0] as Extract<Msg, { t: 'g-delta' }>).want.length).toBe(12)
    c.g.onCells('d' as NodeId, 16, dc(16, 16))
    c.g.onCells('d' as NodeId, 0 + 16, dc(0, 16))
    expect(w2.log).toHaveLength(1)
    w2.drop()
  })

  it('bucket sums that match send nothing', () => {
    const w = world()
    const a = w.add('a')
    a.g.load(ids(50, 'm').map((id) => plain(id)))
    a.g.onBuckets('b' as NodeId, a.g.view.bucketSums(8))
    expect(w.log).toHaveLength(0)
    a.g.onBuckets('b' as NodeId, new Uint8Array(32))
    expect(decoded(w.log)).toMatchObject([{ t: 'g-ver', nb: 8 }])
    w.drop()
  })
})

describe('deltas', () => {
  it('travel in chunks of 1,024 members; only the last carries the want and the end', () => {
    const w = world()
    const a = w.add('a')
    const b = w.add('b')
    b.g.load(ids(2100, 'm').map((id) => plain(id)))
    a.g.load(ids(1030, 'n').map((id) => plain(id)))
    const sent = w.exchange('a', 'b')
    expect(sent.map((s) => s.t)).toEqual(['g-sum', 'g-bkt', 'g-ver', 'g-delta', 'g-delta', 'g-delta', 'g-delta', 'g-delta'])
    const deltas = decoded(sent.slice(3)) as Array<Extract<Msg, { t: 'g-delta' }>>
    expect(deltas.map((m) => m.members.length)).toEqual([1024, 1024, 53, 1024, 7])
    expect(deltas.map((m) => m.want.length)).toEqual([0, 0, 1031 * 6, 0, 0])
    expect(deltas.map((m) => m.end === true)).toEqual([false, false, true, false, false])
    expect(deltas.map((m) => m.ask === true)).toEqual([false, false, false, false, false])
    expect(a.g.view.digest()).toEqual(b.g.view.digest())
  })

  it('one chunk exactly when 1,024 members go', () => {
    const w = world()
    w.add('a')
    const b = w.add('b')
    b.g.load(ids(1023, 'm').map((id) => plain(id)))
    const sent = w.exchange('a', 'b')
    const deltas = decoded(sent.filter((s) => s.t === 'g-delta')) as Array<Extract<Msg, { t: 'g-delta' }>>
    expect(deltas.map((m) => m.members.length)).toEqual([1024, 1])
    expect(deltas[0]!.end).toBe(true)
  })

  it('a want is answered with what is held (never an unknown id), an ask always, and only an ask ends the answer', () => {
    const w = world()
    w.add('a')
    const b = w.add('b')
    b.g.load([plain('k')])
    // a asks b for b and k (a learns their short ids from b's cells).
    const sent = w.exchange('a', 'b')
    const ask = decoded(sent).find((m) => m.t === 'g-delta' && m.ask === true) as Extract<Msg, { t: 'g-delta' }>
    expect(ask.want.length).toBe(12)
    w.drop()
    const c = w.add('c')
    const start = w.log.length
    c.g.onDelta('a' as NodeId, [], ask.want)
    expect(decoded(w.log.slice(start))).toEqual([{ t: 'g-delta', members: [], want: [] }])
    const mid = w.log.length
    b.g.onDelta('a' as NodeId, [], ask.want)
    const answer = decoded(w.log.slice(mid)) as Array<Extract<Msg, { t: 'g-delta' }>>
    expect(answer).toHaveLength(1)
    expect(answer[0]!.members.map((m) => m.id).sort()).toEqual(['b', 'k'])
    expect(answer[0]!.end).toBeUndefined()
    const late = w.log.length
    b.g.onDelta('a' as NodeId, [], new Uint8Array(0), false, true)
    expect(decoded(w.log.slice(late))).toEqual([{ t: 'g-delta', members: [], want: [], end: true }])
    const none = w.log.length
    b.g.onDelta('a' as NodeId, [], new Uint8Array(0), true, false)
    expect(w.log.length).toBe(none)
    w.drop()
  })
})

describe('signed entries', () => {
  it('a closed cluster admits members whose credential passes, and signs with it', () => {
    const w = world()
    const a = w.add('a', { signed: true })
    expect(a.g.self?.key).toBeDefined()
    expect(a.g.self?.sig).toBeDefined()
    expect(a.g.self?.cred).toBeUndefined()
    a.g.onDelta('x' as NodeId, [entry('m1'), { ...entry('m2'), sig: entry('m3').sig }, { ...entry('m4'), key: undefined }, { ...entry('m5'), sig: undefined }], new Uint8Array(0))
    expect(a.g.refused).toBe(3)
    expect(a.g.view.get('m1')).toBeDefined()
    const base = simAuth(secret, 'c')
    const auth: MemberAuth = { ...base, credential: new Uint8Array([1, 2, 3]), admits: (_k, cred) => cred !== undefined && cred.length === 3 }
    const b = w.add('b', { signed: true })
    // Wire a credential-carrying, admitting auth into a fresh node of its own.
    const w2 = world()
    const c = w2.add('c', { signed: true })
    ;(c.g as unknown as { ctx: { transport: { auth: MemberAuth } } }).ctx.transport.auth = auth
    c.g.setSelf('up')
    expect(c.g.self?.cred).toEqual(new Uint8Array([1, 2, 3]))
    c.g.onDelta('x' as NodeId, [entry('n1'), { ...entry('n2'), cred: new Uint8Array([9, 9, 9]) }], new Uint8Array(0))
    expect(c.g.refused).toBe(1)
    expect(c.g.view.get('n2')).toBeDefined()
    expect(b.g.refused).toBe(0)
  })
})

describe('local expiry', () => {
  it('only members absent for removeAfterMs or more, in the view, not itself and not left; once each; back when heard', () => {
    const w = world()
    const a = w.add('a', { removeAfterMs: 10_000 })
    a.g.load([plain('u'), plain('j', 1, 'joining'), plain('l', 1, 'left'), plain('v')])
    for (const id of ['u', 'j', 'l', 'v', 'a', 'ghost']) a.detector.suspect(id as NodeId)
    w.advance(9_999)
    a.g.tick()
    expect(a.changes).toEqual([])
    w.advance(1)
    a.g.tick()
    expect(a.changes).toEqual([{ ids: ['u', 'j', 'v'], ring: true }])
    expect(a.g.members().map((m) => `${m.id}:${m.status}`)).toEqual(['a:up', 'j:left', 'l:left', 'u:left', 'v:left'])
    expect(a.g.view.get('u')?.status).toBe('up')
    a.g.tick()
    expect(a.changes).toHaveLength(1)
    a.detector.heard('j' as NodeId)
    a.g.tick()
    expect(a.changes.at(-1)).toEqual({ ids: ['j'], ring: false })
    expect(a.g.status(asNodeId('j'))).toBe('joining')
    a.detector.heard('u' as NodeId)
    a.g.tick()
    expect(a.changes.at(-1)).toEqual({ ids: ['u'], ring: true })
    expect(a.g.members().map((m) => `${m.id}:${m.status}`)).toEqual(['a:up', 'j:joining', 'l:left', 'u:up', 'v:left'])
    // Only a joining member expiring changes no ring.
    const b = w.add('b', { removeAfterMs: 10_000 })
    b.g.load([plain('j2', 1, 'joining')])
    b.detector.suspect('j2' as NodeId)
    w.advance(10_000)
    b.g.tick()
    expect(b.changes).toEqual([{ ids: ['j2'], ring: false }])
    // An expired member's newer entry is taken, but is out of the ring here: no ring change.
    a.g.onDelta('x' as NodeId, [plain('v', 2, 'up', 3)], new Uint8Array(0))
    expect(a.changes.at(-1)).toEqual({ ids: ['v'], ring: false })
  })

  it('the ring leaves out expired members and takes them back', () => {
    const w = world()
    const a = w.add('a', { removeAfterMs: 10 })
    a.g.load(ids(5, 'r').map((id) => plain(id)))
    const opts = { q: 32, n: 2 }
    let ring = a.g.ring(undefined, opts)
    expect(ring.members).toHaveLength(6)
    a.detector.suspect('r1' as NodeId)
    w.advance(10)
    a.g.tick()
    ring = a.g.ring(ring, opts)
    expect(ring.members.map((m) => m.id)).toEqual(buildRing(a.g.ringMembers(), opts).members.map((m) => m.id))
    expect(ring.members).toHaveLength(5)
    a.detector.heard('r1' as NodeId)
    a.g.tick()
    ring = a.g.ring(ring, opts)
    expect(ring.members).toHaveLength(6)
    a.g.load([plain('r2', 2, 'up', 4), plain('r3', 2, 'leaving')])
    ring = a.g.ring(ring, opts)
    expect(ring.members.map((m) => [m.id, m.weight])).toEqual(buildRing(a.g.ringMembers(), opts).members.map((m) => [m.id, m.weight]))
    expect(ring.members).toHaveLength(5)
  })
})

describe('the ring', () => {
  it('is the same object while nothing changed, rebuilt for other q or n, and a deferred ring has every field', () => {
    const w = world()
    const a = w.add('a')
    a.g.load(ids(4, 'r').map((id) => plain(id)))
    const opts = { q: 16, n: 2 }
    const r1 = a.g.ring(undefined, opts)
    expect(a.g.ring(r1, opts)).toBe(r1)
    const r2 = a.g.ring(r1, { q: 32, n: 2 })
    expect(r2.q).toBe(32)
    expect(r2.owners).toHaveLength(32)
    const r3 = a.g.ring(r2, { q: 32, n: 3 })
    expect(r3.n).toBe(3)
    expect(r3.owners[0]).toHaveLength(3)
    // A ring from elsewhere with other q: this node's is built afresh.
    const r4 = a.g.ring(r1, { q: 32, n: 3 })
    expect(r4.q).toBe(32)
    expect(r4.owners).toHaveLength(32)
    // No ring given, or none built here yet: built from the view; a ring given of the asked q and n
    // while the one built here has others: built again.
    expect(a.g.ring(undefined, { q: 32, n: 3 }).owners).toEqual(buildRing(a.g.ringMembers(), { q: 32, n: 3 }).owners)
    const other = w.add('o')
    other.g.load(ids(4, 'r').map((id) => plain(id)))
    expect(other.g.ring(r4, { q: 32, n: 3 }).owners).toEqual(buildRing(other.g.ringMembers(), { q: 32, n: 3 }).owners)
    expect(a.g.ring(r1, { q: 16, n: 2 }).owners).toHaveLength(16)
    const r5 = a.g.ring(r2, { q: 32, n: 2 })
    expect(r5.n).toBe(2)
    expect(r5.owners[0]).toHaveLength(2)
    a.g.ring(r5, { q: 32, n: 3 })
    a.g.load([plain('r9')])
    const d = a.g.ring(r4, { q: 32, n: 3 })
    expect(Object.isFrozen(d)).toBe(true)
    const full = buildRing(a.g.ringMembers(), { q: 32, n: 3 })
    expect(Object.keys(d).sort()).toEqual(['fingerprint', 'members', 'n', 'ownerIndex', 'owners', 'q', 'tokens'])
    expect(d.tokens).toEqual(full.tokens)
    expect(d.fingerprint).toEqual(full.fingerprint)
    expect(d.ownerIndex).toEqual(full.ownerIndex)
    expect(d.members).toHaveLength(6)
    expect(a.g.ring(d, { q: 32, n: 3 }).owners).toBe(d.owners)
  })
})

describe('loading', () => {
  it('takes only entries newer than the view\'s', () => {
    const w = world()
    const a = w.add('a')
    a.g.load([plain('k', 3, 'up', 2)])
    a.g.load([plain('k', 2, 'left'), plain('k', 3, 'up', 2)])
    expect(a.g.view.get('k')).toEqual(plain('k', 3, 'up', 2))
    a.g.load([plain('k', 4, 'leaving')])
    expect(a.g.view.get('k')?.status).toBe('leaving')
  })
})

describe('odd inputs', () => {
  it('a want list of a broken length is refused as an invalid message; an unknown id has no status; a left stranger changes no pool', () => {
    const w = world()
    const a = w.add('a')
    let caught: unknown
    try {
      a.g.onDelta('x' as NodeId, [], new Uint8Array(5))
    } catch (e) {
      caught = e
    }
    expect(caught).toMatchObject({ code: 'INVALID_MESSAGE', message: 'want list: length' })
    expect(a.g.status(asNodeId('nobody'))).toBeUndefined()
    a.g.load(ids(5, 'p').map((id) => plain(id)))
    a.g.load([plain('stranger', 1, 'left')])
    expect(new Set(a.g.candidates())).toEqual(new Set(ids(5, 'p')))
    expect(a.g.candidates()).toHaveLength(5)
  })

  it('a batch with one member leaving among others is stored at once', () => {
    const w = world()
    const a = w.add('a')
    a.g.onDelta('x' as NodeId, [plain('u1'), plain('l1', 1, 'leaving')], new Uint8Array(0))
    expect(a.saved.map((x) => x.sort())).toEqual([['a', 'l1', 'u1']])
  })
})

describe('the stored view', () => {
  it('entries whose save failed are saved at the next round; nothing to save saves nothing', async () => {
    const w = world()
    const fail = { on: true }
    const a = w.add('a', { failSave: fail })
    a.g.load([plain('k')])
    await a.g.flush()
    a.g.onDelta('x' as NodeId, [plain('m')], new Uint8Array(0))
    await a.g.flush()
    expect(a.saved).toEqual([])
    fail.on = false
    await a.g.flush()
    expect(a.saved.map((x) => x.sort())).toEqual([['a', 'm']])
    await a.g.flush()
    expect(a.saved).toHaveLength(1)
  })
})
