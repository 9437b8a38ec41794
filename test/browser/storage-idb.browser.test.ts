import { describe, expect, it } from 'vitest'
import { isDynameshError } from '../../src/errors.js'
import { deleteIdbStorage, idbStorage } from '../../src/storage/idb.js'
import { storageSuite } from '../suites/storage.js'

let n = 0
const fresh = (): string => `dynamesh-suite-${Date.now()}-${n++}`

storageSuite('idb', async () => {
  const name = fresh()
  return { storage: await idbStorage(name), reopen: () => idbStorage(name), cleanup: () => deleteIdbStorage(name) }
})

const s = (x: string): Uint8Array => new TextEncoder().encode(x)

describe('idbStorage specifics', () => {
  it('group-commits concurrent batches into fewer transactions, each still atomic', async () => {
    const name = fresh()
    const storage = await idbStorage(name)
    const proto = IDBDatabase.prototype as unknown as { transaction: (...a: unknown[]) => IDBTransaction }
    const original = proto.transaction
    let readwrite = 0
    proto.transaction = function (this: IDBDatabase, ...args: unknown[]) {
      if (args[1] === 'readwrite') readwrite++
      return original.apply(this, args)
    }
    try {
      await Promise.all(Array.from({ length: 200 }, (_, i) => storage.batch([{ type: 'put', key: s(`k${i}`), value: s(`v${i}`) }])))
      // 200 batches issued in one tick: one transaction, or a handful, never one each.
      expect(readwrite).toBeGreaterThan(0)
      expect(readwrite).toBeLessThanOrEqual(3)
      for (let i = 0; i < 200; i += 37) expect(await storage.get(s(`k${i}`))).toEqual(s(`v${i}`))
    } finally {
      proto.transaction = original
      await storage.close()
      await deleteIdbStorage(name)
    }
  })

  it('reads see a write that is queued but not committed yet', async () => {
    const name = fresh()
    const storage = await idbStorage(name)
    try {
      const pending = storage.batch([{ type: 'put', key: s('q'), value: s('queued') }])
      expect(await storage.get(s('q'))).toEqual(s('queued'))
      const deleting = storage.batch([{ type: 'del', key: s('q') }])
      expect(await storage.get(s('q'))).toBeUndefined()
      await Promise.all([pending, deleting])
      expect(await storage.get(s('q'))).toBeUndefined()
    } finally {
      await storage.close()
      await deleteIdbStorage(name)
    }
  })

  it('a failing transaction fails its batches and leaves nothing behind', async () => {
    const name = fresh()
    const storage = await idbStorage(name)
    try {
      await storage.batch([{ type: 'put', key: s('keep'), value: s('1') }])
      const proto = IDBObjectStore.prototype as unknown as { put: (...a: unknown[]) => IDBRequest }
      const original = proto.put
      proto.put = function () {
        throw new DOMException('quota', 'QuotaExceededError')
      }
      const err = await storage.batch([{ type: 'put', key: s('lost'), value: s('2') }]).catch((e: unknown) => e)
      proto.put = original
      expect(isDynameshError(err, 'STORAGE_FAILED')).toBe(true)
      expect(await storage.get(s('lost'))).toBeUndefined()
      expect(await storage.get(s('keep'))).toEqual(s('1'))
    } finally {
      await storage.close()
      await deleteIdbStorage(name)
    }
  })
})
