/**
 * What a simulated network needs from the nodes it runs, apart from Env and Transport. Types only;
 * `SimNetwork.join` (src/sim/network.ts) hands out one set of hooks per life of a node, and
 * `createNode` takes them as `NodeOptions.simulation`. Real nodes have none.
 */
import type { Env } from './env.js'
import type { NodeId } from './ids.js'
import type { Storage } from './storage.js'
import type { Transport } from './transport.js'

/** Hooks of one life of a simulated node: a crash or restart makes new ones, and the old go dead. */
export interface SimulationHooks {
  /**
   * Marks that a caller is waiting on this node (a get, put, delete, stop...) and returns its
   * release. The simulation advances virtual time only while something is held; the holds of a
   * crashed life are released with it.
   */
  hold(): () => void
  /** Called by createNode so the simulation can crash and restart the node it created. */
  attach(node: AttachedNode): void
}

/** What a simulation needs from a node it can crash and bring back. */
export interface AttachedNode {
  /** The node's id, the one it joined the simulated network with. */
  readonly id: NodeId
  /** Drop all in-memory state at once, as a crash would: no flush, pending calls fail. */
  halt(): void
  /**
   * Creates the node again with the same options, or with overrides: a new storage, and the env,
   * transport and simulation hooks of its new life.
   */
  recreate(overrides: { storage?: Storage; env?: Env; transport?: Transport; simulation?: SimulationHooks }): Promise<unknown>
}
