/**
 * The signaling server: a WebSocket rendezvous where peers of one room learn each other's ids and
 * relay opaque WebRTC offers/answers/candidates (DESIGN.md section 5). Like y-webrtc's server it is
 * a dumb relay (STYLE.md point 10): it authenticates ids (Ed25519 challenge, ids are hashes of
 * public keys), keeps rooms, enforces size/rate/room limits and heartbeats, and never looks inside
 * a signal's `data`. Untrusted input never throws out of a ws callback (STYLE.md point 8): a bad
 * frame costs only its own socket.
 */
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocketServer, WebSocket, type RawData } from 'ws'
import { CREDENTIAL_BYTES, verifyCredential } from '../src/credential.js'
import { idOfPublicKey, verifyId } from '../src/identity.js'
import type { NodeId } from '../src/types.js'
import {
  CloseCode, NONCE_BYTES, challengeBytes, decodeClientMessage, encodeMessage, fromBase64, toBase64,
  type ClientMessage, type ServerMessage, type SignalErrorCode,
} from '../src/transport/signal-protocol.js'

/** Options of {@link startSignalServer}; every limit has a default. */
export interface SignalServerOptions {
  /** Interface to bind. Default `127.0.0.1`. */
  host?: string
  /** Port; 0 picks a free one. Default 4444. */
  port?: number
  /** Largest accepted frame in bytes. Default 64 KiB. Frames over twice this are cut off by `ws` itself (close 1009). */
  maxMessageBytes?: number
  /** Sustained messages per second per socket (token bucket). Default 100. */
  maxMessagesPerSecond?: number
  /** Token bucket size. Default twice `maxMessagesPerSecond`. */
  burstMessages?: number
  /** Peers per room. Default 256. */
  maxPeersPerRoom?: number
  /** Open sockets in total, authenticated or not. Default 4096. */
  maxConnections?: number
  /** Ping period; a socket that has not ponged by the next ping is terminated. Default 10 s. */
  heartbeatMs?: number
  /**
   * Public key of a closed cluster: only peers whose hello carries a credential signed by it join a
   * room (others are refused with UNAUTHORIZED). Default: open rooms, and the server says so.
   */
  clusterKey?: Uint8Array
  /** Time a new socket has to send a valid hello. Default 10 s. */
  helloTimeoutMs?: number
  /** One line per join, leave and reject. Default: silent. */
  log?: (line: string) => void
}

/** Counters and gauges of a running server. */
export interface SignalServerStats {
  /** Open sockets. */
  connections: number
  /** Authenticated sockets in rooms. */
  peers: number
  rooms: number
  joins: number
  leaves: number
  /** Sockets closed by the server for a protocol, auth, limit or heartbeat reason. */
  rejected: number
  relayed: number
  unknownPeer: number
  /** Frames not sent because the receiver was closing or too far behind. */
  dropped: number
}

/** A running signaling server. */
export interface SignalServer {
  /** `ws://host:port`. */
  readonly url: string
  readonly port: number
  /** Closes every socket (1001) and the listener; resolves when nothing is left open. */
  close(): Promise<void>
  stats(): SignalServerStats
}

interface Conn {
  readonly ws: WebSocket
  readonly addr: string
  readonly nonce: string
  id?: NodeId
  room?: string
  alive: boolean
  tokens: number
  refilledAt: number
  /** Set once the server decided to close it: later frames are ignored. */
  closing: boolean
  helloTimer?: ReturnType<typeof setTimeout>
}

/** A receiver this far behind loses signals rather than growing the server's memory. */
const MAX_BUFFERED_BYTES = 1 << 20
const CLOSE_GRACE_MS = 500

const positive = (name: string, v: number | undefined, dflt: number, min = 1): number => {
  if (v === undefined) return dflt
  if (!Number.isFinite(v) || v < min) throw new TypeError(`${name} must be a number >= ${min}`)
  return v
}

const byteLength = (data: RawData): number =>
  Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : data instanceof ArrayBuffer ? data.byteLength : data.length

const asText = (data: RawData): string =>
  Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data).toString('utf8')

/** Starts a signaling server; resolves once it listens. */
export async function startSignalServer(opts: SignalServerOptions = {}): Promise<SignalServer> {
  const host = opts.host ?? '127.0.0.1'
  const maxMessageBytes = positive('maxMessageBytes', opts.maxMessageBytes, 64 * 1024, 256)
  const rate = positive('maxMessagesPerSecond', opts.maxMessagesPerSecond, 100)
  const burst = positive('burstMessages', opts.burstMessages, 2 * rate)
  const maxPeersPerRoom = positive('maxPeersPerRoom', opts.maxPeersPerRoom, 256)
  const maxConnections = positive('maxConnections', opts.maxConnections, 4096)
  const heartbeatMs = positive('heartbeatMs', opts.heartbeatMs, 10_000, 10)
  const helloTimeoutMs = positive('helloTimeoutMs', opts.helloTimeoutMs, 10_000, 10)
  const port = opts.port ?? 4444
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TypeError('port must be an integer in 0..65535')
  const log = (line: string): void => {
    try {
      opts.log?.(line)
    } catch {
      // a failing logger must not take the server down
    }
  }

  const conns = new Set<Conn>()
  const rooms = new Map<string, Map<NodeId, Conn>>()
  const counts = { joins: 0, leaves: 0, rejected: 0, relayed: 0, unknownPeer: 0, dropped: 0 }

  const send = (conn: Conn, msg: ServerMessage): void => {
    if (conn.ws.readyState !== WebSocket.OPEN || conn.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      counts.dropped++
      return
    }
    conn.ws.send(encodeMessage(msg))
  }

  const reject = (conn: Conn, code: SignalErrorCode, closeCode: number, message: string): void => {
    if (conn.closing) return
    conn.closing = true
    counts.rejected++
    log(`reject ${conn.addr} id=${conn.id ?? '-'} room=${conn.room ?? '-'} ${code}: ${message}`)
    try {
      send(conn, { type: 'error', code, message })
      // close reasons are limited to 123 bytes
      conn.ws.close(closeCode, message.slice(0, 120))
    } catch {
      conn.ws.terminate()
    }
  }

  const broadcast = (room: Map<NodeId, Conn>, except: NodeId, msg: ServerMessage): void => {
    for (const [id, c] of room) if (id !== except && !c.closing) send(c, msg)
  }

  const onHello = (conn: Conn, msg: Extract<ClientMessage, { type: 'hello' }>): void => {
    if (conn.id !== undefined) return reject(conn, 'INVALID_MESSAGE', CloseCode.INVALID_MESSAGE, 'hello after welcome')
    const publicKey = fromBase64(msg.publicKey, 32)
    const signature = fromBase64(msg.signature, 64)
    if (!publicKey || !signature) {
      return reject(conn, 'INVALID_MESSAGE', CloseCode.INVALID_MESSAGE, 'publicKey must be base64 of 32 bytes, signature of 64')
    }
    const id = idOfPublicKey(publicKey)
    if (msg.id !== undefined && msg.id !== id) return reject(conn, 'UNAUTHORIZED', CloseCode.UNAUTHORIZED, 'id does not match publicKey')
    if (!verifyId(id, publicKey, challengeBytes(conn.nonce, msg.room), signature)) {
      return reject(conn, 'UNAUTHORIZED', CloseCode.UNAUTHORIZED, 'bad signature')
    }
    if (opts.clusterKey && !verifyCredential(opts.clusterKey, publicKey, msg.credential ? fromBase64(msg.credential, CREDENTIAL_BYTES) : undefined)) {
      return reject(conn, 'UNAUTHORIZED', CloseCode.UNAUTHORIZED, 'closed cluster: no valid credential for this key')
    }
    const room = rooms.get(msg.room) ?? new Map<NodeId, Conn>()
    const old = room.get(id)
    if (!old && room.size >= maxPeersPerRoom) return reject(conn, 'ROOM_FULL', CloseCode.ROOM_FULL, `room holds ${maxPeersPerRoom} peers`)
    clearTimeout(conn.helloTimer)
    conn.id = id
    conn.room = msg.room
    room.set(id, conn)
    rooms.set(msg.room, room)
    if (old) {
      // A reload or reconnect: the new socket takes over at once; the old one leaves no `leave`.
      old.closing = true
      log(`replace ${old.addr} id=${id} room=${msg.room}`)
      old.ws.close(CloseCode.REPLACED, 'replaced')
    }
    counts.joins++
    send(conn, { type: 'welcome', id, peers: [...room.keys()].filter((p) => p !== id) })
    broadcast(room, id, { type: 'join', id })
    log(`join ${conn.addr} id=${id} room=${msg.room} peers=${room.size}`)
  }

  const onSignal = (conn: Conn, msg: Extract<ClientMessage, { type: 'signal' }>): void => {
    if (conn.id === undefined || conn.room === undefined) {
      return reject(conn, 'INVALID_MESSAGE', CloseCode.INVALID_MESSAGE, 'hello first')
    }
    const target = rooms.get(conn.room)?.get(msg.to)
    if (!target || target.closing) {
      counts.unknownPeer++
      return send(conn, { type: 'error', code: 'UNKNOWN_PEER', message: 'no such peer in the room', to: msg.to })
    }
    counts.relayed++
    send(target, { type: 'signal', from: conn.id, data: msg.data })
  }

  const onMessage = (conn: Conn, data: RawData, isBinary: boolean): void => {
    if (conn.closing) return
    const now = performance.now()
    conn.tokens = Math.min(burst, conn.tokens + ((now - conn.refilledAt) * rate) / 1000)
    conn.refilledAt = now
    if (conn.tokens < 1) return reject(conn, 'RATE_LIMITED', CloseCode.RATE_LIMITED, `more than ${rate} messages per second`)
    conn.tokens -= 1
    const size = byteLength(data)
    if (size > maxMessageBytes) {
      return reject(conn, 'MESSAGE_TOO_LARGE', CloseCode.MESSAGE_TOO_LARGE, `frame of ${size} bytes exceeds ${maxMessageBytes}`)
    }
    if (isBinary) return reject(conn, 'INVALID_MESSAGE', CloseCode.INVALID_MESSAGE, 'binary frames are not accepted')
    const decoded = decodeClientMessage(asText(data))
    if (!decoded.ok) return reject(conn, 'INVALID_MESSAGE', CloseCode.INVALID_MESSAGE, decoded.error)
    if (decoded.msg.type === 'hello') onHello(conn, decoded.msg)
    else onSignal(conn, decoded.msg)
  }

  const onClose = (conn: Conn): void => {
    conns.delete(conn)
    clearTimeout(conn.helloTimer)
    if (conn.id === undefined || conn.room === undefined) return
    const room = rooms.get(conn.room)
    if (room?.get(conn.id) !== conn) return // replaced: the new socket speaks for this id now
    room.delete(conn.id)
    if (room.size === 0) rooms.delete(conn.room)
    counts.leaves++
    broadcast(room, conn.id, { type: 'leave', id: conn.id })
    log(`leave ${conn.addr} id=${conn.id} room=${conn.room} peers=${room.size}`)
  }

  const onConnection = (ws: WebSocket, req: IncomingMessage): void => {
    const conn: Conn = {
      ws, addr: `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`,
      nonce: toBase64(randomBytes(NONCE_BYTES)), alive: true, tokens: burst, refilledAt: performance.now(), closing: false,
    }
    conns.add(conn)
    ws.on('error', () => {
      // ws closes the socket itself (bad frame, frame over maxPayload); 'close' follows
    })
    ws.on('close', () => {
      try {
        onClose(conn)
      } catch (e) {
        log(`internal error on close: ${String(e)}`)
      }
    })
    ws.on('pong', () => {
      conn.alive = true
    })
    ws.on('message', (data, isBinary) => {
      try {
        onMessage(conn, data, isBinary)
      } catch (e) {
        reject(conn, 'INTERNAL', CloseCode.INTERNAL, 'internal error')
        log(`internal error: ${String(e)}`)
      }
    })
    if (conns.size > maxConnections) return reject(conn, 'SERVER_FULL', CloseCode.SERVER_FULL, 'too many connections')
    conn.helloTimer = setTimeout(() => reject(conn, 'TIMEOUT', CloseCode.TIMEOUT, 'no hello in time'), helloTimeoutMs)
    send(conn, { type: 'challenge', nonce: conn.nonce })
  }

  const http = createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end('dynamesh signaling: WebSocket only\n')
  })
  const wss = new WebSocketServer({ server: http, maxPayload: 2 * maxMessageBytes, perMessageDeflate: false, clientTracking: false })
  wss.on('connection', (ws, req) => {
    try {
      onConnection(ws, req)
    } catch (e) {
      log(`internal error on connection: ${String(e)}`)
      ws.terminate()
    }
  })
  wss.on('error', (e) => log(`server error: ${String(e)}`))

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject)
    http.listen(port, host, () => {
      http.off('error', reject)
      resolve()
    })
  })
  http.on('error', (e) => log(`server error: ${String(e)}`))
  log(opts.clusterKey ? 'closed cluster: peers need a credential signed by the cluster key' : 'open rooms: any peer that knows a room name may join it')

  const heartbeat = setInterval(() => {
    for (const conn of conns) {
      try {
        if (!conn.alive) {
          counts.rejected++
          log(`reject ${conn.addr} id=${conn.id ?? '-'} room=${conn.room ?? '-'} TIMEOUT: no pong`)
          conn.closing = true
          conn.ws.terminate()
          continue
        }
        conn.alive = false
        conn.ws.ping()
      } catch {
        // ping on a closing socket: the next round terminates it
      }
    }
  }, heartbeatMs)

  const boundPort = (http.address() as AddressInfo).port
  let closed: Promise<void> | undefined

  const shutdown = async (): Promise<void> => {
    clearInterval(heartbeat)
    const gone = [...conns].map((c) => new Promise<void>((resolve) => {
      if (c.ws.readyState === WebSocket.CLOSED) return resolve()
      c.ws.once('close', () => resolve())
      clearTimeout(c.helloTimer)
      c.closing = true
      c.ws.close(CloseCode.GOING_AWAY, 'server shutting down')
    }))
    let grace: ReturnType<typeof setTimeout> | undefined
    await Promise.race([Promise.all(gone), new Promise((r) => (grace = setTimeout(r, CLOSE_GRACE_MS)))])
    clearTimeout(grace)
    for (const c of conns) c.ws.terminate()
    await new Promise<void>((resolve) => wss.close(() => resolve()))
    await new Promise<void>((resolve) => {
      http.close(() => resolve())
      http.closeAllConnections()
    })
  }

  return {
    url: `ws://${host.includes(':') ? `[${host}]` : host}:${boundPort}`,
    port: boundPort,
    close: () => (closed ??= shutdown()),
    stats: () => {
      let peers = 0
      for (const r of rooms.values()) peers += r.size
      return { connections: conns.size, peers, rooms: rooms.size, ...counts }
    },
  }
}
