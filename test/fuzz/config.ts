/**
 * Run counts and the shared assertion of the fuzz suites.
 *
 *   npx vitest run test/fuzz                      fixed seed 4242, small counts (part of `npm test`)
 *   FUZZ_RUNS=1000000 npx vitest run test/fuzz    a million inputs per pure-decoder property (`npm run fuzz`)
 *   FUZZ_SEED=7 ...                               another seed; a failure prints its seed and path to replay
 *
 * Round-trip properties of valid inputs run a tenth of FUZZ_RUNS (building a valid input costs
 * more than decoding it). Properties that go through a handler (a simulated node, an HTTP server, a signaling server) cost
 * far more per input and run FUZZ_RUNS / their `scale` (see each suite).
 */
import fc from 'fast-check'
import { DynameshError, type ErrorCode } from '../../src/errors.js'

export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 0) || 0
export const SEED = Number(process.env.FUZZ_SEED ?? 4242)

/** Inputs for one property: FUZZ_RUNS / scale when set, else the small default. */
export const runs = (dflt: number, scale = 1): number => (FUZZ_RUNS > 0 ? Math.max(dflt, Math.ceil(FUZZ_RUNS / scale)) : dflt)

/** fast-check options: one fixed seed, `numRuns` inputs. */
export const fuzz = (numRuns: number): { seed: number; numRuns: number } => ({ seed: SEED, numRuns })

/**
 * Valid inputs for a mutation property: mostly drawn from a corpus sampled once (seeded), sometimes
 * fresh. Building a structured input costs more than decoding it, so at a million runs the corpus
 * keeps the time in the decoders; the fresh fifth keeps the variety of the generators.
 */
export function seeded<T>(valid: fc.Arbitrary<T>, size = 2000): fc.Arbitrary<T> {
  const corpus = fc.sample(valid, { seed: SEED, numRuns: size })
  return fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...corpus) }, { weight: 1, arbitrary: valid })
}

/** Test timeout: ample for a million-run property, short enough for the default run to fail fast on a hang. */
export const TIMEOUT = FUZZ_RUNS > 0 ? 60 * 60_000 : 60_000

/** Longest one decode may take: a decoder that is slow on some input is a way to stall a node. */
export const MAX_DECODE_MS = 500

/**
 * Runs a decoder on an untrusted input: it returns, or throws a DynameshError with the documented
 * `code`; any other exception, or a slow decode, fails the property. Returns the decoded value or
 * undefined when it was refused.
 */
export function decodeOrRefuse<T>(code: ErrorCode, run: () => T): T | undefined {
  const started = performance.now()
  try {
    return run()
  } catch (e) {
    if (!(e instanceof DynameshError) || e.code !== code) {
      throw new Error(`expected DynameshError ${code}, got ${e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)}`, { cause: e })
    }
    return undefined
  } finally {
    const ms = performance.now() - started
    if (ms > MAX_DECODE_MS) throw new Error(`decode took ${ms.toFixed(0)} ms (limit ${MAX_DECODE_MS})`)
  }
}

/** Plain data for deep comparison: bytes (Buffer or Uint8Array) as hex, undefined fields dropped. */
export function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return `bytes:${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`
  if (Array.isArray(v)) return v.map(plain)
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(v)) if (x !== undefined) Object.defineProperty(out, k, { value: plain(x), enumerable: true })
    return out
  }
  return v
}
