/**
 * Reads a dynamesh message just far enough to draw it: its type and, for the types worth a word,
 * what it carries (hinted items, a reply flag). The page only looks; a message it cannot read is
 * shown as `?` and never throws.
 */
import { Unpackr } from 'msgpackr'

/** Same options as the wire codec (src/wire/messages.ts). */
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' })

export interface WireInfo {
  /** `gossip`, `get`, `get-r`, `store`, `store-r`, `fwd`, `fwd-r`, `ae-roots`, `ae-step`, `ae-pull`, or `?`. */
  type: string
  /** Items of a `store` message. */
  items?: number
  /** Owners a `store` message holds hints for (sloppy quorum: the sender stands in for them). */
  hintFor?: string[]
  /** A `store` that wants an acknowledgement (a write or a handoff) or not (read repair, Merkle push). */
  ack?: boolean
  /** Partitions of an `ae-roots` / `ae-step` message; keys of an `ae-pull`. */
  parts?: number
  /** Outcome of a `store-r` / `fwd-r`. */
  ok?: boolean
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null

/** Decodes the type and a few facts of one message; `{ type: '?' }` for anything unreadable. */
export function describeWire(bytes: Uint8Array): WireInfo {
  let v: unknown
  try {
    v = unpackr.unpack(bytes)
  } catch {
    return { type: '?' }
  }
  if (!isObj(v) || typeof v.t !== 'string') return { type: '?' }
  const info: WireInfo = { type: v.t }
  if (v.t === 'store' && Array.isArray(v.items)) {
    info.items = v.items.length
    info.ack = v.ack === true
    const hints = new Set<string>()
    for (const it of v.items) if (isObj(it) && typeof it.hint === 'string') hints.add(it.hint)
    if (hints.size) info.hintFor = [...hints]
  }
  if ((v.t === 'ae-roots' || v.t === 'ae-step') && Array.isArray(v.parts)) info.parts = v.parts.length
  if (v.t === 'ae-pull' && Array.isArray(v.keys)) info.parts = v.keys.length
  if ((v.t === 'store-r' || v.t === 'fwd-r') && typeof v.ok === 'boolean') info.ok = v.ok
  return info
}

/** The families the page colours and charts messages by. */
export type WireFamily = 'gossip' | 'write' | 'read' | 'hint' | 'merkle' | 'other'

export function familyOf(info: Pick<WireInfo, 'type' | 'hintFor' | 'ack'>): WireFamily {
  switch (info.type) {
    case 'gossip':
      return 'gossip'
    case 'get':
    case 'get-r':
      return 'read'
    case 'store':
      return info.hintFor ? 'hint' : info.ack === false ? 'merkle' : 'write'
    case 'store-r':
    case 'fwd':
    case 'fwd-r':
      return 'write'
    case 'ae-roots':
    case 'ae-step':
    case 'ae-pull':
      return 'merkle'
    default:
      return 'other'
  }
}

export const FAMILY_COLORS: Record<WireFamily, string> = {
  gossip: '#94a3b8',
  write: '#2563eb',
  read: '#f59e0b',
  hint: '#e11d48',
  merkle: '#7c3aed',
  other: '#64748b',
}

export const FAMILY_LABELS: Record<WireFamily, string> = {
  gossip: 'gossip',
  write: 'put fan-out',
  read: 'get fan-out',
  hint: 'hinted writes',
  merkle: 'Merkle / repair',
  other: 'other',
}
