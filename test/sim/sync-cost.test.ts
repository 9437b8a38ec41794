/**
 * Catch-up cost (bench/sync-run.ts): two replicas, N = 2, that each overwrote d keys while apart
 * exchange bytes that grow with d, not with the number of keys held, and never more than sending
 * everything. Bytes are deterministic in the simulation; time is never asserted.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { populate, syncCost, type Snapshot } from '../../bench/sync-run.js'

const N = 10_000
/** Measured 1,920 (gossip aside): the goal is 1 KB; see docs/sync.md for what stands in the way. */
const SYNC_D1_BOUND = 2048
/** Measured 3.6x at n = 10,000 (goal 2x). */
const D100_FLOOR_FACTOR = 4
let big: Snapshot
let small: Snapshot
/** Bytes of every record as JSON (key, base64 value, clock): about 203 per record. */
const fullTransfer = (n: number): number => n * 200

describe('catch-up cost', () => {
  beforeAll(async () => {
    small = await populate(2_000)
    big = await populate(N)
  }, 300_000)

  it('a quiet pair trades one summary per exchange; d = 1 never sends every partition\'s root', async () => {
    const quiet = await syncCost({ n: N, d: 0 }, big)
    console.log('d = 0:', quiet.byType)
    expect(quiet.byType['ae-roots'] ?? 0).toBe(0)
    expect(quiet.byType['ae-step'] ?? 0).toBe(0)
    expect(quiet.syncBytes).toBe(quiet.byType['ae-sum'] ?? 0) // besides gossip, only the 16-byte summaries
    expect(quiet.syncBytes).toBeLessThan(500)
    const one = await syncCost({ n: N, d: 1 }, big)
    console.log('d = 1:', one.syncBytes, 'bytes besides gossip', one.byType)
    expect(one.syncBytes).toBeLessThan(SYNC_D1_BOUND)
    expect(one.byType['ae-roots'] ?? 0).toBeLessThan(1024) // never the roots of every partition
  }, 120_000)

  it('bytes grow with d, not with n, and stay under a full transfer', async () => {
    const atSmall = await syncCost({ n: 2_000, d: 10 }, small)
    const atBig = await syncCost({ n: N, d: 10 }, big)
    const many = await syncCost({ n: N, d: 100 }, big)
    console.log('d = 10 at n = 2,000 / 10,000:', atSmall.syncBytes, atBig.syncBytes, '; d = 100:', many.syncBytes)
    expect(atBig.syncBytes).toBeLessThan(1.5 * atSmall.syncBytes) // 5x the keys, not 5x the bytes
    expect(many.syncBytes).toBeGreaterThan(4 * atBig.syncBytes)
    expect(many.syncBytes).toBeLessThan(many.floor * D100_FLOOR_FACTOR)
    expect(many.bytes).toBeLessThan(fullTransfer(N) / 5)
  }, 300_000)

  it('a wiped replica is filled with close to the floor, under a full transfer', async () => {
    const wiped = await syncCost({ n: 2_000, initial: true }, small)
    console.log('initial, n = 2,000:', wiped.bytes, 'floor', wiped.floor)
    expect(wiped.bytes).toBeLessThan(1.3 * wiped.floor)
    expect(wiped.bytes).toBeLessThan(fullTransfer(2_000))
  }, 120_000)
})
