/**
 * dynamesh/node: what only runs in Node.js: LevelDB storage, the WebRTC transport with Node's
 * RTCPeerConnection (node-datachannel) and `ws`, the HTTP API server and the signaling server.
 */
export { levelStorage, type LevelStorageOptions } from './storage/level.js'
export { createWebRtcTransport, type WebRtcTransport, type WebRtcTransportOptions } from './transport/webrtc.js'
export { webRtcDefaults, wrtc } from './transport/wrtc.js'
export { startHttpServer, type HttpServer, type HttpServerOptions } from './http/server.js'
export { httpGet, httpPut, httpDelete, httpCluster } from './http/client.js'
export { startSignalServer, type SignalServer, type SignalServerOptions } from '../signaling/server.js'
