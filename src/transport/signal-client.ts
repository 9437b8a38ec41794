/**
 * The peers' side of signaling: joins a room on the signaling server, proves its node id by signing
 * the server's challenge, tracks who else is in the room, and sends/receives opaque signal payloads
 * (WebRTC offers, answers, candidates) for the WebRTC transport.
 *
 * Isomorphic: no Node imports. The WebSocket constructor is passed in (`ws`'s in Node, the global
 * one in browsers). Every server frame is validated; malformed ones are ignored and counted.
 */
import { DynameshError } from '../errors.js'
import type { Identity } from '../identity.js'
import type { NodeId } from '../types.js'
import {
  CloseCode, challengeBytes, decodeServerMessage, encodeMessage, isNodeIdString, isRoom, toBase64,
  type ServerMessage, type SignalErrorCode,
} from './signal-protocol.js'

/** The part of the WebSocket API the client uses; the browser's WebSocket and `ws`'s both fit. */
export interface WebSocketLike {
  readonly readyState: number
  send(data: string): void
  close(code?: number, reason?: string): void
  addEventListener(type: 'open' | 'error', listener: () => void): void
  addEventListener(type: 'message', listener: (ev: { readonly data: unknown }) => void): void
  addEventListener(type: 'close', listener: (ev: { readonly code: number; readonly reason: string }) => void): void
}

/** A WebSocket constructor: `globalThis.WebSocket` in browsers, `WebSocket` from `ws` in Node. */
export type WebSocketConstructor = new (url: string) => WebSocketLike

/** Options of {@link createSignalClient}. */
export interface SignalClientOptions {
  /** `ws://` or `wss://` URL of the signaling server. */
  url: string
  /** Room name: 1..64 characters of `[A-Za-z0-9._-]`. */
  room: string
  identity: Identity
  WebSocket: WebSocketConstructor
  /** This peer's credential for a closed cluster (see credential.ts), sent with the hello. */
  credential?: Uint8Array
  /** Reconnect after a lost connection, with backoff. Default true. */
  reconnect?: boolean
  /** First reconnect delay. Default 250 ms; doubles per failed attempt up to `maxBackoffMs`. */
  minBackoffMs?: number
  /** Default 5 s. */
  maxBackoffMs?: number
  /** A socket that has not been welcomed this long after it was opened is dropped. Default 10 s. */
  handshakeTimeoutMs?: number
  /** `start()` rejects with UNAVAILABLE after this long without a welcome (it keeps trying). Default 10 s. */
  startTimeoutMs?: number
  /** Largest frame `send` will produce; keep it at or under the server's limit. Default 64 KiB. */
  maxMessageBytes?: number
  /** Called with the whole peer list whenever it changes. */
  onPeers?: (peers: NodeId[]) => void
  /** Diagnostics (malformed frames, handler errors). Default: silent. */
  log?: (line: string) => void
}

/** Connection state of a signal client. */
export type SignalState = 'connected' | 'disconnected'

/** Room presence of a peer. */
export type PeerEvent = { id: NodeId; up: boolean }
/** Close code and reason of a lost connection (empty on connect). */
export type StateDetail = { code?: number; reason?: string }
/** An error frame that did not close the socket. */
export type SignalError = { code: SignalErrorCode; message: string; to?: NodeId }

/** Counters of a signal client. */
export interface SignalClientStats {
  /** Server frames that failed validation or came out of order. */
  malformed: number
  /** Sockets opened after the first. */
  reconnects: number
  /** `send` calls dropped because the client was not connected. */
  dropped: number
  /** Signals the server could not deliver (`UNKNOWN_PEER`). */
  unknownPeer: number
}

/** A signaling connection for one identity in one room. */
export interface SignalClient {
  readonly id: NodeId
  /** True between a welcome and the loss of that socket. */
  readonly connected: boolean
  /**
   * Connects; resolves after the first welcome. Rejects with UNAUTHORIZED if the server refuses the
   * identity, UNAVAILABLE if `reconnect` is false and the attempt fails (the client is then stopped),
   * UNAVAILABLE after `startTimeoutMs` (the client keeps trying: call `stop()` to give up), and
   * NOT_RUNNING if `stop()` comes first.
   */
  start(): Promise<void>
  /** Closes the socket and cancels every timer; resolves once the socket is closed. */
  stop(): Promise<void>
  /** Sends an opaque JSON payload to a peer of the room. Dropped (and counted) while disconnected. */
  send(to: NodeId, data: unknown): void
  onSignal(handler: (from: NodeId, data: unknown) => void): void
  /** Room presence: up for each peer of a welcome and each join (again on a peer's reconnect), down on leave and on our own disconnect. */
  onPeer(handler: (ev: PeerEvent) => void): void
  onState(handler: (state: SignalState, detail: StateDetail) => void): void
  /** Error frames from the server that did not close the socket (e.g. UNKNOWN_PEER). */
  onError(handler: (err: SignalError) => void): void
  /** Peers currently in the room, excluding this one. */
  peers(): NodeId[]
  stats(): SignalClientStats
}

const CLOSE_WAIT_MS = 1000

/** Creates a signal client; nothing happens until `start()`. */
export function createSignalClient(opts: SignalClientOptions): SignalClient {
  if (!/^wss?:\/\//.test(opts.url)) throw new TypeError('url must start with ws:// or wss://')
  if (!isRoom(opts.room)) throw new TypeError('room must be 1..64 characters of [A-Za-z0-9._-]')
  if (typeof opts.WebSocket !== 'function') throw new TypeError('WebSocket constructor is required')
  const { identity, room } = opts
  const reconnect = opts.reconnect ?? true
  const minBackoff = opts.minBackoffMs ?? 250
  const maxBackoff = opts.maxBackoffMs ?? 5000
  const handshakeTimeoutMs = opts.handshakeTimeoutMs ?? 10_000
  const startTimeoutMs = opts.startTimeoutMs ?? 10_000
  const maxMessageBytes = opts.maxMessageBytes ?? 64 * 1024

  const signalHandlers: Array<(from: NodeId, data: unknown) => void> = []
  const peerHandlers: Array<(ev: PeerEvent) => void> = []
  const stateHandlers: Array<(state: SignalState, detail: StateDetail) => void> = []
  const errorHandlers: Array<(err: SignalError) => void> = []
  const counts: SignalClientStats = { malformed: 0, reconnects: 0, dropped: 0, unknownPeer: 0 }
  const peerSet = new Set<NodeId>()

  let running = false
  let connected = false
  let socket: WebSocketLike | undefined
  let socketClosed: Promise<void> = Promise.resolve()
  let helloSent = false
  let attempts = 0
  let opened = 0
  let retryTimer: ReturnType<typeof setTimeout> | undefined
  let handshakeTimer: ReturnType<typeof setTimeout> | undefined
  let startTimer: ReturnType<typeof setTimeout> | undefined
  let pending: { resolve: () => void; reject: (e: Error) => void; promise: Promise<void> } | undefined

  /** Handlers are user code: one that throws must not break the socket listener. */
  function emit<A extends unknown[]>(handlers: Array<(...args: A) => void>, ...args: A): void {
    for (const h of handlers) {
      try {
        h(...args)
      } catch (e) {
        log(`signal handler threw: ${String(e)}`)
      }
    }
  }
  function log(line: string): void {
    try {
      opts.log?.(line)
    } catch {
      // diagnostics never break the client
    }
  }
  const peersChanged = (): void => {
    if (opts.onPeers) emit([opts.onPeers], [...peerSet])
  }

  const settle = (err?: Error): void => {
    clearTimeout(startTimer)
    startTimer = undefined
    const p = pending
    pending = undefined
    if (!p) return
    if (err) p.reject(err)
    else p.resolve()
  }

  const halt = (): void => {
    running = false
    clearTimeout(retryTimer)
    retryTimer = undefined
  }

  /** The socket is gone (closed by either side, or abandoned): report, then retry or give up. */
  const lost = (code: number, reason: string): void => {
    socket = undefined
    clearTimeout(handshakeTimer)
    if (connected) {
      connected = false
      const gone = [...peerSet]
      peerSet.clear()
      for (const id of gone) emit(peerHandlers, { id, up: false })
      if (gone.length > 0) peersChanged()
      emit(stateHandlers, 'disconnected', { code, reason })
    }
    if (!running) return
    if (code === CloseCode.UNAUTHORIZED) {
      halt()
      return settle(new DynameshError('UNAUTHORIZED', `signaling refused the identity: ${reason}`))
    }
    if (code === CloseCode.REPLACED || !reconnect) {
      // replaced: another instance with this identity took over; reconnecting would evict it in turn
      halt()
      return settle(new DynameshError('UNAVAILABLE', `signaling connection closed (${code} ${reason})`))
    }
    const delay = Math.min(maxBackoff, minBackoff * 2 ** attempts) * (0.5 + Math.random() / 2)
    attempts++
    retryTimer = setTimeout(connect, delay)
  }

  const onFrame = (ws: WebSocketLike, msg: ServerMessage): void => {
    switch (msg.type) {
      case 'challenge': {
        if (helloSent) return void counts.malformed++
        helloSent = true
        const signature = identity.sign(challengeBytes(msg.nonce, room))
        ws.send(encodeMessage({
          type: 'hello', room, id: identity.id, publicKey: toBase64(identity.publicKey), signature: toBase64(signature),
          ...(opts.credential ? { credential: toBase64(opts.credential) } : {}),
        }))
        return
      }
      case 'welcome': {
        if (connected || !helloSent || msg.id !== identity.id) return void counts.malformed++
        clearTimeout(handshakeTimer)
        connected = true
        attempts = 0
        for (const id of msg.peers) if (id !== identity.id) peerSet.add(id)
        emit(stateHandlers, 'connected', {})
        for (const id of peerSet) emit(peerHandlers, { id, up: true })
        peersChanged()
        return settle()
      }
      case 'join':
        if (!connected || msg.id === identity.id) return void counts.malformed++
        peerSet.add(msg.id)
        emit(peerHandlers, { id: msg.id, up: true })
        return peersChanged()
      case 'leave':
        if (!connected || !peerSet.delete(msg.id)) return void counts.malformed++
        emit(peerHandlers, { id: msg.id, up: false })
        return peersChanged()
      case 'signal':
        if (!connected) return void counts.malformed++
        return emit(signalHandlers, msg.from, msg.data)
      case 'error': {
        if (msg.code === 'UNKNOWN_PEER') counts.unknownPeer++
        const err: SignalError = { code: msg.code, message: msg.message }
        if (msg.to !== undefined) err.to = msg.to
        return emit(errorHandlers, err)
      }
    }
  }

  function connect(): void {
    retryTimer = undefined
    if (!running) return
    if (opened++ > 0) counts.reconnects++
    helloSent = false
    let ws: WebSocketLike
    try {
      ws = new opts.WebSocket(opts.url)
    } catch (e) {
      log(`signal socket failed: ${String(e)}`)
      return lost(1006, 'socket constructor threw')
    }
    socket = ws
    let closed = (): void => {}
    socketClosed = new Promise<void>((resolve) => (closed = resolve))
    ws.addEventListener('error', () => {
      // a 'close' event follows
    })
    ws.addEventListener('close', (ev) => {
      closed()
      if (socket === ws) lost(ev.code, ev.reason)
    })
    ws.addEventListener('message', (ev) => {
      if (socket !== ws) return
      try {
        const decoded = decodeServerMessage(ev.data)
        if (!decoded.ok) {
          counts.malformed++
          return log(`malformed signaling frame: ${decoded.error}`)
        }
        onFrame(ws, decoded.msg)
      } catch (e) {
        counts.malformed++
        log(`signaling frame failed: ${String(e)}`)
      }
    })
    handshakeTimer = setTimeout(() => {
      if (socket !== ws) return
      lost(CloseCode.TIMEOUT, 'handshake timeout')
      ws.close(CloseCode.TIMEOUT, 'handshake timeout')
    }, handshakeTimeoutMs)
  }

  return {
    id: identity.id,
    get connected() {
      return connected
    },
    start() {
      if (!pending && !connected) {
        let resolve = (): void => {}
        let reject = (_e: Error): void => {}
        const promise = new Promise<void>((res, rej) => {
          resolve = res
          reject = rej
        })
        pending = { resolve, reject, promise }
        if (Number.isFinite(startTimeoutMs)) {
          const msg = `no welcome from ${opts.url} within ${startTimeoutMs} ms`
          startTimer = setTimeout(() => settle(new DynameshError('UNAVAILABLE', msg)), startTimeoutMs)
        }
      }
      const promise = pending?.promise ?? Promise.resolve()
      if (!running) {
        running = true
        attempts = 0
        connect()
      }
      return promise
    },
    async stop() {
      halt()
      settle(new DynameshError('NOT_RUNNING', 'signal client stopped'))
      const ws = socket
      if (!ws) return
      lost(1000, 'stopped')
      ws.close(1000, 'stopped')
      let timer: ReturnType<typeof setTimeout> | undefined
      await Promise.race([socketClosed, new Promise<void>((r) => (timer = setTimeout(r, CLOSE_WAIT_MS)))])
      clearTimeout(timer)
      // `ws` in Node: do not let a peer that never answers the close keep the process alive
      ;(ws as { terminate?: () => void }).terminate?.()
    },
    send(to, data) {
      if (!isNodeIdString(to)) throw new TypeError('to must be a node id')
      if (data === undefined) throw new TypeError('data must be JSON')
      const text = encodeMessage({ type: 'signal', to, data })
      if (text.length > maxMessageBytes || (text.length * 3 > maxMessageBytes && new TextEncoder().encode(text).length > maxMessageBytes)) {
        throw new DynameshError('VALUE_TOO_LARGE', `signal of ${text.length} chars exceeds ${maxMessageBytes} bytes`)
      }
      if (!connected || !socket) return void counts.dropped++
      socket.send(text)
    },
    onSignal: (h) => void signalHandlers.push(h),
    onPeer: (h) => void peerHandlers.push(h),
    onState: (h) => void stateHandlers.push(h),
    onError: (h) => void errorHandlers.push(h),
    peers: () => [...peerSet],
    stats: () => ({ ...counts }),
  }
}
