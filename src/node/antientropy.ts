/**
 * Anti-entropy (Dynamo paper section 4.7). Periodically, and at once when a peer is reachable again,
 * a node sends a peer it shares partitions with one 16-byte summary of all they share. Equal ends
 * it. Otherwise the difference is decoded from rateless reconciliation cells (core/riblt.ts), which
 * cost about 1.4 x 13 bytes per differing (key, version) whatever the number of keys:
 *
 *   A                                              B
 *   ae-sum {16 B; after a reconnect + A's sums} -->  differs
 *                                  <-------------  ae-sym {cells 0..k: as many as the sums say, or
 *                                                  8 and B's sums to estimate from}
 *   (peel B's cells against A's own; short of cells: ae-more {from, to} --> ae-sym)
 *   ae-diff {keys A holds in other versions, with their vectors' counters; items A lacks} -->
 *                                  <-------------  ae-push (B's records A has not seen all of)
 *                                  <-------------  ae-pull (by place in the ae-diff: A has more)
 *   store (records pulled; A's merge where a pushed record had less) -->
 *
 * Each record crosses once where one side is newer, twice where both wrote. A difference too large
 * for cells to pay (more cells than records, or one side holding nothing) is walked with the
 * partitions' hash trees instead (ae-sum level 1 → ae-roots → ae-step listings → ae-push/ae-pull),
 * and a partition one side holds nothing of is pushed whole. Why this design: docs/sync.md.
 */
import { SMALL_SUBTREE, answerProbes, compareLeaves, listNode, startDiff, type MerkleEntry, type MerkleTree } from '../core/merkle.js'
import { decodeListings, decodeProbes, encodeListings, encodeProbes } from '../core/merkle-codec.js'
import { decodeSet, decodeVectors, encodeVectors } from '../core/record.js'
import { encodeOnce, rememberEncoding } from './cache.js'
import { descends, equalSets, type VersionSet, type VersionVector } from '../core/clock.js'
import { CELL_BYTES, Difference, WANT_BYTES, decodeTow, itemLo, itemTag, encodeCells, encodeTow, estimateDifference, partitionOfItem, unionCells, unionTow, type SketchSource } from '../core/riblt.js'
import { MAX_CELLS_PER_MESSAGE, MAX_LIST_ITEMS, MAX_SESSION_CELLS } from '../limits.js'
import { decodeVarints, encodeVarints } from '../core/bytes.js'
import { isPrimary, partitionsOf, type Ring } from '../core/ring.js'
import { equalBytes, hash } from '../core/hash.js'
import { isZero } from '../core/merkle-shape.js'
import type { NodeId } from '../types.js'
import type { StoreItem } from '../wire/messages.js'
import type { NodeContext } from './context.js'
import { itemBytes } from './batch.js'
import { isDynameshError } from '../errors.js'
import { Collector } from './collect.js'

/** Records and bytes per pushed batch (a bigger record goes alone). */
const PUSH_BATCH = 64
/** How far behind the view anti-entropy's ring may lag while memberships change (see ring()). */
const RING_MAX_AGE_MS = 10_000
const PUSH_BYTES = 256 * 1024

/** Records read at once when pushing or comparing. */
const READ_AHEAD = 256
/** Cells in the answer to a differing summary: a difference of a few records decodes from them alone. */
const FIRST_CELLS = 8
/** Reconciliations this node runs at once (as the side that decodes); the oldest gives way. */
const MAX_SESSIONS = 8

/** One reconciliation this node decodes: the peer's cells so far, against this node's own. */
interface Session {
  peer: NodeId
  shared: readonly number[]
  diff: Difference
  /** Cells asked for so far. */
  asked: number
  /** Records this node shares with the peer, and the peer's count. */
  mine: number
  theirs: number
  /** The store's landing count when the session began: what a proof from it covers. */
  seq: number
}

/** A summary sent this recently and not answered yet is still crossing the network. */
const CROSSING_MS = 1000
/**
 * Cells to ask for when about `d` items differ: ~1.4 per item decode a large difference, a small one
 * needs relatively more, and the estimate is off by ~18% (riblt.ts): a margin of 3 sqrt(d).
 */
const cellsFor = (d: number): number => Math.ceil(1.4 * d + 3 * Math.sqrt(d)) + 4
const count = (sources: Array<{ size: number }>): number => sources.reduce((n, s) => n + s.size, 0)
/** Sums and places were checked by the wire decoder; failing here is a bug. */
const checked = (why: string): never => {
  throw new TypeError(`checked field: ${why}`)
}

/** Group hashes of the level-1 summary, and bytes of each. */
const GROUPS = 64
const GROUP_HASH = 6

const toId = (k: Uint8Array): string => String.fromCharCode(...k)

/** What a node replicates in one ring (AntiEntropy.sharing). */
interface Sharing {
  ring: Ring
  mine: readonly number[]
  fellows: readonly NodeId[]
  byPeer: Map<NodeId, readonly number[]>
}

export class AntiEntropy {
  private nextSid = 1
  /** Whole-partition pushes in progress, by "peer/partition". */
  private readonly pushing = new Set<string>()
  /** Virtual or wall time until which a session that found differences counts as in progress. */
  private busyUntil = 0
  /** When this node last sent each peer a summary, and whether with sums: two crossing start one exchange, not two. */
  private readonly summarySent = new Map<NodeId, { at: number; sums: boolean }>()
  /** Each partition's share of the group hashes, with the tree and change count it was computed from. */
  private readonly groupHashes = new Map<number, { tree: MerkleTree; changes: number; h: Uint8Array }>()
  /** When this node last compared with each peer because it was reachable again. */
  private readonly reconnected = new Map<NodeId, number>()
  /** Keys this node listed in its last ae-diffs, by "peer/sid", for pulls by place. */
  private readonly listed = new Map<string, Uint8Array[]>()
  /** Reconciliations in progress, by "peer/sid". */
  private readonly sessions = new Map<string, Session>()

  private readonly createdAt: number
  /** Tombstone collection, fed with the proofs of agreement these exchanges produce. */
  readonly collector: Collector

  constructor(private readonly ctx: NodeContext) {
    this.createdAt = ctx.env.now()
    this.collector = new Collector(ctx)
  }

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

  /**
   * What this node replicates in its view of the ring, kept while the ring stands (rings are
   * immutable values; every message of an exchange asks): its partitions, its fellows (the other
   * replicas of any of them, in the ring's member order) and, filled as asked, what it shares with
   * each peer. A scan of the ring per ring, not per round.
   */
  private sharing(): Sharing {
    const ring = this.ring()
    if (this.sharedWith?.ring !== ring) {
      const mine = partitionsOf(ring, this.ctx.id)
      const others = new Set<NodeId>()
      for (const p of mine) for (const o of ring.owners[p]!) if (o !== this.ctx.id) others.add(o)
      const fellows = others.size === 0 ? [] : ring.members.map((m) => m.id).filter((id) => others.has(id))
      this.sharedWith = { ring, mine, fellows, byPeer: new Map() }
    }
    return this.sharedWith
  }
  private sharedWith: Sharing | undefined

  /** Partitions this node replicates together with `peer`, in this node's view of the ring. */
  private shared(peer: NodeId): readonly number[] {
    const { ring, mine, byPeer } = this.sharing()
    let out = byPeer.get(peer)
    if (!out) byPeer.set(peer, (out = mine.filter((p) => isPrimary(ring, p, peer))))
    return out
  }

  /**
   * 64 group hashes of 6 bytes over the shared partitions (group = p mod 64): each the XOR of
   * sha256(u32 p | root)[0..6) of its partitions, so it depends on the set, not on the order.
   */
  private groups(shared: readonly number[]): Uint8Array {
    const out = new Uint8Array(GROUPS * GROUP_HASH)
    for (const p of shared) {
      const h = this.groupPart(p)
      const at = (p % GROUPS) * GROUP_HASH
      for (let i = 0; i < GROUP_HASH; i++) out[at + i]! ^= h[i]!
    }
    return out
  }

  /** sha256(u32 p | root of p)[0..6), hashed again only when the tree changed since last asked. */
  private groupPart(p: number): Uint8Array {
    const tree = this.ctx.store.tree(p)
    const cached = this.groupHashes.get(p)
    if (cached && cached.tree === tree && cached.changes === tree.changes) return cached.h
    const buf = new Uint8Array(4 + 16)
    new DataView(buf.buffer).setUint32(0, p)
    buf.set(tree.root(), 4)
    const h = hash(buf).subarray(0, GROUP_HASH)
    this.groupHashes.set(p, { tree, changes: tree.changes, h })
    return h
  }

  /**
   * A node that holds no records starts no exchange: it has nothing to offer, and its fellows, which
   * hold what it lacks, start theirs with it (a round each, or at once when it becomes reachable).
   * Nor does it look at its ring for that, which while a large cluster forms means a rebuild per
   * round on every node that holds nothing yet.
   */
  private holdsNothing(): boolean {
    return this.ctx.store.heldPartitions().length === 0
  }

  /** Starts one exchange with a random reachable peer that shares partitions with this node. */
  tick(): void {
    // An exchange in progress (started by either side) already covers what differs: a second one
    // now would find the same differences and send the same records again.
    if (this.busy || this.holdsNothing()) return
    // A fellow replica: any other member shares nothing to compare (in a large cluster, almost all).
    const peers = this.sharing().fellows.filter((id) => this.ctx.isUp(id))
    if (peers.length === 0) return
    this.start(peers[Math.floor(this.ctx.env.random() * peers.length)]!)
  }

  /** A peer is reachable again (back from a partition, or online again): compare at once rather than at the next round. */
  onReachable(peer: NodeId): void {
    if (this.busy || !this.ctx.running() || this.holdsNothing()) return
    // At most one such comparison per period and peer, none in a node's first period (a period too
    // long to come turns anti-entropy off, and this with it).
    const now = this.ctx.env.now()
    if (now - (this.reconnected.get(peer) ?? this.createdAt) < this.ctx.config.antiEntropyMs) return
    // Both sides notice at about the same time: the one with the smaller id starts (with its sums);
    // the other's next round is the fallback should it be the only one that noticed.
    if (this.ctx.id > peer) return
    this.reconnected.set(peer, now)
    this.start(peer, true)
  }

  /**
   * Sends `peer` the summary of what they share. `expectDiffer` (the peer was away): with it go this
   * node's tug-of-war sums and record count, so a differing peer can answer with all the cells the
   * difference needs at once, a round trip sooner; a routine round sends the 16 bytes alone.
   */
  private start(peer: NodeId, expectDiffer = false): void {
    const shared = this.shared(peer)
    if (shared.length === 0) return
    this.summarySent.set(peer, { at: this.ctx.env.now(), sums: expectDiffer })
    const h = hash(this.groups(shared)).slice(0, 16)
    if (!expectDiffer) return this.ctx.send(peer, { t: 'ae-sum', sid: this.nextSid++, level: 0, h })
    const sources = this.sources(shared)
    this.ctx.send(peer, { t: 'ae-sum', sid: this.nextSid++, level: 0, h, tow: encodeTow(unionTow(sources)), n: count(sources) })
  }

  /** A summary: equal ends the exchange; a differing top hash is answered with the group hashes, differing groups with their roots. */
  onSum(from: NodeId, sid: number, level: number, h: Uint8Array, tow?: Uint8Array, theirs?: number): void {
    const shared = this.shared(from)
    if (shared.length === 0) return
    const groups = this.groups(shared)
    if (level === 0) {
      if (equalBytes(hash(groups).subarray(0, 16), h)) {
        this.collector.agreed(from, shared, this.ctx.store.seq)
        return this.collector.holdsAllOf(from, shared, this.ctx.store.seq)
      }
      // Both sides sent a summary at about the same time (this one's still unanswered): one exchange
      // is enough. The summary with sums is answered; between equals, the one of the larger id.
      const sent = this.summarySent.get(from)
      if (sent !== undefined && this.ctx.env.now() - sent.at < CROSSING_MS) {
        const theirsWins = tow !== undefined && !sent.sums ? true : tow === undefined && sent.sums ? false : this.ctx.id < from
        if (!theirsWins) return
      }
      this.markBusy()
      // The difference is decoded by the peer from cells of both sides (riblt.ts). Given its sums:
      // as many cells as the estimate says the difference needs (none when one side holds nothing:
      // the peer walks the trees). Otherwise a few, with this node's sums for the peer to estimate.
      const sources = this.sources(shared)
      const n = count(sources)
      if (tow !== undefined && theirs !== undefined) {
        const cells = n === 0 || theirs === 0 ? 0 : Math.min(MAX_CELLS_PER_MESSAGE, cellsFor(estimateDifference(unionTow(sources), decodeTow(tow, checked))))
        this.ctx.send(from, { t: 'ae-sym', sid, from: 0, cells: encodeCells(unionCells(sources, 0, cells)), n })
      } else {
        this.ctx.send(from, { t: 'ae-sym', sid, from: 0, cells: encodeCells(unionCells(sources, 0, FIRST_CELLS)), tow: encodeTow(unionTow(sources)), n })
      }
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

  /** The reconciliation sources of the shared partitions: each one's sketch and its entry hashes. */
  private sources(shared: readonly number[]): Array<SketchSource & { size: number }> {
    return shared.map((p) => {
      const tree = this.ctx.store.tree(p)
      return { sketch: tree.sketch!, hashes: () => tree.hashes(), size: tree.size }
    })
  }

  /**
   * The peer's cells: subtracted from this node's own cells of the same range and peeled. Decoded,
   * the difference goes back as keys with their vectors and the items this node lacks (onDiff).
   * Not decoded, more cells are asked for: as many as the estimate says are needed the first time,
   * a quarter more after that. A difference too large for cells to pay (one side holds nothing,
   * or more cells than records) is walked with the hash trees instead.
   */
  onSym(from: NodeId, sid: number, at: number, cells: Uint8Array, tow?: Uint8Array, theirs?: number): void {
    const id = `${from}/${sid}`
    let s = this.sessions.get(id)
    if (at === 0) {
      if (s || theirs === undefined) return
      const shared = this.shared(from)
      if (shared.length === 0) return
      const sources = this.sources(shared)
      const mine = count(sources)
      if (mine === 0 || theirs === 0) return this.walk(from, sid, shared)
      s = { peer: from, shared, diff: new Difference(), asked: cells.length / CELL_BYTES, mine, theirs, seq: this.ctx.store.seq }
      this.sessions.set(id, s)
      while (this.sessions.size > MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!)
      this.markBusy()
      s.diff.add(cells, unionCells(sources, 0, s.asked))
      if (!s.diff.done) {
        // The peer sent what it judged enough (tow absent), or a few cells and its sums to judge by.
        if (tow === undefined) return this.askMore(s, sid, Math.ceil(1.25 * s.asked) + FIRST_CELLS)
        return this.askMore(s, sid, cellsFor(estimateDifference(unionTow(sources), decodeTow(tow, checked))))
      }
    } else {
      if (!s || at !== s.diff.size || at + cells.length / CELL_BYTES > s.asked) return
      this.markBusy()
      s.diff.add(cells, unionCells(this.sources(s.shared), at, at + cells.length / CELL_BYTES))
      if (s.diff.inconsistent) {
        // The sides changed while cells were in flight: the next round starts afresh.
        this.sessions.delete(id)
        return
      }
      if (!s.diff.done) {
        if (s.diff.size < s.asked) return // more of what was asked is on its way
        return this.askMore(s, sid, Math.ceil(1.25 * s.asked))
      }
    }
    this.sessions.delete(id)
    this.finish(s, sid).catch(() => {})
  }

  /** Asks for cells up to `target`, or hands a difference that large to the tree walk. */
  private askMore(s: Session, sid: number, target: number): void {
    // Past about one cell per record the cells cost more than the trees' listings would.
    if (target > MAX_SESSION_CELLS || target > s.mine + s.theirs + 64) {
      this.sessions.delete(`${s.peer}/${sid}`)
      return this.walk(s.peer, sid, s.shared)
    }
    for (let from = s.asked; from < target; from += MAX_CELLS_PER_MESSAGE) {
      this.ctx.send(s.peer, { t: 'ae-more', sid, from, to: Math.min(target, from + MAX_CELLS_PER_MESSAGE) })
    }
    s.asked = target
  }

  /** Starts the hash-tree walk: this node's group hashes, which the peer answers with the roots of differing groups. */
  private walk(peer: NodeId, sid: number, shared: readonly number[]): void {
    this.markBusy()
    this.ctx.send(peer, { t: 'ae-sum', sid, level: 1, h: this.groups(shared) })
  }

  /** Cells [from, to) of the partitions this node shares with the asker. */
  onMore(from: NodeId, sid: number, at: number, to: number): void {
    const shared = this.shared(from)
    if (shared.length === 0) return
    this.markBusy()
    this.ctx.send(from, { t: 'ae-sym', sid, from: at, cells: encodeCells(unionCells(this.sources(shared), at, to)) })
  }

  /**
   * A decoded difference: this node's items the peer lacks become keys with their vectors' counters
   * (so the peer can tell who has seen what without the records), the peer's items become `want`.
   */
  private async finish(s: Session, sid: number): Promise<void> {
    const shared = new Set(s.shared)
    const keys: Uint8Array[] = []
    for (const [lo, hi] of s.diff.mine) {
      const p = partitionOfItem(hi)
      // A wrong decode, or a ring the peer sees differently, names nothing of this node's.
      if (!shared.has(p)) continue
      for (const e of this.ctx.store.tree(p).withTag(itemTag(hi))) if (itemLo(e.h) === lo) keys.push(e.key.slice())
    }
    const want: Array<[number, number]> = s.diff.theirs.filter(([, hi]) => shared.has(partitionOfItem(hi)))
    // Where nothing of this node's is missing at the peer, the peer held all of it.
    const short = new Set(s.diff.mine.map(([, hi]) => partitionOfItem(hi)))
    this.collector.agreed(s.peer, s.shared.filter((p) => !short.has(p)), s.seq)
    // Where nothing of the peer's is missing here, this node held all of it.
    const lacking = new Set(s.diff.theirs.map(([, hi]) => partitionOfItem(hi)))
    this.collector.holdsAllOf(s.peer, s.shared.filter((p) => !lacking.has(p)), s.seq)
    if (keys.length === 0 && want.length === 0) return
    const vvs: VersionVector[] = []
    const found: Uint8Array[] = []
    // The peer pulls among these by their places.
    this.listed.set(`${s.peer}/${sid}`, found)
    while (this.listed.size > MAX_SESSIONS) this.listed.delete(this.listed.keys().next().value!)
    const sets = await this.readAll(keys)
    if (!this.ctx.running()) return
    keys.forEach((key, i) => {
      const set = sets[i]
      if (!set) return
      found.push(key)
      vvs.push(set.vv)
    })
    for (let i = 0; i < Math.max(found.length, want.length); i += MAX_LIST_ITEMS) {
      const w = want.slice(i, i + MAX_LIST_ITEMS)
      const bytes = new Uint8Array(WANT_BYTES * w.length)
      const view = new DataView(bytes.buffer)
      w.forEach(([, hi], j) => view.setInt32(WANT_BYTES * j, hi))
      this.markBusy()
      this.ctx.send(s.peer, { t: 'ae-diff', sid, at: i, keys: found.slice(i, i + MAX_LIST_ITEMS), vv: encodeVectors(vvs.slice(i, i + MAX_LIST_ITEMS)), want: bytes })
    }
  }

  /**
   * The peer's decoded difference. For each key it listed: this node pushes its record where it has
   * seen events the peer has not (the peer merges, and sends back its merge if it had more too), and
   * pulls where only the peer has; for each item it wants, the record goes as it is.
   */
  async onDiff(from: NodeId, sid: number, at: number, keys: Uint8Array[], vvBytes: Uint8Array, want: Uint8Array): Promise<void> {
    const shared = new Set(this.shared(from))
    if (shared.size === 0) return
    this.markBusy()
    const vvs = decodeVectors(vvBytes)
    const view = new DataView(want.buffer, want.byteOffset, want.byteLength)
    const wanted: MerkleEntry[] = []
    for (let at = 0; at < want.length; at += WANT_BYTES) {
      const hi = view.getInt32(at)
      if (shared.has(partitionOfItem(hi))) wanted.push(...this.ctx.store.tree(partitionOfItem(hi)).withTag(itemTag(hi)))
    }
    // Records already read to compare are sent as read; only the wanted ones are read here.
    const push: Array<{ key: Uint8Array; set: VersionSet }> = []
    const pull: number[] = []
    const graves: Uint8Array[] = []
    // The keys listed are decided here, whatever this node's item for them says.
    const listed = new Set(keys.map(toId))
    const sets = await this.readAll(keys)
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!
      if (!shared.has(this.ctx.store.partitionOf(key))) continue
      const set = sets[i]
      const theirs = vvs[i]!
      if (!set) pull.push(at + i)
      else if (!descends(set.vv, theirs) && descends(theirs, set.vv)) pull.push(at + i)
      // The same events, kept here as a grave: the peer is told, not sent the record again.
      else if (descends(theirs, set.vv) && this.ctx.store.isGrave(key)) graves.push(key)
      // Only this node has seen more, both have, or neither (same events, different bytes): push,
      // and the peer sends back its merge where it differs.
      else push.push({ key, set })
    }
    const more: Uint8Array[] = []
    for (const e of wanted) {
      const id = toId(e.key)
      if (listed.has(id)) continue
      listed.add(id)
      more.push(e.key.slice())
    }
    for (let i = 0; i < pull.length; i += MAX_LIST_ITEMS) this.ctx.send(from, { t: 'ae-pull', sid, keys: [], idx: encodeVarints(pull.slice(i, i + MAX_LIST_ITEMS)) })
    this.tellGraves(from, graves)
    if (push.length === 0 && more.length === 0) return
    const read = await this.readAll(more)
    if (!this.ctx.running()) return
    more.forEach((key, i) => {
      const set = read[i]
      if (set) push.push({ key, set })
    })
    this.sendSets(from, push, 'ae-push')
  }

  /** Tells `peer` that these keys' tombstones are graves here (node/collect.ts). */
  private tellGraves(peer: NodeId, keys: Uint8Array[]): void {
    for (let i = 0; i < keys.length; i += MAX_LIST_ITEMS) this.ctx.send(peer, { t: 'ae-grave', keys: keys.slice(i, i + MAX_LIST_ITEMS) })
  }

  /** The peer keeps these tombstones as graves: it holds them, as a proof would say (node/collect.ts). */
  onGrave(from: NodeId, keys: Uint8Array[]): void {
    const shared = new Set(this.shared(from))
    this.collector.noticed(from, keys.filter((k) => shared.has(this.ctx.store.partitionOf(k))))
  }

  /** Reads records READ_AHEAD at a time, concurrently: one long chain of reads would take as many turns. */
  private async readAll(keys: Uint8Array[]): Promise<Array<VersionSet | undefined>> {
    const out: Array<VersionSet | undefined> = []
    for (let i = 0; i < keys.length && this.ctx.running(); i += READ_AHEAD) {
      out.push(...(await Promise.all(keys.slice(i, i + READ_AHEAD).map((k) => this.ctx.store.readRecord(k)))))
    }
    return out
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
    this.pushStored(to, p)
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

  /** Sends the records asked for: listed, or by their places in this node's ae-diff of that session. */
  onPull(from: NodeId, sid: number, keys: Uint8Array[], idx?: Uint8Array): void {
    this.markBusy()
    const listed = idx === undefined ? undefined : this.listed.get(`${from}/${sid}`)
    const byPlace = listed === undefined || idx === undefined ? [] : decodeVarints(idx, checked, MAX_LIST_ITEMS).flatMap((i) => (i < listed.length ? [listed[i]!] : []))
    this.pushLater(from, [...keys, ...byPlace], 'store')
  }

  /** Merges pushed records; where this node had versions the pusher lacks, sends its merge back. */
  async onPush(from: NodeId, items: StoreItem[]): Promise<void> {
    this.markBusy()
    // Decoded first, merged in one batch (a whole partition pushed to a wiped replica is many).
    const valid: Array<{ key: Uint8Array; set: VersionSet }> = []
    let bad: unknown
    for (const item of items) {
      try {
        const set = decodeSet(item.rec)
        rememberEncoding(set, item.rec)
        valid.push({ key: item.key, set })
      } catch (e) {
        bad ??= e
      }
    }
    const merged = await this.ctx.store.applyMany(valid)
    // Where this node had more, its merge goes back as merged (no second read).
    const back = valid.flatMap((v, i) => (equalSets(merged[i]!, v.set) ? [] : [{ key: v.key, set: merged[i]! }]))
    if (back.length && this.ctx.running()) this.sendSets(from, back, 'store')
    // A tombstone pushed that this node keeps as a grave, as it is: the pusher is told.
    this.tellGraves(from, valid.filter((v, i) => equalSets(merged[i]!, v.set) && this.ctx.store.isGrave(v.key)).map((v) => v.key))
    if (bad !== undefined) throw bad // counted as rejected; the rest was merged
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
    const out = this.sender(to, t)
    for (let i = 0; i < keys.length; i += READ_AHEAD) {
      this.markBusy()
      const chunk = keys.slice(i, i + READ_AHEAD)
      const sets = await this.readAll(chunk)
      if (!this.ctx.running()) return
      chunk.forEach((key, j) => {
        const set = sets[j]
        if (set) out.add({ key, rec: encodeOnce(set) })
      })
    }
    out.flush()
  }

  /** Sends records already read, in the same batches as push. */
  private sendSets(to: NodeId, items: ReadonlyArray<{ key: Uint8Array; set: VersionSet }>, t: 'store' | 'ae-push'): void {
    this.markBusy()
    const out = this.sender(to, t)
    for (const { key, set } of items) out.add({ key, rec: encodeOnce(set) })
    out.flush()
  }

  /** Sends every record of partition p as stored (the peer holds none of it), in the same batches as push. */
  private async pushStored(to: NodeId, p: number): Promise<void> {
    const out = this.sender(to, 'ae-push')
    let n = 0
    for await (const item of this.ctx.store.encodedRecords(p)) {
      if (!this.ctx.running()) return
      if (n++ % READ_AHEAD === 0) this.markBusy()
      out.add(item)
    }
    out.flush()
  }

  /** Collects items for `to` into messages of at most PUSH_BATCH items and PUSH_BYTES bytes. */
  private sender(to: NodeId, t: 'store' | 'ae-push'): { add(item: StoreItem): void; flush(): void } {
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
    const add = (item: StoreItem): void => {
      const size = itemBytes(item)
      // Flush before the batch would outgrow its budget: a big record then travels alone.
      if (items.length > 0 && (items.length >= PUSH_BATCH || bytes + size > PUSH_BYTES)) flush()
      items.push(item)
      bytes += size
      recBytes += item.rec.length + item.key.length
    }
    return { add, flush }
  }
}
