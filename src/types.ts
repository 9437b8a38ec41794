/**
 * The three boundaries of a dynamesh node: where bytes are kept (Storage), how messages travel
 * (Transport) and where time and randomness come from (Env). Types only; adapters implement them.
 */

/** A node's identity on the ring and on the wire. */
export type NodeId = string & { readonly __brand: 'NodeId' }

/** Brands a string as a NodeId (no validation beyond type). */
export const asNodeId = (s: string): NodeId => s as NodeId

export type BatchOp =
  | { type: 'put'; key: Uint8Array; value: Uint8Array }
  | { type: 'del'; key: Uint8Array }

/** Ordered byte keys, byte values, atomic batches. A resolved `batch` is durable. */
export interface Storage {
  get(key: Uint8Array): Promise<Uint8Array | undefined>
  batch(ops: BatchOp[]): Promise<void>
  /** Keys in ascending byte order within [gte, lt). */
  iterate(range: { gte?: Uint8Array; lt?: Uint8Array }): AsyncIterable<[Uint8Array, Uint8Array]>
  close(): Promise<void>
}

/** Messages between node ids. Delivery is not guaranteed; order is not guaranteed. */
export interface Transport {
  readonly id: NodeId
  start(): Promise<void>
  stop(): Promise<void>
  /**
   * Sends `msg` to `to`, best effort: loss, a closed connection or a full queue are silent, as on
   * any network. The one refusal a caller hears of is a message this transport can never carry:
   * longer than its message limit (limits.ts), it throws `DynameshError('MESSAGE_TOO_LARGE')` and
   * counts it, sending nothing.
   */
  send(to: NodeId, msg: Uint8Array): void
  onMessage(handler: (from: NodeId, msg: Uint8Array) => void): void
  /** Connection-level news: a peer became reachable (up) or its connection closed (down). */
  onPeer(handler: (ev: { id: NodeId; up: boolean }) => void): void
  /** Ids this transport can currently introduce (e.g. peers announced by signaling). Optional. */
  peers?(): NodeId[]
  /**
   * How this node signs its member entry and checks others' (membership gossip). A transport that
   * proves ids (the WebRTC handshake, the simulation) provides it; without it entries travel
   * unsigned and any peer could forge them.
   */
  readonly auth?: MemberAuth
}

/** Signs and checks member entries: a member's id is proven by its public key. */
export interface MemberAuth {
  /** This node's public key; its id is derived from it. */
  readonly publicKey: Uint8Array
  /** Signs `message` with this node's secret key. */
  sign(message: Uint8Array): Uint8Array
  /** True when `sig` over `message` verifies under `key`, and `key` proves `id`. */
  verify(id: string, key: Uint8Array, message: Uint8Array, sig: Uint8Array): boolean
}

export type Cancel = () => void

/** Time, timers and randomness, injected so the core never reads the clock itself. */
export interface Env {
  /** Milliseconds; wall clock in real envs, virtual in the simulation. */
  now(): number
  setTimer(ms: number, fn: () => void): Cancel
  /** Uniform in [0, 1). */
  random(): number
  /**
   * Marks that a caller is waiting on this node (a get, put, delete, stop...). The simulation
   * advances virtual time only while something is held; real envs return a no-op.
   */
  hold?(): () => void
  /** Called by createNode so a simulation can crash and restart the node it created. */
  attach?(node: AttachedNode): void
}

/** What a simulation needs from a node it can crash and bring back. */
export interface AttachedNode {
  readonly id: NodeId
  /** Drop all in-memory state at once, as a crash would: no flush, pending calls fail. */
  halt(): void
  /** Creates the node again with the same options, or with overrides (a new storage, env, transport). */
  recreate(overrides: { storage?: Storage; env?: Env; transport?: Transport }): Promise<unknown>
}
