/**
 * Catch-up cost through the public API: two nodes on dynamesh/sim (N = 2, R = W = 1, 11-byte keys,
 * 100-byte values). "d": while partitioned each side overwrites d other keys with a context, then
 * the network heals and settles until quiet. "initial": the second node's disk is wiped and it is
 * filled from the first. Bytes are everything the network carried from heal to quiet (gossip too).
 *
 * floor: key + value + a 16-byte version digest per changed record. full transfer: every record of
 * one side as JSON (key, base64 value, clock), parsed and written to memory storage in batches,
 * measured in the same run (fullTransfer below).
 *
 *   npx tsx bench/sync.ts            # n = 10,000 and 100,000
 *   npx tsx bench/sync.ts 10000      # one n
 *   SYNC_DS=1,100 SYNC_IDLE_KEYS=10000 npx tsx bench/sync.ts 10000   # some d; the idle cluster's keys
 */
import { performance } from 'node:perf_hooks'
import { memoryStorage } from '../src/index.js'
import { VALUE_BYTES, idleTraffic, keyOf, populate, syncCost, type SyncCase } from './sync-run.js'

const NS = process.argv[2] ? process.argv.slice(2).map(Number) : [10_000, 100_000]
const DS: Array<number | "initial"> = process.env.SYNC_DS ? process.env.SYNC_DS.split(",").map((d) => (d === "initial" ? "initial" : Number(d))) : [1, 10, 100, 1000, "initial"]

const kb = (b: number): string => (b < 10_000 ? `${b.toFixed(0)} B` : b < 10_000_000 ? `${(b / 1000).toFixed(1)} KB` : `${(b / 1e6).toFixed(2)} MB`)

/**
 * A plain full transfer of `n` records: one side encodes every record as JSON in messages of 1,000,
 * the other parses them and writes them to memory storage in one batch per message. In-process (no
 * network between them), so it is the cost of the bytes and the writes alone.
 */
async function fullTransfer(n: number): Promise<{ bytes: number; ms: number }> {
  const storage = memoryStorage()
  const enc = new TextEncoder()
  const dec = new TextDecoder()
  const value = Buffer.alloc(VALUE_BYTES, 'v').toString('base64')
  let bytes = 0
  const t0 = performance.now()
  for (let i = 0; i < n; i += 1000) {
    const recs = []
    for (let j = i; j < Math.min(n, i + 1000); j++) recs.push({ k: keyOf(j), v: value, vv: { 'a.1': { n: 1, ts: 1.7e12 + j } } })
    const msg = enc.encode(JSON.stringify(recs))
    bytes += msg.length
    const got = JSON.parse(dec.decode(msg)) as Array<{ k: string; v: string }>
    await storage.batch(got.map((r) => ({ type: 'put' as const, key: enc.encode(r.k), value: Buffer.from(r.v, 'base64') })))
  }
  return { bytes, ms: performance.now() - t0 }
}

async function main(): Promise<void> {
  const rows: Array<Record<string, string | number>> = []
  for (const n of NS) {
    const t0 = performance.now()
    const snap = await populate(n)
    console.log(`n = ${n}: written and replicated in ${(performance.now() - t0).toFixed(0)} ms`)
    const full = await fullTransfer(n)
    console.log(`n = ${n}: full JSON transfer ${kb(full.bytes)} in ${full.ms.toFixed(0)} ms`)
    for (const d of DS) {
      const c: SyncCase = d === 'initial' ? { n, initial: true } : { n, d }
      const r = await syncCost(c, snap)
      rows.push({
        n,
        d: String(d),
        bytes: kb(r.bytes),
        'round trips': r.roundTrips,
        'CPU ms': r.cpuMs.toFixed(0),
        'wall ms': r.wallMs.toFixed(0),
        floor: kb(r.floor),
        'x floor': (r.bytes / r.floor).toFixed(2),
        'full transfer': kb(full.bytes),
        'x full': (r.bytes / full.bytes).toFixed(3),
        'speed vs full': d === 'initial' ? `${((100 * full.ms) / r.wallMs).toFixed(0)} %` : '',
        top: r.top,
      })
      console.log(JSON.stringify(rows[rows.length - 1]))
    }
  }
  console.table(rows)
  const idleKeys = Number(process.env.SYNC_IDLE_KEYS ?? 100_000)
  const idle = await idleTraffic(5, idleKeys)
  console.log(`quiet cluster, 5 nodes (N = 3), ${idleKeys} keys: ${idle.perNode} bytes/s per node`, idle.byType)
}

await main()
