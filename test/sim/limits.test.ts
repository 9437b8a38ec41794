/**
 * Big values and sibling growth at the real limits (src/limits.ts): a write that would grow a key
 * past the record or sibling limit is refused at the coordinator and stores nothing; a set grown past
 * the record limit by concurrent coordinators still replicates, converges and reads back, and the
 * next write with its context shrinks it; a message a transport will not carry is refused, counted
 * and reported, never silently lost. Byte and message counts are the simulation's, so deterministic.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createNode, memoryStorage, type DynameshNode, type NodeEvent } from '../../src/index.js'
import { isDynameshError } from '../../src/errors.js'
import { MAX_RECORD_BYTES, MAX_SIBLINGS } from '../../src/limits.js'
import { asNodeId } from '../../src/types.js'
import { partitionOf } from '../../src/core/ring.js'
import { createSimNetwork, divergentPartitions, type SimNetwork, type SimOptions } from '../../src/sim/index.js'

type SimNode = DynameshNode & { idle(): boolean }

/** A value of `n` bytes, all equal to `i`: distinct values, cheap to make and to tell apart. */
const big = (i: number, n = 1_000_000): Uint8Array => new Uint8Array(n).fill(i)
/** The fill bytes of the values read, sorted: which of the `big` values a read returned. */
const fills = (vs: Uint8Array[]): number[] => vs.map((v) => v[0]!).sort((x, y) => x - y)

let net: SimNetwork | undefined
let nodes: SimNode[] = []

async function simCluster(ids: string[], opts: Partial<SimOptions> = {}): Promise<SimNode[]> {
  net = createSimNetwork({ seed: 14, latencyMs: [1, 5], ...opts })
  nodes = []
  for (const id of ids) nodes.push((await createNode({ storage: memoryStorage(), ...net.join(id), n: 3, r: 2, w: 2, q: 16 })) as SimNode)
  await net.settle({ quietMs: 3000 })
  return nodes
}

afterEach(async () => {
  for (const n of nodes) await n.stop().catch(() => {})
  await net?.stop()
  net = undefined
})

/** The partition of `key` on the node's ring (q = 16). */
const partitionOfKey = (_n: SimNode, key: string): number => partitionOf(new TextEncoder().encode(key), 16)

const roots = (ns: SimNode[]): string => JSON.stringify(ns.map((n) => n.inspect().roots))

describe('a write that would grow its key past a limit', () => {
  it('five blind 1,000,000-byte puts through one node: four stored, the fifth refused with RECORD_TOO_LARGE, every replica reads the same four', async () => {
    const [a] = await simCluster(['a', 'b', 'c'])
    for (let i = 1; i <= 4; i++) await a!.put('big', big(i))
    await net!.settle()
    const before = roots(nodes)
    const err = await a!.put('big', big(5)).catch((e: unknown) => e)
    expect(isDynameshError(err, 'RECORD_TOO_LARGE')).toBe(true)
    const message = (err as Error).message
    expect(message).toMatch(/key "big" has 4 siblings in \d+ bytes/)
    expect(message).toContain(`record limit of ${MAX_RECORD_BYTES} bytes`)
    expect(message).toMatch(/write that back with the read's context/)
    await net!.settle()
    // Refused before anything was stored: no replica changed.
    expect(roots(nodes)).toBe(before)
    for (const n of nodes) {
      const r = await n.get('big', { r: 3 })
      expect(fills(r.values)).toEqual([1, 2, 3, 4])
      expect((await n.stats()).tooLarge).toBe(0)
    }
    // The write that resolves the siblings gets through, through any node.
    const read = await nodes[1]!.get('big', { r: 3 })
    await nodes[2]!.put('big', big(9), { context: read.context })
    for (const n of nodes) expect(fills((await n.get('big', { r: 3 })).values)).toEqual([9])
  })

  it(`refuses the write that would leave ${MAX_SIBLINGS + 1} siblings with TOO_MANY_SIBLINGS, and stores nothing`, async () => {
    const [a, b] = await simCluster(['a', 'b', 'c'])
    for (let i = 0; i < MAX_SIBLINGS; i++) await (i % 2 ? a! : b!).put('many', `v${i}`)
    await net!.settle()
    const before = roots(nodes)
    const err = await a!.put('many', 'one more').catch((e: unknown) => e)
    expect(isDynameshError(err, 'TOO_MANY_SIBLINGS')).toBe(true)
    expect((err as Error).message).toMatch(new RegExp(`key "many" has ${MAX_SIBLINGS} siblings in \\d+ bytes; this write would leave ${MAX_SIBLINGS + 1}`))
    // A blind delete adds a tombstone sibling: refused the same way.
    expect(isDynameshError(await b!.delete('many').catch((e: unknown) => e), 'TOO_MANY_SIBLINGS')).toBe(true)
    await net!.settle()
    expect(roots(nodes)).toBe(before)
    const read = await b!.get('many', { r: 3 })
    expect(read.values).toHaveLength(MAX_SIBLINGS)
    await b!.delete('many', { context: read.context })
    expect((await a!.get('many', { r: 3 })).deleted).toBe(true)
  })
})

describe('a set grown past the record limit by concurrent coordinators', () => {
  it('replicates, converges on every replica, reads back, and the next write with its context shrinks it', async () => {
    const ns = await simCluster(['a', 'b', 'c'])
    let largest = 0
    net!.observe((ev) => {
      if (ev.type === 'deliver') largest = Math.max(largest, ev.size)
    })
    // Three coordinators cut off from each other each take three 1,000,000-byte values (w = 1):
    // each stays under the record limit on its own, together they hold 9,000,000 bytes.
    net!.partition(['a'], ['b'], ['c'])
    for (const [k, n] of ns.entries()) for (let i = 0; i < 3; i++) await n.put('big', big(10 * k + i + 1), { w: 1 })
    net!.heal()
    await net!.settle()
    expect(divergentPartitions(ns)).toEqual([])
    const want = [1, 2, 3, 11, 12, 13, 21, 22, 23]
    for (const n of ns) {
      const r = await n.get('big', { r: 3 })
      expect(fills(r.values)).toEqual(want)
      expect((await n.stats()).tooLarge).toBe(0)
    }
    // The whole set travelled in single messages above the record limit (streamed by the transport).
    expect(largest).toBeGreaterThan(MAX_RECORD_BYTES)
    expect(net!.stats().refused).toBe(0)
    // Growing it further is refused; the message says how big it is and what to do.
    const grow = await ns[1]!.put('big', 'tiny').catch((e: unknown) => e)
    expect(isDynameshError(grow, 'RECORD_TOO_LARGE')).toBe(true)
    expect((grow as Error).message).toMatch(/has 9 siblings in 9\d{6} bytes/)
    // Resolving it shrinks it everywhere.
    const read = await ns[2]!.get('big', { r: 3 })
    await ns[0]!.put('big', big(99), { context: read.context })
    await net!.settle()
    for (const n of ns) expect(fills((await n.get('big', { r: 3 })).values)).toEqual([99])
    expect(divergentPartitions(ns)).toEqual([])
  })
})

describe('hints and transfers of a set past the record limit', () => {
  it('a hint held by a non-owner is delivered, and the merged set moves whole to the new owner when an owner leaves', async () => {
    const ns = await simCluster(['a', 'b', 'c', 'd'])
    const owners = ns[0]!.cluster().partitions
    const p = partitionOfKey(ns[0]!, 'big')
    const ownersOfKey = owners[p]!.map(String)
    const other = ns.find((n) => !ownersOfKey.includes(n.id))!
    let largest = 0
    net!.observe((ev) => {
      if (ev.type === 'deliver') largest = Math.max(largest, ev.size)
    })
    // Every node cut off from the rest takes 1,000,000-byte values: the owners as replicas, the
    // fourth as a sloppy stand-in holding a hint for an owner. 12,000,000 bytes in all.
    net!.partition(['a'], ['b'], ['c'], ['d'])
    for (const [k, n] of ns.entries()) for (let i = 0; i < 3; i++) await n.put('big', big(10 * k + i + 1), { w: 1, timeoutMs: 500 })
    expect(other.inspect().hints).toBe(1)
    net!.heal()
    await net!.settle()
    expect(other.inspect().hints).toBe(0)
    const want = [1, 2, 3, 11, 12, 13, 21, 22, 23, 31, 32, 33]
    for (const n of ns) expect(fills((await n.get('big', { r: 3 })).values)).toEqual(want)
    // A write through a node off the key's preference list is forwarded; the refusal comes back as is.
    const fwd = await other.put('big', 'tiny').catch((e: unknown) => e)
    expect(isDynameshError(fwd, 'RECORD_TOO_LARGE')).toBe(true)
    expect((fwd as Error).message).toMatch(/has 12 siblings in 12\d{6} bytes/)
    // An owner leaves: its records go to the remaining owners, the fourth node among them now.
    const leaver = ns.find((n) => n.id === ownersOfKey[0])!
    await leaver.leave()
    await net!.settle()
    const rest = ns.filter((n) => n !== leaver)
    expect(rest.every((n) => n.cluster().partitions[p]!.length === 3 && !n.cluster().partitions[p]!.includes(leaver.id))).toBe(true)
    for (const n of rest) expect(fills((await n.get('big', { r: 3 })).values)).toEqual(want)
    expect(divergentPartitions(rest)).toEqual([])
    expect(largest).toBeGreaterThan(12_000_000) // the whole set, in one message
    expect(net!.stats().refused).toBe(0)
    nodes = rest
  })
})

describe('a message the transport will not carry', () => {
  it('the simulated transport refuses it with MESSAGE_TOO_LARGE and counts it; nothing is sent or dropped', async () => {
    net = createSimNetwork({ seed: 1, maxMessageBytes: 1000 })
    const a = net.join('a')
    net.join('b')
    await a.transport.start()
    const seen: string[] = []
    net.observe((ev) => seen.push(`${ev.type}:${ev.reason ?? ''}:${ev.size}`))
    a.transport.send(asNodeId('b'), new Uint8Array(1000))
    const err = (() => {
      try {
        a.transport.send(asNodeId('b'), new Uint8Array(1001))
      } catch (e) {
        return e
      }
    })()
    expect(isDynameshError(err, 'MESSAGE_TOO_LARGE')).toBe(true)
    expect(net.stats()).toMatchObject({ sent: 1, refused: 1, bytes: 1000 })
    expect(seen).toContain('drop:too-large:1001')
  })

  it('a put whose record outgrew the transport fails naming each replica and "too large", is counted, reported once per key, and suspects nobody', async () => {
    const ns = await simCluster(['a', 'b', 'c'], { maxMessageBytes: 2_500_000 })
    const a = ns[0]!
    const events: Extract<NodeEvent, { type: 'too-large' }>[] = []
    a.on((ev) => void (ev.type === 'too-large' && events.push(ev)))
    await a.put('big', big(1))
    await a.put('big', big(2))
    const err = await a.put('big', big(3)).catch((e: unknown) => e)
    expect(isDynameshError(err, 'QUORUM_FAILED')).toBe(true)
    const message = (err as Error).message
    expect(message).toMatch(/^put: 1 of 2 replicas acknowledged; /)
    expect(message).toMatch(/b: too large to send \(message of 3\d{6} bytes to b is over the transport's limit of 2500000 bytes\)/)
    expect(message).toMatch(/c: too large to send/)
    expect(message).not.toMatch(/reachable|no answer/)
    expect((await a.stats()).tooLarge).toBe(2)
    expect(net!.stats().refused).toBe(2)
    // Reported once for the key, though two replicas refused it.
    expect(events).toHaveLength(1)
    expect(new TextDecoder().decode(events[0]!.keys[0])).toBe('big')
    expect(events[0]).toMatchObject({ message: 'store' })
    // The replicas are fine: nobody was suspected for a message that could not be sent.
    expect(a.cluster().members.every((m) => m.reachable)).toBe(true)
    // A read that needs a's reply hears why it cannot come, instead of waiting for it.
    const read = await ns[1]!.get('big', { r: 3 }).catch((e: unknown) => e)
    expect(isDynameshError(read, 'QUORUM_FAILED')).toBe(true)
    expect((read as Error).message).toMatch(/^get: 2 of 3 replicas answered; a: its reply is too large to send \(MESSAGE_TOO_LARGE\)$/)
    // Repairs keep trying and keep being counted: never silently lost.
    const refused = net!.stats().refused
    await net!.advance(20_000)
    expect(net!.stats().refused).toBeGreaterThan(refused)
    expect(events).toHaveLength(1)
  })
})
