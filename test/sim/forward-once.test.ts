/**
 * One put, one dot: a write forwarded to its coordinator is stamped once however its copies travel
 * (src/node/ops.ts, src/node/forward.ts; docs/writes.md). Two dots for one put
 * are two concurrent versions of one value, and a later put whose read saw only one of them leaves
 * the other standing: the overwritten value comes back as a sibling (issue 9, "no resurrection").
 *
 * Each case forces one way a second stamp used to happen, by filtering one node's outgoing messages:
 * a duplicated `fwd`; a lost `fwd-r` (the origin resends, the coordinator answers the resend from
 * its operation table); every `fwd-r` lost (the origin or the next replica retries and must reuse
 * the version the first attempt stamped, which it finds in its own copy or by asking).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createNode, memoryStorage, type DynameshNode, type NodeOptions } from '../../src/index.js'
import { merge, type VersionSet } from '../../src/core/clock.js'
import type { ReplicaStore } from '../../src/node/store.js'
import { createSimNetwork, type SimNetwork } from '../../src/sim/index.js'
import type { NodeId, Transport } from '../../src/types.js'
import { decodeMessage, type Msg } from '../../src/wire/messages.js'
import { ownersOf, text, texts } from './cluster.js'

type Verdict = 'pass' | 'drop' | 'twice'
/** Decides what happens to each message a node sends. */
type Rule = (to: string, msg: Msg) => Verdict

/** `t`, with every outgoing message judged by `rule` first (dropped, sent twice or passed). */
function filtered(t: Transport, rule: () => Rule): Transport {
  return {
    id: t.id,
    start: () => t.start(),
    stop: () => t.stop(),
    send: (to: NodeId, bytes: Uint8Array) => {
      const verdict = rule()(to, decodeMessage(bytes))
      if (verdict === 'drop') return
      t.send(to, bytes)
      if (verdict === 'twice') t.send(to, bytes)
    },
    onMessage: (h) => t.onMessage(h),
    onPeer: (h) => t.onPeer(h),
    ...(t.peers ? { peers: () => t.peers!() } : {}),
    ...(t.auth ? { auth: t.auth } : {}),
  }
}

const IDS = ['a', 'b', 'c', 'd', 'e']
const encoder = new TextEncoder()
const NO_AE = 24 * 3600 * 1000

interface World {
  net: SimNetwork
  node(id: string): DynameshNode
  /** Sets the rule for messages `id` sends (all pass until set). */
  rule(id: string, r: Rule): void
}

let stopAll: (() => Promise<void>) | undefined
afterEach(async () => {
  await stopAll?.()
  stopAll = undefined
})

async function world(opts: Partial<NodeOptions>): Promise<World> {
  const net = createSimNetwork({ seed: 9, latencyMs: [1, 5] })
  const rules = new Map<string, Rule>()
  for (const id of IDS) {
    const j = net.join(id)
    await createNode({ storage: memoryStorage(), ...j, transport: filtered(j.transport, () => rules.get(id) ?? (() => 'pass')), antiEntropyMs: NO_AE, timeoutMs: 1000, ...opts })
  }
  await net.settle({ quietMs: 3000 })
  const node = (id: string): DynameshNode => net.node(id) as DynameshNode
  stopAll = async () => {
    for (const id of IDS) await node(id).stop().catch(() => {})
    await net.stop()
  }
  return { net, node, rule: (id, r) => void rules.set(id, r) }
}

/** A key `origin` is no replica of (so a write through it is forwarded), with its owners as `origin` sees them. */
function foreignKey(w: World, origin: string): { key: string; owners: string[] } {
  for (let i = 0; i < 5000; i++) {
    const key = `fo-${i}`
    const owners = ownersOf(w.node(origin), key)
    if (!owners.includes(origin)) return { key, owners }
  }
  throw new Error('no key')
}

/** Everything every node holds of `key` (records and hints), merged: the versions with their dots. */
async function allVersions(w: World, key: string): Promise<VersionSet | undefined> {
  let out: VersionSet | undefined
  for (const id of IDS) {
    const held = await (w.node(id) as unknown as { store: ReplicaStore }).store.readAll(encoder.encode(key))
    if (held) out = out ? merge(out, held) : held
  }
  return out
}

/** How many versions (dots) of `key` hold `value`. */
const dotsOf = (set: VersionSet | undefined, value: string): number => (set?.siblings ?? []).filter((x) => x.value !== null && text(x.value) === value).length

/** Copies the forwarded-op table answered instead of coordinating, summed over the nodes. */
const joined = (w: World): number => IDS.reduce((n, id) => n + (w.node(id) as unknown as { ops: { joined: number } }).ops.joined, 0)

describe('a forwarded write is stamped once (one operation id on every copy)', () => {
  it('a duplicated fwd: the coordinator answers the copy from its operation table', async () => {
    const w = await world({ n: 1, r: 1, w: 1 })
    const { key } = foreignKey(w, 'a')
    w.rule('a', (_to, m) => (m.t === 'fwd' ? 'twice' : 'pass'))
    await w.node('a').put(key, 'v1')
    await w.net.settle({ quietMs: 3000 })
    expect(dotsOf(await allVersions(w, key), 'v1')).toBe(1)
    expect(joined(w)).toBeGreaterThan(0)
  })

  it('a lost answer: the origin resends the same op and gets the first outcome, not a second stamp', async () => {
    const w = await world({ n: 1, r: 1, w: 1 })
    const { key, owners } = foreignKey(w, 'a')
    const owner = owners[0]!
    let lost = 0
    // The owner's first answer to the forward never arrives.
    w.rule(owner, (to, m) => (m.t === 'fwd-r' && to === 'a' && lost++ === 0 ? 'drop' : 'pass'))
    await w.node('a').put(key, 'v1')
    await w.net.settle({ quietMs: 3000 })
    expect(lost).toBeGreaterThan(1) // the resend was answered
    expect(dotsOf(await allVersions(w, key), 'v1')).toBe(1)
  })

  it('every answer lost, N = 1: the origin stands in with the version the owner stamped, and a later overwrite leaves nothing behind', async () => {
    const w = await world({ n: 1, r: 1, w: 1 })
    const { key, owners } = foreignKey(w, 'a')
    const owner = owners[0]!
    w.rule(owner, (to, m) => (m.t === 'fwd-r' && to === 'a' ? 'drop' : 'pass'))
    await w.node('a').put(key, 'v1')
    expect(dotsOf(await allVersions(w, key), 'v1')).toBe(1)
    // The origin (holding a hint, if it stamped one) is cut off; a client reads through the owner
    // and overwrites what it read.
    w.net.partition(['a'], IDS.filter((id) => id !== 'a'))
    const read = await w.node(owner).get(key)
    expect(texts(read.values)).toEqual(['v1'])
    await w.node(owner).put(key, 'v2', { context: read.context })
    w.net.heal()
    w.rule(owner, () => 'pass')
    await w.net.settle({ quietMs: 5000 })
    expect(texts((await w.node('c').get(key)).values)).toEqual(['v2'])
  })

  it('every answer lost, N = 3: the next replica retries and reuses the copy the first coordinator sent it', async () => {
    const w = await world({ n: 3, r: 2, w: 2 })
    const { key, owners } = foreignKey(w, 'a')
    const first = owners[0]!
    w.rule(first, (to, m) => (m.t === 'fwd-r' && to === 'a' ? 'drop' : 'pass'))
    await w.node('a').put(key, 'v1')
    await w.net.settle({ quietMs: 3000 })
    const set = await allVersions(w, key)
    expect(dotsOf(set, 'v1')).toBe(1)
    expect(set?.siblings).toHaveLength(1)
  })
})
