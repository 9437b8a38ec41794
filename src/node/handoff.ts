/**
 * Moving data to where it belongs (Dynamo paper sections 4.6 and 4.9):
 * - hinted handoff: hints held for an owner are delivered once the owner is reachable, and deleted
 *   only after it acknowledged them durably (and only if no newer hint arrived meanwhile);
 * - ownership transfer: records of partitions this node no longer replicates (a node joined, or this
 *   node is leaving) are sent to the current owners and deleted once they all acknowledged them.
 * Neither changes the node's replica id: what the deleted copies said of its own writes stays behind
 * as a trace (store.ts), so the dots it stamps later never collide with, or claim to have seen, the
 * ones that left.
 */
import { encodeSet } from '../core/record.js'
import { isPrimary, preferenceList, type Ring } from '../core/ring.js'
import { toHex } from '../core/hash.js'
import type { NodeId } from '../types.js'
import type { StoreItem } from '../wire/messages.js'
import type { NodeContext } from './context.js'
import type { HintEntry } from './store.js'
import { batches, itemBytes } from './batch.js'
import { SLOW_LINK_BYTES_PER_MS } from '../limits.js'

/** Bytes per store message: small batches keep a connection shared; a bigger record goes alone (batch.ts). */
const BATCH_BYTES = 512 * 1024

/**
 * Sends `items` to `to` in acknowledged batches; returns the items that were acknowledged. `own`: an
 * ownership transfer, acknowledged only by an owner of the records' partitions (see the `store` message).
 */
async function deliver<T extends { key: Uint8Array; rec: Uint8Array }>(ctx: NodeContext, to: NodeId, items: T[], own = false, hint?: NodeId): Promise<T[]> {
  const done: T[] = []
  for (const batch of batches(items, { maxBytes: BATCH_BYTES })) {
    if (!ctx.running()) break
    const storeItems: StoreItem[] = batch.map((b) => (hint === undefined ? { key: b.key, rec: b.rec } : { key: b.key, rec: b.rec, hint }))
    // A big batch gets the time its bytes take on a slow link on top of the call's timeout.
    const bytes = batch.reduce((n, b) => n + itemBytes(b), 0)
    const reply = await ctx.rpc.call(to, { t: 'store', items: storeItems, ack: true, ...(own ? { own } : {}) }, ctx.config.timeoutMs + Math.floor(bytes / SLOW_LINK_BYTES_PER_MS))
    if (reply.t === 'miss') {
      // A record too large for any message is counted and reported by the node; the others still move.
      if (reply.why === 'too-large') continue
      if (reply.why === 'timeout') ctx.detector.suspect(to)
      break
    }
    if (reply.t !== 'store-r' || !reply.ok) break
    done.push(...batch)
  }
  return done
}

/**
 * A member that left, or is leaving, owns no partition any more: hints for it belong to the current
 * owners. A leaving member announces "left" once as it stops; a peer that misses the announcement
 * keeps it as leaving for good, and its hints for it must not wait for a node that is gone.
 */
function gone(ctx: NodeContext, id: NodeId): boolean {
  const status = ctx.memberStatus(id)
  return status === 'left' || status === 'leaving'
}

/** Delivers hints to reachable owners; returns how many hints were delivered and deleted. */
export async function deliverHints(ctx: NodeContext): Promise<number> {
  // Stryker disable next-line ConditionalExpression: a shortcut; with no hints the loop below does nothing
  if (ctx.store.hints === 0) return 0
  const byOwner = await ctx.store.allHints()
  let total = 0
  for (const [owner, hints] of byOwner) {
    const to = owner as NodeId
    if (gone(ctx, to)) {
      total += await rehome(ctx, hints)
      continue
    }
    if (to === ctx.id) continue
    if (!ctx.isUp(to)) {
      if (leaving(ctx)) total += await handOn(ctx, to, hints)
      continue
    }
    const items = hints.map((h) => ({ ...h, rec: encodeSet(h.set) }))
    const acked = await deliver(ctx, to, items)
    if (acked.length === 0) continue
    // The dots this node stamped while holding these hints leave with them: the store keeps a trace
    // of its own (store.ts), so later writes here number on from them under the same replica id.
    const deleted = await ctx.store.deleteHints(acked as HintEntry[], ctx.dotId())
    total += deleted
    const bytes = acked.reduce((n, a) => n + a.rec.length, 0)
    ctx.emit({ type: 'hint-delivered', to, count: deleted })
    ctx.emit({ type: 'repair', kind: 'transfer', peer: to, keys: acked.length, bytes })
  }
  return total
}

/**
 * Hints held for a member that left (or is leaving) go to the current owners of their partitions
 * instead (every reachable owner must acknowledge, at least one).
 */
async function rehome(ctx: NodeContext, hints: HintEntry[]): Promise<number> {
  const ring = ctx.ring()
  const byTarget = new Map<NodeId, HintEntry[]>()
  for (const h of hints) {
    // Stryker disable next-line ArrayDeclaration: owners[p] exists for every partition
    for (const o of ring.owners[ctx.store.partitionOf(h.key)] ?? []) {
      if (!ctx.isUp(o)) continue
      const list = byTarget.get(o) ?? []
      list.push(h)
      byTarget.set(o, list)
    }
  }
  const ackedBy = new Map<HintEntry, number>()
  const needed = new Map<HintEntry, number>()
  for (const [to, list] of byTarget) {
    for (const h of list) needed.set(h, (needed.get(h) ?? 0) + 1)
    if (to === ctx.id) {
      for (const h of list) {
        await ctx.store.apply(h.key, h.set)
        ackedBy.set(h, (ackedBy.get(h) ?? 0) + 1)
      }
      continue
    }
    const done = await deliver(ctx, to, list.map((h) => ({ ...h, rec: encodeSet(h.set) })))
    for (const d of done) {
      const h = list.find((x) => x.key === d.key)!
      ackedBy.set(h, (ackedBy.get(h) ?? 0) + 1)
    }
  }
  const safe = hints.filter((h) => (needed.get(h) ?? 0) > 0 && ackedBy.get(h) === needed.get(h))
  if (safe.length === 0) return 0
  return ctx.store.deleteHints(safe, ctx.dotId())
}

/** This node is leaving: it hands everything off, and cannot wait for owners that are away. */
const leaving = (ctx: NodeContext): boolean => ctx.memberStatus(ctx.id) === 'leaving'

/**
 * The first reachable node that stands in for `owner` in partition p, as for a write (the sloppy quorum's
 * fallbacks, ring.ts preferenceList): where a leaving node puts what `owner` is due while `owner` is
 * away. It may never come back before the others expire it (removeAfterMs): a leave that waited for
 * it would wait as long. Not this node, which is going.
 */
function standIn(ctx: NodeContext, ring: Ring, p: number, owner: NodeId): NodeId | undefined {
  return preferenceList(ring, p, ring.n, ctx.isUp).find((e) => e.hintFor === owner && e.node !== ctx.id)?.node
}

/**
 * A leaving node's hints for `owner`, away: handed to a node that stands in for it (as hints for
 * it still), and deleted here once acknowledged.
 */
async function handOn(ctx: NodeContext, owner: NodeId, hints: HintEntry[]): Promise<number> {
  const ring = ctx.ring()
  const byTarget = new Map<NodeId, HintEntry[]>()
  for (const h of hints) {
    const to = standIn(ctx, ring, ctx.store.partitionOf(h.key), owner)
    if (to === undefined) continue
    const list = byTarget.get(to) ?? []
    list.push(h)
    byTarget.set(to, list)
  }
  let n = 0
  for (const [to, list] of byTarget) {
    const done = await deliver(ctx, to, list.map((h) => ({ ...h, rec: encodeSet(h.set) })), false, owner)
    if (done.length) n += await ctx.store.deleteHints(done as HintEntry[], ctx.dotId())
  }
  return n
}

/** Hints this node could deliver right now (their owner is reachable). */
export function deliverableHints(ctx: NodeContext): boolean {
  for (const owner of ctx.store.hintOwners()) {
    if (gone(ctx, owner as NodeId)) return true
    if (owner !== ctx.id && ctx.isUp(owner as NodeId)) return true
  }
  return false
}

/** Partitions this node holds records of but does not replicate any more. */
export function foreignPartitions(ctx: NodeContext): readonly number[] {
  // Holding nothing, nothing is foreign: no ring to look at (a rebuild while memberships churn).
  const held = ctx.store.heldPartitions()
  if (held.length === 0) return []
  const ring = ctx.ring()
  if (ring.members.length === 0) return []
  // Asked on every idle check: the answer stands while the ring and the held partitions do.
  const last = foreignMemo.get(held)
  if (last?.ring === ring && last.id === ctx.id) return last.foreign
  const foreign = held.filter((p) => !isPrimary(ring, p, ctx.id))
  foreignMemo.set(held, { ring, id: ctx.id, foreign })
  return foreign
}
const foreignMemo = new WeakMap<readonly number[], { ring: Ring; id: string; foreign: readonly number[] }>()

/** True when some foreign partition has an owner reachable right now. */
export function transferPending(ctx: NodeContext): boolean {
  const foreign = foreignPartitions(ctx)
  if (foreign.length === 0) return false
  const ring = ctx.ring()
  // A foreign partition's owners never include this node.
  // Stryker disable next-line ArrayDeclaration: owners[p] exists for every partition
  return foreign.some((p) => (ring.owners[p] ?? []).some((o) => ctx.isUp(o)))
}

/**
 * Sends each foreign partition's records to every reachable owner, and deletes them once all its
 * owners acknowledged (owners that are down get them later from the others through anti-entropy, so
 * at least one acknowledgement is required and every reachable owner must have acknowledged).
 */
export async function transferForeign(ctx: NodeContext): Promise<number> {
  let moved = 0
  for (const p of foreignPartitions(ctx)) {
    // Stryker disable next-line ConditionalExpression: a shortcut; deliver() sends nothing once stopped
    if (!ctx.running()) break
    // Not this node: it does not own the partition.
    const ring = ctx.ring()
    // Stryker disable next-line ArrayDeclaration: owners[p] exists for every partition
    const owners = ring.owners[p] ?? []
    const reachable = owners.filter((o) => ctx.isUp(o))
    // Leaving, an owner that is away gets its share through a node standing in for it, as hints.
    const away: Array<[NodeId, NodeId]> = []
    if (leaving(ctx)) {
      for (const o of owners) {
        if (ctx.isUp(o)) continue
        const to = standIn(ctx, ring, p, o)
        if (to === undefined) continue
        away.push([o, to])
      }
    }
    // Stryker disable next-line ConditionalExpression: a shortcut; with nobody to send to, nothing is acknowledged or deleted
    if (reachable.length === 0 && away.length === 0) continue
    const items: Array<{ key: Uint8Array; rec: Uint8Array; digest: Uint8Array }> = []
    for await (const r of ctx.store.records(p)) items.push({ key: r.key, rec: encodeSet(r.set), digest: r.digest })
    let acked: Set<string> | undefined
    const targets: Array<[NodeId, NodeId | undefined]> = [...reachable.map((o): [NodeId, undefined] => [o, undefined]), ...away.map(([o, to]): [NodeId, NodeId] => [to, o])]
    for (const [o, hint] of targets) {
      const done = await deliver(ctx, o, items, hint === undefined, hint)
      const keys = new Set(done.map((d) => toHex(d.key)))
      acked = acked ? new Set([...acked].filter((k) => keys.has(k))) : keys
      const bytes = done.reduce((n, d) => n + d.rec.length, 0)
      if (done.length) ctx.emit({ type: 'repair', kind: 'transfer', peer: o, keys: done.length, bytes })
    }
    // Stryker disable next-line OptionalChaining: acked is set, reachable is not empty here
    const safe = items.filter((i) => acked?.has(toHex(i.key)))
    if (safe.length === 0) continue
    // Re-check ownership: the ring may have changed while records were in flight.
    if (isPrimary(ctx.ring(), p, ctx.id)) continue
    moved += await ctx.store.deleteRecords(p, safe, ctx.dotId())
  }
  return moved
}
