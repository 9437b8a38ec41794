import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DynameshError } from '../../src/errors.js'
import { pack } from 'msgpackr'
import { decodeMessage, encodeMessage, type Msg } from '../../src/wire/messages.js'
import { asNodeId } from '../../src/types.js'

const bytes = (n: number): Uint8Array => new Uint8Array(n).fill(7)

describe('wire messages', () => {
  it('round-trip every message type', () => {
    const msgs: Msg[] = [
      { t: 'g-sum', d: bytes(8), n: 12, reply: true },
      { t: 'g-sum', d: bytes(8), n: 12, reply: true, bkt: true },
      { t: 'g-cells', at: 0, c: bytes(26) },
      { t: 'g-cells', at: 1023, c: bytes(13) },
      { t: 'g-more', at: 16, k: 1008 },
      { t: 'g-bkt', h: bytes(16) },
      { t: 'g-ver', nb: 4, b: [0, 3], v: new Uint8Array([1, 2, 3, 4, 5, 6, 0, 9, 3]) },
      { t: 'g-delta', members: [{ id: asNodeId('a'), weight: 1, status: 'up', version: 3 }, { id: asNodeId('b'), weight: 2, status: 'left', version: 9, key: bytes(32), sig: bytes(64) }], want: bytes(12) },
      { t: 'g-delta', members: [], want: bytes(6), ask: true },
      { t: 'g-delta', members: [], want: bytes(0), end: true },
      { t: 'get', rid: 1, key: bytes(3) },
      { t: 'get-r', rid: 1, rec: null },
      { t: 'store', rid: 2, items: [{ key: bytes(2), rec: bytes(10), hint: asNodeId('b') }], ack: true },
      { t: 'store-r', rid: 2, ok: true },
      { t: 'fwd', rid: 3, op: 7, at: 0, again: false, key: bytes(1), value: null, ctx: '', w: 2, n: 3, timeoutMs: 500 },
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
      { t: 'g-delta', members: [['a b<script>', 1, 1, 1]], want: bytes(0) },
      { t: 'g-delta', members: [['a', 1, 1, Number.MAX_SAFE_INTEGER]], want: bytes(0) },
      { t: 'g-delta', members: [['a', 1, 7, 1]], want: bytes(0) },
      { t: 'g-delta', members: [['a', 500, 1, 1]], want: bytes(0) },
      { t: 'g-delta', members: [['a', 1, 1, 1, bytes(31), bytes(64)]], want: bytes(0) },
      { t: 'g-delta', members: [], want: bytes(7) },
      { t: 'g-sum', d: bytes(7), n: 1, reply: true },
      { t: 'g-sum', d: bytes(8), n: 1, reply: true, bkt: false },
      { t: 'g-cells', at: 0, c: bytes(0) },
      { t: 'g-cells', at: 0, c: bytes(14) },
      { t: 'g-cells', at: 1023, c: bytes(26) },
      { t: 'g-cells', at: 1024, c: bytes(13) },
      { t: 'g-more', at: 0, k: 16 },
      { t: 'g-more', at: 16, k: 0 },
      { t: 'g-more', at: 1000, k: 25 },
      { t: 'g-delta', members: [], want: bytes(0), ask: 1 },
      { t: 'g-bkt', h: bytes(12) },
      { t: 'g-ver', nb: 3, b: [0], v: bytes(0) },
      { t: 'g-ver', nb: 4, b: [4], v: bytes(0) },
      { t: 'g-ver', nb: 4, b: [0], v: new Uint8Array([1, 2, 3, 4, 5, 6, 0, 9]) },
      { t: 'get', rid: 1, key: bytes(1025) },
      { t: 'store', rid: -1, items: [], ack: true },
      { t: 'nope' },
    ]
    for (const m of bad) expect(() => decodeMessage(pack(m))).toThrow(DynameshError)
  })
})
