/**
 * node/meta.ts over memory storage: a fresh storage gets a new incarnation named for the node and a
 * random suffix at epoch 0; a clean stop keeps the epoch and any other ending moves it on; metadata
 * that is unreadable or malformed starts a new incarnation; members are stored one a key under
 * 'm/member/', read back as plain copies, and every malformed or unreadable entry is skipped.
 */
import { Packr } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import type { MemberEntry } from '../../src/core/membership.js'
import { loadMembers, loadMeta, saveMembers, saveMeta, type Meta } from '../../src/node/meta.js'
import { memoryStorage } from '../../src/storage/memory.js'
import { asNodeId, type BatchOp, type Env, type Storage } from '../../src/types.js'

const packr = new Packr({ useRecords: false, mapsAsObjects: true })
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
const envWith = (random: number): Env => ({ now: () => 0, setTimer: () => () => {}, random: () => random })
const SELF = bytes('m/self')
const readSelf = async (s: Storage): Promise<unknown> => packr.unpack((await s.get(SELF))!)
const entry = (id: string, version = 1): MemberEntry => ({ id: asNodeId(id), weight: 1, status: 'up', version })

/** A storage that records the batches it is given. */
const recording = (): { storage: Storage; batches: BatchOp[][] } => {
  const storage = memoryStorage()
  const batches: BatchOp[][] = []
  return {
    batches,
    storage: {
      ...storage,
      get: (k) => storage.get(k),
      iterate: (r) => storage.iterate(r),
      close: () => storage.close(),
      batch: (ops) => {
        batches.push(ops)
        return storage.batch(ops)
      },
    },
  }
}

describe('meta edges: loadMeta', () => {
  it('names a fresh incarnation for the first 16 characters of the id and 8 hex digits of randomness, at epoch 0, open and stored', async () => {
    const s = memoryStorage()
    const m = await loadMeta(s, 'abcdefghijklmnopqrstuvwxyz', envWith(0.5))
    expect(m).toEqual({ incarnation: 'abcdefghijklmnop~7fffffff', epoch: 0, open: true })
    expect(await readSelf(s)).toEqual(m)
    expect((await loadMeta(memoryStorage(), 'n', envWith(0))).incarnation).toBe('n~00000000')
    expect((await loadMeta(memoryStorage(), 'n', envWith(1 / 0x100000000))).incarnation).toBe('n~00000000')
    expect((await loadMeta(memoryStorage(), 'n', envWith(0.999999999999))).incarnation).toBe('n~fffffffe')
    expect((await loadMeta(memoryStorage(), 'n', envWith(0.0001))).incarnation).toBe('n~00068db8')
  })

  it('keeps the incarnation and epoch after a clean stop, and moves the epoch on after any other ending', async () => {
    const s = memoryStorage()
    await saveMeta(s, { incarnation: 'x~1', epoch: 4, open: false })
    expect(await loadMeta(s, 'other', envWith(0.5))).toEqual({ incarnation: 'x~1', epoch: 4, open: true })
    expect(await loadMeta(s, 'other', envWith(0.5))).toEqual({ incarnation: 'x~1', epoch: 5, open: true })
    await saveMeta(s, { incarnation: 'x~1', epoch: 7 })
    expect(await loadMeta(s, 'other', envWith(0.5))).toEqual({ incarnation: 'x~1', epoch: 8, open: true })
    expect(await readSelf(s)).toEqual({ incarnation: 'x~1', epoch: 8, open: true })
  })

  it('starts a new incarnation over metadata it cannot read or trust', async () => {
    const bad: unknown[] = [{ incarnation: 7, epoch: 1, open: false }, { incarnation: 'x~1', epoch: 1.5, open: false }, { epoch: 1, open: false }, 'text']
    for (const meta of bad) {
      const s = memoryStorage()
      await s.batch([{ type: 'put', key: SELF, value: packr.pack(meta) }])
      expect(await loadMeta(s, 'n', envWith(0))).toEqual({ incarnation: 'n~00000000', epoch: 0, open: true })
    }
    const s = memoryStorage()
    await s.batch([{ type: 'put', key: SELF, value: Uint8Array.of(0xc1) }])
    expect(await loadMeta(s, 'n', envWith(0))).toEqual({ incarnation: 'n~00000000', epoch: 0, open: true })
  })

  it('stores only the metadata, under m/self', async () => {
    const { storage, batches } = recording()
    const m: Meta = { incarnation: 'i', epoch: 2, open: false }
    await saveMeta(storage, m)
    expect(batches).toHaveLength(1)
    expect(batches[0]!.map((op) => [op.type, op.key])).toEqual([['put', SELF]])
  })
})

describe('meta edges: members', () => {
  it('stores each member under m/member/ and its id, in one batch, and no batch for none', async () => {
    const { storage, batches } = recording()
    await saveMembers(storage, [])
    expect(batches).toHaveLength(0)
    await saveMembers(storage, [entry('a'), entry('b', 3)])
    expect(batches).toHaveLength(1)
    expect(batches[0]!.map((op) => [op.type, op.key])).toEqual([
      ['put', bytes('m/member/a')],
      ['put', bytes('m/member/b')],
    ])
    expect(await loadMembers(storage)).toEqual([entry('a'), entry('b', 3)])
  })

  it('encodes an entry once: storing it again hands over the same bytes', async () => {
    const { storage, batches } = recording()
    const e = entry('once')
    await saveMembers(storage, [e])
    await saveMembers(storage, [e, entry('once')])
    const values = batches.map((ops) => ops.map((op) => (op.type === 'put' ? op.value : undefined)))
    expect(values[1]![0]).toBe(values[0]![0])
    expect(values[1]![1]).not.toBe(values[0]![0])
    expect(values[1]![1]).toEqual(values[0]![0])
  })

  it('reads back only entries under m/member/', async () => {
    const s = memoryStorage()
    await saveMembers(s, [entry('in')])
    await s.batch([
      { type: 'put', key: bytes('m/member0'), value: packr.pack(entry('after')) },
      { type: 'put', key: bytes('m/member.'), value: packr.pack(entry('before')) },
      { type: 'put', key: bytes('m/member/'), value: packr.pack(entry('empty-id')) },
    ])
    expect((await loadMembers(s)).map((m) => m.id)).toEqual(['empty-id', 'in'])
  })

  it('reads key, signature and credential back as plain Uint8Array copies', async () => {
    const s = memoryStorage()
    const signed: MemberEntry = { ...entry('k'), key: Uint8Array.of(1, 2), sig: Uint8Array.of(3), cred: Uint8Array.of(4, 5) }
    await saveMembers(s, [signed])
    const [back] = await loadMembers(s)
    expect(back).toEqual(signed)
    for (const f of [back!.key, back!.sig, back!.cred]) expect(Object.getPrototypeOf(f)).toBe(Uint8Array.prototype)
  })

  it('keeps a signature and a credential only with a key, and a credential only with a signature too', async () => {
    const s = memoryStorage()
    await saveMembers(s, [
      { ...entry('c'), cred: Uint8Array.of(4) },
      { ...entry('s'), sig: Uint8Array.of(3) },
      { ...entry('sc'), sig: Uint8Array.of(3), cred: Uint8Array.of(4) },
    ])
    const back = await loadMembers(s)
    expect(back).toEqual([entry('c'), entry('s'), entry('sc')])
    for (const e of back) expect(Object.keys(e).sort()).toEqual(['id', 'status', 'version', 'weight'])
  })

  it('takes every status and skips each kind of malformed or unreadable entry', async () => {
    const s = memoryStorage()
    const good = (['joining', 'up', 'leaving', 'left'] as const).map((status, i) => ({ ...entry(`good-${i}`), status }))
    const bad: Record<string, unknown> = {
      id: { ...entry('x'), id: 7 },
      version: { ...entry('x'), version: 1.5 },
      weight: { ...entry('x'), weight: '1' },
      status: { ...entry('x'), status: 'gone' },
      keyNoSig: { ...entry('x'), key: Uint8Array.of(1) },
      keyText: { ...entry('x'), key: 'k', sig: Uint8Array.of(1) },
      credText: { ...entry('x'), cred: 'c' },
      nil: null,
    }
    await saveMembers(s, good)
    await s.batch([
      ...Object.entries(bad).map(([name, m]): BatchOp => ({ type: 'put', key: bytes(`m/member/bad-${name}`), value: packr.pack(m) })),
      { type: 'put', key: bytes('m/member/bad-bytes'), value: Uint8Array.of(0xc1) },
    ])
    expect(await loadMembers(s)).toEqual(good)
  })
})
