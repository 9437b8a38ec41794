/**
 * The seeded simulated network (DESIGN.md section 4): many nodes in one process, each with its own
 * Env (virtual time, timers, a seeded random stream), Transport and simulation hooks (holds that
 * keep virtual time running, the attach restart needs), joined by a network with latency,
 * loss, duplication, reordering, partitions, per-link faults, crashes and restarts. Same seed + same
 * test code + memory storage ⇒ the same run, event for event.
 *
 * Connections: a pair of nodes opens one on its first message and it closes when either end crashes
 * or stops. `maxConnections` caps how many a node holds, like the WebRTC transport: past the cap
 * the least recently used one closes, silently (the peer stays reachable, as through signaling).
 * The bookkeeping draws no random numbers, so a seed replays the same run with or without a cap.
 * `connections(id)` reports each node's open, peak, distinct and opened counts.
 */
import { DynameshError } from '../errors.js'
import { HARD_MESSAGE_BYTES } from '../limits.js'
import { memoryStorage } from '../storage/memory.js'
import { asNodeId, type AttachedNode, type Cancel, type Env, type NodeId, type SimulationHooks, type Transport } from '../types.js'
import { simAuth, simSecret } from './auth.js'
import { randomInt, seededRandom } from './random.js'
import { Scheduler, type RunResult, type SimEvent } from './scheduler.js'
import type { Faults, LinkFaults, SimJoined, SimMessageEvent, SimNetwork, SimOptions } from './types.js'

export { SIM_EPOCH } from './scheduler.js'
export type { Faults, LinkFaults, SimConnections, SimJoined, SimMessageEvent, SimNetwork, SimOptions, SimStats } from './types.js'

type MessageHandler = (from: NodeId, msg: Uint8Array) => void
type PeerHandler = (ev: { id: NodeId; up: boolean }) => void

/** One life of a node: a crash or rejoin makes a new one, and the old env, transport and hooks go dead. */
interface Life {
  alive: boolean
  started: boolean
  stopped: boolean
  readonly timers: Set<SimEvent>
  readonly holds: Set<() => void>
  readonly onMessage: MessageHandler[]
  readonly onPeer: PeerHandler[]
  env: Env
  transport: Transport
  simulation: SimulationHooks
}

/** A node's connections: open ones by peer, least recently used first (a Map keeps insertion order). */
interface Conns {
  readonly open: Map<NodeId, Slot>
  readonly ever: Set<NodeId>
  peak: number
  opened: number
}

interface Slot {
  readonly id: NodeId
  /** Kept across lives: the counters describe the id's whole history. */
  readonly conns: Conns
  lives: number
  cur: Life
  attached: AttachedNode | undefined
  node: unknown
  loseStorage: boolean
}

const noop: Cancel = () => {}

function checkProb(p: number | undefined, what: string): void {
  if (p !== undefined && !(p >= 0 && p <= 1)) throw new TypeError(`${what} must be a probability in [0, 1]`)
}
function checkLatency(l: [number, number] | undefined): void {
  if (l !== undefined && !(Array.isArray(l) && l[0] >= 0 && l[1] >= l[0])) throw new TypeError('latencyMs must be [min, max] with 0 <= min <= max')
}

/** Creates a simulated network. Everything it does is determined by `opts.seed` and the calls made on it. */
export function createSimNetwork(opts: SimOptions): SimNetwork {
  if (typeof opts?.seed !== 'number' || !Number.isFinite(opts.seed)) throw new TypeError('seed must be a finite number')
  checkProb(opts.loss, 'loss')
  checkProb(opts.duplicate, 'duplicate')
  checkLatency(opts.latencyMs)
  const maxMessageBytes = opts.maxMessageBytes ?? HARD_MESSAGE_BYTES
  if (!Number.isInteger(maxMessageBytes) || maxMessageBytes < 1) throw new TypeError('maxMessageBytes must be a positive whole number')
  const maxConnections = opts.maxConnections ?? Infinity
  if (opts.maxConnections !== undefined && !(Number.isInteger(maxConnections) && maxConnections >= 1)) {
    throw new TypeError('maxConnections must be a positive whole number')
  }
  const seed = opts.seed
  const sched = new Scheduler()
  const rng = seededRandom(seed, 'net')
  const secret = simSecret(seed)
  const faults: Required<Faults> = { loss: opts.loss ?? 0, duplicate: opts.duplicate ?? 0, latencyMs: opts.latencyMs ?? [1, 5] }
  const fifo = opts.reorder === false
  const slots = new Map<string, Slot>()
  const links = new Map<string, LinkFaults>()
  const lastArrival = new Map<string, number>()
  const observers = new Set<(ev: SimMessageEvent) => void>()
  let groups: Map<string, number> | undefined
  const counts = { sent: 0, refused: 0, delivered: 0, dropped: 0, bytes: 0 }

  const linkKey = (from: string, to: string): string => `${from}\u0000${to}`
  const up = (slot: Slot, life: Life): boolean => slot.cur === life && life.alive && life.started && !life.stopped
  const guard = (fn: () => void): void => {
    try {
      fn()
    } catch (e) {
      sched.report(e)
    }
  }
  const emit = (ev: SimMessageEvent): void => {
    for (const o of observers) {
      try {
        o(ev)
      } catch (e) {
        sched.report(e)
      }
    }
  }
  const drop = (from: string, to: string, size: number, reason: string): void => {
    counts.dropped++
    emit({ type: 'drop', time: sched.now, from, to, size, reason })
  }
  /** Why `from` cannot reach `to` right now, if it cannot. */
  const blocked = (from: string, to: string): string | undefined => {
    if (groups !== undefined && (groups.get(from) ?? -1) !== (groups.get(to) ?? -1)) return 'partition'
    if (links.get(linkKey(from, to))?.down === true) return 'link-down'
    return undefined
  }
  /**
   * The live started nodes' ids, in join order, kept until one starts, stops, crashes or rejoins:
   * every node asks for its peers now and then, and at thousands of nodes a fresh list per question
   * was most of what those questions cost.
   */
  let liveIds: NodeId[] | undefined
  const liveChanged = (): void => void (liveIds = undefined)
  const liveStarted = (): Slot[] => [...slots.values()].filter((s) => up(s, s.cur))
  const live = (): NodeId[] => (liveIds ??= liveStarted().map((s) => s.id))
  // Connection news reaches a node asynchronously, as it would over a socket.
  /**
   * Tells every other live node that `slot` came up or went down: one event that tells them in
   * turn, as many events one after another would (nothing else runs between them), not one event
   * per node: a join into thousands of nodes would otherwise schedule thousands of events.
   */
  const announce = (slot: Slot, isUp: boolean): void => {
    const others: Slot[] = [], lives: Life[] = []
    for (const o of slots.values()) {
      if (o !== slot && up(o, o.cur)) {
        others.push(o)
        lives.push(o.cur)
      }
    }
    if (others.length === 0) return
    const ev = { id: slot.id, up: isUp }
    sched.schedule(0, () => {
      for (let i = 0; i < others.length; i++) {
        const life = lives[i]!
        if (!up(others[i]!, life)) continue
        for (const h of life.onPeer) {
          try {
            h({ ...ev })
          } catch (e) {
            sched.report(e)
          }
        }
      }
    })
  }

  const disconnect = (a: Slot, b: Slot): void => {
    a.conns.open.delete(b.id)
    b.conns.open.delete(a.id)
  }
  /** A crashed or stopped node's connections reset, at both ends. */
  const disconnectAll = (slot: Slot): void => {
    for (const peer of [...slot.conns.open.values()]) disconnect(slot, peer)
  }
  /**
   * A message from a to b uses their connection, opening it first if needed. Each end at the cap
   * closes its least recently used connection to make room, as webrtc.ts's evict() does; neither
   * victim can be the other end, which has no connection with it yet. No onPeer events: a peer
   * dropped for the cap is still reachable (webrtc.ts: up = announced || ready).
   */
  const useConnection = (a: Slot, b: Slot): void => {
    if (a.conns.open.has(b.id)) {
      // Delete and re-insert: the connection moves to the most recently used end of both Maps.
      disconnect(a, b)
    } else {
      if (a.conns.open.size >= maxConnections) disconnect(a, a.conns.open.values().next().value!)
      if (b.conns.open.size >= maxConnections) disconnect(b, b.conns.open.values().next().value!)
      opened(a, b)
      opened(b, a)
    }
    // Once per message: no arrays of ends to allocate.
    reopen(a, b)
    reopen(b, a)
  }
  const opened = (end: Slot, other: Slot): void => {
    end.conns.opened++
    end.conns.ever.add(other.id)
  }
  const reopen = (end: Slot, other: Slot): void => {
    end.conns.open.set(other.id, other)
    end.conns.peak = Math.max(end.conns.peak, end.conns.open.size)
  }

  function send(slot: Slot, life: Life, to: string, msg: Uint8Array): void {
    if (!(msg instanceof Uint8Array)) throw new TypeError('send() takes a Uint8Array')
    if (msg.length > maxMessageBytes) {
      // What a real transport refuses is refused here too, loudly: never a silent drop.
      counts.refused++
      emit({ type: 'drop', time: sched.now, from: slot.id, to, size: msg.length, reason: 'too-large' })
      throw new DynameshError('MESSAGE_TOO_LARGE', `message of ${msg.length} bytes to ${to} is over the transport's limit of ${maxMessageBytes} bytes`)
    }
    counts.sent++
    counts.bytes += msg.length
    const from = slot.id
    emit({ type: 'send', time: sched.now, from, to, size: msg.length, data: msg })
    if (!up(slot, life)) return drop(from, to, msg.length, 'not-started')
    const dst = slots.get(to)
    // A real transport cannot talk to itself; dropping here surfaces code that assumes it can.
    if (dst === undefined || dst === slot) return drop(from, to, msg.length, dst === undefined ? 'unknown' : 'self')
    const why = blocked(from, to)
    if (why !== undefined) return drop(from, to, msg.length, why)
    // A node that is down takes no connection; the message is dropped on arrival as before.
    if (up(dst, dst.cur)) useConnection(slot, dst)
    const link = links.get(linkKey(from, to))
    if (rng() < (link?.loss ?? faults.loss)) return drop(from, to, msg.length, 'loss')
    const copy = msg.slice()
    const target = dst.cur
    deliverLater(slot.id, life, dst, target, copy, link)
    if (faults.duplicate > 0 && rng() < faults.duplicate) deliverLater(slot.id, life, dst, target, copy.slice(), link)
  }

  function deliverLater(from: NodeId, sender: Life, dst: Slot, target: Life, msg: Uint8Array, link: LinkFaults | undefined): void {
    const [lo, hi] = link?.latencyMs ?? faults.latencyMs
    let at = sched.now + randomInt(rng, lo, hi)
    if (fifo) {
      // Never earlier than the previous message on this link: ties then break by sequence number.
      const key = linkKey(from, dst.id)
      at = Math.max(at, lastArrival.get(key) ?? 0)
      lastArrival.set(key, at)
    }
    sched.schedule(at - sched.now, () => {
      // Checked again on arrival: a crash resets the connection and a partition cuts what is in flight.
      // A crashed sender's too: over a real connection nothing arrives after the peer saw it close,
      // and a message that did would tell the receiver's failure detector the dead node is alive.
      if (!up(dst, target) || !sender.alive) return drop(from, dst.id, msg.length, 'down')
      const why = blocked(from, dst.id)
      if (why !== undefined) return drop(from, dst.id, msg.length, why)
      counts.delivered++
      emit({ type: 'deliver', time: sched.now, from, to: dst.id, size: msg.length })
      const handlers = target.onMessage
      for (let i = 0; i < handlers.length; i++) {
        try {
          handlers[i]!(from, i === 0 ? msg : msg.slice())
        } catch (e) {
          sched.report(e)
        }
      }
    })
  }

  function newLife(slot: Slot): Life {
    const n = slot.lives++
    const life: Life = {
      alive: true, started: false, stopped: false,
      timers: new Set(), holds: new Set(), onMessage: [], onPeer: [],
      env: undefined as unknown as Env, transport: undefined as unknown as Transport, simulation: undefined as unknown as SimulationHooks,
    }
    const current = (): boolean => slot.cur === life && life.alive
    life.env = {
      now: () => sched.now,
      random: seededRandom(seed, `node:${slot.id}#${n}`),
      setTimer(ms, fn) {
        // A dead node's code may still run (pending promises); its timers must never fire.
        if (!current()) return noop
        const ev = sched.schedule(ms, () => {
          life.timers.delete(ev)
          fn()
        })
        life.timers.add(ev)
        return () => {
          if (life.timers.delete(ev)) sched.cancel(ev)
        }
      },
    }
    life.simulation = {
      hold() {
        if (!current()) return noop
        const release = sched.hold()
        life.holds.add(release)
        return () => {
          life.holds.delete(release)
          release()
        }
      },
      attach(node) {
        if (slot.cur !== life) return
        slot.attached = node
        slot.node = node
      },
    }
    life.transport = {
      id: slot.id,
      async start() {
        if (!current()) throw new DynameshError('NOT_RUNNING', `simulated node ${slot.id} has crashed`)
        if (life.started) return
        life.started = true
        life.stopped = false
        liveChanged()
        // Each side hears of the other: the others of this node (one event), this node of each of
        // them (one event, in the same order as before).
        const others = liveStarted().filter((o) => o !== slot)
        announce(slot, true)
        if (others.length > 0) {
          sched.schedule(0, () => {
            for (const other of others) {
              if (!up(slot, life)) return
              for (const h of life.onPeer) guard(() => h({ id: other.id, up: true }))
            }
          })
        }
      },
      async stop() {
        if (!up(slot, life)) return
        life.started = false
        life.stopped = true
        liveChanged()
        disconnectAll(slot)
        announce(slot, false)
      },
      send: (to, msg) => send(slot, life, to, msg),
      onMessage: (h) => void life.onMessage.push(h),
      onPeer: (h) => void life.onPeer.push(h),
      peers: () => (up(slot, life) ? live().filter((id) => id !== slot.id) : []),
      auth: simAuth(secret, slot.id),
    }
    return life
  }

  const slotOf = (id: string): Slot => {
    const slot = slots.get(id)
    if (slot === undefined) throw new TypeError(`no simulated node ${id}`)
    return slot
  }
  const joined = (slot: Slot): SimJoined => ({ id: slot.id, transport: slot.cur.transport, env: slot.cur.env, simulation: slot.cur.simulation })

  /** Ends a life: its timers never fire, and its callers' holds no longer keep time running. */
  function kill(life: Life): void {
    liveChanged()
    life.alive = false
    life.started = false
    for (const ev of life.timers) sched.cancel(ev)
    life.timers.clear()
    for (const release of life.holds) release()
    life.holds.clear()
  }

  function crash(id: string, o: { loseStorage?: boolean } = {}): void {
    const slot = slotOf(id)
    const life = slot.cur
    if (o.loseStorage === true) slot.loseStorage = true
    if (!life.alive) return
    const wasUp = up(slot, life)
    kill(life)
    disconnectAll(slot)
    if (wasUp) announce(slot, false)
    if (slot.attached !== undefined) guard(() => slot.attached!.halt())
  }

  async function restart(id: string): Promise<unknown> {
    const slot = slotOf(id)
    if (slot.cur.alive && !slot.cur.stopped) throw new TypeError(`simulated node ${id} is running: crash it first`)
    kill(slot.cur)
    const life = newLife(slot)
    slot.cur = life
    const lose = slot.loseStorage
    slot.loseStorage = false
    const attached = slot.attached
    if (attached === undefined) return joined(slot)
    // Recreating may itself wait on virtual time (reading storage, starting): keep the clock running.
    const release = sched.hold()
    try {
      const node = await attached.recreate({ env: life.env, transport: life.transport, simulation: life.simulation, ...(lose ? { storage: memoryStorage() } : {}) })
      if (slot.cur === life) slot.node = node
      return node
    } finally {
      release()
    }
  }

  async function run(o: { ms: number; quietMs?: number; idle?: () => boolean }): Promise<RunResult> {
    const before = sched.errors.length
    const result = await sched.run(o)
    const errs = sched.errors.slice(before)
    if (errs.length > 0) throw new AggregateError(errs, `${errs.length} exception(s) inside the simulation; see net.errors()`)
    return result
  }

  const allIdle = (): boolean => {
    for (const slot of slots.values()) {
      if (!slot.cur.alive || slot.cur.stopped) continue
      const n = slot.node as { idle?: () => boolean } | undefined
      if (typeof n?.idle === 'function' && !n.idle()) return false
    }
    return true
  }

  return {
    join(id) {
      if (typeof id !== 'string' || id === '') throw new TypeError('join() needs a non-empty id')
      const old = slots.get(id)
      if (old !== undefined && old.cur.alive && !old.cur.stopped) throw new TypeError(`simulated node ${id} already joined`)
      const slot: Slot = old ?? {
        id: asNodeId(id), conns: { open: new Map(), ever: new Set(), peak: 0, opened: 0 },
        lives: 0, cur: undefined as unknown as Life, attached: undefined, node: undefined, loseStorage: false,
      }
      if (old !== undefined) {
        kill(old.cur)
        Object.assign(old, { attached: undefined, node: undefined, loseStorage: false })
      }
      slot.cur = newLife(slot)
      slots.set(id, slot)
      return joined(slot)
    },
    partition(...gs) {
      const m = new Map<string, number>()
      gs.forEach((g, i) => {
        for (const id of g) {
          if (m.has(id)) throw new TypeError(`${id} is in two partition groups`)
          m.set(id, i)
        }
      })
      groups = m
    },
    heal() {
      groups = undefined
      links.clear()
    },
    setLink(from, to, o) {
      checkProb(o.loss, 'loss')
      checkLatency(o.latencyMs)
      links.set(linkKey(from, to), { ...links.get(linkKey(from, to)), ...o })
    },
    setFaults(o) {
      checkProb(o.loss, 'loss')
      checkProb(o.duplicate, 'duplicate')
      checkLatency(o.latencyMs)
      Object.assign(faults, Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)))
    },
    crash,
    restart,
    async replace(id) {
      crash(id, { loseStorage: true })
      return restart(id)
    },
    node: (id) => slots.get(id)?.node,
    settle: (o = {}) => run({ ms: o.maxMs ?? 600_000, quietMs: o.quietMs ?? 5_000, idle: allIdle }),
    advance: (ms) => run({ ms }),
    now: () => sched.now,
    stats: () => ({ ...counts, events: sched.executed }),
    connections(id) {
      const c = slotOf(id).conns
      return { open: c.open.size, peak: c.peak, distinct: c.ever.size, opened: c.opened }
    },
    ids: () => [...slots.keys()],
    errors: () => [...sched.errors],
    observe(fn) {
      observers.add(fn)
      return () => void observers.delete(fn)
    },
    wrapStorage(s) {
      const track = <T>(p: Promise<T>): Promise<T> => sched.track(p)
      return {
        get: (key) => track(s.get(key)),
        batch: (ops) => track(s.batch(ops)),
        close: () => track(s.close()),
        iterate: (range) => ({
          [Symbol.asyncIterator]() {
            const it = s.iterate(range)[Symbol.asyncIterator]()
            return {
              next: () => track(it.next()),
              return: async (v?: unknown) => (it.return === undefined ? { done: true as const, value: v } : track(it.return(v))),
            }
          },
        }),
      }
    },
    async stop() {
      sched.stop()
      for (const slot of slots.values()) kill(slot.cur)
    },
  }
}
