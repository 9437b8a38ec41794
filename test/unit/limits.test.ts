/**
 * The size budget of src/limits.ts holds end to end: a record at the record limit fits every message
 * that carries one, batches never hold more than fits, decoders and transports accept up to the hard
 * cap and refuse past it (loudly), node options can lower the limits but not raise them, and the
 * coordinator's growth check lets every shrinking write through.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isDynameshError } from '../../src/errors.js'
import { generateIdentity } from '../../src/identity.js'
import {
  HARD_MESSAGE_BYTES,
  MAX_BATCH_ITEMS,
  MAX_KEY_BYTES,
  MAX_MEMBER_ID,
  MAX_MESSAGE_BYTES,
  MAX_RECORD_BYTES,
  MAX_SIBLINGS,
  MAX_VALUE_BYTES,
} from '../../src/limits.js'
import { createNode, memoryStorage } from '../../src/index.js'
import { batches, itemBytes } from '../../src/node/batch.js'
import { checkGrowth } from '../../src/node/validate.js'
import { createSimNetwork } from '../../src/sim/index.js'
import { DEFAULT_MAX_MESSAGE_BYTES } from '../../src/transport/framing.js'
import { createWebRtcTransport } from '../../src/transport/webrtc.js'
import { webRtcDefaults } from '../../src/transport/wrtc.js'
import { asNodeId } from '../../src/types.js'
import { decodeMessage, encodeMessage, type Msg } from '../../src/wire/messages.js'

const hint = asNodeId('h'.repeat(MAX_MEMBER_ID))
const key = new Uint8Array(MAX_KEY_BYTES).fill(7)
const rid = Number.MAX_SAFE_INTEGER

describe('the budget', () => {
  it('orders the limits: value ≤ record < message < hard cap; the framing and the simulated network default to the hard cap', () => {
    expect(MAX_VALUE_BYTES).toBeLessThanOrEqual(MAX_RECORD_BYTES)
    expect(MAX_RECORD_BYTES).toBeLessThan(MAX_MESSAGE_BYTES)
    expect(MAX_MESSAGE_BYTES * 8).toBeLessThanOrEqual(HARD_MESSAGE_BYTES)
    expect(DEFAULT_MAX_MESSAGE_BYTES).toBe(HARD_MESSAGE_BYTES)
    const net = createSimNetwork({ seed: 1 })
    const a = net.join('a')
    expect(() => a.transport.send(asNodeId('b'), new Uint8Array(HARD_MESSAGE_BYTES + 1))).toThrow(/over the transport's limit of 67108864 bytes/)
    a.transport.send(asNodeId('b'), new Uint8Array(HARD_MESSAGE_BYTES))
    expect(net.stats()).toMatchObject({ sent: 1, refused: 1 })
  })

  it('a record at the record limit fits a replicate, a get reply and a store batch item, with the largest key and hint', () => {
    const rec = new Uint8Array(MAX_RECORD_BYTES).fill(1)
    const msgs: Msg[] = [
      { t: 'store', rid, items: [{ key, rec, hint }], ack: true },
      { t: 'get-r', rid, rec },
      { t: 'fwd', rid, op: Number.MAX_SAFE_INTEGER, at: Number.MAX_SAFE_INTEGER, again: true, key, value: new Uint8Array(MAX_RECORD_BYTES), ctx: 'c'.repeat(1000), w: 64, n: 64, timeoutMs: 600_000 },
    ]
    for (const m of msgs) {
      const bytes = encodeMessage(m)
      expect(bytes.length).toBeLessThanOrEqual(MAX_MESSAGE_BYTES)
      expect(decodeMessage(bytes).t).toBe(m.t)
    }
    expect(itemBytes({ key, rec })).toBeGreaterThanOrEqual(encodeMessage({ t: 'store', rid, items: [{ key, rec, hint }], ack: true }).length - 64)
  })

  it('the decoder takes a record up to the hard cap and refuses a message past it', () => {
    const rec = new Uint8Array(HARD_MESSAGE_BYTES - 4096)
    expect(decodeMessage(encodeMessage({ t: 'store', rid: 1, items: [{ key, rec }], ack: false })).t).toBe('store')
    const over = encodeMessage({ t: 'get-r', rid: 1, rec: new Uint8Array(HARD_MESSAGE_BYTES) })
    expect(() => decodeMessage(over)).toThrow(/message too large/)
    // A forwarded value is never more than a record.
    expect(() => decodeMessage(encodeMessage({ t: 'fwd', rid: 1, op: 1, at: 0, again: false, key, value: new Uint8Array(MAX_RECORD_BYTES + 1), ctx: '', w: 1, n: 1, timeoutMs: 1 }))).toThrow(/value/)
  })

  it('batches never hold more than their budget, except a single item larger than it, and keep every item in order', () => {
    const item = fc.record({ k: fc.integer({ min: 1, max: 64 }), r: fc.integer({ min: 0, max: 300_000 }) })
    fc.assert(
      fc.property(fc.array(item, { maxLength: 300 }), fc.integer({ min: 1, max: 600_000 }), (specs, maxBytes) => {
        const items = specs.map((s) => ({ key: new Uint8Array(s.k), rec: new Uint8Array(s.r) }))
        const out = batches(items, { maxBytes })
        expect(out.flat()).toEqual(items)
        for (const b of out) {
          expect(b.length).toBeGreaterThan(0)
          expect(b.length).toBeLessThanOrEqual(MAX_BATCH_ITEMS)
          if (b.length > 1) expect(b.reduce((n, it) => n + itemBytes(it), 0)).toBeLessThanOrEqual(maxBytes)
        }
      }),
      { numRuns: 200 },
    )
    // Without a budget of its own a batch stays within the message budget.
    const full = Array.from({ length: 3 }, () => ({ key, rec: new Uint8Array(MAX_RECORD_BYTES / 2) }))
    for (const b of batches(full)) expect(b.reduce((n, it) => n + itemBytes(it), 0)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES)
  })
})

describe('the growth check', () => {
  const limits = { maxRecordBytes: 1000, maxSiblings: 3 }
  const k = new TextEncoder().encode('k')

  it('refuses growth past a limit, and names the sibling count, the size and what to do', () => {
    expect(() => checkGrowth(k, { siblings: 2, bytes: 900 }, { siblings: 3, bytes: 1001 }, limits)).toThrow(
      'key "k" has 2 siblings in 900 bytes; this write would make it 1001 bytes, over the record limit of 1000 bytes. Read the key, merge its siblings into one value and write that back with the read\'s context.',
    )
    const e = (() => {
      try {
        checkGrowth(k, { siblings: 3, bytes: 10 }, { siblings: 4, bytes: 20 }, limits)
      } catch (err) {
        return err
      }
    })()
    expect(isDynameshError(e, 'TOO_MANY_SIBLINGS')).toBe(true)
  })

  it('lets through every write that does not grow the set, even above the limits (the one that resolves it)', () => {
    expect(() => checkGrowth(k, { siblings: 9, bytes: 9000 }, { siblings: 1, bytes: 500 }, limits)).not.toThrow()
    expect(() => checkGrowth(k, { siblings: 9, bytes: 9000 }, { siblings: 9, bytes: 8000 }, limits)).not.toThrow()
    expect(() => checkGrowth(k, { siblings: 3, bytes: 100 }, { siblings: 3, bytes: 1000 }, limits)).not.toThrow()
  })

  it('shows a key that is not short text as hex', () => {
    expect(() => checkGrowth(new Uint8Array([0, 255]), { siblings: 0, bytes: 0 }, { siblings: 1, bytes: 2000 }, limits)).toThrow(/^key 0x00ff has 0 siblings/)
  })
})

describe('node options', () => {
  const make = async (o: Record<string, number>): Promise<unknown> => {
    const net = createSimNetwork({ seed: 1 })
    try {
      const node = await createNode({ storage: memoryStorage(), ...net.join('a'), n: 1, r: 1, w: 1, ...o })
      await node.stop()
      return undefined
    } catch (e) {
      return e
    } finally {
      await net.stop()
    }
  }

  it('may lower the limits, never raise them past what messages are sized for', async () => {
    expect(await make({ maxRecordBytes: MAX_RECORD_BYTES + 1 })).toBeInstanceOf(TypeError)
    expect(await make({ maxSiblings: MAX_SIBLINGS + 1 })).toBeInstanceOf(TypeError)
    expect(await make({ maxValueBytes: 2000, maxRecordBytes: 1000 })).toBeInstanceOf(TypeError)
    expect(await make({ maxValueBytes: MAX_RECORD_BYTES })).toBeUndefined()
    expect(await make({ maxRecordBytes: 1000, maxValueBytes: 100, maxSiblings: 2 })).toBeUndefined()
  })

  it('a lowered sibling limit is enforced through the library', async () => {
    const net = createSimNetwork({ seed: 2 })
    const node = await createNode({ storage: memoryStorage(), ...net.join('a'), n: 1, r: 1, w: 1, maxSiblings: 2 })
    await node.put('k', 'x')
    await node.put('k', 'y')
    await expect(node.put('k', 'z')).rejects.toMatchObject({ code: 'TOO_MANY_SIBLINGS' })
    const r = await node.get('k')
    await node.put('k', 'xyz', { context: r.context })
    expect((await node.get('k')).values.map((v) => new TextDecoder().decode(v))).toEqual(['xyz'])
    await node.stop()
    await net.stop()
  })
})

describe('the WebRTC transport', () => {
  it('refuses a message over its limit with MESSAGE_TOO_LARGE and counts it, instead of dropping it', () => {
    const t = createWebRtcTransport({ signalUrl: 'ws://127.0.0.1:9', identity: generateIdentity(), ...webRtcDefaults(), maxMessageBytes: 1000 })
    const to = asNodeId('f'.repeat(32))
    expect(() => t.send(to, new Uint8Array(1001))).toThrow(expect.objectContaining({ code: 'MESSAGE_TOO_LARGE' }))
    t.send(to, new Uint8Array(1000)) // not started: dropped and counted as a drop, silently (a network loss)
    expect(t.stats()).toMatchObject({ tooLarge: 1, dropped: 1 })
  })
})
