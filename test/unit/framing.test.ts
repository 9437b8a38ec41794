import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { BatchBuilder, Framer, MAX_BATCH_MESSAGES, MAX_FRAME_BYTES, Reassembler, splitBatch } from '../../src/transport/framing.js'
import { equalBytes } from '../../src/core/hash.js'
import { seededBytes } from '../../src/sim/random.js'

const bytes = (n: number, seed = 1): Uint8Array => seededBytes(n, seed)

describe('framing', () => {
  it('keeps every frame within the limit and round-trips a 1 MiB message', () => {
    const msg = bytes(1024 * 1024)
    const frames = new Framer().encode(5, msg)
    expect(frames.length).toBeGreaterThan(64)
    for (const f of frames) expect(f.length).toBeLessThanOrEqual(MAX_FRAME_BYTES)
    const r = new Reassembler()
    const out = frames.map((f) => r.push(f))
    expect(out.slice(0, -1).every((m) => m === undefined)).toBe(true)
    const last = out.at(-1)
    expect(last?.kind).toBe(5)
    expect(last && equalBytes(last.data, msg)).toBe(true)
    expect(r.pending).toBe(0)
  })

  it('sends small messages as one frame with a one-byte header', () => {
    const frames = new Framer().encode(2, new Uint8Array([1, 2, 3]))
    expect(frames).toEqual([new Uint8Array([2, 1, 2, 3])])
    expect(new Reassembler().push(new Uint8Array([0]))).toEqual({ kind: 0, data: new Uint8Array(0) })
  })

  it('reassembles interleaved, shuffled chunks of many messages (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 17, max: 300 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 127 }), fc.uint8Array({ maxLength: 2000 })), { minLength: 1, maxLength: 8 }),
        fc.integer(),
        (maxFrame, msgs, seed) => {
          const framer = new Framer(maxFrame)
          const frames = msgs.flatMap(([kind, data], i) => framer.encode(kind, data).map((f) => ({ f, i })))
          for (const { f } of frames) expect(f.length).toBeLessThanOrEqual(maxFrame)
          // Fisher-Yates with a seeded LCG: any order must work.
          let x = seed >>> 0
          for (let i = frames.length - 1; i > 0; i--) {
            x = (x * 1664525 + 1013904223) >>> 0
            const j = x % (i + 1)
            ;[frames[i], frames[j]] = [frames[j]!, frames[i]!]
          }
          const r = new Reassembler({ maxPendingMessages: 16 })
          const got = new Map<number, { kind: number; data: Uint8Array }>()
          for (const { f, i } of frames) {
            const m = r.push(f)
            if (m) got.set(i, m)
          }
          expect(got.size).toBe(msgs.length)
          msgs.forEach(([kind, data], i) => expect(got.get(i)).toEqual({ kind, data }))
          expect(r.stats).toEqual({ garbage: 0, dropped: 0 })
          expect(r.pending).toBe(0)
        },
      ),
      { numRuns: 200 },
    )
  })

  it('never throws on arbitrary bytes and stays inside its memory budget (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 200 }), (frames) => {
        const r = new Reassembler({ maxMessageBytes: 256, maxPendingMessages: 4 })
        for (const f of frames) r.push(f)
        expect(r.pending).toBeLessThanOrEqual(256)
      }),
      { numRuns: 300 },
    )
  })

  it('counts and drops garbage frames', () => {
    const r = new Reassembler()
    expect(r.push(new Uint8Array(0))).toBeUndefined() // empty
    expect(r.push(new Uint8Array([0x80]))).toBeUndefined() // chunk header truncated
    expect(r.push(new Uint8Array([0x80, 1, 0x80]))).toBeUndefined() // unterminated varint
    expect(r.push(new Uint8Array([0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 2]))).toBeUndefined() // varint too long
    expect(r.push(new Uint8Array([0x80, 1, 0, 1, 9]))).toBeUndefined() // count < 2
    expect(r.push(new Uint8Array([0x80, 1, 2, 2, 9]))).toBeUndefined() // index >= count
    expect(r.stats.garbage).toBe(6)
    // A duplicate chunk or a chunk that contradicts the first one discards the partial message.
    expect(r.push(new Uint8Array([0x81, 7, 0, 2, 1]))).toBeUndefined()
    expect(r.push(new Uint8Array([0x81, 7, 0, 2, 1]))).toBeUndefined()
    expect(r.stats.garbage).toBe(7)
    expect(r.push(new Uint8Array([0x81, 8, 0, 2, 1]))).toBeUndefined()
    expect(r.push(new Uint8Array([0x82, 8, 1, 2, 1]))).toBeUndefined() // kind changed
    expect(r.push(new Uint8Array([0x81, 9, 0, 2, 1]))).toBeUndefined()
    expect(r.push(new Uint8Array([0x81, 9, 1, 3, 1]))).toBeUndefined() // count changed
    expect(r.stats.garbage).toBe(9)
    expect(r.pending).toBe(0)
    // Still works afterwards.
    const frames = new Framer(32).encode(1, bytes(100))
    let m
    for (const f of frames) m = r.push(f)
    expect(m).toEqual({ kind: 1, data: bytes(100) })
  })

  it('drops messages above the size bound and evicts the oldest partial message past the budget', () => {
    const r = new Reassembler({ maxMessageBytes: 1000, maxPendingMessages: 2 })
    const framer = new Framer(100)
    for (const f of framer.encode(0, bytes(1001))) expect(r.push(f)).toBeUndefined()
    expect(r.stats.dropped).toBe(1)
    expect(r.pending).toBeLessThan(1000)
    expect(r.push(new Uint8Array(1002))).toBeUndefined() // single frame above the bound
    expect(r.stats.dropped).toBe(2)

    const r2 = new Reassembler({ maxMessageBytes: 1000, maxPendingMessages: 2 })
    const a = framer.encode(0, bytes(300, 1))
    const b = framer.encode(0, bytes(300, 2))
    const c = framer.encode(0, bytes(300, 3))
    r2.push(a[0]!)
    r2.push(b[0]!)
    r2.push(c[0]!) // third partial: the oldest (a) goes
    expect(r2.stats.dropped).toBe(1)
    let got
    for (const f of a.slice(1)) got = r2.push(f)
    expect(got).toBeUndefined() // a's later chunks now start a new partial that never completes
    for (const f of c.slice(1)) got = r2.push(f)
    expect(got).toEqual({ kind: 0, data: bytes(300, 3) })
  })
})

describe('batch frames', () => {
  it('packs small messages into frames of at most maxFrameBytes and splits them back in order', () => {
    const b = new BatchBuilder(3)
    const msgs = Array.from({ length: 40 }, (_, i) => bytes(1000 + i, i + 1))
    const frames: Uint8Array[] = []
    for (const m of msgs) {
      const sealed = b.add(m)
      if (sealed) frames.push(sealed.frame)
    }
    frames.push(b.seal()!.frame)
    expect(b.seal()).toBeUndefined()
    expect(frames.length).toBe(3) // 16 KiB holds 16 messages of ~1 KiB
    const back = frames.flatMap((f) => {
      expect(f.length).toBeLessThanOrEqual(MAX_FRAME_BYTES)
      expect(f[0]).toBe(3)
      return splitBatch(f.subarray(1))!
    })
    expect(back.length).toBe(msgs.length)
    back.forEach((m, i) => expect(equalBytes(m, msgs[i]!)).toBe(true))
  })

  it('carries no empty message and none that cannot fit one frame', () => {
    const b = new BatchBuilder(3, 100)
    expect(b.carries(0)).toBe(false)
    expect(b.carries(98)).toBe(true) // tag + 1-byte length + 98
    expect(b.carries(99)).toBe(false)
    expect(() => b.add(new Uint8Array(99))).toThrow(TypeError)
  })

  it('seals at MAX_BATCH_MESSAGES messages', () => {
    const b = new BatchBuilder(3)
    let sealed
    for (let i = 0; i <= MAX_BATCH_MESSAGES && !sealed; i++) sealed = b.add(Uint8Array.of(i & 0xff))
    expect(sealed?.count).toBe(MAX_BATCH_MESSAGES)
    expect(b.count).toBe(1)
  })

  it('refuses malformed batches: empty, zero lengths, overlong lengths, truncation, too many parts', () => {
    expect(splitBatch(new Uint8Array(0))).toBeUndefined()
    expect(splitBatch(Uint8Array.of(0))).toBeUndefined()
    expect(splitBatch(Uint8Array.of(0x81, 0x00, 7))).toBeUndefined() // 1 written in two bytes
    expect(splitBatch(Uint8Array.of(3, 1, 2))).toBeUndefined()
    expect(splitBatch(Uint8Array.of(1, 9, 2))).toBeUndefined() // a truncated second part
    expect(splitBatch(Uint8Array.of(1, 9, 1, 8))).toEqual([Uint8Array.of(9), Uint8Array.of(8)])
    const many = new Uint8Array(2 * (MAX_BATCH_MESSAGES + 1)).map((_, i) => (i % 2 === 0 ? 1 : 5))
    expect(splitBatch(many)).toBeUndefined()
    expect(splitBatch(many.subarray(2))?.length).toBe(MAX_BATCH_MESSAGES)
  })
})
