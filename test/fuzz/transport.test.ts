/**
 * Fuzzing what a transport decodes before any node code runs: data-channel frames (framing.ts), the
 * HELLO of the identity handshake (handshake.ts), signaling frames in both directions
 * (signal-protocol.ts) and credentials (credential.ts, and the base64 they travel in). These
 * decoders promise never to throw (the reassembler, readHello, the signaling decoders, fromBase64,
 * verifyCredential) or to throw only TypeError (hexBytes, for command lines and configs).
 * Mutated inputs: FUZZ_RUNS per property (default 2,000-3,000); valid round trips FUZZ_RUNS / 10;
 * anything that verifies an Ed25519 signature FUZZ_RUNS / 100.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { toHex } from '../../src/core/hash.js'
import { clusterKeyFromSecret, CREDENTIAL_BYTES, hexBytes, verifyCredential } from '../../src/credential.js'
import { idOfPublicKey } from '../../src/identity.js'
import { BatchBuilder, Framer, MAX_BATCH_MESSAGES, Reassembler, splitBatch, type FramedMessage } from '../../src/transport/framing.js'
import { readHello } from '../../src/transport/handshake.js'
import {
  MAX_SIGNAL_DEPTH, decodeClientMessage, decodeServerMessage, encodeMessage, fromBase64, isNodeIdString, isRoom, toBase64,
} from '../../src/transport/signal-protocol.js'
import { IDENTITIES, SIGNAL_TAGS, bytes, clientMessage, clientText, helloFrame, serverMessage, serverText } from './arbitraries.js'
import { MAX_DECODE_MS, TIMEOUT, fuzz, runs, seeded } from './config.js'
import { applyEdit, byteEdit, confusedJson, mutatedText, mutatedToken, type ByteEdit } from './mutate.js'

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')

/** Runs a decoder that promises never to throw, within the time limit. */
function total<T>(run: () => T): T {
  const started = performance.now()
  const out = run()
  const ms = performance.now() - started
  if (ms > MAX_DECODE_MS) throw new Error(`decode took ${ms.toFixed(0)} ms (limit ${MAX_DECODE_MS})`)
  return out
}

// ---- framing ----

const messages = fc.array(fc.record({ kind: fc.nat(127), data: bytes(0, 160) }), { minLength: 1, maxLength: 4 })

/** Edits of a frame stream: frames dropped, duplicated, swapped, mutated, or foreign frames inserted. */
type StreamEdit =
  | { op: 'drop' | 'duplicate'; at: number }
  | { op: 'swap'; at: number; with: number }
  | { op: 'mutate'; at: number; edit: ByteEdit }
  | { op: 'insert'; at: number; frame: Uint8Array }
const streamEdit: fc.Arbitrary<StreamEdit> = fc.oneof(
  fc.record({ op: fc.constantFrom('drop' as const, 'duplicate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('swap' as const), at: fc.nat(), with: fc.nat() }),
  { weight: 3, arbitrary: fc.record({ op: fc.constant('mutate' as const), at: fc.nat(), edit: byteEdit }) },
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), frame: fc.oneof(bytes(0, 40), fc.constantFrom(Uint8Array.of(0x80), Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff))) }),
)

function editStream(frames: Uint8Array[], edits: StreamEdit[]): Uint8Array[] {
  const out = [...frames]
  for (const e of edits) {
    const i = out.length === 0 ? 0 : e.at % out.length
    if (e.op === 'insert') out.splice(e.at % (out.length + 1), 0, e.frame)
    else if (out.length === 0) continue
    else if (e.op === 'swap') [out[i], out[e.with % out.length]] = [out[e.with % out.length]!, out[i]!]
    else if (e.op === 'mutate') out[i] = applyEdit(out[i]!, e.edit, out[(i + 1) % out.length]!)
    else if (e.op === 'drop') out.splice(i, 1)
    else out.splice(i, 0, out[i]!)
  }
  return out
}

/** The frames of `msgs` through one framer (small frames, so most messages are chunked), in a shuffled order. */
const framed = fc
  .tuple(fc.integer({ min: 17, max: 80 }), messages)
  .chain(([maxFrame, msgs]) => {
    const framer = new Framer(maxFrame)
    const frames = msgs.flatMap((m) => framer.encode(m.kind, m.data))
    return fc.tuple(fc.constant(msgs), fc.shuffledSubarray(frames, { minLength: frames.length, maxLength: frames.length }))
  })

describe('fuzz: framing (framing.ts)', () => {
  it('every message comes back exactly once, whatever the order of its frames', () => {
    fc.assert(
      fc.property(framed, ([msgs, frames]) => {
        const r = new Reassembler()
        const got = frames.map((f) => r.push(f)).filter((m): m is FramedMessage => m !== undefined)
        const key = (m: { kind: number; data: Uint8Array }): string => `${m.kind}:${hex(m.data)}`
        expect(got.map(key).sort()).toEqual(msgs.map(key).sort())
        expect(r.stats).toEqual({ garbage: 0, dropped: 0 })
        expect(r.pending).toBe(0)
      }),
      fuzz(runs(2000, 10)),
    )
  }, TIMEOUT)

  it('mutated frame streams never throw, never yield a message over the limit, never hold more than the budget', () => {
    const limits = fc.record({ maxMessageBytes: fc.integer({ min: 0, max: 400 }), maxPendingBytes: fc.integer({ min: 0, max: 800 }), maxPendingMessages: fc.integer({ min: 0, max: 4 }) })
    const stream = fc.tuple(seeded(framed.map(([, f]) => f), 500), fc.array(streamEdit, { minLength: 1, maxLength: 6 })).map(([f, e]) => editStream(f, e))
    fc.assert(
      fc.property(stream, limits, (frames, lim) => {
        const r = new Reassembler(lim)
        const budget = Math.max(lim.maxPendingBytes, lim.maxMessageBytes)
        for (const f of frames) {
          const m = total(() => r.push(f))
          if (m !== undefined && (m.kind > 127 || m.data.length > lim.maxMessageBytes)) expect.fail(`message of kind ${m.kind}, ${m.data.length} bytes`)
          if (r.pending < 0 || r.pending > budget) expect.fail(`${r.pending} bytes pending, budget ${budget}`)
        }
        r.clear()
        expect(r.pending).toBe(0)
      }),
      fuzz(runs(3000)),
    )
  }, TIMEOUT)
})

describe('fuzz: batch frames (framing.ts)', () => {
  /** Frames of `msgs` through one builder with small frames, so batches fill and seal often. */
  const batched = fc.tuple(fc.integer({ min: 17, max: 120 }), fc.array(bytes(1, 60), { minLength: 1, maxLength: 30 })).map(([maxFrame, msgs]) => {
    const b = new BatchBuilder(3, maxFrame)
    const frames: Uint8Array[] = []
    const sent: Uint8Array[] = []
    for (const m of msgs) {
      if (!b.carries(m.length)) continue
      sent.push(m)
      const sealed = b.add(m)
      if (sealed) frames.push(sealed.frame)
    }
    const last = b.seal()
    if (last) frames.push(last.frame)
    return { sent, frames, maxFrame }
  })

  it('every message comes back, in order, from frames within the limit', () => {
    fc.assert(
      fc.property(batched, ({ sent, frames, maxFrame }) => {
        const got: Uint8Array[] = []
        for (const f of frames) {
          expect(f.length).toBeLessThanOrEqual(maxFrame)
          const m = new Reassembler().push(f)
          expect(m?.kind).toBe(3)
          const parts = splitBatch(m!.data)
          expect(parts).toBeDefined()
          got.push(...parts!)
        }
        expect(got.map(hex)).toEqual(sent.map(hex))
      }),
      fuzz(runs(2000, 10)),
    )
  }, TIMEOUT)

  it('mutated batch payloads never throw; what they yield is 1 to MAX_BATCH_MESSAGES non-empty parts that fill the payload', () => {
    const mutated = fc.tuple(seeded(batched.filter(({ frames }) => frames.length > 0).map(({ frames }) => frames[0]!.subarray(1)), 500), fc.array(byteEdit, { minLength: 1, maxLength: 3 }))
      .map(([b, edits]) => edits.reduce((acc, e) => applyEdit(acc, e, b), b))
    fc.assert(
      fc.property(fc.oneof(mutated, bytes(0, 300)), (payload) => {
        const parts = total(() => splitBatch(payload))
        if (parts === undefined) return
        expect(parts.length).toBeGreaterThanOrEqual(1)
        expect(parts.length).toBeLessThanOrEqual(MAX_BATCH_MESSAGES)
        for (const p of parts) expect(p.length).toBeGreaterThan(0)
        // Each part is preceded by its length: the payload is exactly the parts and their prefixes.
        expect(parts.reduce((n, p) => n + p.length + (p.length < 128 ? 1 : p.length < 16384 ? 2 : 3), 0)).toBe(payload.length)
      }),
      fuzz(runs(3000)),
    )
  }, TIMEOUT)
})

// ---- handshake ----

const clusterKey = clusterKeyFromSecret(new Uint8Array(32).fill(9))
const credentials = new Map(IDENTITIES.map((i) => [i.id, clusterKey.admit(i.publicKey)]))

describe('fuzz: HELLO frames (handshake.ts)', () => {
  const valid = helloFrame()
  const mutated = fc.tuple(seeded(valid.map((h) => h.data), 500), seeded(valid.map((h) => h.data), 500), fc.array(byteEdit, { minLength: 1, maxLength: 3 }))
    .map(([b, donor, edits]) => edits.reduce((acc, e) => applyEdit(acc, e, donor), b))

  it('a valid HELLO is accepted for its own id only; a mutated one never throws and is accepted only with a key that proves the id', () => {
    fc.assert(
      fc.property(valid, fc.constantFrom(...IDENTITIES), mutated, ({ who, data }, other, bad) => {
        const ok = readHello(data, who.id)
        expect(ok.ok && hex(ok.key) === hex(who.publicKey) && hex(ok.nonce) === hex(data.subarray(32, 64))).toBe(true)
        if (other.id !== who.id) expect(readHello(data, other.id)).toMatchObject({ ok: false, forged: true })
        const r = total(() => readHello(bad, who.id))
        if (r.ok) {
          expect(idOfPublicKey(r.key)).toBe(who.id)
          expect([r.key.length, r.nonce.length]).toEqual([32, 32])
        }
      }),
      fuzz(runs(3000)),
    )
  }, TIMEOUT)

  it('in a closed cluster a HELLO is accepted only with a verifying credential', () => {
    const withCred = helloFrame(fc.constantFrom(...credentials.values()).map((c) => c as Uint8Array | undefined))
    fc.assert(
      fc.property(withCred, fc.array(byteEdit, { maxLength: 2 }), ({ who, data }, edits) => {
        const bad = edits.reduce((acc, e) => applyEdit(acc, e, data), data)
        const r = total(() => readHello(bad, who.id, clusterKey.publicKey))
        if (!r.ok) return
        expect(idOfPublicKey(r.key)).toBe(who.id)
        expect(verifyCredential(clusterKey.publicKey, r.key, bad.subarray(96))).toBe(true)
      }),
      fuzz(runs(200, 100)),
    )
  }, TIMEOUT)
})

// ---- signaling ----

const json = (v: unknown): unknown => JSON.parse(JSON.stringify(v))
const notText = fc.oneof(fc.anything(), fc.uint8Array({ maxLength: 16 }).map((b) => Buffer.from(b)), fc.constant(new ArrayBuffer(4)))

describe('fuzz: signaling frames (signal-protocol.ts)', () => {
  it('valid frames round-trip in both directions', () => {
    fc.assert(
      fc.property(clientMessage, serverMessage, (c, s) => {
        expect(decodeClientMessage(encodeMessage(c))).toEqual({ ok: true, msg: json(c) })
        expect(decodeServerMessage(encodeMessage(s))).toEqual({ ok: true, msg: json(s) })
      }),
      fuzz(runs(2000, 10)),
    )
  }, TIMEOUT)

  it('mutated client frames never throw; an accepted one is well formed and can be relayed', () => {
    const valid = seeded(clientText)
    const hostile = fc.oneof(mutatedText(valid), confusedJson(valid, SIGNAL_TAGS), mutatedText(confusedJson(valid, SIGNAL_TAGS)), notText)
    fc.assert(
      fc.property(hostile, (text) => {
        const d = total(() => decodeClientMessage(text))
        if (!d.ok) {
          expect(typeof d.error).toBe('string')
          return
        }
        const m = d.msg
        if (m.type === 'hello') {
          expect(isRoom(m.room) && typeof m.publicKey === 'string' && typeof m.signature === 'string').toBe(true)
          expect(m.id === undefined || typeof m.id === 'string').toBe(true)
          expect(m.credential === undefined || (typeof m.credential === 'string' && m.credential.length <= 128)).toBe(true)
        } else {
          expect(m.type).toBe('signal')
          expect(isNodeIdString(m.to)).toBe(true)
          // The server relays `data` as it came: what it accepted, it must be able to send on.
          expect(typeof encodeMessage({ type: 'signal', from: m.to, data: m.data })).toBe('string')
        }
      }),
      fuzz(runs(3000)),
    )
  }, TIMEOUT)

  it('mutated server frames never throw; an accepted one is well formed', () => {
    const valid = seeded(serverText)
    const hostile = fc.oneof(mutatedText(valid), confusedJson(valid, SIGNAL_TAGS), mutatedText(confusedJson(valid, SIGNAL_TAGS)), notText)
    fc.assert(
      fc.property(hostile, (text) => {
        const d = total(() => decodeServerMessage(text))
        if (!d.ok) {
          expect(typeof d.error).toBe('string')
          return
        }
        const m = d.msg
        const wellFormed =
          m.type === 'challenge' ? m.nonce.length > 0 && m.nonce.length <= 256
          : m.type === 'welcome' ? isNodeIdString(m.id) && m.peers.every(isNodeIdString)
          : m.type === 'join' || m.type === 'leave' ? isNodeIdString(m.id)
          : m.type === 'signal' ? isNodeIdString(m.from) && 'data' in m
          : typeof m.code === 'string' && typeof m.message === 'string' && (m.to === undefined || isNodeIdString(m.to))
        expect(wellFormed).toBe(true)
      }),
      fuzz(runs(3000)),
    )
  }, TIMEOUT)
})

// ---- credentials and their encodings ----

describe('fuzz: credentials (credential.ts) and their base64 (signal-protocol.ts)', () => {
  it('fromBase64 never throws and accepts only canonical base64 of the asked length', () => {
    const valid = seeded(fc.tuple(fc.nat(3), bytes(0, 70)).map(([pad, b]) => toBase64(b.subarray(0, b.length - pad))))
    fc.assert(
      fc.property(fc.oneof(mutatedToken(valid), mutatedText(valid), notText), fc.option(fc.constantFrom(32, 64), { nil: undefined }), (s, length) => {
        const b = total(() => fromBase64(s, length))
        if (b === undefined) return
        expect(toBase64(b)).toBe(s)
        if (length !== undefined) expect(b.length).toBe(length)
      }),
      fuzz(runs(3000)),
    )
  }, TIMEOUT)

  it('hexBytes throws only TypeError and accepts only hex of the exact length', () => {
    const valid = seeded(bytes(0, 64).map(toHex))
    fc.assert(
      fc.property(fc.oneof(mutatedToken(valid), mutatedText(valid), notText), fc.constantFrom(0, 16, 32, 64), (s, length) => {
        let b: Uint8Array
        try {
          b = total(() => hexBytes(s as string, length, 'fuzz'))
        } catch (e) {
          expect(e).toBeInstanceOf(TypeError)
          return
        }
        expect(toHex(b)).toBe((s as string).toLowerCase())
      }),
      fuzz(runs(3000)),
    )
  }, TIMEOUT)

  it('verifyCredential answers a boolean for any key and credential, true for the real one', () => {
    const who = fc.constantFrom(...IDENTITIES)
    fc.assert(
      fc.property(who, fc.array(byteEdit, { maxLength: 3 }), bytes(0, 80), (id, edits, junk) => {
        const cred = credentials.get(id.id)!
        expect(verifyCredential(clusterKey.publicKey, id.publicKey, cred)).toBe(true)
        const bad = edits.reduce((acc, e) => applyEdit(acc, e, junk), cred)
        const v = total(() => verifyCredential(clusterKey.publicKey, id.publicKey, bad))
        expect(typeof v).toBe('boolean')
        if (bad.length !== CREDENTIAL_BYTES) expect(v).toBe(false)
        expect(total(() => verifyCredential(junk.subarray(0, 32), id.publicKey, bad))).toSatisfy((x) => typeof x === 'boolean')
      }),
      fuzz(runs(200, 100)),
    )
  }, TIMEOUT)
})

describe('regressions found by fuzzing', () => {
  it('fromBase64 refuses non-canonical spellings whose spare bits are set (Xf== is not XQ==)', () => {
    expect(fromBase64('XQ==')).toEqual(Uint8Array.of(0x5d))
    expect(fromBase64('Xf==')).toBeUndefined()
    expect(fromBase64('XR0=')).toEqual(Uint8Array.of(0x5d, 0x1d))
    expect(fromBase64('XR1=')).toBeUndefined()
  })

  it('a signal whose data nests deeper than MAX_SIGNAL_DEPTH is refused, in both directions, instead of breaking the relay', () => {
    const to = IDENTITIES[0]!.id
    const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth)
    expect(decodeClientMessage(`{"type":"signal","to":"${to}","data":${nested(MAX_SIGNAL_DEPTH)}}`).ok).toBe(true)
    expect(decodeClientMessage(`{"type":"signal","to":"${to}","data":${nested(MAX_SIGNAL_DEPTH + 1)}}`).ok).toBe(false)
    // The fuzzer's find: 8,000 levels parse, but JSON.stringify of them throws RangeError in the relay.
    expect(decodeClientMessage(`{"type":"signal","to":"${to}","data":${nested(8000)}}`)).toMatchObject({ ok: false })
    expect(decodeServerMessage(`{"type":"signal","from":"${to}","data":{"a":${nested(8000)}}}`)).toMatchObject({ ok: false })
  })
})
