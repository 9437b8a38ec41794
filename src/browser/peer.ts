/**
 * A browser tab as a dynamesh peer: IndexedDB storage, an Ed25519 identity kept in it, the WebRTC
 * transport with the page's own RTCPeerConnection, and one rule for tabs of one origin.
 *
 * Tabs of one origin share one IndexedDB, and two tabs must never run the same node id at once (two
 * writers of one replica id would reuse dots). A Web Lock named after the database decides:
 *
 *   first tab  → holds the lock: the origin's persistent node (same id, records and hints after a
 *                reload), role 'owner'
 *   other tabs → lock taken: a peer of their own with a fresh in-memory identity, weight 0 by default
 *                (a client that holds nobody's data), role 'guest'; nothing of theirs outlives the tab
 *
 * The lock is released when the owner stops or its tab closes, so the next tab to open owns the node.
 */
import type { DynameshNode, NodeOptions } from '../api.js'
import { hexBytes, verifyCredential } from '../credential.js'
import { DynameshError } from '../errors.js'
import { generateIdentity, loadIdentity, type Identity } from '../identity.js'
import { createNode } from '../node/index.js'
import { idbStorage } from '../storage/idb.js'
import { memoryStorage } from '../storage/memory.js'
import { createWebRtcTransport, type WebRtcTransport, type WebRtcTransportOptions } from '../transport/webrtc.js'
import type { Storage } from '../types.js'

export interface BrowserPeerOptions extends Omit<NodeOptions, 'storage' | 'transport' | 'id'> {
  signalUrl: string
  /** Signaling room. Default 'dynamesh'. */
  room?: string
  /** IndexedDB database (and lock) of the origin's persistent node. Default 'dynamesh'. */
  database?: string
  /** Weight of a guest tab (one that does not hold the lock; `weight` is the owner's). Default 0: a client. */
  guestWeight?: number
  /** A closed cluster's public key (credential.ts); peers without a credential it signed are refused. */
  clusterKey?: Uint8Array
  /** This tab's credential for the closed cluster, or how to get one for its public key (from the app's server). */
  credential?: Uint8Array | ((publicKey: Uint8Array) => Promise<Uint8Array>)
  /** Start offline (no signaling, no connections) until `transport.setOffline(false)`. */
  offline?: boolean
  /** More transport options (loopbackOnly, connection cap, ...). */
  transport?: Partial<Omit<WebRtcTransportOptions, 'signalUrl' | 'room' | 'identity'>>
}

export interface BrowserPeer {
  node: DynameshNode
  transport: WebRtcTransport
  identity: Identity
  /** 'owner': this tab runs the origin's persistent node; 'guest': another tab does. */
  role: 'owner' | 'guest'
  /** What `navigator.storage.persist()` answered (undefined where the API is missing, and for guests). */
  persisted: boolean | undefined
  /** Stops the node and releases the lock. */
  stop(): Promise<void>
}

/** A tab's connections close after this long unused (a Node peer's after 60 s). */
const TAB_IDLE_MS = 10 * 60_000
/** Peer connections a tab may create over its lifetime, under Chromium's ~500. */
const TAB_CONNECTION_BUDGET = 400

/** Takes the Web Lock `name` if free; resolves with its release function, or undefined if taken. */
async function tryLock(name: string): Promise<(() => void) | undefined> {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks
  if (!locks) return () => {} // no Web Locks (old browser): one tab is all we can assume
  return new Promise((resolve, reject) => {
    locks
      .request(name, { ifAvailable: true }, (lock) => {
        if (!lock) {
          resolve(undefined)
          return undefined
        }
        return new Promise<void>((release) => resolve(release))
      })
      .catch(reject)
  })
}

async function askPersist(): Promise<boolean | undefined> {
  const storage = (globalThis.navigator as Navigator | undefined)?.storage
  if (!storage?.persist) return undefined
  try {
    return await storage.persist()
  } catch {
    return false
  }
}

/** Opens this tab's peer and joins the cluster. */
export async function openBrowserPeer(opts: BrowserPeerOptions): Promise<BrowserPeer> {
  const { signalUrl, room, database = 'dynamesh', guestWeight = 0, offline = false, clusterKey, credential: admit, transport: transportOpts, ...nodeOpts } = opts
  const release = await tryLock(`dynamesh:${database}`)
  const role = release ? 'owner' : 'guest'
  let storage: Storage | undefined
  let transport: WebRtcTransport | undefined
  try {
    storage = release ? await idbStorage(database) : memoryStorage()
    const identity = release ? await loadIdentity(storage) : generateIdentity()
    const persisted = release ? await askPersist() : undefined
    const credential = typeof admit === 'function' ? await admit(identity.publicKey) : admit
    if (clusterKey && !verifyCredential(clusterKey, identity.publicKey, credential)) {
      throw new DynameshError('UNAUTHORIZED', 'this tab has no valid credential for the closed cluster')
    }
    // Chromium allows ~500 RTCPeerConnections over a tab's lifetime: keep connections open longer
    // than a Node peer does (less churn) and never create more than the budget.
    transport = createWebRtcTransport({
      signalUrl, room: room ?? 'dynamesh', identity, idleMs: TAB_IDLE_MS, connectionBudget: TAB_CONNECTION_BUDGET,
      ...(clusterKey ? { clusterKey } : {}), ...(credential ? { credential } : {}), ...transportOpts,
    })
    if (offline) await transport.setOffline(true)
    const weight = release ? nodeOpts.weight : guestWeight
    // A tab is offline-first: reads without a quorum answer from what the tab knows, flagged stale.
    const node = await createNode({ staleReads: true, ...nodeOpts, ...(weight === undefined ? {} : { weight }), storage, transport })
    let stopped = false
    return {
      node,
      transport,
      identity,
      role,
      persisted,
      async stop() {
        if (stopped) return
        stopped = true
        try {
          await node.stop()
        } finally {
          release?.()
        }
      },
    }
  } catch (e) {
    await transport?.stop().catch(() => {})
    await storage?.close().catch(() => {})
    release?.()
    throw e
  }
}

/**
 * How a page of a closed local cluster gets its credential: `POST {admitUrl}/credential` with its
 * public key, answered by the page server of `dynamesh start` (which holds the cluster key).
 */
export function credentialFrom(admitUrl: string): (publicKey: Uint8Array) => Promise<Uint8Array> {
  return async (publicKey) => {
    const hex = Array.from(publicKey, (b) => b.toString(16).padStart(2, '0')).join('')
    const res = await fetch(new URL('credential', admitUrl.endsWith('/') ? admitUrl : `${admitUrl}/`), {
      method: 'POST', body: JSON.stringify({ publicKey: hex }), headers: { 'Content-Type': 'text/plain' },
    })
    if (!res.ok) throw new DynameshError('UNAUTHORIZED', `no credential from ${admitUrl}: HTTP ${res.status}`)
    const { credential } = (await res.json()) as { credential?: string }
    return hexBytes(String(credential), 64, 'credential')
  }
}
