/**
 * Merkle anti-entropy (Dynamo paper section 4.7). Periodically a node picks one peer it shares
 * partitions with and sends the roots of those partitions' trees; for partitions whose roots differ
 * the two sides trade child hashes level by level, descending only into differing branches, then
 * trade leaf listings and finally only the records that differ:
 *
 *   A                         B
 *   ae-roots {p: root} ---->  roots differ for p
 *                      <----  ae-step {p: B's probes of the root's children}
 *   ae-step {p: A's probes of the differing children} ---->  ...
 *                      <----  ae-step {p: B's leaf listings of differing leaves}
 *   compare leaves: store (A's newer records) ---->, ae-pull (keys A lacks) ---->
 *                      <----  store (B's records)
 *
 * Cost tracks the number of differences and the tree depth, not the number of keys.
 */
import { answerProbes, compareLeaves, startDiff } from '../core/merkle.js'
import { decodeListings, decodeProbes, encodeListings, encodeProbes } from '../core/merkle-codec.js'
import { encodeSet } from '../core/record.js'
import { isPrimary, partitionsOf } from '../core/ring.js'
import { equalBytes } from '../core/hash.js'
import type { NodeId } from '../types.js'
import type { StoreItem } from '../wire/messages.js'
import type { NodeContext } from './context.js'
import { itemBytes } from './batch.js'
import { isDynameshError } from '../errors.js'

/** Records and bytes per pushed batch (a bigger record goes alone). */
const PUSH_BATCH = 64
const PUSH_BYTES = 256 * 1024

export class AntiEntropy {
  private nextSid = 1
  /** Virtual or wall time until which a session that found differences counts as in progress. */
  private busyUntil = 0

  constructor(private readonly ctx: NodeContext) {}

  get busy(): boolean {
    return this.ctx.env.now() < this.busyUntil
  }

  private markBusy(): void {
    this.busyUntil = this.ctx.env.now() + 2 * this.ctx.config.antiEntropyMs
  }

  /** Starts one exchange with a random reachable peer that shares partitions with this node. */
  tick(): void {
    const ring = this.ctx.ring()
    const mine = partitionsOf(ring, this.ctx.id)
    if (mine.length === 0) return
    const peers = ring.members.map((m) => m.id).filter((id) => id !== this.ctx.id && this.ctx.isUp(id))
    if (peers.length === 0) return
    const peer = peers[Math.floor(this.ctx.env.random() * peers.length)]!
    const shared = mine.filter((p) => isPrimary(ring, p, peer))
    if (shared.length === 0) return
    const parts = shared.map((p) => [p, this.ctx.store.tree(p).root()] as [number, Uint8Array])
    this.ctx.send(peer, { t: 'ae-roots', sid: this.nextSid++, parts })
  }

  onRoots(from: NodeId, sid: number, parts: Array<[number, Uint8Array]>): void {
    const ring = this.ctx.ring()
    const out: Array<[number, Uint8Array, Uint8Array]> = []
    for (const [p, root] of parts) {
      if (p >= ring.q || !isPrimary(ring, p, this.ctx.id)) continue
      const tree = this.ctx.store.tree(p)
      if (equalBytes(tree.root(), root)) continue
      out.push([p, encodeProbes(startDiff(tree)), encodeListings([])])
    }
    if (out.length === 0) return
    this.markBusy()
    this.ctx.send(from, { t: 'ae-step', sid, parts: out })
  }

  onStep(from: NodeId, sid: number, parts: Array<[number, Uint8Array, Uint8Array]>): void {
    const ring = this.ctx.ring()
    const out: Array<[number, Uint8Array, Uint8Array]> = []
    const pushKeys: Array<[number, Uint8Array]> = []
    const pullKeys: Uint8Array[] = []
    for (const [p, probeBytes, leafBytes] of parts) {
      if (p >= ring.q) continue
      const tree = this.ctx.store.tree(p)
      const listings = decodeListings(leafBytes)
      if (listings.length) {
        const { theyNeed, iNeed } = compareLeaves(tree, listings)
        for (const k of theyNeed) pushKeys.push([p, k])
        pullKeys.push(...iNeed)
      }
      const probes = decodeProbes(probeBytes)
      if (probes.length) {
        const ans = answerProbes(tree, probes, { listUnderEmpty: true })
        if (ans.probes.length || ans.leaves.length) out.push([p, encodeProbes(ans.probes), encodeListings(ans.leaves)])
      }
    }
    if (out.length || pushKeys.length || pullKeys.length) this.markBusy()
    if (out.length) this.ctx.send(from, { t: 'ae-step', sid, parts: out })
    for (let i = 0; i < pullKeys.length; i += 1024) {
      const keys = pullKeys.slice(i, i + 1024)
      this.ctx.send(from, { t: 'ae-pull', sid, keys })
    }
    if (pushKeys.length) this.pushLater(from, pushKeys.map(([, k]) => k))
  }

  onPull(from: NodeId, keys: Uint8Array[]): void {
    this.markBusy()
    this.pushLater(from, keys)
  }

  /** Pushes in the background; a record that cannot be read is skipped until the next round. */
  private pushLater(to: NodeId, keys: Uint8Array[]): void {
    this.push(to, keys).catch(() => {})
  }

  /**
   * Sends this node's records of `keys` to `to` (unacknowledged: the next round checks again), in
   * batches that never hold more than fits (batch.ts). A record too large for any message is
   * counted and reported by the node and skipped; the rest still moves.
   */
  private async push(to: NodeId, keys: Uint8Array[]): Promise<void> {
    let items: StoreItem[] = []
    let bytes = 0
    let recBytes = 0
    const flush = (): void => {
      if (!items.length) return
      const batch = items
      const size = recBytes
      items = []
      bytes = 0
      recBytes = 0
      try {
        this.ctx.send(to, { t: 'store', rid: 0, items: batch, ack: false })
      } catch (e) {
        if (isDynameshError(e, 'MESSAGE_TOO_LARGE')) return
        throw e
      }
      this.ctx.emit({ type: 'repair', kind: 'merkle', peer: to, keys: batch.length, bytes: size })
    }
    for (const key of keys) {
      const set = await this.ctx.store.readRecord(key)
      if (!set || !this.ctx.running()) continue
      const item = { key, rec: encodeSet(set) }
      const size = itemBytes(item)
      // Flush before the batch would outgrow its budget: a big record then travels alone.
      if (items.length > 0 && (items.length >= PUSH_BATCH || bytes + size > PUSH_BYTES)) flush()
      items.push(item)
      bytes += size
      recBytes += item.rec.length + key.length
    }
    flush()
  }
}
