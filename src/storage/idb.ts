/**
 * IndexedDB Storage for browsers, over the `idb` package. One database per node, one object store
 * of binary keys (IndexedDB orders binary keys byte-wise, the order the Storage interface promises).
 *
 * IndexedDB's cost is per transaction, not per byte (DESIGN.md section 6), so writes group-commit:
 *
 *   batch() ─▶ queue ──(no commit running: next microtask; else: when it completes)──▶ one
 *              readwrite transaction for every batch queued meanwhile ─▶ each batch resolves
 *
 * Under load many small batches share one transaction; alone, a batch commits at once. Reads see
 * queued writes (an overlay of the not yet committed values), and iteration waits for queued writes
 * first. A batch stays atomic; if a shared transaction fails, every batch in it fails (none applied).
 *
 * Durability: transactions are `relaxed` by default (Chromium's default since 121): a resolved batch
 * has reached the browser's storage backend and survives closing the tab and a crash of the browser,
 * but may be lost to a power loss or an OS crash. `durability: 'strict'` flushes to disk first
 * (about 10x slower per transaction).
 */
import { openDB, deleteDB, type IDBPDatabase } from 'idb'
import { toHex } from '../core/hash.js'
import { DynameshError } from '../errors.js'
import type { BatchOp, Storage } from '../types.js'
import { checkBytes, checkRange, copyOps } from './check.js'

export interface IdbStorageOptions {
  /** Transaction durability. Default 'relaxed'. */
  durability?: 'relaxed' | 'strict' | 'default'
}

const STORE = 'kv'
/** Entries fetched per read transaction while iterating (a transaction cannot outlive an await). */
const ITERATE_CHUNK = 256

interface Queued {
  ops: BatchOp[]
  resolve(): void
  reject(e: unknown): void
}

const failed = (what: string, cause: unknown): DynameshError =>
  new DynameshError('STORAGE_FAILED', `IndexedDB ${what} failed: ${(cause as Error)?.message ?? String(cause)}`, { cause })

const bytes = (k: IDBValidKey | ArrayBuffer | ArrayBufferView): Uint8Array =>
  k instanceof ArrayBuffer ? new Uint8Array(k) : ArrayBuffer.isView(k) ? new Uint8Array(k.buffer, k.byteOffset, k.byteLength).slice() : new Uint8Array(0)

const asKey = (k: Uint8Array): ArrayBuffer => k.slice().buffer

/** The IndexedDB range for [gte, lt), starting past `after` when set; 'empty' when nothing is in it. */
function rangeOf(gte: Uint8Array | undefined, lt: Uint8Array | undefined, after?: Uint8Array): IDBKeyRange | null | 'empty' {
  const lower = after ?? gte
  if (lower !== undefined && lt !== undefined) {
    if (compare(lower, lt) >= 0) return 'empty'
    return IDBKeyRange.bound(asKey(lower), asKey(lt), after !== undefined, true)
  }
  if (lower !== undefined) return IDBKeyRange.lowerBound(asKey(lower), after !== undefined)
  if (lt !== undefined) return IDBKeyRange.upperBound(asKey(lt), true)
  return null
}

function compare(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.length - b.length
}

/**
 * Opens (creating if needed) the IndexedDB database `name` as a Storage. Errors are wrapped as
 * `STORAGE_FAILED` with the original as `cause`; calls after `close()` reject with `NOT_RUNNING`.
 */
export async function idbStorage(name: string, opts: IdbStorageOptions = {}): Promise<Storage> {
  if (typeof name !== 'string' || name === '') throw new TypeError('idbStorage needs a database name')
  const durability = opts.durability ?? 'relaxed'
  let db: IDBPDatabase
  try {
    db = await openDB(name, 1, { upgrade: (d) => void d.createObjectStore(STORE) })
  } catch (cause) {
    throw failed(`open of "${name}"`, cause)
  }
  let closed = false
  let queue: Queued[] = []
  let committing: Promise<void> | undefined
  let scheduled = false
  /** Values queued or being committed, by key hex, with the sequence number of the latest write. */
  const overlay = new Map<string, { value: Uint8Array | null; seq: number }>()
  let seq = 0

  const checkOpen = (): void => {
    if (closed) throw new DynameshError('NOT_RUNNING', `IndexedDB storage "${name}" is closed`)
  }

  const schedule = (): void => {
    if (scheduled || committing || queue.length === 0) return
    scheduled = true
    queueMicrotask(() => {
      scheduled = false
      committing = commit().finally(() => {
        committing = undefined
        schedule()
      })
    })
  }

  async function commit(): Promise<void> {
    const group = queue
    queue = []
    const upTo = seq
    try {
      const tx = db.transaction(STORE, 'readwrite', { durability })
      for (const q of group) {
        for (const op of q.ops) {
          const req = op.type === 'put' ? tx.store.put(op.value, asKey(op.key)) : tx.store.delete(asKey(op.key))
          req.catch(() => {}) // the transaction's outcome below reports it
        }
      }
      await tx.done
      for (const q of group) q.resolve()
    } catch (cause) {
      const err = closed ? new DynameshError('NOT_RUNNING', 'IndexedDB storage closed during a write') : failed('write', cause)
      for (const q of group) q.reject(err)
    } finally {
      for (const [k, e] of overlay) if (e.seq <= upTo) overlay.delete(k)
    }
  }

  /** Resolves once everything queued so far is committed (or failed). */
  async function settled(): Promise<void> {
    while (committing || queue.length > 0 || scheduled) {
      if (committing) await committing.catch(() => {})
      else await new Promise<void>((r) => queueMicrotask(r))
    }
  }

  return {
    async get(key) {
      checkOpen()
      checkBytes(key, 'key')
      const queued = overlay.get(toHex(key))
      if (queued) return queued.value === null ? undefined : queued.value.slice()
      try {
        const v = (await db.get(STORE, asKey(key))) as Uint8Array | undefined
        return v === undefined ? undefined : bytes(v)
      } catch (cause) {
        throw closed ? new DynameshError('NOT_RUNNING', 'IndexedDB storage is closed') : failed('read', cause)
      }
    },

    async batch(ops) {
      checkOpen()
      const copied = copyOps(ops)
      if (copied.length === 0) return
      for (const op of copied) overlay.set(toHex(op.key), { value: op.type === 'put' ? op.value : null, seq: ++seq })
      await new Promise<void>((resolve, reject) => {
        queue.push({ ops: copied, resolve, reject })
        schedule()
      })
    },

    iterate(range) {
      return {
        async *[Symbol.asyncIterator]() {
          checkOpen()
          const { gte, lt } = checkRange(range)
          let after: Uint8Array | undefined
          for (;;) {
            await settled()
            checkOpen()
            const r = rangeOf(gte, lt, after)
            if (r === 'empty') return
            let keys: IDBValidKey[]
            let values: unknown[]
            try {
              const tx = db.transaction(STORE, 'readonly')
              ;[keys, values] = await Promise.all([tx.store.getAllKeys(r, ITERATE_CHUNK), tx.store.getAll(r, ITERATE_CHUNK)])
            } catch (cause) {
              throw closed ? new DynameshError('NOT_RUNNING', 'IndexedDB storage is closed') : failed('iteration', cause)
            }
            for (let i = 0; i < keys.length; i++) {
              checkOpen()
              yield [bytes(keys[i] as ArrayBuffer), bytes(values[i] as Uint8Array)] as [Uint8Array, Uint8Array]
            }
            if (keys.length < ITERATE_CHUNK) return
            after = bytes(keys[keys.length - 1] as ArrayBuffer)
          }
        },
      }
    },

    async close() {
      if (closed) return
      await settled()
      closed = true
      db.close()
      overlay.clear()
    },
  }
}

/** Deletes the IndexedDB database `name` (close its storage first). */
export async function deleteIdbStorage(name: string): Promise<void> {
  try {
    await deleteDB(name)
  } catch (cause) {
    throw failed(`delete of "${name}"`, cause)
  }
}
