/** dynamesh/node: adapters that only run in Node.js. */
export { levelStorage } from './storage/level.js'
