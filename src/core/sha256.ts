/**
 * SHA-256 (FIPS 180-4) without allocation: one scratch schedule shared by every call, input read in
 * place, the digest written into a caller's buffer. Hashing is per record on every write, transfer
 * and anti-entropy push (partition, version digest, tree entry), on inputs of 10 to 200 bytes,
 * where a general-purpose hasher spends more on creating its state than on the rounds themselves.
 * Pinned against @noble/hashes in test/unit/sha256.test.ts.
 */

// prettier-ignore
const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
])
// prettier-ignore
const IV = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19])

const W = new Int32Array(64)
const H = new Int32Array(8)
/** The last one or two blocks: the input's tail, the 0x80 marker, zeros and the bit length. */
const TAIL = new Uint8Array(128)

/** Runs the compression function over the 64-byte block of `b` at `o`, into H. */
function block(b: Uint8Array, o: number): void {
  for (let i = 0; i < 16; i++, o += 4) W[i] = (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!
  for (let i = 16; i < 64; i++) {
    const w15 = W[i - 15]!
    const w2 = W[i - 2]!
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3)
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10)
    W[i] = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0
  }
  let a = H[0]!, b_ = H[1]!, c = H[2]!, d = H[3]!, e = H[4]!, f = H[5]!, g = H[6]!, h = H[7]!
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))
    const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i]! + W[i]!) | 0
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))
    const t2 = (S0 + ((a & b_) ^ (a & c) ^ (b_ & c))) | 0
    h = g
    g = f
    f = e
    e = (d + t1) | 0
    d = c
    c = b_
    b_ = a
    a = (t1 + t2) | 0
  }
  H[0] = (H[0]! + a) | 0
  H[1] = (H[1]! + b_) | 0
  H[2] = (H[2]! + c) | 0
  H[3] = (H[3]! + d) | 0
  H[4] = (H[4]! + e) | 0
  H[5] = (H[5]! + f) | 0
  H[6] = (H[6]! + g) | 0
  H[7] = (H[7]! + h) | 0
}

/**
 * SHA-256 of `data`, written into `out` (32 bytes, a new array unless given) and returned.
 * Synchronous and not re-entrant-sensitive: the shared scratch never outlives one call.
 */
export function sha256(data: Uint8Array, out: Uint8Array = new Uint8Array(32)): Uint8Array {
  if (out.length < 32) throw new TypeError('sha256 output must hold 32 bytes')
  H.set(IV)
  const n = data.length
  const full = n - (n % 64)
  for (let o = 0; o < full; o += 64) block(data, o)
  const rest = n - full
  TAIL.fill(0)
  TAIL.set(data.subarray(full), 0)
  TAIL[rest] = 0x80
  const end = rest < 56 ? 64 : 128
  // The length in bits, big-endian in the last 8 bytes (inputs stay below 2^53 bits).
  const bits = n * 8
  const hi = Math.floor(bits / 0x100000000)
  TAIL[end - 8] = hi >>> 24
  TAIL[end - 7] = hi >>> 16
  TAIL[end - 6] = hi >>> 8
  TAIL[end - 5] = hi
  TAIL[end - 4] = bits >>> 24
  TAIL[end - 3] = bits >>> 16
  TAIL[end - 2] = bits >>> 8
  TAIL[end - 1] = bits
  block(TAIL, 0)
  if (end === 128) block(TAIL, 64)
  for (let i = 0, o = 0; i < 8; i++, o += 4) {
    const x = H[i]!
    out[o] = x >>> 24
    out[o + 1] = x >>> 16
    out[o + 2] = x >>> 8
    out[o + 3] = x
  }
  return out
}
