/**
 * The replay contract of the demo page's simulated mode, in Node (no browser): the page's cluster
 * driver records every operation it runs, and running that script again from the same seed gives
 * the same event log and the same fingerprint; another seed gives another run.
 */
import { describe, expect, it, vi } from 'vitest'
import { DEFAULT_SETTINGS, SimCluster, type SimOp } from '../../web/src/sim/cluster.js'

// The page imports the library by name; here, as in the page's build, the names mean the sources.
vi.mock('dynamesh', () => import('../../src/index.js'))
vi.mock('dynamesh/sim', () => import('../../src/sim/index.js'))

/** A visitor's session: crash, writes, restart, wipe, partition, siblings, in small steps. */
async function session(seed: number): Promise<SimCluster> {
  const c = await SimCluster.create({ ...DEFAULT_SETTINGS, seed })
  const steps = async (n: number, ms = 50): Promise<void> => {
    for (let i = 0; i < n; i++) await c.run({ op: 'advance', ms })
  }
  await steps(60)
  await c.run({ op: 'crash', id: 'n3' })
  await c.run({ op: 'writes', via: 'n1', count: 20 })
  await steps(10, 100)
  await c.run({ op: 'restart', id: 'n3' })
  await steps(40, 250)
  await c.run({ op: 'wipe', id: 'n5' })
  await c.run({ op: 'isolate', id: 'n7' })
  await c.run({ op: 'put', via: 'n7', key: 'alone', value: 'x', w: 1 })
  await c.run({ op: 'heal' })
  await c.run({ op: 'siblings', key: 'cart', a: 'n2', b: 'n6' })
  await c.run({ op: 'get', via: 'n4', key: 'cart' })
  await c.run({ op: 'advance', ms: 20_000 })
  return c
}

describe('demo page replay', () => {
  it('a recorded script replays to the same event log and fingerprint', async () => {
    const a = await session(9)
    const script: SimOp[] = JSON.parse(JSON.stringify(a.script))
    expect(script.length).toBeLessThan(40) // equal steps are kept as one entry with a count
    expect(a.counters.hintsStored).toBeGreaterThan(0)
    expect(a.counters.hintsDelivered).toBeGreaterThan(0)
    expect(a.counters.merkleKeys).toBeGreaterThan(0)
    expect(a.log.some((e) => e.text === 'get "cart": "from n2" | "from n6"' || e.text === 'get "cart": "from n6" | "from n2"')).toBe(true)

    const b = await SimCluster.create({ ...DEFAULT_SETTINGS, seed: 9 })
    await b.replay(script)
    expect(b.log).toEqual(a.log)
    expect(b.fingerprint.hex()).toBe(a.fingerprint.hex())
    expect(b.script).toEqual(a.script)

    const other = await session(10)
    expect(other.fingerprint.hex()).not.toBe(a.fingerprint.hex())
    for (const c of [a, b, other]) await c.stop()
  }, 120_000)
})
