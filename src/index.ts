/**
 * dynamesh: Amazon's Dynamo for browsers and Node. The isomorphic entry: nodes, the memory storage,
 * the types, and the pure building blocks for those who want them.
 */
export { createNode } from './node/index.js'
export { memoryStorage } from './storage/memory.js'
export { DynameshError, isDynameshError, type ErrorCode } from './errors.js'
export type {
  Context,
  Key,
  Value,
  CallOptions,
  GetOptions,
  PutOptions,
  GetResult,
  MemberInfo,
  ClusterInfo,
  NodeStats,
  NodeOptions,
  NodeEvent,
  DynameshNode,
  NodeInspection,
} from './api.js'
export type { NodeId, Storage, Transport, Env, BatchOp, Cancel } from './types.js'
export { generateIdentity, identityFromSecret, idOfPublicKey, loadIdentity, type Identity } from './identity.js'
