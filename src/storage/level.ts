/**
 * LevelDB Storage for Node, through `level` 10 (classic-level underneath). Node-only: browsers use the
 * IndexedDB adapter. Keys and values travel as Uint8Array ('view' encoding), so LevelDB's own
 * byte-wise comparator gives the ordering the Storage interface promises.
 */
import { Level } from 'level'
import { DynameshError } from '../errors.js'
import type { BatchOp, Storage } from '../types.js'
import { checkBytes, checkRange, copyOps } from './check.js'

/** Options for {@link levelStorage}. */
export interface LevelStorageOptions {
  /**
   * fsync every batch. Default false: a resolved batch is in LevelDB's write-ahead log and survives a
   * process crash, but not a power loss; true survives both at the cost of a disk flush per batch.
   */
  sync?: boolean
  /** Create the database when missing. Default true. */
  createIfMissing?: boolean
}

/** How many entries an iterator fetches from LevelDB per round trip to the native side. */
const ITERATOR_CHUNK = 256

const failed = (what: string, cause: unknown): DynameshError =>
  new DynameshError('STORAGE_FAILED', `LevelDB ${what} failed: ${(cause as Error)?.message ?? String(cause)}`, { cause })

/** classic-level hands out Buffers; callers get plain Uint8Array views so comparisons are uniform. */
const plain = (b: Uint8Array): Uint8Array =>
  Object.getPrototypeOf(b) === Uint8Array.prototype ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength)


/**
 * Opens (creating if needed) a LevelDB database in `dir` and returns it as a Storage. Errors from
 * LevelDB are wrapped as `STORAGE_FAILED` with the original as `cause`; calls after `close()` reject
 * with `NOT_RUNNING`. Only one process may hold a directory open at a time (LevelDB's lock).
 */
export async function levelStorage(dir: string, opts: LevelStorageOptions = {}): Promise<Storage> {
  if (typeof dir !== 'string' || dir === '') throw new TypeError('levelStorage needs a directory path')
  const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' })
  try {
    await db.open({ createIfMissing: opts.createIfMissing ?? true })
  } catch (e) {
    throw failed(`open of ${dir}`, e)
  }
  const sync = opts.sync ?? false
  let closed = false

  const checkOpen = (): void => {
    if (closed) throw new DynameshError('NOT_RUNNING', `LevelDB storage at ${dir} is closed`)
  }

  return {
    async get(key) {
      checkOpen()
      checkBytes(key, 'key')
      try {
        // abstract-level 3 resolves undefined for a missing key (no NotFound error any more).
        const v = (await db.get(key)) as Uint8Array | undefined
        return v === undefined ? undefined : plain(v)
      } catch (e) {
        throw failed('get', e)
      }
    },

    async batch(ops: BatchOp[]) {
      checkOpen()
      // Copy now: the native write happens later, and the caller may reuse its arrays meanwhile.
      const copied = copyOps(ops)
      if (copied.length === 0) return
      try {
        await db.batch(copied, { sync })
      } catch (e) {
        throw failed('batch', e)
      }
    },

    iterate(range) {
      return {
        async *[Symbol.asyncIterator]() {
          checkOpen()
          // Only the bounds that are set: an explicit undefined bound is not the same as none.
          const it = db.iterator(checkRange(range))
          try {
            for (;;) {
              let chunk: Array<[Uint8Array, Uint8Array]>
              try {
                chunk = await it.nextv(ITERATOR_CHUNK)
              } catch (e) {
                checkOpen()
                throw failed('iterate', e)
              }
              if (chunk.length === 0) return
              for (const [k, v] of chunk) yield [plain(k), plain(v)] as [Uint8Array, Uint8Array]
            }
          } finally {
            // Closing an iterator releases its LevelDB snapshot; errors here change nothing for us.
            await it.close().catch(() => undefined)
          }
        },
      }
    },

    async close() {
      if (closed) return
      closed = true
      try {
        await db.close()
      } catch (e) {
        throw failed('close', e)
      }
    },
  }
}
