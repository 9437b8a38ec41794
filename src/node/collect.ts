/**
 * Tombstone collection: a deleted key stops costing storage and sync once every replica of its
 * partition is known to hold its tombstone, learned through anti-entropy, never assumed.
 *
 * - Proofs. When a peer's summary equals this node's, or a decoded difference holds nothing of this
 *   node's in a partition, the peer held everything this node held there: `agreed` records, per
 *   peer and partition, the store's landing count at that moment (store.ts `seq`).
 * - Burial. A tombstone at least `tombstoneMs` old whose every fellow replica has a proof newer than
 *   its landing (or said it keeps the same tombstone as a grave: `noticed`) leaves the partition's
 *   tree and becomes a grave. Its record stays, so a stale copy still arriving (a late hint, a slow
 *   transfer) merges into it and stays dead, and anti-entropy no longer compares it.
 * - Telling. A replica that still compares a tombstone the peer holds as a grave is told so
 *   (`ae-grave`) instead of being sent the record again: graves spread, the trees agree again.
 * - Deletion. A grave `tombstoneMs` old, once every fellow replica is shown to hold nothing this
 *   node lacks there (so none compares the tombstone any more: it would be sent back), is deleted,
 *   record and marker; only the counter of this node's own writes stays (a trace, store.ts), so its
 *   next write on the key gets a new dot.
 *
 * - Away past the horizon. A replica out of reach keeps the others from burying (they lack its
 *   proof) for as long as it is a member, but one expired meanwhile is not waited for, and what it
 *   still holds of keys deleted and collected since would come back with it. So every summary
 *   says when its sender last agreed with any peer (`ag`); a node that finds a peer's agreement
 *   more than a horizon newer than its own was away past it: it forgets every record that saw
 *   nothing newer than its own last agreement (its peers held all of that then, and hold what is
 *   still live now: anti-entropy brings it back) and keeps what it wrote since, its offline writes.
 *   A whole cluster stopped together agrees equally late everywhere, and forgets nothing.
 */
import { isPrimary } from '../core/ring.js'
import { toHex } from '../core/hash.js'
import type { NodeId } from '../types.js'
import type { NodeContext } from './context.js'

export class Collector {
  /** Per peer and partition: the landing count this node had when the peer was shown to hold all of it. */
  private readonly proofs = new Map<NodeId, Map<number, number>>()
  /** Per peer and partition: the landing count this node had when it was shown to hold all the peer held. */
  private readonly contains = new Map<NodeId, Map<number, number>>()
  /** Per key hex: peers that said they keep its tombstone as a grave. */
  private readonly told = new Map<string, Set<NodeId>>()
  private sweeping = false
  /** Set while this node forgets what it held before it was away (then nothing of it may leave). */
  forgetting = false
  private savedAgreedAt: number | undefined

  constructor(private readonly ctx: NodeContext) {}

  /** `peer` held everything this node held in `partitions` when its landing count was `seq`. */
  agreed(peer: NodeId, partitions: Iterable<number>, seq: number): void {
    this.note(this.proofs, peer, partitions, seq)
  }

  /** This node held everything `peer` held in `partitions` when its landing count was `seq`. */
  holdsAllOf(peer: NodeId, partitions: Iterable<number>, seq: number): void {
    this.note(this.contains, peer, partitions, seq)
  }

  private note(proofs: Map<NodeId, Map<number, number>>, peer: NodeId, partitions: Iterable<number>, seq: number): void {
    let m = proofs.get(peer)
    if (!m) proofs.set(peer, (m = new Map()))
    let any = false
    for (const p of partitions) {
      any = true
      if ((m.get(p) ?? -1) < seq) m.set(p, seq)
    }
    if (any) this.ctx.store.agreedAt = this.ctx.env.now()
  }

  /** When this node last agreed with a peer, in whole seconds, for its summaries; undefined before the first. */
  get agreedSeconds(): number | undefined {
    const at = this.ctx.store.agreedAt
    return at === undefined ? undefined : Math.max(0, Math.floor(at / 1000))
  }

  /**
   * A peer last agreed at `ag` (seconds): true when that is more than a horizon after this node
   * last did, which then forgets what it held before (see the top of this file) and starts afresh.
   */
  awayPastHorizon(ag: number | undefined): boolean {
    if (this.forgetting) return true
    const mine = this.ctx.store.agreedAt
    if (ag === undefined || mine === undefined || ag * 1000 - mine <= this.ctx.config.tombstoneMs) return false
    this.forgetting = true
    const { store } = this.ctx
    void (async () => {
      try {
        await store.forgetOlder(mine, this.ctx.dotId())
        this.proofs.clear()
        this.contains.clear()
        store.agreedAt = this.ctx.env.now()
        await this.save(true)
      } catch {
        // Storage failed: tried again at the next summary.
      } finally {
        this.forgetting = false
      }
    })()
    return true
  }

  /** Stores the time of the last agreement, at most once a minute (a horizon is far longer). */
  private async save(force = false): Promise<void> {
    const at = this.ctx.store.agreedAt
    if (at === undefined || (!force && this.savedAgreedAt !== undefined && at - this.savedAgreedAt < Math.min(60_000, this.ctx.config.tombstoneMs / 4))) return
    await this.ctx.store.saveAgreed(at)
    this.savedAgreedAt = at
  }

  /** `peer` keeps the tombstones of `keys` as graves (it holds the very versions this node compared). */
  noticed(peer: NodeId, keys: readonly Uint8Array[]): void {
    for (const key of keys) {
      const hex = toHex(key)
      if (!this.ctx.store.tombstones.has(hex)) continue
      let s = this.told.get(hex)
      if (!s) this.told.set(hex, (s = new Set()))
      s.add(peer)
    }
  }

  /** Buries the tombstones every replica is known to hold, and deletes graves past the horizon. */
  async sweep(): Promise<void> {
    if (this.sweeping) return
    this.sweeping = true
    try {
      const { store, config } = this.ctx
      await this.save()
      const now = this.ctx.env.now()
      const horizon = config.tombstoneMs
      const ring = this.ctx.ring()
      for (const t of [...store.tombstones.values()]) {
        if (!this.ctx.running()) return
        if (now - t.at < horizon || !isPrimary(ring, t.p, this.ctx.id)) continue
        const told = this.told.get(toHex(t.key))
        // Stryker disable next-line ArrayDeclaration: owners[p] exists for every partition
        const fellows = (ring.owners[t.p] ?? []).filter((o) => o !== this.ctx.id)
        if (!fellows.every((o) => (this.proofs.get(o)?.get(t.p) ?? -1) >= t.seq || told?.has(o))) continue
        if (await store.bury(t)) this.told.delete(toHex(t.key))
      }
      for (const g of [...store.graves.values()]) {
        if (!this.ctx.running()) return
        if (now - g.since < horizon) continue
        // Stryker disable next-line ArrayDeclaration: owners[p] exists for every partition
        const fellows = isPrimary(ring, g.p, this.ctx.id) ? (ring.owners[g.p] ?? []).filter((o) => o !== this.ctx.id) : []
        if (fellows.every((o) => (this.contains.get(o)?.get(g.p) ?? -1) >= g.seq)) await store.purge(g, this.ctx.dotId())
      }
      // Notices about keys no longer held as tombstones here are moot.
      for (const hex of this.told.keys()) if (!store.tombstones.has(hex)) this.told.delete(hex)
    } finally {
      this.sweeping = false
    }
  }
}
