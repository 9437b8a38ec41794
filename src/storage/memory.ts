/**
 * In-memory Storage: a B+ tree of byte keys (sorted-btree). Isomorphic (no platform imports); used
 * by the simulation and by tests, and as the storage of a "lost disk" node.
 *
 * A B+ tree rather than a sorted array: a write in the middle of a sorted array moves every entry
 * after it, so a store filled in key-hash order (a wiped replica taking its partitions back) cost
 * O(n) per record. The tree's `clone()` is O(1) and copy-on-write, which gives iterators the
 * snapshot LevelDB iterators have: a write while an iterator is open goes to a clone, and the
 * iterator keeps reading the tree it started on. Cloning only then matters: after a clone every
 * write copies the nodes on its path (~20 us), so iterating and then writing must not pay it.
 */
import sortedBtree from 'sorted-btree'
import type * as btree from 'sorted-btree'
import { compareBytes } from '../core/hash.js'
import { DynameshError } from '../errors.js'
import type { BatchOp, Storage } from '../types.js'
import { checkBytes, checkRange, copyOps } from './check.js'

// sorted-btree is CommonJS with `exports.default`: bundlers hand over the class, Node's ESM loader
// the whole exports object.
type BTreeClass = typeof sortedBtree.default
const BTree: BTreeClass = (sortedBtree as { default?: BTreeClass }).default ?? (sortedBtree as unknown as BTreeClass)
type Tree = btree.default<Uint8Array, Uint8Array>

/**
 * Creates an empty in-memory Storage. Keys are ordered as bytes (memcmp order, shorter prefix first).
 * Inputs and outputs are copied, so callers may reuse or mutate their arrays freely. Iteration runs
 * over a snapshot taken when the iterator is made, so concurrent writes neither disturb nor appear
 * in it (LevelDB iterators behave the same way). After `close()` every call rejects with `NOT_RUNNING`.
 */
export function memoryStorage(): Storage {
  return treeStorage(copyOps)
}

/**
 * The B+ tree storage behind `memoryStorage` and the simulation's `sharedMemoryStorage`: `prepare`
 * validates a batch's ops and returns the ops to apply, holding the arrays the tree may keep (never
 * the caller's own, which the caller may change).
 */
export function treeStorage(prepare: (ops: readonly BatchOp[]) => BatchOp[]): Storage {
  /** The tree writes go to, and how many iterators are reading it. */
  let current: { tree: Tree; readers: number } = { tree: new BTree<Uint8Array, Uint8Array>(undefined, compareBytes), readers: 0 }
  let closed = false

  const checkOpen = (): void => {
    if (closed) throw new DynameshError('NOT_RUNNING', 'memory storage is closed')
  }

  async function* read(reading: typeof current, range: { gte?: Uint8Array; lt?: Uint8Array }): AsyncGenerator<[Uint8Array, Uint8Array]> {
    try {
      checkOpen()
      const { gte, lt } = checkRange(range)
      for (const [key, value] of reading.tree.entries(gte)) {
        if (lt !== undefined && compareBytes(key, lt) >= 0) return
        checkOpen()
        yield [key.slice(), value.slice()]
      }
    } finally {
      reading.readers--
    }
  }

  return {
    async get(key) {
      checkOpen()
      checkBytes(key, 'key')
      return current.tree.get(key)?.slice()
    },

    async batch(ops) {
      checkOpen()
      const prepared = prepare(ops)
      // Open iterators keep the tree they started on; writes go to a copy-on-write clone.
      if (current.readers > 0) current = { tree: current.tree.clone(), readers: 0 }
      const { tree } = current
      // Later ops on the same key win, as in LevelDB.
      for (const op of prepared) {
        if (op.type === 'put') tree.set(op.key, op.value, true)
        else tree.delete(op.key)
      }
    },

    iterate(range) {
      return {
        [Symbol.asyncIterator]() {
          // The snapshot is the tree as it is when the iterator is made, as with LevelDB.
          const reading = current
          reading.readers++
          return read(reading, range)
        },
      }
    },

    async close() {
      closed = true
      current = { tree: new BTree<Uint8Array, Uint8Array>(undefined, compareBytes), readers: 0 }
    },
  }
}
