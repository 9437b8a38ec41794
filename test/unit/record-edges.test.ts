/**
 * Every refusal of core/record.ts, one input each, with the message it must give (the round trips
 * and fuzzing elsewhere show that valid bytes decode and that nothing else escapes; these show that
 * each check refuses what it is there for, at its exact bound), and setSize against the encoding.
 */
import { describe, expect, it } from 'vitest'
import { toBase64url } from '../../src/core/bytes.js'
import { emptySet, type VersionSet, type VersionVector } from '../../src/core/clock.js'
import {
  MAX_ENTRIES,
  MAX_ID_BYTES,
  MAX_SIBLINGS,
  decodeContext,
  decodeSet,
  decodeVectors,
  encodeContext,
  encodeSet,
  encodeVectors,
  setSize,
} from '../../src/core/record.js'
import { DynameshError } from '../../src/errors.js'

const utf8 = (s: string): number[] => [...new TextEncoder().encode(s)]
const varint = (v: number): number[] => {
  const out: number[] = []
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80)
    v = Math.floor(v / 0x80)
  }
  out.push(v)
  return out
}
const id = (s: string): number[] => [...varint(utf8(s).length), ...utf8(s)]
/** time := varint(2 + 2t) for short times. */
const time = (t: number): number[] => varint(2 + 2 * t)
const f64 = (t: number): number[] => {
  const b = new Uint8Array(9)
  b[0] = 1
  new DataView(b.buffer).setFloat64(1, t)
  return [...b]
}
/** An entry: id, counter, time. */
const entry = (name: string, n: number, t: number[] = time(0)): number[] => [...id(name), ...varint(n), ...t]
/** A sibling: entry index, counter, stime (0x00: the entry's), kind and value. */
const sibling = (at: number, n: number, value: string | null = 'x', stime: number[] = [0]): number[] => [
  ...varint(at),
  ...varint(n),
  ...stime,
  ...(value === null ? [0] : [1, ...varint(utf8(value).length), ...utf8(value)]),
]
const set = (entries: number[][], siblings: number[][]): Uint8Array =>
  Uint8Array.from([2, ...varint(entries.length), ...entries.flat(), ...varint(siblings.length), ...siblings.flat()])

/** The error a call throws, checked to be a DynameshError with `code`. */
function refusal(code: string, f: () => unknown): string {
  try {
    f()
  } catch (e) {
    expect(e).toBeInstanceOf(DynameshError)
    expect((e as DynameshError).code).toBe(code)
    return (e as Error).message
  }
  throw new Error('accepted')
}
const setRefusal = (b: Uint8Array | number[]): string => refusal('INVALID_MESSAGE', () => decodeSet(Uint8Array.from(b)))

describe('decodeSet refuses, each for its reason', () => {
  it('accepts the valid set these cases are made from', () => {
    const s = decodeSet(set([entry('a', 1)], [sibling(0, 1)]))
    expect(s.vv).toEqual({ a: { n: 1, ts: 0 } })
    expect(s.siblings).toEqual([{ dot: { id: 'a', n: 1 }, ts: 0, value: Uint8Array.of(0x78) }])
  })

  it('an unknown format', () => {
    expect(setRefusal([3, 0, 0])).toBe('version set: unknown version set format')
  })

  it('more siblings than the bound, and a count the input cannot hold at the bound', () => {
    expect(setRefusal([2, 0, ...varint(MAX_SIBLINGS + 1)])).toBe('version set: too many siblings')
    expect(setRefusal([2, 0, ...varint(MAX_SIBLINGS)])).toBe('version set: truncated siblings')
    expect(setRefusal([2, ...set([entry('a', 1)], []).subarray(1, -1), 2, 0, 1, 0, 0])).toBe('version set: truncated siblings')
  })

  it('a sibling naming an entry past the last', () => {
    expect(setRefusal(set([entry('a', 1)], [sibling(1, 1)]))).toBe('version set: sibling id not in the vector')
  })

  it('a sibling of an unknown kind', () => {
    const b = set([entry('a', 1)], [sibling(0, 1, null)])
    b[b.length - 1] = 4
    expect(setRefusal(b)).toBe('version set: bad sibling kind')
  })

  it('siblings out of order or repeated', () => {
    const e = [entry('a', 2)]
    expect(setRefusal(set(e, [sibling(0, 2), sibling(0, 1)]))).toBe('version set: siblings not in canonical order')
    expect(setRefusal(set(e, [sibling(0, 1, 'x', time(0)), sibling(0, 1)]))).toBe('version set: sibling time not in its short form')
    expect(setRefusal(set(e, [sibling(0, 1, 'x', time(3)), sibling(0, 1)]))).toBe('version set: siblings not in canonical order')
    expect(decodeSet(set(e, [sibling(0, 1, 'x', time(3)), sibling(0, 2)])).siblings).toHaveLength(2)
  })

  it('a sibling its vector does not cover', () => {
    expect(setRefusal(set([entry('a', 1)], [sibling(0, 2)]))).toBe('version set: sibling not covered by its version vector')
  })

  it('a sibling time in the long form when it is its entry time', () => {
    expect(setRefusal(set([entry('a', 1, time(7))], [sibling(0, 1, 'x', time(7))]))).toBe('version set: sibling time not in its short form')
    expect(decodeSet(set([entry('a', 1, time(7))], [sibling(0, 1, 'x', time(8))])).siblings[0]!.ts).toBe(8)
  })

  it('vector entries out of order or repeated, and too many', () => {
    expect(setRefusal(set([entry('b', 1), entry('a', 1)], []))).toBe('version set: vector entries not in canonical order')
    expect(setRefusal(set([entry('a', 1), entry('a', 1)], []))).toBe('version set: vector entries not in canonical order')
    expect(setRefusal([2, ...varint(MAX_ENTRIES + 1)])).toBe('version set: too many vector entries')
    expect(setRefusal([2, ...varint(MAX_ENTRIES)])).toBe('version set: truncated vector')
    expect(setRefusal([2, 2, ...entry('a', 1), 0, 0])).toBe('version set: truncated vector')
  })

  it('a counter of 0', () => {
    expect(setRefusal(set([entry('a', 0)], []))).toBe('version set: counter must be >= 1')
    expect(setRefusal(set([entry('a', 1)], [sibling(0, 0)]))).toBe('version set: counter must be >= 1')
  })

  it('times that have another encoding or none', () => {
    for (const t of [[0], varint(3), f64(Number.NaN), f64(Infinity), f64(-0), f64(5), f64(0)]) {
      expect(setRefusal(set([entry('a', 1, t)], []))).toBe('version set: bad time')
    }
    for (const t of [0.5, -1, 2 ** 53]) expect(decodeSet(set([entry('a', 1, f64(t))], [])).vv.a!.ts).toBe(t)
    expect(decodeSet(set([entry('a', 1, time(2 ** 52 - 2))], [])).vv.a!.ts).toBe(2 ** 52 - 2)
    expect(setRefusal(set([entry('a', 1, f64(2 ** 52 - 2))], []))).toBe('version set: bad time')
    expect(decodeSet(set([entry('a', 1, f64(2 ** 52 - 1))], [])).vv.a!.ts).toBe(2 ** 52 - 1)
  })

  it('replica ids of no bytes, too many bytes, or not UTF-8', () => {
    expect(setRefusal([2, 1, 0, 1, 2, 0])).toBe('version set: bad replica id length')
    expect(setRefusal(set([entry('a'.repeat(MAX_ID_BYTES + 1), 1)], []))).toBe('version set: bad replica id length')
    expect(Object.keys(decodeSet(set([entry('a'.repeat(MAX_ID_BYTES), 1)], [])).vv)).toEqual(['a'.repeat(MAX_ID_BYTES)])
    expect(setRefusal([2, 1, 1, 0xff, 1, 2, 0])).toBe('version set: replica id is not UTF-8')
  })

  it('trailing bytes', () => {
    // After the siblings only a list of superseded operations may follow, and nothing after it.
    expect(setRefusal([...set([entry('a', 1)], []), 1, 0, 0, 0, 5, 4, 0])).toBe('version set: trailing bytes')
    expect(setRefusal([...set([entry('a', 1)], []), 0])).toBe('version set: bad count of superseded operations')
  })

  it('anything thrown inside becomes malformed input with its cause, of the decoder code', () => {
    let err: unknown
    try {
      decodeSet(undefined as unknown as Uint8Array)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(DynameshError)
    expect((err as DynameshError).code).toBe('INVALID_MESSAGE')
    expect((err as Error).message).toBe('malformed input')
    expect((err as Error).cause).toBeInstanceOf(TypeError)
  })
})

describe('decodeContext refuses, each for its reason', () => {
  const ctx = (bytes: number[]): string => toBase64url(Uint8Array.from(bytes))
  const ctxRefusal = (s: string): string => refusal('INVALID_CONTEXT', () => decodeContext(s))

  it('reads back what encodeContext wrote, and "" as {}', () => {
    const vv: VersionVector = { a: { n: 2, ts: 5 }, b: { n: 1, ts: 0 } }
    expect(decodeContext(encodeContext(vv))).toEqual(vv)
    expect(decodeContext('')).toEqual({})
    expect(encodeContext({})).toBe('')
  })

  it('an empty vector that is not "", an unknown format, not base64url, too long, not a string', () => {
    expect(ctxRefusal(ctx([2, 0]))).toBe('context: empty vector')
    expect(ctxRefusal(ctx([3, 1, ...entry('a', 1)]))).toBe('context: unknown context format')
    expect(ctxRefusal('a!b')).toBe('context: not base64url')
    expect(ctxRefusal('A'.repeat(4_000_000))).toBe('context too long')
    // The longest context accepted: one of MAX_ENTRIES entries of the longest ids and times.
    const longest = Math.ceil(((1 + 3 + MAX_ENTRIES * (2 + MAX_ID_BYTES + 8 + 9)) * 4) / 3)
    expect(ctxRefusal('A'.repeat(longest + 1))).toBe('context too long')
    expect(ctxRefusal('A'.repeat(longest))).toBe('context: unknown context format')
    expect(ctxRefusal(7 as unknown as string)).toBe('context too long')
    expect(ctxRefusal(ctx([2, 1, ...entry('a', 1), 0]))).toBe('context: trailing bytes')
  })
})

describe('decodeVectors refuses, each for its reason', () => {
  const vecRefusal = (b: number[]): string => refusal('INVALID_MESSAGE', () => decodeVectors(Uint8Array.from(b)))

  it('reads back what encodeVectors wrote, times as 0', () => {
    const vvs: VersionVector[] = [{ a: { n: 2, ts: 5 } }, {}, { b: { n: 1, ts: 1 }, a: { n: 7, ts: 1 } }]
    expect(decodeVectors(encodeVectors(vvs))).toEqual([{ a: { n: 2, ts: 0 } }, {}, { b: { n: 1, ts: 0 }, a: { n: 7, ts: 0 } }])
  })

  it('writes each id once, then index and counter pairs', () => {
    expect([...encodeVectors([{ a: { n: 2, ts: 5 } }, { a: { n: 3, ts: 0 } }])]).toEqual([1, ...id('a'), 2, 1, 0, 2, 1, 0, 3])
    expect(decodeVectors(Uint8Array.of(0, 1, 0))).toEqual([{}])
  })

  it('ids the input cannot hold, repeated ids', () => {
    expect(vecRefusal([2, ...id('a')])).toBe('version set: truncated ids')
    expect(vecRefusal([1, ...id('a')])).toBe('version set: truncated')
    expect(vecRefusal([2, ...id('a'), ...id('a'), 0])).toBe('version set: repeated replica id')
  })

  it('vectors the input cannot hold', () => {
    expect(vecRefusal([1, ...id('a'), 2, 0])).toBe('version set: truncated vectors')
    expect(vecRefusal([1, ...id('a'), 1, 2, 0, 1])).toBe('version set: truncated vector')
  })

  it('an id index named twice in one vector, or past the last', () => {
    expect(vecRefusal([1, ...id('a'), 1, 2, 0, 1, 0, 1])).toBe('version set: bad or repeated id index')
    expect(vecRefusal([1, ...id('a'), 1, 1, 1, 1])).toBe('version set: count or index 1 over 0')
    // With no ids at all, every index is past the last.
    expect(vecRefusal([0, 1, 1, 0, 1])).toBe('version set: count or index 0 over -1')
  })
})

describe('encodeSet and encodeContext refuse what no decoder would take', () => {
  const one = (vv: VersionVector, siblings: VersionSet['siblings'] = []): VersionSet => ({ vv, siblings })
  const x = Uint8Array.of(1)

  it('siblings given in any order encode canonically', () => {
    const sibs = [1, 2, 3].map((n) => ({ dot: { id: 'a', n }, ts: n, value: null }))
    const canonical = encodeSet(one({ a: { n: 3, ts: 3 } }, sibs))
    expect(encodeSet(one({ a: { n: 3, ts: 3 } }, [sibs[2]!, sibs[0]!, sibs[1]!]))).toEqual(canonical)
    expect(encodeSet(one({ a: { n: 3, ts: 3 } }, [sibs[1]!, sibs[2]!, sibs[0]!]))).toEqual(canonical)
  })

  it('duplicate dots, uncovered siblings', () => {
    expect(() => encodeSet(one({ a: { n: 1, ts: 0 } }, [{ dot: { id: 'a', n: 1 }, ts: 0, value: x }, { dot: { id: 'a', n: 1 }, ts: 1, value: null }]))).toThrow('duplicate sibling dot')
    expect(() => encodeSet(one({ a: { n: 1, ts: 0 } }, [{ dot: { id: 'b', n: 1 }, ts: 0, value: x }]))).toThrow('sibling not covered by its version vector')
  })

  it('bad counters, times and ids', () => {
    expect(() => encodeSet(one({ a: { n: 0, ts: 0 } }))).toThrow('counter must be a safe integer >= 1, got 0')
    expect(() => encodeSet(one({ a: { n: 1.5, ts: 0 } }))).toThrow('counter must be a safe integer >= 1, got 1.5')
    expect(() => encodeSet(one({ a: { n: 1, ts: Infinity } }))).toThrow('time must be finite, got Infinity')
    expect(() => encodeSet(one({ '': { n: 1, ts: 0 } }))).toThrow('replica id must be non-empty, well-formed text')
    expect(() => encodeSet(one({ 'a\ud800': { n: 1, ts: 0 } }))).toThrow('replica id must be non-empty, well-formed text')
    expect(() => encodeSet(one({ ['a'.repeat(MAX_ID_BYTES + 1)]: { n: 1, ts: 0 } }))).toThrow(`replica id longer than ${MAX_ID_BYTES} bytes`)
    expect(decodeSet(encodeSet(one({ ['a'.repeat(MAX_ID_BYTES)]: { n: 1, ts: 0 } })))).toEqual(one({ ['a'.repeat(MAX_ID_BYTES)]: { n: 1, ts: 0 } }))
  })

  it('more entries or siblings than a decoder takes, and exactly as many', () => {
    const vv = (k: number): VersionVector => Object.fromEntries(Array.from({ length: k }, (_, i) => [`r${i}`, { n: 1, ts: 0 }]))
    expect(() => encodeSet(one(vv(MAX_ENTRIES + 1)))).toThrow('version set too large')
    expect(() => encodeContext(vv(MAX_ENTRIES + 1))).toThrow('context too large')
    expect(Object.keys(decodeSet(encodeSet(one(vv(MAX_ENTRIES)))).vv)).toHaveLength(MAX_ENTRIES)
    expect(Object.keys(decodeContext(encodeContext(vv(MAX_ENTRIES))))).toHaveLength(MAX_ENTRIES)
    const many = (k: number): VersionSet => one({ a: { n: k, ts: 0 } }, Array.from({ length: k }, (_, i) => ({ dot: { id: 'a', n: i + 1 }, ts: 0, value: null })))
    expect(() => encodeSet(many(MAX_SIBLINGS + 1))).toThrow('version set too large')
    expect(decodeSet(encodeSet(many(MAX_SIBLINGS))).siblings).toHaveLength(MAX_SIBLINGS)
  })
})

describe('setSize', () => {
  it('is the length of the encoding: ids of 1- to 4-byte characters, short, long and shared times', () => {
    const sets: VersionSet[] = [
      emptySet,
      { vv: { a: { n: 1, ts: 5 } }, siblings: [{ dot: { id: 'a', n: 1 }, ts: 5, value: null }] },
      { vv: { a: { n: 1, ts: 5 } }, siblings: [{ dot: { id: 'a', n: 1 }, ts: -0, value: Uint8Array.of(1, 2) }] },
      { vv: { a: { n: 1, ts: -0 } }, siblings: [{ dot: { id: 'a', n: 1 }, ts: 0, value: null }] },
      { vv: { a: { n: 300, ts: 0.5 } }, siblings: [{ dot: { id: 'a', n: 200 }, ts: 2 ** 53, value: new Uint8Array(200) }] },
      { vv: { '\u007f': { n: 1, ts: 1 }, '\u0080': { n: 1, ts: 1 }, '\u07ff': { n: 1, ts: 1 }, '\u0800': { n: 1, ts: 1 }, '\ud7ff': { n: 1, ts: 1 }, '\ue000': { n: 1, ts: 1 }, '\uffff': { n: 1, ts: 1 }, '\u{10000}': { n: 1, ts: 1 }, '\u{dbff}\u{dfff}': { n: 1, ts: 1 }, 'x\u{10ffff}': { n: 1, ts: 1 } }, siblings: [] },
      { vv: { ['é'.repeat(128)]: { n: 1, ts: 2 ** 52 - 2 } }, siblings: [] },
    ]
    // A sibling of an entry past index 127 names it with a two-byte varint.
    const wide: VersionVector = Object.fromEntries(Array.from({ length: 130 }, (_, i) => [`r${String(i).padStart(3, '0')}`, { n: 1, ts: 0 }]))
    sets.push({ vv: wide, siblings: [{ dot: { id: 'r129', n: 1 }, ts: 0, value: null }] })
    for (const s of sets) expect(setSize(s)).toBe(encodeSet(s).length)
  })
})
