import { describe, expect, it } from 'vitest'
import { update, emptySet, type VersionSet } from '../../src/core/clock.js'
import { encodeSet } from '../../src/core/record.js'
import { RecordCache, encodeOnce, rememberEncoding } from '../../src/node/cache.js'
import { ReplicaStore } from '../../src/node/store.js'
import { memoryStorage } from '../../src/index.js'
import type { BatchOp, Storage } from '../../src/types.js'

const set = (v: string): VersionSet => update(emptySet, {}, 'a', new TextEncoder().encode(v), 1)

describe('RecordCache', () => {
  it('keeps at most maxEntries, least recently used out first', () => {
    const c = new RecordCache({ maxEntries: 2 })
    c.wrote('a', set('a'), 10)
    c.wrote('b', set('b'), 10)
    expect(c.get('a')).toBeDefined() // a is now the most recent
    c.wrote('c', set('c'), 10)
    expect(c.get('b')).toBeUndefined()
    expect(c.get('a')).toBeDefined()
    expect(c.get('c')).toBeDefined()
    expect(c.size).toBe(2)
  })

  it('keeps at most maxBytes and never an entry larger than the budget', () => {
    const c = new RecordCache({ maxBytes: 100 })
    c.wrote('a', set('a'), 60)
    c.wrote('b', set('b'), 60)
    expect(c.get('a')).toBeUndefined()
    expect(c.get('b')).toBeDefined()
    c.wrote('big', set('big'), 101)
    expect(c.get('big')).toBeUndefined()
  })

  it('refuses a read offered after a write of the same key started', () => {
    const c = new RecordCache()
    const stamp = c.stamp('k')
    c.dropped('k') // a write (here a delete) landed while the read was in flight
    c.offer('k', set('old'), 10, stamp)
    expect(c.get('k')).toBeUndefined()
    const fresh = c.stamp('k')
    c.offer('k', set('new'), 10, fresh)
    expect(c.get('k')).toBeDefined()
  })

  it('does not let an offer replace a newer write', () => {
    const c = new RecordCache()
    const stamp = c.stamp('k')
    const written = set('written')
    c.wrote('k', written, 10)
    c.offer('k', set('read'), 10, c.stamp('k'))
    expect(c.get('k')).toBe(written)
    void stamp
  })
})

describe('encodeOnce', () => {
  it('returns the remembered encoding of the same object and encodes others', () => {
    const s = set('x')
    const bytes = encodeSet(s)
    rememberEncoding(s, bytes)
    expect(encodeOnce(s)).toBe(bytes)
    const t = set('y')
    expect(encodeOnce(t)).toEqual(encodeSet(t))
    expect(encodeOnce(t)).toBe(encodeOnce(t))
  })
})

describe('ReplicaStore with its cache', () => {
  /** A memory storage whose gets can be held, to race a read against a write. */
  function heldStorage(): { storage: Storage; hold(): () => void } {
    const inner = memoryStorage()
    let gate: Promise<void> | undefined
    const storage: Storage = {
      async get(k) {
        // Only the first get after hold() waits; later ones (the racing write's own read) pass.
        const g = gate
        gate = undefined
        const v = await inner.get(k)
        if (g) await g
        return v
      },
      batch: (ops: BatchOp[]) => inner.batch(ops),
      iterate: (r) => inner.iterate(r),
      close: () => inner.close(),
    }
    return {
      storage,
      hold() {
        let open!: () => void
        gate = new Promise<void>((r) => (open = r))
        return open
      },
    }
  }

  it('serves reads after a write from the cache, with what was written', async () => {
    const store = new ReplicaStore(memoryStorage(), 16)
    const key = new TextEncoder().encode('k')
    const next = await store.modify(key, undefined, (known) => update(known, {}, 'a', Uint8Array.of(1), 1))
    const misses = store.cache.misses
    expect(await store.readRecord(key)).toBe(next)
    expect(store.cache.misses).toBe(misses)
  })

  it('never keeps a value read from storage before a write that finished first', async () => {
    const { storage, hold } = heldStorage()
    const store = new ReplicaStore(storage, 16)
    const key = new TextEncoder().encode('k')
    await store.apply(key, update(emptySet, {}, 'a', Uint8Array.of(1), 1))
    store.cache.clear()
    const release = hold()
    const stale = store.readRecord(key) // reads v1 from storage, then waits
    const v2 = await store.apply(key, update(emptySet, {}, 'b', Uint8Array.of(2), 2))
    release()
    expect((await stale)?.siblings.length).toBe(1) // it read v1 and offered it late: refused
    const now = await store.readRecord(key)
    expect(now).toBe(v2)
    store.cache.clear()
    expect(await store.readRecord(key)).toEqual(v2)
  })
})
