/**
 * The public shape of a dynamesh node. Types only; `createNode` in `src/node/` implements it.
 */
import type { Env, NodeId, SimulationHooks, Storage, Transport } from './types.js'

/** Opaque causal context from a get; hand it back to put/delete to supersede what was read. */
export type Context = string & { readonly __brand: 'Context' }

export type Key = string | Uint8Array
export type Value = string | Uint8Array

export interface CallOptions {
  /** Abort the call; it rejects with the signal's reason. */
  signal?: AbortSignal
  /** Give up after this many milliseconds (code TIMEOUT). */
  timeoutMs?: number
  /** Replicas for this call; defaults to the cluster's N. */
  n?: number
}

export interface GetOptions extends CallOptions {
  /** Replies needed before answering; defaults to the cluster's R. */
  r?: number
  /**
   * When fewer than R replicas can answer, answer from what this node holds (its replicas, its
   * hints, values it read recently) with `stale: true` instead of failing. Default: the node's
   * `staleReads` option.
   */
  allowStale?: boolean
}

export interface PutOptions extends CallOptions {
  /** Context from a get; without one the put is a blind write and may create a sibling. */
  context?: Context
  /** Durable acknowledgements needed; defaults to the cluster's W. */
  w?: number
}

export interface GetResult {
  /** Every concurrent value (siblings); `[]` when absent or deleted. */
  values: Uint8Array[]
  /** Causal context of everything read, deletes included. */
  context: Context
  /** True when a tombstone was read (the key existed and was deleted). */
  deleted: boolean
  /**
   * True when the quorum could not be reached and this is what the node itself knew (see
   * `allowStale`): possibly out of date, and `[]` may mean "not known here" rather than absent.
   */
  stale: boolean
}

export interface MemberInfo {
  id: NodeId
  status: 'joining' | 'up' | 'leaving' | 'left'
  weight: number
  /** This node's local failure detector's opinion. */
  reachable: boolean
}

export interface ClusterInfo {
  id: NodeId
  config: { n: number; r: number; w: number; q: number }
  members: MemberInfo[]
  /**
   * For each partition, the ids of its N primary replicas, in preference order. Computed when first
   * read (placing every member on the ring costs what the cluster's size does; a caller that wants
   * the members only does not pay for it), from the ring as it is then: read it in the same turn as
   * the call for a snapshot that agrees with `members`.
   */
  partitions: NodeId[][]
}

export interface NodeStats {
  /** Hints held for other nodes. */
  hints: number
  /** Records held in this node's own partitions. */
  records: number
  /** Messages and bytes sent, by message type. */
  sent: Record<string, { count: number; bytes: number }>
  /** Messages dropped because they failed validation. */
  rejected: number
  /** Messages the transport refused to carry for their size (MESSAGE_TOO_LARGE); each key is reported once by a `too-large` event. */
  tooLarge: number
  /**
   * Inbound work dropped by the per-peer limits: messages past the per-second budget, stores past
   * the byte budget, hints refused because their owner had MAX_HINTS_PER_OWNER already.
   */
  overloaded: { rate: number; queued: number; hints: number }
}

export interface NodeOptions {
  /** Node id; required with the simulated network, derived from the identity key otherwise. */
  id?: string
  storage: Storage
  transport: Transport
  env?: Env
  /** The simulated network's hooks for this node's life; `SimNetwork.join` hands them out with the env. Real nodes leave it unset. */
  simulation?: SimulationHooks
  n?: number
  r?: number
  w?: number
  /** Partitions in the ring (power of two, same on every node). Default 256. */
  q?: number
  /**
   * Capacity relative to other nodes; the share of partitions grows with it. Default 1. Weight 0 makes
   * a client: a member that coordinates its own calls (and keeps hints while offline) but holds no
   * partitions, for tabs that should not carry other people's data.
   */
  weight?: number
  /** Ids to gossip with first. */
  seeds?: string[]
  /** Largest value accepted, in bytes. Default 1 MiB; at most `maxRecordBytes` (limits.ts). */
  maxValueBytes?: number
  /** A write that would grow its key's encoded version set past this is refused (RECORD_TOO_LARGE). Default and most 4 MiB. */
  maxRecordBytes?: number
  /** A write that would leave its key more siblings than this is refused (TOO_MANY_SIBLINGS). Default and most 100. */
  maxSiblings?: number
  /** Reads that cannot reach R replicas answer from local knowledge, flagged `stale` (see GetOptions). Default false. */
  staleReads?: boolean
  /**
   * Share of gets, in [0, 1], that ask all N replicas so read repair reaches each of them. The others
   * ask R replicas first and the rest only when those are slow, fail or all answer "absent" (hedged
   * reads: fewer messages per get; anti-entropy repairs the replicas not asked). Default 0.1.
   */
  readRepairChance?: number
  /** Default per-call timeout. Default 2000 ms. */
  timeoutMs?: number
  /** Periods of the background tasks, in ms. */
  gossipMs?: number
  antiEntropyMs?: number
  handoffMs?: number
  /** A member unreachable for this long is marked left and its partitions move. Default 24 h. */
  removeAfterMs?: number
  /**
   * Tombstone collection horizon. A tombstone at least this old, once every replica of its
   * partition is known (through anti-entropy) to hold it, leaves sync as a grave. Default 10 days.
   */
  tombstoneMs?: number
  /**
   * How long a grave stays after burial (then it is deleted, once every replica is shown to hold
   * nothing it lacks). Out of sync, a grave still turns a stale copy of the value it deleted into
   * the delete: a replica that was away (expired by the others after removeAfterMs) or a hint held
   * by a node that was down, coming back within tombstoneMs + graveMs of the delete, brings nothing
   * back; later than that, it brings the value back. Default 9 × tombstoneMs (100 days in all).
   */
  graveMs?: number
}

/** Kinds of things a node reports as they happen (for logs and the demo page). */
export type NodeEvent =
  | { type: 'member'; id: NodeId; status: MemberInfo['status'] }
  | { type: 'reachable'; id: NodeId; reachable: boolean }
  | { type: 'hint-stored'; for: NodeId; key: Uint8Array }
  | { type: 'hint-delivered'; to: NodeId; count: number }
  | { type: 'repair'; kind: 'read' | 'merkle' | 'transfer'; peer: NodeId; keys: number; bytes: number }
  /** A new version of `key` reached this node's store: as a replica, or as a hint held for `hintFor`. */
  | { type: 'change'; key: Uint8Array; hintFor?: NodeId }
  /** The transport refused a message for its size; `keys` are those not reported before (once per key). */
  | { type: 'too-large'; peer: NodeId; message: string; bytes: number; keys: Uint8Array[]; detail: string }

export interface NodeInspection {
  id: NodeId
  /** Hex Merkle root of every partition this node holds records of. */
  roots: Record<number, string>
  records: number
  hints: number
  /** Owners this node holds hints for. */
  hintOwners: NodeId[]
  /** True when the node has nothing to do (no calls, hints to deliver, transfers, repairs). */
  idle: boolean
}

export interface DynameshNode {
  readonly id: NodeId
  get(key: Key, options?: GetOptions): Promise<GetResult>
  put(key: Key, value: Value, options?: PutOptions): Promise<{ context: Context }>
  delete(key: Key, options?: PutOptions): Promise<{ context: Context }>
  cluster(): ClusterInfo
  stats(): Promise<NodeStats>
  /** What this node holds: Merkle roots of its partitions, counts, hints (for tests and the demo page). */
  inspect(): NodeInspection
  /** Every event, or the events of one type (`node.on('change', ...)`). Returns an unsubscribe function. */
  on(handler: (ev: NodeEvent) => void): () => void
  on<T extends NodeEvent['type']>(type: T, handler: (ev: Extract<NodeEvent, { type: T }>) => void): () => void
  /**
   * Moves this node's data to the remaining owners, marks it left, makes sure a peer heard that, and
   * stops. Waits while this node is cut off from every peer; `stop()` abandons it.
   */
  leave(): Promise<void>
  stop(): Promise<void>
}
