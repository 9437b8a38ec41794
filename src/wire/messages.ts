/**
 * Messages between dynamesh nodes: a tagged union, one binary codec (MessagePack) and one decoder
 * that validates shape and size before anything else sees the message. A peer's bytes are
 * untrusted: `decodeMessage` throws `INVALID_MESSAGE`, and the caller drops the message.
 */
import { Packr } from 'msgpackr'
import { DynameshError } from '../errors.js'
import { HARD_MESSAGE_BYTES, MAX_CELLS_PER_MESSAGE, MAX_SESSION_CELLS, MAX_GOSSIP_BUCKETS, MAX_GOSSIP_MEMBERS, MAX_KEY_BYTES, MAX_LIST_ITEMS, MAX_MEMBER_ID, MAX_MEMBER_VERSION, MAX_Q, MAX_VIEW_MEMBERS, MAX_RECORD_BYTES, MAX_WEIGHT, VIEW_CELLS } from '../limits.js'
import { parseShorts, parseVersions, SHORT_ID_BYTES } from '../core/view.js'
import { CELL_BYTES, WANT_BYTES, decodeTow } from '../core/riblt.js'
import { decodeVectors } from '../core/record.js'
import { decodeVarints } from '../core/bytes.js'
import type { MemberEntry, MemberStatus } from '../core/membership.js'
import { asNodeId, type NodeId } from '../types.js'

export { MAX_KEY_BYTES } from '../limits.js'
const MAX_ITEMS = MAX_LIST_ITEMS
const MAX_ID = MAX_MEMBER_ID
/** Longest error code a reply may carry. */
const MAX_CODE = 64

/** Member entries are the core's (core/membership.ts); re-exported for code that imports them from here. */
export type { MemberEntry, MemberStatus }

/** A record sent to a replica; `hint` names the owner a fallback holds it for. */
export interface StoreItem {
  key: Uint8Array
  rec: Uint8Array
  hint?: NodeId
}

export type Msg =
  /**
   * Gossip, step 1: the sender's view digest and size; `reply` asks for the receiver's digest back,
   * `bkt` for bucket sums rather than cells when they differ (after cells did not decode).
   */
  | { t: 'g-sum'; d: Uint8Array; n: number; reply: boolean; bkt?: true }
  /** Step 2 when digests differ and the views are close in size: cells [at, at + k) of the sender's view (riblt.ts). */
  | { t: 'g-cells'; at: number; c: Uint8Array }
  /** The cells did not decode yet: cells [at, at + k) next. */
  | { t: 'g-more'; at: number; k: number }
  /** Step 2, when digests differ: the sender's bucket sums, 4 bytes for each of a power-of-two count of buckets. */
  | { t: 'g-bkt'; h: Uint8Array }
  /** Step 3: the sender's version list (core/view.ts) of the buckets, at resolution `nb`, whose sums differed. */
  | { t: 'g-ver'; nb: number; b: number[]; v: Uint8Array }
  /**
   * Steps 4 and 5: signed entries for the receiver, and the short ids the sender wants (answered
   * once, with an empty want). `ask` asks for that answer even when nothing is wanted (the cells
   * decoded: the sender gives and wants at once). `end` marks the answer to a g-ver or to an `ask`,
   * the last message of the exchange its receiver began (entries pushed outside an exchange, or
   * sent because they were wanted in the receiver's answer, have none).
   */
  | { t: 'g-delta'; members: MemberEntry[]; want: Uint8Array; end?: true; ask?: true }
  | { t: 'get'; rid: number; key: Uint8Array }
  /** `err`: why a replica that has the request could not answer it (e.g. MESSAGE_TOO_LARGE); then `rec` is null. */
  | { t: 'get-r'; rid: number; rec: Uint8Array | null; err?: string }
  /**
   * `own`: an ownership transfer; the sender deletes its copies once acknowledged, so a receiver
   * that does not own the records' partitions keeps them but does not acknowledge (NOT_OWNER).
   */
  | { t: 'store'; rid: number; items: StoreItem[]; ack: boolean; own?: true }
  /** `err`: why the replica did not store every item (an error code), when `ok` is false. */
  | { t: 'store-r'; rid: number; ok: boolean; err?: string }
  /**
   * A write for a coordinator to take on. `op` names the client's operation and is the same on every
   * copy (duplicates, resends, retries through other nodes): a node coordinates one op once
   * (node/ops.ts). `again`: an earlier attempt of this op went unanswered, so some node may already
   * have stamped it; the coordinator then reuses that version when it holds it (docs/writes.md).
   */
  | { t: 'fwd'; rid: number; op: number; at: number; again: boolean; key: Uint8Array; value: Uint8Array | null; ctx: string; w: number; n: number; timeoutMs: number }
  | { t: 'fwd-r'; rid: number; ok: boolean; ctx: string; code: string; message: string }
  | { t: 'ae-roots'; sid: number; parts: Array<[number, Uint8Array]> }
  | { t: 'ae-step'; sid: number; parts: Array<[number, Uint8Array, Uint8Array]> }
  /** Keys asked for: listed, or (`idx`, varints) by their places in the asker's ae-diff of the same `sid`. */
  | { t: 'ae-pull'; sid: number; keys: Uint8Array[]; idx?: Uint8Array }
  /**
   * Anti-entropy summary of all shared partitions: level 0 one 16-byte hash, level 1 64 group hashes
   * of 6 bytes. A level-0 summary to a peer that was away also carries the sender's tug-of-war sums
   * and record count (core/riblt.ts), so the answer can hold every cell needed.
   */
  | { t: 'ae-sum'; sid: number; level: number; h: Uint8Array; tow?: Uint8Array; n?: number }
  /** Anti-entropy records sent for the receiver to merge; it sends back its merge where that differs. */
  | { t: 'ae-push'; sid: number; items: StoreItem[] }
  /**
   * Reconciliation cells [from, from + cells / 13) of the sender's shared partitions (core/riblt.ts).
   * The first (from 0) also carries the sender's tug-of-war sums and how many records it shares.
   */
  | { t: 'ae-sym'; sid: number; from: number; cells: Uint8Array; tow?: Uint8Array; n?: number }
  /** Asks for reconciliation cells [from, to). */
  | { t: 'ae-more'; sid: number; from: number; to: number }
  /**
   * The decoded difference (`at`: the place of the first key among all the session's): keys the sender holds in a version the receiver lacks, with the counters
   * of their version vectors (record.ts encodeVectors, one per key), and the items the receiver
   * holds and the sender does not (4 bytes each, riblt.ts WANT_BYTES).
   */
  | { t: 'ae-diff'; sid: number; at: number; keys: Uint8Array[]; vv: Uint8Array; want: Uint8Array }
  /** Keys whose tombstone, in the version the receiver compared, the sender keeps as a grave (node/collect.ts). */
  | { t: 'ae-grave'; keys: Uint8Array[] }

export type MsgType = Msg['t']

const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' })

const STATUSES: readonly MemberStatus[] = ['joining', 'up', 'leaving', 'left']

/** A member on the wire: a tuple, not a map, so field names are not repeated for every member. */
const memberTuple = (m: MemberEntry): unknown[] => {
  const t: unknown[] = [m.id, m.weight, STATUSES.indexOf(m.status), m.version]
  if (m.key && m.sig) t.push(m.key, m.sig)
  if (m.key && m.sig && m.cred) t.push(m.cred)
  return t
}

/** A stored record on the wire: [key, rec] or [key, rec, hint], field names not repeated per record. */
const itemTuple = (i: StoreItem): unknown[] => (i.hint === undefined ? [i.key, i.rec] : [i.key, i.rec, i.hint])

/** Encodes a message for the transport. */
export function encodeMessage(m: Msg): Uint8Array {
  switch (m.t) {
    case 'g-delta':
      return packr.pack({ ...m, members: m.members.map(memberTuple) })
    case 'store':
    case 'ae-push':
      return packr.pack({ ...m, items: m.items.map(itemTuple) })
    default:
      return packr.pack(m)
  }
}

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
/** An optional field that is either absent or true: `{ [what]: true }` or nothing. */
const flag = <K extends string>(v: unknown, what: K): { [k in K]?: true } =>
  v === undefined ? {} : v === true ? ({ [what]: true } as { [k in K]?: true }) : fail(`${what}: expected true`)
const list = (v: unknown, what: string, max = MAX_ITEMS): unknown[] =>
  Array.isArray(v) && v.length <= max ? v : fail(`${what}: expected list up to ${max}`)

/** Member ids: hex ids of real peers, short names in the simulation; never arbitrary text. */
const MEMBER_ID = /^[A-Za-z0-9._~-]{1,128}$/

/** A member tuple: [id, weight, status index, version], the same with [key (32 B), sig (64 B)], and in a closed cluster [cred (64 B)]. */
function member(v: unknown): MemberEntry {
  const t = list(v, 'member', 7)
  if (t.length !== 4 && t.length !== 6 && t.length !== 7) fail('member: expected 4, 6 or 7 fields')
  const raw = str(t[0], MAX_ID, 'member.id')
  if (!MEMBER_ID.test(raw)) fail('member.id: expected 1 to 128 characters of [A-Za-z0-9._~-]')
  const id = asNodeId(raw)
  const weight = int(t[1], 'member.weight', 0, MAX_WEIGHT)
  const status = STATUSES[int(t[2], 'member.status', 0, STATUSES.length - 1)]!
  const entry: MemberEntry = { id, weight, status, version: int(t[3], 'member.version', 0, MAX_MEMBER_VERSION) }
  if (t.length >= 6) {
    const key = bytes(t[4], 32, 'member.key')
    const sig = bytes(t[5], 64, 'member.sig')
    if (key.length !== 32 || sig.length !== 64) fail('member: key of 32 bytes and signature of 64 expected')
    // Copies: entries live in the view long after the message buffer they came in.
    entry.key = new Uint8Array(key)
    entry.sig = new Uint8Array(sig)
  }
  if (t.length === 7) {
    const cred = bytes(t[6], 64, 'member.cred')
    if (cred.length !== 64) fail('member: credential of 64 bytes expected')
    entry.cred = new Uint8Array(cred)
  }
  return entry
}

const isPowerOfTwo = (n: number): boolean => n >= 1 && (n & (n - 1)) === 0

function storeItem(v: unknown): StoreItem {
  const t = list(v, 'item', 3)
  if (t.length !== 2 && t.length !== 3) fail('item: expected [key, rec] or [key, rec, hint]')
  const item: StoreItem = { key: bytes(t[0], MAX_KEY_BYTES, 'item.key'), rec: bytes(t[1], HARD_MESSAGE_BYTES, 'item.rec') }
  if (t.length === 3) item.hint = asNodeId(str(t[2], MAX_ID, 'item.hint'))
  return item
}

const part = (v: unknown): number => int(v, 'partition', 0, MAX_Q)

/** The optional tug-of-war sums and record count of anti-entropy summaries and first cells. */
function towAndCount(v: Record<string, unknown>): { tow?: Uint8Array; n?: number } {
  const out: { tow?: Uint8Array; n?: number } = {}
  if (v.tow !== undefined) {
    out.tow = bytes(v.tow, 1024, 'tow')
    decodeTow(out.tow, (why) => fail(`tow: ${why}`))
  }
  if (v.n !== undefined) out.n = int(v.n, 'n')
  return out
}
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
    case 'g-sum': {
      const d = bytes(v.d, 8, 'd')
      if (d.length !== 8) fail('g-sum: digest of 8 bytes expected')
      return { t: 'g-sum', d, n: int(v.n, 'n', 0, MAX_VIEW_MEMBERS), reply: bool(v.reply, 'reply'), ...flag(v.bkt, 'bkt') }
    }
    case 'g-cells': {
      const at = int(v.at, 'at', 0, VIEW_CELLS - 1)
      const c = bytes(v.c, (VIEW_CELLS - at) * CELL_BYTES, 'c')
      if (c.length === 0 || c.length % CELL_BYTES !== 0) fail(`g-cells: a whole number of ${CELL_BYTES}-byte cells expected`)
      return { t: 'g-cells', at, c }
    }
    case 'g-more': {
      const at = int(v.at, 'at', 1, VIEW_CELLS - 1)
      return { t: 'g-more', at, k: int(v.k, 'k', 1, VIEW_CELLS - at) }
    }
    case 'g-bkt': {
      const h = bytes(v.h, MAX_GOSSIP_BUCKETS * 4, 'h')
      if (h.length % 4 !== 0 || !isPowerOfTwo(h.length / 4)) fail('g-bkt: a power of two of 4-byte sums expected')
      return { t: 'g-bkt', h }
    }
    case 'g-ver': {
      const nb = int(v.nb, 'nb', 1, MAX_GOSSIP_BUCKETS)
      if (!isPowerOfTwo(nb)) fail('g-ver: nb must be a power of two')
      const b = list(v.b, 'b', nb).map((x) => int(x, 'bucket', 0, nb - 1))
      const blob = bytes(v.v, MAX_VIEW_MEMBERS * (SHORT_ID_BYTES + 2 + 6), 'v')
      parseVersions(blob, fail)
      return { t: 'g-ver', nb, b, v: blob }
    }
    case 'g-delta': {
      const want = bytes(v.want, MAX_GOSSIP_MEMBERS * SHORT_ID_BYTES, 'want')
      parseShorts(want, fail)
      return { t: 'g-delta', members: list(v.members, 'members', MAX_GOSSIP_MEMBERS).map(member), want, ...flag(v.end, 'end'), ...flag(v.ask, 'ask') }
    }
    case 'get':
      return { t: 'get', rid: int(v.rid, 'rid'), key: bytes(v.key, MAX_KEY_BYTES, 'key') }
    case 'get-r':
      return { t: 'get-r', rid: int(v.rid, 'rid'), rec: optBytes(v.rec, HARD_MESSAGE_BYTES, 'rec'), ...optCode(v.err) }
    case 'store':
      return { t: 'store', rid: int(v.rid, 'rid'), items: list(v.items, 'items').map(storeItem), ack: bool(v.ack, 'ack'), ...flag(v.own, 'own') }
    case 'store-r':
      return { t: 'store-r', rid: int(v.rid, 'rid'), ok: bool(v.ok, 'ok'), ...optCode(v.err) }
    case 'fwd':
      return {
        t: 'fwd',
        rid: int(v.rid, 'rid'),
        op: int(v.op, 'op', 1),
        at: int(v.at, 'at'),
        again: bool(v.again, 'again'),
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
    case 'ae-pull': {
      const m: Msg = { t: 'ae-pull', sid: int(v.sid, 'sid'), keys: list(v.keys, 'keys').map((k) => bytes(k, MAX_KEY_BYTES, 'key')) }
      if (v.idx !== undefined) {
        m.idx = bytes(v.idx, MAX_ITEMS * 8, 'idx')
        decodeVarints(m.idx, (why) => fail(`ae-pull: idx: ${why}`), MAX_ITEMS)
      }
      return m
    }
    case 'ae-sum': {
      const level = int(v.level, 'level', 0, 1)
      const h = bytes(v.h, 384, 'h')
      if (h.length !== (level === 0 ? 16 : 384)) fail('ae-sum: hash length')
      const m: Msg = { t: 'ae-sum', sid: int(v.sid, 'sid'), level, h, ...towAndCount(v) }
      if (level === 1 && (m.tow !== undefined || m.n !== undefined)) fail('ae-sum: sums only at level 0')
      return m
    }
    case 'ae-push':
      return { t: 'ae-push', sid: int(v.sid, 'sid'), items: list(v.items, 'items').map(storeItem) }
    case 'ae-sym': {
      const from = int(v.from, 'from', 0, MAX_SESSION_CELLS)
      const cells = bytes(v.cells, MAX_CELLS_PER_MESSAGE * CELL_BYTES, 'cells')
      if (cells.length % CELL_BYTES !== 0 || from + cells.length / CELL_BYTES > MAX_SESSION_CELLS) fail('ae-sym: cells')
      return { t: 'ae-sym', sid: int(v.sid, 'sid'), from, cells, ...towAndCount(v) }
    }
    case 'ae-more': {
      const from = int(v.from, 'from', 0, MAX_SESSION_CELLS)
      const to = int(v.to, 'to', 0, MAX_SESSION_CELLS)
      if (to <= from || to - from > MAX_CELLS_PER_MESSAGE) fail('ae-more: range')
      return { t: 'ae-more', sid: int(v.sid, 'sid'), from, to }
    }
    case 'ae-diff': {
      const keys = list(v.keys, 'keys').map((k) => bytes(k, MAX_KEY_BYTES, 'key'))
      const vv = bytes(v.vv, HARD_MESSAGE_BYTES, 'vv')
      if (decodeVectors(vv).length !== keys.length) fail('ae-diff: one vector per key expected')
      const want = bytes(v.want, MAX_ITEMS * WANT_BYTES, 'want')
      if (want.length % WANT_BYTES !== 0) fail('ae-diff: want')
      return { t: 'ae-diff', sid: int(v.sid, 'sid'), at: int(v.at, 'at'), keys, vv, want }
    }
    case 'ae-grave':
      return { t: 'ae-grave', keys: list(v.keys, 'keys').map((k) => bytes(k, MAX_KEY_BYTES, 'key')) }
    default:
      return fail('unknown message type')
  }
}
