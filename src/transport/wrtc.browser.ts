/**
 * Browser defaults for the WebRTC transport: the page's own RTCPeerConnection and WebSocket.
 * Same exports as `wrtc.ts` (its Node twin), chosen by the package's `browser` map.
 */
import type { WebSocketConstructor } from './signal-client.js'
import type { WrtcImpl } from './webrtc.js'

/** The page's RTCPeerConnection, RTCSessionDescription and RTCIceCandidate, read at import time. */
export const wrtc: WrtcImpl = {
  RTCPeerConnection: globalThis.RTCPeerConnection,
  RTCSessionDescription: globalThis.RTCSessionDescription,
  RTCIceCandidate: globalThis.RTCIceCandidate,
}

/** The runtime's `wrtc` and `WebSocket` options for `createWebRtcTransport`. */
export const webRtcDefaults = (): { wrtc: WrtcImpl; WebSocket: WebSocketConstructor } => ({ wrtc, WebSocket: globalThis.WebSocket })
