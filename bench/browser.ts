/**
 * Browser figures, measured in headless Chromium (Debian's, DESIGN.md section 6):
 *  - IndexedDB: N puts of 100 bytes through idbStorage (awaited one by one, and issued at once so
 *    group commit batches them) against raw `idb` in the same page (one transaction per put, and
 *    all in one transaction);
 *  - a raw data channel between the page and a Node process (the standard API on both ends), 100 B
 *    round trip;
 *  - get and put latency of a browser peer (a weight-0 tab coordinating its own calls) in a cluster
 *    of three Node peers at (3,2,2), against that round trip.
 * Prints figures only. Loopback only:
 *
 *   unshare -n sh -c 'ip link set lo up && npx tsx bench/browser.ts'   (as root; or without unshare)
 */
import { DataPeer } from '../src/transport/peer.js'
import { filterSignal, type PeerSignal } from '../src/transport/loopback.js'
import { wrtc } from '../src/transport/wrtc.js'
import { startWorld } from '../test/browser/harness.js'

const N = Number(process.env.BENCH_PUTS ?? 2000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 500)

type Bench = Record<string, (...a: unknown[]) => Promise<unknown>>
const w = await startWorld({ open: true })
try {
  const ctx = await w.browser.newContext()
  const page = await ctx.newPage()
  await page.goto(`${w.viteUrl}/test/browser/fixtures/bench.html`)
  await page.waitForFunction(() => 'bench' in window)
  const call = <T>(name: string, ...args: unknown[]): Promise<T> =>
    page.evaluate(([n, a]) => ((window as unknown as { bench: Bench }).bench[n as string]!)(...(a as unknown[])), [name, args] as const) as Promise<T>

  const idb = await call<Record<string, number>>('idb', N)
  const rate = (ms: number): string => `${Math.round(N / (ms / 1000)).toLocaleString('en')} puts/s`
  console.log(`IndexedDB, ${N} puts of 100 B (same page, relaxed durability):`)
  console.log(`  raw idb, one transaction per put      ${rate(idb.rawPerTx!)}`)
  console.log(`  raw idb, all in one transaction        ${rate(idb.rawBatched!)}`)
  console.log(`  idbStorage, each awaited               ${rate(idb.storageSequential!)}  (${(idb.rawPerTx! / idb.storageSequential!).toFixed(2)}x raw per-put)`)
  console.log(`  idbStorage, issued at once (group commit) ${rate(idb.storageConcurrent!)}  (${(idb.rawPerTx! / idb.storageConcurrent!).toFixed(1)}x raw per-put, ${(idb.rawBatched! / idb.storageConcurrent!).toFixed(2)}x raw batched)`)

  // Raw data channel: Node initiates, the page answers; the Node side echoes.
  const node: DataPeer = new DataPeer({
    initiator: true, config: { iceServers: [], bindAddress: '127.0.0.1' } as RTCConfiguration, RTCPeerConnection: wrtc.RTCPeerConnection,
    onSignal: (s) => {
      const f = filterSignal(s, true)
      if (f) void call('rawAnswer', f)
    },
    onOpen: () => {},
    onData: (d) => node.send(d),
    onClose: () => {},
  })
  const relay = setInterval(() => {
    void call<PeerSignal[]>('signals').then((ss) => ss.forEach((s) => node.signal(s))).catch(() => {})
  }, 20)
  const rtt = await call<{ median: number; p99: number }>('rawRtt', ROUNDS * 2)
  clearInterval(relay)
  node.destroy()
  console.log(`raw browser-to-Node data channel, 100 B round trip: median ${rtt.median.toFixed(3)} ms, p99 ${rtt.p99.toFixed(3)} ms`)

  await call('join', w.cluster.signalUrl)
  await new Promise((r) => setTimeout(r, 3000))
  const lat = await call<{ get: { median: number; p99: number }; put: { median: number; p99: number } }>('gets', 100, ROUNDS)
  console.log(`browser peer as coordinator, (3,2,2) over three Node peers, ${ROUNDS} calls:`)
  console.log(`  get p50 ${lat.get.median.toFixed(2)} ms (${(lat.get.median / rtt.median).toFixed(1)}x the raw round trip), p99 ${lat.get.p99.toFixed(2)} ms`)
  console.log(`  put p50 ${lat.put.median.toFixed(2)} ms (${(lat.put.median / rtt.median).toFixed(1)}x the raw round trip), p99 ${lat.put.p99.toFixed(2)} ms`)
  await ctx.close()
} finally {
  await w.stop()
}
