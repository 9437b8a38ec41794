/**
 * Merkle anti-entropy (Dynamo paper section 4.7). Periodically a node picks one peer it shares
 * partitions with and sends one 16-byte summary of all the partitions they share; only when it
 * differs do the sides narrow it down: 64 group hashes, then the roots of the partitions in
 * differing groups, then per differing partition child hashes level by level (a subtree of at most
 * SMALL_SUBTREE entries is listed at once instead: adaptive depth), then only the records that differ:
 *
 *   A                                   B
 *   ae-sum {level 0: 16 B} ----------->  differs
 *                          <-----------  ae-sum {level 1: 64 group hashes of 6 B}
 *   ae-roots {p: root, p in differing groups} ----->  roots differ for p
 *                          <-----------  ae-step {p: probes of the root's children, or a listing}
 *   ... ae-step until listings ...
 *   compare: ae-push (records to merge) ---->, ae-pull (keys A lacks) ---->
 *                          <-----------  store (B's merge where it had more; records pulled)
 *
 * A partition one side holds nothing of is pushed whole at once (a wiped or new replica), without
 * listings. A quiet exchange costs one small message; d differences cost about d listings and
 * records plus the probes above them. Why this design: docs/sync.md.
 */
import { SMALL_SUBTREE, answerProbes, compareLeaves, listNode, startDiff, type MerkleTree } from '../core/merkle.js'
import { decodeListings, decodeProbes, encodeListings, encodeProbes } from '../core/merkle-codec.js'
import { decodeSet, encodeSet } from '../core/record.js'
import { equalSets } from '../core/clock.js'
import { isPrimary, partitionsOf, type Ring } from '../core/ring.js'
import { equalBytes, hash } from '../core/hash.js'
import { isZero } from '../core/merkle-shape.js'
import type { NodeId } from '../types.js'
import type { StoreItem } from '../wire/messages.js'
import type { NodeContext } from './context.js'
import { itemBytes } from './batch.js'
import { isDynameshError } from '../errors.js'

/** Records and bytes per pushed batch (a bigger record goes alone). */
const PUSH_BATCH = 64
/** How far behind the view anti-entropy's ring may lag while memberships change (see ring()). */
const RING_MAX_AGE_MS = 10_000
const PUSH_BYTES = 256 * 1024

/** Group hashes of the level-1 summary, and bytes of each. */
const GROUPS = 64
const GROUP_HASH = 6

const toId = (k: Uint8Array): string => String.fromCharCode(...k)
const keysOf = (tree: MerkleTree): Uint8Array[] => [...tree.entries()].map((e) => e.key.slice())

export class AntiEntropy {
  private nextSid = 1
  /** Whole-partition pushes in progress, by "peer/partition". */
  private readonly pushing = new Set<string>()
  /** Virtual or wall time until which a session that found differences counts as in progress. */
  private busyUntil = 0

  constructor(private readonly ctx: NodeContext) {}

  get busy(): boolean {
    return this.ctx.env.now() < this.busyUntil
  }

  private markBusy(): void {
    this.busyUntil = this.ctx.env.now() + 2 * this.ctx.config.antiEntropyMs
  }

  /**
   * The ring for anti-entropy: during a burst of membership changes it may lag the view by up to
   * RING_MAX_AGE_MS (repair compares the partitions it believed shared a moment ago; the next round
   * compares the current ones), so a thousand joins do not cost a ring rebuild per round.
   */
  private ring(): Ring {
    return this.ctx.ring(RING_MAX_AGE_MS)
  }

  /** Partitions this node replicates together with `peer`, in this node's view of the ring. */
  private shared(peer: NodeId): number[] {
    const ring = this.ring()
    return partitionsOf(ring, this.ctx.id).filter((p) => isPrimary(ring, p, peer))
  }

  /**
   * 64 group hashes of 6 bytes over the shared partitions (group = p mod 64): each the XOR of
   * sha256(u32 p | root)[0..6) of its partitions, so it depends on the set, not on the order.
   */
  private groups(shared: number[]): Uint8Array {
    const out = new Uint8Array(GROUPS * GROUP_HASH)
    const buf = new Uint8Array(4 + 16)
    for (const p of shared) {
      new DataView(buf.buffer).setUint32(0, p)
      buf.set(this.ctx.store.tree(p).root(), 4)
      const h = hash(buf)
      const at = (p % GROUPS) * GROUP_HASH
      for (let i = 0; i < GROUP_HASH; i++) out[at + i]! ^= h[i]!
    }
    return out
  }

  /** Starts one exchange with a random reachable peer that shares partitions with this node. */
  tick(): void {
    // An exchange in progress (started by either side) already covers what differs: a second one
    // now would find the same differences and send the same records again.
    if (this.busy) return
    const ring = this.ring()
    if (partitionsOf(ring, this.ctx.id).length === 0) return
    const peers = ring.members.map((m) => m.id).filter((id) => id !== this.ctx.id && this.ctx.isUp(id))
    if (peers.length === 0) return
    const peer = peers[Math.floor(this.ctx.env.random() * peers.length)]!
    const shared = this.shared(peer)
    if (shared.length === 0) return
    this.ctx.send(peer, { t: 'ae-sum', sid: this.nextSid++, level: 0, h: hash(this.groups(shared)).slice(0, 16) })
  }

  /** A summary: equal ends the exchange; a differing top hash is answered with the group hashes, differing groups with their roots. */
  onSum(from: NodeId, sid: number, level: number, h: Uint8Array): void {
    const shared = this.shared(from)
    if (shared.length === 0) return
    const groups = this.groups(shared)
    if (level === 0) {
      if (equalBytes(hash(groups).subarray(0, 16), h)) return
      this.markBusy()
      this.ctx.send(from, { t: 'ae-sum', sid, level: 1, h: groups })
      return
    }
    const differ = (p: number): boolean => {
      const at = (p % GROUPS) * GROUP_HASH
      return !equalBytes(groups.subarray(at, at + GROUP_HASH), h.subarray(at, at + GROUP_HASH))
    }
    const parts = shared.filter(differ).map((p) => [p, this.ctx.store.tree(p).root()] as [number, Uint8Array])
    if (parts.length === 0) return
    this.markBusy()
    this.ctx.send(from, { t: 'ae-roots', sid, parts })
  }

  onRoots(from: NodeId, sid: number, parts: Array<[number, Uint8Array]>): void {
    const ring = this.ring()
    const out: Array<[number, Uint8Array, Uint8Array]> = []
    const pushAll: number[] = []
    for (const [p, root] of parts) {
      if (p >= ring.q || !isPrimary(ring, p, this.ctx.id)) continue
      const tree = this.ctx.store.tree(p)
      if (equalBytes(tree.root(), root)) continue
      // The peer holds nothing of p: everything goes, no listings needed.
      if (isZero(root)) pushAll.push(p)
      // A small partition is listed whole at once; otherwise the walk starts at the root.
      else if (tree.size > 0 && tree.size <= SMALL_SUBTREE) out.push([p, encodeProbes([]), encodeListings([listNode(tree, 0, 0)])])
      else out.push([p, encodeProbes(startDiff(tree)), encodeListings([])])
    }
    if (out.length === 0 && pushAll.length === 0) return
    this.markBusy()
    if (out.length) this.ctx.send(from, { t: 'ae-step', sid, parts: out })
    for (const p of pushAll) this.pushPartition(from, p)
  }

  /** Pushes all of partition p to a peer that holds none of it; one such push per peer and partition at a time. */
  private pushPartition(to: NodeId, p: number): void {
    const id = `${to}/${p}`
    if (this.pushing.has(id)) return
    this.pushing.add(id)
    this.push(to, keysOf(this.ctx.store.tree(p)), 'ae-push')
      .catch(() => {})
      .finally(() => this.pushing.delete(id))
  }

  onStep(from: NodeId, sid: number, parts: Array<[number, Uint8Array, Uint8Array]>): void {
    const ring = this.ring()
    const out: Array<[number, Uint8Array, Uint8Array]> = []
    const pushKeys: Uint8Array[] = []
    const pullKeys: Uint8Array[] = []
    for (const [p, probeBytes, leafBytes] of parts) {
      if (p >= ring.q) continue
      const tree = this.ctx.store.tree(p)
      const listings = decodeListings(leafBytes)
      if (listings.length) {
        const { theyNeed, iNeed } = compareLeaves(tree, listings)
        // A key both hold with different digests is pushed only: the peer merges and sends back its merge if it had more.
        const pushed = new Set(theyNeed.map(toId))
        pushKeys.push(...theyNeed)
        for (const k of iNeed) if (!pushed.has(toId(k))) pullKeys.push(k)
      }
      const probes = decodeProbes(probeBytes)
      if (probes.length === 1 && probes[0]!.node.level === 0 && probes[0]!.childHashes.every(isZero)) {
        // The peer holds nothing of p (its root probe is empty): push the whole partition.
        this.pushPartition(from, p)
      } else if (probes.length) {
        const ans = answerProbes(tree, probes, { listUnderEmpty: true, listSmall: SMALL_SUBTREE })
        if (ans.probes.length || ans.leaves.length) out.push([p, encodeProbes(ans.probes), encodeListings(ans.leaves)])
      }
    }
    if (out.length || pushKeys.length || pullKeys.length) this.markBusy()
    if (out.length) this.ctx.send(from, { t: 'ae-step', sid, parts: out })
    for (let i = 0; i < pullKeys.length; i += 1024) {
      const keys = pullKeys.slice(i, i + 1024)
      this.ctx.send(from, { t: 'ae-pull', sid, keys })
    }
    if (pushKeys.length) this.pushLater(from, pushKeys, 'ae-push')
  }

  onPull(from: NodeId, keys: Uint8Array[]): void {
    this.markBusy()
    this.pushLater(from, keys, 'store')
  }

  /** Merges pushed records; where this node had versions the pusher lacks, sends its merge back. */
  async onPush(from: NodeId, items: StoreItem[]): Promise<void> {
    this.markBusy()
    const back: Uint8Array[] = []
    for (const item of items) {
      const incoming = decodeSet(item.rec)
      const merged = await this.ctx.store.apply(item.key, incoming)
      if (!equalSets(merged, incoming)) back.push(item.key)
    }
    if (back.length && this.ctx.running()) this.pushLater(from, back, 'store')
  }

  /** Pushes in the background; a record that cannot be read is skipped until the next round. */
  private pushLater(to: NodeId, keys: Uint8Array[], t: 'store' | 'ae-push'): void {
    this.push(to, keys, t).catch(() => {})
  }

  /**
   * Sends this node's records of `keys` to `to` (unacknowledged: the next round checks again), in
   * batches that never hold more than fits (batch.ts). A record too large for any message is
   * counted and reported by the node and skipped; the rest still moves.
   */
  private async push(to: NodeId, keys: Uint8Array[], t: 'store' | 'ae-push'): Promise<void> {
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
        this.ctx.send(to, t === 'store' ? { t, rid: 0, items: batch, ack: false } : { t, sid: 0, items: batch })
      } catch (e) {
        if (isDynameshError(e, 'MESSAGE_TOO_LARGE')) return
        throw e
      }
      this.ctx.emit({ type: 'repair', kind: 'merkle', peer: to, keys: batch.length, bytes: size })
    }
    for (const key of keys) {
      this.markBusy()
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
