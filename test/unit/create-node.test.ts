/** createNode's own life cycle: a start that fails releases what it started. */
import { describe, expect, it } from 'vitest'
import { createNode, memoryStorage, type Env, type NodeId, type Transport } from '../../src/index.js'

function fakeTransport(): Transport & { started: number; stopped: number } {
  const t = {
    id: 'fake-node' as NodeId,
    started: 0,
    stopped: 0,
    async start() {
      t.started++
    },
    async stop() {
      t.stopped++
    },
    send() {},
    onMessage() {},
    onPeer() {},
  }
  return t
}

describe('createNode', () => {
  it('stops the transport again when starting the node fails after the transport started', async () => {
    const transport = fakeTransport()
    const storage = memoryStorage()
    let timers = 0
    const env: Env = {
      now: () => Date.now(),
      random: () => 0.5,
      setTimer: () => {
        if (++timers > 0) throw new Error('no timers today')
        return () => {}
      },
    }
    await expect(createNode({ storage, transport, env })).rejects.toThrow('no timers today')
    expect(transport.started).toBe(1)
    expect(transport.stopped).toBe(1)
    // The caller's storage stays usable.
    await storage.batch([{ type: 'put', key: new Uint8Array([1]), value: new Uint8Array([2]) }])
  })
})
