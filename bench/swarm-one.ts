import { runSwarmSeed } from '../test/sim/swarm.js'
const r = await runSwarmSeed(Number(process.argv[2]))
console.log(JSON.stringify(r, null, 1))
