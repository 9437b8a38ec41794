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
 * `max` entries the oldest that ended go first; a node holds a few thousand small entries at most.
 */

/** What a forwarded write's coordinator answers (the fields of a `fwd-r`). */
export interface FwdOutcome {
  ok: boolean
  ctx: string
  code: string
  message: string
}

interface Entry {
  /** What the operation wrote, so an id that collides (or is reused by a confused peer) is not taken for it. */
  key: string
  size: number
  ctx: string
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

const hex = (b: Uint8Array): string => {
  let s = ''
  for (const x of b) s += (x < 16 ? '0' : '') + x.toString(16)
  return s
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
    const key = hex(req.key)
    const size = req.value === null ? -1 : req.value.length
    const known = this.entries.get(req.op)
    if (known && known.key === key && known.size === size && known.ctx === req.ctx) {
      this.joined++
      return known.outcome
    }
    if (known) return run()
    const entry: Entry = { key, size, ctx: req.ctx, outcome: run(), settled: false, until: now + this.keepFactor * req.timeoutMs }
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
