/**
 * Membership at scale through the public API: n nodes on dynamesh/sim, (N, R, W) = (3, 2, 2), no
 * keys, every period at its default, the simulated network capped at 32 open connections per node
 * (the WebRTC transport's default). For each n:
 *
 *  - build and converge: nodes created one after another into the running cluster (seeds = the
 *    first node), then simulated time runs until every node's cluster().members lists all n as up.
 *    Wall ms, the process's CPU ms (the figure to compare on a shared machine) and simulated ms; bytes each node sent meanwhile (node.stats().sent, average and max,
 *    by message type); bytes the last joiner received (the network's 'deliver' events to it) while
 *    its createNode ran and until convergence.
 *  - quiet: 10 s of simulated time with nothing changing; bytes sent per node per second, by type.
 *  - a change reaching every view, in gossip periods (beside 2·log2 n):
 *      leave:   one node leave()s; periods until every other node lists it as left. leave()
 *               announces itself to every member it knows, so this is mostly that broadcast.
 *      rumour:  one node leave()s cut off from all but one witness (the first node it sends to once
 *               it is left), so only the witness hears it; the partition heals and the periods
 *               count until every other node lists it as left: gossip dissemination from one node.
 *  - connections: max over nodes of net.connections(id).peak (whole run), distinct peers ever held.
 *
 * Each size has a wall-clock budget and bounded simulated time; past either it prints "over budget"
 * (or "not converged") and moves on. Prints figures only; never passes or fails on time.
 *
 *   npx tsx bench/scale.ts                    # 10, 100, 1,000
 *   npx tsx bench/scale.ts --huge             # also 10,000
 *   npx tsx bench/scale.ts --sizes=10,100     # chosen sizes
 *   options: --seed=1  --budget=SECONDS (every size)  --json (one JSON line per size as well)
 *            --memory-storage (the plain memory storage; default the simulation's shared one)
 *            --heap=GiB (heap of the rerun for sizes above 1,500; default 12)
 */
import { spawnSync } from 'node:child_process'
import { realpathSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { getHeapStatistics } from 'node:v8'
import { fileURLToPath } from 'node:url'
import { createNode, memoryStorage, type DynameshNode } from '../src/index.js'
import { createSimNetwork, sharedMemoryStorage, type SimNetwork } from '../src/sim/index.js'

export interface ScaleOptions {
  seed?: number
  /** Wall-clock budget of the whole measurement of this size. Default by n (budgetFor). */
  budgetMs?: number
  /** Simulated time allowed from the last join to convergence. Default 600 s. */
  maxConvergeSimMs?: number
  /** Gossip periods allowed for a change to reach every view. Default max(30, 6·log2 n). */
  maxPeriods?: number
  /** Simulated quiet time measured after convergence. Default 10 s. */
  quietMs?: number
  /** SimOptions.maxConnections. Default 32. */
  maxConnections?: number
  /** The nodes' gossip period (NodeOptions.gossipMs); default the node's own (1000 ms). */
  gossipMs?: number
  /**
   * Each node's storage: 'shared' (default), the simulation's memory storage that shares identical
   * stored bytes between simulated disks (src/sim/storage.ts: n disks of n member entries would be
   * 10^8 copies at 10,000 nodes), or 'memory', the plain memory storage. Nodes behave and send the
   * same with either.
   */
  storage?: 'shared' | 'memory'
  /** Progress lines. Default: none. */
  log?: (line: string) => void
}

export interface ScaleResult {
  n: number
  /** 'ok', or what stopped the measurement ('over budget in <phase>', 'not converged in <s> s simulated'). */
  status: string
  converged: boolean
  budgetMs: number
  /** Wall ms; `checks`: the part of the total spent reading views (cluster()) to see whether they are done yet. */
  wallMs: { total: number; build?: number; buildAndConverge?: number; checks: number }
  /** CPU ms of the whole process (all threads, garbage collection included) until converged: what wall time is on an idle machine, less waiting. */
  cpuMs?: { buildAndConverge?: number }
  /** Simulated ms from the first join: until the last createNode resolved; until converged. */
  simMs: { build?: number; buildAndConverge?: number }
  /** Bytes each node sent from the first join until convergence. */
  buildSent?: { avg: number; max: number; avgByType: Record<string, number> }
  /** Bytes delivered to the last node to join: while its createNode ran; from its join until convergence. */
  lastJoiner?: { id: string; recvDuringJoin: number; recvUntilConverged: number; joinSimMs: number; joinWallMs: number }
  /** Bytes sent per node per second over the quiet period. */
  quiet?: { seconds: number; avg: number; max: number; avgByType: Record<string, number> }
  /** Gossip periods until every other node listed the leaver as left (undefined: not within maxPeriods). */
  leavePeriods?: number | undefined
  /** The same when only one witness heard the leave (see the header). */
  rumourPeriods?: number | undefined
  /** The one node the leave reached, and whether it had it when the partition healed (if not, no rumourPeriods). */
  rumourWitness?: string | undefined
  rumourWitnessKnew?: boolean
  /** 2·log2 n, for comparison. */
  twoLog2n: number
  connections?: { cap: number; peakMax: number; peakAvg: number; distinctAvg: number; distinctMax: number; openedAvg: number }
}

/** Default wall-clock budget for a size: generous for the current O(n^3) gossip, bounded for any. */
export function budgetFor(n: number): number {
  if (n <= 10) return 2 * 60_000
  if (n <= 100) return 5 * 60_000
  if (n <= 1000) return 20 * 60_000
  return 60 * 60_000
}

class OverBudget extends Error {}

/** Heap in use and the process's resident memory, for progress lines. */
const heapGB = (): string => {
  const m = process.memoryUsage()
  return `${(m.heapUsed / 2 ** 30).toFixed(2)} GiB used, rss ${(m.rss / 2 ** 30).toFixed(2)} GiB`
}

const idOf = (i: number, n: number): string => `n${String(i).padStart(String(n - 1).length, '0')}`

type SentRecord = Record<string, { count: number; bytes: number }>

const sumBytes = (sent: SentRecord): number => Object.values(sent).reduce((s, v) => s + v.bytes, 0)

/** Runs the whole measurement for one n on a fresh simulated network and reports it; never throws for time. */
export async function measureScale(n: number, opts: ScaleOptions = {}): Promise<ScaleResult> {
  if (!Number.isInteger(n) || n < 2) throw new TypeError('n must be a whole number >= 2')
  const seed = opts.seed ?? 1
  const budgetMs = opts.budgetMs ?? budgetFor(n)
  const maxConvergeSimMs = opts.maxConvergeSimMs ?? 600_000
  const maxPeriods = opts.maxPeriods ?? Math.max(30, Math.ceil(6 * Math.log2(n)))
  const quietMs = opts.quietMs ?? 10_000
  const cap = opts.maxConnections ?? 32
  const gossipMs = opts.gossipMs ?? 1000
  const log = opts.log ?? (() => {})

  const t0 = performance.now()
  const cpu0 = process.cpuUsage()
  const cpuMs = (): number => {
    const c = process.cpuUsage(cpu0)
    return (c.user + c.system) / 1000
  }
  const wall = (): number => performance.now() - t0
  let phase = 'build'
  const check = (): void => {
    if (wall() > budgetMs) throw new OverBudget(`over budget in ${phase}`)
  }

  const res: ScaleResult = { n, status: 'ok', converged: false, budgetMs, wallMs: { total: 0, checks: 0 }, simMs: {}, twoLog2n: 2 * Math.log2(n) }
  const net: SimNetwork = createSimNetwork({ seed, latencyMs: [1, 5], maxConnections: cap })
  const ids = Array.from({ length: n }, (_, i) => idOf(i, n))
  const nodes = new Map<string, DynameshNode>()
  const stopped = new Set<string>()
  const sim0 = net.now()

  // Bytes delivered to each node, from the network's own events (they carry sizes, not types).
  const received = new Map<string, number>()
  const unobserve = net.observe((ev) => {
    if (ev.type === 'deliver') received.set(ev.to, (received.get(ev.to) ?? 0) + ev.size)
  })
  const recv = (id: string): number => received.get(id) ?? 0

  const running = (): DynameshNode[] => ids.filter((id) => nodes.has(id) && !stopped.has(id)).map((id) => nodes.get(id)!)
  const timed = <T>(f: () => T): T => {
    const c0 = performance.now()
    try {
      return f()
    } finally {
      res.wallMs.checks += performance.now() - c0
    }
  }
  /** All n listed, every one up. */
  const sawAllUp = (node: DynameshNode): boolean =>
    timed(() => {
      const ms = node.cluster().members
      return ms.length === n && ms.every((m) => m.status === 'up')
    })
  /** Lists `id` as left (or no longer lists it at all, should a gossip drop departed members). */
  const sawLeft = (node: DynameshNode, id: string): boolean =>
    timed(() => {
      const m = node.cluster().members.find((x) => x.id === id)
      return m === undefined || m.status === 'left'
    })

  // Reading a view costs O(n) (cluster() copies it and the ring), n views O(n^2): too slow to do
  // every step at 10,000. So each node's 'member' events keep a mirror of its view, which says when
  // to read the real one (the answer always comes from cluster()); every few steps all pending views
  // are read anyway, in case a change came without an event.
  // One byte per (node, member): at 10,000 nodes a map per node would itself be 10^8 entries.
  const STATUS = ['', 'joining', 'up', 'leaving', 'left']
  const indexOf = new Map(ids.map((id, i) => [id, i]))
  interface Mirror { status: Uint8Array; known: number; up: number }
  const mirrors = new Map<DynameshNode, Mirror>()
  const changed = new Set<DynameshNode>()
  const track = (node: DynameshNode): void => {
    const mirror: Mirror = { status: new Uint8Array(n), known: 0, up: 0 }
    const set = (id: string, st: string): void => {
      const i = indexOf.get(id)
      if (i === undefined) return
      const was = mirror.status[i]!, now = STATUS.indexOf(st)
      mirror.known += (was === 0 ? 1 : 0)
      mirror.up += (now === 2 ? 1 : 0) - (was === 2 ? 1 : 0)
      mirror.status[i] = now
    }
    mirrors.set(node, mirror)
    node.on('member', (ev) => {
      set(ev.id, ev.status)
      changed.add(node)
    })
    for (const m of timed(() => node.cluster().members)) set(m.id, m.status)
  }
  const mirrorAllUp = (node: DynameshNode): boolean => mirrors.get(node)!.known === n && mirrors.get(node)!.up === n
  const mirrorLeft = (id: string) => (node: DynameshNode): boolean => mirrors.get(node)!.status[indexOf.get(id)!] === 4
  /**
   * Steps `stepMs` of virtual time at a time from `from` until every watcher's view passes `done`;
   * a view is read when its mirror says `likely` (after a change), and every `sweep` steps. Returns
   * the steps taken (0: done already), or undefined after `maxSteps`.
   */
  const stepsUntil = async (
    o: { watchers: DynameshNode[]; likely: (x: DynameshNode) => boolean; done: (x: DynameshNode) => boolean; stepMs: number; maxSteps: number; sweep: number },
  ): Promise<number | undefined> => {
    const from = net.now()
    changed.clear()
    let pending = o.watchers.filter((x) => !(o.likely(x) && o.done(x)))
    for (let k = 1; pending.length > 0; k++) {
      if (k > o.maxSteps) return undefined
      check()
      const target = from + k * o.stepMs
      if (target > net.now()) await net.advance(target - net.now())
      const all = k % o.sweep === 0
      pending = pending.filter((x) => !((all || (changed.has(x) && o.likely(x))) && o.done(x)))
      changed.clear()
      if (pending.length === 0) return k
    }
    return 0
  }
  /** Gossip periods until every watcher lists `id` as left. */
  const periodsUntilLeft = (watchers: DynameshNode[], id: string): Promise<number | undefined> =>
    stepsUntil({ watchers, likely: mirrorLeft(id), done: (x) => sawLeft(x, id), stepMs: gossipMs, maxSteps: maxPeriods, sweep: 5 })

  try {
    // ---- build: one createNode after another into the running cluster ----
    for (let i = 0; i < n; i++) {
      check()
      const id = ids[i]!
      const last = i === n - 1
      const j0 = performance.now()
      const s0 = net.now()
      const r0 = recv(id)
      const node = await createNode({
        storage: opts.storage === 'memory' ? memoryStorage() : sharedMemoryStorage(),
        ...net.join(id),
        n: 3, r: 2, w: 2,
        seeds: i === 0 ? [] : [ids[0]!],
        ...(opts.gossipMs !== undefined ? { gossipMs: opts.gossipMs } : {}),
      })
      nodes.set(id, node)
      track(node)
      if (last) res.lastJoiner = { id, recvDuringJoin: recv(id) - r0, recvUntilConverged: 0, joinSimMs: net.now() - s0, joinWallMs: performance.now() - j0 }
      if ((i + 1) % Math.max(1, Math.floor(n / 10)) === 0) log(`n = ${n}: ${i + 1} joined, ${wall().toFixed(0)} ms wall, ${cpuMs().toFixed(0)} ms cpu, ${((net.now() - sim0) / 1000).toFixed(1)} s simulated, heap ${heapGB()}`)
    }
    res.wallMs.build = wall()
    res.simMs.build = net.now() - sim0

    // ---- converge: every view lists all n as up ----
    phase = 'converge'
    const stepMs = Math.max(1, Math.round(gossipMs / 10))
    const steps = await stepsUntil({
      watchers: running(), likely: mirrorAllUp, done: sawAllUp,
      stepMs, maxSteps: Math.ceil(maxConvergeSimMs / stepMs), sweep: Math.max(1, Math.round((10 * gossipMs) / stepMs)),
    })
    res.wallMs.buildAndConverge = wall()
    res.cpuMs = { buildAndConverge: cpuMs() }
    res.simMs.buildAndConverge = net.now() - sim0
    res.lastJoiner!.recvUntilConverged = recv(res.lastJoiner!.id)
    const sent: SentRecord[] = []
    for (const node of running()) sent.push((await node.stats()).sent)
    const totals = sent.map(sumBytes)
    const avgByType: Record<string, number> = {}
    for (const s of sent) for (const [t, v] of Object.entries(s)) avgByType[t] = (avgByType[t] ?? 0) + v.bytes / n
    res.buildSent = { avg: totals.reduce((a, b) => a + b, 0) / n, max: Math.max(...totals), avgByType }
    if (steps === undefined) {
      const short = running().filter((x) => !sawAllUp(x)).length
      res.status = `not converged in ${(maxConvergeSimMs / 1000).toFixed(0)} s simulated (${short} views short)`
      log(`n = ${n}: ${res.status}`)
      return res
    }
    res.converged = true
    log(`n = ${n}: converged, ${res.wallMs.buildAndConverge.toFixed(0)} ms wall, ${res.cpuMs.buildAndConverge!.toFixed(0)} ms cpu, ${(res.simMs.buildAndConverge / 1000).toFixed(1)} s simulated, heap ${heapGB()}`)

    // ---- quiet: nothing changes for quietMs ----
    phase = 'quiet'
    const before = new Map<string, SentRecord>()
    for (const id of ids) before.set(id, (await nodes.get(id)!.stats()).sent)
    const q0 = net.now()
    while (net.now() - q0 < quietMs) {
      check()
      await net.advance(Math.min(gossipMs, quietMs - (net.now() - q0)))
    }
    const secs = (net.now() - q0) / 1000
    const perNode: number[] = []
    const quietByType: Record<string, number> = {}
    for (const id of ids) {
      const now = (await nodes.get(id)!.stats()).sent
      const was = before.get(id)!
      let total = 0
      for (const [t, v] of Object.entries(now)) {
        const d = v.bytes - (was[t]?.bytes ?? 0)
        if (d <= 0) continue
        total += d
        quietByType[t] = (quietByType[t] ?? 0) + d / n / secs
      }
      perNode.push(total / secs)
    }
    res.quiet = { seconds: secs, avg: perNode.reduce((a, b) => a + b, 0) / n, max: Math.max(...perNode), avgByType: quietByType }
    log(`n = ${n}: quiet ${res.quiet.avg.toFixed(0)} B/s per node`)

    if (n >= 4) {
      // ---- leave: one node leaves gracefully ----
      phase = 'leave'
      const leaverId = ids[Math.floor(n / 2)]!
      const leaver = nodes.get(leaverId)!
      // Not awaited: the count runs in gossip periods whatever leave() waits for.
      void leaver.leave().catch(() => {})
      stopped.add(leaverId)
      res.leavePeriods = await periodsUntilLeft(running(), leaverId)
      log(`n = ${n}: leave seen everywhere after ${res.leavePeriods ?? 'more than ' + maxPeriods} periods`)

      // ---- rumour: a leave only one witness hears, then gossip alone spreads it ----
      // The leaver is cut off from everyone; the first message it sends once its own entry reads
      // 'left' picks the witness, which alone is let through. Whoever the leaver announces to (all
      // members, a few, or the one it gossips with) the news then starts at one other node.
      phase = 'rumour'
      const xId = ids[n - 1]!
      const x = nodes.get(xId)!
      let witness: string | undefined
      net.partition([xId])
      const unwatch = net.observe((ev) => {
        if (witness !== undefined || ev.type !== 'send' || ev.from !== xId || ev.to === xId || !nodes.has(ev.to) || stopped.has(ev.to)) return
        if (x.cluster().members.find((m) => m.id === xId)?.status !== 'left') return
        witness = ev.to
        // Set while the network handles this very send: it passes, later ones to others do not.
        net.partition([xId, ev.to])
      })
      let left = false
      void x.leave().then(() => void (left = true), () => void (left = true))
      stopped.add(xId)
      for (let waited = 0; !left && waited < 10 * gossipMs; waited += 10) {
        check()
        await net.advance(10)
      }
      unwatch()
      await net.advance(10) // the witness's message lands (latency is at most 5 ms)
      net.heal()
      res.rumourWitness = witness
      res.rumourWitnessKnew = witness !== undefined && sawLeft(nodes.get(witness)!, xId)
      if (res.rumourWitnessKnew) res.rumourPeriods = await periodsUntilLeft(running(), xId)
      log(`n = ${n}: rumour ${res.rumourWitnessKnew ? `from witness ${witness} seen everywhere after ${res.rumourPeriods ?? 'more than ' + maxPeriods} periods` : `not measured: no witness heard the leave (${left ? 'leave done' : 'leave not done'})`}`)
    }
  } catch (e) {
    if (!(e instanceof OverBudget)) throw e
    res.status = e.message
    log(`n = ${n}: ${res.status} (${(budgetMs / 1000).toFixed(0)} s)`)
  } finally {
    const cs = ids.filter((id) => nodes.has(id)).map((id) => net.connections(id))
    if (cs.length > 0) {
      const avg = (f: (c: (typeof cs)[number]) => number): number => cs.reduce((s, c) => s + f(c), 0) / cs.length
      res.connections = {
        cap,
        peakMax: Math.max(...cs.map((c) => c.peak)),
        peakAvg: avg((c) => c.peak),
        distinctAvg: avg((c) => c.distinct),
        distinctMax: Math.max(...cs.map((c) => c.distinct)),
        openedAvg: avg((c) => c.opened),
      }
    }
    unobserve()
    // Stopping the network kills every node's timers at once (stopping each node would announce n times).
    await net.stop()
    res.wallMs.total = wall()
  }
  return res
}

// ---- CLI ----

const kb = (b: number | undefined): string =>
  b === undefined ? '-' : b < 10_000 ? `${b.toFixed(0)} B` : b < 10_000_000 ? `${(b / 1000).toFixed(1)} KB` : `${(b / 1e6).toFixed(2)} MB`
const ms = (x: number | undefined): string => (x === undefined ? '-' : x.toFixed(0))

function tables(results: ScaleResult[]): void {
  const short = (r: ScaleResult, v: string | undefined): string =>
    v !== undefined ? v : r.status === 'ok' ? '-' : r.status.startsWith('over budget') ? 'over budget' : 'not converged'
  console.log('\nbuild and converge (nodes joined one after another; converged = every view lists all n as up; view checks: wall ms of the whole run spent reading views)')
  console.table(
    results.map((r) => ({
      n: r.n,
      'wall ms': short(r, r.converged ? ms(r.wallMs.buildAndConverge) : undefined),
      'cpu ms': short(r, r.converged ? ms(r.cpuMs?.buildAndConverge) : undefined),
      'sim ms': short(r, r.converged ? ms(r.simMs.buildAndConverge) : undefined),
      'joins sim ms': ms(r.simMs.build),
      'sent/node avg': kb(r.buildSent?.avg),
      'sent/node max': kb(r.buildSent?.max),
      'last joiner recv (its join)': kb(r.lastJoiner?.recvDuringJoin),
      'last joiner recv (to converged)': kb(r.converged ? r.lastJoiner?.recvUntilConverged : undefined),
      'view checks ms': ms(r.wallMs.checks),
      status: r.status,
    })),
  )
  console.log(`after convergence (periods of gossipMs; quiet = ${results[0]?.quiet?.seconds ?? 10} s simulated, nothing changing; connections over the whole run)`)
  console.table(
    results.map((r) => ({
      n: r.n,
      'leave periods': short(r, r.leavePeriods === undefined ? (r.status === 'ok' && r.n >= 4 ? 'not reached' : undefined) : String(r.leavePeriods)),
      'rumour periods': short(
        r,
        r.rumourPeriods !== undefined ? String(r.rumourPeriods) : r.status !== 'ok' || r.n < 4 ? undefined : r.rumourWitnessKnew ? 'not reached' : 'no witness',
      ),
      '2·log2 n': r.twoLog2n.toFixed(1),
      'quiet B/s/node avg': short(r, r.quiet ? r.quiet.avg.toFixed(0) : undefined),
      'quiet B/s/node max': short(r, r.quiet ? r.quiet.max.toFixed(0) : undefined),
      'peak conns (max)': r.connections ? `${r.connections.peakMax} / cap ${r.connections.cap}` : '-',
      'distinct peers avg/max': r.connections ? `${r.connections.distinctAvg.toFixed(0)} / ${r.connections.distinctMax}` : '-',
      'opened/node avg': r.connections ? r.connections.openedAvg.toFixed(0) : '-',
    })),
  )
  const types = [...new Set(results.flatMap((r) => [...Object.keys(r.buildSent?.avgByType ?? {}), ...Object.keys(r.quiet?.avgByType ?? {})]))]
  const rank = (t: string): number => Math.max(0, ...results.map((r) => r.quiet?.avgByType[t] ?? 0), ...results.map((r) => (r.buildSent?.avgByType[t] ?? 0) / 1e6))
  types.sort((a, b) => rank(b) - rank(a))
  console.log('by message type: bytes sent per node while building and converging (avg) | per node per second while quiet (avg)')
  console.table(
    types.map((t) => {
      const row: Record<string, string> = { type: t }
      for (const r of results) {
        row[`n=${r.n} build`] = kb(r.buildSent?.avgByType[t] ?? (r.buildSent ? 0 : undefined))
        row[`n=${r.n} quiet B/s`] = r.quiet ? (r.quiet.avgByType[t] ?? 0).toFixed(0) : '-'
      }
      return row
    }),
  )
}

async function main(argv: string[]): Promise<void> {
  const arg = (name: string): string | undefined => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
  const sizes = arg('sizes') ? arg('sizes')!.split(',').map(Number) : [10, 100, 1000, ...(argv.includes('--huge') ? [10_000] : [])]
  if (sizes.some((s) => !Number.isInteger(s) || s < 2)) throw new TypeError('--sizes takes whole numbers >= 2, e.g. --sizes=10,100')
  const seed = Number(arg('seed') ?? 1)
  const budgetS = arg('budget')
  const budgetOf = (n: number): number => (budgetS !== undefined ? Number(budgetS) * 1000 : budgetFor(n))
  console.log(`$ npx tsx bench/scale.ts ${argv.join(' ')}`.trimEnd())
  console.log(`# node ${process.version}; dynamesh/sim seed ${seed}, latency 1-5 ms, maxConnections 32; (N,R,W)=(3,2,2), default periods, no keys`)
  console.log(`# heap limit ${(getHeapStatistics().heap_size_limit / 2 ** 30).toFixed(1)} GiB; storage ${argv.includes('--memory-storage') ? 'memory' : 'shared (sim)'}; budgets: ${sizes.map((n) => `${n}: ${(budgetOf(n) / 60_000).toFixed(1)} min`).join(', ')}`)
  // Budgets are checked between steps; this catches a single step that never returns.
  const total = sizes.reduce((s, n) => s + budgetOf(n), 0) + 5 * 60_000
  setTimeout(() => {
    console.error(`bench: past the sum of the budgets plus 5 minutes (${(total / 60_000).toFixed(0)} min); stopping`)
    process.exit(2)
  }, total).unref()
  const results: ScaleResult[] = []
  for (const n of sizes) {
    const r = await measureScale(n, { seed, budgetMs: budgetOf(n), storage: argv.includes('--memory-storage') ? 'memory' : 'shared', log: (l) => console.log(`# ${l}`) })
    results.push(r)
    if (argv.includes('--json')) console.log(JSON.stringify(r))
  }
  tables(results)
}

const invokedDirectly = ((): boolean => {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))
  } catch {
    return false
  }
})()
/**
 * Every simulated node holds every member's entry (a pointer each in its view, a stored copy shared
 * between disks), so memory grows with n²: past Node's default heap (~4 GB here) above a few
 * thousand nodes. For sizes above 1,500 the benchmark runs itself again with a larger heap (--heap,
 * default 12 GiB: this machine has 24 and is shared) and a larger young generation (fewer
 * scavenges of the short-lived message objects), unless already given one.
 */
function relaunched(argv: string[]): boolean {
  const sizes = argv.find((a) => a.startsWith('--sizes='))?.slice(8).split(',').map(Number) ?? [argv.includes('--huge') ? 10_000 : 1000]
  if (Math.max(...sizes) <= 1500 || process.env.DYNAMESH_SCALE_CHILD) return false
  const gib = Number(argv.find((a) => a.startsWith('--heap='))?.slice(7) ?? 12)
  const flags = [`--max-old-space-size=${Math.round(gib * 1024)}`, '--max-semi-space-size=64', ...process.execArgv]
  const r = spawnSync(process.execPath, [...flags, process.argv[1]!, ...argv], { stdio: 'inherit', env: { ...process.env, DYNAMESH_SCALE_CHILD: '1' } })
  process.exitCode = r.status ?? 1
  return true
}

if (invokedDirectly && !relaunched(process.argv.slice(2))) await main(process.argv.slice(2))
