/** dynamesh/node in a browser: these adapters need Node.js; say so clearly instead of failing later. */
const nodeOnly = (name: string) => (): never => {
  throw new TypeError(`${name} needs Node.js; in a browser use the IndexedDB storage and the browser WebRTC transport`)
}
export const levelStorage = nodeOnly('levelStorage')
export const createWebRtcTransport = nodeOnly('createWebRtcTransport from dynamesh/node')
export const webRtcDefaults = nodeOnly('webRtcDefaults from dynamesh/node')
export const startHttpServer = nodeOnly('startHttpServer')
export const startSignalServer = nodeOnly('startSignalServer')
