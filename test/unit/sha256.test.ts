import fc from 'fast-check'
import { sha256 as noble } from '@noble/hashes/sha2.js'
import { describe, expect, it } from 'vitest'
import { sha256 } from '../../src/core/sha256.js'
import { toHex } from '../../src/core/hash.js'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

describe('sha256', () => {
  it('matches the FIPS 180-4 examples', () => {
    expect(hex(sha256(new Uint8Array()))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
    expect(hex(sha256(new TextEncoder().encode('abc')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    expect(hex(sha256(new TextEncoder().encode('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')))).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    )
  })

  it('matches @noble/hashes at every length around the block and padding edges', () => {
    for (let n = 0; n <= 300; n++) {
      const data = Uint8Array.from({ length: n }, (_, i) => (i * 31 + n) & 0xff)
      expect(hex(sha256(data)), `length ${n}`).toBe(hex(noble(data)))
    }
  })

  it('matches @noble/hashes on random inputs, and on views into larger buffers', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.nat(16), (data, off) => {
        const big = new Uint8Array(off + data.length + 3)
        big.set(data, off)
        expect(hex(sha256(big.subarray(off, off + data.length)))).toBe(hex(noble(data)))
      }),
      { numRuns: 300 },
    )
  })

  it('writes into the buffer it is given', () => {
    const out = new Uint8Array(40)
    expect(sha256(new Uint8Array([1, 2, 3]), out)).toBe(out)
    expect(hex(out.subarray(0, 32))).toBe(hex(noble(new Uint8Array([1, 2, 3]))))
    expect(() => sha256(new Uint8Array(1), new Uint8Array(31))).toThrow(TypeError)
  })
})

describe('toHex', () => {
  it('writes every byte as two lower-case digits, in order', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i)
    expect(toHex(all)).toBe(Array.from(all, (x) => x.toString(16).padStart(2, '0')).join(''))
    expect(toHex(new Uint8Array([0, 1, 15, 16, 171, 255]))).toBe('00010f10abff')
    expect(toHex(new Uint8Array(0))).toBe('')
    expect(toHex(new Uint8Array([9, 8, 7, 6]).subarray(1, 3))).toBe('0807')
  })
})
