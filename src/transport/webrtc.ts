/**
 * The WebRTC transport (DESIGN.md section 5): peers meet through the signaling server, then talk
 * over data channels (peer.ts, the standard RTCPeerConnection API). Isomorphic: the RTCPeerConnection
 * implementation (`wrtc`) and the WebSocket constructor come in as options, defaulting to the
 * runtime's globals (a browser's own; `dynamesh/node` passes node-datachannel's and `ws`).
 *
 * Connection life cycle, per remote id (at most one connection each):
 *
 *   send() to a peer without a connection
 *     ├─ my id < its id: I initiate (DataPeer initiator) ────────────────┐
 *     └─ my id > its id: signal {kind:'connect-request'}; it initiates ──┤   offers/answers/ICE
 *                                                                        ▼   relayed by signaling
 *   data channel open → HELLO {id, publicKey, nonce} both ways → PROOF {signature} both ways
 *     → proof verified: 'ready', queued messages flushed
 *   closed: idle for idleMs, least recently used past maxConnections, remote close, bad proof,
 *     connect timeout (queued messages dropped and counted), stop()
 *
 * Sending: small messages to one peer are coalesced until the end of the event loop's turn and go
 * as one batch frame (framing.ts): a data-channel send costs SCTP, DTLS and a syscall on the sending
 * thread whatever its size, so a busy peer answering several requests of one neighbour sends once.
 * Larger messages go at once (after whatever batch is open, so order holds), chunked as needed.
 *
 * Glare cannot make two connections: only the lower id ever initiates, and each attempt carries an
 * id so signals of an abandoned attempt are ignored. A PROOF signs both connection nonces and both
 * ids, so it cannot be replayed on another connection or to another peer. No frame other than
 * HELLO/PROOF is accepted before the peer's proof verifies. The HELLO/PROOF bytes are built and
 * checked in handshake.ts; signals are validated and loopback-filtered in loopback.ts.
 *
 * Events: `onPeer` reports reachability, not connections. A peer is reachable while the signaling
 * server announces it (it proved its id there too) or while a verified connection to it is open;
 * up fires when it becomes reachable, down when it is neither announced nor connected (it left
 * signaling and its connection closed, or signaling is down and its connection closed). Opening
 * and closing connections on demand (idle, cap) therefore fires nothing while the peer is still
 * announced: a down is a real hint that the peer went away. `peers()` lists the reachable ids;
 * `connections()` shows the data channels themselves.
 */
import type { Identity } from '../identity.js'
import { memberAuth } from '../credential.js'
import type { NodeId, Transport } from '../types.js'
import { BatchBuilder, DEFAULT_MAX_MESSAGE_BYTES, Framer, Reassembler, splitBatch } from './framing.js'
import { DynameshError, isDynameshError } from '../errors.js'
import { helloMessage, readHello, signProof, verifyProof } from './handshake.js'
import { filterSignal } from './loopback.js'
import { DataPeer, type PeerConnectionConstructor } from './peer.js'
import { createSignalClient, type WebSocketConstructor } from './signal-client.js'
import { isNodeIdString } from './signal-protocol.js'

export { filterSignal, isLoopbackAddress, isLoopbackCandidate, stripNonLoopbackCandidates, type PeerSignal } from './loopback.js'

/** The RTCPeerConnection implementation to use (the other two are accepted for compatibility). */
export interface WrtcImpl {
  RTCPeerConnection: PeerConnectionConstructor
  RTCSessionDescription?: unknown
  RTCIceCandidate?: unknown
}

export interface WebRtcTransportOptions {
  signalUrl: string
  /** Signaling room. Default 'dynamesh'. */
  room?: string
  identity: Identity
  /** RTCPeerConnection implementation; default: the runtime's global (browsers). */
  wrtc?: WrtcImpl
  /** WebSocket constructor; default: the runtime's global (browsers). `ws` in Node. */
  WebSocket?: WebSocketConstructor
  /**
   * A closed cluster's public key: peers must show a credential it signed in their HELLO (and at
   * signaling), or the connection closes. Default: open, any peer with a proven id is accepted.
   */
  clusterKey?: Uint8Array
  /** This peer's credential for the closed cluster. */
  credential?: Uint8Array
  /** Drop every ICE candidate (local and remote) that is not a loopback address. */
  loopbackOnly?: boolean
  /** Open connections at most; past it the least recently used idle one closes. Default 32. */
  maxConnections?: number
  /** A connection unused this long closes. Default 60 s. */
  idleMs?: number
  /**
   * Peer connections this transport may ever create. Chromium allows about 500 RTCPeerConnections
   * over a tab's lifetime; past the budget no new connection opens (messages to unconnected peers
   * drop, counted in `overBudget`) while open ones keep working. Default: unlimited.
   */
  connectionBudget?: number
  /** Time from wanting a connection to a verified one; queued messages drop after it. Default 10 s. */
  connectTimeoutMs?: number
  /** Largest message sent or received. Default: the hard message cap of limits.ts (64 MiB), streamed in 16 KiB frames. */
  maxMessageBytes?: number
  /** Bytes queued per connection (before it opens, or under backpressure); a larger message fits while under 256 KiB wait. Default 8 MiB. */
  maxQueueBytes?: number
  log?: (line: string) => void
}

/** Counters; every counted event dropped something. */
export interface WebRtcStats {
  /** Messages not sent: queue full, connect timeout, connection closed with them queued. */
  dropped: number
  /** Messages refused by `send` because they exceed `maxMessageBytes` (send threw MESSAGE_TOO_LARGE). */
  tooLarge: number
  /** Frames that were malformed, arrived before the proof, or could not be reassembled. */
  garbage: number
  /** Connections closed because the peer failed to prove its id. */
  rejected: number
  /** Peer connections created so far (see `connectionBudget`). */
  created: number
  /** Connections not opened because the budget was spent; their messages were dropped. */
  overBudget: number
}

export interface ConnectionInfo {
  id: NodeId
  state: 'requested' | 'connecting' | 'ready'
  initiator: boolean
}

/** A Transport with introspection for tests, benchmarks and the demo page. */
export interface WebRtcTransport extends Transport {
  /** Reachable ids: announced by signaling, or connected and verified (see the file comment). */
  peers(): NodeId[]
  /** The data channels (and pending attempts) this transport holds. */
  connections(): ConnectionInfo[]
  stats(): WebRtcStats
  /**
   * Works offline (true) or online again (false): offline closes every connection and leaves
   * signaling, so every peer goes down; sends are dropped until online. For apps with a "work
   * offline" switch, and for a tab that learns its network is gone (the `offline` event).
   */
  setOffline(offline: boolean): Promise<void>
  readonly offline: boolean
}

const KIND_DATA = 0
const KIND_HELLO = 1
const KIND_PROOF = 2
/** A batch of data messages (framing.ts `splitBatch`). */
const KIND_BATCH = 3
/** Pause sending above this many buffered bytes; resume below the low mark. */
const HIGH_WATER = 1024 * 1024
const LOW_WATER = 256 * 1024
/** A short poll backs up 'bufferedamountlow', which some RTCDataChannel implementations never fire. */
const DRAIN_POLL_MS = 5
/**
 * Runs `fn` once the event loop's current turn is over: Node's setImmediate (after every callback
 * of the poll phase, so messages sent from several of them coalesce), or a microtask where there
 * is none (browsers: messages sent from one task coalesce).
 */
const afterTurn: (fn: () => void) => void =
  typeof globalThis.setImmediate === 'function' ? (fn) => void globalThis.setImmediate(fn) : (fn) => queueMicrotask(fn)

/** A message being sent: its frames and how many went out already. */
interface Outgoing {
  frames: Uint8Array[]
  sent: number
  bytes: number
}

interface Conn {
  readonly remote: NodeId
  state: ConnectionInfo['state']
  initiator: boolean
  attempt: string
  peer?: DataPeer
  readonly nonce: Uint8Array
  peerNonce?: Uint8Array
  peerKey?: Uint8Array
  helloSent: boolean
  closed: boolean
  /** Messages waiting for the connection to be ready or for buffer space; `head` is the next one. */
  out: Array<Outgoing | undefined>
  head: number
  outBytes: number
  /** Small messages not yet framed: they leave together at the end of the turn (or when the connection is ready). */
  readonly batch: BatchBuilder
  readonly framer: Framer
  readonly reasm: Reassembler
  lastUsed: number
  connectTimer?: ReturnType<typeof setTimeout>
  drainTimer?: ReturnType<typeof setTimeout>
}

const randomBytes = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n))
const randomHex = (n: number): string => Array.from(randomBytes(n), (b) => b.toString(16).padStart(2, '0')).join('')

/** Creates a WebRTC transport; nothing happens until `start()`. */
export function createWebRtcTransport(opts: WebRtcTransportOptions): WebRtcTransport {
  const id = opts.identity.id
  const loopbackOnly = opts.loopbackOnly ?? false
  const maxConnections = Math.max(1, opts.maxConnections ?? 32)
  const idleMs = opts.idleMs ?? 60_000
  const connectTimeoutMs = opts.connectTimeoutMs ?? 10_000
  const maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES
  const maxQueueBytes = opts.maxQueueBytes ?? 8 * 1024 * 1024
  const log = (line: string): void => opts.log?.(`webrtc ${id.slice(0, 8)}: ${line}`)
  // No STUN/TURN. `bindAddress` is node-datachannel's (browsers ignore it): libjuice gathers no
  // candidate on a loopback interface unless bound to one, so `loopbackOnly` binds 127.0.0.1.
  const rtcConfig = { iceServers: [], ...(loopbackOnly ? { bindAddress: '127.0.0.1' } : {}) } as RTCConfiguration
  const short = (peer: NodeId): string => peer.slice(0, 8)

  const RTCPeerConnection = opts.wrtc?.RTCPeerConnection ?? (globalThis.RTCPeerConnection as PeerConnectionConstructor | undefined)
  const WebSocket = opts.WebSocket ?? (globalThis.WebSocket as WebSocketConstructor | undefined)
  if (!RTCPeerConnection || !WebSocket) {
    throw new TypeError('no RTCPeerConnection or WebSocket in this runtime: in Node use createWebRtcTransport from dynamesh/node')
  }
  const signal = createSignalClient({
    url: opts.signalUrl, room: opts.room ?? 'dynamesh', identity: opts.identity, WebSocket, ...(opts.credential ? { credential: opts.credential } : {}),
  })
  const conns = new Map<NodeId, Conn>()
  const messageHandlers: Array<(from: NodeId, msg: Uint8Array) => void> = []
  const peerHandlers: Array<(ev: { id: NodeId; up: boolean }) => void> = []
  const stats: WebRtcStats = { dropped: 0, tooLarge: 0, garbage: 0, rejected: 0, created: 0, overBudget: 0 }
  const connectionBudget = opts.connectionBudget ?? Infinity
  /** True (and counted, and logged once) when no new peer connection may be created. */
  const budgetSpent = (): boolean => {
    if (stats.created < connectionBudget) return false
    if (stats.overBudget++ === 0) log(`connection budget of ${connectionBudget} spent: no new peer connections; open ones keep working`)
    return true
  }
  let running = false
  let offline = false
  /** Ids the signaling server announces, and ids reported up through onPeer. */
  const announced = new Set<NodeId>()
  const reachable = new Set<NodeId>()
  let sweepTimer: ReturnType<typeof setInterval> | undefined

  const emitPeer = (ev: { id: NodeId; up: boolean }): void => {
    for (const h of peerHandlers) {
      try {
        h(ev)
      } catch (e) {
        log(`onPeer handler threw: ${String(e)}`)
      }
    }
  }

  /** Reports a change of reachability (announced, or connected and verified) to onPeer. */
  function updateReach(peer: NodeId): void {
    if (!running) return
    const up = announced.has(peer) || conns.get(peer)?.state === 'ready'
    if (up === reachable.has(peer)) return
    if (up) reachable.add(peer)
    else reachable.delete(peer)
    emitPeer({ id: peer, up })
  }

  // ---- connection records ----

  function newConn(remote: NodeId): Conn {
    const conn: Conn = {
      remote, state: 'requested', initiator: id < remote, attempt: '', nonce: randomBytes(32), helloSent: false,
      closed: false, out: [], head: 0, outBytes: 0, batch: new BatchBuilder(KIND_BATCH), framer: new Framer(),
      reasm: new Reassembler({ maxMessageBytes }), lastUsed: Date.now(),
    }
    conn.connectTimer = setTimeout(() => {
      conn.connectTimer = undefined
      if (conn.state !== 'ready') close(conn, `no verified connection within ${connectTimeoutMs} ms`)
    }, connectTimeoutMs)
    conns.set(remote, conn)
    return conn
  }

  /** Closes a connection and forgets it; idempotent. */
  function close(conn: Conn, reason: string): void {
    if (conn.closed) return
    conn.closed = true
    if (conns.get(conn.remote) === conn) conns.delete(conn.remote)
    clearTimeout(conn.connectTimer)
    clearTimeout(conn.drainTimer)
    stats.dropped += queued(conn)
    conn.out = []
    conn.batch.clear()
    conn.reasm.clear()
    conn.peer?.destroy(reason)
    log(`closed ${short(conn.remote)}: ${reason}`)
    updateReach(conn.remote)
  }

  /** Makes room for one more connection by closing the least recently used, idle ones first. */
  function evict(): void {
    if (conns.size < maxConnections) return
    let victim: Conn | undefined
    for (const c of conns.values()) {
      const idle = c.state === 'ready' && queued(c) === 0
      const best = victim && victim.state === 'ready' && queued(victim) === 0
      if (!victim || (idle && !best) || (idle === !!best && c.lastUsed < victim.lastUsed)) victim = c
    }
    if (victim) close(victim, `connection cap ${maxConnections} reached (least recently used)`)
  }

  function startPeer(conn: Conn, initiator: boolean, attempt: string): void {
    conn.initiator = initiator
    conn.attempt = attempt
    conn.state = 'connecting'
    stats.created++
    try {
      conn.peer = new DataPeer({
        initiator,
        config: rtcConfig,
        RTCPeerConnection: RTCPeerConnection!,
        onSignal: (data) => {
          if (conn.closed) return
          const filtered = filterSignal(data, loopbackOnly)
          if (filtered) sendSignal(conn.remote, { kind: 'signal', attempt, data: filtered })
        },
        onOpen: () => onOpen(conn),
        onData: (frame) => onFrame(conn, frame),
        onClose: (reason) => close(conn, reason),
      })
    } catch (e) {
      close(conn, `cannot create peer connection: ${String(e)}`)
    }
  }

  // ---- signaling ----

  /** Signals are best effort (dropped while signaling is down); the connect timeout covers loss. */
  function sendSignal(to: NodeId, data: unknown): void {
    try {
      signal.send(to, data)
    } catch (e) {
      log(`cannot signal ${short(to)}: ${String(e)}`)
    }
  }

  function onSignal(from: NodeId, data: unknown): void {
    if (!running || offline || from === id || typeof data !== 'object' || data === null) return
    const msg = data as { kind?: unknown; attempt?: unknown; data?: unknown }
    const existing = conns.get(from)
    if (msg.kind === 'connect-request') {
      if (id > from) return // only the lower id initiates
      // A request while we think we are connected means the other side lost the connection.
      if (existing?.state === 'ready') close(existing, 'peer asked for a new connection')
      else if (existing) return
      if (budgetSpent()) return
      evict()
      startPeer(newConn(from), true, randomHex(8))
      return
    }
    if (msg.kind !== 'signal' || typeof msg.attempt !== 'string' || msg.attempt.length > 64) return
    const payload = filterSignal(msg.data, loopbackOnly)
    if (!payload) return
    let conn = existing
    if (payload.type === 'offer') {
      if (id < from) return // we initiate towards higher ids; an offer from one is not expected
      if (conn?.attempt === msg.attempt) return // duplicate offer for the attempt in progress
      if (conn && conn.state !== 'requested') close(conn, 'peer started a new connection attempt')
      if (budgetSpent()) return
      if (!conn || conn.closed) {
        evict()
        conn = newConn(from)
      }
      startPeer(conn, false, msg.attempt)
    }
    if (!conn || conn.closed || conn.attempt !== msg.attempt || !conn.peer) return
    conn.peer.signal(payload)
  }

  // ---- handshake ----

  function sendNow(conn: Conn, kind: number, payload: Uint8Array): void {
    for (const f of conn.framer.encode(kind, payload)) conn.peer?.send(f)
  }

  function ensureHello(conn: Conn): void {
    if (conn.helloSent || !conn.peer) return
    conn.helloSent = true
    sendNow(conn, KIND_HELLO, helloMessage(opts.identity, conn.nonce, opts.credential))
  }

  function onOpen(conn: Conn): void {
    if (conn.closed) return
    const ch = conn.peer?.channel
    if (ch) {
      ch.bufferedAmountLowThreshold = LOW_WATER
      ch.addEventListener?.('bufferedamountlow', () => flush(conn))
    }
    try {
      ensureHello(conn)
    } catch (e) {
      close(conn, `cannot send hello: ${String(e)}`)
    }
  }

  function onHello(conn: Conn, data: Uint8Array): void {
    if (conn.peerKey) return close(conn, 'unexpected or malformed HELLO')
    const hello = readHello(data, conn.remote, opts.clusterKey)
    if (!hello.ok) {
      if (hello.forged) stats.rejected++
      return close(conn, hello.reason)
    }
    conn.peerKey = hello.key
    conn.peerNonce = hello.nonce
    ensureHello(conn)
    sendNow(conn, KIND_PROOF, signProof(opts.identity, conn.nonce, { id: conn.remote, nonce: conn.peerNonce }))
  }

  function onProof(conn: Conn, signature: Uint8Array): void {
    if (!conn.peerKey || !conn.peerNonce || conn.state === 'ready') return close(conn, 'PROOF out of order')
    if (!verifyProof({ id: conn.remote, nonce: conn.peerNonce }, conn.peerKey, { id, nonce: conn.nonce }, signature)) {
      stats.rejected++
      return close(conn, 'identity proof failed')
    }
    conn.state = 'ready'
    clearTimeout(conn.connectTimer)
    conn.connectTimer = undefined
    conn.lastUsed = Date.now()
    log(`verified ${short(conn.remote)}`)
    updateReach(conn.remote)
    flush(conn)
  }

  function onFrame(conn: Conn, frame: Uint8Array): void {
    if (conn.closed) return
    try {
      const kind = (frame[0] ?? 0) & 0x7f
      if ((kind === KIND_DATA || kind === KIND_BATCH) && conn.state !== 'ready') {
        stats.garbage++
        return close(conn, 'data before identity proof')
      }
      const before = conn.reasm.stats.garbage + conn.reasm.stats.dropped
      const m = conn.reasm.push(frame)
      stats.garbage += conn.reasm.stats.garbage + conn.reasm.stats.dropped - before
      if (!m) return
      if (m.kind === KIND_HELLO) return onHello(conn, m.data)
      if (m.kind === KIND_PROOF) return onProof(conn, m.data)
      const msgs = m.kind === KIND_DATA ? [m.data] : m.kind === KIND_BATCH ? splitBatch(m.data) : undefined
      if (!msgs) {
        stats.garbage++
        return
      }
      conn.lastUsed = Date.now()
      for (const msg of msgs) {
        for (const h of messageHandlers) {
          try {
            h(conn.remote, msg)
          } catch (e) {
            log(`onMessage handler threw: ${String(e)}`)
          }
        }
        if (conn.closed) return
      }
    } catch (e) {
      close(conn, `error handling a frame: ${String(e)}`)
    }
  }

  // ---- sending with backpressure ----

  const queued = (conn: Conn): number => conn.out.length - conn.head + conn.batch.count

  /** Connections with an open batch, sent once the turn is over. */
  const dirty = new Set<Conn>()
  let flushing = false
  function flushDirty(): void {
    flushing = false
    for (const c of dirty) flush(c)
    dirty.clear()
  }

  /** Moves the open batch, if any, to the end of the queue. */
  function seal(conn: Conn): void {
    const b = conn.batch.seal()
    if (b) conn.out.push({ frames: [b.frame], sent: 0, bytes: b.bytes })
  }

  /** Sends queued frames (the open batch last) while the channel's buffer is below the high-water mark. */
  function flush(conn: Conn): void {
    if (conn.closed || conn.state !== 'ready' || !conn.peer) return
    seal(conn)
    const ch = conn.peer.channel
    let m: Outgoing | undefined
    while ((m = conn.out[conn.head])) {
      if (conn.head >= 1024) {
        // Drop the sent prefix now and then so a queue that never fully drains does not grow.
        conn.out = conn.out.slice(conn.head)
        conn.head = 0
      }
      if (!ch || ch.readyState !== 'open') return
      if (ch.bufferedAmount > HIGH_WATER) {
        // 'bufferedamountlow' calls flush; the poll covers implementations that never fire it.
        conn.drainTimer ??= setTimeout(() => {
          conn.drainTimer = undefined
          flush(conn)
        }, DRAIN_POLL_MS)
        return
      }
      try {
        conn.peer.send(m.frames[m.sent++]!)
      } catch (e) {
        return close(conn, `send failed: ${String(e)}`)
      }
      if (m.sent === m.frames.length) {
        conn.out[conn.head++] = undefined
        conn.outBytes -= m.bytes
      }
    }
    conn.out = []
    conn.head = 0
    conn.outBytes = 0
  }

  function send(to: NodeId, msg: Uint8Array): void {
    if (!(msg instanceof Uint8Array)) throw new TypeError('msg must be a Uint8Array')
    if (msg.length > maxMessageBytes) {
      // Not a loss of the network: this message can never be carried, so the caller must know.
      stats.tooLarge++
      throw new DynameshError('MESSAGE_TOO_LARGE', `message of ${msg.length} bytes to ${String(to).slice(0, 8)} is over the transport's limit of ${maxMessageBytes} bytes`)
    }
    if (!running || offline || to === id || !isNodeIdString(to)) {
      stats.dropped++
      return
    }
    let conn = conns.get(to)
    if (!conn && budgetSpent()) {
      stats.dropped++
      return
    }
    if (!conn) {
      evict()
      conn = newConn(to)
      if (id < to) startPeer(conn, true, randomHex(8))
      else sendSignal(to, { kind: 'connect-request' })
      if (conn.closed) {
        stats.dropped++
        return
      }
    }
    conn.lastUsed = Date.now()
    // A message larger than the queue (up to the hard cap) still gets in while little else waits.
    if (conn.outBytes + msg.length > Math.max(maxQueueBytes, msg.length + LOW_WATER)) {
      stats.dropped++
      return
    }
    conn.outBytes += msg.length
    if (conn.batch.carries(msg.length)) {
      // Coalesced: framed (copied) now, sent at the end of the turn with whatever else goes to this peer.
      const full = conn.batch.add(msg)
      if (full) conn.out.push({ frames: [full.frame], sent: 0, bytes: full.bytes })
      dirty.add(conn)
      if (!flushing) {
        flushing = true
        afterTurn(flushDirty)
      }
      return
    }
    seal(conn)
    conn.out.push({ frames: conn.framer.encode(KIND_DATA, msg), sent: 0, bytes: msg.length })
    flush(conn)
  }

  function sweep(): void {
    const now = Date.now()
    for (const c of [...conns.values()]) {
      if (c.state === 'ready' && queued(c) === 0 && now - c.lastUsed > idleMs) close(c, `idle for ${idleMs} ms`)
    }
  }

  signal.onSignal((from, data) => {
    try {
      onSignal(from, data)
    } catch (e) {
      log(`error handling a signal from ${short(from)}: ${String(e)}`)
    }
  })

  signal.onPeer((ev) => {
    if (ev.id === id) return
    if (ev.up) announced.add(ev.id)
    else announced.delete(ev.id)
    updateReach(ev.id)
  })

  signal.onError((err) => {
    // The server does not know the peer: fail its pending connection now rather than at the timeout.
    const conn = err.to && conns.get(err.to)
    if (err.code === 'UNKNOWN_PEER' && conn && conn.state !== 'ready') close(conn, 'peer unknown to signaling')
  })

  return {
    id,
    /** Member entries are signed with the identity the data-channel handshake proves. */
    auth: memberAuth(opts.identity, opts.clusterKey, opts.credential),
    /**
     * Joins signaling. Resolves once welcomed, or, if the server is unreachable, after the signal
     * client's start timeout (it keeps retrying in the background; existing connections and
     * those it later introduces work as usual). Rejects only if the server refuses the identity.
     */
    async start() {
      if (running) return
      running = true
      sweepTimer = setInterval(sweep, Math.max(10, Math.min(idleMs / 4, 10_000)))
      if (offline) return
      try {
        await signal.start()
      } catch (e) {
        if (isDynameshError(e, 'UNAUTHORIZED')) {
          running = false
          clearInterval(sweepTimer)
          await signal.stop()
          throw e
        }
        log(`signaling not reached yet (${String(e)}); retrying in the background`)
      }
    },
    async stop() {
      if (!running) return
      running = false
      clearInterval(sweepTimer)
      announced.clear()
      reachable.clear()
      for (const c of [...conns.values()]) close(c, 'transport stopped')
      await signal.stop()
    },
    get offline() {
      return offline
    },
    async setOffline(value: boolean) {
      if (value === offline) return
      offline = value
      if (!running) return
      if (offline) {
        for (const c of [...conns.values()]) close(c, 'working offline')
        await signal.stop()
        for (const p of [...announced]) {
          announced.delete(p)
          updateReach(p)
        }
        return
      }
      try {
        await signal.start()
      } catch (e) {
        log(`signaling not reached on going online (${String(e)}); retrying in the background`)
      }
    },
    send,
    onMessage(h) {
      messageHandlers.push(h)
    },
    onPeer(h) {
      peerHandlers.push(h)
    },
    peers() {
      return [...reachable]
    },
    connections() {
      return [...conns.values()].map((c) => ({ id: c.remote, state: c.state, initiator: c.initiator }))
    },
    stats() {
      return { ...stats }
    },
  }
}
