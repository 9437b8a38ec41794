import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createSimNetwork, SIM_EPOCH, type SimJoined, type SimNetwork } from '../../src/sim/network.js'
import { seededRandom } from '../../src/sim/random.js'
import { levelStorage } from '../../src/storage/level.js'
import { memoryStorage } from '../../src/storage/memory.js'
import type { AttachedNode, Env, NodeId, SimulationHooks, Storage, Transport } from '../../src/types.js'

const bytes = (...xs: number[]): Uint8Array => new Uint8Array(xs)
const sleepVirtual = (env: Env, ms: number): Promise<void> => new Promise((r) => env.setTimer(ms, r))

/** Starts transports and records what each node receives. */
function startAll(net: SimNetwork, ids: string[]): Record<string, { j: SimJoined; got: Array<[string, Uint8Array]>; peers: Array<[string, boolean]> }> {
  const out: Record<string, { j: SimJoined; got: Array<[string, Uint8Array]>; peers: Array<[string, boolean]> }> = {}
  for (const id of ids) {
    const j = net.join(id)
    const rec = { j, got: [] as Array<[string, Uint8Array]>, peers: [] as Array<[string, boolean]> }
    j.transport.onMessage((from, msg) => rec.got.push([from, msg]))
    j.transport.onPeer((ev) => rec.peers.push([ev.id, ev.up]))
    void j.transport.start()
    out[id] = rec
  }
  return out
}

/** A stand-in for createNode: attaches itself, can be halted and recreated, reports idle. */
interface FakeNode extends AttachedNode {
  env: Env
  transport: Transport
  simulation: SimulationHooks
  storage: Storage
  halted: boolean
  generation: number
  idle(): boolean
}
function fakeNode(j: Omit<SimJoined, 'id'>, storage: Storage, generation = 0): FakeNode {
  const { env, transport, simulation } = j
  const node: FakeNode = {
    id: transport.id,
    env,
    transport,
    simulation,
    storage,
    halted: false,
    generation,
    idle: () => true,
    halt() {
      node.halted = true
    },
    async recreate(o) {
      const next = fakeNode({ env: o.env ?? env, transport: o.transport ?? transport, simulation: o.simulation ?? simulation }, o.storage ?? storage, generation + 1)
      await next.transport.start()
      return next
    },
  }
  simulation.attach(node)
  return node
}

describe('sim network: partitions and links', () => {
  it('only lets nodes in the same group talk, silently, until heal', async () => {
    const net = createSimNetwork({ seed: 1 })
    const n = startAll(net, ['a', 'b', 'c', 'd', 'e'])
    await net.settle({ quietMs: 100 })
    const peerEvents = n.a!.peers.length
    net.partition(['a', 'b'], ['c'])
    const send = (f: string, t: string): void => n[f]!.j.transport.send(t as NodeId, bytes(1))
    send('a', 'b') // same group
    send('a', 'c') // across
    send('c', 'd') // c alone; d and e are unlisted and form one group together
    send('d', 'e')
    send('e', 'a')
    await net.settle({ quietMs: 100 })
    expect(n.b!.got.length).toBe(1)
    expect(n.c!.got.length).toBe(0)
    expect(n.d!.got.length).toBe(0)
    expect(n.e!.got.length).toBe(1)
    expect(n.a!.got.length).toBe(0)
    expect(n.a!.peers.length).toBe(peerEvents) // a split is silent
    net.heal()
    send('a', 'c')
    await net.settle({ quietMs: 100 })
    expect(n.c!.got.length).toBe(1)
    await net.stop()
  })

  it('applies per-directed-link faults', async () => {
    const net = createSimNetwork({ seed: 2 })
    const n = startAll(net, ['a', 'b'])
    net.setLink('a', 'b', { down: true })
    net.setLink('b', 'a', { latencyMs: [500, 500] })
    n.a!.j.transport.send('b' as NodeId, bytes(1))
    const t0 = net.now()
    let at = 0
    n.a!.j.transport.onMessage(() => (at = net.now()))
    n.b!.j.transport.send('a' as NodeId, bytes(2))
    await net.settle({ quietMs: 1_000 })
    expect(n.b!.got.length).toBe(0)
    expect(at - t0).toBe(500)
    await net.stop()
  })

  it('drops about the configured share of messages, and duplicates', async () => {
    const net = createSimNetwork({ seed: 3, loss: 0.3 })
    const n = startAll(net, ['a', 'b'])
    await net.settle({ quietMs: 10 })
    for (let i = 0; i < 10_000; i++) n.a!.j.transport.send('b' as NodeId, bytes(i & 255))
    await net.settle({ quietMs: 100 })
    const s = net.stats()
    expect(s.sent).toBe(10_000)
    expect(s.delivered + s.dropped).toBe(10_000)
    expect(s.delivered / s.sent).toBeGreaterThan(0.68)
    expect(s.delivered / s.sent).toBeLessThan(0.72)
    expect(s.bytes).toBe(10_000)
    net.setFaults({ loss: 0, duplicate: 0.2 })
    for (let i = 0; i < 10_000; i++) n.a!.j.transport.send('b' as NodeId, bytes(1))
    await net.settle({ quietMs: 100 })
    const dup = net.stats().delivered - s.delivered
    expect(dup / 10_000).toBeGreaterThan(1.18)
    expect(dup / 10_000).toBeLessThan(1.22)
    await net.stop()
  })

  it('reorders by default and keeps links FIFO with reorder: false', async () => {
    for (const reorder of [true, false]) {
      const net = createSimNetwork({ seed: 4, latencyMs: [1, 50], reorder })
      const n = startAll(net, ['a', 'b'])
      for (let i = 0; i < 100; i++) n.a!.j.transport.send('b' as NodeId, bytes(i))
      await net.settle({ quietMs: 100 })
      const order = n.b!.got.map(([, m]) => m[0]!)
      expect(order.length).toBe(100)
      expect(order.every((x, i) => x === i)).toBe(!reorder)
      await net.stop()
    }
  })

  it('lists live started peers and refuses a second join of a live id', async () => {
    const net = createSimNetwork({ seed: 5 })
    const n = startAll(net, ['a', 'b', 'c'])
    expect(n.a!.j.transport.peers?.()).toEqual(['b', 'c'])
    expect(() => net.join('a')).toThrow(TypeError)
    expect(net.ids()).toEqual(['a', 'b', 'c'])
    expect(() => n.a!.j.transport.send('zz' as NodeId, bytes(1))).not.toThrow()
    await net.stop()
  })
})

describe('sim network: crash and restart', () => {
  it('crash cancels timers, drops traffic, halts the node and tells peers', async () => {
    const net = createSimNetwork({ seed: 6 })
    const n = startAll(net, ['a', 'b'])
    const node = fakeNode(n.a!.j, memoryStorage())
    await net.settle({ quietMs: 10 })
    let fired = 0
    n.a!.j.env.setTimer(1_000, () => fired++)
    n.b!.j.transport.send('a' as NodeId, bytes(1)) // in flight when a crashes
    net.crash('a')
    expect(node.halted).toBe(true)
    n.a!.j.env.setTimer(10, () => fired++) // a dead env schedules nothing
    n.a!.j.transport.send('b' as NodeId, bytes(2))
    n.b!.j.transport.send('a' as NodeId, bytes(3))
    await net.settle({ quietMs: 5_000 })
    expect(fired).toBe(0)
    expect(n.a!.got.length).toBe(0)
    expect(n.b!.got.length).toBe(0)
    expect(n.b!.peers.at(-1)).toEqual(['a', false])
    expect(n.b!.j.transport.peers?.()).toEqual([])
    await net.stop()
  })

  it("a crash cuts what the crashed node had in flight: nothing of it arrives after its peers saw it go", async () => {
    const net = createSimNetwork({ seed: 6, latencyMs: [50, 50] })
    const n = startAll(net, ['a', 'b'])
    await net.settle({ quietMs: 10 })
    n.a!.j.transport.send('b' as NodeId, bytes(1)) // 50 ms on its way when a crashes
    await net.advance(10)
    net.crash('a')
    await net.advance(100)
    expect(n.b!.peers.at(-1)).toEqual(['a', false])
    expect(n.b!.got.length).toBe(0)
    await net.stop()
  })

  it('restart recreates with a new env and the same storage; replace loses the storage', async () => {
    const net = createSimNetwork({ seed: 7 })
    const n = startAll(net, ['b'])
    const j = net.join('a')
    const storage = memoryStorage()
    const first = fakeNode(j, storage)
    await j.transport.start()
    expect(net.node('a')).toBe(first)
    await expect(net.restart('a')).rejects.toThrow(TypeError) // still running
    net.crash('a')
    const second = (await net.restart('a')) as FakeNode
    expect(second.generation).toBe(1)
    expect(second.env).not.toBe(j.env)
    expect(second.transport).not.toBe(j.transport)
    expect(second.storage).toBe(storage)
    expect(second.simulation).not.toBe(j.simulation)
    expect(net.node('a')).toBe(second)
    await net.settle({ quietMs: 10 })
    expect(n.b!.peers.map(([id, up]) => `${id}:${up}`)).toEqual(['a:true', 'a:false', 'a:true'])
    const third = (await net.replace('a')) as FakeNode
    expect(second.halted).toBe(true)
    expect(third.storage).not.toBe(storage)
    expect(await third.storage.get(bytes(1))).toBeUndefined()
    // The new life draws a different random stream from the old one.
    expect(third.env.random()).not.toBe(j.env.random())
    await net.stop()
  })
})

describe('sim network: virtual time', () => {
  it('advances time by itself while a caller holds, and only then', async () => {
    const net = createSimNetwork({ seed: 8 })
    const { env, simulation } = net.join('a')
    let fired = false
    env.setTimer(10_000, () => (fired = true))
    await new Promise((r) => setTimeout(r, 30))
    expect(fired).toBe(false) // nothing held: the clock stands still
    expect(net.now()).toBe(SIM_EPOCH)
    // A week of virtual time: waited for in real time, the test would time out.
    const week = 7 * 24 * 3_600_000
    const release = simulation.hold()
    await sleepVirtual(env, week)
    release()
    expect(fired).toBe(true)
    expect(net.now() - SIM_EPOCH).toBe(week)
    await net.stop()
  })

  it('holds belong to one life: a crash releases them, a dead life holds nothing, restart hands out new hooks', async () => {
    const net = createSimNetwork({ seed: 14 })
    const j = net.join('a')
    fakeNode(j, memoryStorage())
    const b = net.join('b')
    let fired = false
    b.env.setTimer(1_000, () => (fired = true))
    const waiting = j.simulation.hold() // a caller of the first life, still waiting when it crashes
    net.crash('a')
    const late = j.simulation.hold() // the dead life's code still running
    await new Promise((r) => setTimeout(r, 30))
    expect(fired).toBe(false) // neither keeps the clock running
    expect(net.now()).toBe(SIM_EPOCH)
    waiting()
    late()
    const second = (await net.restart('a')) as FakeNode
    expect(second.simulation).not.toBe(j.simulation)
    const release = second.simulation.hold()
    await sleepVirtual(b.env, 1_000)
    release()
    expect(fired).toBe(true)
    await net.stop()
  })

  it('runs a held request/reply over the network to completion', async () => {
    const net = createSimNetwork({ seed: 11, latencyMs: [10, 10] })
    const n = startAll(net, ['a', 'b'])
    const storage = memoryStorage()
    n.b!.j.transport.onMessage((from, msg) => {
      void storage.batch([{ type: 'put', key: msg, value: msg }]).then(() => n.b!.j.transport.send(from, msg))
    })
    const request = async (): Promise<number> => {
      const release = n.a!.j.simulation.hold()
      try {
        const t0 = net.now()
        const reply = new Promise<void>((r) => n.a!.j.transport.onMessage(() => r()))
        n.a!.j.transport.send('b' as NodeId, bytes(7))
        await reply
        return net.now() - t0
      } finally {
        release()
      }
    }
    expect(await request()).toBe(20)
    await net.stop()
  })

  it('stands still during wrapped real I/O', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dynamesh-sim-level-'))
    const net = createSimNetwork({ seed: 12 })
    const { env, simulation } = net.join('a')
    const storage = net.wrapStorage(await levelStorage(dir))
    let ticks = 0
    const tick = (): void => void env.setTimer(10, () => (ticks++, tick()))
    tick()
    const release = simulation.hold()
    const t0 = net.now()
    for (let i = 0; i < 20; i++) await storage.batch([{ type: 'put', key: bytes(i), value: bytes(i) }])
    let seen = 0
    for await (const _ of storage.iterate({})) seen++
    release()
    // Unwrapped, this loop lets ~60 s of virtual time (thousands of ticks) pass; wrapped, none.
    expect(seen).toBe(20)
    expect(net.now() - t0).toBe(0)
    expect(ticks).toBe(0)
    await storage.close()
    await net.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('stop ends a pending settle', async () => {
    const net = createSimNetwork({ seed: 13 })
    const j = net.join('a')
    const node = fakeNode(j, memoryStorage())
    node.idle = () => false
    const tick = (): void => void j.env.setTimer(1_000, tick)
    tick()
    const pending = net.settle({ maxMs: 1e12 })
    await new Promise((r) => setTimeout(r, 20))
    await net.stop()
    await expect(pending).resolves.toMatchObject({ quiet: false })
  })

  it('settle stops at maxMs when a node is never idle, and when all are idle for quietMs', async () => {
    const net = createSimNetwork({ seed: 9 })
    const j = net.join('a')
    const node = fakeNode(j, memoryStorage())
    const tick = (): void => void j.env.setTimer(100, tick) // gossip-like background work, forever
    tick()
    node.idle = () => false
    const r1 = await net.settle({ maxMs: 20_000 })
    expect(r1).toMatchObject({ quiet: false, virtualMs: 20_000 })
    const busyUntil = net.now() + 3_000
    node.idle = () => net.now() >= busyUntil
    const r2 = await net.settle({ quietMs: 1_000 })
    expect(r2.quiet).toBe(true)
    expect(r2.virtualMs).toBe(4_000)
    expect(r2.events).toBeGreaterThan(30)
    await net.stop()
  })

  it('records exceptions from handlers without stopping, and settle reports them', async () => {
    const net = createSimNetwork({ seed: 10 })
    const n = startAll(net, ['a', 'b'])
    n.b!.j.transport.onMessage(() => {
      throw new Error('handler bug')
    })
    n.a!.j.transport.send('b' as NodeId, bytes(1))
    n.a!.j.transport.send('b' as NodeId, bytes(2))
    await expect(net.settle({ quietMs: 100 })).rejects.toBeInstanceOf(AggregateError)
    expect(n.b!.got.length).toBe(2) // both delivered to the first handler despite the throwing one
    expect(net.errors().length).toBe(2)
    await net.stop()
  })
})

/** A small chaotic scenario; returns a trace of every delivered message. */
async function scenario(seed: number): Promise<string[]> {
  const net = createSimNetwork({ seed, loss: 0.1, duplicate: 0.05, latencyMs: [1, 40] })
  const trace: string[] = []
  net.observe((ev) => {
    if (ev.type === 'deliver') trace.push(`${ev.time - SIM_EPOCH} ${ev.from}>${ev.to} ${ev.size}`)
  })
  const ids = ['a', 'b', 'c', 'd']
  for (const id of ids) {
    const { env, transport } = net.join(id)
    const others = ids.filter((x) => x !== id) as NodeId[]
    const pick = (): NodeId => others[Math.floor(env.random() * others.length)]!
    const storage = memoryStorage()
    transport.onMessage((from, msg) => {
      // Replies go out after an async storage write, as a node's would: promise chains must replay too.
      if (env.random() < 0.5 && msg.length < 100) {
        void storage.batch([{ type: 'put', key: msg, value: msg }]).then(() => transport.send(from, new Uint8Array(msg.length + 1)))
      }
    })
    const tick = (): void => {
      transport.send(pick(), new Uint8Array(1 + Math.floor(env.random() * 50)))
      env.setTimer(100 + env.random() * 200, tick)
    }
    await transport.start()
    tick()
  }
  // A client-style wait through a hold, then faults mid-run, then plain virtual time.
  const { env, simulation } = net.join('client')
  const release = simulation.hold()
  await sleepVirtual(env, 2_000)
  release()
  net.partition(['a', 'b'])
  net.crash('d')
  await net.advance(3_000)
  net.heal()
  await net.restart('d').then((j) => (j as SimJoined).transport.start())
  await net.advance(5_000)
  await net.stop()
  return trace
}

describe('sim network: determinism', () => {
  it('replays the same run from the same seed', async () => {
    const one = await scenario(42)
    const two = await scenario(42)
    expect(one.length).toBeGreaterThan(150)
    expect(two).toEqual(one)
    expect(await scenario(43)).not.toEqual(one)
  })

  it('derives independent, reproducible random streams', () => {
    const x = seededRandom(1, 'node:a#0')
    const y = seededRandom(1, 'node:a#0')
    const z = seededRandom(1, 'node:b#0')
    const xs = Array.from({ length: 5 }, x)
    expect(Array.from({ length: 5 }, y)).toEqual(xs)
    expect(Array.from({ length: 5 }, z)).not.toEqual(xs)
    const r = seededRandom(99)
    let sum = 0
    let outside = 0
    for (let i = 0; i < 100_000; i++) {
      const v = r()
      if (!(v >= 0 && v < 1)) outside++
      sum += v
    }
    expect(outside).toBe(0)
    expect(sum / 100_000).toBeCloseTo(0.5, 2)
  })
})
