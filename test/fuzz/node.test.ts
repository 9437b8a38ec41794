/**
 * Fuzzing the message handlers of running nodes: a rogue peer on the simulated network (dynamesh/sim)
 * sends a three-node cluster valid and mutated wire messages, in batches, while virtual time runs.
 * Asserted after every batch: no exception inside the simulation (`net.errors()`), every node still
 * running. At the end: the rejected counters grew, and the keys written before the fuzzing read back
 * unchanged from every node (generated messages only name keys under 'fz/' and members 'fz-*', see
 * arbitraries.ts, so nothing a correct node does with them can reach those keys).
 * Batches of up to 8 messages: 150 by default, FUZZ_RUNS / 20 with FUZZ_RUNS set (50,000 batches,
 * about 225,000 messages, at a million).
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNode, memoryStorage, type DynameshNode } from '../../src/index.js'
import { createSimNetwork, type SimJoined, type SimNetwork } from '../../src/sim/index.js'
import { asNodeId, type NodeId } from '../../src/types.js'
import { encodeMessage, type Msg } from '../../src/wire/messages.js'
import { signedPart } from '../../src/core/membership.js'
import { hostileWire, wireBytes } from './arbitraries.js'
import { SEED, TIMEOUT, runs, seeded } from './config.js'

const IDS = ['a', 'b', 'c'] as const
const KEPT = Array.from({ length: 12 }, (_, i) => `kept/${i}`)
const text = (v: Uint8Array): string => new TextDecoder().decode(v)

let net: SimNetwork
let rogue: SimJoined
const nodes = new Map<string, DynameshNode>()
const running = (n: DynameshNode): boolean => (n as unknown as { running(): boolean }).running()
const rejected = async (): Promise<number> => {
  let sum = 0
  for (const n of nodes.values()) sum += (await n.stats()).rejected
  return sum
}
/** What every node reads for every kept key: sorted values, or 'deleted'. */
async function readKept(): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const [id, n] of nodes) {
    for (const k of KEPT) {
      const r = await n.get(k)
      out[`${id} ${k}`] = r.deleted ? 'deleted' : JSON.stringify(r.values.map(text).sort())
    }
  }
  return out
}

let before: Record<string, string>
let rejectedBefore = 0

beforeAll(async () => {
  net = createSimNetwork({ seed: SEED })
  for (const id of IDS) {
    // Fake members (generated gossip names 'fz-*' ids) expire after a minute of silence.
    nodes.set(id, await createNode({ storage: memoryStorage(), ...net.join(id), n: 3, r: 2, w: 2, q: 64, removeAfterMs: 60_000 }))
  }
  await net.settle({ quietMs: 3000 })
  const a = nodes.get('a')!
  for (const [i, k] of KEPT.entries()) await a.put(k, `value ${i}`)
  // Two siblings on one key, a delete on another: the state to keep is not only plain values.
  await nodes.get('b')!.put(KEPT[0]!, 'concurrent')
  await a.delete(KEPT[1]!, { context: (await a.get(KEPT[1]!)).context })
  await net.settle({ quietMs: 3000 })
  before = await readKept()
  expect(before[`a ${KEPT[0]}`]).toBe(JSON.stringify(['concurrent', 'value 0']))
  rogue = net.join('zz-rogue')
  await rogue.transport.start()
  await net.advance(100)
  rejectedBefore = await rejected()
})

afterAll(async () => {
  for (const n of nodes.values()) await n.stop().catch(() => {})
  await net?.stop()
})

describe('fuzz: node message handlers over the simulated network', () => {
  it('batches of valid and mutated messages from a rogue peer: no exception in the simulation, every node keeps running', async () => {
    const valid = seeded(wireBytes)
    const input = fc.oneof({ weight: 1, arbitrary: valid }, { weight: 3, arbitrary: hostileWire(valid) })
    const batch = fc.array(fc.tuple(fc.constantFrom(...IDS), input), { minLength: 1, maxLength: 8 })
    await fc.assert(
      fc.asyncProperty(batch, fc.integer({ min: 1, max: 200 }), async (msgs, ms) => {
        for (const [to, bytes] of msgs) rogue.transport.send(to as never, bytes)
        await net.advance(ms) // rejects with the simulation's exceptions, if any
        expect(net.errors()).toEqual([])
        for (const n of nodes.values()) expect(running(n)).toBe(true)
      }),
      { seed: SEED, numRuns: runs(150, 20) },
    )
  }, TIMEOUT)

  it('the nodes counted what they refused, and every kept key reads back unchanged from every node', async () => {
    expect(await rejected()).toBeGreaterThan(rejectedBefore)
    // Valid stores reached the handlers too: the nodes hold records of generated 'fz/' keys.
    let records = 0
    for (const n of nodes.values()) records += (await n.stats()).records
    expect(records).toBeGreaterThan(KEPT.length * IDS.length)
    await rogue.transport.stop()
    // Long enough for fake members to expire and the ring to return to the three nodes.
    await net.advance(120_000)
    await net.settle({ quietMs: 5000 })
    expect(net.errors()).toEqual([])
    expect(await readKept()).toEqual(before)
    // Members a rogue made up stay in the views (as left, or as joining or leaving when no request
    // ever reached them to time out), but own nothing: the ring is the three nodes again.
    for (const n of nodes.values()) expect(new Set(n.cluster().partitions.flat())).toEqual(new Set(IDS))
  }, TIMEOUT)

  /**
   * Found by this suite: a member entry at the decoder's version cap (2^40) about another node made
   * that node re-assert itself at 2^40 + 1, which every decoder refuses, silencing its gossip for
   * good. Entries are now signed by the member they describe, so a peer's entry about another is
   * refused, and a node re-asserting never goes past the cap.
   */
  it('one gossip entry at the version cap about another node changes nothing, and honest gossip keeps flowing', async () => {
    const net2 = createSimNetwork({ seed: SEED })
    const cluster: DynameshNode[] = []
    for (const id of IDS) cluster.push(await createNode({ storage: memoryStorage(), ...net2.join(id), n: 3, r: 2, w: 2, q: 64 }))
    try {
      await net2.settle({ quietMs: 3000 })
      const liar = net2.join('zz-rogue')
      await liar.transport.start()
      const forged = { id: asNodeId('a'), weight: 1, status: 'left' as const, version: 2 ** 40 }
      const signedByLiar = { ...forged, key: liar.transport.auth!.publicKey, sig: liar.transport.auth!.sign(signedPart(forged)) }
      const entry: Msg = { t: 'g-delta', members: [forged, signedByLiar], want: new Uint8Array(0) }
      liar.transport.send('b' as NodeId, encodeMessage(entry))
      await net2.advance(10_000)
      const refused = async (): Promise<number> => (await Promise.all(cluster.map((n) => n.stats()))).reduce((sum, s) => sum + s.rejected, 0)
      const after = await refused()
      expect(after).toBe(2)
      await net2.advance(60_000)
      // Honest nodes talking among themselves: nothing more may be refused, and 'a' is up everywhere.
      expect(await refused()).toBe(after)
      for (const n of cluster) expect(n.cluster().members.find((m) => m.id === 'a')?.status).toBe('up')
    } finally {
      for (const n of cluster) await n.stop()
      await net2.stop()
    }
  }, TIMEOUT)
})
