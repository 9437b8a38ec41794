/**
 * A five-process cluster over WebRTC at (N, R, W) = (3, 2, 2), driven over HTTP from this process:
 * YCSB workloads A (50% reads, 50% updates) and B (95/5) on zipfian keys (YCSB's scrambled zipfian
 * generator, theta 0.99) over a preloaded key space, 1 KiB values, a bounded number of operations
 * at a small concurrency. Prints throughput, p50/p99/p99.9 latency of get and put per workload, and
 * the CPU time per operation of each peer process (/proc, every thread) and of this load generator.
 *
 * Unloaded (one operation at a time, the same zipfian keys): gets and puts through HTTP, and through
 * the library API of a sixth process that is itself a member of weight 0 (test/cluster/member.ts),
 * as a browser tab is: its gets ask the replicas directly; its puts are forwarded to a replica.
 *
 * In the same run it measures the floors those latencies sit on:
 *  - the raw data-channel round trip, 100-byte ping-pongs (median): between two transports in this
 *    process, and between a bare transport in the member process and one in this process;
 *  - the HTTP round trip: GET /health of one peer from the same client (median).
 * It prints the issue's goals next to the figures (ratios within this run).
 *
 * Updates carry the context of the last get or put of that key this client saw (as a Dynamo client
 * does), so siblings only come from operations in flight at the same time.
 *
 * Prints figures only; never passes or fails on time. Stops by itself, kills its children.
 *   unshare -n sh -c 'ip link set lo up && npx tsx bench/cluster.ts'      (as root; loopback only)
 *   options: --ops 5000 --keys 1000 --concurrency 8 --value 1024 --pings 1000
 *            --cpu-prof DIR   (every peer process writes a V8 CPU profile into DIR when it stops)
 *            --sync           (peers fsync every write before acknowledging it: dynamesh node --sync)
 */
import { readFileSync } from 'node:fs'
import { Agent, request, type IncomingHttpHeaders } from 'node:http'
import { networkInterfaces } from 'node:os'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { WebSocket } from 'ws'
import { generateIdentity } from '../src/identity.js'
import { createWebRtcTransport } from '../src/transport/webrtc.js'
import { wrtc } from '../src/transport/wrtc.js'
import { CONTEXT_HEADER, Proc, TestCluster } from '../test/cluster/procs.js'
import { medianRtt } from '../test/cluster/rtt.js'

const { values: args } = parseArgs({
  options: {
    ops: { type: 'string', default: '5000' },
    keys: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '8' },
    value: { type: 'string', default: '1024' },
    pings: { type: 'string', default: '1000' },
    seed: { type: 'string', default: '42' },
    'cpu-prof': { type: 'string' },
    sync: { type: 'boolean', default: false },
  },
})
const OPS = Number(args.ops)
const KEYS = Number(args.keys)
const CONCURRENCY = Number(args.concurrency)
const VALUE_BYTES = Number(args.value)
const PINGS = Number(args.pings)
const PEERS = 5

// ---- output ----

const loopbackOnly = Object.keys(networkInterfaces()).every((name) => name === 'lo')
console.log(`$ ${loopbackOnly ? "unshare -n sh -c 'ip link set lo up && " : ''}npx tsx bench/cluster.ts${process.argv.slice(2).map((a) => ` ${a}`).join('')}${loopbackOnly ? "'" : ''}`)
console.log(`# node ${process.version}; ${PEERS} peer processes + signaling on loopback${loopbackOnly ? ' (loopback-only network namespace)' : ''}; (N,R,W)=(3,2,2)`)
console.log(`# ${KEYS} keys preloaded, ${VALUE_BYTES}-byte values, ${OPS} ops per workload, concurrency ${CONCURRENCY}, zipfian theta 0.99 (scrambled)${args.sync ? '; peers fsync every write (--sync)' : ''}`)

// A bounded run: whatever happens, stop (the exit hook of procs.ts kills the children).
setTimeout(() => {
  console.error('bench: took longer than 10 minutes; stopping')
  process.exit(2)
}, 10 * 60_000).unref()
process.on('SIGINT', () => process.exit(130))
process.on('SIGTERM', () => process.exit(143))

// ---- randomness: a seeded PRNG and YCSB's zipfian generators ----

/** mulberry32: small, fast, seeded. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * YCSB's ZipfianGenerator (Gray et al., "Quickly generating billion-record synthetic databases",
 * SIGMOD 1994): item i in [0, n) with probability proportional to 1 / (i + 1)^theta.
 */
class Zipfian {
  private readonly zetan: number
  private readonly alpha: number
  private readonly eta: number
  private readonly halfPowTheta: number

  constructor(
    private readonly n: number,
    private readonly theta: number,
    private readonly random: () => number,
    zetan?: number,
  ) {
    this.zetan = zetan ?? Zipfian.zeta(n, theta)
    const zeta2 = Zipfian.zeta(2, theta)
    this.alpha = 1 / (1 - theta)
    this.eta = (1 - Math.pow(2 / n, 1 - theta)) / (1 - zeta2 / this.zetan)
    this.halfPowTheta = 1 + Math.pow(0.5, theta)
  }

  static zeta(n: number, theta: number): number {
    let sum = 0
    for (let i = 0; i < n; i++) sum += 1 / Math.pow(i + 1, theta)
    return sum
  }

  next(): number {
    const u = this.random()
    const uz = u * this.zetan
    if (uz < 1) return 0
    if (uz < this.halfPowTheta) return 1
    return Math.floor(this.n * Math.pow(this.eta * u - this.eta + 1, this.alpha))
  }
}

/**
 * YCSB's ScrambledZipfianGenerator: zipfian popularity, but the popular items are spread over the
 * key space by an FNV-1a hash instead of being the lowest ids (YCSB draws from a large fixed
 * space, 10^10 items, then hashes into [0, n); so does this).
 */
class ScrambledZipfian {
  private static readonly ITEMS = 10_000_000_000
  /** zeta(10^10, 0.99), precomputed as YCSB does (summing 10^10 terms takes minutes). */
  private static readonly ZETAN = 26.46902820178302
  private readonly z: Zipfian

  constructor(
    private readonly n: number,
    random: () => number,
  ) {
    this.z = new Zipfian(ScrambledZipfian.ITEMS, 0.99, random, ScrambledZipfian.ZETAN)
  }

  next(): number {
    return Number(fnv1a64(BigInt(this.z.next())) % BigInt(this.n))
  }
}

/** FNV-1a over the 8 bytes of a 64-bit value (YCSB's Utils.fnvhash64). */
function fnv1a64(v: bigint): bigint {
  let h = 0xcbf29ce484222325n
  for (let i = 0; i < 8; i++) {
    h ^= v & 0xffn
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn
    v >>= 8n
  }
  return h
}

// ---- figures ----

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? NaN
const median = (xs: number[]): number => quantile([...xs].sort((a, b) => a - b), 0.5)
const ms = (x: number): string => `${x.toFixed(2)} ms`

function summary(name: string, lat: number[]): string {
  if (lat.length === 0) return `${name.padEnd(4)} n=0`
  const s = [...lat].sort((a, b) => a - b)
  return `${name.padEnd(4)} n=${String(s.length).padStart(5)}  p50 ${ms(quantile(s, 0.5)).padStart(9)}  p99 ${ms(quantile(s, 0.99)).padStart(9)}  p99.9 ${ms(quantile(s, 0.999)).padStart(9)}`
}

// ---- CPU time ----

/** CPU ms (user + system, every thread) a process has used so far, from /proc (Linux). */
function cpuMsOf(pid: number): number {
  try {
    // Fields after the parenthesised command name: utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100 // USER_HZ is 100 on Linux
  } catch {
    return NaN
  }
}

/** CPU ms of each peer process and of this one, to take differences of. */
function cpuNow(c: TestCluster): { peers: number[]; self: number } {
  const u = process.cpuUsage()
  return { peers: c.peers.map((p) => cpuMsOf(p.proc.pid)), self: (u.user + u.system) / 1000 }
}

function cpuLine(before: ReturnType<typeof cpuNow>, after: ReturnType<typeof cpuNow>, ops: number): string {
  const per = after.peers.map((a, i) => (a - before.peers[i]!) / ops)
  const sum = per.reduce((x, y) => x + y, 0)
  return `CPU per op: peers ${sum.toFixed(3)} ms in all (each ${per.map((x) => x.toFixed(3)).join(' / ')}); load generator ${((after.self - before.self) / ops).toFixed(3)} ms`
}

// ---- the client side ----

const keyOf = (i: number): string => `user${String(i).padStart(6, '0')}`
const contexts = new Map<string, string>()

function value(random: () => number): Uint8Array<ArrayBuffer> {
  const v = new Uint8Array(VALUE_BYTES)
  for (let i = 0; i < v.length; i += 4) {
    const x = (random() * 2 ** 32) >>> 0
    v[i] = x & 0xff
    v[i + 1] = (x >>> 8) & 0xff
    v[i + 2] = (x >>> 16) & 0xff
    v[i + 3] = x >>> 24
  }
  return v
}

/**
 * The load generator's HTTP client: node:http over kept-alive connections. (fetch, undici's WHATWG
 * layer, cost this process about 0.5 ms of CPU per operation, on the same two cores as the peers.)
 */
const agent = new Agent({ keepAlive: true, maxSockets: 64 })
const CONTEXT = CONTEXT_HEADER.toLowerCase()

function call(base: string, path: string, method: string, body?: Uint8Array, headers: Record<string, string> = {}): Promise<{ status: number; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method, agent, headers: body ? { ...headers, 'Content-Length': String(body.length) } : headers }, (res) => {
      res.on('data', () => {})
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }))
      res.on('error', reject)
    })
    req.setTimeout(10_000, () => req.destroy(new Error(`timeout after 10 s: ${method} ${path}`)))
    req.on('error', reject)
    req.end(body)
  })
}

async function doGet(base: string, key: string): Promise<{ ok: boolean; siblings: boolean }> {
  const res = await call(base, `/kv/${key}`, 'GET')
  const ctx = res.headers[CONTEXT]
  if (typeof ctx === 'string' && ctx) contexts.set(key, ctx)
  return { ok: res.status === 200 || res.status === 300, siblings: res.status === 300 }
}

async function doPut(base: string, key: string, v: Uint8Array<ArrayBuffer>): Promise<boolean> {
  const ctx = contexts.get(key)
  const res = await call(base, `/kv/${key}`, 'PUT', v, ctx ? { [CONTEXT_HEADER]: ctx } : {})
  const out = res.headers[CONTEXT]
  if (typeof out === 'string' && out) contexts.set(key, out)
  return res.status === 204
}

async function runWorkload(c: TestCluster, name: string, readShare: number, seed: number): Promise<void> {
  const random = prng(seed)
  const zipf = new ScrambledZipfian(KEYS, random)
  const get: number[] = []
  const put: number[] = []
  let errors = 0
  let siblings = 0
  let issued = 0
  const cpu0 = cpuNow(c)
  const t0 = performance.now()
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (issued < OPS) {
      const n = issued++
      const key = keyOf(zipf.next())
      const base = c.peers[n % PEERS]!.http
      const read = random() < readShare
      const v = read ? undefined : value(random)
      const s = performance.now()
      try {
        if (read) {
          const r = await doGet(base, key)
          if (!r.ok) errors++
          if (r.siblings) siblings++
        } else if (!(await doPut(base, key, v!))) errors++
      } catch {
        errors++
      }
      ;(read ? get : put).push(performance.now() - s)
    }
  }))
  const wall = (performance.now() - t0) / 1000
  const cpu1 = cpuNow(c)
  console.log(`\n${name}: ${OPS} ops in ${wall.toFixed(2)} s = ${(OPS / wall).toFixed(0)} ops/s; errors ${errors}; reads with siblings ${siblings}`)
  console.log(`  ${summary('get', get)}`)
  console.log(`  ${summary('put', put)}`)
  console.log(`  ${cpuLine(cpu0, cpu1, OPS)}`)
  const all = [...get, ...put].sort((a, b) => a - b)
  loaded.set(name.split(' (')[0]!, { opsPerS: OPS / wall, errors, p50: quantile(all, 0.5), p999: quantile(all, 0.999) })
}

const loaded = new Map<string, { opsPerS: number; errors: number; p50: number; p999: number }>()

// ---- the library-API coordinator: a member process of its own (test/cluster/member.ts) ----

class Member {
  private constructor(private readonly proc: Proc, readonly id: string) {}

  static async start(c: TestCluster): Promise<Member> {
    const cfg = { signal: c.signal.url, room: c.opts.room, peers: PEERS, n: 3, r: 2, w: 2 }
    const proc = new Proc('member', [JSON.stringify(cfg)], 'test/cluster/member.ts', { stdin: true })
    const { id } = await proc.ready<{ id: string }>(60_000)
    return new Member(proc, id)
  }

  async run<T>(cmd: Record<string, unknown>): Promise<T> {
    const after = this.proc.lines.length
    this.proc.writeLine(JSON.stringify(cmd))
    const line = await this.proc.nextLine('RESULT ', after, 120_000)
    const r = JSON.parse(line.slice(7)) as T & { error?: string }
    if (r.error) throw new Error(`member: ${r.error}`)
    return r
  }

  stop(): Promise<void> {
    this.proc.writeLine(JSON.stringify({ op: 'stop' }))
    return this.proc.stop(5000)
  }
}

// ---- the floors ----

/** Median round trip of `pings` 100-byte messages between two transports in this process. */
async function dataChannelRtt(signalUrl: string): Promise<number> {
  const room = `bench-rtt-${process.pid}`
  const mk = () => createWebRtcTransport({ signalUrl, room, identity: generateIdentity(), wrtc, WebSocket, loopbackOnly: true })
  const a = mk()
  const b = mk()
  b.onMessage((from, msg) => b.send(from, msg))
  await Promise.all([a.start(), b.start()])
  try {
    return await medianRtt(a, b.id, PINGS)
  } finally {
    await Promise.all([a.stop(), b.stop()])
  }
}

/** Median GET /health round trip from this process (the HTTP floor under every operation). */
async function httpFloor(base: string): Promise<number> {
  const lat: number[] = []
  for (let i = 0; i < 1100; i++) {
    const s = performance.now()
    await call(base, '/health', 'GET')
    if (i >= 100) lat.push(performance.now() - s)
  }
  return median(lat)
}

// ---- main ----

async function main(): Promise<void> {
  const t0 = performance.now()
  const profDir = args['cpu-prof']
  const execArgv = profDir ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []
  const c = await TestCluster.start({ peers: PEERS, n: 3, r: 2, w: 2, nodeArgs: ['--quiet', ...(args.sync ? ['--sync'] : [])], execArgv })
  try {
    await c.waitConverged({ timeoutMs: 60_000 })
    console.log(`# cluster up in ${((performance.now() - t0) / 1000).toFixed(1)} s`)

    // Preload every key once (blind writes), through every peer in turn.
    const random = prng(Number(args.seed))
    let next = 0
    let failed = 0
    const p0 = performance.now()
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < KEYS) {
        const i = next++
        if (!(await doPut(c.peers[i % PEERS]!.http, keyOf(i), value(random)).catch(() => false))) failed++
      }
    }))
    console.log(`# preloaded ${KEYS} keys in ${((performance.now() - p0) / 1000).toFixed(1)} s (${failed} failed)`)

    // What the peers spend with no client traffic (gossip, anti-entropy, handoff), to read the CPU per op against.
    const idle0 = cpuNow(c)
    const i0 = performance.now()
    await new Promise((r) => setTimeout(r, 3000))
    const idle1 = cpuNow(c)
    const idleMsPerS = idle1.peers.reduce((n, x, i) => n + x - idle0.peers[i]!, 0) / ((performance.now() - i0) / 1000)
    console.log(`# idle: the peers use ${idleMsPerS.toFixed(0)} ms of CPU per second in all with no client traffic`)

    await runWorkload(c, 'workload A (50% get / 50% put)', 0.5, Number(args.seed) + 1)
    await runWorkload(c, 'workload B (95% get / 5% put)', 0.95, Number(args.seed) + 2)

    // The same operations with nothing else in flight: per-operation cost without queueing.
    const zipf = new ScrambledZipfian(KEYS, prng(Number(args.seed) + 3))
    const keys = Array.from({ length: 500 }, () => keyOf(zipf.next()))
    const httpGet: number[] = []
    const httpPut: number[] = []
    const vrandom = prng(Number(args.seed) + 4)
    for (let i = 0; i < keys.length; i++) {
      const s = performance.now()
      await doGet(c.peers[i % PEERS]!.http, keys[i]!)
      httpGet.push(performance.now() - s)
    }
    for (let i = 0; i < keys.length; i++) {
      const v = value(vrandom)
      const s = performance.now()
      await doPut(c.peers[i % PEERS]!.http, keys[i]!, v)
      httpPut.push(performance.now() - s)
    }
    console.log(`\nunloaded through HTTP (concurrency 1, ${keys.length} zipfian keys, every peer in turn):\n  ${summary('get', httpGet)}\n  ${summary('put', httpPut)}`)

    // The same through the library API of a member process (weight 0: it holds no partitions).
    const member = await Member.start(c)
    let libGet: number[] = []
    let libPut: number[] = []
    let rttCross = NaN
    try {
      await member.run({ op: 'get', keys: keys.slice(0, 100) }) // open its connections, warm up
      const g = await member.run<{ lat: number[]; errors: number }>({ op: 'get', keys })
      const p = await member.run<{ lat: number[]; errors: number }>({ op: 'put', keys, bytes: VALUE_BYTES })
      libGet = g.lat
      libPut = p.lat
      console.log(`unloaded through the library API of a member process (concurrency 1, the same keys; errors ${g.errors + p.errors}):\n  ${summary('get', libGet)}\n  ${summary('put', libPut)}`)
      // The raw round trip between two processes: from a bare transport in the member process to
      // an echoing one in this process.
      const room = `bench-rtt-x-${process.pid}`
      const echo = createWebRtcTransport({ signalUrl: c.signal.url, room, identity: generateIdentity(), wrtc, WebSocket, loopbackOnly: true })
      echo.onMessage((from, msg) => echo.send(from, msg))
      await echo.start()
      try {
        rttCross = (await member.run<{ median: number }>({ op: 'ping', room, to: echo.id, count: PINGS })).median
      } finally {
        await echo.stop()
      }
    } finally {
      await member.stop()
    }

    const rtt = await dataChannelRtt(c.signal.url)
    const floor = await httpFloor(c.peers[0]!.http)
    console.log(`\nfloors: data-channel RTT (100 B, median of ${PINGS}) within one process ${ms(rtt)}, between two processes ${ms(rttCross)}; HTTP GET /health (median of 1000) ${ms(floor)}`)
    const x = (a: number, b: number): string => `${(a / b).toFixed(2)}x`
    const hg = median(httpGet)
    const lg = median(libGet)
    const lp = median(libPut)
    console.log(`unloaded HTTP get p50 / (HTTP floor + RTT between processes) = ${x(hg, floor + rttCross)} (goal <= 1.5x)`)
    console.log(`unloaded library get p50 / RTT between processes = ${x(lg, rttCross)} (goal <= 2.0x); / RTT within one process = ${x(lg, rtt)}`)
    console.log(`unloaded library put p50 / RTT between processes = ${x(lp, rttCross)} (goal <= 2.5x); / RTT within one process = ${x(lp, rtt)}`)
    for (const [name, r] of loaded) {
      const goal = name.endsWith('B') ? 4000 : 3000
      console.log(`${name}: ${r.opsPerS.toFixed(0)} ops/s (goal >= ${goal}); p99.9 / p50 = ${x(r.p999, r.p50)} (goal <= 5x); errors ${r.errors}`)
    }
  } finally {
    await c.stop()
  }
  console.log(`# total ${((performance.now() - t0) / 1000).toFixed(1)} s`)
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`)
    process.exit(1)
  },
)
