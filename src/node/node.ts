/**
 * A dynamesh node: owns one Storage, one Transport and one Env, and composes the pure core (ring,
 * clocks, Merkle trees, membership) with the coordinator, gossip, hinted handoff and anti-entropy.
 */
import type { NodeInspection, ClusterInfo, DynameshNode, GetOptions, GetResult, Key, NodeEvent, NodeStats, PutOptions, Value, Context } from '../api.js'
import { contextOf, isDeleted, merge, values, type VersionSet } from '../core/clock.js'
import { FailureDetector } from '../core/detector.js'
import { decodeContext, encodeContext } from '../core/record.js'
import type { Ring } from '../core/ring.js'
import { DynameshError, isDynameshError } from '../errors.js'
import { hash, toHex } from '../core/hash.js'
import type { Cancel, Env, NodeId, SimulationHooks } from '../types.js'
import type { MemberEntry } from '../core/membership.js'
import { encodeMessage, type Msg } from '../wire/messages.js'
import { AntiEntropy } from './antientropy.js'
import { coordinateGet, routeWrite } from './coordinator.js'
import type { NodeConfig, NodeContext } from './context.js'
import { Gossip } from './gossip.js'
import { deliverableHints, deliverHints, transferForeign, transferPending } from './handoff.js'
import { Rpc } from './rpc.js'
import { InboundLimits } from './inbound.js'
import { ReplicaStore } from './store.js'
import { checkCount, checkKey, checkTimeout, checkValue, withAbort } from './validate.js'
import { Dispatcher } from './dispatch.js'
import { RecentReads } from './recent.js'
import { ForwardedOps } from './ops.js'
import { Refusals } from './refusals.js'
import type { Meta } from './meta.js'
import { saveMembers, saveMeta } from './meta.js'
import type { AttachedNode, Transport } from '../types.js'

export interface NodeParts {
  id: NodeId
  env: Env
  /** The simulated network's hooks for this life of the node; real nodes have none. */
  simulation?: SimulationHooks
  config: NodeConfig
  store: ReplicaStore
  transport: Transport
  meta: Meta
  members: MemberEntry[]
  seeds: NodeId[]
}

export class Node implements DynameshNode, NodeContext {
  readonly id: NodeId
  readonly env: Env
  private readonly simulation: SimulationHooks | undefined
  readonly config: NodeConfig
  readonly store: ReplicaStore
  readonly transport: Transport
  readonly rpc: Rpc
  readonly detector: FailureDetector
  readonly gossip: Gossip
  readonly antiEntropy: AntiEntropy
  private readonly dispatcher: Dispatcher
  private meta: Meta
  private currentRing: Ring
  /** Set when a batch of membership changes touched the ring: rebuilt on next use, once however many batches came. */
  private ringStale = false
  /** The ring for background work that tolerates lag (ring(maxAgeMs)), refreshed at most once per its age. */
  private laggingRing: Ring
  private laggingStale = false
  private laggingAt = -Infinity
  private ringChangedAt = -Infinity
  private isRunning = true
  private readonly timers = new Set<Cancel>()
  private readonly handlers = new Set<(ev: NodeEvent) => void>()
  private readonly inflight = new Set<(e: Error) => void>()
  private backgroundBusy = false
  readonly sent: Record<string, { count: number; bytes: number }> = {}
  rejected = 0
  /** Per-peer limits on inbound work (messages per second, bytes being stored). */
  readonly inbound: InboundLimits
  private readonly recent = new RecentReads()
  /** Forwarded writes by operation id, so each is coordinated once however many copies arrive. */
  readonly ops: ForwardedOps
  /** Messages the transport refused for their size, reported once per key. */
  readonly refusals = new Refusals((ev) => this.emit(ev))
  /** Set by createNode: the same node again, with overrides (used by the simulation's restart). */
  recreate: AttachedNode['recreate'] = () =>
    Promise.reject(new TypeError('not recreatable'))

  constructor(parts: NodeParts) {
    this.id = parts.id
    this.env = parts.env
    this.simulation = parts.simulation
    this.config = parts.config
    this.store = parts.store
    this.transport = parts.transport
    this.meta = parts.meta
    this.inbound = new InboundLimits(() => this.env.now())
    this.ops = new ForwardedOps(() => this.env.now())
    this.rpc = new Rpc(this.env, (to, m) => this.send(to, m))
    this.detector = new FailureDetector(() => this.env.now(), (ev) => {
      this.emit({ type: 'reachable', id: ev.id, reachable: ev.reachable })
      if (ev.reachable && this.isRunning) this.antiEntropy.onReachable(ev.id)
    })
    this.gossip = new Gossip(this, parts.seeds, (changed, ringChanged) => this.onMembers(changed, ringChanged), (entries) => saveMembers(this.store, entries))
    this.gossip.load(parts.members)
    this.currentRing = this.gossip.ring(undefined, { q: this.config.q, n: this.config.n })
    this.laggingRing = this.currentRing
    this.antiEntropy = new AntiEntropy(this)
    this.store.onChange = (key, hintFor) => this.emit({ type: 'change', key, ...(hintFor ? { hintFor: hintFor as NodeId } : {}) })
    this.dispatcher = new Dispatcher(this)
  }

  // ---- NodeContext -------------------------------------------------------------------------------

  ring = (maxAgeMs?: number): Ring => {
    if (maxAgeMs === undefined) return this.freshRing()
    // Refreshed once membership has been still for two gossip periods, or at the latest after
    // maxAgeMs while it keeps changing. It depends only on the view and on virtual time, never on
    // who else rebuilt the current ring meanwhile: runs stay reproducible.
    const now = this.env.now()
    if (this.laggingStale && (now - this.ringChangedAt >= 2 * this.config.gossipMs || now - this.laggingAt >= maxAgeMs)) {
      this.laggingStale = false
      this.laggingAt = now
      this.laggingRing = this.freshRing()
    }
    return this.laggingRing
  }

  private freshRing(): Ring {
    if (this.ringStale) {
      this.ringStale = false
      this.currentRing = this.gossip.ring(this.currentRing, { q: this.config.q, n: this.config.n })
    }
    return this.currentRing
  }
  isUp = (id: NodeId): boolean => id === this.id || this.detector.isUp(id)
  running = (): boolean => this.isRunning
  memberStatus = (id: NodeId): 'joining' | 'up' | 'leaving' | 'left' | undefined => this.gossip.status(id)
  dotId = (): string => `${this.meta.incarnation}.${this.meta.epoch}`

  async newEpoch(): Promise<void> {
    this.meta = { ...this.meta, epoch: this.meta.epoch + 1 }
    await saveMeta(this.store, this.meta)
  }

  send(to: NodeId, msg: Msg, key?: Uint8Array): void {
    if (!this.isRunning || to === this.id) return
    const bytes = encodeMessage(msg)
    try {
      this.transport.send(to, bytes)
    } catch (e) {
      if (isDynameshError(e, 'MESSAGE_TOO_LARGE')) this.refusals.note(to, msg, bytes.length, e.message, key)
      throw e
    }
    const s = (this.sent[msg.t] ??= { count: 0, bytes: 0 })
    s.count++
    s.bytes += bytes.length
  }

  emit(ev: NodeEvent): void {
    for (const h of this.handlers) {
      try {
        h(ev)
      } catch {
        // A listener's mistake must not break the node.
      }
    }
  }

  // ---- lifecycle ---------------------------------------------------------------------------------

  /** Joins: announces itself, greets its seeds and a few peers, starts the background tasks. */
  async start(): Promise<void> {
    this.transport.onMessage((from, bytes) => this.dispatcher.onMessage(from, bytes))
    this.transport.onPeer(({ id, up }) => (up ? this.detector.heard(id) : this.detector.suspect(id)))
    await this.transport.start()
    const self = this.gossip.self
    if (!self || self.status !== 'up' || self.weight !== this.config.weight) this.gossip.setSelf('up', this.config.weight)
    await this.hold(this.gossip.greet(Math.min(this.config.timeoutMs, 1000)))
    this.every(this.config.gossipMs, () => this.gossip.tick())
    this.every(this.config.antiEntropyMs, () => this.antiEntropy.tick())
    this.every(this.config.handoffMs, () => void this.background())
  }

  private every(ms: number, fn: () => void): void {
    const schedule = (delay: number): void => {
      const cancel = this.env.setTimer(delay, () => {
        this.timers.delete(cancel)
        if (!this.isRunning) return
        try {
          fn()
        } finally {
          schedule(ms * (0.75 + 0.5 * this.env.random()))
        }
      })
      this.timers.add(cancel)
    }
    schedule(ms * this.env.random())
  }

  private async background(): Promise<void> {
    if (this.backgroundBusy) return
    this.backgroundBusy = true
    try {
      await deliverHints(this)
      await transferForeign(this)
      await this.antiEntropy.collector.sweep()
    } catch {
      // Retried next period; storage errors surface through the stats.
    } finally {
      this.backgroundBusy = false
    }
  }

  private onMembers(changed: MemberEntry[], ringChanged: boolean): void {
    if (ringChanged) {
      this.ringStale = true
      this.laggingStale = true
      this.ringChangedAt = this.env.now()
    }
    for (const m of changed) this.emit({ type: 'member', id: m.id, status: m.status })
  }

  /** Nothing to do right now: no calls, no replies awaited, no deliverable hints or transfers. */
  idle(): boolean {
    return (
      this.inflight.size === 0 &&
      this.rpc.size === 0 &&
      !this.backgroundBusy &&
      !this.antiEntropy.busy &&
      !deliverableHints(this) &&
      !transferPending(this)
    )
  }

  /** Stops at once as a crash would: no flush, calls in flight fail. */
  halt(): void {
    if (!this.isRunning) return
    this.isRunning = false
    this.store.fence()
    for (const c of this.timers) c()
    this.timers.clear()
    this.rpc.clear()
    const err = new DynameshError('NOT_RUNNING', 'node stopped')
    for (const fail of this.inflight) fail(err)
    this.inflight.clear()
  }

  async stop(): Promise<void> {
    if (!this.isRunning) return
    // Clean only with no write of this node's in flight: one that was stamped may or may not land.
    const clean = this.inflight.size === 0
    this.halt()
    await this.transport.stop()
    if (clean) await saveMeta(this.store.raw, { ...this.meta, open: false }).catch(() => {})
    await this.store.raw.close()
  }

  async leave(): Promise<void> {
    this.ensureRunning()
    this.gossip.setSelf('leaving')
    this.gossip.announce()
    await this.hold(this.drain())
    this.gossip.setSelf('left')
    this.gossip.announce()
    // Somebody must hold the last entry, or the others would take this node for crashed and keep
    // the hints they hold for it until they expire it: like the hand-off above, keep trying until a
    // peer heard it (a member cut off waits for a link to heal; stop() abandons the leave).
    await this.hold(this.gossip.confirm(Infinity))
    await this.hold(this.gossip.flush())
    await this.stop()
  }

  /** Hands off every record and hint, retrying each period until none is left. */
  private drain(): Promise<void> {
    return new Promise((resolve, reject) => {
      const step = (): void => {
        if (!this.isRunning) return reject(new DynameshError('NOT_RUNNING', 'node stopped while leaving'))
        if (this.store.recordCount === 0 && this.store.hints === 0) return resolve()
        void this.background().finally(() => {
          const cancel = this.env.setTimer(this.config.handoffMs, () => {
            this.timers.delete(cancel)
            step()
          })
          this.timers.add(cancel)
        })
      }
      step()
    })
  }

  // ---- the client API ----------------------------------------------------------------------------

  private ensureRunning(): void {
    if (!this.isRunning) throw new DynameshError('NOT_RUNNING', 'node is stopped')
  }

  /** Runs a call while holding the simulation (virtual time moves there); fails it on halt. */
  private hold<T>(p: Promise<T>): Promise<T> {
    const release = this.simulation?.hold()
    return new Promise<T>((resolve, reject) => {
      this.inflight.add(reject)
      p.then(resolve, reject).finally(() => {
        this.inflight.delete(reject)
        release?.()
      })
    })
  }

  async get(key: Key, options: GetOptions = {}): Promise<GetResult> {
    this.ensureRunning()
    const k = checkKey(key)
    const n = checkCount('n', options.n, this.config.n, 64)
    const r = checkCount('r', options.r, Math.min(this.config.r, n), n)
    const timeoutMs = checkTimeout(options.timeoutMs, this.config.timeoutMs)
    let set: VersionSet | undefined
    let stale = false
    try {
      set = await this.hold(withAbort(coordinateGet(this, k, { n, r, timeoutMs }), options.signal))
      if (set) this.recent.remember(k, set, sizeOfSet(set))
    } catch (e) {
      // Offline first: with too few replicas reachable, answer from what this node knows, flagged.
      const quorumLost = isDynameshError(e, 'QUORUM_FAILED') || isDynameshError(e, 'TIMEOUT')
      if (!quorumLost || !(options.allowStale ?? this.config.staleReads) || !this.isRunning) throw e
      set = await this.hold(this.localRead(k))
      stale = true
    }
    if (!set) return { values: [], context: '' as Context, deleted: false, stale }
    // Copies: the store's cache shares decoded sets, and a caller may write into what it gets.
    return { values: distinct(values(set)).map((v) => v.slice()), context: encodeContext(contextOf(set)) as Context, deleted: isDeleted(set), stale }
  }

  /** What this node holds of `key` (its record and hints) merged with what it read of it recently. */
  private async localRead(key: Uint8Array): Promise<VersionSet | undefined> {
    const held = await this.store.readAll(key)
    const seen = this.recent.get(key)
    return held && seen ? merge(held, seen) : (held ?? seen)
  }

  async put(key: Key, value: Value, options: PutOptions = {}): Promise<{ context: Context }> {
    this.ensureRunning()
    return this.write(checkKey(key), checkValue(value, this.config.maxValueBytes), options)
  }

  async delete(key: Key, options: PutOptions = {}): Promise<{ context: Context }> {
    this.ensureRunning()
    return this.write(checkKey(key), null, options)
  }

  private async write(key: Uint8Array, value: Uint8Array | null, options: PutOptions): Promise<{ context: Context }> {
    const n = checkCount('n', options.n, this.config.n, 64)
    const w = checkCount('w', options.w, Math.min(this.config.w, n), n)
    const timeoutMs = checkTimeout(options.timeoutMs, this.config.timeoutMs)
    const ctx = options.context ? decodeContext(options.context) : {}
    const ctxString = await this.hold(withAbort(routeWrite(this, key, value, ctx, { n, w, timeoutMs }), options.signal))
    return { context: ctxString as Context }
  }

  cluster(): ClusterInfo {
    const info = {
      id: this.id,
      config: { n: this.config.n, r: this.config.r, w: this.config.w, q: this.config.q },
      members: this.gossip.members().map((m) => ({
        id: m.id,
        status: m.status,
        weight: m.weight,
        reachable: this.isUp(m.id),
      })),
    }
    // The ring is placed when partitions are first read (ClusterInfo): an enumerable getter, so
    // spreading and JSON see a plain field; once read, the value stays.
    let partitions: NodeId[][] | undefined
    return Object.defineProperty(info, 'partitions', {
      enumerable: true,
      get: () => (partitions ??= this.ring().owners.map((o) => [...o])),
    }) as ClusterInfo
  }

  async stats(): Promise<NodeStats> {
    return { hints: this.store.hints, records: this.store.recordCount, sent: structuredClone(this.sent), rejected: this.rejected + this.gossip.refused, tooLarge: this.refusals.count, overloaded: { ...this.inbound.dropped, hints: this.store.hintsRefused } }
  }

  inspect(): NodeInspection {
    const roots: Record<number, string> = {}
    for (const p of this.store.heldPartitions()) roots[p] = toHex(this.store.tree(p).root())
    return {
      id: this.id,
      roots,
      records: this.store.recordCount,
      hints: this.store.hints,
      hintOwners: [...this.store.hintOwners()] as NodeId[],
      idle: this.idle(),
    }
  }

  on(handler: (ev: NodeEvent) => void): () => void
  on<T extends NodeEvent['type']>(type: T, handler: (ev: Extract<NodeEvent, { type: T }>) => void): () => void
  on(a: NodeEvent['type'] | ((ev: NodeEvent) => void), b?: (ev: never) => void): () => void {
    const handler = typeof a === 'function' ? a : (ev: NodeEvent) => void (ev.type === a && (b as (ev: NodeEvent) => void)(ev))
    if (typeof handler !== 'function' || (typeof a === 'string' && typeof b !== 'function')) throw new TypeError('on() takes a handler, or an event type and a handler')
    this.handlers.add(handler)
    return () => this.handlers.delete(handler)
  }
}

/**
 * Siblings with identical bytes are one value to a reader (a retried write can store the same value
 * under two dots); the context still covers both, so the next write supersedes both.
 */
function distinct(vs: Uint8Array[]): Uint8Array[] {
  if (vs.length < 2) return vs // nothing to compare: no hashing on the common path
  const seen = new Set<string>()
  return vs.filter((v) => {
    const k = toHex(hash(v))
    if (seen.has(k)) return false
    seen.add(k)
    return true
  })
}

/** About the encoded size of a set, for the recent-read budget (values plus a clock's worth per sibling), without encoding it. */
const sizeOfSet = (set: VersionSet): number => values(set).reduce((n, v) => n + v.length + 64, 64)
