/**
 * One catch-up scenario through the public API (bench/sync.ts prints them; test/sim/sync-cost.test.ts
 * asserts their byte bounds): two nodes, N = 2, R = W = 1, 11-byte keys, 100-byte values.
 */
import { performance } from 'node:perf_hooks'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { createNode, memoryStorage, type DynameshNode } from '../src/index.js'
import type { Storage } from '../src/types.js'
import { createSimNetwork } from '../src/sim/index.js'

export type SyncCase = { n: number; d: number; initial?: false } | { n: number; initial: true; d?: undefined }

export interface SyncResult {
  /** Everything the network carried from heal (or wipe) to quiet. */
  bytes: number
  /** The same without membership gossip (which runs whether or not replicas differ). */
  syncBytes: number
  messages: number
  /** Longest chain of messages each sent in reaction to the previous one, halved. */
  roundTrips: number
  /** CPU of this process (both nodes, the simulator) from heal to the last work. */
  cpuMs: number
  /** The same until settle returned (its quiet period included). */
  cpuSettledMs: number
  /** Wall time from heal (or wipe) to the last version stored. */
  wallMs: number
  /** key + value + 16-byte digest per record that had to move. */
  floor: number
  /** Both replicas ended with the same Merkle roots: everything that differed was reconciled. */
  converged: boolean
  /** Bytes by message type, largest first: "type bytes". */
  top: string
  byType: Record<string, number>
}

export const KEY_BYTES = 11
export const VALUE_BYTES = 100
export const keyOf = (i: number): string => `k${String(i).padStart(KEY_BYTES - 1, '0')}`
const FLOOR_PER_RECORD = KEY_BYTES + VALUE_BYTES + 16

type SimNode = DynameshNode & { idle(): boolean }

setFlagsFromString('--expose-gc')
const collectGarbage = runInNewContext('gc') as (options?: { type: 'major' | 'minor'; execution: 'sync' }) => void

/** Message types a quiet pair keeps sending: membership gossip and anti-entropy summaries. */
const BACKGROUND = new Set(['g-sum', 'g-bkt', 'g-ver', 'g-delta', 'ae-sum'])
/** The type of an encoded message: its first field (wire/messages.ts packs `t` first, as a short string, in a map). */
function tagOf(b: Uint8Array | undefined): string {
  if (b === undefined) return '?'
  const at = b[0] === 0xde ? 3 : b[0] === 0xdf ? 5 : (b[0]! & 0xf0) === 0x80 ? 1 : -1
  if (at < 0 || b[at] !== 0xa1 || b[at + 1] !== 0x74 || (b[at + 2]! & 0xe0) !== 0xa0) return '?'
  return String.fromCharCode(...b.subarray(at + 3, at + 3 + (b[at + 2]! & 0x1f)))
}

async function sentByType(nodes: DynameshNode[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const node of nodes) for (const [t, s] of Object.entries((await node.stats()).sent)) out[t] = (out[t] ?? 0) + s.bytes
  return out
}

/** Raw storage contents of both nodes after `n` keys were written and replicated. */
export type Snapshot = { n: number; storages: Record<'a' | 'b', Array<[Uint8Array, Uint8Array]>> }

const value = (i: number, round: number): Uint8Array => {
  const v = new Uint8Array(VALUE_BYTES).fill(97 + (round % 26))
  new DataView(v.buffer).setUint32(0, i)
  return v
}

const options = { n: 2, r: 1, w: 1 }

/** Writes `n` keys through both nodes (W = 2) and keeps what their storages hold, to start each scenario from. */
export async function populate(n: number, seed = 1): Promise<Snapshot> {
  const net = createSimNetwork({ seed, latencyMs: [1, 5] })
  const storages = { a: memoryStorage(), b: memoryStorage() }
  // The scenarios start from nodes that stopped cleanly: their disks outlive stop().
  const disk = (s: Storage): Storage => ({ get: (k) => s.get(k), batch: (ops) => s.batch(ops), iterate: (r) => s.iterate(r), close: async () => {} })
  const nodes = { a: await createNode({ storage: disk(storages.a), ...net.join('a'), ...options }), b: await createNode({ storage: disk(storages.b), ...net.join('b'), ...options }) }
  await net.settle({ quietMs: 3000 })
  for (let i = 0; i < n; i += 100) {
    const puts: Array<Promise<unknown>> = []
    for (let j = i; j < Math.min(n, i + 100); j++) puts.push(nodes[j % 2 ? 'b' : 'a'].put(keyOf(j), value(j, 0), { w: 2 }))
    await Promise.all(puts)
  }
  await net.settle({ quietMs: 5000 })
  const dump = async (s: ReturnType<typeof memoryStorage>): Promise<Array<[Uint8Array, Uint8Array]>> => {
    const out: Array<[Uint8Array, Uint8Array]> = []
    for await (const kv of s.iterate({})) out.push(kv)
    return out
  }
  await nodes.a.stop()
  await nodes.b.stop()
  await net.stop()
  return { n, storages: { a: await dump(storages.a), b: await dump(storages.b) } }
}

/** Runs one scenario on a fresh simulated network, from the snapshot, and reports what catching up cost. */
export async function syncCost(c: SyncCase, snap: Snapshot, seed = 1, hooks: { window?: () => Promise<void> } = {}): Promise<SyncResult> {
  if (snap.n !== c.n) throw new TypeError('snapshot of another n')
  const net = createSimNetwork({ seed, latencyMs: [1, 5] })
  const make = async (id: 'a' | 'b'): Promise<SimNode> => {
    const storage = memoryStorage()
    await storage.batch(snap.storages[id].map(([key, v]) => ({ type: 'put' as const, key, value: v })))
    return (await createNode({ storage, ...net.join(id), ...options })) as SimNode
  }
  await make('a')
  await make('b')
  await net.settle({ quietMs: 3000 })
  const node = (id: string): SimNode => net.node(id) as SimNode

  let moved: number
  if (c.initial) {
    moved = c.n
  } else {
    net.partition(['a'], ['b'])
    await net.advance(10_000) // each side notices the other gone
    // Each side overwrites d keys of its own, spread over the key space, with the context it read.
    const step = Math.max(1, Math.floor(c.n / (2 * c.d)))
    for (const [side, off] of [['a', 0], ['b', 1]] as const) {
      for (let i = 0; i < c.d; i++) {
        const k = keyOf((2 * i * step + off) % c.n)
        const r = await node(side).get(k, { r: 1 })
        await node(side).put(k, value(i, 1), { context: r.context, w: 1 })
      }
    }
    await net.advance(1000)
    moved = 2 * c.d
  }

  let bytes = 0
  let messages = 0
  // Causal depth: a message sent while handling a delivery (same virtual instant) is one deeper.
  const inFlight = new Map<string, number[]>()
  const lastDelivery = new Map<string, { time: number; depth: number }>()
  let maxDepth = 0
  // The window closes with the last message that carried catch-up work: what follows is the
  // background (gossip digests, anti-entropy summaries that found nothing) of a quiet pair.
  const log: Array<[string, number]> = []
  // CPU and wall time up to the last work: a message that carried it, or a version stored.
  let cpuAtWork: NodeJS.CpuUsage | undefined
  let lastChange = performance.now()
  const workDone = (): void => {
    cpuAtWork = process.cpuUsage()
    lastChange = performance.now()
  }
  let sent = 0
  const unobserve = net.observe((ev) => {
    const link = `${ev.from}>${ev.to}:${ev.size}`
    if (ev.type === 'send') {
      const tag = tagOf(ev.data)
      log.push([tag, ev.size])
      sent += ev.size
      if (!BACKGROUND.has(tag)) {
        bytes = sent
        messages = log.length
        workDone()
      }
      const last = lastDelivery.get(ev.from)
      const dd = last && last.time === ev.time ? last.depth + 1 : 1
      let q = inFlight.get(link)
      if (!q) inFlight.set(link, (q = []))
      q.push(dd)
      maxDepth = Math.max(maxDepth, dd)
      if (process.env.SYNC_TRACE) console.log('send', ev.time, ev.from, ev.to, tag, ev.size, 'depth', dd)
    } else {
      const dd = inFlight.get(link)?.shift() ?? 1
      if (ev.type !== 'deliver') return
      const last = lastDelivery.get(ev.to)
      lastDelivery.set(ev.to, { time: ev.time, depth: last && last.time === ev.time ? Math.max(last.depth, dd) : dd })
    }
  })
  // The garbage of building the two replicas is not the catch-up's: collect it first (a replica that
  // has been running has long done so). A full collection leaves the old space to be swept
  // afterwards, on helper threads and in the next young collection, which waits for it (about
  // 400 ms at n = 100,000): a minor collection now pays that, and a pause lets the helpers finish.
  collectGarbage()
  collectGarbage({ type: 'minor', execution: 'sync' })
  await new Promise((resolve) => setTimeout(resolve, 1000))
  await hooks.window?.()
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const watch = (): void => {
    // A version stored is work too; its CPU is sampled at most once a millisecond (the reading costs).
    let sampled = 0
    const changed = (): void => {
      lastChange = performance.now()
      if (lastChange - sampled < 1) return
      sampled = lastChange
      cpuAtWork = process.cpuUsage()
    }
    for (const id of ['a', 'b']) node(id).on('change', changed)
  }
  if (c.initial) await net.replace('b')
  else net.heal()
  watch()
  await net.settle({ quietMs: 5000 })
  const wallMs = Math.max(0, lastChange - t0)
  const cpu = process.cpuUsage(cpu0)
  const cpuWork = cpuAtWork === undefined ? { user: 0, system: 0 } : { user: cpuAtWork.user - cpu0.user, system: cpuAtWork.system - cpu0.system }
  unobserve()
  const byType: Record<string, number> = {}
  for (const [t, b] of log.slice(0, messages)) byType[t] = (byType[t] ?? 0) + b
  const top = Object.entries(byType).sort((x, y) => y[1] - x[1]).slice(0, 3).map(([t, b]) => `${t} ${b}`).join(', ')
  const roots = (id: string): string => JSON.stringify(node(id).inspect().roots)
  const converged = roots('a') === roots('b')
  for (const id of ['a', 'b']) await node(id).stop().catch(() => {})
  await net.stop()
  return { converged, bytes, syncBytes: bytes - gossipBytes(byType), messages, roundTrips: Math.ceil(maxDepth / 2), cpuMs: (cpuWork.user + cpuWork.system) / 1000, cpuSettledMs: (cpu.user + cpu.system) / 1000, wallMs, floor: moved * FLOOR_PER_RECORD, top, byType }
}

/**
 * Background traffic of a quiet cluster: `nodes` nodes (N = 3) holding `n` keys, after settling,
 * over `ms` of virtual time. Bytes per second per node, by message type.
 */
export async function idleTraffic(nodes: number, n: number, ms = 60_000, seed = 1): Promise<{ perNode: number; byType: Record<string, number> }> {
  const net = createSimNetwork({ seed, latencyMs: [1, 5] })
  const ids = Array.from({ length: nodes }, (_, i) => String.fromCharCode(97 + i))
  const all: DynameshNode[] = []
  for (const id of ids) all.push(await createNode({ storage: memoryStorage(), ...net.join(id), n: 3, r: 1, w: 1 }))
  await net.settle({ quietMs: 3000 })
  for (let i = 0; i < n; i += 100) {
    const puts: Array<Promise<unknown>> = []
    for (let j = i; j < Math.min(n, i + 100); j++) puts.push(all[j % nodes]!.put(keyOf(j), value(j, 0), { w: 3 }))
    await Promise.all(puts)
  }
  await net.settle({ quietMs: 10_000 })
  const before = await sentByType(all)
  await net.advance(ms)
  const after = await sentByType(all)
  const byType: Record<string, number> = {}
  let total = 0
  for (const [t, b] of Object.entries(after)) {
    const per = (b - (before[t] ?? 0)) / nodes / (ms / 1000)
    if (per > 0) byType[t] = Math.round(per)
    total += per
  }
  for (const node of all) await node.stop().catch(() => {})
  await net.stop()
  return { perNode: Math.round(total), byType }
}

/** Bytes of membership gossip (the g-* messages) among those counted by type. */
const gossipBytes = (byType: Record<string, number>): number => Object.entries(byType).reduce((n, [t, b]) => (t.startsWith('g-') ? n + b : n), 0)
