/**
 * The simulated mode's cluster: many dynamesh nodes in the page on `dynamesh/sim`, driven one
 * operation at a time (advance virtual time, crash, restart, wipe, partition, heal, put, get, ...).
 *
 * Replay: every operation, the advances included, is recorded in order in the script. Running the
 * same script from the same seed gives the same run event for event (DESIGN.md section 4), so the
 * event log and its fingerprint come out identical. Operations never overlap, and each one starts
 * only after the host's microtask queue drained (a macrotask in between), so a replay that runs
 * the script as fast as it can sees the same state at each step as the run that was clicked by hand.
 *
 * No DOM here: the page renders what this reports, and Node can drive it the same way.
 */
import { createNode, memoryStorage, type DynameshNode, type NodeEvent, type Storage } from 'dynamesh'
import { createSimNetwork, SIM_EPOCH, type SimNetwork } from 'dynamesh/sim'
import { describeWire, familyOf } from '../wire.js'
import { decodeSet, partitionOf, recordKey } from '../core.js'
import { Fingerprint } from './fingerprint.js'
import type { CallOpts, GetView, LogEntry, LogKind, NodeState, ReplicaView, SimOp, SimSettings, SimWire } from './types.js'
import { DEFAULT_SETTINGS } from './types.js'

export { DEFAULT_SETTINGS }
export type { CallOpts, GetView, LogEntry, LogKind, NodeState, ReplicaView, SimOp, SimSettings, SimWire }

const enc = new TextEncoder()
const dec = new TextDecoder()
/** Yields a macrotask: every microtask chain of the last operation finishes first. */
const macrotask = (): Promise<void> =>
  new Promise((resolve) => {
    if (typeof MessageChannel === 'function') {
      const ch = new MessageChannel()
      ch.port1.onmessage = () => {
        ch.port1.close()
        resolve()
      }
      ch.port2.postMessage(0)
    } else setTimeout(resolve, 0)
  })

const errText = (e: unknown): string => {
  const code = (e as { code?: unknown })?.code
  const msg = e instanceof Error ? e.message : String(e)
  return typeof code === 'string' ? `${code}: ${msg}` : msg
}

export class SimCluster {
  readonly settings: SimSettings
  readonly net: SimNetwork
  readonly ids: string[] = []
  readonly log: LogEntry[] = []
  readonly script: SimOp[] = []
  readonly fingerprint = new Fingerprint()
  readonly counters = { gossip: 0, puts: 0, gets: 0, storeAcks: 0, hintsStored: 0, hintsDelivered: 0, readRepairs: 0, merkleSessions: 0, merkleKeys: 0, transferKeys: 0, siblings: 0, dropped: 0 }
  /** Page calls with their virtual latency, for the ops/latency chart. */
  readonly calls: Array<{ t: number; ms: number; ok: boolean }> = []
  private readonly storages = new Map<string, Storage>()
  private readonly states = new Map<string, NodeState>()
  private readonly unsubs = new Map<string, () => void>()
  private readonly wireListeners = new Set<(w: SimWire) => void>()
  private readonly logListeners = new Set<(e: LogEntry) => void>()
  private readonly inflight = new Map<string, SimWire[]>()
  private sending: SimWire | undefined
  private wireSeq = 0
  private chain: Promise<unknown> = Promise.resolve()
  private busyCount = 0
  private writeBatches = 0
  private stopped = false

  private constructor(settings: SimSettings) {
    this.settings = settings
    this.net = createSimNetwork({ seed: settings.seed, latencyMs: settings.latencyMs })
    this.net.observe((ev) => {
      if (ev.type === 'send') return
      const key = `${ev.from}>${ev.to}`
      let w: SimWire | undefined
      if (ev.type === 'drop' && this.sending && this.sending.from === ev.from && this.sending.to === ev.to) w = this.sending
      else {
        const list = this.inflight.get(key)
        const i = list?.findIndex((x) => x.bytes === ev.size) ?? -1
        if (list && i >= 0) w = list.splice(i, 1)[0]
      }
      if (!w) return
      w.doneAt = ev.time - SIM_EPOCH
      if (ev.type === 'drop') {
        w.dropped = ev.reason ?? 'dropped'
        this.counters.dropped++
      }
      this.fingerprint.add(`${w.seq}${ev.type[0]}${w.doneAt}`)
    })
  }

  /** Creates the network and its nodes; the ring forms by gossip as time runs. */
  static async create(settings: SimSettings = DEFAULT_SETTINGS): Promise<SimCluster> {
    const c = new SimCluster(settings)
    for (let i = 1; i <= settings.nodes; i++) await c.spawn(`n${i}`, memoryStorage())
    return c
  }

  /** Virtual ms since the run began. */
  now(): number {
    return this.net.now() - SIM_EPOCH
  }

  node(id: string): DynameshNode {
    return this.net.node(id) as DynameshNode
  }

  state(id: string): NodeState {
    return this.states.get(id) ?? 'up'
  }

  /** True while an operation is running or queued. */
  busy(): boolean {
    return this.busyCount > 0
  }

  onWire(fn: (w: SimWire) => void): () => void {
    this.wireListeners.add(fn)
    return () => void this.wireListeners.delete(fn)
  }

  onLog(fn: (e: LogEntry) => void): () => void {
    this.logListeners.add(fn)
    return () => void this.logListeners.delete(fn)
  }

  /** Queues an operation; resolves with what it reports (a get's result, say) once it ran. */
  run<T = unknown>(op: SimOp): Promise<T | undefined> {
    this.busyCount++
    const p = this.chain.then(async () => {
      try {
        if (this.stopped) return undefined
        this.record(op)
        return (await this.apply(op)) as T | undefined
      } finally {
        await macrotask()
        this.busyCount--
      }
    })
    this.chain = p.catch(() => {})
    return p
  }

  /** Runs a recorded script, as fast as it goes. */
  async replay(script: readonly SimOp[]): Promise<void> {
    for (const op of script) {
      const times = op.op === 'advance' ? (op.times ?? 1) : 1
      for (let i = 0; i < times; i++) await this.run(op.op === 'advance' ? { op: 'advance', ms: op.ms } : op)
    }
  }

  async stop(): Promise<void> {
    this.stopped = true
    await this.chain
    for (const id of this.ids) {
      if (this.state(id) !== 'crashed') await this.node(id).stop().catch(() => {})
    }
    await this.net.stop()
  }

  /** What each replica of the key's partition holds, read straight from the simulated disks. */
  async replicas(key: string, ids: readonly string[]): Promise<ReplicaView[]> {
    const k = enc.encode(key)
    const rk = recordKey(partitionOf(k, this.settings.q), k)
    const out: ReplicaView[] = []
    for (const id of ids) {
      const s = this.storages.get(id)
      if (!s || this.state(id) === 'crashed') continue
      let raw: Uint8Array | undefined
      try {
        raw = await s.get(rk)
      } catch {
        raw = undefined
      }
      const hinted = this.node(id).inspect().hintOwners.length > 0
      if (!raw) {
        out.push({ id, siblings: [], hinted })
        continue
      }
      const set = decodeSet(raw)
      out.push({ id, hinted, siblings: set.siblings.map((s) => ({ value: s.value === null ? null : dec.decode(s.value), dot: `${s.dot.id}:${s.dot.n}` })) })
    }
    return out
  }

  // ---- internals ---------------------------------------------------------------------------------

  private record(op: SimOp): void {
    const last = this.script[this.script.length - 1]
    if (op.op === 'advance' && last?.op === 'advance' && last.ms === op.ms) last.times = (last.times ?? 1) + 1
    else this.script.push(op.op === 'advance' ? { op: 'advance', ms: op.ms } : { ...op })
  }

  private say(kind: LogKind, text: string, node?: string): void {
    const e: LogEntry = { t: this.now(), kind, text, ...(node ? { node } : {}) }
    this.log.push(e)
    this.fingerprint.add(`${e.t}|${kind}|${node ?? ''}|${text}`)
    for (const fn of this.logListeners) fn(e)
  }

  /** Starts a node on `storage` with a transport that reports every message it sends. */
  private async spawn(id: string, storage: Storage): Promise<DynameshNode> {
    const joined = this.net.join(id)
    const inner = joined.transport
    const transport = {
      ...inner,
      id: inner.id,
      start: () => inner.start(),
      stop: () => inner.stop(),
      onMessage: (h: Parameters<typeof inner.onMessage>[0]) => inner.onMessage(h),
      onPeer: (h: Parameters<typeof inner.onPeer>[0]) => inner.onPeer(h),
      peers: () => inner.peers?.() ?? [],
      send: (to: Parameters<typeof inner.send>[0], msg: Uint8Array) => this.sendVia(inner, id, to, msg),
    }
    const { n, r, w, q } = this.settings
    const node = await createNode({ id, storage, transport, env: joined.env, simulation: joined.simulation, n, r, w, q })
    this.storages.set(id, storage)
    if (!this.ids.includes(id)) this.ids.push(id)
    this.unsubs.get(id)?.()
    this.unsubs.set(id, node.on((ev) => this.onNodeEvent(id, ev)))
    return node
  }

  private sendVia(inner: { send(to: never, msg: Uint8Array): void }, from: string, to: string, msg: Uint8Array): void {
    const info = describeWire(msg)
    const w: SimWire = { seq: this.wireSeq++, from, to, bytes: msg.length, info, family: familyOf(info), sentAt: this.now() }
    if (info.type === 'gossip') this.counters.gossip++
    if (info.type === 'ae-roots') this.counters.merkleSessions++
    const key = `${from}>${to}`
    let list = this.inflight.get(key)
    if (!list) this.inflight.set(key, (list = []))
    list.push(w)
    this.sending = w
    this.fingerprint.add(`${w.seq}s${w.sentAt}${from}${to}${info.type}${w.bytes}`)
    try {
      inner.send(to as never, msg)
    } finally {
      this.sending = undefined
    }
    if (w.dropped !== undefined) list.splice(list.indexOf(w), 1)
    for (const fn of this.wireListeners) fn(w)
  }

  private onNodeEvent(id: string, ev: NodeEvent): void {
    switch (ev.type) {
      case 'hint-stored':
        this.counters.hintsStored++
        return this.say('hint', `${id} holds a hint for ${ev.for}: "${dec.decode(ev.key)}"`, id)
      case 'hint-delivered':
        this.counters.hintsDelivered += ev.count
        return this.say('handoff', `${id} handed ${ev.count} hint${ev.count === 1 ? '' : 's'} off to ${ev.to}`, id)
      case 'repair':
        if (ev.kind === 'read') this.counters.readRepairs += ev.keys
        if (ev.kind === 'merkle') this.counters.merkleKeys += ev.keys
        if (ev.kind === 'transfer') this.counters.transferKeys += ev.keys
        return this.say('repair', `${ev.kind} repair: ${id} → ${ev.peer}, ${ev.keys} key${ev.keys === 1 ? '' : 's'}, ${ev.bytes} B`, id)
      case 'member':
        return this.say('member', `${id} sees ${ev.id} ${ev.status}`, id)
      case 'reachable':
        return this.say('reachable', `${id} finds ${ev.id} ${ev.reachable ? 'reachable again' : 'unreachable'}`, id)
    }
  }

  private up(): string[] {
    return this.ids.filter((id) => this.state(id) !== 'crashed')
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
    const t0 = this.now()
    try {
      const v = await fn()
      this.calls.push({ t: this.now(), ms: this.now() - t0, ok: true })
      return v
    } catch (e) {
      this.calls.push({ t: this.now(), ms: this.now() - t0, ok: false })
      this.say('error', `${what} failed: ${errText(e)}`)
      return undefined
    }
  }

  private async apply(op: SimOp): Promise<unknown> {
    switch (op.op) {
      case 'advance':
        await this.net.advance(op.ms)
        return undefined
      case 'crash':
        if (this.state(op.id) === 'crashed') return undefined
        this.net.crash(op.id)
        this.states.set(op.id, 'crashed')
        this.say('action', `crash ${op.id} (its disk is kept)`, op.id)
        return undefined
      case 'restart':
      case 'wipe': {
        const wipe = op.op === 'wipe'
        if (this.state(op.id) !== 'crashed') this.net.crash(op.id)
        const storage = wipe ? memoryStorage() : (this.storages.get(op.id) ?? memoryStorage())
        this.say('action', wipe ? `wipe ${op.id}: it comes back with an empty disk` : `restart ${op.id} on its disk`, op.id)
        this.states.set(op.id, 'up')
        await this.spawn(op.id, storage)
        return undefined
      }
      case 'isolate':
        this.net.partition([op.id])
        for (const id of this.ids) if (this.state(id) === 'isolated') this.states.set(id, 'up')
        if (this.state(op.id) !== 'crashed') this.states.set(op.id, 'isolated')
        this.say('action', `partition: ${op.id} cut off from the others`, op.id)
        return undefined
      case 'split': {
        const half = Math.ceil(this.ids.length / 2)
        const a = this.ids.slice(0, half)
        const b = this.ids.slice(half)
        this.net.partition(a, b)
        for (const id of this.ids) if (this.state(id) !== 'crashed') this.states.set(id, 'isolated')
        this.say('action', `partition: {${a.join(' ')}} | {${b.join(' ')}}`)
        return undefined
      }
      case 'heal':
        this.net.heal()
        for (const id of this.ids) if (this.state(id) === 'isolated') this.states.set(id, 'up')
        this.say('action', 'heal: every link works again')
        return undefined
      case 'add': {
        const id = `n${this.ids.length + 1}`
        this.say('action', `${id} joins the cluster`, id)
        await this.spawn(id, memoryStorage())
        return undefined
      }
      case 'put': {
        this.counters.puts++
        this.say('action', `put "${op.key}" = "${op.value}" through ${op.via}${quorum(op)}`, op.via)
        const r = await this.call(`put "${op.key}"`, () => this.node(op.via).put(op.key, op.value, opts(op)))
        if (r) this.say('result', `put "${op.key}" acknowledged by W replicas`, op.via)
        return r
      }
      case 'delete': {
        this.say('action', `delete "${op.key}" through ${op.via}${quorum(op)}`, op.via)
        const r = await this.call(`delete "${op.key}"`, () => this.node(op.via).delete(op.key, opts(op)))
        if (r) this.say('result', `delete "${op.key}" acknowledged (a tombstone)`, op.via)
        return r
      }
      case 'get': {
        this.counters.gets++
        this.say('action', `get "${op.key}" through ${op.via}${quorum(op)}`, op.via)
        const r = await this.call(`get "${op.key}"`, () => this.node(op.via).get(op.key, opts(op)))
        if (!r) return undefined
        const view: GetView = { values: r.values.map((v) => dec.decode(v)), context: r.context, deleted: r.deleted }
        if (view.values.length > 1) this.counters.siblings++
        this.say('result', `get "${op.key}": ${view.values.length === 0 ? (view.deleted ? 'deleted' : 'not found') : view.values.map((v) => `"${v}"`).join(' | ')}`, op.via)
        return view
      }
      case 'writes': {
        const batch = ++this.writeBatches
        this.say('action', `write ${op.count} keys through ${op.via}`, op.via)
        let ok = 0
        for (let i = 0; i < op.count; i++) {
          const key = `user:${batch}.${i}`
          if (await this.call(`put "${key}"`, () => this.node(op.via).put(key, `profile ${batch}.${i}`))) ok++
        }
        this.counters.puts += op.count
        this.say('result', `${ok} of ${op.count} writes acknowledged; hints held: ${this.up().map((id) => `${id}=${this.node(id).inspect().hints}`).join(' ')}`)
        return ok
      }
      case 'siblings': {
        this.say('action', `concurrent blind writes to "${op.key}" through ${op.a} and ${op.b}`)
        await Promise.all([
          this.call(`put "${op.key}"`, () => this.node(op.a).put(op.key, `from ${op.a}`)),
          this.call(`put "${op.key}"`, () => this.node(op.b).put(op.key, `from ${op.b}`)),
        ])
        return undefined
      }
    }
  }
}

const opts = (o: CallOpts & { context?: string }): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const k of ['n', 'r', 'w', 'context'] as const) if (o[k] !== undefined && o[k] !== '') out[k] = o[k]
  return out
}
const quorum = (o: CallOpts): string => {
  const parts = (['n', 'r', 'w'] as const).filter((k) => o[k] !== undefined).map((k) => `${k.toUpperCase()}=${o[k]}`)
  return parts.length ? ` (${parts.join(' ')})` : ''
}
