/**
 * Seeded randomness for the simulation: sfc32 (Chris Doty-Humphrey's Small Fast Counting generator,
 * 128 bits of state, passes PractRand) seeded by cyrb128, a string hash. Small, fast, the same in
 * every JS engine, so one seed replays one run anywhere.
 */

/** A source of uniform numbers in [0, 1). */
export type Rng = () => number

/** cyrb128: hashes a string to four 32-bit words, enough to fill sfc32's state. */
function cyrb128(str: string): [number, number, number, number] {
  let h1 = 1779033703
  let h2 = 3144134277
  let h3 = 1013904242
  let h4 = 2773480762
  for (let i = 0; i < str.length; i++) {
    const k = str.charCodeAt(i)
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067)
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233)
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213)
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179)
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067)
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233)
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213)
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179)
  h1 ^= h2 ^ h3 ^ h4
  h2 ^= h1
  h3 ^= h1
  h4 ^= h1
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0]
}

function sfc32(a: number, b: number, c: number, d: number): Rng {
  return () => {
    a |= 0
    b |= 0
    c |= 0
    d |= 0
    const t = (((a + b) | 0) + d) | 0
    d = (d + 1) | 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) | 0
    c = (c << 21) | (c >>> 11)
    c = (c + t) | 0
    return (t >>> 0) / 4294967296
  }
}

/**
 * A PRNG for one purpose within one seeded run. Different labels give independent streams, so a
 * node's randomness does not shift when another node draws more numbers.
 *
 * @param seed the run's seed (any finite number)
 * @param label names the stream, e.g. `node:a#0` or `net`
 */
export function seededRandom(seed: number, label = ''): Rng {
  if (!Number.isFinite(seed)) throw new TypeError('seed must be a finite number')
  const rng = sfc32(...cyrb128(`${seed}\u0000${label}`))
  // The first outputs of a freshly seeded sfc32 are weakly mixed; discard them.
  for (let i = 0; i < 12; i++) rng()
  return rng
}

/** `n` bytes drawn from `rng` (test payloads, keys, digests). */
export const randomBytes = (rng: Rng, n: number): Uint8Array => Uint8Array.from({ length: n }, () => Math.floor(rng() * 256))

/** `n` bytes that depend only on `seed`: the same payload on every run. */
export const seededBytes = (n: number, seed = 1): Uint8Array => randomBytes(seededRandom(seed, 'bytes'), n)

/** A uniform integer in [lo, hi], both inclusive. */
export function randomInt(rng: Rng, lo: number, hi: number): number {
  if (hi <= lo) return lo
  return lo + Math.floor(rng() * (hi - lo + 1))
}
