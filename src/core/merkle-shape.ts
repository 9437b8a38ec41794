/**
 * The hash tree's dimensions and two byte helpers, shared by the tree (merkle.ts) and its wire codec
 * (merkle-codec.ts). A file of its own because merkle.ts re-exports the codec: were the codec to
 * import these values from merkle.ts, the two modules would form an import cycle, and whichever
 * loads second would see them uninitialised at load time.
 */

export const FANOUT = 16
export const DEPTH = 4
/** Bytes of an entry or node hash, and of a version digest. */
export const HASH_BYTES = 16

export const isZero = (h: Uint8Array): boolean => h.every((b) => b === 0)
/** A real copy: `slice` on a Node Buffer (a Uint8Array subclass) returns a view instead. */
export const copy = (b: Uint8Array): Uint8Array => new Uint8Array(b)
