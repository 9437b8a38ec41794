import { createSimNetwork } from '../../src/sim/network.js'
import { transportSuite } from '../suites/transport.js'

let seed = 1
transportSuite('sim', async () => {
  // Reliable (loss 0) so "all delivered" holds; settle() runs virtual time, as no node holds it.
  const net = createSimNetwork({ seed: seed++, loss: 0 })
  const [a, b, c] = ['a', 'b', 'c'].map((id) => net.join(id).transport)
  return {
    a: a!,
    b: b!,
    c: c!,
    settle: async () => {
      await net.settle({ quietMs: 1_000 })
    },
    cleanup: () => net.stop(),
  }
})
