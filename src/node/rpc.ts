/**
 * Request/response over a lossy transport: every request carries a request id (`rid`); replies are
 * matched by it; a request without a reply in time resolves to `undefined` and the caller decides
 * (suspect the peer, try a fallback). Late replies for finished requests are dropped.
 */
import type { Cancel, Env, NodeId } from '../types.js'
import type { Msg } from '../wire/messages.js'

type Reply = Extract<Msg, { t: 'get-r' | 'store-r' | 'fwd-r' }>
/** A request message without its rid (distributes Omit over the union). */
export type Request = Msg extends infer M ? (M extends { rid: number } ? (M extends Reply ? never : Omit<M, 'rid'>) : never) : never

interface Pending {
  to: NodeId
  resolve: (r: Reply | undefined) => void
  cancel: Cancel
}

export class Rpc {
  private nextRid = 1
  private readonly pending = new Map<number, Pending>()

  constructor(
    private readonly env: Env,
    private readonly send: (to: NodeId, msg: Msg) => void,
  ) {}

  /** Sends `req` and resolves with the reply, or undefined after `timeoutMs`. */
  call(to: NodeId, req: Request, timeoutMs: number): Promise<Reply | undefined> {
    const rid = this.nextRid++
    return new Promise((resolve) => {
      const cancel = this.env.setTimer(timeoutMs, () => {
        this.pending.delete(rid)
        resolve(undefined)
      })
      this.pending.set(rid, { to, resolve, cancel })
      this.send(to, { ...req, rid } as Msg)
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

  /** Resolves every waiting call with undefined (used on stop). */
  clear(): void {
    for (const p of this.pending.values()) {
      p.cancel()
      p.resolve(undefined)
    }
    this.pending.clear()
  }
}
