/**
 * Request/response over a lossy transport: every request carries a request id (`rid`); replies are
 * matched by it. A request without a reply resolves to a `Miss` saying why, so a caller can tell a
 * replica that did not answer in time (suspect it, try a fallback) from a request the transport
 * refused to carry (the replica is fine; the message is the problem). Late replies are dropped.
 */
import { isDynameshError } from '../errors.js'
import type { Cancel, Env, NodeId } from '../types.js'
import type { Msg } from '../wire/messages.js'

export type Reply = Extract<Msg, { t: 'get-r' | 'store-r' | 'fwd-r' }>
/** A request message without its rid (distributes Omit over the union). */
export type Request = Msg extends infer M ? (M extends { rid: number } ? (M extends Reply ? never : Omit<M, 'rid'>) : never) : never

/**
 * Why a call has no reply: `timeout` (nothing within the time given), `too-large` (the transport
 * refused the request: MESSAGE_TOO_LARGE), `stopped` (this node stopped meanwhile).
 */
export interface Miss {
  t: 'miss'
  why: 'timeout' | 'too-large' | 'stopped'
  /** For people: the transport's words, or the time waited. */
  detail: string
}

interface Pending {
  to: NodeId
  resolve: (r: Reply | Miss) => void
  cancel: Cancel
}

export class Rpc {
  private nextRid = 1
  private readonly pending = new Map<number, Pending>()

  constructor(
    private readonly env: Env,
    private readonly send: (to: NodeId, msg: Msg) => void,
  ) {}

  /** Sends `req` and resolves with the reply, or with a Miss after `timeoutMs` or when the send is refused. */
  call(to: NodeId, req: Request, timeoutMs: number): Promise<Reply | Miss> {
    const rid = this.nextRid++
    return new Promise((resolve) => {
      const cancel = this.env.setTimer(timeoutMs, () => {
        this.pending.delete(rid)
        resolve({ t: 'miss', why: 'timeout', detail: `no answer within ${Math.round(timeoutMs)} ms` })
      })
      this.pending.set(rid, { to, resolve, cancel })
      try {
        this.send(to, { ...req, rid } as Msg)
      } catch (e) {
        this.pending.delete(rid)
        cancel()
        if (!isDynameshError(e, 'MESSAGE_TOO_LARGE')) throw e
        resolve({ t: 'miss', why: 'too-large', detail: e.message })
      }
    })
  }

  /** Hands a reply to its waiting caller; false if nobody waits (late or forged). */
  settle(from: NodeId, reply: Reply): boolean {
    const p = this.pending.get(reply.rid)
    if (!p || p.to !== from) return false
    this.pending.delete(reply.rid)
    p.cancel()
    p.resolve(reply)
    return true
  }

  get size(): number {
    return this.pending.size
  }

  /** Resolves every waiting call with a `stopped` miss (used on stop). */
  clear(): void {
    for (const p of this.pending.values()) {
      p.cancel()
      p.resolve({ t: 'miss', why: 'stopped', detail: 'node stopped' })
    }
    this.pending.clear()
  }
}
