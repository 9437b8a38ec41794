/**
 * Hinted handoff, re-homing and ownership transfer (src/node/handoff.ts) against a scripted node
 * context: a real ReplicaStore over memory storage, a ring set by the test, and peers whose answers
 * (acknowledge, refuse, stay silent) the test chooses per call. Nothing else runs, so nothing else
 * can move data on the mechanism's behalf.
 */
import { describe, expect, it } from 'vitest'
import type { NodeEvent } from '../../src/api.js'
import { emptySet, merge, update, values, type VersionSet } from '../../src/core/clock.js'
import { FailureDetector } from '../../src/core/detector.js'
import { decodeSet } from '../../src/core/record.js'
import { buildRing, partitionOf, type Ring } from '../../src/core/ring.js'
import type { NodeContext } from '../../src/node/context.js'
import { deliverableHints, deliverHints, foreignPartitions, transferForeign, transferPending } from '../../src/node/handoff.js'
import { ReplicaStore } from '../../src/node/store.js'
import { memoryStorage } from '../../src/storage/memory.js'
import type { NodeId } from '../../src/types.js'
import type { Msg, StoreItem } from '../../src/wire/messages.js'

const Q = 8
const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const dec = (b: Uint8Array): string => new TextDecoder().decode(b)
const id = (s: string): NodeId => s as NodeId
const setOf = (v: string | Uint8Array): VersionSet => update(emptySet, {}, 'w.0', typeof v === 'string' ? enc(v) : v, 0)
const ringOf = (ids: string[], n = 1): Ring => buildRing(ids.map((x) => ({ id: id(x), weight: 1 })), { q: Q, n })

type Answer = 'ack' | 'refuse' | 'silent' | 'too-large' | 'stopped' | 'wrong-type'

interface Harness {
  ctx: NodeContext
  store: ReplicaStore
  /** Items each peer was sent, one array per store call. */
  calls: Array<{ to: string; items: StoreItem[]; timeoutMs: number }>
  events: NodeEvent[]
  epochs: () => number
  setRing(r: Ring): void
  down: Set<string>
  status: Map<string, 'joining' | 'up' | 'leaving' | 'left'>
  /** How a peer answers the next store calls (default: acknowledge). */
  answer: (to: string, call: number) => Answer
  /** Runs inside a call, before it is answered (the world changing while records are in flight). */
  during: (to: string) => void
  running: boolean
}

async function harness(self: string, ring: Ring): Promise<Harness> {
  const store = new ReplicaStore(memoryStorage(), Q)
  await store.open()
  let epochs = 0
  let currentRing = ring
  const h: Harness = {
    ctx: undefined as unknown as NodeContext,
    store,
    calls: [],
    events: [],
    epochs: () => epochs,
    setRing: (r) => void (currentRing = r),
    down: new Set(),
    status: new Map(),
    answer: () => 'ack',
    during: () => {},
    running: true,
  }
  const detector = new FailureDetector(() => 0)
  h.ctx = {
    id: id(self),
    env: { now: () => 0, setTimer: () => () => {}, random: () => 0.5 },
    config: { n: 1, r: 1, w: 1, q: Q, weight: 1, timeoutMs: 1234, maxValueBytes: 1 << 20, gossipMs: 1000, antiEntropyMs: 1000, handoffMs: 1000, removeAfterMs: 1e9 } as NodeContext['config'],
    store,
    rpc: {
      call: async (to: NodeId, req: { t: string; items?: StoreItem[] }, timeoutMs: number) => {
        const n = h.calls.filter((c) => c.to === to).length
        h.calls.push({ to, items: req.items ?? [], timeoutMs })
        h.during(to)
        const a = h.answer(to, n)
        if (a === 'silent') return { t: 'miss', why: 'timeout', detail: 'no answer' }
        if (a === 'too-large' || a === 'stopped') return { t: 'miss', why: a, detail: a }
        // A confused or hostile peer answering the request id with another kind of reply.
        if (a === 'wrong-type') return { t: 'fwd-r', rid: 1, ok: true, ctx: '', code: '', message: '' }
        return { t: 'store-r', rid: 1, ok: a === 'ack' } as Extract<Msg, { t: 'store-r' }>
      },
    } as unknown as NodeContext['rpc'],
    detector,
    transport: {} as NodeContext['transport'],
    ring: () => currentRing,
    memberStatus: (x) => h.status.get(x) ?? 'up',
    isUp: (x) => x === self || (!h.down.has(x) && detector.isUp(x)),
    dotId: () => `${self}.${epochs}`,
    newEpoch: async () => void epochs++,
    send: () => {},
    emit: (ev) => void h.events.push(ev),
    running: () => h.running,
  }
  return h
}

/** Keys whose partition `ring` gives to `owner` first, `count` of them. */
function keysOwnedBy(ring: Ring, owner: string, count: number, prefix = 'k'): string[] {
  const out: string[] = []
  for (let i = 0; out.length < count; i++) {
    const k = `${prefix}-${i}`
    if (ring.owners[partitionOf(enc(k), Q)]![0] === owner) out.push(k)
  }
  return out
}

/** `count` keys of one partition (transfers batch per partition). */
function keysInPartition(p: number, count: number): string[] {
  const out: string[] = []
  for (let i = 0; out.length < count; i++) if (partitionOf(enc(`p-${i}`), Q) === p) out.push(`p-${i}`)
  return out
}

const sentKeys = (h: Harness, to: string): string[] => h.calls.filter((c) => c.to === to).flatMap((c) => c.items.map((i) => dec(i.key))).sort()
const recordValue = async (h: Harness, k: string): Promise<string[] | undefined> => {
  const s = await h.store.readRecord(enc(k))
  return s ? values(s).map(dec) : undefined
}

describe('ownership transfer (transferForeign)', () => {
  it('sends every record of a foreign partition to its owner, then deletes it, keeping its replica id', async () => {
    const h = await harness('a', ringOf(['b']))
    const ks = keysOwnedBy(ringOf(['b']), 'b', 20)
    for (const k of ks) await h.store.apply(enc(k), setOf(`v-${k}`))
    expect(foreignPartitions(h.ctx).length).toBeGreaterThan(0)
    expect(transferPending(h.ctx)).toBe(true)
    expect(await transferForeign(h.ctx)).toBe(20)
    expect(sentKeys(h, 'b')).toEqual([...ks].sort())
    for (const c of h.calls) for (const it of c.items) expect(values(decodeSet(it.rec)).map(dec)).toEqual([`v-${dec(it.key)}`])
    // The call's timeout, plus the time its bytes take on a slow link.
    expect(h.calls.every((c) => c.timeoutMs >= 1234 && c.timeoutMs < 1300)).toBe(true)
    expect(h.store.recordCount).toBe(0)
    expect(h.epochs()).toBe(0)
    const transfers = h.events.filter((e) => e.type === 'repair' && e.kind === 'transfer')
    expect(transfers.reduce((n, e) => n + (e.type === 'repair' ? e.keys : 0), 0)).toBe(20)
    expect(transfers.every((e) => e.type === 'repair' && e.peer === 'b' && e.bytes > 0)).toBe(true)
    expect(foreignPartitions(h.ctx)).toEqual([])
    expect(transferPending(h.ctx)).toBe(false)
  })

  it('keeps partitions this node still owns, and sends nothing for them', async () => {
    const ring = ringOf(['a', 'b'])
    const h = await harness('a', ring)
    for (const k of keysOwnedBy(ring, 'a', 10)) await h.store.apply(enc(k), setOf('x'))
    expect(foreignPartitions(h.ctx)).toEqual([])
    expect(transferPending(h.ctx)).toBe(false)
    expect(await transferForeign(h.ctx)).toBe(0)
    expect(h.calls).toEqual([])
    expect(h.store.recordCount).toBe(10)
    expect(h.epochs()).toBe(0)
  })

  it('does nothing while the ring is empty (no members known yet)', async () => {
    const h = await harness('a', ringOf([]))
    await h.store.apply(enc('k'), setOf('x'))
    expect(foreignPartitions(h.ctx)).toEqual([])
    expect(await transferForeign(h.ctx)).toBe(0)
    expect(h.store.recordCount).toBe(1)
  })

  it('waits while no owner is reachable, and sends to the reachable ones only', async () => {
    const ring = ringOf(['b', 'c'], 2)
    const h = await harness('a', ring)
    const ks = keysOwnedBy(ring, 'b', 5)
    for (const k of ks) await h.store.apply(enc(k), setOf('x'))
    h.down.add('b').add('c')
    expect(transferPending(h.ctx)).toBe(false)
    expect(await transferForeign(h.ctx)).toBe(0)
    expect(h.calls).toEqual([])
    expect(h.store.recordCount).toBe(5)
    h.down.delete('c')
    expect(transferPending(h.ctx)).toBe(true)
    // An owner that is down gets the records from the other owner later (anti-entropy).
    expect(await transferForeign(h.ctx)).toBe(5)
    expect(new Set(h.calls.map((c) => c.to))).toEqual(new Set(['c']))
  })

  it('deletes a record only once every reachable owner acknowledged it', async () => {
    const ring = ringOf(['b', 'c'], 2)
    for (const refuser of ['b', 'c']) {
      const h = await harness('a', ring)
      const ks = keysOwnedBy(ring, 'b', 5)
      for (const k of ks) await h.store.apply(enc(k), setOf('x'))
      h.answer = (to) => (to === refuser ? 'refuse' : 'ack')
      expect(await transferForeign(h.ctx)).toBe(0)
      expect(sentKeys(h, 'b')).toEqual([...ks].sort())
      expect(sentKeys(h, 'c')).toEqual([...ks].sort())
      expect(h.store.recordCount).toBe(5)
      expect(h.epochs()).toBe(0)
      // A refusal is an answer: the owner stays reachable.
      expect(h.ctx.isUp(id(refuser))).toBe(true)
      h.answer = () => 'ack'
      expect(await transferForeign(h.ctx)).toBe(5)
      expect(h.store.recordCount).toBe(0)
    }
  })

  it('an owner that does not answer is suspected and keeps the records here', async () => {
    const ring = ringOf(['b'])
    const h = await harness('a', ring)
    for (const k of keysOwnedBy(ring, 'b', 3)) await h.store.apply(enc(k), setOf('x'))
    h.answer = () => 'silent'
    expect(await transferForeign(h.ctx)).toBe(0)
    expect(h.ctx.isUp(id('b'))).toBe(false)
    expect(h.store.recordCount).toBe(3)
    expect(h.events).toEqual([])
  })

  it('keeps the records when the ring handed the partition back while they were in flight', async () => {
    const h = await harness('a', ringOf(['b']))
    const ks = keysOwnedBy(ringOf(['b']), 'b', 10)
    for (const k of ks) await h.store.apply(enc(k), setOf('x'))
    // b acknowledges, but meanwhile b left and a owns every partition again.
    h.during = () => h.setRing(ringOf(['a']))
    expect(await transferForeign(h.ctx)).toBe(0)
    expect(h.calls.length).toBeGreaterThan(0)
    expect(h.store.recordCount).toBe(10)
    for (const k of ks) expect(await recordValue(h, k)).toEqual(['x'])
  })

  it('keeps a record that changed while it was in flight (the newer version is sent next time)', async () => {
    const ring = ringOf(['b'])
    const h = await harness('a', ring)
    const [k1, k2] = keysOwnedBy(ring, 'b', 2) as [string, string]
    await h.store.apply(enc(k1), setOf('old'))
    await h.store.apply(enc(k2), setOf('x'))
    let changed = false
    h.during = () => {
      if (changed) return
      changed = true
      void h.store.apply(enc(k1), update(emptySet, {}, 'other.0', enc('new'), 1))
    }
    expect(await transferForeign(h.ctx)).toBe(1)
    expect((await recordValue(h, k1))?.sort()).toEqual(['new', 'old'])
    expect(await recordValue(h, k2)).toBeUndefined()
  })

  it('sends at most 128 records per message', async () => {
    const ring = ringOf(['b'])
    const h = await harness('a', ring)
    const ks = keysInPartition(3, 300)
    for (const k of ks) await h.store.apply(enc(k), setOf('x'))
    expect(await transferForeign(h.ctx)).toBe(300)
    const sizes = h.calls.map((c) => c.items.length)
    expect(Math.max(...sizes)).toBe(128)
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(300)
    expect(sentKeys(h, 'b')).toEqual([...ks].sort())
  })

  it('keeps one message under 512 KiB of records, but always sends a record bigger than that alone', async () => {
    const ring = ringOf(['b'])
    const h = await harness('a', ring)
    const ks = keysInPartition(5, 6).sort()
    const sizes = [200, 200, 200, 600, 100, 100].map((kib) => kib * 1024)
    for (const [i, k] of ks.entries()) await h.store.apply(enc(k), setOf(new Uint8Array(sizes[i]!)))
    expect(await transferForeign(h.ctx)).toBe(6)
    for (const c of h.calls) {
      const bytes = c.items.reduce((n, it) => n + it.rec.length, 0)
      if (c.items.length > 1) expect(bytes).toBeLessThanOrEqual(512 * 1024)
    }
    // In key order: 200 + 200 fit, a third 200 does not; 600 KiB goes alone; 100 + 100 together.
    expect(h.calls.map((c) => c.items.length)).toEqual([2, 1, 1, 2])
    expect(sentKeys(h, 'b')).toEqual([...ks].sort())
  })

  it('gives a big batch the time its bytes take on a slow link on top of the call timeout', async () => {
    const ring = ringOf(['b'])
    const h = await harness('a', ring)
    const [small, big] = keysInPartition(4, 2).sort() as [string, string]
    await h.store.apply(enc(small), setOf('x'))
    await h.store.apply(enc(big), setOf(new Uint8Array(600 * 1024)))
    expect(await transferForeign(h.ctx)).toBe(2)
    const byKey = new Map(h.calls.map((c) => [dec(c.items[0]!.key), c.timeoutMs]))
    expect(byKey.get(small)).toBe(1234)
    // 600 KiB at 4,000 bytes/ms: about 154 ms more.
    expect(byKey.get(big)).toBeGreaterThanOrEqual(1234 + 150)
    expect(byKey.get(big)).toBeLessThan(1234 + 160)
    expect(Number.isInteger(byKey.get(big))).toBe(true)
  })

  it('skips a batch no message can carry and still moves the others; the skipped records stay', async () => {
    const ring = ringOf(['b'])
    const h = await harness('a', ring)
    const ks = keysInPartition(6, 300).sort()
    for (const k of ks) await h.store.apply(enc(k), setOf('x'))
    h.answer = (_to, call) => (call === 1 ? 'too-large' : 'ack')
    expect(await transferForeign(h.ctx)).toBe(300 - 128)
    expect(h.calls.length).toBe(3)
    expect(h.store.recordCount).toBe(128)
    expect(h.ctx.isUp(id('b'))).toBe(true)
    const kept = h.calls[1]!.items.map((i) => dec(i.key))
    for (const k of kept) expect(await recordValue(h, k)).toEqual(['x'])
  })

  it('an answer of the wrong kind is no acknowledgement', async () => {
    const ring = ringOf(['b'])
    const h = await harness('a', ring)
    await h.store.apply(enc(keysInPartition(0, 1)[0]!), setOf('x'))
    h.answer = () => 'wrong-type'
    expect(await transferForeign(h.ctx)).toBe(0)
    expect(h.store.recordCount).toBe(1)
  })

  it('a call cut short because this node stopped does not make the owner suspect', async () => {
    const ring = ringOf(['b'])
    const h = await harness('a', ring)
    await h.store.apply(enc(keysInPartition(0, 1)[0]!), setOf('x'))
    h.answer = () => 'stopped'
    expect(await transferForeign(h.ctx)).toBe(0)
    expect(h.ctx.isUp(id('b'))).toBe(true)
    expect(h.store.recordCount).toBe(1)
  })

  it('stops after the first batch an owner refuses; the acknowledged batches are deleted', async () => {
    const ring = ringOf(['b'])
    const h = await harness('a', ring)
    const ks = keysInPartition(2, 300)
    for (const k of ks) await h.store.apply(enc(k), setOf('x'))
    h.answer = (_to, call) => (call === 0 ? 'ack' : 'refuse')
    expect(await transferForeign(h.ctx)).toBe(128)
    expect(h.calls.length).toBe(2)
    expect(h.store.recordCount).toBe(172)
  })

  it('stops sending once the node stops running', async () => {
    const ring = ringOf(['b'])
    const h = await harness('a', ring)
    for (const k of keysInPartition(1, 300)) await h.store.apply(enc(k), setOf('x'))
    h.during = () => void (h.running = false)
    await transferForeign(h.ctx)
    expect(h.calls.length).toBe(1)
  })
})

describe('hinted handoff (deliverHints)', () => {
  const ring = ringOf(['a', 'b', 'c'])

  it('delivers hints to their owner once it is reachable, then deletes them', async () => {
    const h = await harness('a', ring)
    for (const k of ['h1', 'h2', 'h3']) await h.store.apply(enc(k), setOf(`v-${k}`), 'b')
    h.down.add('b')
    expect(deliverableHints(h.ctx)).toBe(false)
    expect(await deliverHints(h.ctx)).toBe(0)
    expect(h.calls).toEqual([])
    expect(h.store.hints).toBe(3)
    h.down.delete('b')
    expect(deliverableHints(h.ctx)).toBe(true)
    expect(await deliverHints(h.ctx)).toBe(3)
    expect(sentKeys(h, 'b')).toEqual(['h1', 'h2', 'h3'])
    for (const c of h.calls) for (const it of c.items) expect(values(decodeSet(it.rec)).map(dec)).toEqual([`v-${dec(it.key)}`])
    // Handed-off hints arrive as records of the owner, not as hints for someone else.
    expect(h.calls.every((c) => c.items.every((it) => it.hint === undefined))).toBe(true)
    expect(h.store.hints).toBe(0)
    expect(h.epochs()).toBe(0)
    expect(h.events).toContainEqual({ type: 'hint-delivered', to: 'b', count: 3 })
    expect(h.events.some((e) => e.type === 'repair' && e.kind === 'transfer' && e.peer === 'b' && e.keys === 3 && e.bytes > 0)).toBe(true)
    expect(deliverableHints(h.ctx)).toBe(false)
  })

  it('keeps hints an owner refused or did not answer', async () => {
    for (const a of ['refuse', 'silent'] as const) {
      const h = await harness('a', ring)
      await h.store.apply(enc('h1'), setOf('x'), 'b')
      h.answer = () => a
      expect(await deliverHints(h.ctx)).toBe(0)
      expect(h.store.hints).toBe(1)
      expect(h.epochs()).toBe(0)
      expect(h.events).toEqual([])
    }
  })

  it('keeps a hint that was rewritten while it was in flight', async () => {
    const h = await harness('a', ring)
    await h.store.apply(enc('h1'), setOf('old'), 'b')
    h.during = () => void h.store.apply(enc('h1'), update(emptySet, {}, 'other.0', enc('new'), 1), 'b')
    expect(await deliverHints(h.ctx)).toBe(0)
    expect(h.store.hints).toBe(1)
  })

  it('does not send hints held for itself', async () => {
    const h = await harness('a', ring)
    await h.store.apply(enc('h1'), setOf('x'), 'a')
    expect(deliverableHints(h.ctx)).toBe(false)
    expect(await deliverHints(h.ctx)).toBe(0)
    expect(h.calls).toEqual([])
  })
})

describe('re-homing hints of a member that left', () => {
  it('sends them to every reachable owner of the partition now, itself included, then deletes them', async () => {
    const now = ringOf(['a', 'c', 'd'], 2)
    const h = await harness('a', now)
    h.status.set('b', 'left')
    const ks = Array.from({ length: 40 }, (_, i) => `r-${i}`)
    for (const k of ks) await h.store.apply(enc(k), setOf(`v-${k}`), 'b')
    expect(deliverableHints(h.ctx)).toBe(true)
    expect(await deliverHints(h.ctx)).toBe(40)
    for (const k of ks) {
      const owners = now.owners[partitionOf(enc(k), Q)]!
      for (const o of ['c', 'd']) expect(sentKeys(h, o).includes(k)).toBe(owners.includes(id(o)))
      expect(await recordValue(h, k)).toEqual(owners.includes(id('a')) ? [`v-${k}`] : undefined)
    }
    expect(h.calls.every((c) => c.items.every((it) => it.hint === undefined))).toBe(true)
    expect(h.store.hints).toBe(0)
    expect(h.epochs()).toBe(0)
  })

  it('keeps a hint until every reachable owner acknowledged it', async () => {
    const now = ringOf(['c', 'd'], 2)
    const h = await harness('a', now)
    h.status.set('b', 'left')
    for (const k of ['r-1', 'r-2']) await h.store.apply(enc(k), setOf('x'), 'b')
    h.answer = (to) => (to === 'd' ? 'refuse' : 'ack')
    expect(await deliverHints(h.ctx)).toBe(0)
    expect(sentKeys(h, 'c')).toEqual(['r-1', 'r-2'])
    expect(h.store.hints).toBe(2)
    expect(h.epochs()).toBe(0)
    h.answer = () => 'ack'
    expect(await deliverHints(h.ctx)).toBe(2)
  })

  it('re-homes hints of a member still seen as leaving (its "left" announcement never arrived)', async () => {
    const h = await harness('a', ringOf(['a', 'c'], 2))
    h.status.set('b', 'leaving')
    h.down.add('b')
    await h.store.apply(enc('r-1'), setOf('x'), 'b')
    expect(deliverableHints(h.ctx)).toBe(true)
    expect(await deliverHints(h.ctx)).toBe(1)
    expect(sentKeys(h, 'c')).toEqual(['r-1'])
    expect(sentKeys(h, 'b')).toEqual([])
    expect(await recordValue(h, 'r-1')).toEqual(['x'])
  })

  it('deletes only the hints whose owners all acknowledged; a hint with no reachable owner stays', async () => {
    const now = ringOf(['c', 'd'])
    const h = await harness('a', now)
    h.status.set('b', 'left')
    const [toC] = keysOwnedBy(now, 'c', 1, 'hc') as [string]
    const [toD] = keysOwnedBy(now, 'd', 1, 'hd') as [string]
    await h.store.apply(enc(toC), setOf('x'), 'b')
    await h.store.apply(enc(toD), setOf('y'), 'b')
    h.down.add('d')
    expect(await deliverHints(h.ctx)).toBe(1)
    expect(sentKeys(h, 'c')).toEqual([toC])
    expect(h.store.hints).toBe(1)
    expect(await h.store.readHint('b', enc(toD))).toBeDefined()
    expect(await h.store.readHint('b', enc(toC))).toBeUndefined()
  })

  it('keeps hints while no owner is reachable', async () => {
    const h = await harness('a', ringOf(['c']))
    h.status.set('b', 'left')
    await h.store.apply(enc('r-1'), setOf('x'), 'b')
    h.down.add('c')
    expect(await deliverHints(h.ctx)).toBe(0)
    expect(h.calls).toEqual([])
    expect(h.store.hints).toBe(1)
    h.down.delete('c')
    expect(await deliverHints(h.ctx)).toBe(1)
  })
})

describe('traces: the replica id outlives the copies that leave (store.ts)', () => {
  const ring = ringOf(['a', 'b', 'c'])
  /** A write this node coordinates, as coordinator.ts does it: a dot of its own id on what it knows. */
  const coordinate = (h: Harness, k: string, v: string | null, ctx: VersionSet['vv'] = {}, hintFor?: string): Promise<VersionSet> =>
    h.store.modify(enc(k), hintFor, (known) => update(known, ctx, h.ctx.dotId(), v === null ? null : enc(v), 1))
  const texts = (s: VersionSet | undefined): string[] => (s ? values(s).map(dec).sort() : [])

  it('a delivered hint leaves a trace, and the next blind write numbers on without superseding what left', async () => {
    const h = await harness('a', ring)
    const first = await coordinate(h, 'k', 'x1', {}, 'b')
    expect(first.siblings.map((x) => x.dot)).toEqual([{ id: 'a.0', n: 1 }])
    expect(await deliverHints(h.ctx)).toBe(1)
    expect(h.store.hints).toBe(0)
    expect(h.store.traces).toBe(1)
    const trace = await h.store.readTrace(enc('k'))
    expect(trace?.vv).toEqual(first.vv)
    expect(texts(trace)).toEqual(['x1'])
    // Later, cut off from b again: a blind write. Same replica id, next counter, x1 still live.
    const second = await coordinate(h, 'k', 'x2', {}, 'b')
    expect(second.siblings.map((x) => x.dot)).toEqual([{ id: 'a.0', n: 1 }, { id: 'a.0', n: 2 }])
    expect(h.store.traces).toBe(0)
    expect(h.epochs()).toBe(0)
    // b, holding x1 alone, merges the new hint: nothing it holds is superseded unseen.
    const b = await harness('b', ring)
    await b.store.apply(enc('k'), first)
    expect(texts(await b.store.apply(enc('k'), second))).toEqual(['x1', 'x2'])
    // What the same id would do without the trace: (a.0, 1) again, and one of the two writes is gone.
    const blind = update(emptySet, {}, 'a.0', enc('x2'), 1)
    expect(texts(merge(first, blind))).toHaveLength(1)
  })

  it('a trace keeps only the counter of writes already superseded, so they do not come back', async () => {
    const h = await harness('a', ring)
    const first = await coordinate(h, 'k', 'x1', {}, 'b')
    const second = await coordinate(h, 'k', 'x2', first.vv, 'b') // read x1, overwrote it
    expect(await deliverHints(h.ctx)).toBe(1)
    const trace = await h.store.readTrace(enc('k'))
    expect(texts(trace)).toEqual(['x2'])
    expect(trace?.vv['a.0']?.n).toBe(2)
    const third = await coordinate(h, 'k', null, second.vv, 'b') // read x2, deleted it
    expect(third.siblings.map((x) => [x.dot.n, x.value])).toEqual([[3, null]])
    expect(await deliverHints(h.ctx)).toBe(1)
    const last = await h.store.readTrace(enc('k'))
    expect(last?.siblings.map((x) => x.dot.n)).toEqual([3])
    expect(texts(await coordinate(h, 'k', 'x4', {}, 'b'))).toEqual(['x4'])
  })

  it('no trace for copies that carry no write of this node, or while another copy here still has them', async () => {
    const h = await harness('a', ring)
    await h.store.apply(enc('k'), setOf('from-w'), 'b') // written by another coordinator
    await coordinate(h, 'j', 'mine', {}, 'b')
    await h.store.apply(enc('j'), (await h.store.readHint('b', enc('j')))!) // and a record of it here too
    expect(await deliverHints(h.ctx)).toBe(2)
    expect(h.store.traces).toBe(0)
  })

  it('a transferred record leaves a trace, kept across a restart on the same storage', async () => {
    const storage = memoryStorage()
    const h = await harness('a', ringOf(['b']))
    const store = new ReplicaStore(storage, Q)
    await store.open()
    ;(h as { store: ReplicaStore }).store = store
    ;(h.ctx as { store: ReplicaStore }).store = store
    const [k] = keysOwnedBy(ringOf(['b']), 'b', 1) as [string]
    await coordinate(h, k, 'x1')
    expect(await transferForeign(h.ctx)).toBe(1)
    expect(store.recordCount).toBe(0)
    expect(store.traces).toBe(1)
    const reopened = new ReplicaStore(storage, Q)
    await reopened.open()
    expect(reopened.traces).toBe(1)
    expect(texts(await reopened.readTrace(enc(k)))).toEqual(['x1'])
  })

  it('a set that supersedes a traced write shrinks the trace to its counter', async () => {
    const h = await harness('a', ring)
    const first = await coordinate(h, 'k', 'x1', {}, 'b')
    await deliverHints(h.ctx)
    // b overwrote x1 and the result reaches this node (read repair, a hint, anti-entropy).
    const over = update(first, first.vv, 'b.0', enc('y'), 2)
    await h.store.apply(enc('k'), over, 'c')
    const trace = await h.store.readTrace(enc('k'))
    expect(trace?.siblings).toEqual([])
    expect(trace?.vv['a.0']?.n).toBe(1)
  })
})
