/**
 * Swarm seeds that once failed, replayed on every run (the swarm's default seeds do not reach them):
 * 5361, a member leaving while cut off stranded its hints; 8567, 11930 and 19874 (N = 1, W = 1), a
 * member that had left but was still making sure somebody heard it acknowledged writes that then
 * stopped with it.
 */
import { expect, it } from 'vitest'
import { runSwarmSeed } from './swarm.js'

for (const seed of [5361, 8567, 11930, 19874]) {
  it(`swarm seed ${seed} runs clean`, async () => {
    const r = await runSwarmSeed(seed)
    expect(r.problems).toEqual([])
  }, 60_000)
}
