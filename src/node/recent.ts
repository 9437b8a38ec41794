/**
 * Values this node read recently, kept in memory so a peer that loses every other peer can still
 * answer reads of keys it does not hold (offline-first: a tab shows what it showed a minute ago,
 * flagged stale). Bounded by entries and bytes, least recently used out first.
 */
import type { VersionSet } from '../core/clock.js'
import { toHex } from '../core/hash.js'

export class RecentReads {
  private readonly sets = new Map<string, { set: VersionSet; bytes: number }>()
  private bytes = 0

  constructor(
    private readonly maxEntries = 1024,
    private readonly maxBytes = 8 * 1024 * 1024,
  ) {}

  /** Remembers the set read for `key` (`size`: its encoded bytes; a set over an eighth of the budget is not kept). */
  remember(key: Uint8Array, set: VersionSet, size: number): void {
    const k = toHex(key)
    this.forget(k)
    if (size > this.maxBytes / 8) return
    this.sets.set(k, { set, bytes: size })
    this.bytes += size
    for (const [old, e] of this.sets) {
      if (this.sets.size <= this.maxEntries && this.bytes <= this.maxBytes) break
      this.sets.delete(old)
      this.bytes -= e.bytes
    }
  }

  get(key: Uint8Array): VersionSet | undefined {
    const k = toHex(key)
    const e = this.sets.get(k)
    if (!e) return undefined
    // Re-insert: Map order is the recency order.
    this.sets.delete(k)
    this.sets.set(k, e)
    return e.set
  }

  private forget(k: string): void {
    const e = this.sets.get(k)
    if (!e) return
    this.sets.delete(k)
    this.bytes -= e.bytes
  }
}
