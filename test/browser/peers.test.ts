/**
 * Browser tabs as peers, in real Chromium, with three Node peer processes (LevelDB, WebRTC, HTTP) in
 * one ring: data crosses between pages and Node peers both ways; concurrent writes in two pages
 * become siblings in both; hints written by a page while it was cut off reach their owners after
 * the page is closed and reopened, and after a reload while still offline; two tabs of one origin
 * never run the same node. Each page context is its own browser profile (its own IndexedDB).
 */
import { describe, expect, it } from 'vitest'
import { httpCluster, httpGet, httpPut } from '../../src/http/client.js'
import { call, openPeer, waitFor, worldPerFile } from './harness.js'

const world = worldPerFile()
const text = (v: Uint8Array): string => new TextDecoder().decode(v)
const enc = (s: string): Uint8Array => new TextEncoder().encode(s)


/** Waits until every Node peer lists `id` as an up, reachable member. */
async function joined(id: string): Promise<void> {
  await waitFor(`${id.slice(0, 8)} in every Node peer's /cluster`, async () => {
    const views = await Promise.all(world().cluster.peers.map((p) => httpCluster(p.http)))
    return views.every((c) => c.members.some((m) => m.id === id && m.status === 'up' && m.reachable))
  })
}

/** Reads `key` through a Node peer until it holds exactly `values`. */
async function nodeReads(key: string, values: string[], peer = 1): Promise<void> {
  await waitFor(`${key} = ${values.join('|')} through a Node peer`, async () => {
    const r = await httpGet(world().cluster.peers[peer]!.http, key)
    return JSON.stringify(r.values.map(text).sort()) === JSON.stringify([...values].sort())
  })
}

describe('browser and Node peers in one ring', () => {
  it('a value written in a page is read through a Node peer, and the reverse', async () => {
    const ctx = await world().browser.newContext()
    const { page, info } = await openPeer(world(), ctx)
    expect(info.role).toBe('owner')
    await joined(info.id)
    await call(page, 'put', 'from-page', 'written in a tab')
    await nodeReads('from-page', ['written in a tab'])
    await httpPut(world().cluster.peers[0]!.http, 'from-node', enc('written by a Node peer'))
    await waitFor('the page reads the Node peer\'s write', async () => {
      const r = await call<{ values: string[] }>(page, 'get', 'from-node')
      return r.values[0] === 'written by a Node peer'
    })
    // A replica tab that closes on purpose hands its data off first; the next tests' ring is Node peers.
    await call(page, 'leave')
    await nodeReads('from-page', ['written in a tab'], 2)
    await ctx.close()
  })

  it('concurrent writes in two pages show up as siblings in both, and resolve with a context', async () => {
    const [ctxA, ctxB] = [await world().browser.newContext(), await world().browser.newContext()]
    const a = await openPeer(world(), ctxA)
    const b = await openPeer(world(), ctxB)
    await joined(a.info.id)
    await joined(b.info.id)
    await Promise.all([call(a.page, 'put', 'both', 'from A'), call(b.page, 'put', 'both', 'from B')])
    for (const p of [a.page, b.page]) {
      const r = await call<{ values: string[] }>(p, 'get', 'both', { r: 3 })
      expect(r.values).toEqual(['from A', 'from B'])
    }
    await nodeReads('both', ['from A', 'from B'], 2)
    const read = await call<{ context: string }>(a.page, 'get', 'both')
    await call(a.page, 'put', 'both', 'merged', { context: read.context })
    for (const p of [a.page, b.page]) expect((await call<{ values: string[] }>(p, 'get', 'both', { r: 3 })).values).toEqual(['merged'])
    await nodeReads('both', ['merged'], 0)
    await Promise.all([call(a.page, 'leave'), call(b.page, 'leave')])
    await Promise.all([ctxA.close(), ctxB.close()])
  })
})

describe('hints of a page', () => {
  it('written while cut off, are delivered when the closed page is reopened on the same profile', async () => {
    const ctx = await world().browser.newContext()
    const first = await openPeer(world(), ctx, { weight: 0 })
    await joined(first.info.id)
    await call(first.page, 'setOffline', true)
    const keys = Array.from({ length: 12 }, (_, i) => `closed-${i}`)
    for (const k of keys) await call(first.page, 'put', k, `v-${k}`, { w: 1 })
    expect(await call<number>(first.page, 'hints')).toBe(keys.length)
    for (const k of keys) expect((await httpGet(world().cluster.peers[0]!.http, k)).values).toEqual([])
    await first.page.close()
    const again = await openPeer(world(), ctx, { weight: 0 })
    expect(again.info.id).toBe(first.info.id)
    await waitFor('hints delivered', async () => (await call<number>(again.page, 'hints')) === 0)
    for (const k of keys) await nodeReads(k, [`v-${k}`])
    await ctx.close()
  })

  it('written with W=1 while offline survive a reload while still offline and reach their owners on reconnect', async () => {
    const ctx = await world().browser.newContext()
    const first = await openPeer(world(), ctx, { weight: 0 })
    await joined(first.info.id)
    await httpPut(world().cluster.peers[0]!.http, 'seen-online', enc('before going offline'))
    expect((await call<{ values: string[] }>(first.page, 'get', 'seen-online')).values).toEqual(['before going offline'])
    await call(first.page, 'setOffline', true)
    const keys = Array.from({ length: 8 }, (_, i) => `reload-${i}`)
    for (const k of keys) await call(first.page, 'put', k, `offline ${k}`, { w: 1 })
    const offlineRead = await call<{ values: string[]; stale: boolean }>(first.page, 'get', 'reload-3', { timeoutMs: 500 })
    expect(offlineRead).toMatchObject({ values: ['offline reload-3'], stale: true })
    await first.page.close()
    const reloaded = await openPeer(world(), ctx, { weight: 0, offline: 1 })
    expect(reloaded.info.id).toBe(first.info.id)
    expect(await call<number>(reloaded.page, 'hints')).toBe(keys.length)
    expect(await call<{ values: string[]; stale: boolean }>(reloaded.page, 'get', 'reload-5', { timeoutMs: 500 }))
      .toMatchObject({ values: ['offline reload-5'], stale: true })
    for (const k of keys) expect((await httpGet(world().cluster.peers[1]!.http, k)).values).toEqual([])
    await call(reloaded.page, 'setOffline', false)
    await waitFor('hints delivered after reconnecting', async () => (await call<number>(reloaded.page, 'hints')) === 0)
    for (const k of keys) await nodeReads(k, [`offline ${k}`], 2)
    await ctx.close()
  })
})

describe('two tabs of one origin', () => {
  it('never run the same node: the first owns it, the second is a guest with its own id, the next after the owner closes owns it again', async () => {
    const ctx = await world().browser.newContext()
    const one = await openPeer(world(), ctx)
    const two = await openPeer(world(), ctx)
    expect(one.info.role).toBe('owner')
    expect(two.info.role).toBe('guest')
    expect(two.info.id).not.toBe(one.info.id)
    await joined(two.info.id)
    // The guest is a client: weight 0, no partitions.
    const view = await httpCluster(world().cluster.peers[0]!.http)
    expect(view.members.find((m) => m.id === two.info.id)?.weight).toBe(0)
    expect(view.partitions.flat()).not.toContain(two.info.id)
    await one.page.close()
    const three = await openPeer(world(), ctx)
    expect(three.info).toMatchObject({ role: 'owner', id: one.info.id })
    await ctx.close()
  })
})

describe('pages', () => {
  it('logged no errors', () => {
    // WebRTC and IndexedDB errors surface on the console; none is expected in these runs.
    expect(world().errors.filter((e) => !/Failed to load resource/.test(e))).toEqual([])
  })
})
