/**
 * The versions of one key, as a dotted version vector set (DVV set).
 *
 * Dynamo (DeCandia et al., SOSP 2007, section 4.4) tags every version with a vector clock and keeps
 * versions that are not causally ordered as siblings. Plain vector clocks keyed by coordinator cannot
 * tell two blind writes through the same coordinator apart: the second one looks like it descends
 * from the first, so one is silently lost, or (with client ids) clocks grow without bound. We use the
 * "causal context + dotted siblings" form of Almeida et al., "Scalable and Accurate Causality Tracking
 * for Eventually Consistent Stores" (DAIS 2014), as Riak's `dvvset` does:
 *
 * - `vv` is one version vector summarising everything this set has seen (it covers every sibling);
 * - every sibling carries its own dot `(replica, n)`, the single event that wrote it.
 *
 * A write supersedes exactly the dots its context covers, so concurrency is judged per dot, not per
 * vector. Everything here is a pure function over plain values; inputs are never mutated, and values
 * (`Uint8Array`) are shared, not copied: callers must treat them as immutable.
 */
import { compareBytes, equalBytes } from './hash.js'

/** A replica incarnation id, e.g. `"nodeA~3f9c"` (opaque). A new incarnation must use a new id. */
export type ReplicaId = string

/** One write event: the `n`-th event coordinated by replica `id` for this key (`n >= 1`). */
export interface Dot {
  id: ReplicaId
  n: number
}

/**
 * One concurrent version. `value: null` is a tombstone (delete); `ts` is the coordinator's wall
 * time (ms) of the write. `op`: which forwarded write this is (node/forward.ts), the same on every
 * version of it, should two coordinators each stamp it (one timed out after stamping).
 */
export interface Sibling {
  dot: Dot
  value: Uint8Array | null
  ts: number
  op?: OpStamp
}

/**
 * A forwarded write's identity in its versions: 32 random bits of its operation id and the time
 * (ms, the forwarding node's clock) it was first forwarded. Equal stamps are one write.
 */
export interface OpStamp {
  tag: number
  at: number
}

/**
 * Most superseded operations a set remembers: the latest (by `at`). One write stamped twice (by a
 * coordinator whose answer was lost and by the one its retry reached) is two versions; a later
 * write that saw only one of them supersedes both through this list, wherever the other turns up.
 */
export const MAX_GONE = 8

/** Per replica: the highest event seen and the time of that event (used to prune the oldest entries). */
export interface VersionVector {
  [id: ReplicaId]: { n: number; ts: number }
}

/**
 * The versions of one key. Canonical form: `siblings` sorted by (`dot.id` in UTF-8 byte order,
 * `dot.n`), no two with the same dot, every dot covered by `vv`, and no sibling covered by another
 * version (a superseded sibling is dropped, not kept). `gone`, when present: the stamps of
 * superseded forwarded writes, latest first (by `at`, then `tag`), at most MAX_GONE, none twice
 * and none a sibling's.
 */
export interface VersionSet {
  vv: VersionVector
  siblings: Sibling[]
  gone?: OpStamp[]
}


/** The set of a key never written. Frozen: it is shared. */
export const emptySet: VersionSet = Object.freeze({
  vv: Object.freeze({}) as VersionVector,
  siblings: Object.freeze([]) as unknown as Sibling[],
})

/**
 * Orders replica ids by code point, which is the byte order of their UTF-8 encodings, so sorting
 * here agrees with the sorted binary encoding. Plain `<` on JS strings compares UTF-16 code units,
 * which disagrees where a surrogate pair meets U+E000..U+FFFF.
 */
export function compareIds(a: string, b: string): number {
  // Stryker disable next-line ConditionalExpression: a shortcut; equal strings reach the length difference, 0
  if (a === b) return 0
  const len = Math.min(a.length, b.length)
  for (let i = 0; i < len; i++) {
    let x = a.charCodeAt(i)
    let y = b.charCodeAt(i)
    if (x === y) continue
    if (x >= 0xd800) x += x < 0xe000 ? 0x2000 : -0x800
    if (y >= 0xd800) y += y < 0xe000 ? 0x2000 : -0x800
    return x - y
  }
  return a.length - b.length
}

/** Canonical sibling order: by dot id (UTF-8 byte order), then by counter. */
export const compareDots = (a: Dot, b: Dot): number => compareIds(a.id, b.id) || a.n - b.n

/**
 * The entry for `id`, own properties only: ids such as `"constructor"` must not find
 * `Object.prototype` members.
 */
export const entryOf = (vv: VersionVector, id: ReplicaId): { n: number; ts: number } | undefined =>
  Object.hasOwn(vv, id) ? vv[id] : undefined

/**
 * Sets an own entry. An id `"__proto__"` goes through `defineProperty`, so it is stored as data, not
 * as a prototype; every other id is a plain assignment (Object.prototype's only setter is
 * `__proto__`), which keeps the vector a fast object (defineProperty turns it into a dictionary:
 * decoding a record took half as long again).
 */
export function setEntry(vv: VersionVector, id: ReplicaId, e: { n: number; ts: number }): void {
  if (id !== '__proto__') vv[id] = e
  // Stryker disable next-line BooleanLiteral: writable does not govern later setEntry calls, which define the property again
  else Object.defineProperty(vv, id, { value: e, enumerable: true, writable: true, configurable: true })
}

/** The opaque causal context a get hands the client: the set's version vector. */
export const contextOf = (s: VersionSet): VersionVector => s.vv

/** True when `vv` has seen the event `dot`. */
export function covers(vv: VersionVector, dot: Dot): boolean {
  const e = entryOf(vv, dot.id)
  return e !== undefined && e.n >= dot.n
}

/** True when `a` has seen everything `b` has (pointwise `a >= b`; times are ignored). */
export function descends(a: VersionVector, b: VersionVector): boolean {
  for (const id of Object.keys(b)) if (!covers(a, { id, n: b[id]!.n })) return false
  return true
}

/** Pointwise maximum; on equal counters the later time, so the result is independent of argument order. */
export function mergeVV(a: VersionVector, b: VersionVector): VersionVector {
  const out: VersionVector = {}
  for (const id of Object.keys(a)) setEntry(out, id, a[id]!)
  for (const id of Object.keys(b)) {
    const y = b[id]!
    const x = entryOf(out, id)
    // Stryker disable next-line EqualityOperator: on equal counters and times either entry is the same
    if (x === undefined || y.n > x.n || (y.n === x.n && y.ts > x.ts)) setEntry(out, id, y)
  }
  return out
}

/**
 * A coordinator's write (section 4.5): the new version supersedes exactly the siblings whose dots
 * `ctx` covers (what the client read) and stays concurrent with the rest, including siblings
 * written after that read. `value: null` writes a tombstone. A blind write passes `{}`.
 *
 * The new dot is one past the highest counter for `replica` in either `s.vv` or `ctx` (Riak's
 * dvvset syncs the context in first, then adds the event). The coordinator must apply this to its own
 * stored set for the key: that set never loses the coordinator's own entry (`merge` never shrinks a
 * vector, and pruning below spares it), so a dot is never issued twice. A reissued dot could be taken
 * as already seen by a replica holding the older one, and dropped: a lost update. And the set must
 * hold every live sibling of `replica`: the new entry `n` claims all of `replica`'s events up to `n`,
 * so one missing here would be superseded unseen. A node whose copies of a key left keeps a trace of
 * its own entry and siblings for this (node/store.ts).
 *
 * No pruning by default. The paper's "clock truncation scheme" (section 4.4: past a threshold, say
 * 10, drop the oldest entry) is available as `maxEntries`, but nothing in dynamesh uses it: removing
 * an entry makes the set forget that it superseded that replica's versions, so an old, superseded
 * version comes back as a sibling when this set meets a replica still holding it (a resurrected
 * value; never a lost update, since versions are dropped only when covered). No local rule can tell
 * when no such copy is left. Instead clocks stay small by construction: an entry per replica id that
 * coordinated a write of the key, and a node keeps its id for as long as it keeps its disk (the
 * traces of node/store.ts). With `maxEntries`, entries are removed oldest `ts` first, never the entry
 * of a live sibling's replica (that sibling would look uncovered by its own set) nor `replica`'s own.
 */
export function update(
  s: VersionSet,
  ctx: VersionVector,
  replica: ReplicaId,
  value: Uint8Array | null,
  now: number,
  opts: { maxEntries?: number; op?: OpStamp } = {},
): VersionSet {
  if (typeof replica !== 'string' || replica.length === 0) throw new TypeError('replica id must be a non-empty string')
  if (value !== null && !(value instanceof Uint8Array)) throw new TypeError('value must be a Uint8Array or null')
  if (!Number.isFinite(now)) throw new TypeError('now must be a finite number')
  const maxEntries = opts.maxEntries ?? Infinity
  if (maxEntries !== Infinity && (!Number.isInteger(maxEntries) || maxEntries < 1)) throw new TypeError('maxEntries must be an integer >= 1')

  if (opts.op !== undefined && !isOpStamp(opts.op)) throw new TypeError('op: tag must be a 32-bit unsigned integer, at a safe integer >= 0')
  // Its coordinator reuses what it holds instead (node/coordinator.ts): never a second stamp here.
  if (opts.op !== undefined && holdsOp(s, opts.op)) throw new TypeError('operation already stamped here')

  const ts = now + 0 // -0 becomes 0, which is what a decoded copy holds
  const kept: Sibling[] = []
  const superseded: Sibling[] = []
  for (const x of s.siblings) (covers(ctx, x.dot) ? superseded : kept).push(x)
  const gone = joinGone(s.gone, undefined, superseded)
  const siblings = live(kept, gone)
  const vv = mergeVV(s.vv, ctx)
  const n = (entryOf(vv, replica)?.n ?? 0) + 1
  setEntry(vv, replica, { n, ts })
  // Stryker disable next-line ConditionalExpression: op: undefined is no stamp to every reader
  siblings.push(opts.op === undefined ? { dot: { id: replica, n }, value, ts } : { dot: { id: replica, n }, value, ts, op: opts.op })
  siblings.sort(compareSiblings)
  return withGone({ vv: prune(vv, siblings, maxEntries), siblings }, gone)
}

/** True for a valid stamp: a 32-bit unsigned tag and a time that is a safe integer >= 0. */
export const isOpStamp = (op: OpStamp): boolean => Number.isInteger(op.tag) && op.tag >= 0 && op.tag < 2 ** 32 && Number.isSafeInteger(op.at) && op.at >= 0

/** True when `a` and `b` are stamps of one write. */
export const sameOp = (a: OpStamp | undefined, b: OpStamp): boolean => a !== undefined && a.tag === b.tag && a.at === b.at

/** True when the set holds a version of operation `op`, or saw it superseded. */
export const holdsOp = (s: VersionSet, op: OpStamp): boolean =>
  s.siblings.some((x) => sameOp(x.op, op)) || (s.gone?.some((g) => sameOp(g, op)) ?? false)

/** Latest first: by time, then by tag (the order of a set's `gone`). */
// Stryker disable next-line EqualityOperator: a.at <= b.at differs only on equal times, which take the other branch
export const compareOps = (a: OpStamp, b: OpStamp): number => (a.at !== b.at ? (a.at < b.at ? 1 : -1) : b.tag - a.tag)

/**
 * The superseded operations of two sets and of the `superseded` siblings: the MAX_GONE latest,
 * latest first; undefined when none. A join: the same whatever the grouping.
 */
function joinGone(a: readonly OpStamp[] | undefined, b: readonly OpStamp[] | undefined, superseded: readonly Sibling[]): OpStamp[] | undefined {
  const all: OpStamp[] = [...(a ?? []), ...(b ?? [])]
  for (const x of superseded) if (x.op !== undefined) all.push(x.op)
  if (all.length === 0) return undefined
  all.sort(compareOps)
  const out: OpStamp[] = []
  for (const g of all) {
    if (out.length === MAX_GONE) break
    // Sorted, so a repeat follows its twin (on an empty list out[-1] is undefined: no twin).
    if (!sameOp(out[out.length - 1], g)) out.push(g)
  }
  return out
}

/** The siblings that are not another stamp of a superseded operation. */
const live = (siblings: Sibling[], gone: readonly OpStamp[] | undefined): Sibling[] =>
  gone === undefined ? siblings : siblings.filter((x) => !gone.some((g) => sameOp(x.op, g)))

// Stryker disable next-line ConditionalExpression: gone: undefined is no list to every reader
const withGone = (s: VersionSet, gone: OpStamp[] | undefined): VersionSet => (gone === undefined ? s : { ...s, gone })

/** Drops the oldest entries past `max`, sparing ids of live siblings. Mutates the fresh `vv` it is given. */
function prune(vv: VersionVector, siblings: Sibling[], max: number): VersionVector {
  const ids = Object.keys(vv)
  // Stryker disable next-line ConditionalExpression,EqualityOperator: a shortcut; with none past max, slice(0, 0) drops none
  if (ids.length <= max) return vv
  const live = new Set(siblings.map((x) => x.dot.id))
  const victims = ids
    .filter((id) => !live.has(id))
    .sort((x, y) => {
      const tx = vv[x]!.ts
      const ty = vv[y]!.ts
      return tx < ty ? -1 : tx > ty ? 1 : compareIds(x, y)
    })
    .slice(0, ids.length - max)
  for (const id of victims) delete vv[id]
  return vv
}

/**
 * Synchronises two replicas' sets (read repair, anti-entropy, handoff). A sibling of either side is
 * kept unless the other side has seen its dot (its `vv` covers it) and no longer holds it, which
 * means a write there superseded it. The vectors merge pointwise. Commutative, associative and
 * idempotent, so replicas converge whatever order they exchange in.
 */
export function merge(a: VersionSet, b: VersionSet): VersionSet {
  const aDots = new Set(a.siblings.map((x) => dotKey(x.dot)))
  const bDots = new Set(b.siblings.map((x) => dotKey(x.dot)))
  const kept: Sibling[] = []
  // Stryker disable next-line ArrayDeclaration: a string in the list has no stamp, so joinGone skips it
  const superseded: Sibling[] = []
  for (const x of a.siblings) (!covers(b.vv, x.dot) || bDots.has(dotKey(x.dot)) ? kept : superseded).push(x)
  for (const y of b.siblings) (!covers(a.vv, y.dot) || aDots.has(dotKey(y.dot)) ? kept : superseded).push(y)
  kept.sort(compareSiblings)
  // Both sides may hold the same dot. Dots are unique per write, so the copies are equal; should they
  // differ anyway (a reused replica id), the larger by compareSiblings wins on every replica alike.
  const siblings: Sibling[] = []
  for (const x of kept) {
    const last = siblings[siblings.length - 1]
    if (last !== undefined && compareDots(last.dot, x.dot) === 0) siblings[siblings.length - 1] = x
    else siblings.push(x)
  }
  // A superseded version's other stamps (one write stamped twice) go with it, here and wherever
  // this set's list reaches.
  const gone = joinGone(a.gone, b.gone, superseded)
  return withGone({ vv: mergeVV(a.vv, b.vv), siblings: live(siblings, gone) }, gone)
}

/** The values of the non-tombstone siblings, in canonical order. */
export const values = (s: VersionSet): Uint8Array[] =>
  s.siblings.flatMap((x) => (x.value === null ? [] : [x.value]))

/** True when the key was written and every current version is a delete. */
export const isDeleted = (s: VersionSet): boolean =>
  s.siblings.length > 0 && s.siblings.every((x) => x.value === null)

/** Structural equality of two canonical sets (vector entries in any key order). */
export function equalSets(a: VersionSet, b: VersionSet): boolean {
  const ids = Object.keys(a.vv)
  if (ids.length !== Object.keys(b.vv).length) return false
  for (const id of ids) {
    const x = a.vv[id]!
    const y = entryOf(b.vv, id)
    if (y === undefined || x.n !== y.n || x.ts !== y.ts) return false
  }
  if (a.siblings.length !== b.siblings.length) return false
  const ga = a.gone ?? []
  const gb = b.gone ?? []
  if (ga.length !== gb.length || ga.some((g, i) => !sameOp(gb[i], g))) return false
  return a.siblings.every((x, i) => {
    const y = b.siblings[i]!
    if (x.dot.id !== y.dot.id || x.dot.n !== y.dot.n || x.ts !== y.ts || (x.op === undefined ? y.op !== undefined : !sameOp(y.op, x.op))) return false
    return x.value === null || y.value === null ? x.value === y.value : equalBytes(x.value, y.value)
  })
}

/** A collision-free map key for a dot: the counter has no ':' so the first ':' ends it. */
const dotKey = (d: Dot): string => `${d.n}:${d.id}`

/** Canonical order by dot; equal dots ordered by content so duplicate resolution is deterministic. */
function compareSiblings(a: Sibling, b: Sibling): number {
  const d = compareDots(a.dot, b.dot)
  if (d !== 0) return d
  // Stryker disable next-line EqualityOperator: a.ts <= b.ts differs only on equal times, which the test excludes
  if (a.ts !== b.ts) return a.ts < b.ts ? -1 : 1
  if (a.value === null || b.value === null) return (a.value === null ? 0 : 1) - (b.value === null ? 0 : 1) || compareOpsOf(a, b)
  return compareBytes(a.value, b.value) || compareOpsOf(a, b)
}

/** Order of two copies of one dot by their stamps, none first (only a confused replica makes them differ). */
function compareOpsOf(a: Sibling, b: Sibling): number {
  if (a.op !== undefined && b.op !== undefined) return -compareOps(a.op, b.op)
  // Stryker disable next-line ConditionalExpression: one side has no stamp; sorting two copies, either answer for the other puts the stamped copy last
  return (a.op === undefined ? 0 : 1) - (b.op === undefined ? 0 : 1)
}
