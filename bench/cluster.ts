/**
 * A five-process cluster over WebRTC at (N, R, W) = (3, 2, 2), driven over HTTP from this process:
 * YCSB workloads A (50% reads, 50% updates) and B (95/5) on zipfian keys (YCSB's scrambled zipfian
 * generator, theta 0.99) over a preloaded key space, 1 KiB values, a bounded number of operations
 * at a small concurrency. Prints throughput and p50/p99/p99.9 latency of get and put per workload.
 *
 * In the same run it measures the floors those latencies sit on:
 *  - the raw data-channel round trip: two WebRTC transports in this process, connected through the
 *    same signaling server, 100-byte ping-pongs (median);
 *  - the HTTP round trip: GET /health of one peer from the same client (median).
 * The figures to watch: get p50 / data-channel RTT, and get p50 / (HTTP floor + RTT).
 *
 * Updates carry the context of the last get or put of that key this client saw (as a Dynamo client
 * does), so siblings only come from operations in flight at the same time.
 *
 * Prints figures only; never passes or fails on time. Stops by itself, kills its children.
 *   unshare -n sh -c 'ip link set lo up && npx tsx bench/cluster.ts'      (as root; loopback only)
 *   options: --ops 5000 --keys 1000 --concurrency 8 --value 1024 --pings 1000
 */
import { networkInterfaces } from 'node:os'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { WebSocket } from 'ws'
import { generateIdentity } from '../src/identity.js'
import { createWebRtcTransport } from '../src/transport/webrtc.js'
import { wrtc } from '../src/transport/wrtc.js'
import { CONTEXT_HEADER, TestCluster, fetchWithTimeout } from '../test/cluster/procs.js'

const { values: args } = parseArgs({
  options: {
    ops: { type: 'string', default: '5000' },
    keys: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '8' },
    value: { type: 'string', default: '1024' },
    pings: { type: 'string', default: '1000' },
    seed: { type: 'string', default: '42' },
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
console.log(`# ${KEYS} keys preloaded, ${VALUE_BYTES}-byte values, ${OPS} ops per workload, concurrency ${CONCURRENCY}, zipfian theta 0.99 (scrambled)`)

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

async function doGet(base: string, key: string): Promise<{ ok: boolean; siblings: boolean }> {
  const res = await fetchWithTimeout(`${base}/kv/${key}`, {}, 10_000)
  await res.arrayBuffer()
  const ctx = res.headers.get(CONTEXT_HEADER)
  if (ctx) contexts.set(key, ctx)
  return { ok: res.status === 200 || res.status === 300, siblings: res.status === 300 }
}

async function doPut(base: string, key: string, v: Uint8Array<ArrayBuffer>): Promise<boolean> {
  const ctx = contexts.get(key)
  const res = await fetchWithTimeout(`${base}/kv/${key}`, { method: 'PUT', body: v, headers: ctx ? { [CONTEXT_HEADER]: ctx } : {} }, 10_000)
  await res.arrayBuffer()
  const out = res.headers.get(CONTEXT_HEADER)
  if (out) contexts.set(key, out)
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
  console.log(`\n${name}: ${OPS} ops in ${wall.toFixed(2)} s = ${(OPS / wall).toFixed(0)} ops/s; errors ${errors}; reads with siblings ${siblings}`)
  console.log(`  ${summary('get', get)}`)
  console.log(`  ${summary('put', put)}`)
  results.set(name, { getP50: quantile([...get].sort((a, b) => a - b), 0.5) })
}

const results = new Map<string, { getP50: number }>()

// ---- the floors ----

/** Median round trip of `pings` 100-byte messages between two transports in this process. */
async function dataChannelRtt(signalUrl: string): Promise<number> {
  const room = `bench-rtt-${process.pid}`
  const mk = () => createWebRtcTransport({ signalUrl, room, identity: generateIdentity(), wrtc, WebSocket, loopbackOnly: true })
  const a = mk()
  const b = mk()
  b.onMessage((from, msg) => b.send(from, msg))
  let waiting: (() => void) | undefined
  a.onMessage(() => waiting?.())
  await Promise.all([a.start(), b.start()])
  const ping = new Uint8Array(100)
  const once = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('ping timed out')), 10_000)
      waiting = () => {
        clearTimeout(t)
        waiting = undefined
        resolve()
      }
      a.send(b.id, ping)
    })
  try {
    for (let i = 0; i < 50; i++) await once() // connect and warm up
    const rtts: number[] = []
    for (let i = 0; i < PINGS; i++) {
      const s = performance.now()
      await once()
      rtts.push(performance.now() - s)
    }
    return median(rtts)
  } finally {
    await Promise.all([a.stop(), b.stop()])
  }
}

/** Median GET /health round trip from this process (the HTTP floor under every operation). */
async function httpFloor(base: string): Promise<number> {
  const lat: number[] = []
  for (let i = 0; i < 1100; i++) {
    const s = performance.now()
    const res = await fetchWithTimeout(`${base}/health`, {}, 10_000)
    await res.arrayBuffer()
    if (i >= 100) lat.push(performance.now() - s)
  }
  return median(lat)
}

// ---- main ----

async function main(): Promise<void> {
  const t0 = performance.now()
  const c = await TestCluster.start({ peers: PEERS, n: 3, r: 2, w: 2, nodeArgs: ['--quiet'] })
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

    await runWorkload(c, 'workload A (50% get / 50% put)', 0.5, Number(args.seed) + 1)
    await runWorkload(c, 'workload B (95% get / 5% put)', 0.95, Number(args.seed) + 2)

    // The same gets with nothing else in flight: per-operation cost without queueing.
    const zipf = new ScrambledZipfian(KEYS, prng(Number(args.seed) + 3))
    const alone: number[] = []
    for (let i = 0; i < 500; i++) {
      const s = performance.now()
      await doGet(c.peers[i % PEERS]!.http, keyOf(zipf.next()))
      alone.push(performance.now() - s)
    }
    console.log(`\nunloaded (concurrency 1, 500 zipfian gets):\n  ${summary('get', alone)}`)
    results.set('unloaded', { getP50: median(alone) })

    const rtt = await dataChannelRtt(c.signal.url)
    const floor = await httpFloor(c.peers[0]!.http)
    console.log(`\nfloors: data-channel RTT (100 B, median of ${PINGS}) ${ms(rtt)}; HTTP GET /health (median of 1000) ${ms(floor)}`)
    for (const [name, r] of results) {
      const w = name.split(' (')[0]
      console.log(`${w}: get p50 / RTT = ${(r.getP50 / rtt).toFixed(1)}x; get p50 / (HTTP floor + RTT) = ${(r.getP50 / (floor + rtt)).toFixed(2)}x`)
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
