import { describe, expect, it } from 'vitest'
import { sharedMemoryStorage } from '../../src/sim/storage.js'
import { memoryStorage } from '../../src/storage/memory.js'
import type { Storage } from '../../src/types.js'
import { storageSuite } from '../suites/storage.js'

// Memory storage does not persist across close, so there is no reopen.
storageSuite('memory', async () => ({ storage: memoryStorage() }), { persistent: false })

// Both B+ tree storages (storage/memory.ts and the simulation's shared one) keep LevelDB's snapshot.
describe.each([
  ['memory', memoryStorage],
  ['shared memory (sim)', sharedMemoryStorage],
] as Array<[string, () => Storage]>)('%s storage iterators', (_name, open) => {
  const k = (i: number): Uint8Array => Uint8Array.of(i >> 8, i & 0xff)
  const put = (i: number, v: number) => ({ type: 'put' as const, key: k(i), value: Uint8Array.of(v) })

  it('read the snapshot taken when they were made: later puts, overwrites and deletes stay out', async () => {
    const s = open()
    await s.batch(Array.from({ length: 2000 }, (_, i) => put(2 * i, 1)))
    const seen: Array<[number, number]> = []
    let step = 0
    for await (const [key, value] of s.iterate({})) {
      seen.push([(key[0]! << 8) | key[1]!, value[0]!])
      // Enough writes, spread over the whole range, to split and merge the tree's nodes under the cursor.
      const at = (step++ * 37) % 2000
      await s.batch([put(2 * at + 1, 2), put(2 * ((at + 1000) % 2000), 3), { type: 'del', key: k(2 * ((at + 500) % 2000)) }])
    }
    expect(seen).toEqual(Array.from({ length: 2000 }, (_, i) => [2 * i, 1]))
    // The writes all landed for readers that come after.
    expect(await s.get(k(1))).toEqual(Uint8Array.of(2))
  })

  it('two iterators at once each keep their own snapshot', async () => {
    const s = open()
    await s.batch([put(1, 1), put(2, 1)])
    const first = s.iterate({})[Symbol.asyncIterator]()
    expect((await first.next()).value?.[0]).toEqual(k(1))
    await s.batch([put(3, 1)])
    const second = s.iterate({})[Symbol.asyncIterator]()
    await s.batch([put(4, 1), { type: 'del', key: k(2) }])
    const rest = async (it: AsyncIterator<[Uint8Array, Uint8Array]>): Promise<number[]> => {
      const out: number[] = []
      for (let r = await it.next(); !r.done; r = await it.next()) out.push(r.value[0][1]!)
      return out
    }
    expect(await rest(first)).toEqual([2])
    expect(await rest(second)).toEqual([1, 2, 3])
  })
})
