/**
 * Hashing for placement, versions and Merkle trees: SHA-256 in pure JS (sha256.ts), which runs the
 * same in browsers and Node.
 */
import { sha256 } from './sha256.js'

const encoder = new TextEncoder()

/** UTF-8 bytes of a string; bytes pass through. */
export const toBytes = (v: string | Uint8Array): Uint8Array => (typeof v === 'string' ? encoder.encode(v) : v)

/** SHA-256 of the bytes. */
export const hash = (data: Uint8Array): Uint8Array => sha256(data)

/** The top 64 bits of SHA-256, as an unsigned bigint. Keys and tokens share this space. */
export function hash64(data: Uint8Array): bigint {
  sha256(data, scratch)
  return scratchView.getBigUint64(0)
}
const scratch = new Uint8Array(32)
const scratchView = new DataView(scratch.buffer)

/** Each byte's two hex digits. */
const HEX = Array.from({ length: 256 }, (_, x) => x.toString(16).padStart(2, '0'))

/** Hex of bytes (a table per byte: keys are turned to hex several times per operation). */
export function toHex(b: Uint8Array): string {
  let s = ''
  for (let i = 0; i < b.length; i++) s += HEX[b[i]!]
  return s
}

/** Byte-wise comparison, like memcmp. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!
    if (d !== 0) return d
  }
  return a.length - b.length
}

// Stryker disable next-line ConditionalExpression: a shortcut; compareBytes tells lengths apart too
export const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && compareBytes(a, b) === 0

/** Concatenates byte arrays. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}
