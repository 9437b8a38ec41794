/**
 * A memory Storage for simulations of many nodes: the same contract as storage/memory.ts (a B+ tree
 * of byte keys, copies in and out, iterators over a snapshot), but a stored key or value is shared
 * with every other simulated disk that was given the very same array with the same bytes.
 *
 * Why: a simulated node stores its membership view, one entry per member, so n simulated disks
 * hold n² entries. The node hands every disk the same encoded array for the same entry (meta.ts
 * encodes each interned entry once), and a plain memory storage copies it into each: at 10,000
 * nodes that is 10^8 copies of ~170 bytes, more than the whole heap. Sharing them changes nothing a
 * node reads, writes or sends (stored bytes are never modified, reads get copies); it is what a
 * deduplicating file system does for identical blocks.
 */
import { equalBytes } from '../core/hash.js'
import type { BatchOp, Storage } from '../types.js'
import { checkBytes } from '../storage/check.js'
import { treeStorage } from '../storage/memory.js'

/** The stored copy of each array given, by the array: reused while the array still holds the same bytes. */
const copies = new WeakMap<Uint8Array, Uint8Array>()

/** A private, never-modified copy of `b`, shared with other disks given the same array unchanged. */
function stored(b: Uint8Array): Uint8Array {
  const c = copies.get(b)
  if (c !== undefined && equalBytes(c, b)) return c
  // A copy of its own: a Node Buffer's slice() is a view that would keep the whole buffer it came
  // from (msgpackr packs into one large buffer and hands out views) alive for a few stored bytes.
  const copy = new Uint8Array(b.length)
  copy.set(b)
  copies.set(b, copy)
  return copy
}

/** Validates every op and takes its stored copies before anything is applied (as storage/check.ts copyOps). */
function storedOps(ops: readonly BatchOp[]): BatchOp[] {
  if (!Array.isArray(ops)) throw new TypeError('batch() takes an array of operations')
  return ops.map((op) => {
    checkBytes(op?.key, 'key')
    if (op.type === 'put') {
      checkBytes(op.value, 'value')
      return { type: 'put', key: stored(op.key), value: stored(op.value) }
    }
    if (op.type === 'del') return { type: 'del', key: op.key.slice() }
    throw new TypeError(`unknown batch op type: ${String((op as { type?: unknown }).type)}`)
  })
}

/**
 * Creates an empty in-memory Storage whose stored bytes are shared with other such storages given
 * the same arrays (see the file's header); otherwise storage/memory.ts's contract: keys are ordered
 * as bytes, inputs and outputs are copied, iteration runs over a snapshot taken when the iterator
 * is made (writes while one reads go to a copy-on-write clone), and after `close()` every call
 * rejects with `NOT_RUNNING`.
 */
export function sharedMemoryStorage(): Storage {
  return treeStorage(storedOps)
}
