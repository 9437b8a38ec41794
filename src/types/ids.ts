/** Identifiers shared by every boundary. Types only, plus the one cast that brands a string. */

/** A node's identity on the ring and on the wire. */
export type NodeId = string & { readonly __brand: 'NodeId' }

/**
 * Brands a string as a NodeId (no validation beyond type). Call it where an id has been checked or
 * made: the wire decoder, signaling, the identity key, the simulated network.
 */
export const asNodeId = (s: string): NodeId => s as NodeId
