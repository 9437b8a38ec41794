/**
 * Checks at the edge (STYLE.md 3): public methods validate keys, values and options once, then the
 * rest of the node can trust them. Mistakes a caller can make at run time get a DynameshError with a
 * stable code; a wrong type of argument is a TypeError.
 */
import { toBytes } from '../core/hash.js'
import { DynameshError } from '../errors.js'
import { MAX_KEY_BYTES } from '../limits.js'
import type { Key, Value } from '../api.js'

export function checkKey(key: Key): Uint8Array {
  if (typeof key !== 'string' && !(key instanceof Uint8Array)) throw new TypeError('key must be a string or a Uint8Array')
  const k = toBytes(key)
  if (k.length === 0) throw new DynameshError('INVALID_KEY', 'key must not be empty')
  if (k.length > MAX_KEY_BYTES) throw new DynameshError('INVALID_KEY', `key is ${k.length} bytes; the limit is ${MAX_KEY_BYTES}`)
  return k.slice()
}

export function checkValue(value: Value, maxBytes: number): Uint8Array {
  if (typeof value !== 'string' && !(value instanceof Uint8Array)) throw new TypeError('value must be a string or a Uint8Array')
  const v = toBytes(value)
  if (v.length > maxBytes) throw new DynameshError('VALUE_TOO_LARGE', `value is ${v.length} bytes; the limit is ${maxBytes}`)
  return v.slice()
}

/** A replica count option: a whole number in [1, max]. */
export function checkCount(name: string, v: number | undefined, fallback: number, max: number): number {
  if (v === undefined) return fallback
  if (!Number.isInteger(v) || v < 1 || v > max) {
    throw new DynameshError('INVALID_OPTION', `${name} must be a whole number from 1 to ${max}, got ${String(v)}`)
  }
  return v
}

export function checkTimeout(v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback
  // Number.isFinite is false for anything but a finite number (no coercion: '5' too).
  if (!Number.isFinite(v) || v <= 0 || v > 600_000) {
    throw new DynameshError('INVALID_OPTION', `timeoutMs must be a number of milliseconds from 1 to 600000, got ${String(v)}`)
  }
  return v
}

/** Rejects with the signal's reason when it aborts first. */
export function withAbort<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort)
        resolve(v)
      },
      (e) => {
        signal.removeEventListener('abort', onAbort)
        reject(e)
      },
    )
  })
}

/** A key as people read it in an error: quoted text when it is short printable UTF-8, else hex. */
export function keyText(key: Uint8Array): string {
  try {
    const s = new TextDecoder('utf-8', { fatal: true }).decode(key)
    if (s.length <= 64 && !/[\p{Cc}\p{Cs}]/u.test(s)) return JSON.stringify(s)
  } catch {
    // Not UTF-8: shown as hex.
  }
  const hex = Array.from(key.subarray(0, 32), (b) => b.toString(16).padStart(2, '0')).join('')
  return `0x${hex}${key.length > 32 ? '…' : ''}`
}

const RESOLVE = "Read the key, merge its siblings into one value and write that back with the read's context."

/**
 * Refuses, before anything is stored, a write that would grow its key's version set past the
 * sibling or the record limit (limits.ts). A write that does not grow the set past what the key
 * already holds passes even above a limit (sets merged from concurrent coordinators can be), so the
 * write that resolves the siblings always gets through.
 */
export function checkGrowth(
  key: Uint8Array,
  known: { siblings: number; bytes: number },
  next: { siblings: number; bytes: number },
  limits: { maxRecordBytes: number; maxSiblings: number },
): void {
  const has = `key ${keyText(key)} has ${known.siblings} sibling${known.siblings === 1 ? '' : 's'} in ${known.bytes} bytes`
  if (next.siblings > limits.maxSiblings && next.siblings > known.siblings) {
    throw new DynameshError('TOO_MANY_SIBLINGS', `${has}; this write would leave ${next.siblings}, over the limit of ${limits.maxSiblings} siblings. ${RESOLVE}`)
  }
  if (next.bytes > limits.maxRecordBytes && next.bytes > known.bytes) {
    throw new DynameshError('RECORD_TOO_LARGE', `${has}; this write would make it ${next.bytes} bytes, over the record limit of ${limits.maxRecordBytes} bytes. ${RESOLVE}`)
  }
}
