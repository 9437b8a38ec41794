/**
 * node/store.ts over memory storage, edge by edge: what open() rebuilds (trees, tombstones up to the
 * scan limit, graves whose marker still names their record, hints, traces), the cache in front of
 * reads, the fence, writes that storage fails, hints per owner, burial and purge of tombstones, the
 * traces kept when the last copy of a key leaves, and the partitions and counts the store reports.
 */
import { describe, expect, it } from 'vitest'
import { emptySet, merge, update, values, type VersionSet } from '../../src/core/clock.js'
import { toHex } from '../../src/core/hash.js'
import { decodeSet, digestOfEncoded, encodeSet } from '../../src/core/record.js'
import { encodeOnce } from '../../src/node/cache.js'
import { hintKey, recordKey } from '../../src/node/keys.js'
import { deletedOnly, ownPart, ReplicaStore } from '../../src/node/store.js'
import { memoryStorage } from '../../src/storage/memory.js'
import type { BatchOp, Storage } from '../../src/types.js'

const Q = 16
const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const dec = (b: Uint8Array): string => new TextDecoder().decode(b)
const texts = (s: VersionSet | undefined): string[] => (s ? values(s).map(dec).sort() : [])
const put = (base: VersionSet, replica: string, value: string | null, now = 1, ctx: VersionSet['vv'] = base.vv): VersionSet =>
  update(base, ctx, replica, value === null ? null : enc(value), now)
const graveKey = (key: Uint8Array): Uint8Array => Uint8Array.of(0x67, ...key)
const traceKey = (key: Uint8Array): Uint8Array => Uint8Array.of(0x73, ...key)

/**
 * A memory storage that records every batch and get, and can be told to fail the next batch before
 * it lands or after (whether a failed batch landed is unknown to the store).
 */
function recording(inner: Storage = memoryStorage()) {
  const batches: BatchOp[][] = []
  const gets: Uint8Array[] = []
  const returned: Array<Uint8Array | undefined> = []
  let fail: 'before' | 'after' | undefined
  let failWith: Error = new Error('disk full')
  const storage: Storage = {
    ...inner,
    async get(k) {
      gets.push(k)
      const v = await inner.get(k)
      returned.push(v)
      return v
    },
    iterate: (r) => inner.iterate(r),
    close: () => inner.close(),
    async batch(ops) {
      batches.push(ops)
      const mode = fail
      fail = undefined
      if (mode === 'before') throw failWith
      await inner.batch(ops)
      if (mode === 'after') throw failWith
    },
  }
  return {
    storage,
    inner,
    batches,
    gets,
    returned,
    failNext: (mode: 'before' | 'after', err: Error = new Error('disk full')) => {
      fail = mode
      failWith = err
    },
  }
}

/** Every key storage holds, as hex, with its first byte as a character ('r', 'h', 'g', 's', ...). */
async function keysOf(storage: Storage): Promise<string[]> {
  const out: string[] = []
  for await (const [k] of storage.iterate({})) out.push(`${String.fromCharCode(k[0]!)}:${dec(k.subarray(1))}`)
  return out
}

/** A store opened, reads recorded, over storage holding one record `k` with a write of this node ('self'). */
async function reopenedWithOwnRecord() {
  const storage = memoryStorage()
  const k = enc('k')
  await new ReplicaStore(storage, Q).modify(k, undefined, (known) => put(known, 'self', 'v', 1, {}))
  const r = recording(storage)
  const store = new ReplicaStore(r.storage, Q)
  await store.open()
  return { r, store, k, p: store.partitionOf(k) }
}

describe('store edges: deletedOnly and ownPart', () => {
  it('deletedOnly: a set of tombstones only; never the empty set or a set with a value', () => {
    const del = put(emptySet, 'a', null)
    expect(deletedOnly(del)).toBe(true)
    expect(deletedOnly(emptySet)).toBe(false)
    expect(deletedOnly(merge(del, put(emptySet, 'b', 'v')))).toBe(false)
    expect(deletedOnly(merge(del, put(emptySet, 'b', null)))).toBe(true)
  })

  it("ownPart: the replica's vector entry as a plain entry and its own siblings; undefined without an entry", () => {
    const s = merge(put(emptySet, 'a', 'mine', 3), put(emptySet, 'b', 'theirs', 4))
    const own = ownPart(s, 'a')!
    expect(Object.keys(own.vv)).toEqual(['a'])
    expect(own.vv['a']).toEqual({ n: 1, ts: 3 })
    expect(Object.getOwnPropertyDescriptor(own.vv, 'a')).toEqual({ value: { n: 1, ts: 3 }, enumerable: true, writable: true, configurable: true })
    expect(texts(own)).toEqual(['mine'])
    expect(ownPart(s, 'c')).toBeUndefined()
    // An id such as __proto__ is an own entry too, not a prototype.
    const odd = ownPart(put(emptySet, '__proto__', 'x'), '__proto__')!
    expect(Object.keys(odd.vv)).toEqual(['__proto__'])
    expect(decodeSet(encodeSet(odd)).vv).toEqual(odd.vv)
  })
})

describe('store edges: open', () => {
  it('rebuilds trees, tombstones (landed at the time of opening), hints and traces from storage', async () => {
    const storage = memoryStorage()
    const store = new ReplicaStore(storage, Q)
    await store.apply(enc('live'), put(emptySet, 'a', 'v'))
    await store.apply(enc('dead'), put(emptySet, 'a', null))
    await store.apply(enc('hinted'), put(emptySet, 'a', 'h'), 'owner-b')
    await store.modify(enc('left'), 'owner-b', (known) => put(known, 'self', 'mine', 1, {}))
    const left = (await store.allHints()).get('owner-b')!.filter((e) => dec(e.key) === 'left')
    expect(await store.deleteHints(left, 'self')).toBe(1)

    const reopened = new ReplicaStore(storage, Q)
    reopened.now = () => 77
    await reopened.open()
    expect(reopened.recordCount).toBe(2)
    expect(reopened.heldPartitions()).toEqual(store.heldPartitions())
    for (const p of store.heldPartitions()) expect(reopened.tree(p).root()).toEqual(store.tree(p).root())
    expect([...reopened.tombstones.values()]).toEqual([{ key: enc('dead'), p: store.partitionOf(enc('dead')), seq: 0, at: 77 }])
    expect(reopened.hints).toBe(1)
    expect([...reopened.hintOwners()]).toEqual(['owner-b'])
    expect(texts(await reopened.readAll(enc('hinted')))).toEqual(['h'])
    expect(reopened.traces).toBe(1)
    expect(texts(await reopened.readTrace(enc('left')))).toEqual(['mine'])
    expect(await reopened.readTrace(enc('live'))).toBeUndefined()
  })

  it('keeps a grave whose marker names its record, with its time, out of the tree; a void or malformed marker is not a grave', async () => {
    const { storage, batches } = recording()
    const store = new ReplicaStore(storage, Q)
    store.now = () => 5
    await store.apply(enc('g'), put(emptySet, 'a', null))
    const t = store.tombstones.get(toHex(enc('g')))!
    store.now = () => 1234.5
    expect(await store.bury(t)).toBe(true)
    // A marker whose record changed is void; a marker of another length is no marker at all.
    await store.apply(enc('changed'), put(emptySet, 'a', null))
    const tc = store.tombstones.get(toHex(enc('changed')))!
    expect(await store.bury(tc)).toBe(true)
    await store.apply(enc('changed'), put(put(emptySet, 'a', null), 'a', 'back'))
    const digestOf = async (k: string): Promise<Uint8Array> => digestOfEncoded((await storage.get(recordKey(store.partitionOf(enc(k)), enc(k))))!)
    await store.apply(enc('odd'), put(emptySet, 'a', null))
    const odd = new Uint8Array(32)
    odd.set(await digestOf('odd'), 0)
    await storage.batch([{ type: 'put', key: graveKey(enc('changed')), value: (await storage.get(graveKey(enc('g'))))! }])
    await storage.batch([{ type: 'put', key: graveKey(enc('odd')), value: odd }])

    const before = batches.length
    const reopened = new ReplicaStore(storage, Q)
    await reopened.open()
    expect(reopened.isGrave(enc('g'))).toBe(true)
    expect(reopened.graves.get(toHex(enc('g')))).toEqual({ key: enc('g'), p: store.partitionOf(enc('g')), digest: await digestOf('g'), since: 1234.5, seq: 0 })
    expect(reopened.tree(store.partitionOf(enc('g'))).get(enc('g'))).toBeUndefined()
    expect(reopened.tombstones.has(toHex(enc('g')))).toBe(false)
    expect(reopened.isGrave(enc('changed'))).toBe(false)
    expect(reopened.isGrave(enc('odd'))).toBe(false)
    expect(reopened.tree(store.partitionOf(enc('odd'))).get(enc('odd'))).toEqual(await digestOf('odd'))
    expect(reopened.tombstones.has(toHex(enc('odd')))).toBe(true)
    // The void marker went, in one batch; the grave's and the malformed one stay.
    expect(batches.length - before).toBe(1)
    expect(batches.at(-1)).toEqual([{ type: 'del', key: graveKey(enc('changed')) }])
    expect(await storage.get(graveKey(enc('changed')))).toBeUndefined()
    expect(await storage.get(graveKey(enc('g')))).toBeDefined()
    expect(await storage.get(graveKey(enc('odd')))).toBeDefined()
    // Opened again: the same grave, and nothing to delete.
    const third = new ReplicaStore(storage, Q)
    await third.open()
    expect(third.isGrave(enc('g'))).toBe(true)
    expect(batches.length - before).toBe(1)
  })

  it('checks tombstones up to 2048 encoded bytes at open; a larger one is kept, never collected', async () => {
    // A tombstone whose vector has enough entries to make its encoding exactly `size` bytes.
    const tombstoneOf = (size: number): VersionSet => {
      for (let pad = 0; pad < 250; pad++) {
        let s = emptySet
        for (let i = 0; i < 9; i++) s = merge(s, put(emptySet, `${'r'.repeat(200)}${i}`, 'v'))
        s = merge(s, put(emptySet, 'x'.repeat(pad + 1), 'v'))
        const del = put(s, 'z', null)
        const n = encodeSet(del).length
        if (n === size) return del
      }
      throw new Error(`no tombstone of ${size} bytes`)
    }
    const storage = memoryStorage()
    const store = new ReplicaStore(storage, Q)
    await store.apply(enc('at'), tombstoneOf(2048))
    await store.apply(enc('over'), tombstoneOf(2049))
    expect(store.tombstones.size).toBe(2)
    const reopened = new ReplicaStore(storage, Q)
    await reopened.open()
    expect(reopened.recordCount).toBe(2)
    expect([...reopened.tombstones.values()].map((t) => dec(t.key))).toEqual(['at'])
  })
})

describe('store edges: reads and the cache', () => {
  it('a record read once is served from the cache, with the bytes it was read from as its encoding', async () => {
    const r = recording()
    const first = new ReplicaStore(r.storage, Q)
    await first.apply(enc('k'), put(emptySet, 'a', 'v'))
    const store = new ReplicaStore(r.storage, Q)
    await store.open()
    const gets = r.gets.length
    const set = (await store.readRecord(enc('k')))!
    expect(r.gets.length - gets).toBe(1)
    expect(encodeOnce(set)).toBe(r.returned.at(-1))
    expect(await store.readRecord(enc('k'))).toBe(set)
    expect(r.gets.length - gets).toBe(1)
    expect(await store.readRecord(enc('none'))).toBeUndefined()
  })

  it('readAll merges the record with the hints held for the key, and a hint alone is what is known', async () => {
    const store = new ReplicaStore(memoryStorage(), Q)
    await store.apply(enc('k'), put(emptySet, 'a', 'rec'))
    await store.apply(enc('k'), put(emptySet, 'b', 'hint-b'), 'owner-b')
    await store.apply(enc('k'), put(emptySet, 'c', 'hint-c'), 'owner-c')
    await store.apply(enc('j'), put(emptySet, 'c', 'only'), 'owner-c')
    expect(texts(await store.readAll(enc('k')))).toEqual(['hint-b', 'hint-c', 'rec'])
    expect(texts(await store.readAll(enc('j')))).toEqual(['only'])
    expect(await store.readAll(enc('none'))).toBeUndefined()
  })

  it('a key without hints or a trace reads the record only', async () => {
    const r = recording()
    const store = new ReplicaStore(r.storage, Q)
    await store.apply(enc('k'), put(emptySet, 'a', 'v'), 'owner-b')
    const gets = r.gets.length
    expect(await store.readAll(enc('j'))).toBeUndefined()
    expect(await store.readTrace(enc('j'))).toBeUndefined()
    expect(r.gets.map(dec).slice(gets)).toEqual([dec(recordKey(store.partitionOf(enc('j')), enc('j')))])
  })

  it('the raw storage is the one the store was given', () => {
    const storage = memoryStorage()
    expect(new ReplicaStore(storage, Q).raw).toBe(storage)
  })
})

describe('store edges: writes', () => {
  it('apply writes and counts a landing only for a set that changes what is held, and tells onChange a copy of the key', async () => {
    const r = recording()
    const store = new ReplicaStore(r.storage, Q)
    const changes: Array<[Uint8Array, string | undefined]> = []
    store.onChange = (key, hintFor) => void changes.push([key, hintFor])
    const key = enc('k')
    const v = put(emptySet, 'a', 'v')
    await store.apply(key, v)
    expect(store.seq).toBe(1)
    expect(r.batches).toHaveLength(1)
    expect(r.batches[0]).toEqual([{ type: 'put', key: recordKey(store.partitionOf(key), key), value: encodeSet(v) }])
    expect(await store.apply(enc('k'), decodeSet(encodeSet(v)))).toBe(await store.readRecord(key))
    expect(store.seq).toBe(1)
    expect(r.batches).toHaveLength(1)
    await store.apply(enc('k'), put(v, 'a', 'w'))
    expect(store.seq).toBe(2)
    await store.apply(enc('k'), put(emptySet, 'b', 'h'), 'owner-b')
    expect(store.seq).toBe(2)
    expect(changes.map(([k, h]) => [dec(k), h])).toEqual([
      ['k', undefined],
      ['k', undefined],
      ['k', 'owner-b'],
    ])
    for (const [k] of changes) expect(k).not.toBe(key)
  })

  it('modify writes the record alone when the key has no trace, and the hint when asked for one', async () => {
    const r = recording()
    const store = new ReplicaStore(r.storage, Q)
    const key = enc('k')
    const next = await store.modify(key, undefined, (known) => {
      expect(known).toBe(emptySet)
      return put(known, 'self', 'v')
    })
    expect(r.batches).toEqual([[{ type: 'put', key: recordKey(store.partitionOf(key), key), value: encodeSet(next) }]])
    const hinted = await store.modify(key, 'owner-b', (known) => {
      expect(texts(known)).toEqual(['v'])
      return put(known, 'self', 'w')
    })
    expect(r.batches[1]).toEqual([{ type: 'put', key: hintKey('owner-b', key), value: encodeSet(hinted) }])
    expect(texts(await store.readHint('owner-b', key))).toEqual(['w'])
    expect(texts(await store.readRecord(key))).toEqual(['v'])
  })

  it('modify sees the record, the hints and the trace of the key together, and drops the trace in the same batch', async () => {
    const r = recording()
    const store = new ReplicaStore(r.storage, Q)
    const k = enc('k')
    await store.modify(k, 'owner-b', (known) => put(known, 'self', 'mine', 1, {}))
    await store.deleteHints((await store.allHints()).get('owner-b')!, 'self')
    expect(store.traces).toBe(1)
    await store.apply(k, put(emptySet, 'other', 'rec'))
    await store.apply(k, put(emptySet, 'third', 'hint'), 'owner-c')
    const next = await store.modify(k, undefined, (known) => {
      expect(texts(known)).toEqual(['hint', 'mine', 'rec'])
      return put(known, 'self', 'new', 2, {})
    })
    expect(next.siblings.find((x) => dec(x.value!) === 'new')!.dot).toEqual({ id: 'self', n: 2 })
    expect(r.batches.at(-1)).toEqual([
      { type: 'put', key: recordKey(store.partitionOf(k), k), value: encodeSet(next) },
      { type: 'del', key: traceKey(k) },
    ])
    expect(store.traces).toBe(0)
    expect(await store.readTrace(k)).toBeUndefined()
  })

  it('a write whose batch fails rejects STORAGE_FAILED; one that landed anyway is read back from storage, not the cache', async () => {
    const r = recording()
    const store = new ReplicaStore(r.storage, Q)
    const key = enc('k')
    const v = put(emptySet, 'a', 'v')
    await store.apply(key, v)
    expect(texts(await store.readRecord(key))).toEqual(['v'])
    r.failNext('after')
    const err = await store.apply(key, put(v, 'a', 'w')).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'STORAGE_FAILED', message: 'could not write to storage' })
    expect((err as Error).cause).toEqual(new Error('disk full'))
    expect(texts(await store.readRecord(key))).toEqual(['w'])
    // A storage error that is already a DynameshError passes through as it is.
    await r.storage.close()
    await expect(store.apply(key, put(v, 'a', 'x'))).rejects.toMatchObject({ code: 'NOT_RUNNING', message: 'memory storage is closed' })
  })

  it('a failed hint write leaves the cached record alone', async () => {
    const r = recording()
    const store = new ReplicaStore(r.storage, Q)
    const key = enc('k')
    await store.apply(key, put(emptySet, 'a', 'v'))
    const gets = r.gets.length
    r.failNext('before')
    await expect(store.apply(key, put(emptySet, 'b', 'h'), 'owner-b')).rejects.toMatchObject({ code: 'STORAGE_FAILED' })
    const getsAfter = r.gets.length
    expect(texts(await store.readRecord(key))).toEqual(['v'])
    expect(r.gets.length).toBe(getsAfter)
    expect(getsAfter - gets).toBe(1) // the hint's read
    expect(store.hints).toBe(0)
  })

  it('after fence() nothing reaches storage: writes, bulk merges, metadata, burials, purges and deletions reject NOT_RUNNING', async () => {
    const r = recording()
    const store = new ReplicaStore(r.storage, Q)
    const dead = put(emptySet, 'a', null)
    await store.apply(enc('t'), dead)
    await store.apply(enc('g'), dead)
    expect(await store.bury(store.tombstones.get(toHex(enc('g')))!)).toBe(true)
    await store.apply(enc('h'), put(emptySet, 'a', 'h'), 'owner-b')
    const hints = (await store.allHints()).get('owner-b')!
    const p = store.partitionOf(enc('t'))
    const digest = store.tree(p).get(enc('t'))!
    await store.batch([{ type: 'put', key: enc('m/x'), value: enc('1') }])
    const written = r.batches.length
    store.fence()
    const notRunning = { code: 'NOT_RUNNING', message: 'node stopped' }
    await expect(store.batch([{ type: 'put', key: enc('m/y'), value: enc('1') }])).rejects.toMatchObject(notRunning)
    await expect(store.apply(enc('k'), put(emptySet, 'a', 'v'))).rejects.toMatchObject(notRunning)
    await expect(store.apply(enc('k'), put(emptySet, 'a', 'v'), 'owner-b')).rejects.toMatchObject(notRunning)
    await expect(store.applyMany([{ key: enc('k'), set: put(emptySet, 'a', 'v') }])).rejects.toMatchObject(notRunning)
    await expect(store.bury(store.tombstones.get(toHex(enc('t')))!)).rejects.toMatchObject(notRunning)
    await expect(store.purge(store.graves.get(toHex(enc('g')))!)).rejects.toMatchObject(notRunning)
    await expect(store.deleteHints(hints)).rejects.toMatchObject(notRunning)
    await expect(store.deleteRecords(p, [{ key: enc('t'), digest }])).rejects.toMatchObject(notRunning)
    expect(r.batches.length).toBe(written)
    // What is already held still merges without a write.
    expect(texts(await store.apply(enc('t'), dead))).toEqual([])
    expect(await store.applyMany([{ key: enc('t'), set: dead }])).toHaveLength(1)
    expect(store.isGrave(enc('g'))).toBe(true)
    expect(store.hints).toBe(1)
  })
})

describe('store edges: applyMany', () => {
  it('lands only what changed: one landing, one onChange with a copy of the key, the tree and the cache for each', async () => {
    const r = recording()
    const store = new ReplicaStore(r.storage, Q)
    const changes: Array<[Uint8Array, string | undefined]> = []
    store.onChange = (key, hintFor) => void changes.push([key, hintFor])
    const held = put(emptySet, 'a', 'held')
    await store.apply(enc('k1'), held)
    changes.length = 0
    const gets = r.gets.length
    const items = [
      { key: enc('k2'), set: put(emptySet, 'a', null) },
      { key: enc('k1'), set: held },
    ]
    const out = await store.applyMany(items)
    expect(texts(out[1])).toEqual(['held'])
    expect(store.seq).toBe(2)
    expect(changes).toHaveLength(1)
    expect(dec(changes[0]![0])).toBe('k2')
    expect(changes[0]![1]).toBeUndefined()
    expect(changes[0]![0]).not.toBe(items[0]!.key)
    expect(r.batches.at(-1)).toHaveLength(1)
    expect(store.tombstones.get(toHex(enc('k2')))).toMatchObject({ seq: 2 })
    expect(store.tree(store.partitionOf(enc('k2'))).get(enc('k2'))).toEqual(digestOfEncoded(encodeSet(out[0]!)))
    const afterMany = r.gets.length
    expect(await store.readRecord(enc('k2'))).toBe(out[0])
    expect(r.gets.length).toBe(afterMany)
    expect(afterMany - gets).toBe(1) // k1 was cached; k2 read once
    // Nothing new: no batch at all.
    const batches = r.batches.length
    await store.applyMany(items)
    expect(r.batches.length).toBe(batches)
  })

  it('a batch that landed though it failed: the keys are read back from storage, not the cache', async () => {
    const r = recording()
    const store = new ReplicaStore(r.storage, Q)
    const v = put(emptySet, 'a', 'v')
    await store.apply(enc('k'), v)
    r.failNext('after')
    await expect(store.applyMany([{ key: enc('k'), set: put(v, 'a', 'w') }])).rejects.toThrow('disk full')
    expect(texts(await store.readRecord(enc('k')))).toEqual(['w'])
  })
})

describe('store edges: hints per owner', () => {
  it('counts a key once per owner however often its hint changes, and forgets an owner with its last hint', async () => {
    const store = new ReplicaStore(memoryStorage(), Q)
    const v = put(emptySet, 'a', 'v')
    await store.apply(enc('k'), v, 'owner-b')
    await store.apply(enc('k'), put(v, 'a', 'w'), 'owner-b')
    expect(store.hints).toBe(1)
    await store.apply(enc('j'), v, 'owner-b')
    await store.apply(enc('k'), v, 'owner-c')
    expect(store.hints).toBe(3)
    const all = await store.allHints()
    expect([...all.keys()].sort()).toEqual(['owner-b', 'owner-c'])
    const bk = all.get('owner-b')!.find((e) => dec(e.key) === 'k')!
    expect(texts(bk.set)).toEqual(['w'])
    expect(bk.owner).toBe('owner-b')
    expect(bk.digest).toEqual(digestOfEncoded(encodeSet(bk.set)))
    // owner-b had two: one left, it is still an owner; owner-c's hint of k still reads.
    expect(await store.deleteHints([bk])).toBe(1)
    expect(store.hints).toBe(2)
    expect([...store.hintOwners()].sort()).toEqual(['owner-b', 'owner-c'])
    expect(texts(await store.readAll(enc('k')))).toEqual(['v'])
    expect(await store.deleteHints(all.get('owner-c')!)).toBe(1)
    expect([...store.hintOwners()]).toEqual(['owner-b'])
    expect(await store.readAll(enc('k'))).toBeUndefined()
    // A hint already delivered, or changed since it was listed, is not deleted again.
    expect(await store.deleteHints([bk])).toBe(0)
    const bj = all.get('owner-b')!.find((e) => dec(e.key) === 'j')!
    await store.apply(enc('j'), put(v, 'a', 'newer'), 'owner-b')
    expect(await store.deleteHints([bj])).toBe(0)
    expect(texts(await store.readHint('owner-b', enc('j')))).toEqual(['newer'])
    expect(store.hints).toBe(1)
  })

  it('the cap counts hints only: with no room for hints records still land; the refusal names the cap and the owner', async () => {
    const store = new ReplicaStore(memoryStorage(), Q, 0)
    await store.apply(enc('k'), put(emptySet, 'a', 'v'))
    expect(texts(await store.readRecord(enc('k')))).toEqual(['v'])
    await expect(store.apply(enc('k'), put(emptySet, 'a', 'v'), 'owner-b')).rejects.toMatchObject({ code: 'OVERLOADED', message: 'already 0 hints for owner-b' })
    expect(store.hintsRefused).toBe(1)
    const two = new ReplicaStore(memoryStorage(), Q, 2)
    await two.apply(enc('a'), put(emptySet, 'a', 'v'), 'owner-b')
    await two.apply(enc('b'), put(emptySet, 'a', 'v'), 'owner-b')
    await expect(two.apply(enc('c'), put(emptySet, 'a', 'v'), 'owner-b')).rejects.toMatchObject({ code: 'OVERLOADED' })
    // A key held for another owner is still a new key for this one.
    await two.apply(enc('c'), put(emptySet, 'a', 'v'), 'owner-c')
    await expect(two.apply(enc('c'), put(emptySet, 'a', 'w'), 'owner-b')).rejects.toMatchObject({ code: 'OVERLOADED' })
    expect(two.hintsRefused).toBe(2)
  })
})

describe('store edges: tombstones and graves', () => {
  it('a tombstone lands with the landing count and the time; a value written over it is no tombstone', async () => {
    const store = new ReplicaStore(memoryStorage(), Q)
    store.now = () => 42
    const dead = put(emptySet, 'a', null)
    await store.apply(enc('x'), put(emptySet, 'a', 'v'))
    await store.apply(enc('k'), dead)
    expect(store.tombstones.get(toHex(enc('k')))).toEqual({ key: enc('k'), p: store.partitionOf(enc('k')), seq: 2, at: 42 })
    await store.apply(enc('k'), put(dead, 'a', 'back'))
    expect(store.tombstones.has(toHex(enc('k')))).toBe(false)
    // The empty set is no tombstone.
    await store.applyMany([{ key: enc('e'), set: emptySet }])
    expect(store.tombstones.has(toHex(enc('e')))).toBe(false)
  })

  it('bury takes the current tombstone out of its tree into a grave with its marker, and moves the count on; a stale or misplaced one is refused', async () => {
    const r = recording()
    const store = new ReplicaStore(r.storage, Q)
    const dead = put(emptySet, 'a', null)
    await store.apply(enc('k'), dead)
    const p = store.partitionOf(enc('k'))
    const t = store.tombstones.get(toHex(enc('k')))!
    const digest = store.tree(p).get(enc('k'))!
    // A copy of the entry is not the tombstone held; nor is one naming another partition.
    expect(await store.bury({ ...t })).toBe(false)
    const elsewhere = { ...t, p: (p + 1) % Q }
    store.tombstones.set(toHex(enc('k')), elsewhere)
    expect(await store.bury(elsewhere)).toBe(false)
    store.tombstones.set(toHex(enc('k')), t)
    store.now = () => 99.25
    expect(await store.bury(t)).toBe(true)
    expect(store.seq).toBe(2)
    const marker = new Uint8Array(24)
    marker.set(digest, 0)
    new DataView(marker.buffer).setFloat64(16, 99.25)
    expect(r.batches.at(-1)).toEqual([{ type: 'put', key: graveKey(enc('k')), value: marker }])
    expect(store.tombstones.size).toBe(0)
    expect(store.tree(p).get(enc('k'))).toBeUndefined()
    expect(store.recordCount).toBe(0)
    expect(store.heldPartitions()).toEqual([])
    expect(store.graves.get(toHex(enc('k')))).toEqual({ key: enc('k'), p, digest, since: 99.25, seq: 2 })
    expect(store.isGrave(enc('k'))).toBe(true)
    expect(await store.bury(t)).toBe(false)
  })

  it('a grave written over is a record again: back in its tree, its marker deleted', async () => {
    const storage = memoryStorage()
    const store = new ReplicaStore(storage, Q)
    const dead = put(emptySet, 'a', null)
    await store.apply(enc('k'), dead)
    await store.bury(store.tombstones.get(toHex(enc('k')))!)
    await store.apply(enc('k'), put(dead, 'b', 'back'))
    expect(store.isGrave(enc('k'))).toBe(false)
    expect(store.recordCount).toBe(1)
    await new Promise((resolve) => setTimeout(resolve, 0))
    expect(await storage.get(graveKey(enc('k')))).toBeUndefined()
  })

  it("purge deletes the grave's record and marker, keeping only this node's counter as a trace", async () => {
    const r = recording()
    const store = new ReplicaStore(r.storage, Q)
    const mine = put(emptySet, 'self', 'v')
    const dead = put(merge(mine, put(emptySet, 'other', 'w')), 'self', null)
    await store.apply(enc('k'), dead)
    await store.bury(store.tombstones.get(toHex(enc('k')))!)
    const g = store.graves.get(toHex(enc('k')))!
    expect(await store.purge({ ...g }, 'self')).toBe(false)
    expect(await store.purge(g, 'self')).toBe(true)
    expect(await store.purge(g, 'self')).toBe(false)
    expect(store.isGrave(enc('k'))).toBe(false)
    expect(await store.readRecord(enc('k'))).toBeUndefined()
    expect(await keysOf(r.storage)).toEqual(['s:k'])
    expect(store.traces).toBe(1)
    const trace = (await store.readTrace(enc('k')))!
    expect(trace).toEqual({ vv: { self: dead.vv['self'] }, siblings: [] })
    // The next write here numbers on from the trace.
    const next = await store.modify(enc('k'), undefined, (known) => put(known, 'self', 'again', 1, {}))
    expect(next.siblings.map((x) => x.dot)).toEqual([{ id: 'self', n: 3 }])
    expect(store.traces).toBe(0)
  })

  it('purge without a replica id, of a grave without its writes, or with a hint that saw them, keeps no trace', async () => {
    const store = new ReplicaStore(memoryStorage(), Q)
    const dead = put(put(emptySet, 'self', 'v'), 'self', null)
    const grave = async (k: string, set: VersionSet) => {
      await store.apply(enc(k), set)
      await store.bury(store.tombstones.get(toHex(enc(k)))!)
      return store.graves.get(toHex(enc(k)))!
    }
    expect(await store.purge(await grave('a', dead))).toBe(true)
    expect(await store.purge(await grave('b', put(emptySet, 'other', null)), 'self')).toBe(true)
    const c = await grave('c', dead)
    await store.apply(enc('c'), dead, 'owner-b')
    expect(await store.purge(c, 'self')).toBe(true)
    expect(store.traces).toBe(0)
    expect(store.recordCount).toBe(0)
    expect(await store.readRecord(enc('a'))).toBeUndefined()
  })

  it('purge leaves a record that is no longer the grave (changed or gone behind the store) and only drops the marker', async () => {
    const r = recording()
    const store = new ReplicaStore(r.storage, Q)
    const dead = put(put(emptySet, 'self', 'v'), 'self', null)
    for (const k of ['changed', 'gone']) {
      await store.apply(enc(k), dead)
      await store.bury(store.tombstones.get(toHex(enc(k)))!)
    }
    const changed = recordKey(store.partitionOf(enc('changed')), enc('changed'))
    const other = encodeSet(put(dead, 'x', 'y'))
    await store.raw.batch([{ type: 'put', key: changed, value: other }])
    await store.raw.batch([{ type: 'del', key: recordKey(store.partitionOf(enc('gone')), enc('gone')) }])
    expect(await store.purge(store.graves.get(toHex(enc('changed')))!, 'self')).toBe(true)
    expect(await store.purge(store.graves.get(toHex(enc('gone')))!, 'self')).toBe(true)
    expect(await r.storage.get(changed)).toEqual(other)
    expect(await keysOf(r.storage)).toEqual(['r:' + dec(changed.subarray(1))])
    expect(store.traces).toBe(0)
  })
})

describe('store edges: records leaving', () => {
  it('deleteRecords deletes records still at the digest transferred, from storage, tree, cache and tombstones', async () => {
    const r = recording()
    const store = new ReplicaStore(r.storage, Q)
    const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map(enc)
    const p = store.partitionOf(keys[0]!)
    const same = keys.filter((k) => store.partitionOf(k) === p)
    expect(same.length).toBeGreaterThan(0)
    const k = same[0]!
    const dead = put(emptySet, 'a', null)
    await store.apply(k, dead)
    expect(store.heldPartitions()).toEqual([p])
    const digest = store.tree(p).get(k)!
    expect(await store.deleteRecords(p, [{ key: k, digest: new Uint8Array(16) }])).toBe(0)
    expect(await store.deleteRecords((p + 1) % Q, [{ key: k, digest }])).toBe(0)
    expect(store.recordCount).toBe(1)
    expect(await store.deleteRecords(p, [{ key: k, digest }])).toBe(1)
    expect(r.batches.at(-1)).toEqual([{ type: 'del', key: recordKey(p, k) }])
    expect(store.recordCount).toBe(0)
    expect(store.heldPartitions()).toEqual([])
    expect(store.tombstones.size).toBe(0)
    expect(await store.readRecord(k)).toBeUndefined()
    expect(store.traces).toBe(0)
  })

  it("deleteRecords keeps a trace of this node's writes unless a hint here saw them; traces of two copies leaving merge", async () => {
    const store = new ReplicaStore(memoryStorage(), Q)
    const k = enc('k')
    const p = store.partitionOf(k)
    const mine = await store.modify(k, undefined, (known) => put(known, 'self', 'rec', 1, {}))
    const hinted = await store.modify(k, 'owner-b', (known) => put(known, 'self', 'hint', 2, {}))
    expect(hinted.siblings).toHaveLength(2)
    // The hint saw the record's write: no trace when the record leaves.
    expect(await store.deleteRecords(p, [{ key: k, digest: store.tree(p).get(k)! }], 'self')).toBe(1)
    expect(store.traces).toBe(0)
    await store.apply(k, mine)
    // A hint saw less than the record: the record leaving is traced, then the hint leaving merges in.
    const j = enc('j')
    const pj = store.partitionOf(j)
    const first = await store.modify(j, 'owner-b', (known) => put(known, 'self', 'one', 1, {}))
    await store.apply(j, put(first, 'self', 'two', 2, {}))
    expect(await store.deleteRecords(pj, [{ key: j, digest: store.tree(pj).get(j)! }], 'self')).toBe(1)
    expect(store.traces).toBe(1)
    expect(texts(await store.readTrace(j))).toEqual(['one', 'two'])
    await store.apply(j, put(emptySet, 'other', 'o'), 'owner-c')
    const hint = (await store.allHints()).get('owner-b')!.filter((e) => dec(e.key) === 'j')
    expect(await store.deleteHints(hint, 'self')).toBe(1)
    expect(texts(await store.readTrace(j))).toEqual(['one', 'two'])
    // Without a replica id nothing is traced.
    const q = store.partitionOf(k)
    expect(await store.deleteRecords(q, [{ key: k, digest: store.tree(q).get(k)! }])).toBe(1)
    expect(store.traces).toBe(1)
  })

  it('a hint leaving while a hint for another owner, or the record, has seen as much leaves no trace; one that saw less does', async () => {
    const store = new ReplicaStore(memoryStorage(), Q)
    const k = enc('k')
    const mine = await store.modify(k, 'owner-b', (known) => put(known, 'self', 'v', 1, {}))
    await store.apply(k, mine, 'owner-c')
    const b = (await store.allHints()).get('owner-b')!
    expect(await store.deleteHints(b, 'self')).toBe(1)
    expect(store.traces).toBe(0)
    // owner-c's copy now saw less than the new hint for b.
    await store.modify(k, 'owner-b', (known) => put(known, 'self', 'w', 1, known.vv))
    const b2 = (await store.allHints()).get('owner-b')!
    expect(await store.deleteHints(b2, 'self')).toBe(1)
    expect(store.traces).toBe(1)
    expect(texts(await store.readTrace(k))).toEqual(['w'])
  })

  it("a set that supersedes some of a trace's siblings shrinks it to the rest; one that holds them or misses them leaves it", async () => {
    const r = recording()
    const store = new ReplicaStore(r.storage, Q)
    const k = enc('k')
    const one = await store.modify(k, 'owner-b', (known) => put(known, 'self', 'one', 1, {}))
    const two = await store.modify(k, 'owner-b', (known) => put(known, 'self', 'two', 1, {}))
    expect(texts(two)).toEqual(['one', 'two'])
    await store.deleteHints((await store.allHints()).get('owner-b')!, 'self')
    expect(texts(await store.readTrace(k))).toEqual(['one', 'two'])
    // Holds both (has seen them and keeps them): the trace stays as it is, no trace write.
    const batches = r.batches.length
    await store.apply(k, two, 'owner-c')
    expect(r.batches.length - batches).toBe(1)
    expect(texts(await store.readTrace(k))).toEqual(['one', 'two'])
    // Has not seen 'two', superseded 'one': 'two' stays.
    const over = put(one, 'other', 'x', 3)
    await store.apply(k, over, 'owner-c')
    expect(texts(await store.readTrace(k))).toEqual(['two'])
    expect((await store.readTrace(k))!.vv['self']!.n).toBe(2)
    await store.applyMany([{ key: k, set: put(two, 'other', 'y', 4) }])
    expect((await store.readTrace(k))!.siblings).toEqual([])
  })

  it('a trace is not shrunk once fenced', async () => {
    const r = recording()
    const store = new ReplicaStore(r.storage, Q)
    const k = enc('k')
    const one = await store.modify(k, 'owner-b', (known) => put(known, 'self', 'one', 1, {}))
    await store.deleteHints((await store.allHints()).get('owner-b')!, 'self')
    store.fence()
    const batches = r.batches.length
    await expect(store.apply(k, put(one, 'other', 'x', 3))).rejects.toMatchObject({ code: 'NOT_RUNNING' })
    await expect(store.applyMany([{ key: k, set: put(one, 'other', 'x', 3) }])).rejects.toMatchObject({ code: 'NOT_RUNNING' })
    expect(r.batches.length).toBe(batches)
    expect(texts(await store.readTrace(k))).toEqual(['one'])
  })

  it('records() decodes and encodedRecords() hands the stored bytes of one partition, graves left out of the latter', async () => {
    const store = new ReplicaStore(memoryStorage(), Q)
    const keys = Array.from({ length: 40 }, (_, i) => enc(`k${i}`))
    const p = store.partitionOf(keys[0]!)
    const mine = keys.filter((k) => store.partitionOf(k) === p).slice(0, 3)
    expect(mine).toHaveLength(3)
    const other = keys.find((k) => store.partitionOf(k) !== p)!
    await store.apply(other, put(emptySet, 'a', 'elsewhere'))
    for (const k of mine) await store.apply(k, put(emptySet, 'a', dec(k)))
    await store.apply(mine[1]!, put((await store.readRecord(mine[1]!))!, 'a', null))
    await store.bury(store.tombstones.get(toHex(mine[1]!))!)
    const sorted = [...mine].map(dec).sort()
    const decoded: string[] = []
    for await (const r of store.records(p)) {
      decoded.push(dec(r.key))
      expect(r.digest).toEqual(digestOfEncoded(encodeSet(r.set)))
    }
    expect(decoded).toEqual(sorted)
    const raw: Array<[string, Uint8Array]> = []
    for await (const r of store.encodedRecords(p)) raw.push([dec(r.key), r.rec])
    expect(raw.map(([k]) => k)).toEqual(sorted.filter((k) => k !== dec(mine[1]!)))
    for (const [k, rec] of raw) expect(texts(decodeSet(rec))).toEqual([k])
  })
})

describe('store edges: partitions held and counts', () => {
  it('heldPartitions follows trees becoming non-empty and empty; recordCount sums them', async () => {
    const store = new ReplicaStore(memoryStorage(), Q)
    const keys = Array.from({ length: 40 }, (_, i) => enc(`k${i}`))
    const a = keys[0]!
    const b = keys.find((k) => store.partitionOf(k) !== store.partitionOf(a))!
    const a2 = keys.find((k) => k !== a && store.partitionOf(k) === store.partitionOf(a))!
    expect(store.heldPartitions()).toEqual([])
    await store.apply(a, put(emptySet, 'x', 'v'))
    expect(store.heldPartitions()).toEqual([store.partitionOf(a)])
    await store.apply(a2, put(emptySet, 'x', 'v'))
    await store.apply(b, put(emptySet, 'x', 'v'))
    expect([...store.heldPartitions()].sort((x, y) => x - y)).toEqual([store.partitionOf(a), store.partitionOf(b)].sort((x, y) => x - y))
    expect(store.recordCount).toBe(3)
    const pa = store.partitionOf(a)
    await store.deleteRecords(pa, [{ key: a, digest: store.tree(pa).get(a)! }])
    expect(store.heldPartitions()).toContain(pa)
    await store.deleteRecords(pa, [{ key: a2, digest: store.tree(pa).get(a2)! }])
    expect(store.heldPartitions()).toEqual([store.partitionOf(b)])
    expect(store.recordCount).toBe(1)
  })
})

/** A memory storage whose batches wait until released, one by one, in the order they came. */
function gated() {
  const inner = memoryStorage()
  const waiting: Array<() => void> = []
  const storage: Storage = {
    ...inner,
    get: (k) => inner.get(k),
    iterate: (r) => inner.iterate(r),
    close: () => inner.close(),
    async batch(ops) {
      await new Promise<void>((resolve) => waiting.push(resolve))
      await inner.batch(ops)
    },
  }
  const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0))
  /** Lets the oldest waiting batch land, then lets everything that follows from it run. */
  const release = async (): Promise<void> => {
    await settle()
    waiting.shift()?.()
    await settle()
  }
  return { storage, release, settle, pending: () => waiting.length }
}

describe('store edges: locks', () => {
  it('merges into one key one at a time, also for a third caller that comes while the second runs', async () => {
    const g = gated()
    const store = new ReplicaStore(g.storage, Q)
    const k = enc('k')
    const a = store.apply(k, put(emptySet, 'a', 'x'))
    const b = store.apply(k, put(emptySet, 'b', 'y'))
    await g.settle()
    expect(g.pending()).toBe(1)
    await g.release()
    await a
    const c = store.modify(k, undefined, (known) => merge(known, put(emptySet, 'c', 'z')))
    await g.settle()
    expect(g.pending()).toBe(1)
    await g.release()
    await g.release()
    await Promise.all([b, c])
    expect(texts(await store.readRecord(k))).toEqual(['x', 'y', 'z'])
  })

  it('a bulk merge waits for a single merge of its keys, and a single merge waits for it, also one that comes while a later one runs', async () => {
    const g = gated()
    const store = new ReplicaStore(g.storage, Q)
    const k = enc('k')
    const j = enc('j')
    const a = store.apply(k, put(emptySet, 'a', 'x'))
    const b = store.applyMany([
      { key: k, set: put(emptySet, 'b', 'y') },
      { key: j, set: put(emptySet, 'b', 'y') },
    ])
    const c = store.apply(j, put(emptySet, 'c', 'z'))
    await g.settle()
    expect(g.pending()).toBe(1)
    await g.release()
    await a
    await g.settle()
    expect(g.pending()).toBe(1)
    await g.release()
    await b
    // c runs now; d, on the same key, must wait for it.
    await g.settle()
    const d = store.apply(j, put(emptySet, 'd', 'w'))
    await g.settle()
    expect(g.pending()).toBe(1)
    await g.release()
    await g.release()
    await Promise.all([c, d])
    expect(texts(await store.readRecord(k))).toEqual(['x', 'y'])
    expect(texts(await store.readRecord(j))).toEqual(['w', 'y', 'z'])
  })

  it('a bulk merge holds its keys until done: a merge that comes after it waits, also after a caller behind it', async () => {
    const g = gated()
    const store = new ReplicaStore(g.storage, Q)
    const k = enc('k')
    const a = store.applyMany([{ key: k, set: put(emptySet, 'a', 'x') }])
    const b = store.apply(k, put(emptySet, 'b', 'y'))
    await g.settle()
    expect(g.pending()).toBe(1)
    await g.release()
    await a
    const c = store.applyMany([{ key: k, set: put(emptySet, 'c', 'z') }])
    await g.settle()
    expect(g.pending()).toBe(1)
    await g.release()
    await g.release()
    await Promise.all([b, c])
    expect(texts(await store.readRecord(k))).toEqual(['x', 'y', 'z'])
  })

  it('a merge that throws releases its key for the next', async () => {
    const store = new ReplicaStore(memoryStorage(), Q, 0)
    const k = enc('k')
    const refused = store.apply(k, put(emptySet, 'a', 'x'), 'owner-b')
    const next = store.apply(k, put(emptySet, 'a', 'y'))
    await expect(refused).rejects.toMatchObject({ code: 'OVERLOADED' })
    expect(texts(await next)).toEqual(['y'])
    const again = store.withLock(k, async () => 'after')
    expect(await again).toBe('after')
  })
})

describe('store edges: what a caller can rely on', () => {
  it('a tombstone keeps its own copy of the key, and lands at time 0 on a store whose clock was never set', async () => {
    const store = new ReplicaStore(memoryStorage(), Q)
    const key = enc('k')
    await store.apply(key, put(emptySet, 'a', null))
    key[0] = 0x7a
    expect(store.tombstones.get(toHex(enc('k')))).toEqual({ key: enc('k'), p: store.partitionOf(enc('k')), seq: 1, at: 0 })
  })

  it('heldPartitions hands the same list until a tree becomes empty or non-empty', async () => {
    const store = new ReplicaStore(memoryStorage(), Q)
    const keys = Array.from({ length: 40 }, (_, i) => enc(`k${i}`))
    const a = keys[0]!
    const a2 = keys.find((k) => k !== a && store.partitionOf(k) === store.partitionOf(a))!
    const b = keys.find((k) => store.partitionOf(k) !== store.partitionOf(a))!
    const p = store.partitionOf(a)
    await store.apply(a, put(emptySet, 'x', 'v'))
    const first = store.heldPartitions()
    expect(store.heldPartitions()).toBe(first)
    await store.apply(a2, put(emptySet, 'x', 'v'))
    expect(store.heldPartitions()).toBe(first)
    await store.deleteRecords(p, [{ key: a2, digest: store.tree(p).get(a2)! }])
    expect(store.heldPartitions()).toBe(first)
    await store.apply(b, put(emptySet, 'x', 'v'))
    const second = store.heldPartitions()
    expect(second).not.toBe(first)
    expect(second).toHaveLength(2)
  })

  it('a bulk merge does the same whatever order its items come in', async () => {
    const run = async (reverse: boolean) => {
      const r = recording()
      const store = new ReplicaStore(r.storage, Q)
      const changed: string[] = []
      store.onChange = (key) => void changed.push(dec(key))
      const items = ['k3', 'k1', 'k4', 'k2'].map((k) => ({ key: enc(k), set: put(emptySet, 'a', k) }))
      await store.applyMany(reverse ? [...items].reverse() : items)
      return { ops: r.batches, changed }
    }
    const one = await run(false)
    const two = await run(true)
    expect(two).toEqual(one)
  })

  it('forgets the locks of keys no longer worked on, and the owners of keys no longer hinted', async () => {
    const store = new ReplicaStore(memoryStorage(), Q)
    const inside = store as unknown as { locks: Map<string, unknown>; hintIndex: Map<string, unknown> }
    const k = enc('k')
    await Promise.all([store.apply(k, put(emptySet, 'a', 'x')), store.apply(k, put(emptySet, 'b', 'y')), store.applyMany([{ key: k, set: put(emptySet, 'c', 'z') }])])
    await store.applyMany([{ key: k, set: put(emptySet, 'd', 'w') }])
    await store.apply(k, put(emptySet, 'e', 'v'))
    expect(inside.locks.size).toBe(0)
    await store.apply(k, put(emptySet, 'a', 'x'), 'owner-b')
    expect(inside.hintIndex.size).toBe(1)
    await store.deleteHints((await store.allHints()).get('owner-b')!)
    expect(inside.hintIndex.size).toBe(0)
    expect(inside.locks.size).toBe(0)
    await store.applyMany([{ key: enc('m'), set: put(emptySet, 'a', 'x') }])
    expect(inside.locks.size).toBe(0)
  })
})

describe('store edges: batches that landed though storage reported a failure', () => {
  it('a hint deletion: the owner stays listed, and reads and traces skip the hint that is gone', async () => {
    const r = recording()
    const store = new ReplicaStore(r.storage, Q)
    const k = enc('k')
    const mine = await store.modify(k, undefined, (known) => put(known, 'self', 'rec', 1, {}))
    await store.apply(k, mine, 'owner-c')
    await store.apply(k, put(emptySet, 'other', 'h'), 'owner-b')
    r.failNext('after')
    await expect(store.deleteHints((await store.allHints()).get('owner-b')!)).rejects.toThrow('disk full')
    expect(store.hints).toBe(2)
    expect(texts(await store.readAll(k))).toEqual(['rec'])
    // The record leaves; owner-c's hint saw it, owner-b's is gone: no trace, and no error.
    const p = store.partitionOf(k)
    expect(await store.deleteRecords(p, [{ key: k, digest: store.tree(p).get(k)! }], 'self')).toBe(1)
    expect(store.traces).toBe(0)
  })

  it('a hint write: the hint is in storage but not counted, and is delivered and deleted like any other', async () => {
    const r = recording()
    const store = new ReplicaStore(r.storage, Q)
    r.failNext('after')
    await expect(store.apply(enc('k'), put(emptySet, 'a', 'v'), 'owner-b')).rejects.toMatchObject({ code: 'STORAGE_FAILED' })
    expect(store.hints).toBe(0)
    const listed = (await store.allHints()).get('owner-b')!
    expect(listed).toHaveLength(1)
    expect(await store.deleteHints(listed)).toBe(1)
    expect(store.hints).toBe(0)
    expect([...store.hintOwners()]).toEqual([])
    expect(await store.readHint('owner-b', enc('k'))).toBeUndefined()
  })

  it('a write that dropped a trace: the key is still listed as traced, and a later merge finds no trace to shrink', async () => {
    const r = recording()
    const store = new ReplicaStore(r.storage, Q)
    const k = enc('k')
    const one = await store.modify(k, 'owner-b', (known) => put(known, 'self', 'one', 1, {}))
    await store.deleteHints((await store.allHints()).get('owner-b')!, 'self')
    r.failNext('after')
    await expect(store.modify(k, undefined, (known) => put(known, 'self', 'two', 1, {}))).rejects.toMatchObject({ code: 'STORAGE_FAILED' })
    expect(store.traces).toBe(1)
    expect(await store.readTrace(k)).toBeUndefined()
    expect(texts(await store.apply(k, put(one, 'other', 'x', 3)))).toEqual(['two', 'x'])
    const [merged] = await store.applyMany([{ key: k, set: put(one, 'another', 'y', 4) }])
    expect(texts(merged)).toEqual(['two', 'x', 'y'])
  })

  it('a write over a grave: the grave is kept, and its purge leaves the record that replaced it', async () => {
    const r = recording()
    const store = new ReplicaStore(r.storage, Q)
    const k = enc('k')
    const dead = put(put(emptySet, 'self', 'v'), 'self', null)
    await store.apply(k, dead)
    await store.bury(store.tombstones.get(toHex(k))!)
    r.failNext('after')
    await expect(store.apply(k, put(dead, 'self', 'back'))).rejects.toMatchObject({ code: 'STORAGE_FAILED' })
    expect(store.isGrave(k)).toBe(true)
    expect(await store.purge(store.graves.get(toHex(k))!, 'self')).toBe(true)
    expect(texts(await store.readRecord(k))).toEqual(['back'])
    expect(store.traces).toBe(0)
    expect(await keysOf(r.storage)).toEqual(['r:' + dec(recordKey(store.partitionOf(k), k).subarray(1))])
  })

  it('a purge: the grave is still listed, and purged again finds no record', async () => {
    const r = recording()
    const store = new ReplicaStore(r.storage, Q)
    const k = enc('k')
    await store.apply(k, put(put(emptySet, 'self', 'v'), 'self', null))
    await store.bury(store.tombstones.get(toHex(k))!)
    const g = store.graves.get(toHex(k))!
    r.failNext('after')
    await expect(store.purge(g, 'self')).rejects.toThrow('disk full')
    expect(store.isGrave(k)).toBe(true)
    expect(await store.purge(g, 'self')).toBe(true)
    expect(store.isGrave(k)).toBe(false)
    expect(r.batches.at(-1)).toEqual([{ type: 'del', key: graveKey(k) }])
  })
})

describe('store edges: copies leaving without writes of this node read nothing more', () => {
  it('a hint or a record without an entry of this node, or with no replica id given, costs no reads beyond its own', async () => {
    const storage = memoryStorage()
    const first = new ReplicaStore(storage, Q)
    const k = enc('k')
    const j = enc('j')
    await first.apply(k, put(emptySet, 'other', 'rec'))
    await first.apply(k, put(emptySet, 'other', 'hb'), 'owner-b')
    await first.apply(k, put(emptySet, 'other', 'hc'), 'owner-c')
    await first.apply(j, put(emptySet, 'other', 'rec'))
    await first.apply(j, put(emptySet, 'other', 'hc'), 'owner-c')
    const r = recording(storage)
    const store = new ReplicaStore(r.storage, Q)
    await store.open()
    const gets = (): string[] => r.gets.splice(0).map((g) => dec(g))
    const hints = await store.allHints()
    expect(await store.deleteHints(hints.get('owner-b')!, 'self')).toBe(1)
    expect(gets()).toEqual([dec(hintKey('owner-b', k))])
    const p = store.partitionOf(k)
    expect(await store.deleteRecords(p, [{ key: k, digest: store.tree(p).get(k)! }])).toBe(1)
    expect(gets()).toEqual([])
    const pj = store.partitionOf(j)
    expect(await store.deleteRecords(pj, [{ key: j, digest: store.tree(pj).get(j)! }], 'self')).toBe(1)
    expect(gets()).toEqual([dec(recordKey(pj, j))])
    expect(store.traces).toBe(0)
    // Without a replica id, a hint even of a replica named 'undefined' reads nothing more.
    await store.apply(j, put(emptySet, 'undefined', 'u'), 'owner-d')
    gets()
    expect(await store.deleteHints((await store.allHints()).get('owner-d')!)).toBe(1)
    expect(gets()).toEqual([dec(hintKey('owner-d', j))])
  })

  it('a record with a write of this node and no hints or trace reads only itself', async () => {
    const { r, store, k, p } = await reopenedWithOwnRecord()
    expect(await store.deleteRecords(p, [{ key: k, digest: store.tree(p).get(k)! }], 'self')).toBe(1)
    expect(r.gets.map(dec)).toEqual([dec(recordKey(p, k))])
    expect(store.traces).toBe(1)
  })

  it("purge without a replica id keeps no trace and reads no hints, even of a replica named 'undefined'", async () => {
    const r = recording()
    const store = new ReplicaStore(r.storage, Q)
    const k = enc('k')
    const dead = put(put(emptySet, 'undefined', 'v'), 'undefined', null)
    await store.apply(k, dead)
    await store.apply(k, dead, 'owner-b')
    await store.bury(store.tombstones.get(toHex(k))!)
    r.gets.length = 0
    expect(await store.purge(store.graves.get(toHex(k))!)).toBe(true)
    expect(r.gets.map(dec)).toEqual([dec(recordKey(store.partitionOf(k), k))])
    expect(store.traces).toBe(0)
  })

  it('a record deletion that landed though it failed is done again without error, and traces nothing it cannot read', async () => {
    const { r, store, k, p } = await reopenedWithOwnRecord()
    const digest = store.tree(p).get(k)!
    r.failNext('after')
    await expect(store.deleteRecords(p, [{ key: k, digest }])).rejects.toThrow('disk full')
    expect(store.recordCount).toBe(1)
    expect(await store.deleteRecords(p, [{ key: k, digest }], 'self')).toBe(1)
    expect(store.recordCount).toBe(0)
    expect(store.traces).toBe(0)
  })
})
