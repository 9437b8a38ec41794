import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DynameshError } from '../../src/errors.js'
import { decodeMessage, encodeMessage, type Msg } from '../../src/wire/messages.js'

const bytes = (n: number): Uint8Array => new Uint8Array(n).fill(7)

describe('wire messages', () => {
  it('round-trip every message type', () => {
    const msgs: Msg[] = [
      { t: 'gossip', members: [{ id: 'a', weight: 1, status: 'up', version: 3 }], reply: true },
      { t: 'get', rid: 1, key: bytes(3) },
      { t: 'get-r', rid: 1, rec: null },
      { t: 'store', rid: 2, items: [{ key: bytes(2), rec: bytes(10), hint: 'b' }], ack: true },
      { t: 'store-r', rid: 2, ok: true },
      { t: 'fwd', rid: 3, key: bytes(1), value: null, ctx: '', w: 2, n: 3, timeoutMs: 500 },
      { t: 'fwd-r', rid: 3, ok: false, ctx: '', code: 'TIMEOUT', message: 'late' },
      { t: 'ae-roots', sid: 4, parts: [[5, bytes(16)]] },
      { t: 'ae-step', sid: 4, parts: [[5, bytes(3), bytes(0)]] },
      { t: 'ae-pull', sid: 4, keys: [bytes(4)] },
    ]
    for (const m of msgs) {
      const back = JSON.parse(JSON.stringify(decodeMessage(encodeMessage(m)), (_k, v) => (v?.type === 'Buffer' ? v.data : v instanceof Uint8Array ? [...v] : v)))
      const want = JSON.parse(JSON.stringify(m, (_k, v) => (v instanceof Uint8Array ? [...v] : v)))
      expect(back).toEqual(want)
    }
  })

  it('reject anything malformed with INVALID_MESSAGE and nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        try {
          decodeMessage(b)
        } catch (e) {
          expect(e).toBeInstanceOf(DynameshError)
          expect((e as DynameshError).code).toBe('INVALID_MESSAGE')
        }
      }),
      { numRuns: 2000 },
    )
  })

  it('refuse member entries with odd ids or unbeatable versions, oversized keys, unknown types', () => {
    const bad = [
      { t: 'gossip', members: [{ id: 'a b<script>', weight: 1, status: 'up', version: 1 }], reply: false },
      { t: 'gossip', members: [{ id: 'a', weight: 1, status: 'up', version: Number.MAX_SAFE_INTEGER }], reply: false },
      { t: 'gossip', members: [{ id: 'a', weight: 1, status: 'gone', version: 1 }], reply: false },
      { t: 'get', rid: 1, key: bytes(1025) },
      { t: 'store', rid: -1, items: [], ack: true },
      { t: 'nope' },
    ]
    for (const m of bad) expect(() => decodeMessage(encodeMessage(m as Msg))).toThrow(DynameshError)
  })
})
