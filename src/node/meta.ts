/** Node metadata kept in storage: the replica incarnation and epoch, and the membership view. */
import { Packr } from 'msgpackr'
import { asNodeId, type BatchOp, type Env, type Storage } from '../types.js'

/** Anything with a batch: a Storage, or the node's fenced store. */
type Batcher = { batch(ops: BatchOp[]): Promise<void> }
import type { MemberEntry } from '../core/membership.js'
import { metaKey } from './keys.js'
import { memoByString } from '../core/memo.js'

/**
 * `incarnation` is new for every fresh storage, so a node whose disk was lost never reuses the dots
 * of its former self; `epoch` moves on whenever what this node stamped may be missing from its
 * storage: after a run that did not stop cleanly (a crash or a power loss can lose acknowledged
 * writes that were not yet on disk, and the counters read back from what survived would stamp the
 * same dots again). `open` is true while a node runs on this storage; a clean stop clears it.
 */
export interface Meta {
  incarnation: string
  epoch: number
  open?: boolean
}

const packr = new Packr({ useRecords: false, mapsAsObjects: true })
const SELF = metaKey('self')
const MEMBERS_RANGE = { gte: metaKey('member/'), lt: metaKey('member0') }

/** The storage's metadata for a node starting on it, marked open; a new epoch when the last run did not stop cleanly. */
export async function loadMeta(storage: Storage, id: string, env: Env): Promise<Meta> {
  const raw = await storage.get(SELF)
  let meta: Meta | undefined
  // Stryker disable next-line ConditionalExpression: unpacking nothing throws and is caught below, the same fresh start
  if (raw) {
    try {
      const m = packr.unpack(raw) as Meta
      if (typeof m.incarnation === 'string' && Number.isInteger(m.epoch)) meta = { incarnation: m.incarnation, epoch: m.open === false ? m.epoch : m.epoch + 1 }
    } catch {
      // Unreadable metadata: start a new incarnation rather than risk reusing dots.
    }
  }
  if (!meta) {
    const suffix = Math.floor(env.random() * 0xffffffff).toString(16).padStart(8, '0')
    meta = { incarnation: `${id.slice(0, 16)}~${suffix}`, epoch: 0 }
  }
  meta.open = true
  await saveMeta(storage, meta)
  return meta
}

export const saveMeta = (storage: Batcher, meta: Meta): Promise<void> =>
  storage.batch([{ type: 'put', key: SELF, value: packr.pack(meta) }])

/** The stored view: one entry per member, under MEMBER_PREFIX + id, so a change rewrites only what changed. */
export async function loadMembers(storage: Storage): Promise<MemberEntry[]> {
  const out: MemberEntry[] = []
  for await (const [, raw] of storage.iterate(MEMBERS_RANGE)) {
    try {
      const m = packr.unpack(raw) as MemberEntry
      if (wellFormed(m)) out.push(copyEntry(m))
    } catch {
      // An unreadable entry is skipped: gossip brings the member back.
    }
  }
  return out
}

const STATUSES: readonly unknown[] = ['joining', 'up', 'leaving', 'left']
const wellFormed = (m: MemberEntry): boolean =>
  // Stryker disable next-line OptionalChaining: a null entry would throw inside loadMembers' try, skipped alike
  typeof m?.id === 'string' &&
  Number.isInteger(m.version) &&
  typeof m.weight === 'number' &&
  STATUSES.includes(m.status) &&
  (m.key === undefined || (m.key instanceof Uint8Array && m.sig instanceof Uint8Array)) &&
  (m.cred === undefined || m.cred instanceof Uint8Array)

/** Plain copies: key and signature as Uint8Array (not a Buffer view into the stored value). */
const copyEntry = (m: MemberEntry): MemberEntry => {
  const e: MemberEntry = { id: asNodeId(m.id), weight: m.weight, status: m.status, version: m.version }
  if (m.key && m.sig) Object.assign(e, { key: new Uint8Array(m.key), sig: new Uint8Array(m.sig) })
  if (m.key && m.sig && m.cred) e.cred = new Uint8Array(m.cred)
  return e
}

/** Stores the given entries (those that changed), each under its own key, in one batch. */
export const saveMembers = (storage: Batcher, members: readonly MemberEntry[]): Promise<void> =>
  members.length === 0 ? Promise.resolve() : storage.batch(members.map((m) => ({ type: 'put', key: memberKey(m.id), value: packed(m) })))

/** Encodings by entry: entries are immutable and shared (interned), so each is encoded once per process, not once per node storing it. */
const encodings = new WeakMap<MemberEntry, Uint8Array>()
function packed(m: MemberEntry): Uint8Array {
  let b = encodings.get(m)
  if (!b) encodings.set(m, (b = Uint8Array.from(packr.pack(m))))
  return b
}

/** Storage key of a member's entry (the same few ids are stored over and over: encoded once). */
const memberKey = memoByString(100_000, (id) => metaKey(`member/${id}`))
