/**
 * Re-homing hints (src/node/handoff.ts `rehome`): hints held for a member that has left for good go
 * to the current owners of their partitions. Here the member is cut off (crashed) while keys are
 * written, so its share of them exists only as hints on fallbacks; then its long absence marks it
 * left. Anti-entropy is off and the checks read each owner's own store: only re-homing can put the
 * hinted keys where they now belong.
 */
import { describe, expect, it } from 'vitest'
import { undeliveredHints } from '../../src/sim/index.js'
import { cluster, foreignRecords, missingFromOwners, ownersOf, texts } from './cluster.js'

const value = (k: string): string[] => [`v-${k}`]

describe('re-homing hints of a member that left', () => {
  for (const n of [1, 2]) {
    it(`N = ${n}, W = 1: hints for an expired member reach every new owner of their partitions`, async () => {
      const c = await cluster(4, { seed: 80 + n, n, r: 1, w: 1, antiEntropyMs: 1e9, removeAfterMs: 30_000 })
      c.net.crash('d')
      const keys = Array.from({ length: 300 }, (_, i) => `rh-${i}`)
      const writers = ['a', 'b', 'c']
      for (const [i, k] of keys.entries()) await c.node(writers[i % 3]!).put(k, `v-${k}`)
      const hinted = keys.filter((k) => ownersOf(c.node('a'), k).includes('d'))
      expect(hinted.length).toBeGreaterThan(30)
      expect(c.nodes().reduce((s, x) => s + x.inspect().hints, 0)).toBeGreaterThan(0)
      await c.net.advance(60_000)
      await c.net.settle()
      for (const x of c.nodes()) expect(x.cluster().members.find((m) => m.id === 'd')?.status).toBe('left')
      expect(undeliveredHints(c.nodes())).toEqual([])
      expect(await missingFromOwners(c, hinted, value)).toEqual([])
      expect(foreignRecords(c)).toEqual([])
      for (const k of hinted.slice(0, 30)) expect(texts((await c.node('b').get(k)).values)).toEqual(value(k))
      await c.stop()
    })
  }
})
