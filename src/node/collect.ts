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
 * - Deletion. A grave `graveMs` old (default 9 horizons), once every fellow replica is shown to hold nothing this
 *   node lacks there since the burial, or said it keeps the grave too (so none compares the
 *   tombstone any more: it would be sent back), is deleted,
 *   record and marker; only the counter of this node's own writes stays (a trace, store.ts), so its
 *   next write on the key gets a new dot.
 *
 * A replica that was out of reach keeps the others from burying (they lack its proof) for as long
 * as it is a member. One that was expired meanwhile (removeAfterMs) is not waited for; what it still
 * holds of those keys merges into the graves when it comes back and stays deleted, as does a hint
 * held by a node that was down. That is why graves stay long (graveMs, 90 days by default): one
 * coming back after the graves went brings its values back (README, "Deletes and tombstone
 * collection").
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

  constructor(private readonly ctx: NodeContext) {}

  /** `peer` held everything this node held in `partitions` when its landing count was `seq`. */
  agreed(peer: NodeId, partitions: Iterable<number>, seq: number): void {
    note(this.proofs, peer, partitions, seq)
  }

  /** This node held everything `peer` held in `partitions` when its landing count was `seq`. */
  holdsAllOf(peer: NodeId, partitions: Iterable<number>, seq: number): void {
    note(this.contains, peer, partitions, seq)
  }

  /** `peer` keeps the tombstones of `keys` as graves (it holds the very versions this node compared). */
  noticed(peer: NodeId, keys: readonly Uint8Array[]): void {
    for (const key of keys) {
      const hex = toHex(key)
      if (!this.ctx.store.tombstones.has(hex) && !this.ctx.store.graves.has(hex)) continue
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
        await store.bury(t)
      }
      for (const g of [...store.graves.values()]) {
        if (!this.ctx.running()) return
        if (now - g.since < config.graveMs) continue
        // Stryker disable next-line ArrayDeclaration: owners[p] exists for every partition
        const fellows = isPrimary(ring, g.p, this.ctx.id) ? (ring.owners[g.p] ?? []).filter((o) => o !== this.ctx.id) : []
        // A fellow shown to hold nothing this node lacks since the burial, or one that keeps the grave too, will not send the tombstone back.
        const told = this.told.get(toHex(g.key))
        if (fellows.every((o) => (this.contains.get(o)?.get(g.p) ?? -1) >= g.seq || told?.has(o))) await store.purge(g, this.ctx.dotId())
      }
      // Notices about keys held neither as tombstones nor as graves here are moot.
      for (const hex of this.told.keys()) if (!store.tombstones.has(hex) && !store.graves.has(hex)) this.told.delete(hex)
    } finally {
      this.sweeping = false
    }
  }
}

function note(proofs: Map<NodeId, Map<number, number>>, peer: NodeId, partitions: Iterable<number>, seq: number): void {
  let m = proofs.get(peer)
  if (!m) proofs.set(peer, (m = new Map()))
  // Stryker disable next-line EqualityOperator: setting an equal count again changes nothing
  for (const p of partitions) if ((m.get(p) ?? -1) < seq) m.set(p, seq)
}
