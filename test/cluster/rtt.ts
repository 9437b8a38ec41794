/** The raw round trip of a transport, for bench/cluster.ts and its member process. */
import { performance } from 'node:perf_hooks'
import type { NodeId, Transport } from '../../src/types.js'

/**
 * Median of `count` 100-byte round trips from `t` (started) to `to`, a transport that echoes every
 * message back; 50 more first connect and warm up. Rejects if one takes longer than 10 s.
 */
export async function medianRtt(t: Transport, to: NodeId, count: number): Promise<number> {
  let waiting: (() => void) | undefined
  t.onMessage(() => waiting?.())
  const msg = new Uint8Array(100)
  const once = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('ping timed out')), 10_000)
      waiting = () => {
        clearTimeout(timer)
        waiting = undefined
        resolve()
      }
      t.send(to, msg)
    })
  for (let i = 0; i < 50; i++) await once()
  const rtts: number[] = []
  for (let i = 0; i < count; i++) {
    const s = performance.now()
    await once()
    rtts.push(performance.now() - s)
  }
  rtts.sort((a, b) => a - b)
  return rtts[Math.floor(rtts.length / 2)]!
}
