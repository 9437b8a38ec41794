/**
 * Forwarding a write so that it is stamped once (docs/writes.md). A write that a node does not
 * coordinate itself travels as `fwd` messages that all carry one operation id: `forward` resends the
 * same op to the same coordinator while no answer comes (the coordinator answers every copy of one op
 * once, node/ops.ts), and a retry elsewhere first looks for the version an earlier attempt stamped
 * (`gatherEarlier`) and reuses it (`stampedBefore`) instead of stamping the put a second time. Two
 * dots for one put are two concurrent versions of one value: a later put whose read saw only one of
 * them would leave the other standing, an overwritten value back as a sibling.
 */
import { covers, descends, merge, type OpStamp, type VersionSet, type VersionVector } from '../core/clock.js'
import { equalBytes } from '../core/hash.js'
import { decodeSet } from '../core/record.js'
import type { Cancel, Env, NodeId } from '../types.js'
import type { NodeContext } from './context.js'
import type { Miss, Reply, Request } from './rpc.js'

/**
 * True when `known` already holds what this write would stamp: a version with the same value that
 * the write's context had not seen (so written after the read the write came from), nothing left
 * that the context had seen (that version superseded it, with the same context), and a vector that
 * has seen all the context has (an earlier attempt stamped its version over that context, so its
 * vector covers it). Asked only for a retry (an earlier attempt went unanswered and may have been
 * stamped by another node, whose copy reached this one), so a new write of a value that happens to
 * be there already is stamped as usual. Were a match a different write of the same bytes, reusing
 * it still leaves what this write would: its value, and a vector that supersedes everything its
 * context saw, wherever a copy of it still is. Without that last test a retried delete found
 * another delete's tombstone here and took it for its own: acknowledged, it superseded nothing its
 * context saw that this node did not hold, and a value it had deleted stayed (a hint elsewhere).
 */
export function stampedBefore(known: VersionSet, context: VersionVector, value: Uint8Array | null): boolean {
  if (!descends(known.vv, context)) return false
  let same = false
  for (const x of known.siblings) {
    if (covers(context, x.dot)) return false
    if (x.value === null ? value === null : value !== null && equalBytes(x.value, value)) same = true
  }
  return same
}

/**
 * An operation id for a forwarded write: random, 53 bits, never 0. The same on every copy of the
 * write, whichever node it goes through (node/ops.ts); drawn only when a write is forwarded.
 */
export const newOp = (env: Env): number => Math.floor(env.random() * 2 ** 21) * 2 ** 32 + Math.floor(env.random() * 2 ** 32) || 1

/**
 * What a version of a forwarded write carries of it (clock.ts, OpStamp): 32 bits of its id and the
 * time it was first forwarded (`at`, which travels with it), so every stamp of the write carries the
 * same, and the latest superseded writes are the ones a set remembers.
 */
export const opStamp = (op: number, at: number): OpStamp => ({ tag: op % 2 ** 32, at: Math.max(0, Math.floor(at)) })

/** A forwarded write as `forward` sends it (each copy gets its own request id). */
export type FwdRequest = Extract<Request, { t: 'fwd' }>

/** Copies of a forwarded write sent after the first when no answer came, spread over the first half of the attempt. */
const RESENDS = 3

/**
 * Forwards a write to `to` for `attempt` ms. While nothing comes back, the same request (same op) goes
 * again at a sixth, a third and half of the attempt: a lost request or a lost answer then costs a
 * resend, not a second coordinator that would stamp the write again (two dots for one put). The
 * coordinator answers every copy of one op with one outcome (node/ops.ts), so a copy that arrives
 * after the first is harmless. None goes later than half the attempt: a copy that arrives first
 * gives its coordinator no less time than one resend did.
 */
export function forward(ctx: NodeContext, to: NodeId, fwd: FwdRequest, attempt: number): Promise<Reply | Miss> {
  const end = ctx.env.now() + attempt
  return new Promise((resolve, reject) => {
    let open = 0
    let resends = 0
    let done = false
    let cancel: Cancel = () => {}
    const settle = (reply: Reply | Miss): void => {
      open--
      if (done) return
      // Silence is final only once no copy is out and none is still to go.
      if (reply.t === 'miss' && reply.why === 'timeout' && (open > 0 || resends < RESENDS)) return
      done = true
      cancel()
      resolve(reply)
    }
    const fail = (e: unknown): void => {
      if (done) return
      done = true
      cancel()
      reject(e instanceof Error ? e : new Error(String(e)))
    }
    const send = (ms: number): void => {
      open++
      ctx.rpc.call(to, { ...fwd, timeoutMs: Math.max(1, Math.floor(ms * 0.8)) }, ms).then(settle, fail)
    }
    const resend = (): void => {
      cancel = ctx.env.setTimer(Math.max(1, Math.floor(attempt / (2 * RESENDS))), () => {
        const left = end - ctx.env.now()
        if (done || !ctx.running() || left < 1) {
          resends = RESENDS // none is still to go
          return
        }
        resends++
        send(left)
        if (resends < RESENDS) resend()
      })
    }
    resend()
    send(attempt)
  })
}

/**
 * What `nodes` hold of `key`, merged: asked before a retry is stamped, so that a version an earlier
 * attempt stamped elsewhere (its answer lost or late) is found and reused rather than stamped again.
 * Waits for every answer or `ms`, whichever comes first.
 */
export async function gatherEarlier(ctx: NodeContext, key: Uint8Array, nodes: Iterable<NodeId>, ms: number): Promise<VersionSet | undefined> {
  const asked = [...new Set(nodes)].filter((id) => id !== ctx.id)
  const replies = await Promise.all(asked.map((id) => ctx.rpc.call(id, { t: 'get', key }, ms)))
  let out: VersionSet | undefined
  for (const r of replies) {
    if (r.t !== 'get-r' || r.err || !r.rec) continue
    try {
      const set = decodeSet(r.rec)
      out = out ? merge(out, set) : set
    } catch {
      // A malformed record is no answer.
    }
  }
  return out
}
