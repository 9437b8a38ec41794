/**
 * dynamesh/sim: a seeded simulated network that runs a whole cluster in one process, with latency,
 * loss, duplication, reordering, partitions, crashes and restarts, plus the checker that verifies a
 * run. Apps can test themselves against a simulated cluster with it.
 */
export { createSimNetwork, SIM_EPOCH } from './network.js'
export { sharedMemoryStorage } from './storage.js'
export type { SimNetwork, SimOptions, SimJoined, SimStats, SimMessageEvent, LinkFaults, Faults } from './types.js'
export { seededRandom, randomInt, randomBytes, seededBytes, type Rng } from './random.js'
export {
  History,
  lostWrites,
  resurrectedValues,
  restampedValues,
  phantomValues,
  divergentPartitions,
  undeliveredHints,
  finalReads,
  type WriteRecord,
  type UnexpectedValue,
} from './checker.js'
