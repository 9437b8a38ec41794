/**
 * Virtual time for the simulation: a binary heap of events ordered by (time, sequence number), and a
 * pump that runs them. Ties break by sequence number, so the same calls in the same order give the
 * same run: one seed replays one history (DESIGN.md section 4; FoundationDB / TigerBeetle style).
 *
 * Time moves only while someone waits on it: while a hold is out (a node's caller awaits a get/put)
 * or a run (settle/advance) is in progress. Otherwise the clock stands still and the test's own code
 * runs with the cluster frozen, which is what makes `await a.put(...)` in a test just work.
 */

/** Virtual time starts here (2023-11-14T22:13:20Z), so timestamps in records and logs look real. */
export const SIM_EPOCH = 1_700_000_000_000

/**
 * Microtask turns granted before each event, so promise chains started by the previous event (a
 * node's async handler over memory storage) run before time moves on, as if they took no time.
 */
const MICROTASK_TURNS = 16
/** Events run between real macrotask yields, so real I/O (LevelDB) and the test's code get a turn. */
const EVENTS_PER_MACROTASK = 200
/** Empty-queue checks before a run may jump time to its target (real I/O had its chance). */
const EMPTY_CHECKS_BEFORE_JUMP = 8

/** One scheduled callback. `cancelled` events stay in the heap and are skipped when popped. */
export interface SimEvent {
  readonly time: number
  readonly seq: number
  fn: (() => void) | undefined
}

/** What a run (settle or advance) reports. */
export interface RunResult {
  /** Virtual milliseconds that passed during the run. */
  virtualMs: number
  /** Events executed during the run. */
  events: number
  /** True when the run ended because its idle condition held for quietMs; false at its deadline. */
  quiet: boolean
}

interface Waiter {
  deadline: number
  quietMs: number
  idle: (() => boolean) | undefined
  quietSince: number | undefined
  done: (quiet: boolean) => void
}

/** Yields to the host's event loop: a macrotask, or a real sleep of `ms` that does not keep Node alive. */
function realDelay(ms: number): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 && typeof setImmediate === 'function') {
      setImmediate(resolve)
      return
    }
    const t = setTimeout(resolve, ms) as unknown as { unref?: () => void }
    // A pump polling for I/O that can never come must not keep a process from exiting.
    if (ms > 0) t.unref?.()
  })
}

const before = (a: SimEvent, b: SimEvent): boolean => a.time < b.time || (a.time === b.time && a.seq < b.seq)

/** The event queue and the pump. One per simulated network. */
export class Scheduler {
  /** Current virtual time, in ms since the Unix epoch (starts at {@link SIM_EPOCH}). */
  now = SIM_EPOCH
  /** Events executed so far. */
  executed = 0
  /** Exceptions thrown by event callbacks; they are recorded, never allowed to stop the pump. */
  readonly errors: unknown[] = []

  private heap: SimEvent[] = []
  private seq = 0
  private cancelled = 0
  private holds = 0
  private io = 0
  private waiters: Waiter[] = []
  private pumping = false
  private stopped = false

  /** Runs `fn` after `delayMs` of virtual time (rounded up to whole ms, at least 0). */
  schedule(delayMs: number, fn: () => void): SimEvent {
    const d = Number.isFinite(delayMs) && delayMs > 0 ? Math.ceil(delayMs) : 0
    // After stop() the event is born cancelled: it is never queued and cancelling it is a no-op.
    const ev: SimEvent = { time: this.now + d, seq: this.seq++, fn: this.stopped ? undefined : fn }
    if (!this.stopped) this.push(ev)
    return ev
  }

  /** Cancels an event; cancelling twice or after it ran is harmless. */
  cancel(ev: SimEvent): void {
    if (ev.fn === undefined) return
    ev.fn = undefined
    this.cancelled++
    // Lazy deletion keeps cancel O(1); rebuild when dead events dominate, so the heap stays small.
    if (this.cancelled > 1024 && this.cancelled * 2 > this.heap.length) {
      const live = this.heap.filter((e) => e.fn !== undefined)
      this.heap = []
      this.cancelled = 0
      for (const e of live) this.push(e)
    }
  }

  /** Marks a caller as waiting: time advances until the returned release is called (once). */
  hold(): () => void {
    if (this.stopped) return () => {}
    this.holds++
    this.kick()
    let released = false
    return () => {
      if (released) return
      released = true
      this.holds--
    }
  }

  /**
   * Advances virtual time until `idle()` has returned true continuously for `quietMs`, or until `ms`
   * have passed. Without `idle`, simply runs `ms` of virtual time.
   */
  run(opts: { ms: number; quietMs?: number; idle?: () => boolean }): Promise<RunResult> {
    const start = this.now
    const startEvents = this.executed
    return new Promise((resolve) => {
      const done = (quiet: boolean): void => resolve({ virtualMs: this.now - start, events: this.executed - startEvents, quiet })
      if (this.stopped) return done(false)
      this.waiters.push({ deadline: start + Math.max(0, opts.ms), quietMs: Math.max(0, opts.quietMs ?? 0), idle: opts.idle, quietSince: undefined, done })
      this.kick()
    })
  }

  /**
   * Marks real work (disk I/O) in progress: virtual time stands still until `p` settles, so real I/O
   * takes no virtual time instead of letting timers race ahead while the host waits on the disk.
   */
  track<T>(p: Promise<T>): Promise<T> {
    this.io++
    const done = (): void => {
      this.io--
    }
    return p.then(
      (v) => {
        done()
        return v
      },
      (e: unknown) => {
        done()
        throw e
      },
    )
  }

  /** Records an exception from simulated code. */
  report(err: unknown): void {
    this.errors.push(err)
  }

  /** Drops every event and ends every run; holds no longer move time. */
  stop(): void {
    this.stopped = true
    this.heap = []
    const ws = this.waiters
    this.waiters = []
    for (const w of ws) w.done(false)
  }

  /** Events still queued (cancelled ones excluded). */
  pending(): number {
    return this.heap.length - this.cancelled
  }

  private kick(): void {
    if (this.pumping || this.stopped || (this.holds === 0 && this.waiters.length === 0)) return
    this.pumping = true
    void this.pump()
  }

  private async pump(): Promise<void> {
    let burst = 0
    let empty = 0
    try {
      for (;;) {
        for (let i = 0; i < MICROTASK_TURNS; i++) await null
        if (this.stopped || (this.holds === 0 && this.waiters.length === 0)) return
        if (this.io > 0) {
          // Tracked real I/O in progress: let the host finish it before any more virtual time passes.
          await realDelay(0)
          burst = 0
          continue
        }
        // A finished run resumes its caller, who may hold or run again: give it its microtasks first.
        if (this.checkWaiters()) continue
        const next = this.peek()
        const target = this.nextTarget()
        if (next === undefined) {
          // Nothing scheduled: a held call may be awaiting real I/O. Poll, gently, before jumping.
          if (target !== undefined && empty >= EMPTY_CHECKS_BEFORE_JUMP) {
            this.now = Math.max(this.now, target)
            empty = 0
            continue
          }
          empty++
          await realDelay(empty <= 3 ? 0 : 5)
          burst = 0
          continue
        }
        empty = 0
        if (target !== undefined && target < next.time) {
          // A run ends before the next event would happen: stop the clock exactly at its target.
          this.now = Math.max(this.now, target)
          continue
        }
        this.pop()
        this.now = next.time
        const fn = next.fn
        next.fn = undefined
        this.executed++
        try {
          fn?.()
        } catch (e) {
          this.report(e)
        }
        if (++burst >= EVENTS_PER_MACROTASK) {
          burst = 0
          await realDelay(0)
        }
      }
    } finally {
      this.pumping = false
    }
  }

  /** Updates each run's quiet streak; ends the runs whose target is reached. True if any ended. */
  private checkWaiters(): boolean {
    let ended = false
    for (const w of [...this.waiters]) {
      if (w.idle !== undefined) {
        let ok = false
        try {
          ok = w.idle()
        } catch (e) {
          this.report(e)
        }
        if (!ok) w.quietSince = undefined
        else w.quietSince ??= this.now
      }
      if (this.now >= this.targetOf(w)) {
        this.waiters.splice(this.waiters.indexOf(w), 1)
        w.done(w.quietSince !== undefined && this.now - w.quietSince >= w.quietMs)
        ended = true
      }
    }
    return ended
  }

  private targetOf(w: Waiter): number {
    return w.quietSince === undefined ? w.deadline : Math.min(w.deadline, w.quietSince + w.quietMs)
  }

  private nextTarget(): number | undefined {
    let t: number | undefined
    for (const w of this.waiters) {
      const x = this.targetOf(w)
      if (t === undefined || x < t) t = x
    }
    return t
  }

  /** The earliest live event, discarding cancelled ones from the top. */
  private peek(): SimEvent | undefined {
    while (this.heap.length > 0 && this.heap[0]!.fn === undefined) {
      this.pop()
      this.cancelled--
    }
    return this.heap[0]
  }

  private push(ev: SimEvent): void {
    const h = this.heap
    h.push(ev)
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!before(h[i]!, h[p]!)) break
      ;[h[i], h[p]] = [h[p]!, h[i]!]
      i = p
    }
  }

  private pop(): SimEvent | undefined {
    const h = this.heap
    const top = h[0]
    const last = h.pop()
    if (h.length > 0 && last !== undefined) {
      h[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < h.length && before(h[l]!, h[m]!)) m = l
        if (r < h.length && before(h[r]!, h[m]!)) m = r
        if (m === i) break
        ;[h[i], h[m]] = [h[m]!, h[i]!]
        i = m
      }
    }
    return top
  }
}
