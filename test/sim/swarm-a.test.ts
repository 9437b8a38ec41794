/**
 * The swarm, half a: many seeds, each with its own random fault mix and about 100 operations,
 * checked for lost acknowledged writes, diverged replicas and undelivered hints. SWARM_SEEDS sets
 * how many seeds run in all (default 2,000, split over two files so they run in parallel);
 * SWARM_SEED=<n> replays one seed.
 */
import { expect, it } from 'vitest'
import { runSwarmSeed } from './swarm.js'

const total = Number(process.env.SWARM_SEEDS ?? 2000)
const only = process.env.SWARM_SEED
const first: boolean = true

it('swarm half a: no lost acknowledged write, replicas converge, hints drain', async () => {
  const seeds = only !== undefined ? (first ? [Number(only)] : []) : Array.from({ length: Math.ceil(total / 2) }, (_, i) => 2 * i + 0).filter((s) => s < total)
  const started = Date.now()
  const failures: string[] = []
  for (const seed of seeds) {
    const r = await runSwarmSeed(seed)
    if (r.problems.length) {
      failures.push(`seed ${seed} failed (replay: SWARM_SEED=${seed} npx vitest run test/sim/swarm-a.test.ts): ${r.problems.join('; ')}; faults: ${r.faults.join(', ')}`)
      console.error(failures.at(-1))
    }
  }
  const secs = (Date.now() - started) / 1000
  if (seeds.length) console.log(`swarm a: ${seeds.length} seeds in ${secs.toFixed(1)} s (${(seeds.length / secs).toFixed(1)} seeds/s), ${failures.length} failed`)
  expect(failures).toEqual([])
}, 600_000)
