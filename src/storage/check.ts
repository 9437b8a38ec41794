/**
 * Argument checks every Storage adapter makes at its edge (STYLE.md 3): public methods check, the
 * adapter's own code then trusts what it got. Shared so memory, LevelDB and IndexedDB agree exactly.
 */
import type { BatchOp } from '../types.js'

export function checkBytes(v: unknown, what: string): asserts v is Uint8Array {
  if (!(v instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array`)
}

/**
 * Validates every op and copies its bytes before anything is applied: a bad op leaves no trace, and
 * a caller reusing its arrays after the call cannot change what gets written.
 */
export function copyOps(ops: readonly BatchOp[]): BatchOp[] {
  if (!Array.isArray(ops)) throw new TypeError('batch() takes an array of operations')
  return ops.map((op) => {
    checkBytes(op?.key, 'key')
    if (op.type === 'put') {
      checkBytes(op.value, 'value')
      return { type: 'put', key: op.key.slice(), value: op.value.slice() }
    }
    if (op.type === 'del') return { type: 'del', key: op.key.slice() }
    throw new TypeError(`unknown batch op type: ${String((op as { type?: unknown }).type)}`)
  })
}

/** Checks an iterate() range; returns only the bounds that are set (an undefined bound is none). */
export function checkRange(range: { gte?: Uint8Array; lt?: Uint8Array } | undefined): { gte?: Uint8Array; lt?: Uint8Array } {
  const out: { gte?: Uint8Array; lt?: Uint8Array } = {}
  if (range?.gte !== undefined) {
    checkBytes(range.gte, 'gte')
    out.gte = range.gte
  }
  if (range?.lt !== undefined) {
    checkBytes(range.lt, 'lt')
    out.lt = range.lt
  }
  return out
}
