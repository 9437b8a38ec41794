/**
 * ReplicaStore.applyMany, the bulk merge anti-entropy uses for pushed records: the same result as
 * `apply` for each key, one storage batch for all that changed, and nothing cached or hashed that
 * storage did not take.
 */
import { describe, expect, it } from 'vitest'
import { emptySet, equalSets, update, values, type VersionSet } from '../../src/core/clock.js'
import { decodeSet } from '../../src/core/record.js'
import { ReplicaStore } from '../../src/node/store.js'
import { memoryStorage } from '../../src/storage/memory.js'
import type { Storage } from '../../src/types.js'

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const text = (s: VersionSet): string[] => values(s).map((v) => new TextDecoder().decode(v)).sort()
const write = (base: VersionSet, replica: string, value: string, now: number): VersionSet => update(base, base.vv, replica, enc(value), now)

/** A storage that counts batches and can be told to fail the next one. */
function counted(): { storage: Storage; batches: () => number; failNext: () => void } {
  const inner = memoryStorage()
  let batches = 0
  let fail = false
  const storage: Storage = {
    ...inner,
    get: (k) => inner.get(k),
    iterate: (r) => inner.iterate(r),
    close: () => inner.close(),
    async batch(ops) {
      batches++
      if (fail) {
        fail = false
        throw new Error('disk full')
      }
      return inner.batch(ops)
    },
  }
  return { storage, batches: () => batches, failNext: () => void (fail = true) }
}

/** Every record storage holds, decoded, by key text. */
async function held(storage: Storage): Promise<Map<string, VersionSet>> {
  const out = new Map<string, VersionSet>()
  for await (const [k, v] of storage.iterate({})) {
    if (k[0] !== 'r'.charCodeAt(0)) continue
    out.set(new TextDecoder().decode(k.subarray(k.length - 2)), decodeSet(v))
  }
  return out
}

describe('ReplicaStore.applyMany', () => {
  it('merges each key as apply would, in one storage batch, and writes nothing that did not change', async () => {
    const { storage, batches } = counted()
    const store = new ReplicaStore(storage, 16)
    const older = write(emptySet, 'a~1', 'old', 1)
    await store.apply(enc('k1'), older)
    const same = write(emptySet, 'a~1', 'same', 2)
    await store.apply(enc('k2'), same)
    const before = batches()

    const newer = write(older, 'a~1', 'new', 3)
    const concurrent = write(emptySet, 'b~1', 'other', 4)
    const items = [
      { key: enc('k1'), set: newer },
      { key: enc('k2'), set: same }, // already held: no write
      { key: enc('k3'), set: concurrent },
      { key: enc('k3'), set: write(emptySet, 'c~1', 'third', 5) }, // the same key twice: merged
    ]
    const merged = await store.applyMany(items)
    expect(batches() - before).toBe(1)
    expect(text(merged[0]!)).toEqual(['new'])
    expect(equalSets(merged[1]!, same)).toBe(true)
    expect(text(merged[2]!)).toEqual(['other', 'third'])
    expect(text(merged[3]!)).toEqual(['other', 'third'])

    const disk = await held(storage)
    expect(text(disk.get('k1')!)).toEqual(['new'])
    expect(text(disk.get('k3')!)).toEqual(['other', 'third'])
    for (const k of ['k1', 'k2', 'k3']) expect(text((await store.readRecord(enc(k)))!)).toEqual(text(disk.get(k)!))
    // The trees hash what storage holds.
    const reopened = new ReplicaStore(storage, 16)
    await reopened.open()
    for (const p of store.heldPartitions()) expect(reopened.tree(p).root()).toEqual(store.tree(p).root())
  })

  it('two bulk merges over the same keys, given in opposite orders, both finish (locks in one order)', async () => {
    const store = new ReplicaStore(memoryStorage(), 16)
    const keys = ['x1', 'x2', 'x3', 'x4']
    const one = keys.map((k, i) => ({ key: enc(k), set: write(emptySet, 'a~1', `a${i}`, i + 1) }))
    const two = [...keys].reverse().map((k, i) => ({ key: enc(k), set: write(emptySet, 'b~1', `b${i}`, i + 1) }))
    const timeout = new Promise<string>((resolve) => setTimeout(() => resolve('stuck'), 2000))
    const done = Promise.all([store.applyMany(one), store.applyMany(two)]).then(() => 'done')
    expect(await Promise.race([done, timeout])).toBe('done')
    for (const k of keys) expect(text((await store.readRecord(enc(k)))!)).toHaveLength(2)
  })

  it('a failed batch rejects, and neither the cache nor the trees take what storage did not', async () => {
    const { storage, failNext } = counted()
    const store = new ReplicaStore(storage, 16)
    const first = write(emptySet, 'a~1', 'first', 1)
    await store.apply(enc('k1'), first)
    const roots = store.heldPartitions().map((p) => store.tree(p).root())
    failNext()
    await expect(store.applyMany([{ key: enc('k1'), set: write(first, 'a~1', 'second', 2) }, { key: enc('k4'), set: write(emptySet, 'a~1', 'x', 3) }])).rejects.toThrow('disk full')
    expect(text((await store.readRecord(enc('k1')))!)).toEqual(['first'])
    expect(await store.readRecord(enc('k4'))).toBeUndefined()
    expect(store.heldPartitions().map((p) => store.tree(p).root())).toEqual(roots)
  })
})

describe('hints held per owner', () => {
  it('past the cap a new key for that owner is refused OVERLOADED and counted; updates and other owners still pass', async () => {
    const store = new ReplicaStore(memoryStorage(), 16, 3)
    const v = (s: string): VersionSet => write(emptySet, 'f~1', s, 1)
    for (const k of ['h1', 'h2', 'h3']) await store.apply(enc(k), v(k), 'owner-x')
    await expect(store.apply(enc('h4'), v('h4'), 'owner-x')).rejects.toMatchObject({ code: 'OVERLOADED' })
    expect(store.hintsRefused).toBe(1)
    expect(store.hints).toBe(3)
    // A newer version of a held hint is not a new hint.
    await store.apply(enc('h1'), write(v('h1'), 'f~1', 'h1b', 2), 'owner-x')
    expect(text((await store.readHint('owner-x', enc('h1')))!)).toEqual(['h1b'])
    // Another owner has its own share, and records are not hints.
    await store.apply(enc('h4'), v('h4'), 'owner-y')
    await store.apply(enc('h5'), v('h5'))
    expect([...store.hintOwners()].sort()).toEqual(['owner-x', 'owner-y'])
    // Delivered hints make room again.
    const held = (await store.allHints()).get('owner-x')!
    await store.deleteHints(held.slice(0, 1), 'f~1')
    await store.apply(enc('h6'), v('h6'), 'owner-x')
    expect(store.hints).toBe(4)
    expect(store.hintsRefused).toBe(1)
  })
})
