/**
 * The public types of the simulated network (network.ts): its options, faults, counters, observer
 * events and the SimNetwork interface with its documented contract. Separate so the contract reads
 * on its own, apart from the implementation; network.ts and the dynamesh/sim entry re-export them.
 */
import type { Env, NodeId, SimulationHooks, Storage, Transport } from '../types.js'
import type { RunResult } from './scheduler.js'

/** Options of createSimNetwork (network.ts). Probabilities are per message, in [0, 1]. */
export interface SimOptions {
  seed: number
  /** One-way latency, uniform integer ms in [min, max]. Default [1, 5]. */
  latencyMs?: [number, number]
  loss?: number
  duplicate?: number
  /** Default true: each message draws its own latency, so messages overtake each other. False keeps each directed link FIFO. */
  reorder?: boolean
  /**
   * Largest message a transport carries; a longer one is refused: `send` throws
   * `DynameshError('MESSAGE_TOO_LARGE')`, as the WebRTC transport's does. Default: the hard message
   * cap of limits.ts, the WebRTC transport's default.
   */
  maxMessageBytes?: number
  /**
   * Open connections a node may hold at once, like the WebRTC transport's `maxConnections` (32
   * there). Sending to a peer without an open connection opens one; an end that is at the cap first
   * closes its least recently used connection, the sender's side as well as the receiver's. Every
   * message marks its connection used at both ends. Closes for the cap are silent (no onPeer down):
   * the peer stays reachable through signaling, as in webrtc.ts. Opening takes no time and draws no
   * random numbers. Default: unlimited; connections then open on a pair's first message and close
   * only when an end crashes or stops. Either way {@link SimNetwork.connections} counts them.
   */
  maxConnections?: number
}

/** Faults of one directed link; set values override the network-wide ones for that link. */
export interface LinkFaults {
  loss?: number
  latencyMs?: [number, number]
  /** The link carries nothing (a one-way partition). */
  down?: boolean
}

/** Network-wide faults, changeable during a run. */
export interface Faults {
  loss?: number
  duplicate?: number
  latencyMs?: [number, number]
}

/** What `join` hands out: everything `createNode` needs besides storage, all of one life of the node. */
export interface SimJoined {
  id: NodeId
  transport: Transport
  env: Env
  /** Holds that keep virtual time running, and the attach through which restart finds the node. */
  simulation: SimulationHooks
}

/** Counters since the network was created. `bytes` counts payload bytes of every send. */
export interface SimStats {
  sent: number
  /** Messages refused by `send` for being over `maxMessageBytes` (not in `sent`, `bytes` or `dropped`). */
  refused: number
  delivered: number
  dropped: number
  bytes: number
  events: number
}

/**
 * One node's connections (see `SimOptions.maxConnections`). A pair of nodes shares one connection,
 * counted at both ends. Counters run over the node's whole history, restarts included; its open
 * connections close when it crashes or stops.
 */
export interface SimConnections {
  /** Open now. */
  open: number
  /** Most open at once. */
  peak: number
  /** Distinct peers it ever held a connection with. */
  distinct: number
  /** Connections opened with it at either end, a reopening of a closed one included. */
  opened: number
}

/** A message seen by an observer (for traces and visualisations). `time` is virtual ms. */
export interface SimMessageEvent {
  type: 'send' | 'deliver' | 'drop'
  time: number
  from: string
  to: string
  size: number
  /** On `send`: the message's bytes (shared: do not modify). */
  data?: Uint8Array
  /**
   * Why a message was dropped: loss, partition, link-down, unknown, self, not-started (sender), down
   * (receiver on arrival); too-large when `send` refused it (the sender got MESSAGE_TOO_LARGE).
   */
  reason?: string
}

/** The simulated network. See createSimNetwork (network.ts). */
export interface SimNetwork {
  /** A new node slot; a second join of a live (not crashed, not stopped) id throws TypeError. */
  join(id: string): SimJoined
  /** Only nodes in the same group can talk; nodes not listed form one more group together. Silent: no onPeer events. */
  partition(...groups: string[][]): void
  /** Ends partitions and clears per-link faults; network-wide faults (setFaults) stay. */
  heal(): void
  setLink(from: string, to: string, opts: LinkFaults): void
  setFaults(opts: Faults): void
  /** Stops the node at once: timers cancelled, traffic dropped, `halt()` called, peers see it down. */
  crash(id: string, opts?: { loseStorage?: boolean }): void
  /**
   * Brings a crashed (or stopped) node back through `recreate` with a new env, transport and simulation hooks, and a new
   * empty memory storage if its storage was lost. Resolves with the new node; when nothing was
   * attached, with the new {@link SimJoined}.
   */
  restart(id: string): Promise<unknown>
  /** crash with loseStorage, then restart: a node whose disk died. */
  replace(id: string): Promise<unknown>
  /** The current node for id: the latest recreate result, or what the node attached. */
  node(id: string): unknown
  /**
   * Runs virtual time until every live node that has an `idle()` method has reported idle for
   * `quietMs` (default 5,000) in a row, or until `maxMs` (default 600,000) passed (`quiet: false`).
   * Rejects with an AggregateError if simulated code threw meanwhile (see `errors()`).
   */
  settle(opts?: { quietMs?: number; maxMs?: number }): Promise<RunResult>
  /** Runs exactly `ms` of virtual time; rejects like settle. */
  advance(ms: number): Promise<RunResult>
  /** Virtual time in ms since the Unix epoch; starts at SIM_EPOCH. Same clock as every env.now(). */
  now(): number
  stats(): SimStats
  /** Connection counters of one joined node; TypeError for an id never joined. */
  connections(id: string): SimConnections
  /** Every id ever joined, crashed ones included, in join order. */
  ids(): string[]
  /** Exceptions thrown by timers and handlers inside the simulation, in order. */
  errors(): unknown[]
  /** Watches every message; returns an unsubscribe. */
  observe(fn: (ev: SimMessageEvent) => void): () => void
  /**
   * Wraps a storage that does real I/O (LevelDB, IndexedDB) so virtual time stands still while its
   * calls are in flight, as if the disk took no time. Unwrapped, timers keep firing while the host
   * waits on the disk, and a held call can see seconds of virtual time pass during one write.
   * Memory storage needs no wrapping.
   */
  wrapStorage(storage: Storage): Storage
  /** Cancels everything: no event runs afterwards, pending runs resolve. */
  stop(): Promise<void>
}
