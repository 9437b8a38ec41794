/**
 * The boundaries of a dynamesh node, one file each under types/: where bytes are kept (Storage),
 * how messages travel (Transport), where time and randomness come from (Env), and the hooks a
 * simulated network gives the nodes it runs (SimulationHooks). Types only; adapters implement them.
 * This barrel keeps `import ... from './types.js'` working.
 */
export { asNodeId, type NodeId } from './types/ids.js'
export type { BatchOp, Storage } from './types/storage.js'
export type { MemberAuth, Transport } from './types/transport.js'
export type { Cancel, Env } from './types/env.js'
export type { AttachedNode, SimulationHooks } from './types/simulation.js'
