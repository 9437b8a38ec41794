/** dynamesh/node in a browser: these adapters need Node.js; say so clearly instead of failing later. */
export function levelStorage(): never {
  throw new TypeError('levelStorage needs Node.js; in a browser use the IndexedDB storage')
}
