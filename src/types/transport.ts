/**
 * How messages travel between nodes. Types only; the WebRTC transport (src/transport/) and the
 * simulated network (src/sim/) implement it and pass test/suites/transport.ts.
 */
import type { NodeId } from './ids.js'

/** Messages between node ids. Delivery is not guaranteed; order is not guaranteed. */
export interface Transport {
  /** This node's id, as the transport proves it to peers. */
  readonly id: NodeId
  /** Begins accepting and opening connections; peers hear of this node through `onPeer`. */
  start(): Promise<void>
  /** Closes every connection and stops; peers see this node go down. */
  stop(): Promise<void>
  /**
   * Sends `msg` to `to`, best effort: loss, a closed connection or a full queue are silent, as on
   * any network. The one refusal a caller hears of is a message this transport can never carry:
   * longer than its message limit (limits.ts), it throws `DynameshError('MESSAGE_TOO_LARGE')` and
   * counts it, sending nothing.
   */
  send(to: NodeId, msg: Uint8Array): void
  /** Registers a handler for every message received, with the id of the peer that sent it. */
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
  /** In a closed cluster: this node's credential, carried in its member entry. */
  readonly credential?: Uint8Array
  /**
   * In a closed cluster: true when `cred` admits the member of public key `key`. Entries of members
   * it does not admit are refused, so a member cannot bring in members of its own making.
   */
  admits?(key: Uint8Array, cred: Uint8Array | undefined): boolean
}
