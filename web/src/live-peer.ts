/**
 * The page's own peer in live mode: a browser node of the cluster `npm start` runs (IndexedDB
 * storage, persistent identity, the WebRTC transport). The demo views render what it reports.
 *
 * `npm start` serves `/config.json` next to the page: the signaling URL, the room, the cluster's
 * N/R/W/Q and each Node peer's HTTP address.
 */
import { credentialFrom, hexBytes, openBrowserPeer, type DynameshNode, type NodeId } from 'dynamesh'
import { decodeMessage } from '../../src/wire/messages.js'

export interface PageConfig {
  signalUrl: string
  room: string
  n: number
  r: number
  w: number
  q: number
  /** Hex public key of the closed cluster; the page asks the page server for its credential. Absent: open. */
  clusterKey?: string
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

/** True when the page is served from this machine: WebRTC then stays on loopback too. */
const onLoopback = (): boolean => ['127.0.0.1', 'localhost', '[::1]', '::1'].includes(location.hostname)

const typeOf = (bytes: Uint8Array): string => {
  try {
    return decodeMessage(bytes).t
  } catch {
    return 'invalid'
  }
}

/** Starts the page's peer: reads `/config.json`, opens IndexedDB, joins the cluster. */
export async function startLivePeer(opts: { weight?: number } = {}): Promise<LivePeer> {
  const res = await fetch(new URL('config.json', location.href), { cache: 'no-store' })
  if (!res.ok) throw new Error(`config.json: HTTP ${res.status} (is this page served by npm start?)`)
  const config = (await res.json()) as PageConfig
  const peer = await openBrowserPeer({
    signalUrl: config.signalUrl,
    room: config.room,
    n: config.n,
    r: config.r,
    w: config.w,
    q: config.q,
    ...(opts.weight === undefined ? {} : { weight: opts.weight }),
    transport: { loopbackOnly: onLoopback() },
    ...(config.clusterKey ? { clusterKey: hexBytes(config.clusterKey, 32, 'clusterKey'), credential: credentialFrom(new URL('.', location.href).href) } : {}),
  })
  const handlers = new Set<(ev: WireEvent) => void>()
  const emit = (ev: WireEvent): void => {
    for (const h of handlers) {
      try {
        h(ev)
      } catch {
        // a view's mistake must not break the transport
      }
    }
  }
  // Observe the page's transport from outside: every message in and out, decoded for its type.
  const t = peer.transport
  const send = t.send.bind(t)
  t.send = (to, bytes) => {
    if (handlers.size) emit({ dir: 'out', peer: to, type: typeOf(bytes), bytes: bytes.length })
    send(to, bytes)
  }
  t.onMessage((from, bytes) => {
    if (handlers.size) emit({ dir: 'in', peer: from, type: typeOf(bytes), bytes: bytes.length })
  })
  const nodeIds = new Set(config.peers.map((p) => p.id))
  return {
    node: peer.node,
    config,
    role: peer.role,
    persisted: peer.persisted,
    runtimeOf: (id) => (nodeIds.has(id) ? 'node' : 'browser'),
    onWire(h) {
      handlers.add(h)
      return () => handlers.delete(h)
    },
    stop: () => peer.stop(),
  }
}
