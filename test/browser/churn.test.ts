/**
 * Tabs come and go: while a writer works through the Node peers' HTTP APIs, replica tabs (weight 1)
 * join the ring and close without a word every few seconds. Tab closes are normal, not failures:
 * every write is acknowledged, every read sees the latest value, and the partitions of closed tabs
 * are covered by hints on the Node peers.
 */
import { describe, expect, it } from 'vitest'
import { httpGet, httpPut } from '../../src/http/client.js'
import { stats } from '../cluster/procs.js'
import { openPeer, worldPerFile } from './harness.js'

const world = worldPerFile()

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const text = (v: Uint8Array | undefined): string => (v ? new TextDecoder().decode(v) : '')

describe('browser peers coming and going', () => {
  it('never fail a write or a read on the Node peers', async () => {
    let stop = false
    const failures: string[] = []
    let writes = 0
    const latest = new Map<string, string>()
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        const key = `churn-${i % 40}`
        const value = `v${i}`
        const peer = world().cluster.peers[i % 3]!.http
        // A write that meets a tab in the instant it vanishes still succeeds: the coordinator keeps
        // looking for fallbacks until its deadline.
        try {
          const read = await httpGet(peer, key)
          await httpPut(peer, key, enc(value), { context: read.context })
          latest.set(key, value)
          writes++
        } catch (e) {
          failures.push(`${key}: ${String(e)}`)
        }
        await new Promise((r) => setTimeout(r, 20))
      }
    })()
    let tabs = 0
    let hintsSeen = 0
    for (let round = 0; round < 6; round++) {
      const ctx = await world().browser.newContext()
      await openPeer(world(), ctx, { weight: 1 })
      tabs++
      await new Promise((r) => setTimeout(r, 2500))
      await ctx.close() // the tab is gone: no leave, no goodbye
      await new Promise((r) => setTimeout(r, 1500))
      const held = await Promise.all(world().cluster.peers.map(async (p) => (await stats(p.http)).inspect.hints))
      hintsSeen = Math.max(hintsSeen, held.reduce((n, h) => n + h, 0))
    }
    stop = true
    await writer
    expect(tabs).toBe(6)
    expect(failures).toEqual([])
    expect(writes).toBeGreaterThan(100)
    expect(hintsSeen).toBeGreaterThan(0)
    for (const [key, value] of latest) {
      const r = await httpGet(world().cluster.peers[(key.length + 1) % 3]!.http, key)
      expect(r.values.map(text)).toEqual([value])
    }
  })
})
