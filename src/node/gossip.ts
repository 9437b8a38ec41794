/**
 * Membership gossip (Dynamo paper section 4.8), reconciled the Scuttlebutt way (van Renesse et al.
 * 2008) so a round costs what differs, not what the view holds:
 *
 *   A → B  g-sum    A's 8-byte view digest and size              equal: B answers with its digest; done
 *   B → A  g-cells  the first cells of B's view (rateless reconciliation, riblt.ts), as many as
 *                   recent differences needed; A asks for more (g-more) until they decode
 *   A → B  g-delta  the signed entries B lacks, and the short ids A lacks (ask)
 *   B → A  g-delta  those entries (end)
 *
 * Cells cost ~1.35 × 13 bytes per differing entry, whatever the view's size. Views far apart in
 * size (a joiner's first exchange), or whose cells did not decode within VIEW_CELLS, compare bucket
 * sums instead:
 *
 *   B → A  g-bkt    B's bucket sums (4 bytes × ~n/8 buckets)
 *   A → B  g-ver    A's (short id, version) list of the differing buckets only
 *   B → A  g-delta  the signed entries A lacks, and the short ids B lacks (end)
 *   A → B  g-delta  those entries
 *
 * Every period a node starts one such exchange with a random member (every fourth period with a
 * suspected one, which is how a node that came back is noticed, every other one with a suspected
 * member it holds hints for; every eighth with a peer the transport introduces, which heals a split
 * view). A starting node greets a few random peers (its
 * seeds only when it knows nobody else), not everyone: the rest learn of it epidemically, in about
 * log2(n) periods.
 *
 * Entries are written only by the member they describe, signed with its key (Transport.auth), and
 * in a closed cluster carry the member's credential, without which they are refused;
 * an entry that does not verify is refused and counted, and each (id, version) is verified once: an
 * entry no newer than the view's is ignored before any check. "Left" is said by the member itself
 * (leave()), or decided here, locally, after `removeAfterMs` of absence: such a member is out of this
 * node's ring and shown as left, but nothing is written or gossiped about it, and it is back as soon
 * as it is heard from again.
 */
import { fieldsOf, inRing, internedTwin, internEntry, ringMembersOf, signedPart, supersedes, type MemberEntry, type MemberStatus } from '../core/membership.js'
import { bucketsFor, idOfNumber, MemberView, numberIfAny, numberOf, parseShorts, parseVersions } from '../core/view.js'
import { nextRing, sharedRing, type Ring, type RingMember } from '../core/ring.js'
import { DynameshError } from '../errors.js'
import { equalBytes } from '../core/hash.js'
import { MAX_MEMBER_VERSION, VIEW_CELLS } from '../limits.js'
import { CELL_BYTES, Difference, encodeCells } from '../core/riblt.js'
import type { NodeId } from '../types.js'
import type { NodeContext } from './context.js'
import { foreignPartitions } from './handoff.js'

/** Random peers a starting node greets (its seeds stand in when it knows nobody else, or the first is silent). */
export const GREET_EXTRA = 3
/** Members one g-delta carries; a larger answer travels in several. */
const DELTA_CHUNK = 1024
/** Peers a member's own news (leaving, left) is pushed to directly; gossip takes it from there. */
const PUSH_FANOUT = 4
/** Fewest cells a reply to a differing digest carries. */
const MIN_CELLS = 16
/** Views whose sizes differ by more than this compare bucket sums: cells would not decode. */
const CELLS_SIZE_GAP = Math.floor(VIEW_CELLS / 2)
/**
 * Members whose changes a node tracks for its next ring (built from the last one and those); past
 * this many the next ring is built from the whole view, and no more are tracked until then (a node
 * that reads no ring while a cluster forms would otherwise track every member).
 */
const RING_TOUCHED_MAX = 256
/** Exchanges whose cells this node is decoding at once (one per peer); the oldest is dropped past this. */
const MAX_DECODING = 16

const fail = (why: string): never => {
  throw new DynameshError('INVALID_MESSAGE', why)
}

export class Gossip {
  readonly view = new MemberView()
  /** Members this node decided are gone (absent past removeAfterMs): out of its ring, never gossiped. */
  private readonly expired = new Set<NodeId>()
  /** Entries refused: a signature that does not verify, or none where one is required. */
  refused = 0
  private ticks = 0
  /** Members whose entries changed since the view was last stored. */
  private readonly dirty = new Set<NodeId>()
  /** Ids worth gossiping with: members that have not left, and the seeds. */
  private readonly pool = new IdPool()
  /** Peers whose last exchange asked for this node's own entry (see confirm). */
  private readonly wantedSelf = new Set<NodeId>()
  private readonly settleWaiters = new Map<NodeId, Array<(agreed: boolean) => void>>()
  /** Members whose entries or expiry changed since ring() last answered (see touch). */
  private readonly ringTouched = new Set<NodeId>()
  /** More than RING_TOUCHED_MAX changed: the next ring is built from the whole view. */
  private ringAll = false
  /** The last ring ring() built (the ones it hands out may be deferred). */
  private built: Ring | undefined
  /** Cells received so far, per peer whose cells this node is decoding (its own exchanges). */
  private readonly decoding = new Map<NodeId, Difference>()
  /** Differing entries recent decoded cells held (a moving average): how many cells the next reply starts with. */
  private lastDifference = 0

  constructor(
    private readonly ctx: NodeContext,
    private readonly seeds: readonly NodeId[],
    private readonly onChange: (changed: MemberEntry[], ringChanged: boolean) => void,
    private readonly save: (entries: MemberEntry[]) => Promise<void>,
  ) {
    for (const s of seeds) if (s !== ctx.id) this.pool.add(s)
  }

  get self(): MemberEntry | undefined {
    return this.view.get(this.ctx.id)
  }

  /** Sets this node's own status, signing a new version of its entry so the change wins everywhere. */
  setSelf(status: MemberStatus, weight = this.self?.weight ?? this.ctx.config.weight, above = 0): void {
    const prev = this.self
    const version = Math.min(Math.max(prev?.version ?? 0, above) + 1, MAX_MEMBER_VERSION)
    const entry = this.signed({ id: this.ctx.id, weight, status, version })
    this.set(entry)
    this.changed([entry], prev ? ringRelevant(prev, entry) : inRing(entry))
  }

  /** Loads a persisted view (on restart); it was verified when it arrived. */
  load(entries: readonly MemberEntry[]): void {
    for (const e of entries) if (this.view.wouldTake(e)) this.set(e)
  }

  /**
   * The view as this node sees it, by id: members it expired locally show as left. Made on each
   * call, not kept: a kept copy is a pointer per member in every node, for an answer read rarely.
   */
  members(): MemberEntry[] {
    return this.view.sorted().map((m) => (this.expired.has(m.id) && m.status !== 'left' ? { ...m, status: 'left' as const } : m))
  }

  status(id: NodeId): MemberStatus | undefined {
    return this.expired.has(id) ? 'left' : this.view.get(id)?.status
  }

  ringMembers(): RingMember[] {
    return ringMembersOf(this.view.sorted(), this.expired)
  }

  /**
   * The ring of this view. Built from the last ring this method built and the members that changed
   * since (`nextRing`: costs what changed rather than a sort of the whole view; from the whole view
   * when more than RING_TOUCHED_MAX changed), and only when first
   * read: until then it is a deferred ring whose q and n are known and whose other fields build it
   * (from the view as it is then, once). A node whose view changes every period and that reads
   * nothing of its ring (nothing stored, no call to coordinate) builds none.
   */
  ring(prev: Ring | undefined, opts: { q: number; n: number }): Ring {
    const whole = (): Ring => {
      this.ringTouched.clear()
      this.ringAll = false
      return (this.built = sharedRing(this.ringMembers(), opts))
    }
    if (!prev || !this.built || prev.q !== opts.q || prev.n !== opts.n || this.built.q !== opts.q || this.built.n !== opts.n) return whole()
    if (this.ringTouched.size === 0 && !this.ringAll) return this.built
    return deferredRing(opts.q, opts.n, () => {
      if (this.ringAll) return whole()
      const touched = [...this.ringTouched]
      this.ringTouched.clear()
      return (this.built = nextRing(this.built!, touched.map((id) => {
        const m = this.view.get(id)
        return { id, weight: m && inRing(m) && !this.expired.has(id) ? m.weight : undefined }
      })))
    })
  }

  /** Every member worth gossiping with: known members that have not left, and seeds (in no particular order). */
  candidates(): NodeId[] {
    return this.pool.ids()
  }

  /** One gossip round. */
  tick(): void {
    this.ticks++
    this.expireAbsent()
    void this.flush()
    const target = this.pickTarget()
    if (target) this.begin(target)
  }

  private pickTarget(): NodeId | undefined {
    const random = <T>(xs: readonly T[]): T | undefined => xs[Math.floor(this.ctx.env.random() * xs.length)]
    if (this.pool.size === 0 || this.ticks % 8 === 0) {
      const introduced = (this.ctx.transport.peers?.() ?? []).filter((p) => p !== this.ctx.id)
      if (introduced.length > 0) return random(introduced)
    }
    if (this.ticks % 2 === 0) {
      const suspects = this.ctx.detector.suspected().filter((id) => this.pool.has(id))
      // Hints and records that moved wait for their owner: a suspected member this node holds hints
      // for, or owning a partition this node holds records of but no longer replicates, is tried
      // every other period, so its return is noticed (and the data handed over) within seconds.
      const owed = this.ctx.store.hintOwners()
      const waitedFor = suspects.filter((id) => owed.has(id) || this.ownsForeign(id))
      if (waitedFor.length > 0) return random(waitedFor)
      if (this.ticks % 4 === 0 && suspects.length > 0) return random(suspects)
    }
    // A random member this node believes reachable: a few draws find one unless most are suspected.
    for (let i = 0; i < 8; i++) {
      const id = this.pool.at(Math.floor(this.ctx.env.random() * this.pool.size))
      if (id !== undefined && this.ctx.isUp(id)) return id
    }
    return undefined
  }

  /** True when `id` owns a partition this node holds records of but does not replicate (handoff.ts). */
  private ownsForeign(id: NodeId): boolean {
    const foreign = foreignPartitions(this.ctx)
    if (foreign.length === 0) return false
    const owners = this.ctx.ring().owners
    return foreign.some((p) => owners[p]?.includes(id) ?? false)
  }

  /** Starts an exchange with `to`. */
  begin(to: NodeId): void {
    this.ctx.send(to, { t: 'g-sum', d: this.view.digest(), n: this.view.size, reply: true })
  }

  /**
   * Greets a few random peers (members of a persisted view, or peers the transport introduces):
   * the first fully, so this node holds the whole view, then the others, which by then cost a
   * digest or a small delta. The seeds are greeted only when no other peer is known or the first
   * did not answer: otherwise every joiner would land on them. Resolves when all answered or `ms`
   * passed.
   */
  async greet(ms: number): Promise<void> {
    const seeds = this.seeds.filter((s) => s !== this.ctx.id)
    const pool = [...new Set([...this.candidates(), ...(this.ctx.transport.peers?.() ?? [])])].filter((p) => p !== this.ctx.id && !seeds.includes(p))
    const extra: NodeId[] = []
    while (extra.length < GREET_EXTRA && pool.length > 0) extra.push(pool.splice(Math.floor(this.ctx.env.random() * pool.length), 1)[0]!)
    const until = this.ctx.env.now() + ms
    const [first, ...rest] = extra.length > 0 ? extra : seeds
    if (!first) return
    const answered = (await this.exchange(first, ms)) !== 'timeout'
    const others = answered || extra.length === 0 ? rest : [...seeds, ...rest]
    await Promise.all(others.map((t) => this.exchange(t, Math.max(1, until - this.ctx.env.now()))))
  }

  /**
   * Runs one exchange with `to`. Resolves 'agreed' when the two views turned out equal, 'merged'
   * when entries travelled (the last of which may still be on its way), 'timeout' after `ms`.
   */
  private exchange(to: NodeId, ms: number): Promise<'agreed' | 'merged' | 'timeout'> {
    return new Promise((resolve) => {
      const cancel = this.ctx.env.setTimer(ms, () => resolve('timeout'))
      const list = this.settleWaiters.get(to) ?? []
      list.push((agreed) => {
        cancel()
        resolve(agreed ? 'agreed' : 'merged')
      })
      this.settleWaiters.set(to, list)
      this.begin(to)
    })
  }

  private settled(from: NodeId, agreed: boolean): void {
    const list = this.settleWaiters.get(from)
    if (!list) return
    this.settleWaiters.delete(from)
    for (const done of list) done(agreed)
  }

  /** Pushes this node's own entry to a few members, for news that should not wait for a round (leaving, left). */
  announce(fanout = PUSH_FANOUT): void {
    const self = this.self
    if (!self) return
    // Members believed up first; suspected ones fill the rest, so a member that was cut off (and
    // suspects everyone) still tells somebody.
    const up = this.candidates().filter((id) => this.ctx.isUp(id))
    const down = this.candidates().filter((id) => !this.ctx.isUp(id))
    for (const pool of [up, down]) {
      for (; fanout > 0 && pool.length > 0; fanout--) {
        const to = pool.splice(Math.floor(this.ctx.env.random() * pool.length), 1)[0]!
        this.ctx.send(to, { t: 'g-delta', members: [self], want: new Uint8Array(0) })
      }
    }
  }

  /**
   * Runs exchanges, one member at a time (believed-up ones first), until a peer's view agrees with
   * this one or `ms` passed: how a leaving member makes sure somebody holds its last entry before
   * it goes. Resolves true when one agreed.
   */
  async confirm(ms: number): Promise<boolean> {
    const until = this.ctx.env.now() + ms
    for (let round = 0; this.ctx.env.now() < until && this.ctx.running(); round++) {
      const up = this.candidates().filter((id) => this.ctx.isUp(id))
      const pool = up.length > 0 && round % 2 === 0 ? up : this.candidates()
      const to = pool[Math.floor(this.ctx.env.random() * pool.length)]
      if (to === undefined) return false
      // A peer that agrees, or merged without asking for this node's entry, holds it already; one
      // that asked got it in the exchange's last message, which could be lost: ask it again.
      let outcome: 'agreed' | 'merged' | 'timeout'
      do outcome = await this.exchange(to, Math.min(this.ctx.config.gossipMs, Math.max(1, until - this.ctx.env.now())))
      while (outcome === 'merged' && this.wantedSelf.delete(to) && this.ctx.env.now() < until)
      if (outcome !== 'timeout' && !this.wantedSelf.has(to)) return true
      this.wantedSelf.delete(to)
    }
    return false
  }

  // ---- the exchange ------------------------------------------------------------------------------

  onSum(from: NodeId, digest: Uint8Array, size: number, reply: boolean, bkt = false): void {
    const mine = this.view.digest()
    if (equalBytes(digest, mine)) {
      if (reply) this.ctx.send(from, { t: 'g-sum', d: mine, n: this.view.size, reply: false })
      this.settled(from, true)
      return
    }
    const gap = Math.abs(size - this.view.size)
    if (bkt || gap > CELLS_SIZE_GAP) {
      this.ctx.send(from, { t: 'g-bkt', h: this.view.bucketSums(bucketsFor(Math.max(size, this.view.size))) })
      return
    }
    // Cells enough for the difference, most of the time at once: ~1.35 are needed per item, twice
    // as many as the size gap or what recent exchanges found are sent (whole rows of 8).
    const likely = Math.ceil((2 * Math.max(gap, this.lastDifference)) / 8) * 8
    this.onMore(from, 0, Math.min(VIEW_CELLS, Math.max(MIN_CELLS, likely)))
  }

  /** Sends cells [at, at + k) of this view. */
  onMore(from: NodeId, at: number, k: number): void {
    this.ctx.send(from, { t: 'g-cells', at, c: encodeCells(this.view.cellsAt(at, k)) })
  }

  /**
   * Decodes a peer's cells against this view's: once every cell peels, sends what the peer lacks
   * and asks for what this view lacks; until then asks for as many cells again. Cells that will not
   * decode (VIEW_CELLS reached, or the views changed between batches), or that decode to nothing
   * to send while the digests differed (entries that map to one item), fall back to bucket sums.
   */
  onCells(from: NodeId, at: number, cells: Uint8Array): void {
    let diff = this.decoding.get(from)
    if (at === 0) {
      this.decoding.delete(from)
      if (this.decoding.size >= MAX_DECODING) this.decoding.delete(this.decoding.keys().next().value!)
      this.decoding.set(from, (diff = new Difference()))
    }
    if (!diff || diff.size !== at) return // not an exchange of this node's, or an old batch
    const k = cells.length / CELL_BYTES
    diff.add(cells, this.view.cellsAt(at, k))
    if (diff.done) {
      this.decoding.delete(from)
      this.lastDifference = 0.7 * this.lastDifference + 0.3 * (diff.mine.length + diff.theirs.length)
      const { give, want } = this.view.reconcile(diff.mine, diff.theirs)
      if (give.length > 0 || want.length > 0) return this.sendDelta(from, give, this.view.shortsOf(want), false, true)
    } else if (!diff.inconsistent && diff.size < VIEW_CELLS) {
      return this.ctx.send(from, { t: 'g-more', at: diff.size, k: Math.min(diff.size, VIEW_CELLS - diff.size) })
    }
    this.decoding.delete(from)
    this.ctx.send(from, { t: 'g-sum', d: this.view.digest(), n: this.view.size, reply: true, bkt: true })
  }

  onBuckets(from: NodeId, sums: Uint8Array): void {
    const nb = sums.length / 4
    const differing = this.view.differingBuckets(sums)
    if (differing.length === 0) return this.settled(from, true)
    this.ctx.send(from, { t: 'g-ver', nb, b: differing, v: this.view.versions(nb, differing) })
  }

  onVersions(from: NodeId, nb: number, buckets: number[], list: Uint8Array): void {
    const { give, want } = this.view.compare(nb, buckets, parseVersions(list, fail))
    this.sendDelta(from, give, this.view.shortsOf(want), true)
  }

  onDelta(from: NodeId, members: MemberEntry[], want: Uint8Array, end = false, ask = false): void {
    this.apply(members)
    if (want.length > 0 || ask) {
      const wanted: MemberEntry[] = []
      for (const short of parseShorts(want, fail)) {
        const e = this.view.entryOfShort(short)
        if (!e) continue
        wanted.push(e)
        if (e.id === this.ctx.id) this.wantedSelf.add(from)
      }
      this.sendDelta(from, wanted, new Uint8Array(0), ask)
    }
    // Only the answer to this node's g-ver ends its exchange: a peer's own news (announce) or the
    // entries it was asked for say nothing about what that peer now holds of this node's view.
    if (end) this.settled(from, false)
  }

  /** Entries in chunks; the last carries the want, the ask for an answer, and the exchange's end (answering a g-ver or an ask). */
  private sendDelta(to: NodeId, entries: MemberEntry[], want: Uint8Array, end: boolean, ask = false): void {
    const last = Math.max(0, Math.ceil(entries.length / DELTA_CHUNK) - 1)
    for (let c = 0; c <= last; c++) {
      const members = entries.slice(c * DELTA_CHUNK, (c + 1) * DELTA_CHUNK)
      if (c < last) this.ctx.send(to, { t: 'g-delta', members, want: new Uint8Array(0) })
      else this.ctx.send(to, { t: 'g-delta', members, want, ...(end ? { end: true as const } : {}), ...(ask ? { ask: true as const } : {}) })
    }
  }

  /**
   * Merges received entries as one batch: only newer ones are checked and taken, the ring is
   * rebuilt at most once (and only if a ring-relevant field changed), the view is stored at the next
   * round. An entry about this node itself is never taken: one newer than its own (from before a
   * restart) makes it re-assert its current entry above it.
   */
  private apply(entries: readonly MemberEntry[]): void {
    const changed: MemberEntry[] = []
    let ringChanged = false
    let newerSelf: MemberEntry | undefined
    for (let e of entries) {
      const old = this.view.get(e.id)
      if (old && !supersedes(e, old)) continue
      // An entry some node here already verified and kept is the same bytes: it is checked (once
      // by this node, as any new entry) and kept in e's place, so the view holds the shared copy.
      const fields = fieldsOf(e)
      const twin = internedTwin(e, fields)
      if (!this.authentic(twin ?? e, fields)) {
        this.refused++
        continue
      }
      e = twin ?? internEntry(e, fields)
      if (e.id === this.ctx.id) {
        if (!newerSelf || supersedes(e, newerSelf)) newerSelf = e
        continue
      }
      this.set(e)
      changed.push(e)
      if (!this.expired.has(e.id) && (old ? ringRelevant(old, e) : inRing(e))) ringChanged = true
    }
    if (changed.length > 0) this.changed(changed, ringChanged)
    const self = this.self
    if (newerSelf && self) this.setSelf(self.status, self.weight, newerSelf.version)
  }

  private set(e: MemberEntry): void {
    this.view.set(e)
    this.touch(e.id)
    this.track(e)
  }

  /** Notes that `id`'s ring-relevant state may have changed, for the next ring (see RING_TOUCHED_MAX). */
  private touch(id: NodeId): void {
    if (this.ringAll) return
    if (this.ringTouched.size < RING_TOUCHED_MAX) {
      this.ringTouched.add(id)
      return
    }
    this.ringAll = true
    this.ringTouched.clear()
  }

  private track(e: MemberEntry): void {
    if (e.id === this.ctx.id) return
    if (e.status !== 'left' || this.seeds.includes(e.id)) this.pool.add(e.id)
    else this.pool.delete(e.id)
  }

  private authentic(e: MemberEntry, fields: string): boolean {
    const auth = this.ctx.transport.auth
    if (!auth) return true
    if (e.key === undefined || e.sig === undefined) return false
    if (auth.admits && !auth.admits(e.key, e.cred)) return false
    return auth.verify(e.id, e.key, signedPart(e, fields), e.sig)
  }

  private signed(e: MemberEntry): MemberEntry {
    const auth = this.ctx.transport.auth
    if (!auth) return e
    const out: MemberEntry = { ...e, key: auth.publicKey, sig: auth.sign(signedPart(e)) }
    if (auth.credential) out.cred = auth.credential
    return out
  }

  /**
   * "Unreachable" is temporary (hints cover it); after a long absence (removeAfterMs) this node
   * treats a member as gone, so its partitions move to the others here. Heard from again, it is back.
   */
  private expireAbsent(): void {
    const changed: MemberEntry[] = []
    let ringChanged = false
    for (const id of this.ctx.detector.suspected()) {
      const m = this.view.get(id)
      if (!m || id === this.ctx.id || m.status === 'left' || this.expired.has(id)) continue
      if (this.ctx.detector.suspectedFor(id) < this.ctx.config.removeAfterMs) continue
      this.expired.add(id)
      this.touch(id)
      changed.push({ ...m, status: 'left' })
      ringChanged ||= inRing(m)
    }
    for (const id of this.expired) {
      if (!this.ctx.detector.isUp(id)) continue
      this.expired.delete(id)
      this.touch(id)
      const m = this.view.get(id)!
      changed.push(m)
      ringChanged ||= inRing(m)
    }
    if (changed.length > 0) this.onChange(changed, ringChanged)
  }

  /** Stores the entries that changed since the last call, in one batch (at most once per round). */
  flush(): Promise<void> {
    if (this.dirty.size === 0) return Promise.resolve()
    const ids = [...this.dirty]
    this.dirty.clear()
    return this.save(ids.map((id) => this.view.get(id)!)).catch(() => {
      for (const id of ids) this.dirty.add(id)
    })
  }

  private changed(entries: MemberEntry[], ringChanged: boolean): void {
    for (const e of entries) this.dirty.add(e.id)
    this.onChange(entries, ringChanged)
    // A member going away is stored at once, not at the next round: a leaving member stops once
    // one peer holds its last entry (confirm), and that peer crashing before its round would lose
    // the news, leaving everyone to keep hints for a member that is gone.
    if (entries.some((e) => e.status === 'left' || e.status === 'leaving')) void this.flush()
  }
}

/**
 * A ring built by `make` on first read of any field but q and n (see Gossip.ring), then fixed.
 * Frozen, with the same enumerable fields as a built ring.
 */
function deferredRing(q: number, n: number, make: () => Ring): Ring {
  let real: Ring | undefined
  const get = (): Ring => (real ??= make())
  const ring = { q, n } as Ring
  Object.defineProperties(ring, {
    members: { enumerable: true, get: () => get().members },
    owners: { enumerable: true, get: () => get().owners },
    ownerIndex: { enumerable: true, get: () => get().ownerIndex },
    tokens: { enumerable: true, get: () => get().tokens },
    fingerprint: { enumerable: true, get: () => get().fingerprint },
  })
  return Object.freeze(ring)
}

/** True when replacing `old` by `e` changes the ring: in or out of it, or another weight. */
const ringRelevant = (old: MemberEntry, e: MemberEntry): boolean => inRing(old) !== inRing(e) || (inRing(e) && old.weight !== e.weight)

/**
 * A set of ids with O(1) add, delete, membership and random pick: the ids' process-wide numbers
 * (view.ts) in an array, and each number's place in it, both typed arrays (a pool holds about every
 * member, in every simulated node: 8 bytes a member, not a map entry and a string pointer).
 */
class IdPool {
  private list: Int32Array<ArrayBuffer> = new Int32Array(16)
  /** Place in `list` + 1 by id number (0: absent). */
  private place: Int32Array<ArrayBuffer> = new Int32Array(16)
  size = 0

  has(id: NodeId): boolean {
    const k = numberIfAny(id)
    return k !== undefined && k < this.place.length && this.place[k]! > 0
  }

  /** The id at `i` (0 <= i < size), in the order a plain array with swap-removal would hold. */
  at(i: number): NodeId | undefined {
    return i < this.size ? idOfNumber(this.list[i]!) : undefined
  }

  ids(): NodeId[] {
    const out: NodeId[] = new Array<NodeId>(this.size)
    for (let i = 0; i < this.size; i++) out[i] = idOfNumber(this.list[i]!)
    return out
  }

  add(id: NodeId): void {
    const k = numberOf(id)
    if (k >= this.place.length) this.place = grown(this.place, k + 1)
    if (this.place[k]! > 0) return
    if (this.size === this.list.length) this.list = grown(this.list, this.size + 1)
    this.list[this.size++] = k
    this.place[k] = this.size
  }

  delete(id: NodeId): void {
    const k = numberIfAny(id)
    const at = k !== undefined && k < this.place.length ? this.place[k]! - 1 : -1
    if (at < 0) return
    const last = this.list[--this.size]!
    if (last !== k!) {
      this.list[at] = last
      this.place[last] = at + 1
    }
    this.place[k!] = 0
  }
}

/** A copy of `a` at least `n` long (doubling). */
function grown(a: Int32Array<ArrayBuffer>, n: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(Math.max(n, a.length * 2))
  b.set(a)
  return b
}
