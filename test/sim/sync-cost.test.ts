/**
 * Catch-up cost (bench/sync-run.ts): two replicas, N = 2, that each overwrote d keys while apart
 * exchange bytes that grow with d, not with the number of keys held, and never more than sending
 * everything. Bytes are deterministic in the simulation; time is never asserted.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { idleTraffic, populate, syncCost, type Snapshot } from '../../bench/sync-run.js'

const N = 10_000
/** The goals: d = 1 costs at most 1 KB, gossip in the window included; d >= 10 at most twice the floor. */
const D1_BOUND = 1024
const FLOOR_FACTOR = 2
let big: Snapshot
let small: Snapshot
/** Bytes of every record as JSON (key, base64 value, clock): about 203 per record. */
const fullTransfer = (n: number): number => n * 200

describe('catch-up cost', () => {
  beforeAll(async () => {
    small = await populate(2_000)
    big = await populate(N)
  }, 300_000)

  it('a quiet cluster trades summaries only; d = 1 costs under 1 KB, decoded from cells', async () => {
    // A quiet cluster sends only gossip digests and one 16-byte anti-entropy summary per exchange.
    const idle = await idleTraffic(5, 2_000, 30_000)
    console.log('quiet, 5 nodes, 2,000 keys:', idle.perNode, 'bytes/s per node', idle.byType)
    expect(Object.keys(idle.byType).sort()).toEqual(['ae-sum', 'g-sum'])
    expect(idle.perNode).toBeLessThan(150)
    const one = await syncCost({ n: N, d: 1 }, big)
    console.log('d = 1:', one.bytes, 'bytes', one.byType)
    expect(one.converged).toBe(true)
    expect(one.bytes).toBeLessThanOrEqual(D1_BOUND)
    expect(one.byType['ae-roots'] ?? 0).toBe(0) // decoded from cells, no tree walk
    expect(one.byType['ae-step'] ?? 0).toBe(0)
  }, 120_000)

  it('bytes grow with d, not with n, and stay under a full transfer', async () => {
    const atSmall = await syncCost({ n: 2_000, d: 10 }, small)
    const atBig = await syncCost({ n: N, d: 10 }, big)
    const many = await syncCost({ n: N, d: 100 }, big)
    console.log('d = 10 at n = 2,000 / 10,000:', atSmall.bytes, atBig.bytes, '; d = 100:', many.bytes)
    for (const r of [atSmall, atBig, many]) expect(r.converged).toBe(true)
    expect(atBig.bytes).toBeLessThan(1.2 * atSmall.bytes) // 5x the keys, not 5x the bytes
    expect(many.bytes).toBeGreaterThan(5 * atBig.bytes)
    for (const r of [atSmall, atBig, many]) expect(r.bytes).toBeLessThanOrEqual(FLOOR_FACTOR * r.floor)
    expect(many.bytes).toBeLessThan(fullTransfer(N) / 5)
  }, 300_000)

  it('a wiped replica is filled with close to the floor, under a full transfer', async () => {
    const wiped = await syncCost({ n: 2_000, initial: true }, small)
    console.log('initial, n = 2,000:', wiped.bytes, 'floor', wiped.floor)
    expect(wiped.converged).toBe(true)
    expect(wiped.bytes).toBeLessThan(1.3 * wiped.floor)
    expect(wiped.bytes).toBeLessThan(fullTransfer(2_000))
  }, 120_000)
})
