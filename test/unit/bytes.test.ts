import { describe, expect, it } from 'vitest'
import { fromBase64, fromBase64url, getVarint, putVarint, toBase64, toBase64url } from '../../src/core/bytes.js'

describe('bytes.ts, shared by every binary format', () => {
  it('base64 and base64url agree with Node’s encoders and accept only the canonical spelling', () => {
    for (let n = 0; n < 40; n++) {
      const b = Uint8Array.from({ length: n }, (_, i) => (i * 97 + n * 31) & 0xff)
      expect(toBase64(b)).toBe(Buffer.from(b).toString('base64'))
      expect(toBase64url(b)).toBe(Buffer.from(b).toString('base64url'))
      expect(fromBase64(toBase64(b))).toEqual(b)
      expect(fromBase64url(toBase64url(b))).toEqual(b)
    }
    // 'XQ==' is 0x5d; 'Xf==' decodes to the same byte by ignoring spare bits: not canonical.
    expect(fromBase64('XQ==')).toEqual(new Uint8Array([0x5d]))
    for (const bad of ['Xf==', 'XQ', 'XQ=', 'X===', 'XQ==XQ==', 'a-b_', '****']) expect(fromBase64(bad)).toBeUndefined()
    for (const bad of ['XQ==', 'a+b/', 'Xf']) expect(fromBase64url(bad)).toBeUndefined()
  })

  it('positional varints: minimal, at most 5 bytes, overlong and truncated refused', () => {
    const buf = new Uint8Array(8)
    for (const v of [0, 1, 127, 128, 300, 2 ** 21, 2 ** 32 - 1]) {
      const end = putVarint(buf, 1, v)
      expect(getVarint(buf.subarray(0, end), 1)).toEqual([v, end])
    }
    expect(getVarint(new Uint8Array([0x80, 0x00]), 0)).toBeUndefined() // overlong zero
    expect(getVarint(new Uint8Array([0x80]), 0)).toBeUndefined() // truncated
    expect(getVarint(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x7f]), 0)).toBeUndefined() // over 2^32 - 1
    expect(getVarint(new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), 0)).toBeUndefined() // 6 bytes
  })
})
