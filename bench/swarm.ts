import { runSwarmSeed } from '../test/sim/swarm.js'
const t0 = Date.now()
let bad = 0
const from = Number(process.argv[2] ?? 0), count = Number(process.argv[3] ?? 20)
for (let s = from; s < from + count; s++) {
  const r = await runSwarmSeed(s)
  if (r.problems.length) { bad++; console.log('seed', s, r.problems.slice(0,3), r.faults) }
}
console.log(`${count} seeds in ${Date.now() - t0} ms, ${bad} bad`)
