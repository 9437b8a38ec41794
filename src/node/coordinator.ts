/**
 * Coordinating gets and puts (Dynamo paper sections 4.5 and 4.6). A put is stamped with a new dot by
 * a coordinator that stores it durably first, then sent to the rest of the preference list; it is
 * acknowledged after W durable copies. Replicas that do not answer in time are suspected and the
 * write moves on to the next healthy node with a hint (sloppy quorum). A get answers after R replies
 * and keeps listening to late ones to repair stale replicas (read repair). Either call keeps looking
 * until its deadline: when the preference list is used up short of the quorum, it walks on along the
 * ring to members not asked yet, and fails early only when no member is left that could answer.
 */
import { contextOf, equalSets, holdsOp, merge, update, type OpStamp, type VersionSet, type VersionVector } from '../core/clock.js'
import { decodeSet, encodeContext, setSize } from '../core/record.js'
import { encodeOnce } from './cache.js'
import { preferenceList, type PrefEntry, type Ring } from '../core/ring.js'
import { DynameshError, isDynameshError, isErrorCode, type ErrorCode } from '../errors.js'
import { MAX_RECORD_BYTES, MAX_SIBLINGS, SLOW_LINK_BYTES_PER_MS } from '../limits.js'
import type { NodeId } from '../types.js'
import type { NodeContext } from './context.js'
import type { Miss, Reply, Request } from './rpc.js'
import { checkGrowth } from './validate.js'
import { deletedOnly } from './store.js'
import { forward, gatherEarlier, newOp, opStamp, stampedBefore } from './forward.js'

/**
 * How long one replica gets to answer before it is suspected and replaced: a share of the call, plus
 * the time the request's bytes take on a slow link (a big record is not a dead peer), within the call.
 */
const replicaTimeout = (timeoutMs: number, bytes = 0): number =>
  Math.min(timeoutMs, Math.max(20, Math.floor(timeoutMs / 4)) + Math.floor(bytes / SLOW_LINK_BYTES_PER_MS))

/**
 * Where a call looks once its preference list is used up (Dynamo §4.6, carried on): the up members
 * past `listed` along the partition's ring walk, in walk order, each a fallback for one of `owed` in
 * turn (primaries still without a copy, in preference order). Empty when `owed` is: a node past the
 * first n takes the key only as a hint, so handoff brings it home.
 */
function furtherFallbacks(
  ring: Ring,
  p: number,
  n: number,
  isUp: (id: NodeId) => boolean,
  listed: readonly PrefEntry[],
  owed: (primaries: readonly NodeId[]) => NodeId[],
): PrefEntry[] {
  // With n = every member and everyone up, the list is the whole walk: the primaries, then the
  // others in the order preferenceList takes its fallbacks from.
  const walk = preferenceList(ring, p, ring.members.length, () => true).map((e) => e.node)
  const first = Math.min(n, walk.length)
  const hintsFor = owed(walk.slice(0, first))
  if (hintsFor.length === 0) return []
  const skip = new Set(listed.map((e) => e.node))
  const out: PrefEntry[] = []
  // Stryker disable next-line MethodExpression: each of the first n is listed or down, so skipped alike
  for (const node of walk.slice(first)) {
    if (!skip.has(node) && isUp(node)) out.push({ node, primary: false, hintFor: hintsFor[out.length % hintsFor.length]! })
  }
  return out
}

/**
 * One round of a call's search: asks every node of the key's preference list not asked yet, then,
 * as many as `short()` says are still missing once that is in flight (answers nothing asked can
 * give any more), nodes further along the ring (furtherFallbacks), each a hint for one of `owed`.
 */
function searchRound(
  ctx: NodeContext,
  p: number,
  n: number,
  asked: ReadonlySet<NodeId>,
  ask: (e: PrefEntry) => void,
  short: () => number,
  owed: (primaries: readonly NodeId[]) => NodeId[],
): void {
  const ring = ctx.ring()
  const list = preferenceList(ring, p, n, ctx.isUp)
  for (const e of list) if (!asked.has(e.node)) ask(e)
  let missing = short()
  if (missing <= 0) return
  for (const e of furtherFallbacks(ring, p, n, ctx.isUp, list, owed)) {
    if (missing <= 0) break
    if (asked.has(e.node)) continue
    ask(e)
    missing--
  }
}

/**
 * Asks one replica. After its share of the call (`slowMs`) without an answer it counts as slow:
 * `onSlow` runs (suspect it, ask a fallback), but its answer still counts until the call's deadline,
 * so a replica sending a big record over a slow link is not lost to a timeout that was too short.
 */
function callReplica(
  ctx: NodeContext,
  to: NodeId,
  req: Request,
  slowMs: number,
  deadline: number,
  onSlow: () => void,
): Promise<Reply | Miss> {
  const until = Math.max(1, deadline - ctx.env.now())
  const cancel = slowMs < until ? ctx.env.setTimer(slowMs, onSlow) : () => {}
  return ctx.rpc.call(to, req, until).then((reply) => {
    cancel()
    return reply
  })
}

const short = (id: string): string => (id.length > 12 ? id.slice(0, 8) : id)

/** Why asked replicas did not acknowledge or answer, for the error a failed call gets. */
class Misses {
  private readonly why = new Map<NodeId, string>()
  add(node: NodeId, reply: Reply | Miss): void {
    this.why.set(node, whyNot(reply))
  }
  /** `; b: no answer within 500 ms; c: refused (STORAGE_FAILED)`, or '' when none. */
  // Stryker disable next-line ArrayDeclaration: every caller passes waiting
  text(waiting: Iterable<NodeId> = []): string {
    const parts = [...this.why].map(([id, why]) => `${short(id)}: ${why}`)
    for (const id of waiting) parts.push(`${short(id)}: no answer yet`)
    return parts.length ? `; ${parts.join('; ')}` : ''
  }
}

function whyNot(reply: Reply | Miss): string {
  if (reply.t === 'miss') return reply.why === 'too-large' ? `too large to send (${reply.detail})` : reply.why === 'stopped' ? 'this node stopped' : reply.detail
  if (reply.t === 'store-r') return `refused${reply.err ? ` (${reply.err})` : ''}`
  if (reply.t === 'get-r' && reply.err) return reply.err === 'MESSAGE_TOO_LARGE' ? 'its reply is too large to send (MESSAGE_TOO_LARGE)' : `could not answer (${reply.err})`
  return 'unexpected reply'
}

interface Quorum<T> {
  done: boolean
  resolve(v: T): void
  reject(e: Error): void
}

function quorum<T>(ctx: NodeContext, timeoutMs: number, onTimeout: () => Error): { q: Quorum<T>; promise: Promise<T> } {
  let resolveP!: (v: T) => void
  let rejectP!: (e: Error) => void
  const promise = new Promise<T>((res, rej) => {
    resolveP = res
    rejectP = rej
  })
  const cancel = ctx.env.setTimer(timeoutMs, () => q.reject(onTimeout()))
  const q: Quorum<T> = {
    done: false,
    resolve(v) {
      if (q.done) return
      q.done = true
      cancel()
      resolveP(v)
    },
    reject(e) {
      if (q.done) return
      q.done = true
      cancel()
      rejectP(e)
    },
  }
  return { q, promise }
}

/**
 * Stores a new version of `key` on this node (which must be a replica or the sloppy stand-in for
 * one) and on the rest of the preference list; resolves after `w` durable copies.
 */
export async function coordinatePut(
  ctx: NodeContext,
  key: Uint8Array,
  value: Uint8Array | null,
  context: VersionVector,
  opts: { n: number; w: number; timeoutMs: number; hintFor?: NodeId; again?: boolean; seen?: VersionSet;
    /** A forwarded write's stamp: its version carries it (clock.ts, Sibling.op). */
    op?: OpStamp },
): Promise<VersionSet> {
  const p = ctx.store.partitionOf(key)
  const limits = { maxRecordBytes: ctx.config.maxRecordBytes ?? MAX_RECORD_BYTES, maxSiblings: ctx.config.maxSiblings ?? MAX_SIBLINGS }
  const set = await ctx.store.modify(key, opts.hintFor, (held) => {
    const known = opts.seen ? merge(held, opts.seen) : held
    // A retry whose earlier attempt's version is already here is not stamped again: one put, one dot.
    // Nor one whose version was stamped and then superseded by a write that saw it.
    if (opts.op !== undefined && holdsOp(known, opts.op)) return known
    if (opts.again && stampedBefore(known, context, value)) return known
    const next = update(known, context, ctx.dotId(), value, ctx.env.now(), opts.op === undefined ? {} : { op: opts.op })
    // Throwing here stores nothing: the write is refused before it reaches any replica.
    checkGrowth(key, { siblings: known.siblings.length, bytes: setSize(known) }, { siblings: next.siblings.length, bytes: setSize(next) }, limits)
    return next
  })
  const rec = encodeOnce(set)
  const misses = new Misses()
  const waiting = new Set<NodeId>()
  /** Asked replicas past their share of the call: still listened to, no longer counted on. */
  const slow = new Set<NodeId>()
  /**
   * Slow replicas this node already thought unreachable when their share ran out (a closed
   * connection, say): nothing more is expected from them. One that is merely slow, a big record on a
   * slow link, may still answer, so the call waits for it until the deadline before failing.
   */
  const gone = new Set<NodeId>()
  const deadline = ctx.env.now() + opts.timeoutMs
  const { q, promise } = quorum<VersionSet>(ctx, opts.timeoutMs, () =>
    new DynameshError('TIMEOUT', `put: ${acks} of ${opts.w} acknowledgements after ${opts.timeoutMs} ms${misses.text(waiting)}`),
  )
  /**
   * Whom the acknowledged copies stand for: a primary for itself, a fallback for the primary its
   * hint names (this node: itself, or opts.hintFor). W counts these, not copies: two hints for one
   * absent owner (this node's own and a fallback's, say) are one owner's copy, and delivered they
   * land on that one owner, whose lost disk would lose the write W promised to survive.
   */
  const standsFor = new Set<NodeId>([opts.hintFor ?? ctx.id])
  let acks = standsFor.size
  const asked = new Set<NodeId>([ctx.id])
  /** Who has the write, or a hint of it held for them: this node (and whom its hint is for), each acknowledging replica (and whom its hint names). */
  const covered = new Set<NodeId>([ctx.id])
  if (opts.hintFor) {
    asked.add(opts.hintFor)
    covered.add(opts.hintFor)
  }
  if (acks >= opts.w) q.resolve(set)
  /** Fails once nothing can bring W any more: ask() found nobody left, and every asked replica answered or is gone. */
  const exhausted = (): void => {
    if (q.done || waiting.size > gone.size) return
    const none = asked.size === 1 + (opts.hintFor ? 1 : 0) ? '; no other replica of the key is up in this node\'s view' : ''
    q.reject(new DynameshError('QUORUM_FAILED', `put: ${acks} of ${opts.w} replicas acknowledged${none}${misses.text(waiting)}`))
  }

  const send = (e: PrefEntry): void => {
    asked.add(e.node)
    waiting.add(e.node)
    const hint = e.primary ? undefined : e.hintFor
    const req: Request = { t: 'store', items: [{ key, rec, ...(hint ? { hint } : {}) }], ack: true }
    const onSlow = (): void => {
      if (q.done) return
      slow.add(e.node)
      if (!ctx.isUp(e.node)) gone.add(e.node)
      ctx.detector.suspect(e.node)
      ask()
      exhausted()
    }
    // A share of what is left, not of the whole call: replicas asked late, after others fell
    // silent, get less each round, so fallbacks far down the walk are still reached in time.
    void callReplica(ctx, e.node, req, replicaTimeout(deadline - ctx.env.now(), rec.length), deadline, onSlow)
      .then((reply) => {
        waiting.delete(e.node)
        slow.delete(e.node)
        gone.delete(e.node)
        if (reply.t === 'store-r' && reply.ok) {
          covered.add(e.node)
          if (hint) covered.add(hint)
          standsFor.add(hint ?? e.node)
          acks = standsFor.size
          // Short of W still (the others in flight went slow meanwhile, or this copy stands for an
          // owner another already does): look further.
          if (acks >= opts.w) q.resolve(set)
          else ask()
        } else {
          misses.add(e.node, reply)
          // Only silence is a reason to suspect a peer; a refusal or a too-large request is not.
          if (reply.t === 'miss' && reply.why === 'timeout') ctx.detector.suspect(e.node)
          ask()
        }
        exhausted()
      })
      .catch((err: unknown) => q.reject(err instanceof Error ? err : new Error(String(err))))
  }

  const ask = (): void => {
    if (!ctx.running()) return q.reject(new DynameshError('NOT_RUNNING', 'node stopped'))
    // Even once acknowledged, the write still goes to all n of the list (a fallback for a replica
    // that timed out, say); only the search past it is for the quorum.
    searchRound(ctx, p, opts.n, asked, send, () => (q.done ? 0 : opts.w - acks - (waiting.size - slow.size)), (primaries) => primaries.filter((id) => !covered.has(id)))
  }
  ask()
  exhausted()
  return promise
}

/** Codes a forwarded write's coordinator answers with that mean the same here; others become QUORUM_FAILED. */
const FORWARDED_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['TIMEOUT', 'QUORUM_FAILED', 'RECORD_TOO_LARGE', 'TOO_MANY_SIBLINGS', 'VALUE_TOO_LARGE', 'INVALID_CONTEXT', 'STORAGE_FAILED'])

/**
 * Routes a write: coordinates it here when this node is on the key's preference list; otherwise
 * forwards it to a node that is, and coordinates it here as a sloppy stand-in when none answers (an
 * offline node keeps taking writes and hands them off later). Resolves with the new context.
 */
export async function routeWrite(
  ctx: NodeContext,
  key: Uint8Array,
  value: Uint8Array | null,
  context: VersionVector,
  opts: { n: number; w: number; timeoutMs: number;
    /** The operation id of a write forwarded here, when it was first forwarded, and whether an earlier attempt of it went unanswered. */
    op?: number; at?: number; again?: boolean },
): Promise<string> {
  const p = ctx.store.partitionOf(key)
  const ring = ctx.ring()
  // Stryker disable next-line ArrayDeclaration: owners[p] exists for every partition
  const owners = ring.owners[p] ?? []
  const pl = preferenceList(ring, p, opts.n, ctx.isUp)
  const me = pl.find((e) => e.node === ctx.id)
  const deadline = ctx.env.now() + opts.timeoutMs
  /** Some attempt of this write went unanswered: a node may have stamped it already (see stampedBefore). */
  let again = opts.again ?? false
  const tried: NodeId[] = []
  let op = opts.op
  let at = opts.at
  if (!me) {
    for (const e of pl) {
      // Each attempt gets half of what is left, and the remote coordinator a little less than the
      // attempt, so it answers (success or failure) before this side gives up on it. The call as a
      // whole stays within timeoutMs, with time left to coordinate here if nobody answers.
      const remaining = deadline - ctx.env.now()
      const attempt = Math.floor(remaining / 2)
      if (attempt < 20) break
      op ??= newOp(ctx.env)
      at ??= ctx.env.now()
      const fwd = { t: 'fwd', op, at, again, key, value, ctx: encodeContext(context), w: opts.w, n: opts.n, timeoutMs: Math.floor(attempt * 0.8) } as const
      const reply = await forward(ctx, e.node, fwd, attempt)
      if (reply.t === 'fwd-r') {
        if (reply.ok) return reply.ctx
        throw new DynameshError(isErrorCode(reply.code) && FORWARDED_CODES.has(reply.code) ? reply.code : 'QUORUM_FAILED', reply.message)
      }
      if (reply.t === 'miss' && reply.why === 'stopped') throw new DynameshError('NOT_RUNNING', 'node stopped')
      if (reply.t === 'miss' && reply.why === 'timeout') {
        ctx.detector.suspect(e.node)
        tried.push(e.node)
        again = true
      }
    }
  }
  const owner = owners.find((o) => o !== ctx.id)
  const hintFor = me ? (me.primary ? undefined : me.hintFor) : owner
  // A retry first asks the nodes it tried and the key's owners what they hold, for a quarter of the
  // time left: an earlier attempt's version found there is reused (coordinatePut, stampedBefore).
  const seen = again ? await gatherEarlier(ctx, key, [...tried, ...owners], Math.max(1, Math.floor((deadline - ctx.env.now()) / 4))) : undefined
  const timeoutMs = Math.max(1, deadline - ctx.env.now())
  const set = await coordinatePut(ctx, key, value, context, { n: opts.n, w: opts.w, timeoutMs, again, ...(hintFor ? { hintFor } : {}), ...(seen ? { seen } : {}), ...(op === undefined ? {} : { op: opStamp(op, at ?? ctx.env.now()) }) })
  return encodeContext(contextOf(set))
}

interface ReadReply {
  entry: PrefEntry
  set: VersionSet | undefined
}

/**
 * Reads of a key ask every replica (for read repair) with this probability; otherwise only R of
 * them, and the rest only when those are slow, fail or all answer "absent" (hedged reads).
 */
export const READ_REPAIR_CHANCE = 0.1

/** Per node: a smoothed round trip of get replies, which sets how long R replicas get before the rest are asked. */
const getRtt = new WeakMap<NodeContext, number>()
/** The hedge waits this many smoothed round trips, within [HEDGE_MIN_MS, the replica's share of the call]. */
const HEDGE_RTTS = 3
const HEDGE_MIN_MS = 2
/** Before any reply was timed: a round trip on a slow link. */
const HEDGE_FIRST_MS = 50

/**
 * Reads `key` from the preference list; resolves with the merge of at least `r` replies.
 *
 * Hedged (as Cassandra's speculative retry): the call asks `r` replicas, this node first when it is
 * one (its read costs no message), and asks the rest of the list only if those have not all
 * answered after a few round trips, if one fails or is slow, or if every answer is "absent" (a
 * replica that just joined answers that first). A read of a quorum thus costs 2 (r - 1) messages
 * instead of 2 (n - 1) when this node is a replica. Read repair covers the replicas asked: one read
 * in READ_REPAIR_CHANCE asks them all, and anti-entropy reaches the rest.
 */
export async function coordinateGet(
  ctx: NodeContext,
  key: Uint8Array,
  opts: { n: number; r: number; timeoutMs: number },
): Promise<VersionSet | undefined> {
  const p = ctx.store.partitionOf(key)
  const replies = new Map<NodeId, ReadReply>()
  const misses = new Misses()
  const waiting = new Set<NodeId>()
  /** Asked replicas past their share of the call: still listened to, no longer waited for. */
  const slow = new Set<NodeId>()
  /** Slow replicas already thought unreachable when their share ran out (as in coordinatePut). */
  const gone = new Set<NodeId>()
  const deadline = ctx.env.now() + opts.timeoutMs
  const asked = new Set<NodeId>()
  let outstanding = 0
  let merged: VersionSet | undefined
  const { q, promise } = quorum<VersionSet | undefined>(ctx, opts.timeoutMs, () =>
    new DynameshError('TIMEOUT', `get: ${replies.size} of ${opts.r} replies after ${opts.timeoutMs} ms${misses.text(waiting)}`),
  )
  /** False while only the first r replicas are asked; once true, ask() searches as far as it must. */
  const chance = ctx.config.readRepairChance ?? READ_REPAIR_CHANCE
  let wide = chance >= 1 || (chance > 0 && ctx.env.random() < chance)
  let cancelHedge: () => void = () => {}
  const widen = (): void => {
    if (wide) return
    wide = true
    cancelHedge()
    ask()
  }

  const finishIfEnough = (): void => {
    if (q.done || replies.size < opts.r) return
    // Empty answers alone do not end a read while a replica that may hold the key is still out
    // (or not asked yet): a node that just joined, or a fallback, answers "absent" first.
    if (!merged && !wide) return widen()
    if (!merged && outstanding > slow.size) return
    cancelHedge()
    q.resolve(merged)
  }

  /** Ends the call once nothing more can come: every asked replica answered or is gone, and ask() found nobody left. */
  const exhausted = (): void => {
    if (q.done || outstanding > gone.size) return
    if (replies.size >= opts.r) q.resolve(merged)
    else q.reject(new DynameshError('QUORUM_FAILED', `get: ${replies.size} of ${opts.r} replicas answered${misses.text(waiting)}`))
  }

  const afterAll = (): void => {
    exhausted()
    if (outstanding === 0) readRepair(ctx, key, merged, [...replies.values()])
  }

  const onReply = (entry: PrefEntry, set: VersionSet | undefined): void => {
    replies.set(entry.node, { entry, set })
    if (set) merged = merged ? merge(merged, set) : set
    finishIfEnough()
  }

  const read = (e: PrefEntry): void => {
    asked.add(e.node)
    outstanding++
    if (e.node === ctx.id) {
      void ctx.store.readAll(key).then(
        (set) => {
          outstanding--
          onReply(e, set)
          afterAll()
        },
        () => {
          outstanding--
          ask()
          afterAll()
        },
      )
      return
    }
    waiting.add(e.node)
    const onSlow = (): void => {
      slow.add(e.node)
      if (!ctx.isUp(e.node)) gone.add(e.node)
      ctx.detector.suspect(e.node)
      ask()
      finishIfEnough()
      exhausted()
    }
    // A share of what is left, as in coordinatePut.
    const sent = ctx.env.now()
    void callReplica(ctx, e.node, { t: 'get', key }, replicaTimeout(deadline - ctx.env.now()), deadline, onSlow).then((reply) => {
      if (reply.t === 'get-r') {
        const rtt = ctx.env.now() - sent
        const avg = getRtt.get(ctx)
        getRtt.set(ctx, avg === undefined ? rtt : avg + (rtt - avg) / 8)
      }
      outstanding--
      waiting.delete(e.node)
      slow.delete(e.node)
      gone.delete(e.node)
      if (reply.t === 'get-r' && !reply.err) {
        let set: VersionSet | undefined
        try {
          set = reply.rec ? decodeSet(reply.rec) : undefined
          onReply(e, set)
        } catch {
          // A malformed record from a peer counts as no answer.
          misses.add(e.node, { t: 'miss', why: 'timeout', detail: 'malformed record' })
          ask()
        }
      } else {
        misses.add(e.node, reply)
        ask()
      }
      afterAll()
    }).catch((err: unknown) => q.reject(err instanceof Error ? err : new Error(String(err))))
  }

  const ask = (): void => {
    // Anything that calls for more answers than the first r can give widens the read.
    if (asked.size > 0) wide = true
    if (wide) {
      cancelHedge()
      searchRound(ctx, p, opts.n, asked, read, () => (q.done ? 0 : opts.r - replies.size - (outstanding - slow.size)), (primaries) => primaries.filter((id) => !replies.has(id)))
      return
    }
    const list = preferenceList(ctx.ring(), p, opts.n, ctx.isUp)
    const first = [...list.filter((e) => e.node === ctx.id), ...list.filter((e) => e.node !== ctx.id)].slice(0, opts.r)
    for (const e of first) read(e)
    if (first.length < list.length && !q.done) {
      const rtt = getRtt.get(ctx)
      const hedgeMs = Math.min(replicaTimeout(opts.timeoutMs), Math.max(HEDGE_MIN_MS, rtt === undefined ? HEDGE_FIRST_MS : Math.ceil(HEDGE_RTTS * rtt)))
      cancelHedge = ctx.env.setTimer(hedgeMs, widen)
    } else {
      wide = true // nobody else on the list: the search goes on as a wide read would
    }
  }
  ask()
  afterAll()
  return promise
}

/** Sends the merged version to every replica whose answer differed from it. */
function readRepair(ctx: NodeContext, key: Uint8Array, merged: VersionSet | undefined, replies: ReadReply[]): void {
  if (!merged || !ctx.running()) return
  let rec: Uint8Array | undefined
  for (const { entry, set } of replies) {
    // Compared as structures (both canonical): hashing each reply's encoding cost more than the rest of the read.
    if (set && (set === merged || equalSets(set, merged))) continue
    // A replica that holds nothing already reads as the delete does; sending it the tombstone
    // would put back one that was collected there (anti-entropy still brings it where it is due).
    if (!set && deletedOnly(merged)) continue
    const hint = entry.primary ? undefined : entry.hintFor
    if (entry.node === ctx.id) {
      void ctx.store.apply(key, merged, hint).catch(() => {})
      continue
    }
    rec ??= encodeOnce(merged)
    try {
      ctx.send(entry.node, { t: 'store', rid: 0, items: [{ key, rec, ...(hint ? { hint } : {}) }], ack: false })
    } catch (e) {
      // Counted and reported by the node; anti-entropy retries, and the next write can shrink the set.
      if (isDynameshError(e, 'MESSAGE_TOO_LARGE')) continue
      throw e
    }
    ctx.emit({ type: 'repair', kind: 'read', peer: entry.node, keys: 1, bytes: rec.length })
  }
}
