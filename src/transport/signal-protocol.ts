/**
 * The signaling wire protocol, shared by the server (`signaling/server.ts`) and the peers' client
 * (`signal-client.ts`). JSON text frames; the server is a dumb relay (STYLE.md point 10): it checks
 * the envelope of a `signal` but never looks inside `data`.
 *
 * ```
 * server → client  {type:'challenge', nonce}                 on connect
 * client → server  {type:'hello', room, publicKey, signature, id?, credential?}   (credential: closed clusters)
 * server → client  {type:'welcome', id, peers}               others in the room
 * server → others  {type:'join', id} / {type:'leave', id}
 * client → server  {type:'signal', to, data}
 * server → target  {type:'signal', from, data}
 * server → client  {type:'error', code, message, to?}
 * ```
 *
 * Isomorphic: no Node imports (base64 from core/bytes.ts, as every format here).
 * The only thing checked inside `data` is how deep it nests (MAX_SIGNAL_DEPTH), so the relay can
 * write it out again.
 */
import type { NodeId } from '../types.js'
import { asNodeId } from '../types.js'
import { fromBase64 as fromBase64Padded, toBase64 as toBase64Padded } from '../core/bytes.js'
import { ID_HEX_LENGTH } from '../identity.js'

/** Rooms: 1..64 characters of `[A-Za-z0-9._-]`. */
export const ROOM_PATTERN = /^[A-Za-z0-9._-]{1,64}$/

const ID_PATTERN = new RegExp(`^[0-9a-f]{${ID_HEX_LENGTH}}$`)

/** Bytes of the challenge nonce. */
export const NONCE_BYTES = 32

/**
 * Deepest nesting of a signal's `data`. Offers, answers and candidates nest three or four levels;
 * JSON.parse takes any depth, but the relay writes `data` out again with JSON.stringify, which
 * recurses and throws RangeError a few thousand levels down (a 10 KB frame of brackets).
 */
export const MAX_SIGNAL_DEPTH = 32

/** Error codes carried by `{type:'error'}` frames. */
export type SignalErrorCode =
  | 'INVALID_MESSAGE'
  | 'UNAUTHORIZED'
  | 'UNKNOWN_PEER'
  | 'ROOM_FULL'
  | 'SERVER_FULL'
  | 'RATE_LIMITED'
  | 'MESSAGE_TOO_LARGE'
  | 'TIMEOUT'
  | 'INTERNAL'

const ERROR_CODES: ReadonlySet<string> = new Set<SignalErrorCode>([
  'INVALID_MESSAGE', 'UNAUTHORIZED', 'UNKNOWN_PEER', 'ROOM_FULL', 'SERVER_FULL', 'RATE_LIMITED',
  'MESSAGE_TOO_LARGE', 'TIMEOUT', 'INTERNAL',
])

/** WebSocket close codes the server uses; the client decides from them whether to reconnect. */
export const CloseCode = {
  /** Server shutting down (standard "going away"). */
  GOING_AWAY: 1001,
  INVALID_MESSAGE: 4000,
  /** Another socket with the same id joined the room; do not reconnect. */
  REPLACED: 4001,
  /** Bad signature or id; do not reconnect. */
  UNAUTHORIZED: 4002,
  ROOM_FULL: 4003,
  SERVER_FULL: 4004,
  MESSAGE_TOO_LARGE: 4005,
  RATE_LIMITED: 4006,
  /** No hello within the server's hello timeout. */
  TIMEOUT: 4007,
  INTERNAL: 4008,
} as const

/** Messages a client sends. */
export type ClientMessage =
  | { type: 'hello'; room: string; publicKey: string; signature: string; id?: string; credential?: string }
  | { type: 'signal'; to: NodeId; data: unknown }

/** Messages the server sends. */
export type ServerMessage =
  | { type: 'challenge'; nonce: string }
  | { type: 'welcome'; id: NodeId; peers: NodeId[] }
  | { type: 'join'; id: NodeId }
  | { type: 'leave'; id: NodeId }
  | { type: 'signal'; from: NodeId; data: unknown }
  | { type: 'error'; code: SignalErrorCode; message: string; to?: NodeId }

/** What a decoder returns: the message, or why it was refused. */
export type Decoded<T> = { ok: true; msg: T } | { ok: false; error: string }

/** True for a syntactically valid node id (32 lowercase hex characters). */
export const isNodeIdString = (v: unknown): v is NodeId => typeof v === 'string' && ID_PATTERN.test(v)

/** True for a valid room name. */
export const isRoom = (v: unknown): v is string => typeof v === 'string' && ROOM_PATTERN.test(v)

/** Standard base64 of bytes (core/bytes.ts). */
export const toBase64 = (bytes: Uint8Array): string => toBase64Padded(bytes)

/** Bytes of canonical, padded base64, or undefined when `s` is not that (or not `length` bytes). */
export function fromBase64(s: unknown, length?: number): Uint8Array | undefined {
  if (typeof s !== 'string' || s.length > 1024) return undefined
  const out = fromBase64Padded(s)
  return out === undefined || (length !== undefined && out.length !== length) ? undefined : out
}

/** The bytes a client signs to answer a challenge: UTF-8 of `dynamesh-signal|<nonce>|<room>`. */
export const challengeBytes = (nonce: string, room: string): Uint8Array =>
  new TextEncoder().encode(`dynamesh-signal|${nonce}|${room}`)

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** True when no object or array in `v` lies more than `max` levels down. Iterative: hostile input must not recurse. */
function nestedWithin(v: unknown, max: number): boolean {
  const todo: Array<[unknown, number]> = [[v, 1]]
  for (let next = todo.pop(); next !== undefined; next = todo.pop()) {
    const [x, depth] = next
    if (typeof x !== 'object' || x === null) continue
    if (depth > max) return false
    for (const child of Object.values(x)) todo.push([child, depth + 1])
  }
  return true
}

function parseObject(text: unknown): Record<string, unknown> | string {
  if (typeof text !== 'string') return 'binary frames are not accepted'
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch {
    return 'not JSON'
  }
  return isObject(v) ? v : 'not a JSON object'
}

/** Decodes and validates a frame from a client. Never throws. */
export function decodeClientMessage(text: unknown): Decoded<ClientMessage> {
  const o = parseObject(text)
  if (typeof o === 'string') return { ok: false, error: o }
  switch (o.type) {
    case 'hello': {
      if (!isRoom(o.room)) return { ok: false, error: 'hello.room must be 1..64 chars of [A-Za-z0-9._-]' }
      if (typeof o.publicKey !== 'string') return { ok: false, error: 'hello.publicKey must be a string' }
      if (typeof o.signature !== 'string') return { ok: false, error: 'hello.signature must be a string' }
      if (o.id !== undefined && typeof o.id !== 'string') return { ok: false, error: 'hello.id must be a string' }
      const msg: ClientMessage = { type: 'hello', room: o.room, publicKey: o.publicKey, signature: o.signature }
      if (typeof o.id === 'string') msg.id = o.id
      if (o.credential !== undefined) {
        if (typeof o.credential !== 'string' || o.credential.length > 128) return { ok: false, error: 'hello.credential must be a base64 string' }
        msg.credential = o.credential
      }
      return { ok: true, msg }
    }
    case 'signal':
      if (!isNodeIdString(o.to)) return { ok: false, error: 'signal.to must be a node id' }
      if (!('data' in o)) return { ok: false, error: 'signal.data is missing' }
      if (!nestedWithin(o.data, MAX_SIGNAL_DEPTH)) return { ok: false, error: `signal.data nests deeper than ${MAX_SIGNAL_DEPTH} levels` }
      return { ok: true, msg: { type: 'signal', to: o.to, data: o.data } }
    default:
      return { ok: false, error: 'unknown message type' }
  }
}

/** Decodes and validates a frame from the server. Never throws. */
export function decodeServerMessage(text: unknown): Decoded<ServerMessage> {
  const o = parseObject(text)
  if (typeof o === 'string') return { ok: false, error: o }
  switch (o.type) {
    case 'challenge':
      return typeof o.nonce === 'string' && o.nonce.length > 0 && o.nonce.length <= 256
        ? { ok: true, msg: { type: 'challenge', nonce: o.nonce } }
        : { ok: false, error: 'challenge.nonce must be a string' }
    case 'welcome':
      if (!isNodeIdString(o.id)) return { ok: false, error: 'welcome.id must be a node id' }
      if (!Array.isArray(o.peers) || !o.peers.every(isNodeIdString)) return { ok: false, error: 'welcome.peers must be node ids' }
      return { ok: true, msg: { type: 'welcome', id: o.id, peers: o.peers.map(asNodeId) } }
    case 'join':
    case 'leave':
      return isNodeIdString(o.id) ? { ok: true, msg: { type: o.type, id: o.id } } : { ok: false, error: `${o.type}.id must be a node id` }
    case 'signal':
      if (!isNodeIdString(o.from)) return { ok: false, error: 'signal.from must be a node id' }
      if (!('data' in o)) return { ok: false, error: 'signal.data is missing' }
      if (!nestedWithin(o.data, MAX_SIGNAL_DEPTH)) return { ok: false, error: `signal.data nests deeper than ${MAX_SIGNAL_DEPTH} levels` }
      return { ok: true, msg: { type: 'signal', from: o.from, data: o.data } }
    case 'error': {
      if (typeof o.code !== 'string' || !ERROR_CODES.has(o.code)) return { ok: false, error: 'error.code is unknown' }
      const msg: ServerMessage = { type: 'error', code: o.code as SignalErrorCode, message: typeof o.message === 'string' ? o.message : '' }
      if (isNodeIdString(o.to)) msg.to = o.to
      return { ok: true, msg }
    }
    default:
      return { ok: false, error: 'unknown message type' }
  }
}

/** Serializes a message (either direction). */
export const encodeMessage = (msg: ClientMessage | ServerMessage): string => JSON.stringify(msg)
