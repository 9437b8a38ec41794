/**
 * Per-peer limits on inbound work, so one member cannot exhaust another's CPU or memory: a token
 * bucket of messages per second, and a budget of bytes of stores and pushes being applied at once.
 * What a limit refuses is dropped and counted by reason (NodeStats.overloaded); a refused write is
 * answered OVERLOADED, so its coordinator looks elsewhere instead of waiting.
 */
import { MAX_PEER_MESSAGES_PER_SEC, MAX_PEER_QUEUED_BYTES } from '../limits.js'
import type { NodeId } from '../types.js'

export interface InboundOptions {
  messagesPerSec?: number
  queuedBytes?: number
}

interface Bucket {
  tokens: number
  at: number
  queued: number
}

export class InboundLimits {
  /** Drops by reason: 'rate' (messages past the per-second budget), 'queued' (stores past the byte budget). */
  readonly dropped = { rate: 0, queued: 0 }
  private readonly peers = new Map<NodeId, Bucket>()
  private readonly rate: number
  private readonly budget: number

  constructor(
    private readonly now: () => number,
    opts: InboundOptions = {},
  ) {
    this.rate = opts.messagesPerSec ?? MAX_PEER_MESSAGES_PER_SEC
    this.budget = opts.queuedBytes ?? MAX_PEER_QUEUED_BYTES
  }

  private bucket(from: NodeId): Bucket {
    let b = this.peers.get(from)
    if (!b) {
      // Forget idle peers now and then (nothing queued, bucket full again by now), so ids that came
      // and went do not pile up. A forgotten peer comes back as the same full, empty bucket, so when
      // the sweep runs is not observable: it only bounds memory.
      const t = this.now()
      // Stryker disable next-line ConditionalExpression,EqualityOperator: when to sweep only bounds memory
      if (this.peers.size >= 4096) {
        for (const [id, x] of this.peers) if (this.idle(x, t)) this.peers.delete(id)
      }
      b = { tokens: this.rate, at: t, queued: 0 }
      this.peers.set(from, b)
    }
    return b
  }

  /** Nothing queued and the bucket full again by `t`: forgotten, the peer would come back the same. */
  private idle(x: Bucket, t: number): boolean {
    // Stryker disable next-line ConditionalExpression: a sweep that forgets none only costs memory
    if (x.queued !== 0) return false
    // Stryker disable next-line EqualityOperator: refilled() is at most the rate; > forgets none, which only costs memory
    return this.refilled(x, t) >= this.rate
  }

  /** True when a message from `from` may be handled now; counts it otherwise. */
  admit(from: NodeId): boolean {
    const b = this.bucket(from)
    const t = this.now()
    b.tokens = this.refilled(b, t)
    b.at = t
    if (b.tokens < 1) {
      this.dropped.rate++
      return false
    }
    b.tokens--
    return true
  }

  /** A bucket's tokens at time `t`: refilled at the rate since it was last drawn from, up to full. */
  private refilled(b: Bucket, t: number): number {
    return Math.min(this.rate, b.tokens + ((t - b.at) * this.rate) / 1000)
  }

  /** Reserves `bytes` of `from`'s store budget; false (and counted) when it would go over. */
  reserve(from: NodeId, bytes: number): boolean {
    const b = this.bucket(from)
    if (b.queued > 0 && b.queued + bytes > this.budget) {
      this.dropped.queued++
      return false
    }
    b.queued += bytes
    return true
  }

  release(from: NodeId, bytes: number): void {
    const b = this.peers.get(from)
    if (b) b.queued = Math.max(0, b.queued - bytes)
  }
}
