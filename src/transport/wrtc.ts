/**
 * Node defaults for the WebRTC transport: `@roamhq/wrtc` provides RTCPeerConnection (works with
 * simple-peer unmodified, DESIGN.md section 5) and `ws` the WebSocket. `wrtc.browser.ts` is the
 * browser twin, chosen by the package's `browser` map (STYLE.md point 6).
 */
import wrtcModule from '@roamhq/wrtc'
import { WebSocket } from 'ws'
import type { WebSocketConstructor } from './signal-client.js'
import type { WrtcImpl } from './webrtc.js'

/** RTCPeerConnection, RTCSessionDescription and RTCIceCandidate from `@roamhq/wrtc`. */
export const wrtc: WrtcImpl = {
  RTCPeerConnection: wrtcModule.RTCPeerConnection,
  RTCSessionDescription: wrtcModule.RTCSessionDescription,
  RTCIceCandidate: wrtcModule.RTCIceCandidate,
}

/** The runtime's `wrtc` and `WebSocket` options for `createWebRtcTransport`. */
export const webRtcDefaults = (): { wrtc: WrtcImpl; WebSocket: WebSocketConstructor } => ({ wrtc, WebSocket })
