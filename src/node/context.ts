/**
 * What the parts of a node (coordinator, gossip, handoff, anti-entropy) share: the node's id, its
 * store, its view of the ring and of who is reachable, and the way to talk to peers.
 */
import type { NodeEvent } from '../api.js'
import type { FailureDetector } from '../core/detector.js'
import type { Ring } from '../core/ring.js'
import type { Env, NodeId, Transport } from '../types.js'
import type { Msg } from '../wire/messages.js'
import type { Rpc } from './rpc.js'
import type { ReplicaStore } from './store.js'

export interface NodeConfig {
  n: number
  r: number
  w: number
  q: number
  weight: number
  timeoutMs: number
  maxValueBytes: number
  /** Largest record a write may produce, encoded; default and most limits.ts MAX_RECORD_BYTES. */
  maxRecordBytes?: number
  /** Most siblings a write may leave; default and most limits.ts MAX_SIBLINGS. */
  maxSiblings?: number
  gossipMs: number
  antiEntropyMs: number
  handoffMs: number
  removeAfterMs: number
  /** Collection horizon: a tombstone is kept at least this long before it becomes a grave (collect.ts). */
  tombstoneMs: number
  /** A grave is kept at least this long after burial (collect.ts). */
  graveMs: number
  /** Share of gets that ask every replica, for read repair; the others ask R first (coordinator.ts). */
  readRepairChance?: number
  /** Reads without a quorum answer from local knowledge, flagged stale. */
  staleReads: boolean
}

export interface NodeContext {
  readonly id: NodeId
  readonly env: Env
  readonly config: NodeConfig
  readonly store: ReplicaStore
  readonly rpc: Rpc
  readonly detector: FailureDetector
  readonly transport: Transport
  /** The ring as this node currently sees it. */
  /**
   * The ring as this node sees it. Background work that tolerates a ring a little behind the view
   * (anti-entropy) passes `maxAgeMs`: a rebuild a membership change calls for may then wait until
   * the current ring is that old, so a burst of joins does not cost a rebuild per round.
   */
  ring(maxAgeMs?: number): Ring
  /** The status a member has in this node's view, if it is known. */
  memberStatus(id: NodeId): 'joining' | 'up' | 'leaving' | 'left' | undefined
  /** Reachable in this node's opinion (itself always). */
  isUp(id: NodeId): boolean
  /** The replica id this node stamps on the versions it coordinates now. */
  dotId(): string
  /** Starts a new dot id, before state that carried the old one is deleted. */
  newEpoch(): Promise<void>
  /**
   * Sends a message; silent about loss. Throws `DynameshError('MESSAGE_TOO_LARGE')` (counted and
   * reported once per key; `key` names the key when the message itself does not) when the
   * transport refuses it for its size.
   */
  send(to: NodeId, msg: Msg, key?: Uint8Array): void
  emit(ev: NodeEvent): void
  /** False once the node stopped or crashed: background work ends there. */
  running(): boolean
}
