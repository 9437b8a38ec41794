/**
 * The shared Storage suite (abstract-level style): every adapter (memory, level, idb) registers
 * these tests through its own small test file. Runtime-neutral: no Node imports, so it also runs in
 * a browser.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { isDynameshError } from '../../src/errors.js'
import type { BatchOp, Storage } from '../../src/types.js'

/** What an adapter's test file provides: a fresh, empty storage per test. */
export interface StorageFixture {
  storage: Storage
  /** Opens the same data again after `storage.close()`; omit for adapters that do not persist. */
  reopen?: () => Promise<Storage>
  /** Removes whatever the fixture created (a directory, a database). Called after close. */
  cleanup?: () => Promise<void>
}

const enc = new TextEncoder()
const b = (...bytes: number[]): Uint8Array => new Uint8Array(bytes)
const s = (str: string): Uint8Array => enc.encode(str)
const put = (key: Uint8Array, value: Uint8Array): BatchOp => ({ type: 'put', key, value })
const del = (key: Uint8Array): BatchOp => ({ type: 'del', key })

async function collect(
  storage: Storage,
  range: { gte?: Uint8Array; lt?: Uint8Array } = {},
): Promise<Array<[Uint8Array, Uint8Array]>> {
  const out: Array<[Uint8Array, Uint8Array]> = []
  for await (const kv of storage.iterate(range)) out.push(kv)
  return out
}

const keysOf = (kvs: Array<[Uint8Array, Uint8Array]>): number[][] => kvs.map(([k]) => [...k])

/** A 4-byte big-endian key, so byte order equals numeric order. */
const numKey = (n: number): Uint8Array => b((n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255)

/**
 * Registers the Storage conformance tests for one adapter. `persistent` adapters (their fixture
 * has `reopen`) also get the test that data survives close and reopen; memory storages have none.
 */
export function storageSuite(name: string, factory: () => Promise<StorageFixture>, { persistent = true }: { persistent?: boolean } = {}): void {
  describe(`Storage: ${name}`, () => {
    let fx: StorageFixture
    let storage: Storage

    beforeEach(async () => {
      fx = await factory()
      storage = fx.storage
    })

    afterEach(async () => {
      // Closing twice must be harmless; tests that close on purpose leave `storage` closed.
      await storage.close().catch(() => undefined)
      await fx.cleanup?.()
    })

    it('get of a missing key resolves undefined', async () => {
      expect(await storage.get(s('nope'))).toBeUndefined()
    })

    it('put then get returns the same bytes', async () => {
      await storage.batch([put(s('k'), s('v'))])
      expect(await storage.get(s('k'))).toEqual(s('v'))
    })

    it('stores empty values distinctly from absent ones', async () => {
      await storage.batch([put(s('empty'), new Uint8Array(0))])
      const v = await storage.get(s('empty'))
      expect(v).toBeInstanceOf(Uint8Array)
      expect(v?.length).toBe(0)
    })

    it('applies a batch of puts and deletes together', async () => {
      await storage.batch([put(s('a'), s('1')), put(s('b'), s('2'))])
      await storage.batch([del(s('a')), put(s('c'), s('3')), put(s('b'), s('22'))])
      expect(await storage.get(s('a'))).toBeUndefined()
      expect(await storage.get(s('b'))).toEqual(s('22'))
      expect(await storage.get(s('c'))).toEqual(s('3'))
    })

    it('applies ops on one key in batch order', async () => {
      await storage.batch([put(s('x'), s('1')), del(s('x')), put(s('x'), s('3'))])
      expect(await storage.get(s('x'))).toEqual(s('3'))
      await storage.batch([put(s('y'), s('1')), del(s('y'))])
      expect(await storage.get(s('y'))).toBeUndefined()
    })

    it('an empty batch and deleting a missing key are fine', async () => {
      await storage.batch([])
      await storage.batch([del(s('ghost'))])
      expect(await collect(storage)).toEqual([])
    })

    it('overwrites a value', async () => {
      await storage.batch([put(s('k'), s('old'))])
      await storage.batch([put(s('k'), s('new'))])
      expect(await storage.get(s('k'))).toEqual(s('new'))
      expect((await collect(storage)).length).toBe(1)
    })

    it('iterates in byte order: 0x00 and 0xff bytes, lengths, prefixes', async () => {
      // Scrambled on purpose. No empty key: IndexedDB cannot store one, and dynamesh never writes one.
      const keys = [b(0xff), b(0x00), b(0x00, 0x00), b(0x01), b(0xff, 0x00), b(0x7f, 0xff), b(0x80), b(0x01, 0xff, 0xff), b(0xff, 0xff)]
      await storage.batch(keys.map((k, i) => put(k, b(i))))
      const expected = [[0x00], [0x00, 0x00], [0x01], [0x01, 0xff, 0xff], [0x7f, 0xff], [0x80], [0xff], [0xff, 0x00], [0xff, 0xff]]
      const got = await collect(storage)
      expect(keysOf(got)).toEqual(expected)
      // Values travel with their keys.
      for (const [k, v] of got) expect(await storage.get(k)).toEqual(v)
    })

    it('orders keys as bytes, not as strings', async () => {
      await storage.batch([put(s('b'), s('')), put(s('a'), s('')), put(s('ab'), s('')), put(s('B'), s('')), put(s('é'), s(''))])
      expect(keysOf(await collect(storage))).toEqual([[0x42], [0x61], [0x61, 0x62], [0x62], [0xc3, 0xa9]])
    })

    it('honours gte (inclusive) and lt (exclusive) bounds', async () => {
      await storage.batch(Array.from({ length: 20 }, (_, i) => put(b(i * 10), b(i))))
      expect(keysOf(await collect(storage, { gte: b(50), lt: b(90) }))).toEqual([[50], [60], [70], [80]])
      expect(keysOf(await collect(storage, { gte: b(55) })).length).toBe(14)
      expect(keysOf(await collect(storage, { lt: b(20) }))).toEqual([[0], [10]])
      // A bound between keys, and a bound that is a prefix of stored keys.
      await storage.batch([put(b(60, 0), b()), put(b(60, 1), b())])
      expect(keysOf(await collect(storage, { gte: b(60), lt: b(60, 1) }))).toEqual([[60], [60, 0]])
      expect(keysOf(await collect(storage, { gte: b(60, 0), lt: b(61) }))).toEqual([[60, 0], [60, 1]])
    })

    it('yields nothing for an empty or inverted range', async () => {
      await storage.batch([put(b(1), b()), put(b(2), b()), put(b(3), b())])
      expect(await collect(storage, { gte: b(2), lt: b(2) })).toEqual([])
      expect(await collect(storage, { gte: b(3), lt: b(1) })).toEqual([])
      expect(await collect(storage, { gte: b(4) })).toEqual([])
      expect(await collect(storage, { lt: b(1) })).toEqual([])
    })

    it('keeps a 1 MiB value intact', async () => {
      const big = new Uint8Array(1024 * 1024)
      for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >>> 8)) & 255
      await storage.batch([put(s('big'), big)])
      const got = await storage.get(s('big'))
      expect(got?.length).toBe(big.length)
      expect(got!.every((x, i) => x === big[i])).toBe(true)
    })

    it('holds 10,000 keys written in batches, in order', async () => {
      const n = 10_000
      // Written in a scrambled order so adapters cannot rely on appends.
      const order = Array.from({ length: n }, (_, i) => (i * 7919) % n)
      for (let i = 0; i < n; i += 1000) {
        await storage.batch(order.slice(i, i + 1000).map((k) => put(numKey(k), numKey(k * 2))))
      }
      let count = 0
      let wrong = 0
      for await (const [k, v] of storage.iterate({})) {
        // One expect per entry would dominate the run time; count mismatches instead.
        const kn = new DataView(k.buffer, k.byteOffset, 4).getUint32(0)
        const vn = new DataView(v.buffer, v.byteOffset, 4).getUint32(0)
        if (k.length !== 4 || kn !== count || vn !== count * 2) wrong++
        count++
      }
      expect(wrong).toBe(0)
      expect(count).toBe(n)
      expect(await storage.get(numKey(4242))).toEqual(numKey(8484))
      expect((await collect(storage, { gte: numKey(100), lt: numKey(200) })).length).toBe(100)
    })

    it('survives writes while an iteration is running', async () => {
      await storage.batch(Array.from({ length: 100 }, (_, i) => put(numKey(i * 2), b(1))))
      const seen: number[] = []
      let i = 0
      for await (const [k] of storage.iterate({})) {
        seen.push(new DataView(k.buffer, k.byteOffset, 4).getUint32(0))
        // Insert around the cursor and overwrite ahead of it: none of this may break the iteration.
        await storage.batch([put(numKey(i * 2 + 1), b(2)), put(numKey(198 - i), b(3))])
        i++
      }
      for (let j = 1; j < seen.length; j++) expect(seen[j]!).toBeGreaterThan(seen[j - 1]!)
      // Every key that existed before and was never deleted is seen.
      const evens = new Set(seen.filter((x) => x % 2 === 0))
      expect(evens.size).toBe(100)
    })

    it('copies caller arrays: mutating after put changes nothing stored', async () => {
      const key = s('key')
      const value = s('value')
      const pending = storage.batch([put(key, value)])
      // Mutate before the batch has even resolved, as a caller reusing a buffer would.
      value.fill(0)
      key.fill(0)
      await pending
      expect(await storage.get(s('key'))).toEqual(s('value'))
      const read = await storage.get(s('key'))
      read!.fill(1)
      expect(await storage.get(s('key'))).toEqual(s('value'))
    })

    it('rejects non-byte keys with a TypeError', async () => {
      await expect(storage.get('str' as unknown as Uint8Array)).rejects.toBeInstanceOf(TypeError)
      await expect(storage.batch([{ type: 'put', key: s('k'), value: 'v' as unknown as Uint8Array }])).rejects.toBeInstanceOf(TypeError)
      // The failed batch left nothing behind.
      expect(await storage.get(s('k'))).toBeUndefined()
    })

    it('rejects calls after close with NOT_RUNNING', async () => {
      await storage.batch([put(s('k'), s('v'))])
      await storage.close()
      const notRunning = (e: unknown): boolean => isDynameshError(e, 'NOT_RUNNING')
      await expect(storage.get(s('k')).catch((e: unknown) => notRunning(e))).resolves.toBe(true)
      await expect(storage.batch([put(s('k'), s('v'))]).catch((e: unknown) => notRunning(e))).resolves.toBe(true)
      await expect(collect(storage).catch((e: unknown) => notRunning(e))).resolves.toBe(true)
      await storage.close() // idempotent
    })

    if (persistent) it('keeps data across close and reopen', async () => {
      if (fx.reopen === undefined) throw new Error(`the ${name} fixture is persistent but has no reopen`)
      await storage.batch([put(s('a'), s('1')), put(s('b'), s('2'))])
      await storage.batch([del(s('a'))])
      await storage.close()
      storage = await fx.reopen()
      expect(await storage.get(s('a'))).toBeUndefined()
      expect(await storage.get(s('b'))).toEqual(s('2'))
      expect(keysOf(await collect(storage))).toEqual([[0x62]])
    })
  })
}
