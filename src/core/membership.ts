/**
 * Membership views (Dynamo paper section 4.8): every member entry carries a version owned by that
 * member; views merge entry by entry, the higher version winning, so gossip converges no matter the
 * order in which views are exchanged. Reachability is NOT part of a view: it is each node's own
 * opinion (see the failure detector), never gossiped as fact.
 */
import { equalBytes } from './hash.js'
import { memoByString } from './memo.js'
import type { NodeId } from '../types.js'
import type { RingMember } from './ring.js'

/** A member's lifecycle: it joins, is up, leaves (handing its data on), and has left. */
export type MemberStatus = 'joining' | 'up' | 'leaving' | 'left'

/**
 * One member as gossiped: views merge by `version` (higher wins; ties by status order). Only the
 * member itself writes its entry: `sig` is its signature over the other fields (see
 * `signedPart`) and `key` the public key that proves its id. Entries travel unsigned
 * only between nodes whose transport cannot prove ids. The wire decoder (wire/messages.ts) checks
 * and brands `id`.
 */
export interface MemberEntry {
  id: NodeId
  weight: number
  status: MemberStatus
  version: number
  key?: Uint8Array
  sig?: Uint8Array
  /** In a closed cluster: the cluster key's signature over `key` (credential.ts), the member's admission. */
  cred?: Uint8Array
}

/** Tie-break order when two entries carry the same version: later lifecycle states win. */
const STATUS_RANK: Record<MemberStatus, number> = { joining: 0, up: 1, leaving: 2, left: 3 }

/** True when `a` should replace `b` in a view. */
export function supersedes(a: MemberEntry, b: MemberEntry): boolean {
  // Stryker disable next-line EqualityOperator: the versions differ here, so > and >= agree
  if (a.version !== b.version) return a.version > b.version
  // Stryker disable next-line EqualityOperator: distinct statuses have distinct ranks, so > and >= agree
  if (a.status !== b.status) return STATUS_RANK[a.status] > STATUS_RANK[b.status]
  return a.weight > b.weight
}

/**
 * Merges a remote view into a local one (a map by id, changed in place). Returns the entries that
 * changed locally. The local node's own entry is never taken from a remote view unless the remote
 * one is newer, which happens only after this node restarted with an older persisted view.
 */
export function mergeView(local: Map<string, MemberEntry>, remote: readonly MemberEntry[]): MemberEntry[] {
  const changed: MemberEntry[] = []
  for (const r of remote) {
    const l = local.get(r.id)
    if (!l || supersedes(r, l)) {
      const copy: MemberEntry = { id: r.id, weight: r.weight, status: r.status, version: r.version }
      if (r.key && r.sig) Object.assign(copy, { key: r.key, sig: r.sig })
      local.set(r.id, copy)
      changed.push(copy)
    }
  }
  return changed
}

/**
 * Members that own partitions: up ones with a weight. Joining members wait, leaving members hand
 * their data off, and weight-0 members are clients (a tab that coordinates its own calls but holds
 * nobody's data).
 */
export function ringMembersOf(view: Iterable<MemberEntry>, expired?: ReadonlySet<string>): RingMember[] {
  const out: RingMember[] = []
  for (const m of view) if (inRing(m) && !expired?.has(m.id)) out.push({ id: m.id, weight: m.weight })
  // Stryker disable next-line EqualityOperator,ConditionalExpression: ids in a view are distinct, so < and <= agree, and the sort orders by the < answer
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}

/** True when a member with this entry owns partitions (before any local expiry). */
export const inRing = (m: MemberEntry): boolean => m.status === 'up' && m.weight > 0

/** The fields an entry's signature covers, as one string (what the intern table and the signed bytes are found by). */
export const fieldsOf = (m: MemberEntry): string => `${m.id}\n${m.weight}\n${m.status}\n${m.version}`

/** The bytes a member signs for its entry: every field but the key and signature, unambiguously. `fields`: fieldsOf(m), if at hand. */
export const signedPart = (m: MemberEntry, fields = fieldsOf(m)): Uint8Array => signedBytes(fields)
const signedBytes = memoByString(200_000, (fields) => new TextEncoder().encode(`dynamesh-member\n${fields}`))

/** A stable fingerprint of the ring-relevant part of a view, to rebuild the ring only on change. */
export function ringKey(members: readonly RingMember[]): string {
  return members.map((m) => `${m.id}:${m.weight}`).join(',')
}

const interned = new Map<string, MemberEntry>()

/**
 * The interned entry identical to `e` (the same fields, key, signature and credential), if any: a
 * node checks that one in e's place (the same bytes verify the same way) and keeps it, without a
 * copy of its own. `fields`: fieldsOf(e), if at hand.
 */
export function internedTwin(e: MemberEntry, fields = fieldsOf(e)): MemberEntry | undefined {
  const c = interned.get(fields)
  return c && sameBytes(c.key, e.key) && sameBytes(c.sig, e.sig) && sameBytes(c.cred, e.cred) ? c : undefined
}

/**
 * One shared copy of each verified entry in the process: entries are immutable, and a simulation's
 * thousand nodes (or a tab's repeated gossip) would otherwise each keep their own copy of the same
 * entry with its key and signature. Only for entries already verified; a copy of `e` when new.
 */
export function internEntry(e: MemberEntry, fields = fieldsOf(e)): MemberEntry {
  const c = internedTwin(e, fields)
  if (c) return c
  if (interned.size >= 200_000) interned.clear()
  // Own copies of the key and signature: a decoded entry's are views into the whole message it came
  // in (up to a thousand entries), which the process would otherwise keep for this one entry.
  const own: MemberEntry = e.key && e.sig ? { ...e, key: e.key.slice(), sig: e.sig.slice(), ...(e.cred ? { cred: e.cred.slice() } : {}) } : e
  interned.set(fields, own)
  return own
}

const sameBytes = (a: Uint8Array | undefined, b: Uint8Array | undefined): boolean => a === b || (!!a && !!b && equalBytes(a, b))
