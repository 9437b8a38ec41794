/**
 * Tombstone collection (node/collect.ts): a tombstone goes once every replica of its partition is
 * known to hold it, learned through anti-entropy, and not while a replica is out of reach. What is
 * counted is what storage holds, not what a node reports.
 */
import { describe, expect, it } from 'vitest'
import { createNode, memoryStorage, type DynameshNode, type Storage } from '../../src/index.js'
import { createSimNetwork } from '../../src/sim/index.js'

const HORIZON = 30_000
const IDS = ['a', 'b', 'c']

/** Stored records ('r' keys) and graves ('g' keys) of a storage. */
async function count(storage: Storage): Promise<{ records: number; graves: number }> {
  let records = 0
  let graves = 0
  for await (const [k] of storage.iterate({})) {
    if (k[0] === 0x72) records++
    if (k[0] === 0x67) graves++
  }
  return { records, graves }
}

async function cluster(seed: number, horizonOf: (id: string) => number = () => HORIZON, extra: { graveMs?: number; removeAfterMs?: number } = {}) {
  const net = createSimNetwork({ seed, latencyMs: [1, 5] })
  const storages = new Map<string, Storage>()
  for (const id of IDS) {
    const storage = memoryStorage()
    storages.set(id, storage)
    await createNode({ storage, ...net.join(id), n: 3, r: 2, w: 2, antiEntropyMs: 1000, tombstoneMs: horizonOf(id), graveMs: horizonOf(id), ...extra })
  }
  await net.settle({ quietMs: 2000 })
  const node = (id: string): DynameshNode => net.node(id) as DynameshNode
  for (let i = 0; i < 40; i++) await node('a').put(`k${i}`, `v${i}`, { w: 3 })
  return { net, node, storages }
}

describe('tombstone collection', () => {
  it('removes a tombstone from every replica once all hold it, and the key can be written again', async () => {
    const { net, node, storages } = await cluster(11)
    for (let i = 0; i < 20; i++) {
      const { context } = await node('b').get(`k${i}`)
      await node('b').delete(`k${i}`, { context, w: 3 })
    }
    for (const id of IDS) expect((await count(storages.get(id)!)).records).toBe(40)
    // Kept a horizon, buried once every fellow replica is shown to hold it, deleted a horizon later.
    await net.advance(3 * HORIZON)
    for (const id of IDS) {
      expect(await count(storages.get(id)!)).toEqual({ records: 20, graves: 0 })
      expect(node(id).inspect().records).toBe(20)
    }
    for (let i = 0; i < 40; i++) {
      const got = await node('c').get(`k${i}`)
      expect(got.values.map((v) => new TextDecoder().decode(v))).toEqual(i < 20 ? [] : [`v${i}`])
    }
    // A key written again after its tombstone went: a new version every replica takes.
    await node('b').put('k3', 'again', { w: 3 })
    await node('a').put('k4', 'again', { w: 3 })
    await net.advance(5000)
    for (const id of IDS) {
      expect((await node(id).get('k3', { r: 1, n: 1 })).values.map((v) => new TextDecoder().decode(v))).toEqual(['again'])
      expect((await node(id).get('k4', { r: 1, n: 1 })).values.map((v) => new TextDecoder().decode(v))).toEqual(['again'])
    }
    const roots = IDS.map((id) => JSON.stringify(node(id).inspect().roots))
    expect(new Set(roots).size).toBe(1)
    for (const id of IDS) await node(id).stop()
    await net.stop()
  })

  it('keeps tombstones while a replica is cut off, and collects them once it has them', async () => {
    const { net, node, storages } = await cluster(12)
    net.partition(['a', 'b'], ['c'])
    await net.advance(5000)
    for (let i = 0; i < 20; i++) {
      const { context } = await node('a').get(`k${i}`)
      await node('a').delete(`k${i}`, { context, w: 2 })
    }
    await net.advance(4 * HORIZON)
    // c never showed it holds them: a and b keep every tombstone.
    for (const id of IDS) expect((await count(storages.get(id)!)).records).toBe(40)
    net.heal()
    await net.advance(4 * HORIZON)
    for (const id of IDS) expect(await count(storages.get(id)!)).toEqual({ records: 20, graves: 0 })
    for (let i = 0; i < 20; i++) expect((await node('c').get(`k${i}`, { r: 1, n: 1 })).values).toEqual([])
    for (const id of IDS) await node(id).stop()
    await net.stop()
  })
})

describe('graves', () => {
  it('are not deleted while a fellow replica still compares their tombstone', async () => {
    // c keeps its tombstones ten horizons before burying them; a and b bury after one.
    const { net, node, storages } = await cluster(16, (id) => (id === 'c' ? 10 * HORIZON : HORIZON))
    for (let i = 0; i < 20; i++) {
      const { context } = await node('a').get(`k${i}`)
      await node('a').delete(`k${i}`, { context, w: 3 })
    }
    await net.advance(2 * HORIZON)
    // Deleted, a's and b's graves would come back from c as tombstones, and go and come again.
    for (let t = 0; t < 12; t++) {
      for (const id of ['a', 'b']) expect(await count(storages.get(id)!), `${id} at ${2 + t / 2} horizons`).toEqual({ records: 40, graves: 20 })
      await net.advance(HORIZON / 2)
    }
    // c buries at ten horizons; then a and b delete; c deletes ten horizons after its burial.
    await net.advance(6 * HORIZON)
    for (const id of ['a', 'b']) expect(await count(storages.get(id)!)).toEqual({ records: 20, graves: 0 })
    expect(await count(storages.get('c')!)).toEqual({ records: 40, graves: 20 })
    await net.advance(10 * HORIZON)
    expect(await count(storages.get('c')!)).toEqual({ records: 20, graves: 0 })
    for (const id of IDS) await node(id).stop()
    await net.stop()
  })

  it('stay out of sync across a restart, and go a horizon after burial', async () => {
    const { net, node, storages } = await cluster(15)
    for (let i = 0; i < 20; i++) {
      const { context } = await node('b').get(`k${i}`)
      await node('b').delete(`k${i}`, { context, w: 3 })
    }
    // Buried (a horizon old and proven everywhere), not yet deleted.
    await net.advance(HORIZON + HORIZON / 2)
    for (const id of IDS) expect(await count(storages.get(id)!)).toEqual({ records: 40, graves: 20 })
    net.crash('c')
    await net.restart('c')
    await net.advance(2000)
    // Found again at open: its tree holds the live keys only, as the others' do.
    expect(node('c').inspect().records).toBe(20)
    expect(JSON.stringify(node('c').inspect().roots)).toBe(JSON.stringify(node('a').inspect().roots))
    await net.advance(2 * HORIZON)
    for (const id of IDS) expect(await count(storages.get(id)!)).toEqual({ records: 20, graves: 0 })
    for (const id of IDS) await node(id).stop()
    await net.stop()
  })
})

describe('a replica expired while away', () => {
  /**
   * c is cut off while a deletes half the keys; a and b expire it (removeAfterMs), bury the
   * tombstones without it and, graveMs after burial, delete the graves. c comes back holding every
   * value: what it held of the deleted keys must merge into graves and stay deleted.
   */
  async function away(graveMs: number): Promise<{ graves: number[]; readBack: string[][] }> {
    const { net, node, storages } = await cluster(17, () => HORIZON, { graveMs, removeAfterMs: 2 * HORIZON })
    net.partition(['a', 'b'], ['c'])
    await net.advance(5000)
    // Deletes through a and b (each then suspects c: its copy of the write went unanswered).
    for (let i = 0; i < 20; i++) {
      const via = node(i % 2 ? 'b' : 'a')
      const { context } = await via.get(`k${i}`)
      await via.delete(`k${i}`, { context, w: 2 })
    }
    // Expired at two horizons, buried a horizon after the deletes, six horizons gone in all.
    await net.advance(6 * HORIZON)
    for (const id of ['a', 'b']) expect(node(id).cluster().members.find((m) => m.id === 'c')?.status).toBe('left')
    const graves = [(await count(storages.get('a')!)).graves, (await count(storages.get('b')!)).graves]
    net.heal()
    await net.advance(2 * HORIZON)
    for (const id of ['a', 'b']) expect(node(id).cluster().members.find((m) => m.id === 'c')?.status).toBe('up')
    const readBack: string[][] = []
    for (const id of IDS) {
      for (let i = 0; i < 20; i++) {
        const got = await node(id).get(`k${i}`, { r: 1, n: 1 })
        if (got.values.length) readBack.push([id, `k${i}`])
      }
    }
    for (const id of IDS) await node(id).stop()
    await net.stop()
    return { graves, readBack }
  }

  it('comes back to graves within graveMs, and what it held of deleted keys stays deleted', async () => {
    const r = await away(9 * HORIZON)
    expect(r.graves).toEqual([20, 20])
    expect(r.readBack).toEqual([])
  })

  it('(the limit) coming back after the graves went, it brings the deleted values back', async () => {
    const r = await away(HORIZON)
    expect(r.graves).toEqual([0, 0])
    expect(r.readBack.length).toBeGreaterThan(0)
  })
})

describe('graves spread', () => {
  it('a replica that cannot prove the other holds a tombstone buries it when told it is a grave there', async () => {
    // b never starts an exchange: a learns nothing from equal summaries (only their receiver does),
    // so a's only way to know b holds the tombstones is b saying they are graves (ae-grave).
    const net = createSimNetwork({ seed: 13, latencyMs: [1, 5] })
    const storages = new Map<string, Storage>()
    for (const id of ['a', 'b']) {
      const storage = memoryStorage()
      storages.set(id, storage)
      await createNode({ storage, ...net.join(id), n: 2, r: 1, w: 2, antiEntropyMs: id === 'b' ? 1e9 : 1000, tombstoneMs: HORIZON, graveMs: HORIZON })
    }
    await net.settle({ quietMs: 2000 })
    const node = (id: string): DynameshNode => net.node(id) as DynameshNode
    for (let i = 0; i < 10; i++) await node('a').put(`k${i}`, `v${i}`)
    for (let i = 0; i < 5; i++) await node('a').delete(`k${i}`, { context: (await node('a').get(`k${i}`)).context })
    await net.advance(4 * HORIZON)
    for (const id of ['a', 'b']) expect(await count(storages.get(id)!)).toEqual({ records: 5, graves: 0 })
    for (const id of ['a', 'b']) await node(id).stop()
    await net.stop()
  })

  it('a read does not put back a tombstone a replica has collected, where another still keeps its grave', async () => {
    // b keeps tombstones three horizons: a and c bury theirs after one, delete them once b buried.
    const { net, node, storages } = await cluster(15, (id) => (id === 'b' ? 3 * HORIZON : HORIZON))
    for (let i = 0; i < 20; i++) {
      const { context } = await node('a').get(`k${i}`)
      await node('a').delete(`k${i}`, { context, w: 3 })
    }
    await net.advance(5 * HORIZON)
    expect(await count(storages.get('b')!)).toEqual({ records: 40, graves: 20 })
    for (const id of ['a', 'c']) expect(await count(storages.get(id)!)).toEqual({ records: 20, graves: 0 })
    // Every replica answers: b with the grave's tombstone, a and c with nothing. All read as deleted.
    for (let i = 0; i < 20; i++) expect((await node('c').get(`k${i}`, { r: 3 })).values).toEqual([])
    await net.advance(2000)
    for (const id of ['a', 'c']) expect(await count(storages.get(id)!)).toEqual({ records: 20, graves: 0 })
    await net.advance(2 * HORIZON)
    for (const id of IDS) expect(await count(storages.get(id)!)).toEqual({ records: 20, graves: 0 })
    for (const id of IDS) await node(id).stop()
    await net.stop()
  })
})
