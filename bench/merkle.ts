/**
 * Merkle anti-entropy cost (Dynamo 4.7): messages and bytes to find d differences between two
 * replicas of n keys, against the naive exchange of every (key, digest) pair. Prints figures only.
 *
 *   npx tsx bench/merkle.ts
 */
import { performance } from 'node:perf_hooks'
import { MerkleTree, listingBytes, reconcile } from '../src/core/merkle.js'
import { randomBytes, seededRandom } from '../src/sim/random.js'


const KEY_BYTES = 16
const NS = [10_000, 100_000]
const DS = [0, 1, 10, 100, 1000]
const TRIALS = 3

const kb = (b: number): string => (b < 10_000 ? `${b.toFixed(0)} B` : `${(b / 1024).toFixed(1)} KiB`)

function main(): void {
  const rows: Array<Record<string, string | number>> = []
  for (const n of NS) {
    const r = seededRandom(n)
    const bytes = (len: number): Uint8Array => randomBytes(r, len)
    const keys = Array.from({ length: n }, () => bytes(KEY_BYTES))
    const t0 = performance.now()
    const a = new MerkleTree()
    for (const k of keys) a.set(k, bytes(16))
    const perSet = ((performance.now() - t0) * 1000) / n
    const naive = listingBytes([{ leaf: 0, entries: [...a.entries()] }])
    console.log(`n = ${n}: ${perSet.toFixed(1)} us per insert (two SHA-256 calls each)`)

    for (const d of DS) {
      let messages = 0
      let sent = 0
      let ms = 0
      for (let t = 0; t < TRIALS; t++) {
        // a third each: digest changed on b, key missing on b, key only on b
        const b = a.clone()
        const picked = new Set<number>()
        while (picked.size < d) picked.add(Math.floor(r() * n))
        for (const [i, j] of [...picked].entries()) {
          const k = keys[j]!
          if (i % 3 === 0) b.set(k, bytes(16))
          else if (i % 3 === 1) b.delete(k)
          else b.set(bytes(KEY_BYTES), bytes(16))
        }
        const t1 = performance.now()
        const res = reconcile(a, b)
        ms += performance.now() - t1
        messages += res.messages
        sent += res.bytes
      }
      rows.push({
        n, d, messages: messages / TRIALS, bytes: kb(sent / TRIALS), 'bytes/diff': d ? Math.round(sent / TRIALS / d) : '-',
        'naive bytes': kb(naive), 'vs naive': `${((100 * sent) / TRIALS / naive).toFixed(3)} %`, 'ms (in-process)': (ms / TRIALS).toFixed(1),
      })
    }
  }
  console.table(rows)

  // Filling a fresh replica: the tree walk alone (without listUnderEmpty) against listing at once.
  const full = new MerkleTree()
  const r = seededRandom(1)
  for (let i = 0; i < 10_000; i++) full.set(randomBytes(r, KEY_BYTES), new Uint8Array(16).fill(i))
  const fill = [{}, { listUnderEmpty: true }].map((options) => {
    const res = reconcile(new MerkleTree(), full, options)
    return { 'fresh replica, n = 10,000': JSON.stringify(options), messages: res.messages, bytes: kb(res.bytes), 'keys found': res.aNeeds.length }
  })
  console.table(fill)
}

main()
