/**
 * Where a node keeps its bytes: ordered byte keys, byte values, atomic batches. Types only; the
 * memory, LevelDB and IndexedDB adapters (src/storage/) implement it and pass test/suites/storage.ts.
 */

/** One write of a batch: set `key` to `value`, or remove `key`. */
export type BatchOp =
  | { type: 'put'; key: Uint8Array; value: Uint8Array }
  | { type: 'del'; key: Uint8Array }

/** Ordered byte keys, byte values, atomic batches. A resolved `batch` is durable. */
export interface Storage {
  /** The value stored under `key`, or undefined when there is none. */
  get(key: Uint8Array): Promise<Uint8Array | undefined>
  /** Applies `ops` in order, all or none; resolved, they are durable. */
  batch(ops: BatchOp[]): Promise<void>
  /** Keys in ascending byte order within [gte, lt). */
  iterate(range: { gte?: Uint8Array; lt?: Uint8Array }): AsyncIterable<[Uint8Array, Uint8Array]>
  /** Releases the storage; later calls reject with `NOT_RUNNING`. Closing twice is harmless. */
  close(): Promise<void>
}
