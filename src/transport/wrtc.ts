/**
 * Node defaults for the WebRTC transport: `node-datachannel`'s polyfill provides RTCPeerConnection,
 * with the small shims it needs (ndc-shim.ts), and `ws` the WebSocket. `wrtc.browser.ts`
 * is the browser twin, chosen by the package's `browser` map (STYLE.md point 6).
 */
import { WebSocket } from 'ws'
import { RTCIceCandidate, RTCSessionDescription, ShimPeerConnection } from './ndc-shim.js'
import type { WebSocketConstructor } from './signal-client.js'
import type { WrtcImpl } from './webrtc.js'

/** RTCPeerConnection, RTCSessionDescription and RTCIceCandidate from `node-datachannel` (shimmed). */
export const wrtc: WrtcImpl = {
  RTCPeerConnection: ShimPeerConnection as unknown as WrtcImpl['RTCPeerConnection'],
  RTCSessionDescription: RTCSessionDescription as unknown as WrtcImpl['RTCSessionDescription'],
  RTCIceCandidate: RTCIceCandidate as unknown as WrtcImpl['RTCIceCandidate'],
}

/** The runtime's `wrtc` and `WebSocket` options for `createWebRtcTransport`. */
export const webRtcDefaults = (): { wrtc: WrtcImpl; WebSocket: WebSocketConstructor } => ({ wrtc, WebSocket })
