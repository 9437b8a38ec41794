import { describe, expect, it } from 'vitest'
import { sharedMemoryStorage } from '../../src/sim/storage.js'
import { storageSuite } from '../suites/storage.js'

// The same contract as memory storage (no persistence across close, so there is no reopen).
storageSuite('shared memory (sim)', async () => ({ storage: sharedMemoryStorage() }), { persistent: false })

describe('shared memory storage', () => {
  it('stores what it was given even when the given array is later changed, in one disk or two', async () => {
    const a = sharedMemoryStorage()
    const b = sharedMemoryStorage()
    const key = Uint8Array.of(1)
    const value = Uint8Array.of(1, 2, 3)
    await a.batch([{ type: 'put', key, value }])
    value[0] = 9
    await b.batch([{ type: 'put', key, value }])
    expect(await a.get(key)).toEqual(Uint8Array.of(1, 2, 3))
    expect(await b.get(key)).toEqual(Uint8Array.of(9, 2, 3))
    const got = (await a.get(key))!
    got[1] = 7
    expect(await a.get(key)).toEqual(Uint8Array.of(1, 2, 3))
  })
})
