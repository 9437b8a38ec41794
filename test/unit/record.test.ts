import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { contextOf, emptySet, equalSets, merge, update, type VersionSet, type VersionVector } from '../../src/core/clock.js'
import { isDynameshError } from '../../src/errors.js'
import { decodeContext, decodeSet, digestSet, encodeContext, encodeSet, setSize } from '../../src/core/record.js'
import { toHex } from '../../src/core/hash.js'

const idArb = fc.oneof(
  fc.constantFrom('a~1', 'b~2', 'c~3', '__proto__', 'constructor', '\ufeffbom', '\uffff', '\u{1f600}x'),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }),
)
const tsArb = fc.oneof(fc.integer({ min: 0, max: 2 ** 45 }), fc.double({ noNaN: true, noDefaultInfinity: true }))
const vvArb: fc.Arbitrary<VersionVector> = fc
  .array(fc.tuple(idArb, fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), tsArb), { maxLength: 6 })
  .map((es) => {
    const vv: VersionVector = {}
    for (const [id, n, ts] of es) Object.defineProperty(vv, id, { value: { n, ts: ts + 0 }, enumerable: true, writable: true, configurable: true })
    return vv
  })

/** Sets built the way replicas build them: writes through a few coordinators, then merges. */
const setArb: fc.Arbitrary<VersionSet> = fc
  .array(
    fc.record({
      who: fc.nat(4),
      ctx: fc.boolean(),
      value: fc.option(fc.uint8Array({ maxLength: 40 }), { freq: 4 }),
      sync: fc.option(fc.nat(4)),
    }),
    { maxLength: 25 },
  )
  .chain((ops) =>
    fc.tuple(fc.constant(ops), fc.array(idArb, { minLength: 5, maxLength: 5 }).filter((ids) => new Set(ids).size === 5), tsArb),
  )
  .map(([ops, ids, t0]) => {
    const sets: VersionSet[] = Array.from({ length: 5 }, () => emptySet)
    ops.forEach((op, i) => {
      const s = sets[op.who]!
      sets[op.who] = update(s, op.ctx ? contextOf(s) : {}, ids[op.who]!, op.value, t0 + i, { maxEntries: 3 })
      if (op.sync !== null) sets[op.sync] = merge(sets[op.sync]!, sets[op.who]!)
    })
    return sets.reduce(merge, emptySet)
  })

/** Decoding either succeeds canonically (re-encoding gives the same bytes) or throws `code`. */
function expectStrict<T>(decode: () => T, reencode: (t: T) => unknown, input: unknown, code: 'INVALID_MESSAGE' | 'INVALID_CONTEXT'): boolean {
  let out: T
  try {
    out = decode()
  } catch (e) {
    if (!isDynameshError(e, code)) throw new Error(`expected DynameshError ${code}, got ${String(e)}`, { cause: e })
    return false
  }
  expect(reencode(out)).toEqual(input)
  return true
}

describe('record: sets', () => {
  it('round-trips', () => {
    fc.assert(
      fc.property(setArb, (s) => {
        const b = encodeSet(s)
        expect(b[0]).toBe(2)
        expect(setSize(s)).toBe(b.length)
        const back = decodeSet(b)
        expect(equalSets(back, s)).toBe(true)
        expect(encodeSet(back)).toEqual(b)
      }),
      { numRuns: 300 },
    )
  })

  it('equal sets reached by merging in different orders have equal bytes and digests', () => {
    fc.assert(
      fc.property(fc.array(setArb, { minLength: 1, maxLength: 4 }), fc.nat(), (sets, seed) => {
        const shuffled = [...sets].sort((a, b) => ((setSize(a) * 31 + seed) % 7) - ((setSize(b) * 31 + seed) % 7))
        const x = sets.reduce(merge, emptySet)
        const y = shuffled.reduceRight(merge, emptySet)
        expect(equalSets(x, y)).toBe(true)
        expect(toHex(encodeSet(x))).toBe(toHex(encodeSet(y)))
        const d = digestSet(x)
        expect(d).toHaveLength(16)
        expect(toHex(d)).toBe(toHex(digestSet(y)))
      }),
      { numRuns: 150 },
    )
  })

  it('encoding does not depend on vector key order; different sets differ in digest', () => {
    const a = update(update(emptySet, {}, 'b', null, 1), {}, 'a', new Uint8Array([1]), 2)
    const reordered: VersionSet = { vv: { b: a.vv['b']!, a: a.vv['a']! }, siblings: a.siblings }
    expect(encodeSet(reordered)).toEqual(encodeSet(a))
    expect(toHex(digestSet(a))).not.toBe(toHex(digestSet(emptySet)))
    expect(encodeSet(emptySet)).toEqual(new Uint8Array([2, 0, 0]))
  })

  it('rejects sets it could not decode back', () => {
    const tooLong = 'x'.repeat(257)
    expect(() => encodeSet(update(emptySet, {}, tooLong, null, 1))).toThrow(TypeError)
    expect(() => encodeSet(update(emptySet, {}, 'a\ud800', null, 1))).toThrow(TypeError)
    expect(() => encodeSet({ vv: { a: { n: 1, ts: Infinity } }, siblings: [] })).toThrow(TypeError)
  })
})

describe('record: contexts', () => {
  it('round-trips through base64url', () => {
    fc.assert(
      fc.property(vvArb, (vv) => {
        const s = encodeContext(vv)
        expect(s).toMatch(/^[A-Za-z0-9_-]*$/)
        expect(s === '').toBe(Object.keys(vv).length === 0)
        const back = decodeContext(s)
        expect(back).toEqual(vv)
        expect(Object.getPrototypeOf(back)).toBe(Object.prototype)
        expect(encodeContext(back)).toBe(s)
      }),
      { numRuns: 300 },
    )
  })

  it('hands a set context to a client and back', () => {
    fc.assert(
      fc.property(setArb, (s) => {
        const ctx = decodeContext(encodeContext(contextOf(s)))
        expect(update(s, ctx, 'z~9', new Uint8Array([9]), 1).siblings).toHaveLength(1)
      }),
      { numRuns: 100 },
    )
  })
})

const flip = (b: Uint8Array, bit: number): Uint8Array => {
  const c = b.slice()
  const i = Math.floor(bit / 8) % c.length
  c[i] = c[i]! ^ (1 << bit % 8)
  return c
}

describe('record: untrusted input', () => {
  const set = (b: Uint8Array) => expectStrict(() => decodeSet(b), encodeSet, b, 'INVALID_MESSAGE')
  const ctx = (s: string) => expectStrict(() => decodeContext(s), encodeContext, s, 'INVALID_CONTEXT')

  it('random bytes decode canonically or throw INVALID_MESSAGE', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => void set(b)), { numRuns: 1000 })
    const small = fc.oneof(fc.constantFrom(0, 1, 2, 0x80, 0xff), fc.nat(255))
    const bodies = fc.array(small, { maxLength: 60 }).map((xs) => new Uint8Array([1, ...xs]))
    fc.assert(fc.property(bodies, (b) => void set(b)), { numRuns: 2000 })
  })

  it('every truncation of a valid set throws; bit flips decode canonically or throw', () => {
    fc.assert(
      fc.property(setArb, fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), (s, bits) => {
        const b = encodeSet(s)
        for (let n = 0; n < b.length; n++) expect(set(b.subarray(0, n))).toBe(false)
        expect(set(new Uint8Array([...b, 0]))).toBe(false)
        for (const bit of bits) set(flip(b, bit))
      }),
      { numRuns: 200 },
    )
  })

  it('rejects huge declared counts and lengths quickly, without allocating', () => {
    const cases = [
      [2, 0xff, 0xff, 0xff, 0xff, 0x0f], // vector count
      [2, 0, 0xff, 0xff, 0xff, 0x0f], // sibling count
      [2, 1, 0x81, 0x10, 0x61], // id length past the cap
      [2, 1, 1, 0x61, 1, 2, 1, 0, 1, 0, 1, 0xff, 0xff, 0xff, 0xff, 0x7f], // value length
      [2, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], // varint too long
      [2, 0x80, 0x00, 0], // overlong varint
      [2, 1, 1, 0x61, 1, 0], // time 0 is no time
      [2, 1, 1, 0x61, 1, 3], // odd time
      [2, 1, 1, 0x61, 1, 2, 1, 1, 1, 0, 0], // sibling's id index past the vector
      [1, 0, 0], // unknown format (version 1)
      [], // nothing at all
    ]
    for (const c of cases) expect(set(new Uint8Array(c))).toBe(false)
  })

  it('rejects sets that break the invariants', () => {
    const enc = (s: VersionSet) => encodeSet(s)
    const one = update(emptySet, {}, 'a', new Uint8Array([7]), 5)
    // A sibling whose id is not in the vector cannot even be written (it is named by its entry's index).
    expect(() => enc({ vv: {}, siblings: one.siblings })).toThrow(TypeError)
    const ahead = enc({ vv: { a: { n: 1, ts: 5 } }, siblings: [{ ...one.siblings[0]!, dot: { id: 'a', n: 2 } }] })
    expect(set(ahead)).toBe(false) // sibling not covered by its own vector
    const negZero = enc({ vv: { a: { n: 1, ts: 0.5 } }, siblings: [] })
    negZero[6] = 0x80 // sign bit of ts (0x02, count, len, 'a', n, 0x01, f64)
    negZero.fill(0, 7)
    expect(set(negZero)).toBe(false)
    const longTime = enc({ vv: { a: { n: 1, ts: 0.5 } }, siblings: [] })
    longTime.set([0x40, 0x14, 0, 0, 0, 0, 0, 0], 6) // 5 in the f64 form, which has the short one
    expect(set(longTime)).toBe(false)
  })

  it('random strings and mangled contexts decode canonically or throw INVALID_CONTEXT', () => {
    const b64 = fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'), maxLength: 80 })
    fc.assert(fc.property(fc.oneof(b64, fc.string(), fc.string({ unit: 'binary' })), (s) => void ctx(s)), { numRuns: 1000 })
    fc.assert(
      fc.property(vvArb, fc.nat(), fc.integer({ min: 0, max: 127 }), (vv, at, ch) => {
        const s = encodeContext(vv)
        for (let n = 1; n < s.length; n++) expect(ctx(s.slice(0, n))).toBe(false)
        if (s.length > 0) ctx(s.slice(0, at % s.length) + String.fromCharCode(ch) + s.slice((at % s.length) + 1))
        expect(ctx(s + '=')).toBe(false)
      }),
      { numRuns: 300 },
    )
    for (const s of ['A', 'AQ', 'AQA', 'AQB', '====', 'AQ==', 'x'.repeat(5_000_000)]) expect(ctx(s)).toBe(false)
    expect(() => decodeContext(42 as unknown as string)).toThrow(expect.objectContaining({ code: 'INVALID_CONTEXT' }))
  })
})

describe('record: size', () => {
  it('a 100-byte value with a 2-entry clock costs at most 160 bytes', () => {
    const t = 1_764_000_000_000
    const vv = { 'a~3f9c12ab.0': { n: 812, ts: t }, 'b~77e01c5d.3': { n: 4, ts: t + 5 } }
    const s: VersionSet = { vv, siblings: [{ dot: { id: 'b~77e01c5d.3', n: 4 }, value: new Uint8Array(100), ts: t + 5 }] }
    expect(encodeSet(s).length).toBeLessThanOrEqual(160)
    expect(decodeSet(encodeSet(s))).toEqual(s)
  })
})
