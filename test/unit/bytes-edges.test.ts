/**
 * Every refusal of core/bytes.ts's writer and strict reader, with its message and at its bound, and
 * the base64 decoders' refusals of lengths and characters no encoding produces.
 */
import { describe, expect, it } from 'vitest'
import { Reader, Writer, decodeVarints, fromBase64, fromBase64url } from '../../src/core/bytes.js'

const fail = (why: string): never => {
  throw new Error(why)
}
const reader = (bytes: number[]): Reader => new Reader(Uint8Array.from(bytes), fail)

describe('Writer', () => {
  it('done() refuses a buffer not exactly full', () => {
    const w = new Writer(2)
    w.u8(1)
    expect(() => w.done()).toThrow('encoded 1 bytes into 2')
    w.u8(2)
    expect(w.done()).toEqual(Uint8Array.of(1, 2))
  })

  it('writes -0 as 0', () => {
    const w = new Writer(8)
    w.f64(-0)
    expect(w.done()).toEqual(new Uint8Array(8))
  })
})

describe('Reader refuses, each for its reason', () => {
  it('reading past the end', () => {
    expect(() => reader([]).u8()).toThrow('truncated')
    expect(() => reader([1, 2, 3, 4, 5, 6, 7]).f64()).toThrow('truncated')
    expect(reader([0, 0, 0, 0, 0, 0, 0, 0]).f64()).toBe(0)
    expect(() => reader([1, 2]).bytes(3)).toThrow('truncated')
    expect(reader([1, 2]).bytes(2)).toEqual(Uint8Array.of(1, 2))
    expect(() => reader([1, 2]).sub(3)).toThrow('truncated')
    expect(reader([1, 2]).sub(2)).toEqual(Uint8Array.of(1, 2))
  })

  it('bytes left over', () => {
    const r = reader([1, 2])
    r.u8()
    expect(() => r.end()).toThrow('trailing bytes')
    r.u8()
    expect(() => r.end()).not.toThrow()
  })

  it('varints that are overlong, too large, too long, or over the caller bound', () => {
    expect(() => reader([0x80, 0x00]).varint()).toThrow('overlong varint')
    const max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f] // 2^53 - 1
    expect(reader(max).varint()).toBe(Number.MAX_SAFE_INTEGER)
    expect(() => reader([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x10]).varint()).toThrow('varint too large')
    expect(() => reader([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]).varint()).toThrow('varint too long')
    expect(() => reader([5]).varint(4)).toThrow('count or index 5 over 4')
    expect(reader([4]).varint(4)).toBe(4)
  })
})

describe('decodeVarints', () => {
  it('reads none from no bytes, up to maxCount, and refuses more', () => {
    expect(decodeVarints(new Uint8Array(0), fail, 2)).toEqual([])
    expect(decodeVarints(Uint8Array.of(1, 2), fail, 2)).toEqual([1, 2])
    expect(() => decodeVarints(Uint8Array.of(1, 2, 3), fail, 2)).toThrow('more than 2 numbers')
  })
})

describe('base64 decoders refuse what no encoding produces', () => {
  it('a length of 1 mod 4', () => {
    for (const s of ['A', 'AAAAA']) expect(fromBase64url(s)).toBeUndefined()
    expect(fromBase64url('AA')).toEqual(Uint8Array.of(0))
  })

  it('characters outside the alphabet, ASCII or not', () => {
    for (const c of ['\u0080', '\u00ff', '\u0100', '=', '+', '/']) expect(fromBase64url(`AA${c}A`)).toBeUndefined()
    for (const c of ['\u0080', '\u00ff', '-', '_']) expect(fromBase64(`AA${c}A`)).toBeUndefined()
  })
})
