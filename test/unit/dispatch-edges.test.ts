/**
 * Message dispatch (src/node/dispatch.ts) against a scripted node: which messages reach which part
 * of the node and with what, what is dropped and counted (a stopped node, a peer over its rate, bytes
 * that do not decode, a handler that throws), what a member that has left answers, how a pushed
 * batch is reserved, stored, acknowledged and released, and what a forwarded write answers when
 * it fails. Nothing else runs, so a message that goes astray shows at once.
 */
import { describe, expect, it } from 'vitest'
import { emptySet, update, type VersionSet } from '../../src/core/clock.js'
import { toHex } from '../../src/core/hash.js'
import { encodeSet, encodeVectors } from '../../src/core/record.js'
import { DynameshError } from '../../src/errors.js'
import { itemBytes } from '../../src/node/batch.js'
import { encodeOnce } from '../../src/node/cache.js'
import { Dispatcher } from '../../src/node/dispatch.js'
import type { Node } from '../../src/node/node.js'
import { asNodeId, type NodeId } from '../../src/types.js'
import { encodeMessage, type Msg, type StoreItem } from '../../src/wire/messages.js'

const A = asNodeId('a'), B = asNodeId('b'), C = asNodeId('c')
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)
const setOf = (v: string): VersionSet => update(emptySet, {}, 'a', utf8(v), 1)
/** Keys whose first byte is even are partition 0 (a and b own it), odd ones partition 1 (b and c). */
const MINE = Uint8Array.of(0, 1), THEIRS = Uint8Array.of(1, 1)
const tick = (): Promise<void> => new Promise((r) => setImmediate(r))

type Call = [string, ...unknown[]]

/** `v` with every byte array as a plain Uint8Array (decoded bytes are Buffers on Node), to compare. */
const plain = <T>(v: T): T => {
  if (v instanceof Uint8Array) return Uint8Array.from(v) as T
  if (Array.isArray(v)) return v.map(plain) as T
  if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype)
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)])) as T
  return v
}

/** Node a, scripted: each part the dispatcher hands a message to logs the call. */
function setup(opts: { status?: string } = {}) {
  const log: Call[] = []
  const sent: Array<{ to: NodeId; msg: Msg; key?: Uint8Array }> = []
  /** The messages sent, as they were. */
  const raw: Msg[] = []
  const events: unknown[] = []
  const stored = new Map<string, VersionSet>()
  const h = {
    running: true,
    admit: true,
    reserve: true,
    /** Thrown by a handler (gossip or anti-entropy) when set. */
    throws: undefined as unknown,
    /** Rejects anti-entropy's async handlers when set. */
    rejects: undefined as unknown,
    readAll: (key: Uint8Array): Promise<VersionSet | undefined> => Promise.resolve(stored.get(toHex(key))),
    applyMany: undefined as unknown,
    /** apply() of a hint for this owner fails. */
    failHintFor: undefined as NodeId | undefined,
    /** What send() throws for a get-r carrying a record. */
    sendThrows: undefined as unknown,
    /** send() of a message of this type throws. */
    sendFails: undefined as string | undefined,
    /** The outcome ops.run() gives, instead of running the write, when set. */
    outcome: undefined as unknown,
  }
  const part = (name: string, async = false) =>
    (...args: unknown[]): unknown => {
      log.push([name, ...args])
      if (h.throws !== undefined) throw h.throws
      if (async) return h.rejects === undefined ? Promise.resolve() : Promise.reject(h.rejects)
      return undefined
    }
  const node = {
    id: A,
    rejected: 0,
    running: () => h.running,
    inbound: {
      admit: (from: NodeId) => (log.push(['admit', from]), h.admit),
      reserve: (from: NodeId, bytes: number) => (log.push(['reserve', from, bytes]), h.reserve),
      release: (from: NodeId, bytes: number) => void log.push(['release', from, bytes]),
    },
    detector: { heard: (from: NodeId) => void log.push(['heard', from]) },
    gossip: {
      self: opts.status === undefined ? undefined : { status: opts.status },
      onSum: part('g.sum'),
      onCells: part('g.cells'),
      onMore: part('g.more'),
      onBuckets: part('g.bkt'),
      onVersions: part('g.ver'),
      onDelta: part('g.delta'),
    },
    rpc: { settle: (from: NodeId, m: Msg) => void log.push(['settle', from, m.t]) },
    antiEntropy: {
      onRoots: part('ae.roots'),
      onStep: part('ae.step'),
      onPull: part('ae.pull'),
      onSum: part('ae.sum'),
      onSym: part('ae.sym'),
      onMore: part('ae.more'),
      onDiff: part('ae.diff', true),
      onGrave: part('ae.grave'),
      onPush: part('ae.push', true),
    },
    store: {
      readAll: (key: Uint8Array) => h.readAll(key),
      applyMany: async (records: Array<{ key: Uint8Array; set: VersionSet }>) => {
        log.push(['applyMany', records.map((r) => [r.key[0], r.set])])
        if (h.applyMany !== undefined) throw h.applyMany
        for (const r of records) stored.set(toHex(r.key), r.set)
        return records.map((r) => r.set)
      },
      apply: async (key: Uint8Array, set: VersionSet, hint?: NodeId) => {
        log.push(['apply', key[0], set, hint])
        if (hint !== undefined && hint === h.failHintFor) throw new DynameshError('OVERLOADED', 'hints full')
        return set
      },
      partitionOf: (key: Uint8Array) => {
        if (key.length === 0) throw new Error('no partition for an empty key')
        if (key.length > 10) throw 'not an error'
        return key[0]! % 2
      },
    },
    ring: () => ({ q: 2, owners: [[A, B], [B, C]] }),
    send: (to: NodeId, msg: Msg, key?: Uint8Array) => {
      if (msg.t === 'get-r' && msg.rec !== null && h.sendThrows !== undefined) throw h.sendThrows
      if (msg.t === h.sendFails) throw new DynameshError('MESSAGE_TOO_LARGE', 'too large')
      raw.push(msg)
      sent.push(plain(key === undefined ? { to, msg } : { to, msg, key }))
    },
    emit: (ev: unknown) => void events.push(plain(ev)),
    ops: { run: (msg: { op: number }, run: () => Promise<unknown>) => (log.push(['run', msg.op]), h.outcome === undefined ? run() : Promise.resolve(h.outcome)) },
  }
  const d = new Dispatcher(node as unknown as Node)
  const deliver = (m: Msg, from: NodeId = B): void => d.onMessage(from, encodeMessage(m))
  /** The log without the admission and the heard of each message. */
  const calls = (): Call[] => plain(log.filter((c) => c[0] !== 'admit' && c[0] !== 'heard'))
  return { h, node, d, log, calls, sent, raw, events, stored, deliver }
}

const item = (key: Uint8Array, v: string, hint?: NodeId): StoreItem => (hint === undefined ? { key, rec: encodeSet(setOf(v)) } : { key, rec: encodeSet(setOf(v)), hint })
const bytesOf = (items: StoreItem[]): number => items.reduce((n, i) => n + itemBytes(i), 0)

describe('dispatch edges: admission', () => {
  it('drops every message while the node is stopped: not admitted, not heard, not counted', () => {
    const s = setup()
    s.h.running = false
    s.deliver({ t: 'g-more', at: 1, k: 2 })
    s.d.onMessage(B, Uint8Array.of(0xff))
    expect(s.log).toEqual([])
    expect(s.node.rejected).toBe(0)
  })

  it('drops a message over the peer\'s rate before it is decoded or heard', () => {
    const s = setup()
    s.h.admit = false
    s.deliver({ t: 'g-more', at: 1, k: 2 })
    s.d.onMessage(B, Uint8Array.of(0xff))
    expect(s.log).toEqual([['admit', B], ['admit', B]])
    expect(s.node.rejected).toBe(0)
  })

  it('counts bytes that do not decode, without hearing the peer', () => {
    const s = setup()
    s.d.onMessage(B, Uint8Array.of(0xff, 0x00))
    expect(s.log).toEqual([['admit', B]])
    expect(s.node.rejected).toBe(1)
  })

  it('hears the sender of a message that decodes, and counts a handler that throws', () => {
    const s = setup()
    s.deliver({ t: 'g-more', at: 1, k: 2 }, C)
    expect(s.log).toEqual([['admit', C], ['heard', C], ['g.more', C, 1, 2]])
    expect(s.node.rejected).toBe(0)
    s.h.throws = new Error('handler failed')
    expect(() => s.deliver({ t: 'g-more', at: 1, k: 2 })).not.toThrow()
    expect(s.node.rejected).toBe(1)
  })
})

describe('dispatch edges: routing', () => {
  it('hands each gossip message to its handler with its fields', () => {
    const s = setup({ status: 'up' })
    const d = new Uint8Array(8).fill(7), cell = new Uint8Array(13).fill(1), sums = Uint8Array.of(1, 2, 3, 4), none = new Uint8Array(0)
    s.deliver({ t: 'g-sum', d, n: 5, reply: true })
    s.deliver({ t: 'g-sum', d, n: 6, reply: false, bkt: true })
    s.deliver({ t: 'g-cells', at: 3, c: cell })
    s.deliver({ t: 'g-more', at: 4, k: 8 })
    s.deliver({ t: 'g-bkt', h: sums })
    s.deliver({ t: 'g-ver', nb: 16, b: [1, 2], v: none })
    s.deliver({ t: 'g-delta', members: [], want: none })
    s.deliver({ t: 'g-delta', members: [], want: none, end: true, ask: true })
    expect(s.node.rejected).toBe(0)
    expect(s.calls()).toEqual([
      ['g.sum', B, d, 5, true, false],
      ['g.sum', B, d, 6, false, true],
      ['g.cells', B, 3, cell],
      ['g.more', B, 4, 8],
      ['g.bkt', B, sums],
      ['g.ver', B, 16, [1, 2], none],
      ['g.delta', B, [], none, false, false],
      ['g.delta', B, [], none, true, true],
    ])
  })

  it('hands each anti-entropy message to its handler with its fields', async () => {
    const s = setup()
    const h = new Uint8Array(16).fill(9), h1 = new Uint8Array(384).fill(3), tow = new Uint8Array(64), cell = new Uint8Array(13).fill(2), k = Uint8Array.of(5)
    const idx = Uint8Array.of(1), vv = encodeVectors([{ a: { n: 1, ts: 0 } }]), want = Uint8Array.of(1, 2, 3, 4)
    s.deliver({ t: 'ae-roots', sid: 1, parts: [[0, h]] })
    s.deliver({ t: 'ae-step', sid: 2, parts: [[0, h, k]] })
    s.deliver({ t: 'ae-pull', sid: 3, keys: [k] })
    s.deliver({ t: 'ae-pull', sid: 3, keys: [], idx })
    s.deliver({ t: 'ae-sum', sid: 4, level: 1, h: h1 })
    s.deliver({ t: 'ae-sum', sid: 4, level: 0, h, tow, n: 7 })
    s.deliver({ t: 'ae-sym', sid: 5, from: 13, cells: cell, tow, n: 2 })
    s.deliver({ t: 'ae-more', sid: 6, from: 1, to: 9 })
    s.deliver({ t: 'ae-diff', sid: 7, at: 3, keys: [k], vv, want })
    s.deliver({ t: 'ae-grave', keys: [k] })
    await tick()
    expect(s.node.rejected).toBe(0)
    expect(s.calls()).toEqual([
      ['ae.roots', B, 1, [[0, h]]],
      ['ae.step', B, 2, [[0, h, k]]],
      ['ae.pull', B, 3, [k], undefined],
      ['ae.pull', B, 3, [], idx],
      ['ae.sum', B, 4, 1, h1, undefined, undefined],
      ['ae.sum', B, 4, 0, h, tow, 7],
      ['ae.sym', B, 5, 13, cell, tow, 2],
      ['ae.more', B, 6, 1, 9],
      ['ae.diff', B, 7, 3, [k], vv, want],
      ['ae.grave', B, [k]],
    ])
    expect(s.node.rejected).toBe(0)
  })

  it('hands replies to the rpc table', () => {
    const s = setup()
    s.deliver({ t: 'get-r', rid: 1, rec: null })
    s.deliver({ t: 'store-r', rid: 2, ok: true })
    s.deliver({ t: 'fwd-r', rid: 3, ok: true, ctx: '', code: '', message: '' })
    expect(s.calls()).toEqual([['settle', B, 'get-r'], ['settle', B, 'store-r'], ['settle', B, 'fwd-r']])
  })

  it('counts an anti-entropy difference whose handling fails, later', async () => {
    const s = setup()
    s.h.rejects = new Error('storage')
    s.deliver({ t: 'ae-diff', sid: 7, at: 0, keys: [], vv: encodeVectors([]), want: new Uint8Array(0) })
    expect(s.node.rejected).toBe(0)
    await tick()
    expect(s.node.rejected).toBe(1)
  })
})

describe('dispatch edges: reads', () => {
  it('answers a get with the record held, encoded once, or with null', async () => {
    const s = setup()
    const set = setOf('v')
    s.stored.set(toHex(MINE), set)
    s.deliver({ t: 'get', rid: 4, key: MINE })
    s.deliver({ t: 'get', rid: 5, key: THEIRS })
    await tick()
    expect(s.sent).toEqual([
      { to: B, msg: { t: 'get-r', rid: 4, rec: encodeSet(set) }, key: MINE },
      { to: B, msg: { t: 'get-r', rid: 5, rec: null }, key: THEIRS },
    ])
    expect((s.raw[0] as { rec: Uint8Array }).rec).toBe(encodeOnce(set))
  })

  it('answers a record too large to send with null and the error, and nothing for other failures', async () => {
    const s = setup()
    s.stored.set(toHex(MINE), setOf('v'))
    s.h.sendThrows = new DynameshError('MESSAGE_TOO_LARGE', 'too large')
    s.deliver({ t: 'get', rid: 4, key: MINE })
    await tick()
    expect(s.sent).toEqual([{ to: B, msg: { t: 'get-r', rid: 4, rec: null, err: 'MESSAGE_TOO_LARGE' } }])
    s.h.sendThrows = new DynameshError('NOT_RUNNING', 'stopped')
    s.deliver({ t: 'get', rid: 5, key: MINE })
    await tick()
    expect(s.sent.length).toBe(1)
    s.h.readAll = () => Promise.reject(new Error('unreadable'))
    s.deliver({ t: 'get', rid: 6, key: MINE })
    await tick()
    expect(s.sent.length).toBe(1)
    expect(s.node.rejected).toBe(0)
  })
})

describe('dispatch edges: a member that has left', () => {
  it('refuses reads, writes, forwarded writes and every anti-entropy message; gossip and replies pass', async () => {
    const s = setup({ status: 'left' })
    const h = new Uint8Array(16), cell = new Uint8Array(13), none = new Uint8Array(0)
    s.deliver({ t: 'get', rid: 1, key: MINE })
    s.deliver({ t: 'store', rid: 2, items: [item(MINE, 'v')], ack: true })
    s.deliver({ t: 'store', rid: 3, items: [item(MINE, 'v')], ack: false })
    s.deliver({ t: 'fwd', rid: 4, op: 1, at: 0, again: false, key: MINE, value: null, ctx: '', w: 1, n: 1, timeoutMs: 100 })
    s.deliver({ t: 'ae-roots', sid: 1, parts: [] })
    s.deliver({ t: 'ae-step', sid: 1, parts: [] })
    s.deliver({ t: 'ae-pull', sid: 1, keys: [] })
    s.deliver({ t: 'ae-sum', sid: 1, level: 0, h })
    s.deliver({ t: 'ae-sym', sid: 1, from: 0, cells: cell })
    s.deliver({ t: 'ae-more', sid: 1, from: 0, to: 1 })
    s.deliver({ t: 'ae-diff', sid: 1, at: 0, keys: [], vv: encodeVectors([]), want: none })
    s.deliver({ t: 'ae-grave', keys: [] })
    s.deliver({ t: 'ae-push', sid: 1, items: [item(MINE, 'v')] })
    await tick()
    expect(s.sent).toEqual([
      { to: B, msg: { t: 'get-r', rid: 1, rec: null, err: 'NOT_RUNNING' } },
      { to: B, msg: { t: 'store-r', rid: 2, ok: false, err: 'NOT_RUNNING' } },
      { to: B, msg: { t: 'fwd-r', rid: 4, ok: false, ctx: '', code: 'NOT_RUNNING', message: 'the node has left' } },
    ])
    expect(s.calls()).toEqual([])
    expect(s.node.rejected).toBe(0)
    s.deliver({ t: 'g-more', at: 1, k: 2 })
    s.deliver({ t: 'store-r', rid: 2, ok: true })
    expect(s.calls()).toEqual([['g.more', B, 1, 2], ['settle', B, 'store-r']])
  })

  it('serves a member still leaving', async () => {
    const s = setup({ status: 'leaving' })
    s.deliver({ t: 'get', rid: 1, key: MINE })
    await tick()
    expect(s.sent).toEqual([{ to: B, msg: { t: 'get-r', rid: 1, rec: null }, key: MINE }])
  })
})

describe('dispatch edges: stores', () => {
  it('reserves the batch\'s bytes, stores records in one merge and hints one by one, acknowledges, then releases', async () => {
    const s = setup()
    const items = [item(MINE, 'r1'), item(Uint8Array.of(2), 'h1', C), item(Uint8Array.of(4), 'r2', A)]
    s.deliver({ t: 'store', rid: 9, items, ack: true })
    await tick()
    const n = bytesOf(items)
    expect(s.calls().map((c) => (c[0] === 'applyMany' ? [c[0], (c[1] as unknown[][]).map((r) => r[0])] : c[0] === 'apply' ? [c[0], c[1], c[3]] : c))).toEqual([
      ['reserve', B, n],
      ['applyMany', [0, 4]],
      ['apply', 2, C],
      ['release', B, n],
    ])
    expect(s.events).toEqual([{ type: 'hint-stored', for: C, key: Uint8Array.of(2) }])
    expect(s.sent).toEqual([{ to: B, msg: { t: 'store-r', rid: 9, ok: true } }])
  })

  it('stores with the bytes each record came in', async () => {
    const s = setup()
    const it1 = item(MINE, 'r1')
    s.deliver({ t: 'store', rid: 9, items: [it1], ack: false })
    await tick()
    const set = s.stored.get(toHex(MINE))!
    // The bytes of the message (a Buffer, as decoded on Node), not an encoding made again.
    expect(Buffer.isBuffer(encodeOnce(set))).toBe(true)
    expect(plain(encodeOnce(set))).toEqual(it1.rec)
    expect(s.sent).toEqual([])
  })

  it('answers OVERLOADED when the peer\'s bytes are reserved, only if asked, and stores nothing', async () => {
    const s = setup()
    s.h.reserve = false
    s.deliver({ t: 'store', rid: 1, items: [item(MINE, 'v')], ack: true })
    s.deliver({ t: 'store', rid: 2, items: [item(MINE, 'v')], ack: false })
    await tick()
    expect(s.sent).toEqual([{ to: B, msg: { t: 'store-r', rid: 1, ok: false, err: 'OVERLOADED' } }])
    expect(s.calls().map((c) => c[0])).toEqual(['reserve', 'reserve'])
  })

  it('acknowledges a batch with an item that does not decode as failed, counts it, and stores the rest', async () => {
    const s = setup()
    const bad: StoreItem = { key: Uint8Array.of(2), rec: Uint8Array.of(0xff, 0xff) }
    s.deliver({ t: 'store', rid: 1, items: [bad, item(MINE, 'v')], ack: true })
    await tick()
    expect(s.stored.has(toHex(MINE))).toBe(true)
    expect(s.node.rejected).toBe(1)
    expect(s.sent).toEqual([{ to: B, msg: { t: 'store-r', rid: 1, ok: false, err: 'INVALID_MESSAGE' } }])
  })

  it('answers the first error of a batch: a storage failure, a hint refused', async () => {
    const s = setup()
    s.h.applyMany = new Error('disk')
    s.h.failHintFor = C
    s.deliver({ t: 'store', rid: 1, items: [item(MINE, 'v'), item(Uint8Array.of(2), 'h', C)], ack: true })
    await tick()
    expect(s.sent).toEqual([{ to: B, msg: { t: 'store-r', rid: 1, ok: false, err: 'STORAGE_FAILED' } }])
    s.h.applyMany = new DynameshError('OVERLOADED', 'busy')
    s.deliver({ t: 'store', rid: 2, items: [item(MINE, 'v')], ack: true })
    await tick()
    expect(s.sent[1]).toEqual({ to: B, msg: { t: 'store-r', rid: 2, ok: false, err: 'OVERLOADED' } })
    s.h.applyMany = undefined
    s.deliver({ t: 'store', rid: 3, items: [item(Uint8Array.of(2), 'h', C), item(Uint8Array.of(4), 'h', B)], ack: true })
    await tick()
    expect(s.sent[2]).toEqual({ to: B, msg: { t: 'store-r', rid: 3, ok: false, err: 'OVERLOADED' } })
    expect(s.events).toEqual([{ type: 'hint-stored', for: B, key: Uint8Array.of(4) }])
    expect(s.node.rejected).toBe(0)
  })

  it('does not acknowledge a transfer of a partition it does not own, but keeps the records', async () => {
    const s = setup()
    s.deliver({ t: 'store', rid: 1, items: [item(MINE, 'v'), item(THEIRS, 'w')], ack: true, own: true })
    s.deliver({ t: 'store', rid: 2, items: [item(MINE, 'v')], ack: true, own: true })
    s.deliver({ t: 'store', rid: 3, items: [item(THEIRS, 'w')], ack: true })
    await tick()
    expect(s.stored.has(toHex(THEIRS))).toBe(true)
    expect(s.sent).toEqual([
      { to: B, msg: { t: 'store-r', rid: 1, ok: false, err: 'NOT_OWNER' } },
      { to: B, msg: { t: 'store-r', rid: 2, ok: true } },
      { to: B, msg: { t: 'store-r', rid: 3, ok: true } },
    ])
  })

  it('keeps the first error over NOT_OWNER', async () => {
    const s = setup()
    s.h.applyMany = new DynameshError('OVERLOADED', 'busy')
    s.deliver({ t: 'store', rid: 1, items: [item(THEIRS, 'w')], ack: true, own: true })
    await tick()
    expect(s.sent).toEqual([{ to: B, msg: { t: 'store-r', rid: 1, ok: false, err: 'OVERLOADED' } }])
  })

  it('counts a store whose acknowledgement cannot be sent, and releases the bytes', async () => {
    const s = setup()
    s.h.sendFails = 'store-r'
    const items = [item(MINE, 'v')]
    s.deliver({ t: 'store', rid: 1, items, ack: true })
    await tick()
    expect(s.node.rejected).toBe(1)
    expect(s.calls().at(-1)).toEqual(['release', B, bytesOf(items)])
  })

  it('merges no records for a batch of hints only', async () => {
    const s = setup()
    s.deliver({ t: 'store', rid: 1, items: [item(Uint8Array.of(2), 'h', C)], ack: true, own: true })
    await tick()
    expect(s.calls().map((c) => c[0])).toEqual(['reserve', 'apply', 'release'])
    expect(s.sent).toEqual([{ to: B, msg: { t: 'store-r', rid: 1, ok: true } }])
  })

  it('sends no acknowledgement once the node stopped, and releases the bytes', async () => {
    const s = setup()
    const items = [item(MINE, 'v')]
    s.deliver({ t: 'store', rid: 1, items, ack: true })
    s.h.running = false
    await tick()
    expect(s.sent).toEqual([])
    expect(s.calls().at(-1)).toEqual(['release', B, bytesOf(items)])
  })

  it('reserves a push\'s bytes until anti-entropy merged it, and counts a failed merge', async () => {
    const s = setup()
    const items = [item(MINE, 'v'), item(THEIRS, 'w')]
    s.deliver({ t: 'ae-push', sid: 3, items })
    expect(s.calls()).toEqual([['reserve', B, bytesOf(items)], ['ae.push', B, items]])
    await tick()
    expect(s.calls().at(-1)).toEqual(['release', B, bytesOf(items)])
    s.h.rejects = new Error('merge failed')
    s.deliver({ t: 'ae-push', sid: 4, items })
    await tick()
    expect(s.node.rejected).toBe(1)
    expect(s.calls().at(-1)).toEqual(['release', B, bytesOf(items)])
    s.h.reserve = false
    const before = s.calls().length
    s.deliver({ t: 'ae-push', sid: 5, items })
    await tick()
    expect(s.calls().slice(before)).toEqual([['reserve', B, bytesOf(items)]])
  })
})

describe('dispatch edges: forwarded writes', () => {
  const fwd = (rid: number, key: Uint8Array, ctx = ''): Msg => ({ t: 'fwd', rid, op: rid, at: 0, again: false, key, value: null, ctx, w: 1, n: 1, timeoutMs: 100 })

  it('answers a forwarded write that fails with its code and message', async () => {
    const s = setup()
    s.deliver(fwd(1, MINE, 'not a context'))
    s.deliver(fwd(2, new Uint8Array(0)))
    s.deliver(fwd(3, new Uint8Array(11)))
    await tick()
    const byRid = new Map(s.sent.map((x) => [(x.msg as { rid: number }).rid, x]))
    expect(byRid.get(1)).toEqual({ to: B, msg: { t: 'fwd-r', rid: 1, ok: false, ctx: '', code: 'INVALID_CONTEXT', message: expect.any(String) } })
    expect((byRid.get(1)!.msg as { message: string }).message).not.toBe('')
    expect(byRid.get(2)).toEqual({ to: B, msg: { t: 'fwd-r', rid: 2, ok: false, ctx: '', code: 'QUORUM_FAILED', message: 'no partition for an empty key' } })
    expect(byRid.get(3)).toEqual({ to: B, msg: { t: 'fwd-r', rid: 3, ok: false, ctx: '', code: 'QUORUM_FAILED', message: 'failed' } })
    expect(s.node.rejected).toBe(0)
  })

  it('answers with the outcome of the write\'s operation', async () => {
    const s = setup()
    s.h.outcome = { ok: true, ctx: 'c1', code: '', message: '' }
    s.deliver(fwd(8, MINE))
    await tick()
    expect(s.calls()).toEqual([['run', 8]])
    expect(s.sent).toEqual([{ to: B, msg: { t: 'fwd-r', rid: 8, ok: true, ctx: 'c1', code: '', message: '' } }])
  })

  it('counts a forwarded write whose answer cannot be sent', async () => {
    const s = setup()
    s.h.sendFails = 'fwd-r'
    s.deliver(fwd(1, MINE, 'not a context'))
    await tick()
    expect(s.sent).toEqual([])
    expect(s.node.rejected).toBe(1)
  })
})
