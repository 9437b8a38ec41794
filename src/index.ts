/**
 * dynamesh: Amazon's Dynamo for browsers and Node. The isomorphic entry: nodes, the memory and
 * IndexedDB storages, the WebRTC transport (the runtime's own RTCPeerConnection and WebSocket; Node
 * peers take it from dynamesh/node), a browser tab's peer, and the types.
 */
export { createNode } from './node/index.js'
export { memoryStorage } from './storage/memory.js'
export { idbStorage, deleteIdbStorage, type IdbStorageOptions } from './storage/idb.js'
export { createWebRtcTransport, type WebRtcTransport, type WebRtcTransportOptions } from './transport/webrtc.js'
export { openBrowserPeer, credentialFrom, type BrowserPeer, type BrowserPeerOptions } from './browser/peer.js'
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
export type { NodeId, Storage, Transport, Env, BatchOp, Cancel, SimulationHooks } from './types.js'
export { generateIdentity, identityFromSecret, idOfPublicKey, loadIdentity, type Identity } from './identity.js'
export { clusterKeyFromSecret, generateClusterKey, verifyCredential, hexBytes, type ClusterKey } from './credential.js'
