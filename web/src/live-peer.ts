/**
 * The page's own peer in live mode: a browser node of the cluster `npm start` runs (IndexedDB
 * storage, persistent identity, the WebRTC transport). The demo views render what it reports.
 *
 * `npm start` serves `/config.json` next to the page: the signaling URL, the room, the cluster's
 * N/R/W/Q and each Node peer's HTTP address.
 */
import type { DynameshNode, NodeId } from 'dynamesh'

export interface PageConfig {
  signalUrl: string
  room: string
  n: number
  r: number
  w: number
  q: number
  /** The Node peers of the local cluster. */
  peers: Array<{ name: string; id: string; http: string }>
}

/** One message crossing the page's transport, decoded enough to draw it. */
export interface WireEvent {
  dir: 'in' | 'out'
  peer: NodeId
  /** Message type (`gossip`, `get`, `get-r`, `store`, `store-r`, `ae-roots`, ...). */
  type: string
  bytes: number
}

export interface LivePeer {
  node: DynameshNode
  config: PageConfig
  /** `owner`: this tab holds the origin's persistent node; `guest`: another tab does, this one runs its own. */
  role: 'owner' | 'guest'
  /** The answer of `navigator.storage.persist()` (undefined where the API is missing). */
  persisted: boolean | undefined
  /** Where a member runs, as far as this page knows: the Node peers of the config, browsers otherwise. */
  runtimeOf(id: NodeId): 'node' | 'browser'
  /** Every message in and out of the page's transport. Returns an unsubscribe function. */
  onWire(handler: (ev: WireEvent) => void): () => void
  stop(): Promise<void>
}

/** Starts the page's peer: reads `/config.json`, opens IndexedDB, joins the cluster. */
export async function startLivePeer(_opts: { weight?: number } = {}): Promise<LivePeer> {
  throw new Error('the live peer is not available yet')
}
