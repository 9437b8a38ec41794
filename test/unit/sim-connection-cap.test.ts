import { describe, expect, it } from 'vitest'
import { createSimNetwork, type SimJoined, type SimNetwork, type SimOptions } from '../../src/sim/network.js'
import type { NodeId } from '../../src/types.js'

interface Rec {
  j: SimJoined
  got: string[]
  peers: Array<[string, boolean]>
}

/** Starts transports and records what each node receives and every onPeer event it sees. */
function startAll(net: SimNetwork, ids: string[]): Record<string, Rec> {
  const out: Record<string, Rec> = {}
  for (const id of ids) {
    const j = net.join(id)
    const rec: Rec = { j, got: [], peers: [] }
    j.transport.onMessage((from) => rec.got.push(from))
    j.transport.onPeer((ev) => rec.peers.push([ev.id, ev.up]))
    void j.transport.start()
    out[id] = rec
  }
  return out
}

const ids = ['a', 'b', 'c', 'd', 'e', 'f']
const peersOfA = ids.slice(1)

async function cluster(opts: Omit<SimOptions, 'seed'> = {}): Promise<{ net: SimNetwork; n: Record<string, Rec>; send: (from: string, to: string) => void }> {
  const net = createSimNetwork({ seed: 7, ...opts })
  const n = startAll(net, ids)
  await net.settle({ quietMs: 100 })
  const send = (from: string, to: string): void => n[from]!.j.transport.send(to as NodeId, new Uint8Array([1]))
  return { net, n, send }
}

describe('sim network: connection cap', () => {
  it('holds at most maxConnections at either end, yet delivers everything and knows every peer', async () => {
    const { net, n, send } = await cluster({ maxConnections: 2 })
    const openAt = new Map<string, number>()
    // Checked after every send, not only at the end: a cap broken for a moment must show.
    const check = (): void => {
      for (const id of ids) {
        const c = net.connections(id)
        expect(c.open).toBeLessThanOrEqual(2)
        openAt.set(id, Math.max(openAt.get(id) ?? 0, c.open))
      }
    }
    for (let round = 0; round < 3; round++) {
      for (const to of peersOfA) {
        send('a', to)
        check()
        send(to, 'a') // the reply uses (and touches) the same connection
        check()
      }
    }
    await net.settle({ quietMs: 100 })
    const a = net.connections('a')
    expect(a.peak).toBe(2)
    expect(openAt.get('a')).toBe(2)
    expect(a.open).toBe(2)
    expect(a.distinct).toBe(5)
    expect(a.opened).toBe(15) // every round reopens all five, cycling through a cap of two
    for (const to of peersOfA) {
      expect(net.connections(to).peak).toBeLessThanOrEqual(2)
      expect(net.connections(to).distinct).toBe(1)
      expect(n[to]!.got).toEqual(['a', 'a', 'a'])
    }
    expect(n.a!.got.length).toBe(15)
    expect(net.stats()).toMatchObject({ sent: 30, delivered: 30, dropped: 0 })
  })

  it('closes the least recently used connection, not the oldest', async () => {
    const { net, send } = await cluster({ maxConnections: 2 })
    send('a', 'b')
    send('a', 'c')
    send('b', 'a') // b is now the most recently used; c the least
    send('a', 'd') // a is at the cap: c goes
    expect(net.connections('b').open).toBe(1)
    expect(net.connections('c').open).toBe(0)
    expect(net.connections('d').open).toBe(1)
    send('a', 'e') // b is now the least recently used
    expect(net.connections('b').open).toBe(0)
    expect(net.connections('d').open).toBe(1)
    expect(net.connections('e').open).toBe(1)
    expect(net.connections('a')).toEqual({ open: 2, peak: 2, distinct: 4, opened: 4 })
    await net.settle({ quietMs: 100 })
  })

  it('makes a receiver at its cap close its own least recently used connection to accept', async () => {
    const { net, send } = await cluster({ maxConnections: 2 })
    send('b', 'c')
    send('b', 'd')
    send('c', 'b') // b: d is least recently used
    send('a', 'b') // a has room, b does not: b closes d
    expect(net.connections('b')).toEqual({ open: 2, peak: 2, distinct: 3, opened: 3 })
    expect(net.connections('d').open).toBe(0)
    expect(net.connections('c').open).toBe(1)
    expect(net.connections('a').open).toBe(1)
    await net.settle({ quietMs: 100 })
  })

  it('emits no onPeer events for closes due to the cap; a crash still does', async () => {
    const { net, n, send } = await cluster({ maxConnections: 1 })
    const before = Object.fromEntries(ids.map((id) => [id, n[id]!.peers.length]))
    for (const to of peersOfA) send('a', to)
    await net.settle({ quietMs: 100 })
    for (const id of ids) expect(n[id]!.peers.length).toBe(before[id])
    for (const id of ids) expect(n[id]!.j.transport.peers?.().length).toBe(5) // all still reachable
    expect(net.connections('a')).toMatchObject({ open: 1, peak: 1, distinct: 5, opened: 5 })
    net.crash('f')
    await net.settle({ quietMs: 100 })
    expect(n.a!.peers.slice(before.a)).toEqual([['f', false]])
    expect(net.connections('a').open).toBe(0) // f held a's only connection
  })

  it('without the option, connections open on first message and only a crash or stop closes them', async () => {
    const { net, n, send } = await cluster()
    for (const to of peersOfA) {
      send('a', to)
      send(to, 'a')
      send('a', to)
    }
    send('b', 'c')
    await net.settle({ quietMs: 100 })
    expect(net.connections('a')).toEqual({ open: 5, peak: 5, distinct: 5, opened: 5 })
    expect(net.connections('b')).toEqual({ open: 2, peak: 2, distinct: 2, opened: 2 })
    expect(net.connections('f')).toEqual({ open: 1, peak: 1, distinct: 1, opened: 1 })
    await n.c!.j.transport.stop()
    net.crash('d')
    expect(net.connections('a')).toEqual({ open: 3, peak: 5, distinct: 5, opened: 5 })
    expect(net.connections('b').open).toBe(1)
    expect(net.connections('c')).toEqual({ open: 0, peak: 2, distinct: 2, opened: 2 })
    expect(net.connections('d').open).toBe(0)
    // Counters describe the id's whole history: a restarted node reopens and counts on.
    const d = (await net.restart('d')) as SimJoined
    const got: string[] = []
    d.transport.onMessage((from) => got.push(from))
    await d.transport.start()
    send('a', 'd')
    expect(net.connections('d')).toEqual({ open: 1, peak: 1, distinct: 1, opened: 2 })
    expect(net.connections('a')).toEqual({ open: 4, peak: 5, distinct: 5, opened: 6 })
    await net.settle({ quietMs: 100 })
    expect(got).toEqual(['a'])
  })

  it('draws no random numbers for connections: a cap leaves the trace of a seed unchanged', async () => {
    const trace = async (opts: Omit<SimOptions, 'seed'>): Promise<string[]> => {
      const net = createSimNetwork({ seed: 11, latencyMs: [1, 20], loss: 0.2, duplicate: 0.2, ...opts })
      const n = startAll(net, ids)
      const out: string[] = []
      net.observe((ev) => out.push(`${ev.type} ${ev.time} ${ev.from}>${ev.to} ${ev.reason ?? ''}`))
      await net.settle({ quietMs: 100 })
      for (let i = 0; i < 40; i++) n[ids[i % 6]!]!.j.transport.send(ids[(i * 5 + 1) % 6]! as NodeId, new Uint8Array([i]))
      await net.settle({ quietMs: 100 })
      return out
    }
    const plain = await trace({})
    expect(plain.length).toBeGreaterThan(40)
    // A cap changes only bookkeeping, never a random draw: the trace is the same with one too.
    expect(await trace({ maxConnections: 1 })).toEqual(plain)
  })

  it('throws TypeError for a maxConnections that is not a positive whole number', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Infinity, '2' as unknown as number]) {
      expect(() => createSimNetwork({ seed: 1, maxConnections: bad })).toThrow(TypeError)
    }
    expect(() => createSimNetwork({ seed: 1, maxConnections: 1 })).not.toThrow()
  })

  it('throws TypeError for connections() of an id never joined', () => {
    const net = createSimNetwork({ seed: 1 })
    expect(() => net.connections('nobody')).toThrow(TypeError)
  })
})
