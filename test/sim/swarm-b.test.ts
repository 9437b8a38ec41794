/**
 * The swarm, half b: many seeds, each with its own N (1, 2 or 3), random fault mix (joins and
 * leaves among them) and about 100 operations, checked for lost acknowledged writes, resurrected
 * and phantom values, diverged replicas and undelivered hints (swarm.ts). SWARM_SEEDS sets how
 * many seeds run in all (default 2,000); SWARM_SEED=<n> replays one seed.
 */
import { expect, it } from 'vitest'
import { swarmHalf, swarmTimeoutMs } from './swarm.js'

it('swarm half b: no lost acknowledged write, nothing superseded or unwritten comes back, replicas converge, hints drain', async () => {
  expect(await swarmHalf(1, Number(process.env.SWARM_SEEDS ?? 2000), process.env.SWARM_SEED)).toEqual([])
}, swarmTimeoutMs(Number(process.env.SWARM_SEEDS ?? 2000)))
