/**
 * Messages between dynamesh nodes: a tagged union, one binary codec (MessagePack) and one decoder
 * that validates shape and size before anything else sees the message. A peer's bytes are
 * untrusted: `decodeMessage` throws `INVALID_MESSAGE`, and the caller drops the message.
 */
import { Packr } from 'msgpackr'
import { DynameshError } from '../errors.js'
import { HARD_MESSAGE_BYTES, MAX_GOSSIP_MEMBERS, MAX_KEY_BYTES, MAX_LIST_ITEMS, MAX_MEMBER_ID, MAX_Q, MAX_RECORD_BYTES, MAX_WEIGHT } from '../limits.js'

export { MAX_KEY_BYTES } from '../limits.js'
const MAX_ITEMS = MAX_LIST_ITEMS
const MAX_ID = MAX_MEMBER_ID
/** Longest error code a reply may carry. */
const MAX_CODE = 64

export type MemberStatus = 'joining' | 'up' | 'leaving' | 'left'

/** One member as gossiped: views merge by `version` (higher wins; ties by status order). */
export interface MemberEntry {
  id: string
  weight: number
  status: MemberStatus
  version: number
}

/** A record sent to a replica; `hint` names the owner a fallback holds it for. */
export interface StoreItem {
  key: Uint8Array
  rec: Uint8Array
  hint?: string
}

export type Msg =
  | { t: 'gossip'; members: MemberEntry[]; reply: boolean }
  | { t: 'get'; rid: number; key: Uint8Array }
  /** `err`: why a replica that has the request could not answer it (e.g. MESSAGE_TOO_LARGE); then `rec` is null. */
  | { t: 'get-r'; rid: number; rec: Uint8Array | null; err?: string }
  | { t: 'store'; rid: number; items: StoreItem[]; ack: boolean }
  /** `err`: why the replica did not store every item (an error code), when `ok` is false. */
  | { t: 'store-r'; rid: number; ok: boolean; err?: string }
  | { t: 'fwd'; rid: number; key: Uint8Array; value: Uint8Array | null; ctx: string; w: number; n: number; timeoutMs: number }
  | { t: 'fwd-r'; rid: number; ok: boolean; ctx: string; code: string; message: string }
  | { t: 'ae-roots'; sid: number; parts: Array<[number, Uint8Array]> }
  | { t: 'ae-step'; sid: number; parts: Array<[number, Uint8Array, Uint8Array]> }
  | { t: 'ae-pull'; sid: number; keys: Uint8Array[] }
  /** Anti-entropy summary of all shared partitions: level 0 one 16-byte hash, level 1 64 group hashes of 6 bytes. */
  | { t: 'ae-sum'; sid: number; level: number; h: Uint8Array }
  /** Anti-entropy records sent for the receiver to merge; it sends back its merge where that differs. */
  | { t: 'ae-push'; sid: number; items: StoreItem[] }

export type MsgType = Msg['t']

const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' })

/** Encodes a message for the transport. */
export const encodeMessage = (m: Msg): Uint8Array => packr.pack(m)

const fail = (why: string): never => {
  throw new DynameshError('INVALID_MESSAGE', why)
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const bytes = (v: unknown, max: number, what: string): Uint8Array =>
  v instanceof Uint8Array && v.length <= max ? v : fail(`${what}: expected bytes up to ${max}`)
const optBytes = (v: unknown, max: number, what: string): Uint8Array | null => (v === null ? null : bytes(v, max, what))
const int = (v: unknown, what: string, min = 0, max = Number.MAX_SAFE_INTEGER): number =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : fail(`${what}: expected integer`)
const str = (v: unknown, max: number, what: string): string =>
  typeof v === 'string' && v.length <= max ? v : fail(`${what}: expected string up to ${max}`)
const bool = (v: unknown, what: string): boolean => (typeof v === 'boolean' ? v : fail(`${what}: expected boolean`))
const list = (v: unknown, what: string, max = MAX_ITEMS): unknown[] =>
  Array.isArray(v) && v.length <= max ? v : fail(`${what}: expected list up to ${max}`)

/** Member ids: hex ids of real peers, short names in the simulation; never arbitrary text. */
const MEMBER_ID = /^[A-Za-z0-9._~-]{1,128}$/
/** Versions far beyond any real count of status changes are refused, so none can be made unbeatable. */
const MAX_MEMBER_VERSION = 2 ** 40
const STATUSES: readonly string[] = ['joining', 'up', 'leaving', 'left']

function member(v: unknown): MemberEntry {
  if (!isObj(v)) return fail('member: expected object')
  const weight = v.weight
  if (typeof weight !== 'number' || !(weight >= 0 && weight <= MAX_WEIGHT)) fail('member.weight out of range')
  const status = str(v.status, 16, 'member.status')
  if (!STATUSES.includes(status)) fail('member.status unknown')
  const id = str(v.id, MAX_ID, 'member.id')
  if (!MEMBER_ID.test(id)) fail('member.id: expected 1 to 128 characters of [A-Za-z0-9._~-]')
  return { id, weight: weight as number, status: status as MemberStatus, version: int(v.version, 'member.version', 0, MAX_MEMBER_VERSION) }
}

function storeItem(v: unknown): StoreItem {
  if (!isObj(v)) return fail('item: expected object')
  const item: StoreItem = { key: bytes(v.key, MAX_KEY_BYTES, 'item.key'), rec: bytes(v.rec, HARD_MESSAGE_BYTES, 'item.rec') }
  if (v.hint !== undefined) item.hint = str(v.hint, MAX_ID, 'item.hint')
  return item
}

const part = (v: unknown): number => int(v, 'partition', 0, MAX_Q)
const optCode = (v: unknown): { err?: string } => (v === undefined || v === '' ? {} : { err: str(v, MAX_CODE, 'err') })

/** Decodes and validates one message; throws DynameshError('INVALID_MESSAGE') on anything else. */
export function decodeMessage(data: Uint8Array): Msg {
  if (!(data instanceof Uint8Array)) return fail('not bytes')
  if (data.length > HARD_MESSAGE_BYTES) return fail('message too large')
  let v: unknown
  try {
    v = packr.unpack(data)
  } catch (cause) {
    throw new DynameshError('INVALID_MESSAGE', 'undecodable message', { cause })
  }
  if (!isObj(v)) return fail('expected an object')
  switch (v.t) {
    case 'gossip':
      return { t: 'gossip', members: list(v.members, 'members', MAX_GOSSIP_MEMBERS).map(member), reply: bool(v.reply, 'reply') }
    case 'get':
      return { t: 'get', rid: int(v.rid, 'rid'), key: bytes(v.key, MAX_KEY_BYTES, 'key') }
    case 'get-r':
      return { t: 'get-r', rid: int(v.rid, 'rid'), rec: optBytes(v.rec, HARD_MESSAGE_BYTES, 'rec'), ...optCode(v.err) }
    case 'store':
      return { t: 'store', rid: int(v.rid, 'rid'), items: list(v.items, 'items').map(storeItem), ack: bool(v.ack, 'ack') }
    case 'store-r':
      return { t: 'store-r', rid: int(v.rid, 'rid'), ok: bool(v.ok, 'ok'), ...optCode(v.err) }
    case 'fwd':
      return {
        t: 'fwd',
        rid: int(v.rid, 'rid'),
        key: bytes(v.key, MAX_KEY_BYTES, 'key'),
        value: optBytes(v.value, MAX_RECORD_BYTES, 'value'),
        ctx: str(v.ctx, 64 * 1024, 'ctx'),
        w: int(v.w, 'w', 1, 64),
        n: int(v.n, 'n', 1, 64),
        timeoutMs: int(v.timeoutMs, 'timeoutMs', 1, 600_000),
      }
    case 'fwd-r':
      return {
        t: 'fwd-r',
        rid: int(v.rid, 'rid'),
        ok: bool(v.ok, 'ok'),
        ctx: str(v.ctx, 64 * 1024, 'ctx'),
        code: str(v.code, MAX_CODE, 'code'),
        message: str(v.message, 1024, 'message'),
      }
    case 'ae-roots':
      return {
        t: 'ae-roots',
        sid: int(v.sid, 'sid'),
        parts: list(v.parts, 'parts', MAX_Q).map((p) => {
          const [pp, root] = list(p, 'part', 2)
          return [part(pp), bytes(root, 16, 'root')] as [number, Uint8Array]
        }),
      }
    case 'ae-step':
      return {
        t: 'ae-step',
        sid: int(v.sid, 'sid'),
        parts: list(v.parts, 'parts', MAX_Q).map((p) => {
          const [pp, probes, leaves] = list(p, 'part', 3)
          return [part(pp), bytes(probes, HARD_MESSAGE_BYTES, 'probes'), bytes(leaves, HARD_MESSAGE_BYTES, 'leaves')] as [number, Uint8Array, Uint8Array]
        }),
      }
    case 'ae-pull':
      return { t: 'ae-pull', sid: int(v.sid, 'sid'), keys: list(v.keys, 'keys').map((k) => bytes(k, MAX_KEY_BYTES, 'key')) }
    case 'ae-sum': {
      const level = int(v.level, 'level', 0, 1)
      const h = bytes(v.h, 384, 'h')
      if (h.length !== (level === 0 ? 16 : 384)) fail('ae-sum: hash length')
      return { t: 'ae-sum', sid: int(v.sid, 'sid'), level, h }
    }
    case 'ae-push':
      return { t: 'ae-push', sid: int(v.sid, 'sid'), items: list(v.items, 'items').map(storeItem) }
    default:
      return fail('unknown message type')
  }
}
