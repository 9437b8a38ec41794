/**
 * A node restarted on the same LevelDB directory comes back with everything it acknowledged:
 * records, hints, membership, and (for real peers) its identity.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createNode, loadIdentity, memoryStorage, type DynameshNode } from '../../src/index.js'
import { levelStorage } from '../../src/storage/level.js'
import { createSimNetwork } from '../../src/sim/index.js'
import { texts } from './cluster.js'

const root = mkdtempSync(join(tmpdir(), 'dynamesh-persist-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

describe('persistence on LevelDB', () => {
  it('restores records, hints and membership after a full stop', async () => {
    const net = createSimNetwork({ seed: 61 })
    const ids = ['a', 'b', 'c', 'd']
    const disks = new Map<string, Awaited<ReturnType<typeof levelStorage>>>()
    for (const id of ids) {
      disks.set(id, await levelStorage(join(root, id)))
      await createNode({ storage: net.wrapStorage(disks.get(id)!), ...net.join(id), n: 3, r: 2, w: 2 })
    }
    await net.settle({ quietMs: 2000 })
    const node = (id: string): DynameshNode => net.node(id) as DynameshNode
    for (let i = 0; i < 100; i++) await node('a').put(`p-${i}`, `v-${i}`)
    net.crash('d')
    await disks.get('d')!.close()
    for (let i = 100; i < 150; i++) await node('a').put(`p-${i}`, `v-${i}`)
    const hintsBefore = ids.slice(0, 3).map((id) => node(id).inspect().hints)
    expect(hintsBefore.reduce((a, b) => a + b)).toBeGreaterThan(0)
    const recordsBefore = ids.slice(0, 3).map((id) => node(id).inspect().records)
    for (const id of ids.slice(0, 3)) await node(id).stop()
    await net.stop()

    // A new network: the nodes know their members from disk before any gossip.
    const net2 = createSimNetwork({ seed: 62 })
    const reopened: DynameshNode[] = []
    for (const id of ids.slice(0, 3)) {
      const storage = net2.wrapStorage(await levelStorage(join(root, id)))
      reopened.push(await createNode({ storage, ...net2.join(id), n: 3, r: 2, w: 2 }))
    }
    expect(reopened.map((n) => n.inspect().hints)).toEqual(hintsBefore)
    expect(reopened.map((n) => n.inspect().records)).toEqual(recordsBefore)
    expect(reopened[0]!.cluster().members.map((m) => m.id).sort()).toEqual(ids)
    for (let i = 0; i < 150; i += 7) expect(texts((await reopened[1]!.get(`p-${i}`)).values)).toEqual([`v-${i}`])
    // d comes back on its own disk and the hints drain to it.
    await createNode({ storage: net2.wrapStorage(await levelStorage(join(root, 'd'))), ...net2.join('d'), n: 3, r: 2, w: 2 })
    await net2.settle()
    expect((net2.node('d') as DynameshNode).inspect().hints).toBe(0)
    expect(reopened.map((n) => n.inspect().hints)).toEqual([0, 0, 0])
    for (const id of ids) await (net2.node(id) as DynameshNode).stop()
    await net2.stop()
  })

  it('keeps the identity key: the same id after a restart, a new one on a new disk', async () => {
    const dir = join(root, 'identity')
    const s1 = await levelStorage(dir)
    const id1 = (await loadIdentity(s1)).id
    await s1.close()
    const s2 = await levelStorage(dir)
    expect((await loadIdentity(s2)).id).toBe(id1)
    await s2.close()
    expect((await loadIdentity(memoryStorage())).id).not.toBe(id1)
    expect(id1).toMatch(/^[0-9a-f]{32}$/)
  })
})
