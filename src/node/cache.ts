/**
 * A bounded cache of decoded records, in front of the store's storage reads. A zipfian workload
 * reads the same few keys over and over; each read was a LevelDB get (a hop to libuv's thread pool
 * and back) and a decode, on every replica of the key. The cache keeps the decoded version set of
 * recently read or written keys, least recently used out first, within a count and a byte budget.
 *
 * Correctness rests on one rule: the store tells the cache of every record it writes or deletes
 * (`wrote`, `dropped`), under the key's lock, after the storage batch resolved. A read that missed
 * and went to storage may race such a write (reads take no lock): it offers its result with the
 * write stamp it saw before reading (`stamp`), and the cache refuses the offer if a write of that
 * key (or of another key in the same stamp slot) landed meanwhile. So the cache never holds a set
 * older than what storage holds.
 *
 * Cached sets are shared, not copied: version sets are immutable values (clock.ts returns new
 * objects), and callers that hand values to users copy them at that edge.
 *
 * It also remembers the canonical encoding of sets it has seen encoded or decoded (a WeakMap keyed
 * by the set object), so a record read for a get reply, or a set just written and now sent to the
 * other replicas, is not encoded a second time.
 */
import { encodeSet } from '../core/record.js'
import type { VersionSet } from '../core/clock.js'

/** Encodings of set objects seen encoded or decoded; a set is immutable, so its encoding is too. */
const encodings = new WeakMap<VersionSet, Uint8Array>()

/** Notes that `bytes` is the canonical encoding of `set` (its encodeSet output, or what it was decoded from). */
export function rememberEncoding(set: VersionSet, bytes: Uint8Array): void {
  encodings.set(set, bytes)
}

/** `encodeSet(set)`, reusing the encoding remembered for this very object. Callers must not mutate the result. */
export function encodeOnce(set: VersionSet): Uint8Array {
  let b = encodings.get(set)
  if (b === undefined) encodings.set(set, (b = encodeSet(set)))
  return b
}

export interface RecordCacheOptions {
  /** Most keys held. Default 4096. */
  maxEntries?: number
  /** Most bytes of encoded records held. Default 16 MiB. */
  maxBytes?: number
}

interface Entry {
  set: VersionSet
  bytes: number
}

/** Number of write-stamp slots (a power of two); a write bumps its key's slot. */
const SLOTS = 1024

export class RecordCache {
  private readonly entries = new Map<string, Entry>()
  private readonly stamps = new Uint32Array(SLOTS)
  private bytes = 0
  private readonly maxEntries: number
  private readonly maxBytes: number
  hits = 0
  misses = 0

  constructor(opts: RecordCacheOptions = {}) {
    this.maxEntries = Math.max(0, opts.maxEntries ?? 4096)
    this.maxBytes = Math.max(0, opts.maxBytes ?? 16 * 1024 * 1024)
  }

  get size(): number {
    return this.entries.size
  }

  /** The cached set of `key` (hex), or undefined on a miss (absence is not cached). */
  get(key: string): VersionSet | undefined {
    const e = this.entries.get(key)
    if (e === undefined) {
      this.misses++
      return undefined
    }
    this.hits++
    // Most recently used last: delete and set again moves it to the end of the Map's order.
    this.entries.delete(key)
    this.entries.set(key, e)
    return e.set
  }

  /** The write stamp of `key`'s slot, to pass to `offer` after a storage read. */
  stamp(key: string): number {
    return this.stamps[slotOf(key)]!
  }

  /** A set read from storage; kept only if no write of the key's slot happened since `stamp`. */
  offer(key: string, set: VersionSet, bytes: number, stamp: number): void {
    if (this.stamps[slotOf(key)] !== stamp || this.entries.has(key)) return
    this.put(key, set, bytes)
  }

  /** The store wrote `set` (encoded in `bytes` bytes) as the record of `key`. */
  wrote(key: string, set: VersionSet, bytes: number): void {
    this.bump(key)
    this.put(key, set, bytes)
  }

  /** The store deleted the record of `key`. */
  dropped(key: string): void {
    this.bump(key)
    this.remove(key)
  }

  clear(): void {
    this.entries.clear()
    this.bytes = 0
  }

  private bump(key: string): void {
    const s = slotOf(key)
    // Stryker disable next-line ArithmeticOperator: stamps are only compared for equality; - 1 moves them as surely
    this.stamps[s] = (this.stamps[s]! + 1) >>> 0
  }

  private put(key: string, set: VersionSet, bytes: number): void {
    this.remove(key)
    if (bytes > this.maxBytes) return
    this.entries.set(key, { set, bytes })
    this.bytes += bytes
    for (const [k, e] of this.entries) {
      if (this.entries.size <= this.maxEntries && this.bytes <= this.maxBytes) break
      this.entries.delete(k)
      this.bytes -= e.bytes
    }
  }

  private remove(key: string): void {
    const e = this.entries.get(key)
    if (e === undefined) return
    this.entries.delete(key)
    this.bytes -= e.bytes
  }
}

/** FNV-1a of the key's characters, folded into the slot count. */
function slotOf(key: string): number {
  let h = 0x811c9dc5
  // Stryker disable next-line EqualityOperator: <= adds a round times an odd prime, a bijection of the low 10 bits: the same keys share a slot
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193)
  return (h >>> 0) & (SLOTS - 1)
}
