import { afterEach, describe, expect, it } from 'vitest'
import { partitionOf } from '../../src/core/ring.js'
import { decodeMessage } from '../../src/wire/messages.js'
import { cluster, texts, type Cluster } from './cluster.js'

const NO_AE = 1e9
let c: Cluster | undefined
afterEach(async () => {
  await c?.stop()
  c = undefined
})

/** The preference list of `key` as node `id` sees it (primaries in order). */
const ownersOf = (cl: Cluster, id: string, key: string): string[] => {
  const p = partitionOf(new TextEncoder().encode(key), 256)
  return cl.node(id).cluster().partitions[p] as unknown as string[]
}

/** Counts the 'get' requests `from` sends while `fn` runs. */
async function getsSent(cl: Cluster, from: string, fn: () => Promise<unknown>): Promise<string[]> {
  const to: string[] = []
  const off = cl.net.observe((ev) => {
    if (ev.type === 'send' && ev.from === from && ev.data && decodeMessage(ev.data).t === 'get') to.push(ev.to)
  })
  await fn()
  off()
  return to
}

describe('hedged reads', () => {
  it('a replica coordinating an R = 2 get asks one other replica, not every one', async () => {
    c = await cluster(5, { seed: 3, readRepairChance: 0 })
    const key = 'hedge-1'
    const [o1] = ownersOf(c, 'a', key)
    await c.node(o1!).put(key, 'v', { w: 3 })
    for (let i = 0; i < 20; i++) {
      const sent = await getsSent(c, o1!, async () => expect(texts((await c!.node(o1!).get(key)).values)).toEqual(['v']))
      expect(sent).toHaveLength(1)
    }
    // A client that is no replica asks R of them.
    const other = c.ids.find((id) => !ownersOf(c!, 'a', key).includes(id))!
    expect(await getsSent(c, other, () => c!.node(other).get(key))).toHaveLength(2)
  })

  it('with readRepairChance 1 every get asks all N, as read repair needs', async () => {
    c = await cluster(5, { seed: 3, readRepairChance: 1 })
    const key = 'hedge-1'
    const [o1] = ownersOf(c, 'a', key)
    await c.node(o1!).put(key, 'v', { w: 3 })
    expect(await getsSent(c, o1!, () => c!.node(o1!).get(key))).toHaveLength(2)
  })

  it('asks the rest when a first replica does not answer, before suspecting it', async () => {
    c = await cluster(5, { seed: 4, readRepairChance: 0, timeoutMs: 4000 })
    const key = 'hedge-2'
    const [o1, o2, o3] = ownersOf(c, 'a', key) as [string, string, string]
    await c.node(o1).put(key, 'v', { w: 3 })
    await c.node(o1).get(key) // times a round trip
    // o2 stops answering, still taken for up: the hedge, not a failure, brings o3 in.
    c.net.partition([o2])
    const t0 = c.net.now()
    const sent = await getsSent(c, o1, async () => expect(texts((await c!.node(o1).get(key)).values)).toEqual(['v']))
    expect(sent).toEqual([o2, o3])
    // Within a few round trips (virtual time), long before o2's share of the call (1 s) runs out.
    expect(c.net.now() - t0).toBeLessThan(100)
    expect(c.node(o1).cluster().members.find((m) => m.id === o2)?.reachable).toBe(true)
  })

  it('asks the rest when the first R all answer "absent": a replica that holds the key may not be among them', async () => {
    // No anti-entropy, no handoff, no read repair: only the read itself can find the copy.
    c = await cluster(5, { seed: 5, readRepairChance: 0, antiEntropyMs: NO_AE, handoffMs: NO_AE })
    const key = 'hedge-3'
    const [o1, o2, o3] = ownersOf(c, 'a', key) as [string, string, string]
    // Only the last of the preference list has the key: it took it alone while cut off.
    c.net.partition([o3])
    await c.node(o3).put(key, 'only-here', { w: 1 })
    c.net.heal()
    await c.net.settle()
    const sent = await getsSent(c, o1, async () => expect(texts((await c!.node(o1).get(key)).values)).toEqual(['only-here']))
    expect(sent).toEqual([o2, o3])
  })
})
