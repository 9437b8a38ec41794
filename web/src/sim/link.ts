/**
 * A run as a link: the script (seed and clicks) as URL-safe text, and back. A link is untrusted
 * input, so only known operations with bounded numbers and strings are accepted.
 */
import type { SimOp } from './types.js'

const OPS = new Set(['advance', 'crash', 'restart', 'wipe', 'isolate', 'split', 'heal', 'add', 'put', 'get', 'delete', 'writes', 'siblings'])

/** A link is untrusted input: only known operations, with bounded numbers and strings. */
function saneOp(op: unknown): boolean {
  if (typeof op !== 'object' || op === null) return false
  const o = op as Record<string, unknown>
  if (typeof o.op !== 'string' || !OPS.has(o.op)) return false
  for (const [k, v] of Object.entries(o)) {
    if (typeof v === 'string' && v.length > 1024) return false
    if (typeof v === 'number' && !(Number.isInteger(v) && v >= 0 && v <= (k === 'ms' ? 600_000 : k === 'times' ? 100_000 : k === 'count' ? 200 : 64))) return false
    if (typeof v !== 'string' && typeof v !== 'number') return false
  }
  return true
}

/** A script as URL-safe text: JSON, UTF-8, base64url. */
export function encodeScript(script: readonly SimOp[]): string {
  let bin = ''
  for (const b of new TextEncoder().encode(JSON.stringify(script))) bin += String.fromCharCode(b)
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** The script of a shared link, or undefined when it does not read as one. */
export function decodeScript(text: string): SimOp[] | undefined {
  try {
    const bin = atob(text.replace(/-/g, '+').replace(/_/g, '/'))
    const v: unknown = JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))))
    return Array.isArray(v) && v.length <= 100_000 && v.every(saneOp) ? (v as SimOp[]) : undefined
  } catch {
    return undefined
  }
}
