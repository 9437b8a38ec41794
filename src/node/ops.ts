/**
 * Forwarded writes, coordinated once per operation. A client write that is not coordinated where it
 * arrived travels as `fwd` messages that all carry one operation id (`op`): a duplicated message, a
 * resend after silence, a retry through another node that forwards back here. Every copy that
 * reaches this node while the operation is in flight, or for a while after it ended, gets the answer
 * of the first: the write is stamped with one dot, not one per copy.
 *
 * Why it matters (issue 9, "no resurrection"): two dots for one put are two concurrent versions of
 * one value. A later put whose read saw only one of them supersedes that one, and the other comes
 * back as a sibling of the newer value: by the clocks a concurrent write, to the user an overwritten
 * value that reappeared. See docs/writes.md.
 *
 * Bounded: entries end `keepFactor` times the operation's own time budget after it arrived, and past
 * `max` entries the oldest that ended go first; an entry keeps a fingerprint of the write, not its
 * context, so a node holds a few thousand entries of a few dozen bytes at most.
 */

/** What a forwarded write's coordinator answers (the fields of a `fwd-r`). */
export interface FwdOutcome {
  ok: boolean
  ctx: string
  code: string
  message: string
}

interface Entry {
  /** What the operation writes (fingerprint), so an id that collides, or that a confused peer reuses, is not taken for it. */
  what: string
  outcome: Promise<FwdOutcome>
  settled: boolean
  /** Virtual or wall ms after which the entry may go. */
  until: number
}

/** The request fields that identify what a forwarded write does. */
export interface FwdRequest {
  op: number
  key: Uint8Array
  value: Uint8Array | null
  ctx: string
  timeoutMs: number
}

/**
 * A short fingerprint of what a forwarded write does: key, value size and context, hashed (two
 * 32-bit FNV-style hashes, not cryptographic), so an entry costs a few dozen bytes whatever the
 * context's size.
 * The op id, not this, identifies the operation; this only keeps a reused id from another write.
 */
function fingerprint(req: FwdRequest): string {
  let h1 = 0x811c9dc5
  let h2 = 0x01000193
  const mix = (c: number): void => {
    h1 = Math.imul(h1 ^ c, 0x01000193)
    h2 = Math.imul(h2 ^ c, 0x5bd1e995)
  }
  for (const b of req.key) mix(b)
  mix(0x100)
  // Stryker disable next-line EqualityOperator: one more mix, of charCodeAt(length) (NaN), is the same for every request
  for (let i = 0; i < req.ctx.length; i++) mix(req.ctx.charCodeAt(i))
  return `${req.key.length}:${req.value === null ? -1 : req.value.length}:${req.ctx.length}:${(h1 >>> 0).toString(36)}${(h2 >>> 0).toString(36)}`
}

export class ForwardedOps {
  private readonly entries = new Map<number, Entry>()
  /** Copies answered from an entry instead of being coordinated again (stats, tests). */
  joined = 0

  constructor(
    private readonly now: () => number,
    private readonly max = 4096,
    private readonly keepFactor = 4,
  ) {}

  /**
   * The outcome of operation `req.op`: `run()`'s when the operation is new here, else the one
   * already under way or ended. A request that reuses an id for a different write runs on its own.
   */
  run(req: FwdRequest, run: () => Promise<FwdOutcome>): Promise<FwdOutcome> {
    const now = this.now()
    this.expire(now)
    const what = fingerprint(req)
    const known = this.entries.get(req.op)
    if (known && known.what === what) {
      this.joined++
      return known.outcome
    }
    if (known) return run()
    const entry: Entry = { what, outcome: run(), settled: false, until: now + this.keepFactor * req.timeoutMs }
    void entry.outcome.finally(() => {
      entry.settled = true
      entry.until = Math.max(entry.until, this.now() + req.timeoutMs)
    })
    this.entries.set(req.op, entry)
    return entry.outcome
  }

  get size(): number {
    return this.entries.size
  }

  private expire(now: number): void {
    let over = this.entries.size - this.max + 1
    // Oldest first (arrival order): stops at the first entry neither due nor needed for room.
    for (const [op, e] of this.entries) {
      if (over <= 0 && e.until > now) break
      if (!e.settled) continue
      this.entries.delete(op)
      over--
    }
  }
}
