/**
 * In-memory Storage: a sorted array of immutable entries, searched by binary search. Isomorphic (no
 * platform imports); used by the simulation and by tests, and as the storage of a "lost disk" node.
 */
import { compareBytes } from '../core/hash.js'
import { DynameshError } from '../errors.js'
import type { BatchOp, Storage } from '../types.js'
import { checkBytes, checkRange, copyOps } from './check.js'

/** Entries are never mutated, only replaced, so a copy of the array is a consistent snapshot. */
interface Entry {
  readonly key: Uint8Array
  readonly value: Uint8Array
}

/**
 * Above this many ops a batch is merged into a new array in one pass (O(n + m log m)) instead of
 * being spliced in op by op (O(m·n) element moves), so bulk loads stay fast on large stores.
 */
const MERGE_THRESHOLD = 64

/** Index of the first entry whose key is >= `key` (entries.length when none is). */
function lowerBound(entries: readonly Entry[], key: Uint8Array): number {
  let lo = 0
  let hi = entries.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (compareBytes(entries[mid]!.key, key) < 0) lo = mid + 1
    else hi = mid
  }
  return lo
}


/** Applies ops one by one with splice; later ops on the same key win, as in LevelDB. */
function spliceIn(entries: Entry[], ops: readonly BatchOp[]): void {
  for (const op of ops) {
    const i = lowerBound(entries, op.key)
    const found = i < entries.length && compareBytes(entries[i]!.key, op.key) === 0
    if (op.type === 'put') {
      const e: Entry = { key: op.key, value: op.value }
      if (found) entries[i] = e
      else entries.splice(i, 0, e)
    } else if (found) {
      entries.splice(i, 1)
    }
  }
}

/** Merges a large batch into a fresh array in one pass. */
function mergeIn(entries: readonly Entry[], ops: readonly BatchOp[]): Entry[] {
  // Sort by key, ties by position, then keep the last op per key so batch order still wins.
  const sorted = ops.map((op, i) => ({ op, i })).sort((x, y) => compareBytes(x.op.key, y.op.key) || x.i - y.i)
  const out: Entry[] = []
  let j = 0
  for (let k = 0; k < sorted.length; k++) {
    const op = sorted[k]!.op
    const next = sorted[k + 1]
    if (next !== undefined && compareBytes(next.op.key, op.key) === 0) continue
    while (j < entries.length && compareBytes(entries[j]!.key, op.key) < 0) out.push(entries[j++]!)
    if (j < entries.length && compareBytes(entries[j]!.key, op.key) === 0) j++
    if (op.type === 'put') out.push({ key: op.key, value: op.value })
  }
  while (j < entries.length) out.push(entries[j++]!)
  return out
}

/**
 * Creates an empty in-memory Storage. Keys are ordered as bytes (memcmp order, shorter prefix first).
 * Inputs and outputs are copied, so callers may reuse or mutate their arrays freely. Iteration runs
 * over a snapshot taken when it starts, so concurrent writes neither disturb nor appear in it
 * (LevelDB iterators behave the same way). After `close()` every call rejects with `NOT_RUNNING`.
 */
export function memoryStorage(): Storage {
  let entries: Entry[] = []
  let closed = false

  const checkOpen = (): void => {
    if (closed) throw new DynameshError('NOT_RUNNING', 'memory storage is closed')
  }

  return {
    async get(key) {
      checkOpen()
      checkBytes(key, 'key')
      const i = lowerBound(entries, key)
      const e = entries[i]
      return e !== undefined && compareBytes(e.key, key) === 0 ? e.value.slice() : undefined
    },

    async batch(ops) {
      checkOpen()
      const copied = copyOps(ops)
      if (copied.length > MERGE_THRESHOLD) entries = mergeIn(entries, copied)
      else spliceIn(entries, copied)
    },

    iterate(range) {
      return {
        async *[Symbol.asyncIterator]() {
          checkOpen()
          const { gte, lt } = checkRange(range)
          const from = gte === undefined ? 0 : lowerBound(entries, gte)
          const to = lt === undefined ? entries.length : lowerBound(entries, lt)
          const snapshot = entries.slice(from, Math.max(from, to))
          for (const e of snapshot) {
            checkOpen()
            yield [e.key.slice(), e.value.slice()] as [Uint8Array, Uint8Array]
          }
        },
      }
    },

    async close() {
      closed = true
      entries = []
    },
  }
}
