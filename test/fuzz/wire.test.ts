/**
 * Fuzzing the wire decoder (wire/messages.ts): every valid message round-trips; every mutation of
 * one (bytes, MessagePack type confusion, both) decodes to a message that passes an independent
 * shape check, or is refused with DynameshError INVALID_MESSAGE, never anything else.
 * Mutated inputs: FUZZ_RUNS (default 4,000); valid round trips and random bytes: FUZZ_RUNS / 10.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { HARD_MESSAGE_BYTES, MAX_CELLS_PER_MESSAGE, MAX_SESSION_CELLS, MAX_GOSSIP_BUCKETS, MAX_GOSSIP_MEMBERS, MAX_MEMBER_VERSION, MAX_KEY_BYTES, MAX_LIST_ITEMS, MAX_Q, MAX_RECORD_BYTES, MAX_WEIGHT } from '../../src/limits.js'
import { decodeMessage, encodeMessage, type Msg } from '../../src/wire/messages.js'
import { decodeVectors } from '../../src/core/record.js'
import { CELL_BYTES, WANT_BYTES } from '../../src/core/riblt.js'
import { hostileWire, message, wireBytes } from './arbitraries.js'
import { TIMEOUT, decodeOrRefuse, fuzz, plain, runs, seeded } from './config.js'

const isBytes = (v: unknown, max: number): boolean => v instanceof Uint8Array && v.length <= max
const isInt = (v: unknown, min = 0, max = Number.MAX_SAFE_INTEGER): boolean => Number.isInteger(v) && (v as number) >= min && (v as number) <= max
const isStr = (v: unknown, max: number): boolean => typeof v === 'string' && v.length <= max
const isItem = (i: { key: unknown; rec: unknown; hint?: unknown }): boolean =>
  isBytes(i.key, MAX_KEY_BYTES) && isBytes(i.rec, HARD_MESSAGE_BYTES) && (i.hint === undefined || isStr(i.hint, 128))
const optErr = (e: unknown): boolean => e === undefined || (isStr(e, 64) && e !== '')

/** Gossip's member entries: an id of the allowed characters, integer weight and version in range, a key and signature of their sizes or neither. */
const isMember = (m: { id: unknown; weight: unknown; status: unknown; version: unknown; key?: unknown; sig?: unknown; cred?: unknown }): boolean =>
  typeof m.id === 'string' && /^[A-Za-z0-9._~-]{1,128}$/.test(m.id) && isInt(m.weight, 0, MAX_WEIGHT) &&
  ['joining', 'up', 'leaving', 'left'].includes(m.status as string) && isInt(m.version, 0, MAX_MEMBER_VERSION) &&
  ((m.key === undefined && m.sig === undefined && m.cred === undefined) ||
    (m.key instanceof Uint8Array && m.key.length === 32 && m.sig instanceof Uint8Array && m.sig.length === 64 && (m.cred === undefined || (m.cred instanceof Uint8Array && m.cred.length === 64))))
const isPow2 = (n: number): boolean => Number.isInteger(n) && n >= 1 && (n & (n - 1)) === 0

/**
 * An independent check of what the decoder promises about an accepted message: field types and the
 * limits of limits.ts. A tag it does not know (a variant added since) passes: the decoder knows it.
 */
function wellFormed(m: Msg): boolean {
  switch (m.t) {
    case 'g-sum':
      return isBytes(m.d, 8) && m.d.length === 8 && isInt(m.n) && typeof m.reply === 'boolean'
    case 'g-bkt':
      return isBytes(m.h, MAX_GOSSIP_BUCKETS * 4) && isPow2(m.h.length / 4)
    case 'g-ver':
      return isPow2(m.nb) && m.nb <= MAX_GOSSIP_BUCKETS && m.b.every((b) => isInt(b, 0, m.nb - 1)) && m.v instanceof Uint8Array
    case 'g-delta':
      return Array.isArray(m.members) && m.members.length <= MAX_GOSSIP_MEMBERS && m.members.every(isMember) && isBytes(m.want, Infinity) && m.want.length % 6 === 0 && (m.end === undefined || m.end === true)
    case 'get':
      return isInt(m.rid) && isBytes(m.key, MAX_KEY_BYTES)
    case 'get-r':
      return isInt(m.rid) && (m.rec === null || isBytes(m.rec, HARD_MESSAGE_BYTES)) && optErr(m.err)
    case 'store':
      return isInt(m.rid) && m.items.length <= MAX_LIST_ITEMS && m.items.every(isItem) && typeof m.ack === 'boolean'
    case 'store-r':
      return isInt(m.rid) && typeof m.ok === 'boolean' && optErr(m.err)
    case 'fwd':
      return isInt(m.rid) && isInt(m.op, 1) && isInt(m.at) && typeof m.again === 'boolean' && isBytes(m.key, MAX_KEY_BYTES) && (m.value === null || isBytes(m.value, MAX_RECORD_BYTES)) && isStr(m.ctx, 65536) &&
        isInt(m.w, 1, 64) && isInt(m.n, 1, 64) && isInt(m.timeoutMs, 1, 600_000)
    case 'fwd-r':
      return isInt(m.rid) && typeof m.ok === 'boolean' && isStr(m.ctx, 65536) && isStr(m.code, 64) && isStr(m.message, 1024)
    case 'ae-roots':
      return isInt(m.sid) && m.parts.length <= MAX_Q && m.parts.every(([p, h]) => isInt(p, 0, MAX_Q) && isBytes(h, 16))
    case 'ae-step':
      return isInt(m.sid) && m.parts.length <= MAX_Q && m.parts.every(([p, a, b]) => isInt(p, 0, MAX_Q) && isBytes(a, HARD_MESSAGE_BYTES) && isBytes(b, HARD_MESSAGE_BYTES))
    case 'ae-pull':
      return isInt(m.sid) && m.keys.length <= MAX_LIST_ITEMS && m.keys.every((k) => isBytes(k, MAX_KEY_BYTES)) && (m.idx === undefined || isBytes(m.idx, MAX_LIST_ITEMS * 8))
    case 'ae-sum':
      return isInt(m.sid) && ((m.level === 0 && isBytes(m.h, 16) && m.h.length === 16 && (m.tow === undefined || isBytes(m.tow, 1024)) && (m.n === undefined || isInt(m.n))) ||
        (m.level === 1 && isBytes(m.h, 384) && m.h.length === 384 && m.tow === undefined && m.n === undefined))
    case 'ae-push':
      return isInt(m.sid) && m.items.length <= MAX_LIST_ITEMS && m.items.every(isItem)
    case 'ae-sym':
      return isInt(m.sid) && isInt(m.from, 0, MAX_SESSION_CELLS) && isBytes(m.cells, MAX_CELLS_PER_MESSAGE * CELL_BYTES) && m.cells.length % CELL_BYTES === 0 &&
        m.from + m.cells.length / CELL_BYTES <= MAX_SESSION_CELLS && (m.tow === undefined || isBytes(m.tow, 1024)) && (m.n === undefined || isInt(m.n))
    case 'ae-more':
      return isInt(m.sid) && isInt(m.from, 0, MAX_SESSION_CELLS) && isInt(m.to, m.from + 1, Math.min(MAX_SESSION_CELLS, m.from + MAX_CELLS_PER_MESSAGE))
    case 'ae-diff':
      return isInt(m.sid) && isInt(m.at) && m.keys.length <= MAX_LIST_ITEMS && m.keys.every((k) => isBytes(k, MAX_KEY_BYTES)) && decodeVectors(m.vv).length === m.keys.length &&
        isBytes(m.want, MAX_LIST_ITEMS * WANT_BYTES) && m.want.length % WANT_BYTES === 0
    case 'ae-grave':
      return m.keys.length <= MAX_LIST_ITEMS && m.keys.every((k) => isBytes(k, MAX_KEY_BYTES))
    default:
      return typeof (m as { t: unknown }).t === 'string'
  }
}

/** An accepted message is well formed and a fixed point: encoding and decoding it again changes nothing. */
function checkAccepted(m: Msg): void {
  expect(wellFormed(m), JSON.stringify(plain(m)).slice(0, 500)).toBe(true)
  expect(plain(decodeMessage(encodeMessage(m)))).toEqual(plain(m))
}

const hostile = hostileWire(seeded(wireBytes))

describe('fuzz: wire messages', () => {
  it('every generated message round-trips: decode(encode(m)) is m', () => {
    fc.assert(
      fc.property(message, (m) => {
        expect(plain(decodeMessage(encodeMessage(m)))).toEqual(plain(m))
      }),
      fuzz(runs(3000, 10)),
    )
  }, TIMEOUT)

  it('mutated messages decode to well-formed messages or throw INVALID_MESSAGE, nothing else', () => {
    let accepted = 0
    fc.assert(
      fc.property(hostile, (b) => {
        const m = decodeOrRefuse('INVALID_MESSAGE', () => decodeMessage(b))
        if (m === undefined) return
        accepted++
        checkAccepted(m)
      }),
      fuzz(runs(4000)),
    )
    // The mutations must not all be rejected at the parser: many reach the validator and pass it.
    expect(accepted).toBeGreaterThan(0)
  }, TIMEOUT)

  it('arbitrary bytes and non-bytes are refused with INVALID_MESSAGE', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.anything().map((v) => v as Uint8Array)), (b) => {
        const m = decodeOrRefuse('INVALID_MESSAGE', () => decodeMessage(b))
        if (m !== undefined) checkAccepted(m)
      }),
      fuzz(runs(2000, 10)),
    )
  }, TIMEOUT)
})
