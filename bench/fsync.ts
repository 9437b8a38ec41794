/**
 * What fsync costs (`levelStorage(dir, { sync: true })`, `dynamesh node --sync`): durable puts of
 * 1 KiB records awaited one by one (what a replica does for an acknowledged write with nothing else
 * in flight) and 64 at a time (writes of concurrent calls), without and with a disk flush per batch,
 * on the same disk in the same run. Prints figures only.
 *
 *   npx tsx bench/fsync.ts
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { levelStorage } from '../src/storage/level.js'

const N = Number(process.env.BENCH_PUTS ?? 2000)
const value = new Uint8Array(1024).fill(3)
const key = (i: number): Uint8Array => new TextEncoder().encode(`r/${String(i).padStart(8, '0')}`)

async function run(sync: boolean, concurrency: number): Promise<{ perSec: number; p50: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'dynamesh-fsync-'))
  const s = await levelStorage(dir, { sync })
  const lat: number[] = []
  const t0 = performance.now()
  for (let i = 0; i < N; i += concurrency) {
    await Promise.all(Array.from({ length: Math.min(concurrency, N - i) }, async (_, j) => {
      const t = performance.now()
      await s.batch([{ type: 'put', key: key(i + j), value }])
      lat.push(performance.now() - t)
    }))
  }
  const ms = performance.now() - t0
  await s.close()
  rmSync(dir, { recursive: true, force: true })
  lat.sort((a, b) => a - b)
  return { perSec: N / (ms / 1000), p50: lat[Math.floor(lat.length / 2)]! }
}

for (const concurrency of [1, 64]) {
  const plain = await run(false, concurrency)
  const synced = await run(true, concurrency)
  console.log(`${N} puts of 1 KiB, ${concurrency} in flight: no fsync ${Math.round(plain.perSec).toLocaleString('en')}/s (p50 ${plain.p50.toFixed(3)} ms); ` +
    `fsync ${Math.round(synced.perSec).toLocaleString('en')}/s (p50 ${synced.p50.toFixed(3)} ms): ${(plain.perSec / synced.perSec).toFixed(1)}x slower`)
}
