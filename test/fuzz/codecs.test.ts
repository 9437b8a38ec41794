/**
 * Fuzzing the hand-written binary codecs: version sets (records on disk and on the wire) and causal
 * contexts (core/record.ts), Merkle probes and listings (core/merkle-codec.ts). Valid inputs round
 * trip; mutated ones are refused with the documented code (INVALID_MESSAGE, INVALID_CONTEXT for
 * contexts) or accepted only when they are canonical: record.ts promises that encode(decode(b)) is
 * b whenever decode succeeds, and the listing format has one encoding per listing too.
 * Mutated inputs: FUZZ_RUNS per property (default 3,000); valid round trips: FUZZ_RUNS / 10.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compareDots, covers } from '../../src/core/clock.js'
import { toBase64url } from '../../src/core/bytes.js'
import { DEPTH, FANOUT } from '../../src/core/merkle-shape.js'
import { decodeListings, decodeProbes, encodeListings, encodeProbes, PROBE_HASH_BYTES } from '../../src/core/merkle-codec.js'
import type { Probe } from '../../src/core/merkle.js'
import { decodeContext, decodeSet, encodeContext, encodeSet } from '../../src/core/record.js'
import { contextString, contextVector, encodedListings, encodedProbes, encodedSet, listing, probe, versionSet } from './arbitraries.js'
import { TIMEOUT, decodeOrRefuse, fuzz, plain, runs, seeded } from './config.js'
import { mutatedBytes, mutatedText, mutatedToken } from './mutate.js'

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
const raw = fc.uint8Array({ maxLength: 48 })

describe('fuzz: version sets (record.ts)', () => {
  it('valid sets round-trip, both ways', () => {
    fc.assert(
      fc.property(versionSet, (s) => {
        const b = encodeSet(s)
        expect(plain(decodeSet(b))).toEqual(plain(s))
        expect(hex(encodeSet(decodeSet(b)))).toBe(hex(b))
      }),
      fuzz(runs(2000, 10)),
    )
  }, TIMEOUT)

  it('mutated sets are refused with INVALID_MESSAGE or accepted only in canonical form', () => {
    const hostile = fc.oneof({ weight: 8, arbitrary: mutatedBytes(seeded(encodedSet)) }, { weight: 1, arbitrary: raw })
    fc.assert(
      fc.property(hostile, (b) => {
        const s = decodeOrRefuse('INVALID_MESSAGE', () => decodeSet(b))
        if (s === undefined) return
        expect(hex(encodeSet(s))).toBe(hex(b))
        for (const x of s.siblings) expect(covers(s.vv, x.dot)).toBe(true)
        for (let i = 1; i < s.siblings.length; i++) expect(compareDots(s.siblings[i - 1]!.dot, s.siblings[i]!.dot)).toBeLessThan(0)
      }),
      fuzz(runs(3000)),
    )
  }, TIMEOUT)
})

describe('fuzz: contexts (record.ts)', () => {
  it('valid contexts round-trip; the empty context is the empty string', () => {
    expect(decodeContext('')).toEqual({})
    fc.assert(
      fc.property(contextVector, (vv) => {
        const s = encodeContext(vv)
        expect(plain(decodeContext(s))).toEqual(plain(vv))
        expect(encodeContext(decodeContext(s))).toBe(s)
      }),
      fuzz(runs(2000, 10)),
    )
  }, TIMEOUT)

  it('mutated contexts (characters, UTF-8, the bytes under the base64url, non-strings) throw only INVALID_CONTEXT', () => {
    const valid = seeded(contextString)
    const underneath = mutatedBytes(seeded(contextVector.map(encodeContext)).map((s) => Buffer.from(s, 'base64url'))).map(toBase64url)
    const hostile = fc.oneof(mutatedToken(valid), mutatedText(valid), underneath, fc.anything().map((v) => v as string))
    fc.assert(
      fc.property(hostile, (s) => {
        const vv = decodeOrRefuse('INVALID_CONTEXT', () => decodeContext(s))
        if (vv !== undefined) expect(encodeContext(vv)).toBe(s)
      }),
      fuzz(runs(3000)),
    )
  }, TIMEOUT)
})

/** What a probe looks like after the wire: child hashes cut to 8 bytes, an all-zero probe sent as its flag. */
const truncated = (p: Probe): Probe => ({ node: p.node, childHashes: p.childHashes.map((h) => h.subarray(0, PROBE_HASH_BYTES)) })

describe('fuzz: Merkle probes and listings (merkle-codec.ts)', () => {
  it('valid probes and listings round-trip (probes keep 8 bytes of each child hash)', () => {
    fc.assert(
      fc.property(fc.array(probe, { maxLength: 4 }), fc.array(listing, { maxLength: 4 }), (ps, ls) => {
        expect(plain(decodeProbes(encodeProbes(ps)))).toEqual(plain(ps.map(truncated)))
        expect(plain(decodeListings(encodeListings(ls)))).toEqual(plain(ls))
      }),
      fuzz(runs(2000, 10)),
    )
  }, TIMEOUT)

  it('mutated probes are refused with INVALID_MESSAGE or decode to probes inside the tree', () => {
    const hostile = fc.oneof({ weight: 8, arbitrary: mutatedBytes(seeded(encodedProbes)) }, { weight: 1, arbitrary: raw })
    fc.assert(
      fc.property(hostile, (b) => {
        const ps = decodeOrRefuse('INVALID_MESSAGE', () => decodeProbes(b))
        for (const p of ps ?? []) {
          expect(p.node.level).toBeLessThan(DEPTH)
          expect(p.node.index).toBeLessThan(FANOUT ** p.node.level)
          expect(p.childHashes.map((h) => h.length)).toEqual(Array(FANOUT).fill(PROBE_HASH_BYTES))
        }
      }),
      fuzz(runs(3000)),
    )
  }, TIMEOUT)

  it('mutated listings are refused with INVALID_MESSAGE or accepted only in canonical form and within the limits', () => {
    const hostile = fc.oneof({ weight: 8, arbitrary: mutatedBytes(seeded(encodedListings)) }, { weight: 1, arbitrary: raw })
    fc.assert(
      fc.property(hostile, fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 2048 }), (b, maxEntries, maxKeyBytes) => {
        const ls = decodeOrRefuse('INVALID_MESSAGE', () => decodeListings(b))
        if (ls !== undefined) expect(hex(encodeListings(ls))).toBe(hex(b))
        const bounded = decodeOrRefuse('INVALID_MESSAGE', () => decodeListings(b, { maxEntries, maxKeyBytes }))
        if (bounded === undefined) return
        expect(bounded.reduce((n, l) => n + l.entries.length, 0)).toBeLessThanOrEqual(maxEntries)
        for (const l of bounded) for (const e of l.entries) expect(e.key.length).toBeLessThanOrEqual(maxKeyBytes)
      }),
      fuzz(runs(3000)),
    )
  }, TIMEOUT)
})
