import { describe, expect, it } from 'vitest'
import { measureScale } from '../../bench/scale.js'

describe('bench/scale.ts', () => {
  it('measures a 10-node cluster to the end and reports sane figures', async () => {
    const r = await measureScale(10, { seed: 3 })
    expect(r.status).toBe('ok')
    expect(r.converged).toBe(true)
    expect(r.simMs.buildAndConverge).toBeGreaterThan(0)
    expect(r.simMs.buildAndConverge).toBeGreaterThanOrEqual(r.simMs.build!)
    // Every node sent something while building; the average lies within [0, max].
    expect(r.buildSent!.avg).toBeGreaterThan(0)
    expect(r.buildSent!.max).toBeGreaterThanOrEqual(r.buildSent!.avg)
    expect(Object.values(r.buildSent!.avgByType).reduce((a, b) => a + b, 0)).toBeCloseTo(r.buildSent!.avg, 6)
    expect(r.lastJoiner!.recvUntilConverged).toBeGreaterThan(0)
    expect(r.lastJoiner!.recvUntilConverged).toBeGreaterThanOrEqual(r.lastJoiner!.recvDuringJoin)
    // Gossip runs while quiet, and the per-type figures add up to the average.
    expect(r.quiet!.seconds).toBe(10)
    expect(r.quiet!.avg).toBeGreaterThan(0)
    expect(r.quiet!.max).toBeGreaterThanOrEqual(r.quiet!.avg)
    expect(Object.values(r.quiet!.avgByType).reduce((a, b) => a + b, 0)).toBeCloseTo(r.quiet!.avg, 6)
    // Both changes reached every view within the bound, and the witness did hear the leave.
    expect(r.leavePeriods).toBeGreaterThanOrEqual(1)
    expect(r.rumourWitnessKnew).toBe(true)
    expect(r.rumourPeriods).toBeGreaterThanOrEqual(1)
    expect(r.rumourPeriods).toBeLessThanOrEqual(30)
    expect(r.twoLog2n).toBeCloseTo(2 * Math.log2(10))
    // Ten nodes never reach the cap of 32: a node can hold at most the nine others.
    expect(r.connections!.cap).toBe(32)
    expect(r.connections!.peakMax).toBeGreaterThanOrEqual(1)
    expect(r.connections!.peakMax).toBeLessThanOrEqual(9)
    expect(r.connections!.distinctMax).toBeLessThanOrEqual(9)
  })

  it('nodes send the same bytes on the simulation\'s shared storage as on the plain memory storage', async () => {
    const shared = await measureScale(12, { seed: 5 })
    const plain = await measureScale(12, { seed: 5, storage: 'memory' })
    expect(shared.status).toBe('ok')
    expect(shared.buildSent).toEqual(plain.buildSent)
    expect(shared.quiet).toEqual(plain.quiet)
    expect(shared.simMs).toEqual(plain.simMs)
    expect([shared.leavePeriods, shared.rumourPeriods]).toEqual([plain.leavePeriods, plain.rumourPeriods])
  })

  it('stops by itself when the budget runs out', async () => {
    const r = await measureScale(10, { budgetMs: 0 })
    expect(r.status).toBe('over budget in build')
    expect(r.converged).toBe(false)
  })
})
