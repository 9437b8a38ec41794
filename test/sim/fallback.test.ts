/**
 * Sloppy quorum when replicas vanish in the middle of a call (DESIGN.md 4.6): the coordinator keeps
 * looking until its deadline. It recomputes the preference list as suspicions arrive, walks on past
 * it to members further along the ring when the list is used up, and fails with QUORUM_FAILED only
 * once no member is left that could still answer. A crash is announced to the live peers at once;
 * a restarted node has not seen those announcements, so members that died meanwhile look up to it
 * until it asks them, as Node peers see tabs they never connected to.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { isDynameshError } from '../../src/index.js'
import { preferenceList, type Ring } from '../../src/core/ring.js'
import { cluster, partitionOfKey, refusingStorage, texts, type Cluster, type SimNode } from './cluster.js'

const NO_AE = 24 * 3600 * 1000
const TIMEOUT_MS = 1000
let c: Cluster | undefined
afterEach(async () => {
  await c?.stop()
  c = undefined
})

/** Every member in `node`'s ring walk for `key`: its primaries first, then the fallbacks in the order they are taken. */
const walkOf = (node: SimNode, key: string): string[] => {
  const ring = (node as unknown as { ring(): Ring }).ring()
  return preferenceList(ring, partitionOfKey(key), ring.members.length, () => true).map((e) => e.node)
}

/** A key whose walk, as `node` sees it, starts with the ids of `first`, in order. */
const keyStarting = (node: SimNode, first: string[]): string => {
  const key = Array.from({ length: 5000 }, (_, i) => `fb-${i}`).find((k) => first.every((id, i) => walkOf(node, k)[i] === id))
  if (!key) throw new Error(`no key whose walk starts ${first.join(',')}`)
  return key
}

/**
 * Crashes `ids` the moment `from` first sends to one of them: a call `from` just started has
 * computed its preference list with them in it, and sends to them before it hears of the crash.
 */
const crashOnContact = (cl: Cluster, from: string, ids: string[]): void => {
  const off = cl.net.observe((ev) => {
    if (ev.type !== 'send' || ev.from !== from || !ids.includes(ev.to)) return
    off()
    for (const id of ids) cl.net.crash(id)
  })
}

/**
 * Ten nodes; `a` is the first primary of the key. Six members that come next in the walk after the
 * other two primaries crash while `a` is down, so once restarted it takes them for up.
 */
async function staleView(seed: number, before: (key: string) => Promise<unknown> = async () => {}): Promise<{ a: SimNode; key: string; walk: string[] }> {
  c = await cluster(10, { seed, n: 3, r: 2, w: 2, antiEntropyMs: NO_AE })
  const key = keyStarting(c.node('a'), ['a'])
  const walk = walkOf(c.node('a'), key)
  await before(key)
  c.net.crash('a')
  for (const id of walk.slice(3, 9)) c.net.crash(id)
  const a = (await c.net.restart('a')) as SimNode
  const view = new Map(a.cluster().members.map((m) => [m.id as string, m.reachable]))
  for (const id of walk.slice(1, 9)) expect(view.get(id), `${id} up in a's view`).toBe(true)
  return { a, key, walk }
}

describe('a put whose replicas vanish during the call', () => {
  it('succeeds within timeoutMs through a fallback past six dead ones the coordinator took for up', async () => {
    const { a, key, walk } = await staleView(31)
    const last = walk[9]!
    const hinted: string[] = []
    c!.node(last).on('hint-stored', (ev) => hinted.push(ev.for))
    // Gossip suspects nobody: a member a suspects now is one the put asked and gave up on.
    const suspected: string[] = []
    a.on('reachable', (ev) => void (ev.reachable || suspected.push(ev.id)))
    const t0 = c!.net.now()
    // The other two primaries vanish as the coordinator's first preference list reaches them.
    crashOnContact(c!, 'a', walk.slice(1, 3))
    const put = a.put(key, 'v1', { timeoutMs: TIMEOUT_MS }).then(() => 'ok', (e: unknown) => String(e))
    expect(await put).toBe('ok')
    expect(c!.net.now() - t0).toBeLessThan(TIMEOUT_MS)
    // Every dead fallback was tried before the live one.
    for (const id of walk.slice(3, 9)) expect(suspected, `asked ${id}`).toContain(id)
    expect(hinted.length).toBe(1)
    expect([walk[1], walk[2]]).toContain(hinted[0])
  })

  it('walks on past fallbacks that refuse it, instead of failing while up members were never asked', async () => {
    c = await cluster(4, { seed: 32, n: 3, r: 2, w: 2, antiEntropyMs: NO_AE })
    const x = refusingStorage()
    const y = refusingStorage()
    await c.add('x', { storage: x.storage })
    await c.add('y', { storage: y.storage })
    await c.net.settle({ quietMs: 3000 })
    const a = c.node('a')
    const key = keyStarting(a, ['a', 'x', 'y'])
    const walk = walkOf(a, key)
    x.refuse(true)
    y.refuse(true)
    const hinted: string[] = []
    c.node(walk[3]!).on('hint-stored', (ev) => hinted.push(ev.for))
    const t0 = c.net.now()
    await a.put(key, 'v1', { timeoutMs: TIMEOUT_MS })
    expect(c.net.now() - t0).toBeLessThan(TIMEOUT_MS)
    expect(hinted.length).toBe(1)
    expect(['x', 'y']).toContain(hinted[0])
  })

  it('with every other node gone, fails with QUORUM_FAILED after asking them, before its deadline', async () => {
    c = await cluster(4, { seed: 33, n: 3, r: 2, w: 2, antiEntropyMs: NO_AE })
    const a = c.node('a')
    const key = keyStarting(a, ['a'])
    const walk = walkOf(a, key)
    const t0 = c.net.now()
    crashOnContact(c, 'a', walk.slice(1))
    const put = a.put(key, 'v1', { timeoutMs: TIMEOUT_MS }).catch((e: unknown) => e)
    const err = await put
    expect(isDynameshError(err, 'QUORUM_FAILED'), String(err)).toBe(true)
    expect((err as Error).message).toMatch(/^put: 1 of 2 replicas acknowledged; /)
    // The first preference list named the two other primaries: both were asked, neither answered.
    expect((err as Error).message).toContain(`${walk[1]}: no answer yet`)
    expect((err as Error).message).toContain(`${walk[2]}: no answer yet`)
    expect(c.net.now() - t0).toBeLessThan(TIMEOUT_MS)
  })

  it('still counts a replica that is only slow until the deadline when nobody else is left', async () => {
    c = await cluster(3, { seed: 34, n: 3, r: 2, w: 2, antiEntropyMs: NO_AE })
    const a = c.node('a')
    const key = keyStarting(a, ['a'])
    // Both other replicas answer after 2 x 300 ms: past their share of the call (250 ms), within it.
    for (const id of ['b', 'c']) {
      c.net.setLink('a', id, { latencyMs: [300, 300] })
      c.net.setLink(id, 'a', { latencyMs: [300, 300] })
    }
    const t0 = c.net.now()
    await a.put(key, 'v1', { timeoutMs: TIMEOUT_MS })
    expect(c.net.now() - t0).toBeGreaterThan(TIMEOUT_MS / 4)
    expect(c.net.now() - t0).toBeLessThan(TIMEOUT_MS)
  })
})

describe('a get whose replicas vanish during the call', () => {
  it('answers within timeoutMs through a fallback past six dead ones the coordinator took for up', async () => {
    const { a, key, walk } = await staleView(35, (k) => c!.node('a').put(k, 'stored', { w: 3 }))
    const t0 = c!.net.now()
    crashOnContact(c!, 'a', walk.slice(1, 3))
    const got = a.get(key, { timeoutMs: TIMEOUT_MS })
    expect(texts((await got).values)).toEqual(['stored'])
    expect(c!.net.now() - t0).toBeLessThan(TIMEOUT_MS)
  })
})
