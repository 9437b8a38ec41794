/**
 * The quorum coordinator (src/node/coordinator.ts) against a scripted node: whom a put, a get and a
 * routed write ask, when, with what request and for how long; which answers count toward W and R,
 * when a slow or silent replica is replaced (sloppy quorum, hints), when a call succeeds, fails or
 * times out and what its error says, and what read repair sends. The ring is real (one partition);
 * storage, peers, timers and the failure detector are the test's, so nothing runs that it did not
 * schedule.
 */
import { describe, expect, it } from 'vitest'
import { emptySet, update, type VersionSet } from '../../src/core/clock.js'
import { decodeContext, decodeSet, encodeContext as encodeContextOf, encodeSet } from '../../src/core/record.js'
import { buildRing, preferenceList } from '../../src/core/ring.js'
import { DynameshError } from '../../src/errors.js'
import type { NodeContext } from '../../src/node/context.js'
import { coordinateGet, coordinatePut, routeWrite } from '../../src/node/coordinator.js'
import type { Miss, Reply } from '../../src/node/rpc.js'
import { asNodeId, type NodeId } from '../../src/types.js'

const KEY = new TextEncoder().encode('k')
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
const text = (v: Uint8Array | null | undefined): string | null => (v ? new TextDecoder().decode(v) : null)
const values = (s: VersionSet | undefined): Array<string | null> => (s ? s.siblings.map((x) => text(x.value)).sort() : [])
/** A set holding `value`, stamped by replica `id`. */
const version = (id: string, value: string | null, base: VersionSet = emptySet): VersionSet =>
  update(base, base.vv, id, value === null ? null : bytes(value), 0)

const ack: Reply = { t: 'store-r', rid: 0, ok: true }
const refused = (err?: string): Reply => ({ t: 'store-r', rid: 0, ok: false, ...(err ? { err } : {}) })
const silence: Miss = { t: 'miss', why: 'timeout', detail: 'no answer within 9 ms' }
const got = (set: VersionSet | undefined): Reply => ({ t: 'get-r', rid: 0, rec: set ? encodeSet(set) : null })

interface Call { to: NodeId; req: Record<string, unknown>; ms: number; at: number; answer: (r: Reply | Miss) => void; fail: (e: unknown) => void }

/**
 * A node on a ring of `members` (n primaries per key, one partition). `walk` is the key's whole ring
 * walk: walk[0..n-1] its primaries, the rest in the order fallbacks are taken. The node is walk[self].
 */
function setup(opts: { members?: string[]; n?: number; self?: number; chance?: number; random?: number; held?: VersionSet } = {}) {
  const members = opts.members ?? ['m1', 'm2', 'm3', 'm4', 'm5', 'm6']
  const n = opts.n ?? 3
  const ring = buildRing(members.map((id) => ({ id: asNodeId(id), weight: 1 })), { q: 1, n })
  const walk = preferenceList(ring, 0, members.length, () => true).map((e) => e.node)
  const id = walk[opts.self ?? 0]!
  let now = 0
  let running = true
  let held: VersionSet | undefined = opts.held
  const down = new Set<NodeId>()
  const timers: Array<{ at: number; fn: () => void; live: boolean }> = []
  const calls: Call[] = []
  const suspected: NodeId[] = []
  const sent: Array<{ to: NodeId; msg: Record<string, unknown> }> = []
  const events: unknown[] = []
  const applied: Array<{ set: VersionSet; hint: string | undefined }> = []
  const modified: Array<string | undefined> = []
  const h = {
    walk,
    id,
    down,
    calls,
    suspected,
    sent,
    events,
    applied,
    modified,
    timers,
    held: () => held,
    readFails: false,
    sendThrows: undefined as unknown,
    stop: () => void (running = false),
    now: () => now,
    /** Moves the clock to `t`, firing due timers in order. */
    at: (t: number): void => {
      for (;;) {
        const due = timers.filter((x) => x.live && x.at <= t).sort((a, b) => a.at - b.at)[0]
        if (!due) break
        due.live = false
        now = due.at
        due.fn()
      }
      now = t
    },
    /** The calls to `to`, in order. */
    to: (to: NodeId): Call[] => calls.filter((c) => c.to === to),
    ctx: undefined as unknown as NodeContext,
  }
  h.ctx = {
    id,
    env: {
      now: () => now,
      random: () => opts.random ?? 0.5,
      setTimer: (ms: number, fn: () => void) => {
        const t = { at: now + ms, fn, live: true }
        timers.push(t)
        return () => void (t.live = false)
      },
    },
    config: opts.chance === undefined ? {} : { readRepairChance: opts.chance },
    store: {
      partitionOf: () => 0,
      modify: async (_key: Uint8Array, hint: string | undefined, change: (known: VersionSet) => VersionSet) => {
        modified.push(hint)
        held = change(held ?? emptySet)
        return held
      },
      readAll: async () => {
        if (h.readFails) throw new Error('disk')
        return held
      },
      apply: async (_key: Uint8Array, set: VersionSet, hint?: string) => {
        applied.push({ set, hint })
        return set
      },
    },
    rpc: {
      call: (to: NodeId, req: Record<string, unknown>, ms: number) =>
        new Promise<Reply | Miss>((answer, fail) => calls.push({ to, req, ms, at: now, answer, fail })),
    },
    detector: { suspect: (node: NodeId) => void suspected.push(node) },
    ring: () => ring,
    isUp: (node: NodeId) => node === id || !down.has(node),
    dotId: () => id,
    send: (to: NodeId, msg: Record<string, unknown>) => {
      if (h.sendThrows !== undefined) throw h.sendThrows
      sent.push({ to, msg })
    },
    emit: (ev: unknown) => void events.push(ev),
    running: () => running,
  } as unknown as NodeContext
  return h
}
const tick = (): Promise<void> => new Promise((r) => setImmediate(r))
/** Records how a promise settles, without an unhandled rejection. */
function watch<T>(p: Promise<T>): { value?: T; error?: unknown; settled: boolean } {
  const w: { value?: T; error?: unknown; settled: boolean } = { settled: false }
  p.then((v) => Object.assign(w, { value: v, settled: true }), (e: unknown) => Object.assign(w, { error: e, settled: true }))
  return w
}
/** Lets the forward to `to` that started at `start` with `attempt` ms send all its copies, and silences them. */
const hushForward = async (h: ReturnType<typeof setup>, to: NodeId, start: number, attempt: number): Promise<void> => {
  h.at(start + 3 * Math.floor(attempt / 6))
  for (const x of h.to(to)) x.answer(silence)
  await tick()
  await tick()
}
const codeOf = (e: unknown): string | undefined => (e instanceof DynameshError ? e.code : undefined)
const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e))

describe('coordinatePut', () => {
  it('stores here first, then sends the record to the rest of the list, each with the call and a quarter of it as its share', async () => {
    const h = setup()
    const [, b, c] = h.walk
    const w = watch(coordinatePut(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 2, timeoutMs: 1000 }))
    await tick()
    expect(values(h.held())).toEqual(['v'])
    expect(h.modified).toEqual([undefined])
    expect(h.calls.map((x) => [x.to, x.ms])).toEqual([[b, 1000], [c, 1000]])
    const req = h.calls[0]!.req as { t: string; ack: boolean; items: Array<{ key: Uint8Array; rec: Uint8Array; hint?: string }> }
    expect(req.t).toBe('store')
    expect(req.ack).toBe(true)
    expect(req.items.length).toBe(1)
    expect(req.items[0]!.key).toBe(KEY)
    expect('hint' in req.items[0]!).toBe(false)
    expect(values(decodeSet(req.items[0]!.rec))).toEqual(['v'])
    // Share of the call: 250 ms, then suspected.
    h.at(249)
    expect(h.suspected).toEqual([])
    h.at(250)
    expect(h.suspected).toEqual([b, c])
    expect(w.settled).toBe(false)
    h.calls[0]!.answer(ack)
    await tick()
    expect(w.settled).toBe(true)
    expect(w.value).toBe(h.held())
  })

  it('acknowledges at once with w = 1 and still sends to the rest of the list', async () => {
    const h = setup()
    const w = watch(coordinatePut(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 1, timeoutMs: 1000 }))
    await tick()
    await tick()
    expect(w.settled).toBe(true)
    expect(h.calls.map((x) => x.to)).toEqual(h.walk.slice(1, 3))
  })

  it('sends a down primary\'s copy to the next node up, with a hint for it', async () => {
    const h = setup()
    const [, b, c, d] = h.walk
    h.down.add(b!)
    const w = watch(coordinatePut(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 3, timeoutMs: 1000 }))
    await tick()
    expect(h.calls.map((x) => x.to)).toEqual([c, d])
    const items = (h.calls[1]!.req as { items: Array<{ hint?: string }> }).items
    expect(items[0]!.hint).toBe(b)
    h.calls[0]!.answer(ack)
    await tick()
    expect(w.settled).toBe(false)
    h.calls[1]!.answer(ack)
    await tick()
    expect(w.settled).toBe(true)
  })
})

describe('coordinatePut: slow and failing replicas', () => {
  it('replaces each replica silent past its share with the next node along the walk, hinted for it, with a share of what is left', async () => {
    const h = setup()
    const [, b, c, d, e] = h.walk
    const w = watch(coordinatePut(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 3, timeoutMs: 1000 }))
    await tick()
    h.at(250)
    expect(h.suspected).toEqual([b, c])
    expect(h.calls.map((x) => [x.to, x.ms, x.at, (x.req as { items: Array<{ hint?: string }> }).items[0]!.hint])).toEqual([
      [b, 1000, 0, undefined], [c, 1000, 0, undefined], [d, 750, 250, b], [e, 750, 250, c],
    ])
    // Their share: a quarter of the 750 ms left.
    h.at(436)
    expect(h.suspected.length).toBe(2)
    h.at(437)
    expect(h.suspected).toEqual([b, c, d, e])
    // A slow replica's late answer still counts.
    h.calls[0]!.answer(ack)
    h.calls[2]!.answer(ack) // a hint for b: b's copy again
    await tick()
    expect(w.settled).toBe(false)
    h.calls[3]!.answer(ack)
    await tick()
    expect(w.settled).toBe(true)
  })

  it('gives a replica more time for a big record: a millisecond per 4000 bytes', async () => {
    const h = setup()
    const [, b] = h.walk
    void watch(coordinatePut(h.ctx, KEY, new Uint8Array(12_000), emptySet.vv, { n: 3, w: 3, timeoutMs: 1000 }))
    await tick()
    h.at(252)
    expect(h.suspected).toEqual([])
    h.at(253)
    expect(h.suspected[0]).toBe(b)
  })

  it('gives a replica at least 20 ms, and never more than the call', async () => {
    const h = setup()
    void watch(coordinatePut(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 3, timeoutMs: 60 }))
    await tick()
    h.at(19)
    expect(h.suspected).toEqual([])
    h.at(20)
    expect(h.suspected.length).toBe(2)
    const g = setup()
    void watch(coordinatePut(g.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 3, timeoutMs: 10 }))
    await tick()
    expect(g.calls.map((x) => x.ms)).toEqual([10, 10])
    expect(g.timers.filter((t) => t.live).length).toBe(1) // the call's own: no share shorter than the call
  })

  it('asks the next node at once for a refusal, without suspecting the refusing replica; silence is suspected', async () => {
    const h = setup()
    const [, b, c, d, e] = h.walk
    const w = watch(coordinatePut(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 3, timeoutMs: 1000 }))
    await tick()
    h.at(10)
    h.calls[0]!.answer(refused('STORAGE_FAILED'))
    await tick()
    expect(h.suspected).toEqual([])
    expect(h.calls.map((x) => [x.to, x.at])).toEqual([[b, 0], [c, 0], [d, 10]])
    expect((h.calls[2]!.req as { items: Array<{ hint?: string }> }).items[0]!.hint).toBe(b)
    h.calls[1]!.answer(silence)
    await tick()
    expect(h.suspected).toEqual([c])
    expect(h.calls.map((x) => x.to)).toEqual([b, c, d, e])
    expect((h.calls[3]!.req as { items: Array<{ hint?: string }> }).items[0]!.hint).toBe(c)
    h.calls[2]!.answer(ack)
    h.calls[3]!.answer(ack)
    await tick()
    expect(w.settled).toBe(true)
    expect(w.error).toBeUndefined()
  })

  it('fails once nobody is left, saying why each replica did not acknowledge', async () => {
    const h = setup({ members: ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'a-rather-long-node-id'], n: 8 })
    const others = h.walk.slice(1)
    const w = watch(coordinatePut(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 8, w: 8, timeoutMs: 1000 }))
    await tick()
    expect(h.calls.map((x) => x.to)).toEqual(others)
    const answers: Array<Reply | Miss> = [
      refused('STORAGE_FAILED'),
      refused(),
      { t: 'miss', why: 'too-large', detail: 'over 1 MiB' },
      { t: 'miss', why: 'stopped', detail: 'x' },
      { t: 'get-r', rid: 0, rec: null, err: 'MESSAGE_TOO_LARGE' },
      { t: 'get-r', rid: 0, rec: null, err: 'INTERNAL' },
      { t: 'get-r', rid: 0, rec: null },
    ]
    answers.forEach((a, i) => h.calls[i]!.answer(a))
    await tick()
    expect(w.settled).toBe(true)
    expect(codeOf(w.error)).toBe('QUORUM_FAILED')
    const why = ['refused (STORAGE_FAILED)', 'refused', 'too large to send (over 1 MiB)', 'this node stopped',
      'its reply is too large to send (MESSAGE_TOO_LARGE)', 'could not answer (INTERNAL)', 'unexpected reply']
    const name = (id: string): string => (id.length > 12 ? id.slice(0, 8) : id)
    expect(messageOf(w.error)).toBe(`put: 1 of 8 replicas acknowledged; ${others.map((id, i) => `${name(id)}: ${why[i]}`).join('; ')}`)
    expect(h.suspected).toEqual([])
    expect(h.timers.filter((t) => t.live)).toEqual([]) // nor the call's own timer
  })

  it('names a silent replica by its miss, and a 12-character id whole', async () => {
    const h = setup({ members: ['abcdefghijkl', 'm2', 'm3'], n: 3 })
    const [, b, c] = h.walk
    const w = watch(coordinatePut(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 2, timeoutMs: 1000 }))
    await tick()
    h.calls[0]!.answer(silence)
    h.calls[1]!.answer({ t: 'fwd-r', rid: 0, ok: true, ctx: '', code: '', message: '' } as unknown as Reply)
    await tick()
    expect(messageOf(w.error)).toBe(`put: 1 of 2 replicas acknowledged; ${b}: no answer within 9 ms; ${c}: unexpected reply`)
    expect(h.suspected).toEqual([b])
  })

  it('fails at once when no other replica is up, and says so', async () => {
    const h = setup({ members: ['m1', 'm2', 'm3'] })
    const [, b, c] = h.walk
    h.down.add(b!)
    h.down.add(c!)
    const w = watch(coordinatePut(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 2, timeoutMs: 1000 }))
    await tick()
    expect(h.calls).toEqual([])
    expect(codeOf(w.error)).toBe('QUORUM_FAILED')
    expect(messageOf(w.error)).toBe('put: 1 of 2 replicas acknowledged; no other replica of the key is up in this node\'s view')
    expect(values(h.held())).toEqual(['v'])
  })

  it('as a stand-in too: its own copy is the hinted owner\'s, and the owner is not asked', async () => {
    const h = setup({ members: ['m1', 'm2', 'm3', 'm4'], self: 3 })
    const [a, b, c] = h.walk
    h.down.add(a!)
    h.down.add(b!)
    h.down.add(c!)
    const w = watch(coordinatePut(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 2, timeoutMs: 1000, hintFor: a! }))
    await tick()
    expect(h.modified).toEqual([a])
    expect(h.calls).toEqual([])
    expect(messageOf(w.error)).toBe('put: 1 of 2 replicas acknowledged; no other replica of the key is up in this node\'s view')
  })

  it('counts one owner once: a fallback\'s hint for the owner this node already stands in for adds nothing', async () => {
    const h = setup({ members: ['m1', 'm2', 'm3', 'm4', 'm5', 'm6'], self: 5 })
    const [a, b, c, d] = h.walk
    h.down.add(a!)
    const w = watch(coordinatePut(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 2, timeoutMs: 1000, hintFor: a! }))
    await tick()
    expect(h.calls.map((x) => x.to)).toEqual([b, c, d])
    expect((h.calls[2]!.req as { items: Array<{ hint?: string }> }).items[0]!.hint).toBe(a)
    h.calls[2]!.answer(ack)
    await tick()
    expect(w.settled).toBe(false)
    h.calls[0]!.answer(ack)
    await tick()
    expect(w.settled).toBe(true)
    expect(w.error).toBeUndefined()
  })

  it('with w = 1 as a stand-in, acknowledges on its own copy', async () => {
    const h = setup({ self: 5 })
    const w = watch(coordinatePut(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 1, timeoutMs: 1000, hintFor: h.walk[0]! }))
    await tick()
    await tick()
    expect(w.settled).toBe(true)
    expect(w.error).toBeUndefined()
    expect(h.calls.map((x) => x.to)).toEqual(h.walk.slice(1, 3))
  })

  it('times out while a slow replica that is still up might answer, naming whom it waits for', async () => {
    const h = setup({ members: ['m1', 'm2', 'm3'] })
    const [, b, c] = h.walk
    const w = watch(coordinatePut(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 2, timeoutMs: 1000 }))
    await tick()
    h.at(999)
    await tick()
    expect(w.settled).toBe(false)
    h.at(1000)
    await tick()
    expect(codeOf(w.error)).toBe('TIMEOUT')
    expect(messageOf(w.error)).toBe(`put: 1 of 2 acknowledgements after 1000 ms; ${b}: no answer yet; ${c}: no answer yet`)
  })

  it('fails before the deadline once every slow replica left is one this node thinks down', async () => {
    const h = setup({ members: ['m1', 'm2', 'm3'] })
    const [, b, c] = h.walk
    const w = watch(coordinatePut(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 3, timeoutMs: 1000 }))
    await tick()
    h.down.add(b!)
    h.at(250)
    await tick()
    expect(w.settled).toBe(false) // c is slow but up
    h.at(300)
    h.calls[1]!.answer(refused())
    await tick()
    expect(codeOf(w.error)).toBe('QUORUM_FAILED')
    expect(messageOf(w.error)).toBe(`put: 1 of 3 replicas acknowledged; ${c}: refused; ${b}: no answer yet`)
  })

  it('fails once the only replica still out is one this node thinks down, the others having acknowledged', async () => {
    const h = setup({ members: ['m1', 'm2', 'm3'] })
    const w = watch(coordinatePut(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 3, timeoutMs: 1000 }))
    await tick()
    h.down.add(h.walk[2]!)
    h.at(250) // c gone; b slow and up
    h.calls[0]!.answer(ack)
    await tick()
    expect(codeOf(w.error)).toBe('QUORUM_FAILED')
    expect(messageOf(w.error)).toBe(`put: 2 of 3 replicas acknowledged; ${h.walk[2]}: no answer yet`)
  })

  it('fails with NOT_RUNNING when the node stopped, before or during the call', async () => {
    const h = setup()
    h.stop()
    const w = watch(coordinatePut(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 2, timeoutMs: 1000 }))
    await tick()
    expect(codeOf(w.error)).toBe('NOT_RUNNING')
    expect(h.calls).toEqual([])
    const g = setup()
    const v = watch(coordinatePut(g.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 3, timeoutMs: 1000 }))
    await tick()
    g.stop()
    g.calls[0]!.answer(refused())
    await tick()
    expect(codeOf(v.error)).toBe('NOT_RUNNING')
    expect(g.calls.length).toBe(2)
  })

  it('rejects with a transport error, made an Error when it is not one', async () => {
    for (const [thrown, message] of [[new Error('wire'), 'wire'], ['plain', 'plain']] as const) {
      const h = setup()
      const w = watch(coordinatePut(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 3, timeoutMs: 1000 }))
      await tick()
      h.calls[0]!.fail(thrown)
      await tick()
      expect(w.error).toBeInstanceOf(Error)
      expect(messageOf(w.error)).toBe(message)
    }
  })

  it('stops looking once acknowledged, yet still sends to the rest of the list', async () => {
    const h = setup()
    const [, b, c] = h.walk
    const w = watch(coordinatePut(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 2, timeoutMs: 1000 }))
    await tick()
    h.calls[0]!.answer(ack)
    await tick()
    expect(w.settled).toBe(true)
    h.at(250) // c slow: nothing more, the call is done
    expect(h.suspected).toEqual([])
    h.calls[1]!.answer(refused())
    await tick()
    expect(h.calls.map((x) => x.to)).toEqual([b, c]) // nobody further for c's refusal
  })
})

describe('coordinatePut: what is stored', () => {
  it('stamps a new version over what is held, with the node\'s dot', async () => {
    const h = setup({ held: version('x', 'old') })
    void watch(coordinatePut(h.ctx, KEY, bytes('new'), version('x', 'old').vv, { n: 3, w: 1, timeoutMs: 1000 }))
    await tick()
    expect(values(h.held())).toEqual(['new'])
    expect(h.held()!.siblings[0]!.dot.id).toBe(h.id)
  })

  it('does not stamp a write whose operation is already held, nor a retry whose version is already here', async () => {
    const op = { tag: 5, at: 7 }
    const held = update(emptySet, {}, 'x', bytes('v'), 0, { op })
    const h = setup({ held })
    const w = watch(coordinatePut(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 1, timeoutMs: 1000, op }))
    await tick()
    expect(h.held()).toBe(held)
    expect(w.value).toBe(held)
    const other = setup({ held })
    void watch(coordinatePut(other.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 1, timeoutMs: 1000, op: { tag: 5, at: 8 } }))
    await tick()
    expect(values(other.held())).toEqual(['v', 'v'])
    expect(other.held()!.siblings.find((s) => s.dot.id === other.id)?.op).toEqual({ tag: 5, at: 8 })

    const again = setup({ held: version('x', 'v') })
    void watch(coordinatePut(again.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 1, timeoutMs: 1000, again: true }))
    await tick()
    expect(values(again.held())).toEqual(['v'])
    const first = setup({ held: version('x', 'v') })
    void watch(coordinatePut(first.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 1, timeoutMs: 1000 }))
    await tick()
    expect(values(first.held())).toEqual(['v', 'v'])
  })

  it('merges what an earlier attempt found elsewhere before stamping', async () => {
    const h = setup({ held: version('x', 'here') })
    void watch(coordinatePut(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 1, timeoutMs: 1000, seen: version('y', 'there') }))
    await tick()
    expect(values(h.held())).toEqual(['here', 'there', 'v'])
    const found = setup({ held: version('x', 'here') })
    void watch(coordinatePut(found.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 1, timeoutMs: 1000, again: true, seen: version('y', 'v') }))
    await tick()
    expect(values(found.held())).toEqual(['here', 'v'])
  })

  it('refuses a write over the configured or default limits, storing and sending nothing', async () => {
    const h = setup({ held: version('x', 'a') })
    ;(h.ctx.config as { maxSiblings?: number }).maxSiblings = 1
    const w = watch(coordinatePut(h.ctx, KEY, bytes('b'), emptySet.vv, { n: 3, w: 1, timeoutMs: 1000 }))
    await tick()
    expect(codeOf(w.error)).toBe('TOO_MANY_SIBLINGS')
    expect(values(h.held())).toEqual(['a'])
    expect(h.calls).toEqual([])
    const g = setup()
    ;(g.ctx.config as { maxRecordBytes?: number }).maxRecordBytes = 64
    const v = watch(coordinatePut(g.ctx, KEY, new Uint8Array(100), emptySet.vv, { n: 3, w: 1, timeoutMs: 1000 }))
    await tick()
    expect(codeOf(v.error)).toBe('RECORD_TOO_LARGE')
    const big = setup()
    const x = watch(coordinatePut(big.ctx, KEY, new Uint8Array(4 * 1024 * 1024 + 1), emptySet.vv, { n: 3, w: 1, timeoutMs: 1000 }))
    await tick()
    expect(codeOf(x.error)).toBe('RECORD_TOO_LARGE')
    let many = emptySet
    for (let i = 0; i < 100; i++) many = update(many, {}, `r${i}`, bytes('s'), 0)
    const wide = setup({ held: many })
    const y = watch(coordinatePut(wide.ctx, KEY, bytes('one more'), emptySet.vv, { n: 3, w: 1, timeoutMs: 1000 }))
    await tick()
    expect(codeOf(y.error)).toBe('TOO_MANY_SIBLINGS')
    const under = setup({ held: update(emptySet, {}, 'r', bytes('s'), 0) })
    const z = watch(coordinatePut(under.ctx, KEY, bytes('two'), emptySet.vv, { n: 3, w: 1, timeoutMs: 1000 }))
    await tick()
    await tick()
    expect(z.error).toBeUndefined()
  })
})

describe('coordinateGet: hedged reads', () => {
  it('asks r replicas, this node first, and the rest of the list after 50 ms without all their answers', async () => {
    const h = setup({ chance: 0, self: 2, held: version('x', 'v') })
    const [a, b] = h.walk
    const w = watch(coordinateGet(h.ctx, KEY, { n: 3, r: 2, timeoutMs: 1000 }))
    await tick()
    expect(h.calls.map((x) => [x.to, x.ms, x.req.t, x.req.key])).toEqual([[a, 1000, 'get', KEY]])
    h.at(49)
    expect(h.calls.length).toBe(1)
    h.at(50)
    expect(h.calls.map((x) => [x.to, x.ms])).toEqual([[a, 1000], [b, 950]])
    expect(h.suspected).toEqual([])
    h.calls[1]!.answer(got(version('y', 'w')))
    await tick()
    expect(values(w.value as VersionSet)).toEqual(['v', 'w'])
  })

  it('answers with r replies without asking more', async () => {
    const h = setup({ chance: 0, held: version('x', 'v') })
    const [, b] = h.walk
    const w = watch(coordinateGet(h.ctx, KEY, { n: 3, r: 2, timeoutMs: 1000 }))
    await tick()
    h.at(10)
    h.calls[0]!.answer(got(version('x', 'v')))
    await tick()
    expect(values(w.value as VersionSet)).toEqual(['v'])
    h.at(1000)
    expect(h.calls.map((x) => x.to)).toEqual([b])
    expect(h.timers.filter((t) => t.live)).toEqual([])
  })

  it('hedges after three smoothed round trips of earlier get replies, at least 2 ms, at most a replica\'s share', async () => {
    const h = setup({ chance: 0, held: version('x', 'v') })
    const [, b, c] = h.walk
    /** Silence for every call still out: a miss times no round trip. */
    const hush = async (): Promise<void> => {
      for (let n = -1; n !== h.calls.length;) {
        n = h.calls.length
        for (const x of h.calls) x.answer(silence)
        await tick()
      }
    }
    const read = async (answerAt: number, answer: Reply | Miss = got(undefined), timeoutMs = 1000): Promise<void> => {
      const start = h.now()
      const w = watch(coordinateGet(h.ctx, KEY, { n: 3, r: 2, timeoutMs }))
      await tick()
      h.at(start + answerAt)
      h.to(b!).at(-1)!.answer(answer)
      await tick()
      await hush()
      expect(w.settled).toBe(true)
    }
    /** When the next read asks c, counted from its start. */
    const hedge = async (timeoutMs = 1000): Promise<number> => {
      const start = h.now()
      const before = h.to(c!).length
      void watch(coordinateGet(h.ctx, KEY, { n: 3, r: 2, timeoutMs }))
      await tick()
      for (let t = start; ; t++) {
        h.at(t)
        if (h.to(c!).length > before) {
          await hush()
          return t - start
        }
      }
    }
    expect(await hedge()).toBe(50) // nothing timed yet
    h.at(100)
    expect(await hedge(100)).toBe(25) // a quarter of 100 ms is less than 50
    h.at(200)
    await read(10)
    h.at(300)
    expect(await hedge()).toBe(30) // 3 x 10
    h.at(400)
    await read(18, silence)
    h.at(500)
    expect(await hedge()).toBe(30)
    h.at(600)
    await read(26) // 10 + (26 - 10) / 8 = 12
    h.at(700)
    expect(await hedge()).toBe(36)
    h.at(800)
    await read(21) // 12 + (21 - 12) / 8 = 13.125, three of them 39.375
    h.at(900)
    expect(await hedge()).toBe(40)
    const g = setup({ chance: 0, held: version('x', 'v') })
    const w = watch(coordinateGet(g.ctx, KEY, { n: 3, r: 2, timeoutMs: 1000 }))
    await tick()
    g.calls[0]!.answer(got(undefined)) // a round trip of 0 ms
    await tick()
    expect(w.settled).toBe(true)
    g.at(10)
    void watch(coordinateGet(g.ctx, KEY, { n: 3, r: 2, timeoutMs: 1000 }))
    await tick()
    g.at(11)
    expect(g.to(g.walk[2]!).length).toBe(0)
    g.at(12)
    expect(g.to(g.walk[2]!).length).toBe(1)
  })

  it('asks every replica at once with read repair\'s chance, drawing no number when it is 0 or 1', async () => {
    for (const [chance, random, all, draws] of [[1, 0.99, true, 0], [0, 0, false, 0], [0.5, 0.4, true, 1], [0.5, 0.5, false, 1], [undefined, 0.09, true, 1], [undefined, 0.1, false, 1]] as const) {
      const h = setup({ ...(chance === undefined ? {} : { chance }), random })
      let drawn = 0
      const env = h.ctx.env as { random: () => number }
      env.random = () => (drawn++, random)
      void watch(coordinateGet(h.ctx, KEY, { n: 3, r: 2, timeoutMs: 1000 }))
      await tick()
      expect([chance, random, h.calls.length, drawn]).toEqual([chance, random, all ? 2 : 1, draws])
    }
  })

  it('asks the rest at once when a replica fails, and hedges no more', async () => {
    const h = setup({ chance: 0 })
    const [, b, c] = h.walk
    const w = watch(coordinateGet(h.ctx, KEY, { n: 3, r: 2, timeoutMs: 1000 }))
    await tick()
    h.at(5)
    h.calls[0]!.answer({ t: 'get-r', rid: 0, rec: null, err: 'INTERNAL' })
    await tick()
    expect(h.calls.map((x) => [x.to, x.at])).toEqual([[b, 0], [c, 5]])
    expect(h.timers.filter((t) => t.live).length).toBe(2) // the call's own and c's share; no hedge
    h.calls[1]!.answer(got(version('y', 'w')))
    await tick()
    expect(values(w.value as VersionSet)).toEqual(['w'])
  })

  it('takes a malformed record as no answer', async () => {
    const h = setup({ chance: 0, members: ['m1', 'm2', 'm3'] })
    const [, b, c] = h.walk
    const w = watch(coordinateGet(h.ctx, KEY, { n: 3, r: 2, timeoutMs: 1000 }))
    await tick()
    h.calls[0]!.answer({ t: 'get-r', rid: 0, rec: new Uint8Array([9, 9, 9]) })
    await tick()
    expect(h.calls.map((x) => x.to)).toEqual([b, c])
    h.calls[1]!.answer(silence)
    await tick()
    expect(codeOf(w.error)).toBe('QUORUM_FAILED')
    expect(messageOf(w.error)).toBe(`get: 1 of 2 replicas answered; ${b}: malformed record; ${c}: no answer within 9 ms`)
  })

  it('asks the rest when this node cannot read its own copy', async () => {
    const h = setup({ chance: 0 })
    h.readFails = true
    const [, b, c] = h.walk
    const w = watch(coordinateGet(h.ctx, KEY, { n: 3, r: 1, timeoutMs: 1000 }))
    await tick()
    expect(h.calls.map((x) => x.to)).toEqual([b, c])
    h.calls[1]!.answer(got(version('y', 'w')))
    await tick()
    expect(values(w.value as VersionSet)).toEqual(['w'])
  })

  it('does not end on empty answers while a replica may hold the key: asks the rest, then waits for them', async () => {
    const h = setup({ chance: 0 })
    const [, b, c] = h.walk
    const w = watch(coordinateGet(h.ctx, KEY, { n: 3, r: 2, timeoutMs: 1000 }))
    await tick()
    h.calls[0]!.answer(got(undefined))
    await tick()
    expect(w.settled).toBe(false)
    expect(h.calls.map((x) => x.to)).toEqual([b, c])
    h.calls[1]!.answer(got(version('y', 'late')))
    await tick()
    expect(values(w.value as VersionSet)).toEqual(['late'])
    const g = setup({ chance: 0 })
    const v = watch(coordinateGet(g.ctx, KEY, { n: 3, r: 2, timeoutMs: 1000 }))
    await tick()
    g.calls[0]!.answer(got(undefined))
    await tick()
    g.calls[1]!.answer(got(undefined))
    await tick()
    expect(v.settled).toBe(true)
    expect(v.value).toBeUndefined()
    expect(v.error).toBeUndefined()
  })

  it('answers "absent" once the replicas still out are slow', async () => {
    const h = setup({ chance: 1 })
    const w = watch(coordinateGet(h.ctx, KEY, { n: 3, r: 2, timeoutMs: 1000 }))
    await tick()
    h.calls[0]!.answer(got(undefined))
    await tick()
    expect(w.settled).toBe(false)
    h.at(249)
    await tick()
    expect(w.settled).toBe(false)
    h.at(250)
    await tick()
    expect(w.settled).toBe(true)
    expect(w.value).toBeUndefined()
  })
})

describe('coordinateGet: failures', () => {
  it('times out naming the replicas it still waits for', async () => {
    const h = setup({ chance: 1, members: ['m1', 'm2', 'm3'] })
    const [, b, c] = h.walk
    const w = watch(coordinateGet(h.ctx, KEY, { n: 3, r: 3, timeoutMs: 1000 }))
    await tick()
    h.at(250)
    expect(h.suspected).toEqual([b, c])
    await tick()
    expect(w.settled).toBe(false)
    h.at(1000)
    await tick()
    expect(codeOf(w.error)).toBe('TIMEOUT')
    expect(messageOf(w.error)).toBe(`get: 1 of 3 replies after 1000 ms; ${b}: no answer yet; ${c}: no answer yet`)
  })

  it('fails before the deadline when the replicas still out are thought down', async () => {
    const h = setup({ chance: 1, members: ['m1', 'm2', 'm3'] })
    const [, b] = h.walk
    const w = watch(coordinateGet(h.ctx, KEY, { n: 3, r: 3, timeoutMs: 1000 }))
    await tick()
    h.down.add(b!)
    h.at(250)
    await tick()
    expect(w.settled).toBe(false)
    h.calls[1]!.answer(got(undefined))
    await tick()
    expect(codeOf(w.error)).toBe('QUORUM_FAILED')
    expect(messageOf(w.error)).toBe(`get: 2 of 3 replicas answered; ${b}: no answer yet`)
    // Enough replies, all empty, and the rest failed: the key is absent.
    const g = setup({ chance: 1, members: ['m1', 'm2', 'm3'] })
    const v = watch(coordinateGet(g.ctx, KEY, { n: 3, r: 1, timeoutMs: 1000 }))
    await tick()
    g.calls[0]!.answer(refused())
    await tick()
    expect(v.settled).toBe(false)
    g.calls[1]!.answer(silence)
    await tick()
    expect(v.settled).toBe(true)
    expect(v.error).toBeUndefined()
    expect(v.value).toBeUndefined()
  })

  it('asks one node further along the ring for each replica that fails, and no further', async () => {
    const h = setup({ chance: 1 })
    const [, b, c, d, e] = h.walk
    const w = watch(coordinateGet(h.ctx, KEY, { n: 3, r: 3, timeoutMs: 1000 }))
    await tick()
    expect(h.calls.map((x) => x.to)).toEqual([b, c])
    h.calls[0]!.answer({ t: 'miss', why: 'stopped', detail: '' })
    await tick()
    expect(h.calls.map((x) => x.to)).toEqual([b, c, d])
    h.calls[1]!.answer(refused())
    await tick()
    expect(h.calls.map((x) => x.to)).toEqual([b, c, d, e])
    h.calls[2]!.answer(got(undefined))
    h.calls[3]!.answer(got(version('y', 'w')))
    await tick()
    expect(values(w.value as VersionSet)).toEqual(['w'])
  })

  it('rejects with a transport error, made an Error when it is not one', async () => {
    for (const [thrown, message] of [[new Error('wire'), 'wire'], ['plain', 'plain']] as const) {
      const h = setup({ chance: 1 })
      const w = watch(coordinateGet(h.ctx, KEY, { n: 3, r: 3, timeoutMs: 1000 }))
      await tick()
      h.calls[0]!.fail(thrown)
      await tick()
      expect(w.error).toBeInstanceOf(Error)
      expect(messageOf(w.error)).toBe(message)
    }
  })
})

describe('coordinateGet: read repair', () => {
  it('sends the merged version, once every asked replica answered, to each one whose answer differed', async () => {
    const old = version('x', 'old')
    const fresh = version('y', 'new', old)
    const h = setup({ chance: 1, held: old, members: ['m1', 'm2', 'm3', 'm4'] })
    const [a, b, c, d] = h.walk
    h.down.add(b!)
    const w = watch(coordinateGet(h.ctx, KEY, { n: 3, r: 2, timeoutMs: 1000 }))
    await tick()
    expect(h.calls.map((x) => x.to)).toEqual([c, d])
    h.calls[0]!.answer(got(fresh))
    await tick()
    expect(values(w.value as VersionSet)).toEqual(['new'])
    expect(h.applied).toEqual([])
    h.calls[1]!.answer(got(old))
    await tick()
    expect(h.applied.map((x) => [values(x.set), x.hint])).toEqual([[['new'], undefined]])
    expect(h.sent.map((x) => x.to)).toEqual([d])
    const msg = h.sent[0]!.msg as { t: string; rid: number; ack: boolean; items: Array<{ key: Uint8Array; rec: Uint8Array; hint?: string }> }
    expect([msg.t, msg.rid, msg.ack, msg.items.length, msg.items[0]!.key, msg.items[0]!.hint]).toEqual(['store', 0, false, 1, KEY, b])
    expect(values(decodeSet(msg.items[0]!.rec))).toEqual(['new'])
    expect(h.events).toEqual([{ type: 'repair', kind: 'read', peer: d, keys: 1, bytes: msg.items[0]!.rec.length }])
    expect(a).toBe(h.id)
  })

  it('repairs a fallback that is this node under its hint, and a replica that held nothing', async () => {
    const fresh = version('y', 'new')
    const h = setup({ chance: 1, self: 3, members: ['m1', 'm2', 'm3', 'm4'] })
    const [a, b, c] = h.walk
    h.down.add(a!)
    void watch(coordinateGet(h.ctx, KEY, { n: 3, r: 2, timeoutMs: 1000 }))
    await tick()
    expect(h.calls.map((x) => x.to)).toEqual([b, c])
    h.calls[0]!.answer(got(fresh))
    h.calls[1]!.answer(got(undefined))
    await tick()
    expect(h.applied.map((x) => [values(x.set), x.hint])).toEqual([[['new'], a]])
    expect(h.sent.map((x) => [x.to, 'hint' in (x.msg as { items: object[] }).items[0]!])).toEqual([[c, false]])
  })

  it('sends no tombstone to a replica that holds nothing, nor anything when all agree or none holds the key', async () => {
    const dead = version('y', null)
    const h = setup({ chance: 1, held: dead })
    void watch(coordinateGet(h.ctx, KEY, { n: 3, r: 2, timeoutMs: 1000 }))
    await tick()
    h.calls[0]!.answer(got(undefined))
    h.calls[1]!.answer(got(dead))
    await tick()
    expect([h.sent, h.applied, h.events]).toEqual([[], [], []])
    const g = setup({ chance: 1 })
    void watch(coordinateGet(g.ctx, KEY, { n: 3, r: 2, timeoutMs: 1000 }))
    await tick()
    g.calls[0]!.answer(got(undefined))
    g.calls[1]!.answer(got(undefined))
    await tick()
    expect([g.sent, g.applied]).toEqual([[], []])
    const live = version('y', 'v')
    const f = setup({ chance: 1, held: live })
    void watch(coordinateGet(f.ctx, KEY, { n: 3, r: 2, timeoutMs: 1000 }))
    await tick()
    f.calls[0]!.answer(got(live))
    f.calls[1]!.answer(got(undefined))
    await tick()
    expect(f.sent.map((x) => x.to)).toEqual([f.walk[2]])
    expect(f.applied).toEqual([])
  })

  it('repairs nothing once the node stopped', async () => {
    const h = setup({ chance: 1, held: version('x', 'v') })
    void watch(coordinateGet(h.ctx, KEY, { n: 3, r: 2, timeoutMs: 1000 }))
    await tick()
    h.stop()
    h.calls[0]!.answer(got(undefined))
    h.calls[1]!.answer(got(undefined))
    await tick()
    expect(h.sent).toEqual([])
  })

  it('skips a replica its repair is too large for, and stops at any other send error', async () => {
    const h = setup({ chance: 1, held: version('x', 'v') })
    const [, b, c] = h.walk
    const send = h.ctx.send.bind(h.ctx)
    let refuse: string | undefined = b
    ;(h.ctx as { send: NodeContext['send'] }).send = (to, msg) => {
      if (to === refuse) throw new DynameshError('MESSAGE_TOO_LARGE', 'big')
      send(to, msg)
    }
    void watch(coordinateGet(h.ctx, KEY, { n: 3, r: 2, timeoutMs: 1000 }))
    await tick()
    h.calls[0]!.answer(got(undefined))
    h.calls[1]!.answer(got(undefined))
    await tick()
    expect(h.sent.map((x) => x.to)).toEqual([c])
    expect(h.events.length).toBe(1)
    const g = setup({ chance: 1, held: version('x', 'v') })
    const gsend = g.ctx.send.bind(g.ctx)
    ;(g.ctx as { send: NodeContext['send'] }).send = (to, msg) => {
      if (to === g.walk[1]) throw new Error('broken')
      gsend(to, msg)
    }
    const w = watch(coordinateGet(g.ctx, KEY, { n: 3, r: 2, timeoutMs: 1000 }))
    await tick()
    g.calls[0]!.answer(got(undefined))
    g.calls[1]!.answer(got(undefined))
    await tick()
    expect(g.sent).toEqual([])
    expect(values(w.value as VersionSet)).toEqual(['v'])
    refuse = undefined
  })
})

describe('routeWrite', () => {
  const fwdOk = (ctx: string): Reply => ({ t: 'fwd-r', rid: 0, ok: true, ctx, code: '', message: '' }) as unknown as Reply
  const fwdFailed = (code: string, message: string): Reply => ({ t: 'fwd-r', rid: 0, ok: false, ctx: '', code, message }) as unknown as Reply

  it('coordinates here when this node is a primary, and answers with the new context', async () => {
    const h = setup()
    const w = watch(routeWrite(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 1, timeoutMs: 1000 }))
    await tick()
    await tick()
    expect(h.modified).toEqual([undefined])
    expect(h.calls.every((x) => x.req.t === 'store')).toBe(true)
    expect(Object.keys(decodeContext(w.value as string))).toEqual([h.id])
    expect(h.held()!.siblings[0]!.op).toBeUndefined()
  })

  it('coordinates here under its hint when this node stands in for a down primary', async () => {
    const h = setup({ self: 3 })
    h.down.add(h.walk[1]!)
    void watch(routeWrite(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 1, timeoutMs: 1000 }))
    await tick()
    expect(h.modified).toEqual([h.walk[1]])
  })

  it('forwards to the first of the list otherwise, for half the call, and answers with its context', async () => {
    const h = setup({ self: 5 })
    const [a] = h.walk
    const context = version('x', 'old').vv
    const w = watch(routeWrite(h.ctx, KEY, bytes('v'), context, { n: 3, w: 2, timeoutMs: 1000 }))
    await tick()
    expect(h.calls.length).toBe(1)
    const { req, ms, to } = h.calls[0]!
    expect([to, ms]).toEqual([a, 500])
    expect({ ...req, op: 0 }).toEqual({ t: 'fwd', op: 0, at: 0, again: false, key: KEY, value: bytes('v'), ctx: encodeContextOf(context), w: 2, n: 3, timeoutMs: 400 })
    expect(req.op).toBe(2 ** 20 * 2 ** 32 + 2 ** 31)
    h.calls[0]!.answer(fwdOk('C'))
    await tick()
    expect(w.value).toBe('C')
    expect(h.modified).toEqual([])
  })

  it('forwards a write forwarded here with its own id and time', async () => {
    const h = setup({ self: 5 })
    h.at(50)
    void watch(routeWrite(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 2, timeoutMs: 1000, op: 77, at: 3, again: true }))
    await tick()
    expect([h.calls[0]!.req.op, h.calls[0]!.req.at, h.calls[0]!.req.again]).toEqual([77, 3, true])
  })

  it('passes on the failure the coordinator answered with, as QUORUM_FAILED when it is not a write\'s failure', async () => {
    for (const [code, expected] of [['TIMEOUT', 'TIMEOUT'], ['STORAGE_FAILED', 'STORAGE_FAILED'], ['NOT_RUNNING', 'QUORUM_FAILED'], ['no such code', 'QUORUM_FAILED']]) {
      const h = setup({ self: 5 })
      const w = watch(routeWrite(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 2, timeoutMs: 1000 }))
      await tick()
      h.calls[0]!.answer(fwdFailed(code!, 'why'))
      await tick()
      expect([code, codeOf(w.error), messageOf(w.error)]).toEqual([code, expected, 'why'])
      expect(h.modified).toEqual([])
    }
  })

  it('fails with NOT_RUNNING when this node stopped meanwhile', async () => {
    const h = setup({ self: 5 })
    const w = watch(routeWrite(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 2, timeoutMs: 1000 }))
    await tick()
    h.calls[0]!.answer({ t: 'miss', why: 'stopped', detail: '' })
    await tick()
    expect(codeOf(w.error)).toBe('NOT_RUNNING')
    expect(h.calls.length).toBe(1)
  })

  it('tries the next of the list when one cannot be sent the write, neither suspecting it nor taking the write for sent', async () => {
    const h = setup({ self: 5 })
    const [a, b] = h.walk
    const w = watch(routeWrite(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 2, timeoutMs: 1000 }))
    await tick()
    h.at(10)
    h.calls[0]!.answer({ t: 'miss', why: 'too-large', detail: '' })
    await tick()
    await tick()
    expect(h.calls.map((x) => [x.to, x.ms, x.req.again])).toEqual([[a, 500, false], [b, 495, false]])
    expect(h.suspected).toEqual([])
    h.calls[1]!.answer(fwdOk('D'))
    await tick()
    expect(w.value).toBe('D')
  })

  it('suspects a silent node and tries the next with half of what is left, as a retry; with nobody answering, coordinates here for the first owner', async () => {
    const h = setup({ self: 5 })
    const [a, b, c] = h.walk
    const w = watch(routeWrite(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 1, timeoutMs: 1000 }))
    await tick()
    await hushForward(h, a!, 0, 500) // at 249
    expect(h.suspected).toEqual([a])
    expect(h.to(b!).map((x) => [x.ms, x.at, x.req.again])).toEqual([[375, 249, true]])
    const op = h.calls[0]!.req.op
    expect(h.to(b!)[0]!.req.op).toBe(op)
    expect(h.to(b!)[0]!.req.at).toBe(0)
    await hushForward(h, b!, 249, 375) // at 435
    expect(h.to(c!).map((x) => [x.ms, x.at])).toEqual([[282, 435]])
    await hushForward(h, c!, 435, 282) // at 576
    expect(h.suspected).toEqual([a, b, c])
    // Then asks the nodes it tried and the owners what they hold, for a quarter of what is left.
    const gets = h.calls.filter((x) => x.req.t === 'get')
    expect(gets.map((x) => [x.to, x.ms, x.at])).toEqual([[a, 106, 576], [b, 106, 576], [c, 106, 576]])
    gets[0]!.answer(got(version('y', 'there')))
    gets[1]!.answer(got(undefined))
    gets[2]!.answer(silence)
    await tick()
    await tick()
    expect(h.modified).toEqual([a])
    expect(values(h.held())).toEqual(['there', 'v'])
    const mine = h.held()!.siblings.find((s) => s.dot.id === h.id)!
    expect(mine.op).toEqual({ tag: (op as number) % 2 ** 32, at: 0 })
    const stores = h.calls.filter((x) => x.req.t === 'store')
    expect(stores.map((x) => [x.to, x.ms])).toEqual([[b, 424], [c, 424]]) // a, whose copy this is, is not asked
    await tick()
    expect(Object.keys(decodeContext(w.value as string)).sort()).toEqual([h.id, 'y'].sort())
  })

  it('coordinates here at once, without forwarding or asking, when half the call is under 20 ms', async () => {
    const h = setup({ self: 5 })
    void watch(routeWrite(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 3, timeoutMs: 39 }))
    await tick()
    expect(h.modified).toEqual([h.walk[0]])
    expect(h.held()!.siblings[0]!.op).toBeUndefined()
    expect(h.calls.map((x) => [x.req.t, x.to, x.ms])).toEqual([['store', h.walk[1], 39], ['store', h.walk[2], 39]])
    const g = setup({ self: 5 })
    void watch(routeWrite(g.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 3, timeoutMs: 40 }))
    await tick()
    expect(g.calls.map((x) => [x.req.t, x.ms])).toEqual([['fwd', 20]])
  })

  it('with a silent first node and no time for a second, still asks the owners and keeps the write\'s id', async () => {
    const h = setup({ self: 5 })
    const [a, b, c] = h.walk
    void watch(routeWrite(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 1, timeoutMs: 60, op: 9, at: 4 }))
    await tick()
    await hushForward(h, a!, 0, 30) // at 15: 45 left, 22 for the next, 18 once it is done
    await hushForward(h, b!, 15, 22) // at 24: 36 left, 18
    const gets = h.calls.filter((x) => x.req.t === 'get')
    expect(gets.map((x) => [x.to, x.ms])).toEqual([[a, 9], [b, 9], [c, 9]])
    for (const x of gets) x.answer(silence)
    await tick()
    await tick()
    expect(h.held()!.siblings[0]!.op).toEqual({ tag: 9, at: 4 })
  })
  it('past its deadline, still asks and coordinates with at least a millisecond', async () => {
    const h = setup({ self: 5 })
    const [a] = h.walk
    void watch(routeWrite(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 3, timeoutMs: 100 }))
    await tick()
    h.at(200)
    for (const x of h.to(a!)) x.answer(silence)
    await tick()
    await tick()
    expect(h.calls.filter((x) => x.req.t === 'get').map((x) => x.ms)).toEqual([1, 1, 1])
    for (const x of h.calls) x.answer(silence)
    await tick()
    await tick()
    expect(h.calls.filter((x) => x.req.t === 'store').map((x) => x.ms)).toEqual([1, 1])
  })

  it('stamps a write forwarded here without its time with the time now', async () => {
    const h = setup({ self: 5 })
    h.at(50)
    void watch(routeWrite(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 1, timeoutMs: 30, op: 2 ** 32 + 6 }))
    await tick()
    expect(h.held()!.siblings[0]!.op).toEqual({ tag: 6, at: 50 })
  })
})


describe('coordinatePut: the search along the ring', () => {
  it('looks no further than the list once every primary has a copy, even short of w', async () => {
    const h = setup()
    const [, b, c] = h.walk
    const w = watch(coordinatePut(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 2, w: 3, timeoutMs: 1000 }))
    await tick()
    expect(h.calls.map((x) => x.to)).toEqual([b, c]) // c for b, until b has a copy
    h.calls[0]!.answer(ack)
    h.calls[1]!.answer(ack)
    await tick()
    expect(h.calls.length).toBe(2)
    expect(messageOf(w.error)).toBe('put: 2 of 3 replicas acknowledged')
  })

  it('no longer counts a slow replica as slow once it answered', async () => {
    const h = setup()
    const [, b, c, d, e] = h.walk
    void watch(coordinatePut(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 3, timeoutMs: 1000 }))
    await tick()
    h.at(250)
    expect(h.calls.map((x) => x.to)).toEqual([b, c, d, e])
    h.at(300)
    h.calls[0]!.answer(refused())
    await tick()
    expect(h.calls.length).toBe(4) // c, d and e may still bring the two copies missing
  })

  it('waits again for a replica once one thought down answered', async () => {
    const h = setup({ members: ['m1', 'm2', 'm3'] })
    const [, b] = h.walk
    const w = watch(coordinatePut(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 3, timeoutMs: 1000 }))
    await tick()
    h.down.add(b!)
    h.at(250)
    h.at(300)
    h.calls[0]!.answer(refused())
    await tick()
    expect(w.settled).toBe(false) // c is slow, not thought down
    h.at(1000)
    await tick()
    expect(codeOf(w.error)).toBe('TIMEOUT')
  })

  it('does not take a replica that answered in time for slow', async () => {
    const h = setup()
    const [, , c] = h.walk
    void watch(coordinatePut(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 3, timeoutMs: 1000 }))
    await tick()
    h.at(10)
    h.calls[0]!.answer(ack)
    await tick()
    h.at(250)
    expect(h.suspected).toEqual([c])
  })

  it('takes fallbacks past the list in walk order, skipping the list\'s own and nodes down, each a hint for the next owner owed', async () => {
    const h = setup({ members: ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7'] })
    const [, b, c, d, e, f, g] = h.walk
    h.down.add(b!)
    h.down.add(e!)
    void watch(coordinatePut(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 3, timeoutMs: 1000 }))
    await tick()
    const hints = (): Array<[NodeId, string | undefined]> => h.calls.map((x) => [x.to, (x.req as { items: Array<{ hint?: string }> }).items[0]!.hint])
    expect(hints()).toEqual([[c, undefined], [d, b]])
    h.at(250)
    expect(hints()).toEqual([[c, undefined], [d, b], [f, b], [g, c]])
  })
})

describe('coordinateGet: slow replicas and the search', () => {
  it('asks the whole list at once, with no hedge, when r covers it', async () => {
    const h = setup({ chance: 0 })
    void watch(coordinateGet(h.ctx, KEY, { n: 3, r: 3, timeoutMs: 1000 }))
    await tick()
    expect(h.calls.map((x) => x.to)).toEqual(h.walk.slice(1, 3))
    expect(h.timers.filter((t) => t.live).length).toBe(3) // the call's own and the two shares
  })

  it('does not take a replica that answered in time for slow', async () => {
    const h = setup({ chance: 1 })
    const [, , c] = h.walk
    void watch(coordinateGet(h.ctx, KEY, { n: 3, r: 3, timeoutMs: 1000 }))
    await tick()
    h.at(10)
    h.calls[0]!.answer(got(undefined))
    await tick()
    h.at(250)
    expect(h.suspected).toEqual([c])
  })

  it('replaces slow replicas with nodes further along, hinted for the owners without an answer, and repairs them under that hint', async () => {
    const h = setup({ chance: 1, held: version('x', 'v') })
    const [, b, c, d, e] = h.walk
    const w = watch(coordinateGet(h.ctx, KEY, { n: 3, r: 3, timeoutMs: 1000 }))
    await tick()
    h.at(250)
    expect(h.calls.map((x) => [x.to, x.ms, x.at])).toEqual([[b, 1000, 0], [c, 1000, 0], [d, 750, 250], [e, 750, 250]])
    h.calls[2]!.answer(got(undefined))
    h.calls[3]!.answer(got(undefined))
    await tick()
    expect(values(w.value as VersionSet)).toEqual(['v'])
    h.calls[0]!.answer(silence)
    h.calls[1]!.answer(silence)
    await tick()
    expect(h.sent.map((x) => [x.to, (x.msg as { items: Array<{ hint?: string }> }).items[0]!.hint])).toEqual([[d, b], [e, c]])
  })

  it('waits for a replica still out, not slow, before taking empty answers for absent', async () => {
    const h = setup({ chance: 1 })
    const [, b, c, d] = h.walk
    const w = watch(coordinateGet(h.ctx, KEY, { n: 3, r: 2, timeoutMs: 1000 }))
    await tick()
    h.at(250)
    expect(h.calls.map((x) => x.to)).toEqual([b, c, d])
    h.at(300)
    h.calls[0]!.answer(got(undefined))
    await tick()
    expect(w.settled).toBe(false) // d is not slow yet
    h.calls[1]!.answer(got(undefined))
    h.calls[2]!.answer(got(undefined))
    await tick()
    expect(w.settled).toBe(true)
    expect(w.value).toBeUndefined()
  })

  it('waits again for a replica once one thought down answered', async () => {
    const h = setup({ chance: 1, members: ['m1', 'm2', 'm3'] })
    const [, b] = h.walk
    const w = watch(coordinateGet(h.ctx, KEY, { n: 3, r: 3, timeoutMs: 1000 }))
    await tick()
    h.down.add(b!)
    h.at(250)
    h.at(300)
    h.calls[0]!.answer(got(undefined))
    await tick()
    expect(w.settled).toBe(false) // c is slow, not thought down
    h.at(1000)
    await tick()
    expect(codeOf(w.error)).toBe('TIMEOUT')
  })
})

describe('after the call ended', () => {
  it.each([
    ['put', (h: ReturnType<typeof setup>) => coordinatePut(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 3, timeoutMs: 20 })],
    ['get', (h: ReturnType<typeof setup>) => coordinateGet(h.ctx, KEY, { n: 3, r: 3, timeoutMs: 20 })],
  ] as const)('a %s that timed out asks nobody more for late failures', async (_kind, call) => {
    const h = setup({ chance: 1 }) // 20 ms: no share shorter than the call, so nobody slow
    const w = watch(call(h))
    await tick()
    h.at(20)
    await tick()
    expect(codeOf(w.error)).toBe('TIMEOUT')
    const asked = h.calls.length
    expect(asked).toBe(2)
    for (const x of h.calls) x.answer(refused())
    await tick()
    expect(h.calls.length).toBe(asked)
  })

  it('routeWrite with n = 0 coordinates here for the first owner other than itself', async () => {
    const h = setup()
    void watch(routeWrite(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 0, w: 1, timeoutMs: 1000 }))
    await tick()
    expect(h.modified).toEqual([h.walk[1]])
  })
})

describe('coordinatePut: whom the copies stand for', () => {
  const hintOf = (x: Call): string | undefined => (x.req as { items: Array<{ hint?: string }> }).items[0]!.hint

  it('hints the third fallback for the first owner owed again, in turn', async () => {
    const h = setup()
    const [, , , , , f] = h.walk
    void watch(coordinatePut(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 3, timeoutMs: 1000 }))
    await tick()
    h.at(437)
    expect(h.calls.slice(4).map((x) => [x.to, hintOf(x), x.at])).toEqual([[f, h.walk[1], 437]])
  })

  it('owes nothing more to a primary that acknowledged', async () => {
    const h = setup()
    const [, , c, d] = h.walk
    void watch(coordinatePut(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 3, timeoutMs: 1000 }))
    await tick()
    h.at(10)
    h.calls[0]!.answer(ack)
    await tick()
    h.at(250)
    expect(h.calls.slice(2).map((x) => [x.to, hintOf(x)])).toEqual([[d, c]])
  })

  it('owes nothing more to a primary whose hint a fallback acknowledged', async () => {
    const h = setup()
    const [, , c, , , f] = h.walk
    void watch(coordinatePut(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 3, timeoutMs: 1000 }))
    await tick()
    h.at(250) // d for b, e for c
    h.at(300)
    h.calls[2]!.answer(ack)
    await tick()
    h.at(437) // e slow: one more, for c only
    expect(h.calls.slice(4).map((x) => [x.to, hintOf(x)])).toEqual([[f, c]])
  })

  it('looks further when an acknowledgement stands for an owner already counted', async () => {
    const h = setup()
    const [, , c, , , f] = h.walk
    const w = watch(coordinatePut(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 3, timeoutMs: 1000 }))
    await tick()
    h.at(250) // d for b, e for c
    h.at(260)
    h.calls[0]!.answer(ack) // b itself
    await tick()
    h.at(270)
    h.calls[3]!.answer(refused()) // e
    await tick()
    expect(h.calls.length).toBe(4)
    h.at(280)
    h.calls[2]!.answer(ack) // d, for b: b again
    await tick()
    expect(h.calls.slice(4).map((x) => [x.to, hintOf(x), x.at])).toEqual([[f, c, 280]])
    h.calls[4]!.answer(ack)
    await tick()
    expect(w.settled).toBe(true)
    expect(w.error).toBeUndefined()
  })
})

describe('routeWrite: a retry asks what it tried', () => {
  it('asks the nodes it forwarded to, fallbacks too, then the owners, once each', async () => {
    const h = setup({ self: 5 })
    const [a, b, c, d] = h.walk
    h.down.add(b!)
    void watch(routeWrite(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 1, timeoutMs: 1000 }))
    await tick()
    await hushForward(h, a!, 0, 500)
    await hushForward(h, c!, 249, 375)
    await hushForward(h, d!, 435, 282)
    expect(h.calls.filter((x) => x.req.t === 'get').map((x) => x.to)).toEqual([a, c, d, b])
  })
})

describe('what a stopped node and an unreadable copy leave', () => {
  it('says the node stopped, for a put and for a forwarded write', async () => {
    const h = setup()
    h.stop()
    const w = watch(coordinatePut(h.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 2, timeoutMs: 1000 }))
    await tick()
    expect(messageOf(w.error)).toBe('node stopped')
    const g = setup({ self: 5 })
    const v = watch(routeWrite(g.ctx, KEY, bytes('v'), emptySet.vv, { n: 3, w: 2, timeoutMs: 1000 }))
    await tick()
    g.calls[0]!.answer({ t: 'miss', why: 'stopped', detail: '' })
    await tick()
    expect(messageOf(v.error)).toBe('node stopped')
  })

  it('repairs the replicas that answered once every one did, when this node could not read its own copy', async () => {
    const h = setup({ chance: 0 })
    h.readFails = true
    const [, , c] = h.walk
    const w = watch(coordinateGet(h.ctx, KEY, { n: 3, r: 1, timeoutMs: 1000 }))
    await tick()
    h.calls[0]!.answer(got(version('y', 'w')))
    await tick()
    expect(values(w.value as VersionSet)).toEqual(['w'])
    expect(h.sent).toEqual([])
    h.calls[1]!.answer(got(undefined))
    await tick()
    expect(h.sent.map((x) => x.to)).toEqual([c])
    expect(h.applied).toEqual([]) // nothing read here, nothing to compare
  })
})
