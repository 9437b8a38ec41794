/**
 * Per-peer limits on inbound work: a member that floods messages or stores gets the excess dropped
 * and counted (and its writes answered OVERLOADED), while every other peer is served as before and
 * nothing stored is lost.
 */
import { describe, expect, it } from 'vitest'
import { emptySet, update } from '../../src/core/clock.js'
import { encodeSet } from '../../src/core/record.js'
import { createNode, memoryStorage, type DynameshNode } from '../../src/index.js'
import { MAX_PEER_MESSAGES_PER_SEC, MAX_PEER_QUEUED_BYTES } from '../../src/limits.js'
import { createSimNetwork } from '../../src/sim/index.js'
import type { NodeId, Storage } from '../../src/types.js'
import { decodeMessage, encodeMessage, type Msg } from '../../src/wire/messages.js'
import { texts } from './cluster.js'

const utf8 = new TextEncoder()

/** A storage whose writes wait until `open()`: stores pile up as on a slow disk. */
function gatedStorage(): { storage: Storage; close(): void; open(): void } {
  const inner = memoryStorage()
  let gate: Promise<void> = Promise.resolve()
  let release = (): void => {}
  return {
    storage: { ...inner, get: (k) => inner.get(k), iterate: (r) => inner.iterate(r), close: () => inner.close(), batch: async (ops) => { await gate; return inner.batch(ops) } },
    close: () => void (gate = new Promise((r) => (release = r))),
    open: () => release(),
  }
}

describe('per-peer inbound limits', () => {
  it('a flood past the per-second budget is dropped and counted; other peers and the flooder, later, are served', async () => {
    const net = createSimNetwork({ seed: 31 })
    const nodes: DynameshNode[] = []
    for (const id of ['a', 'b', 'c']) nodes.push(await createNode({ storage: memoryStorage(), ...net.join(id), n: 3, r: 2, w: 2 }))
    await net.settle()
    for (let i = 0; i < 20; i++) await nodes[1]!.put(`k${i}`, `v${i}`)
    const rogue = net.join('zz-rogue')
    let answers = 0
    rogue.transport.onMessage((_f, bytes) => void (decodeMessage(bytes).t === 'get-r' && answers++))
    await rogue.transport.start()
    const flood = 3 * MAX_PEER_MESSAGES_PER_SEC
    const get = encodeMessage({ t: 'get', rid: 1, key: utf8.encode('k1') } satisfies Msg)
    for (let i = 0; i < flood; i++) rogue.transport.send('a' as NodeId, get)
    await net.advance(50)
    const { overloaded } = await nodes[0]!.stats()
    // The bucket holds a second's worth; the flood arrives within a few ms, so about two thirds go.
    expect(overloaded.rate).toBeGreaterThan(flood - MAX_PEER_MESSAGES_PER_SEC - 200)
    expect(overloaded.rate).toBeLessThanOrEqual(flood - MAX_PEER_MESSAGES_PER_SEC)
    expect(answers).toBe(flood - overloaded.rate)
    // Honest peers are not throttled by the flooder's budget.
    for (let i = 0; i < 20; i++) expect(texts((await nodes[0]!.get(`k${i}`)).values)).toEqual([`v${i}`])
    await net.advance(2000)
    const before = answers
    for (let i = 0; i < 10; i++) rogue.transport.send('a' as NodeId, get)
    await net.advance(50)
    expect(answers - before).toBe(10)
    expect((await nodes[0]!.stats()).overloaded.rate).toBe(overloaded.rate)
    await rogue.transport.stop()
    for (const n of nodes) await n.stop()
    await net.stop()
  }, 60_000)

  it('stores past the byte budget are refused OVERLOADED while earlier ones are written, and all admitted ones are stored', async () => {
    const net = createSimNetwork({ seed: 32 })
    const gated = gatedStorage()
    const a = await createNode({ storage: gated.storage, ...net.join('a'), n: 1, r: 1, w: 1 })
    await net.settle()
    const rogue = net.join('zz-rogue')
    const replies: Array<{ ok: boolean; err?: string }> = []
    rogue.transport.onMessage((_f, bytes) => {
      const m = decodeMessage(bytes)
      if (m.t === 'store-r') replies.push({ ok: m.ok, ...(m.err ? { err: m.err } : {}) })
    })
    await rogue.transport.start()
    const size = 3 * 1024 * 1024
    const count = 30
    const admitted = Math.floor(MAX_PEER_QUEUED_BYTES / (size + 16))
    gated.close()
    for (let i = 0; i < count; i++) {
      const key = utf8.encode(`big-${String(i).padStart(4, '0')}`)
      const rec = encodeSet(update(emptySet, {}, `zz.${i}`, new Uint8Array(size).fill(i), net.now()))
      rogue.transport.send('a' as NodeId, encodeMessage({ t: 'store', rid: i, items: [{ key, rec }], ack: true }))
    }
    await net.advance(100)
    expect(replies.filter((r) => r.err === 'OVERLOADED')).toHaveLength(count - admitted)
    expect((await a.stats()).overloaded.queued).toBe(count - admitted)
    gated.open()
    await net.advance(1000)
    expect(replies.filter((r) => r.ok)).toHaveLength(admitted)
    expect((await a.stats()).records).toBe(admitted)
    await rogue.transport.stop()
    await a.stop()
    await net.stop()
  }, 60_000)
})
