/**
 * The storage layout of node/keys.ts byte by byte: a record key is 'r', its partition in two bytes
 * big-endian and the key; a partition's range holds exactly its own records, the last partition's
 * too; a hint key is 'h', its owner's length in one byte, the owner and the key, and an owner id
 * past 255 bytes is refused; every key reads back as it was written.
 */
import { describe, expect, it } from 'vitest'
import { hintKey, hintsRange, metaKey, parseHintKey, parseRecordKey, partitionRange, recordKey, recordsRange } from '../../src/node/keys.js'

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)

/** Storage order: bytes compared one by one, a prefix first. */
const compare = (a: Uint8Array, b: Uint8Array): number => {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.length - b.length
}
const within = (k: Uint8Array, r: { gte: Uint8Array; lt: Uint8Array }): boolean => compare(k, r.gte) >= 0 && compare(k, r.lt) < 0

describe('keys edges: record keys', () => {
  it("lays a record out as 'r', the partition big-endian and the key", () => {
    expect(recordKey(0x0102, Uint8Array.of(9, 8))).toEqual(Uint8Array.of(0x72, 0x01, 0x02, 9, 8))
    expect(recordKey(0xfffe, new Uint8Array(0))).toEqual(Uint8Array.of(0x72, 0xff, 0xfe))
    expect(recordKey(0, bytes('k'))).toEqual(Uint8Array.of(0x72, 0, 0, 0x6b))
  })

  it('reads back the partition and the key it was written with', () => {
    for (const p of [0, 1, 0xff, 0x100, 0x1234, 0xff00, 0xffff]) {
      const parsed = parseRecordKey(recordKey(p, bytes('key')))
      expect(parsed.partition).toBe(p)
      expect(parsed.key).toEqual(bytes('key'))
    }
  })

  it("puts every record of a partition in its range and none of its neighbours'", () => {
    for (const p of [0, 1, 0xff, 0x100, 0x1ff, 0xfffe, 0xffff]) {
      const range = partitionRange(p)
      expect(range.gte).toEqual(Uint8Array.of(0x72, p >>> 8, p & 0xff))
      for (const key of [new Uint8Array(0), Uint8Array.of(0), Uint8Array.of(0xff, 0xff, 0xff)]) {
        expect(within(recordKey(p, key), range)).toBe(true)
        if (p > 0) expect(within(recordKey(p - 1, key), range)).toBe(false)
        if (p < 0xffff) expect(within(recordKey(p + 1, key), range)).toBe(false)
        expect(within(recordKey(p, key), recordsRange)).toBe(true)
      }
    }
    expect(partitionRange(0xff).lt).toEqual(Uint8Array.of(0x72, 0x01, 0x00))
    expect(partitionRange(0xffff).lt).toEqual(Uint8Array.of(0x73))
  })
})

describe('keys edges: hint keys', () => {
  it("lays a hint out as 'h', the owner's length, the owner and the key", () => {
    expect(hintKey('ab', Uint8Array.of(7))).toEqual(Uint8Array.of(0x68, 2, 0x61, 0x62, 7))
    expect(hintKey('é', new Uint8Array(0))).toEqual(Uint8Array.of(0x68, 2, 0xc3, 0xa9))
  })

  it('reads back the owner and the key, whatever bytes the key holds', () => {
    for (const owner of ['', 'n', 'ü-node', 'o'.repeat(255)]) {
      const key = Uint8Array.of(0x68, 0, 0xff, 1)
      const parsed = parseHintKey(hintKey(owner, key))
      expect(parsed.owner).toBe(owner)
      expect(parsed.key).toEqual(key)
    }
  })

  it('takes an owner id of 255 bytes and refuses 256', () => {
    expect(hintKey('o'.repeat(255), Uint8Array.of(1))).toHaveLength(258)
    expect(() => hintKey('o'.repeat(256), Uint8Array.of(1))).toThrow(new TypeError('owner id too long'))
    expect(() => hintKey('é'.repeat(128), Uint8Array.of(1))).toThrow(TypeError)
  })

  it('keeps hints, records and metadata in ranges of their own', () => {
    const hint = hintKey('owner', bytes('k'))
    const record = recordKey(5, bytes('k'))
    expect(within(hint, hintsRange)).toBe(true)
    expect(within(record, hintsRange)).toBe(false)
    expect(within(hint, recordsRange)).toBe(false)
    expect(within(metaKey('self'), recordsRange)).toBe(false)
    expect(within(metaKey('self'), hintsRange)).toBe(false)
  })
})

describe('keys edges: metadata keys', () => {
  it("names metadata 'm/' and its name in UTF-8", () => {
    expect(metaKey('self')).toEqual(bytes('m/self'))
    expect(metaKey('member/ü')).toEqual(bytes('m/member/ü'))
  })
})
