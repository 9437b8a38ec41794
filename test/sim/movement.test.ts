/**
 * Data movement at every replication factor (Dynamo paper sections 4.6 and 4.9): a cluster grows by
 * joins, shrinks by graceful leaves, and loses a member to a long absence, at N = 1, 2 and 3, while
 * keys are written. One node is cut off meanwhile, so hints exist for it when it leaves.
 *
 * At N = 1 nothing masks a transfer, handoff or re-homing that loses data: there is no other replica
 * for anti-entropy or read repair to copy from, so every acknowledged write must have been moved. At
 * N = 2 and 3 anti-entropy runs as in production (owners that were unreachable during a transfer get
 * the records from the other owners). Each run is checked as the swarm is: no acknowledged write
 * lost, replicas converged, hints drained; and no node keeps records of partitions it does not own.
 */
import { describe, expect, it } from 'vitest'
import { createNode, memoryStorage, type DynameshNode } from '../../src/index.js'
import {
  History,
  createSimNetwork,
  divergentPartitions,
  finalReads,
  lostWrites,
  randomInt,
  seededRandom,
  undeliveredHints,
  type SimNetwork,
} from '../../src/sim/index.js'
import type { ReplicaStore } from '../../src/node/store.js'

type Kind = 'join' | 'leave' | 'expiry'
const Q = 64
const KEYS = Array.from({ length: 120 }, (_, i) => `mv-${i}`)

interface Run {
  problems: string[]
  acked: number
  moved: number
}

async function run(kind: Kind, seed: number, n: number, w: number): Promise<Run> {
  const rng = seededRandom(seed, `movement-${kind}-${n}`)
  const net: SimNetwork = createSimNetwork({ seed, latencyMs: [1, 10] })
  const opts = { n, r: Math.min(2, n), w, q: Q, antiEntropyMs: 1000, timeoutMs: 1000, removeAfterMs: 20_000 }
  const ids: string[] = []
  const gone = new Set<string>()
  const add = async (id: string): Promise<void> => {
    ids.push(id)
    await createNode({ storage: memoryStorage(), ...net.join(id), ...opts })
  }
  const node = (id: string): DynameshNode => net.node(id) as DynameshNode
  const live = (): string[] => ids.filter((id) => !gone.has(id))
  const h = new History(`${kind}${seed}`)
  let moved = 0

  /** A few rounds of writes (some blind, some read-modify-write) with virtual time passing between. */
  const writes = async (rounds: number, through: () => string[] = live): Promise<void> => {
    for (let i = 0; i < rounds; i++) {
      const batch = Array.from({ length: randomInt(rng, 1, 3) }, async () => {
        const pool = through()
        const via = node(pool[randomInt(rng, 0, pool.length - 1)]!)
        const key = KEYS[randomInt(rng, 0, KEYS.length - 1)]!
        if (rng() < 0.5) return h.write(via, key)
        const r = await h.get(via, key).catch(() => undefined)
        return h.write(via, key, r?.context ? { context: r.context } : {})
      })
      await Promise.all(batch)
      await net.advance(randomInt(rng, 0, 200))
    }
  }
  const onMove = (x: DynameshNode): void => {
    x.on((ev) => {
      if (ev.type === 'repair' && ev.kind === 'transfer') moved += ev.keys
    })
  }

  for (const id of ['a', 'b']) await add(id)
  await net.settle({ quietMs: 2000 })
  await writes(30)
  const start = kind === 'join' ? ['c'] : ['c', 'd', 'e', 'f']
  for (const id of start) await add(id)
  await net.settle({ quietMs: 2000 })
  for (const id of ids) onMove(node(id))
  await writes(20)

  // One node is cut off while keys are written: fallbacks hold hints for it.
  const cut = ids[randomInt(rng, 0, ids.length - 1)]!
  net.partition([cut])
  const reachable = (): string[] => live().filter((id) => id !== cut)
  await writes(20, reachable)

  if (kind === 'join') {
    // Nodes join while the cut-off node is away and keys are written; then it comes back.
    for (const id of ['d', 'e', 'f']) {
      await add(id)
      onMove(node(id))
      await writes(10, reachable)
    }
    net.heal()
    await writes(20)
  } else if (kind === 'leave') {
    // The cut-off node comes back and leaves at once, with hints for it still held; two more
    // nodes leave while keys are written.
    net.heal()
    const leaving = [cut, ...live().filter((id) => id !== cut).slice(0, 2)]
    const pending: Promise<void>[] = []
    for (const id of leaving) {
      gone.add(id)
      pending.push(node(id).leave())
      await writes(15)
    }
    await Promise.all(pending)
  } else {
    // The cut-off node crashes and stays away past removeAfterMs: it is marked left, its
    // partitions move and hints for it are re-homed; later it comes back and re-asserts itself.
    net.heal()
    net.crash(cut)
    gone.add(cut)
    await writes(20)
    await net.advance(30_000)
    await writes(20)
    await net.restart(cut)
    gone.delete(cut)
    await writes(10)
  }

  await net.settle({ quietMs: 10_000 })
  const nodes = live().map(node)
  const problems: string[] = []
  for (const x of nodes) {
    const owners = x.cluster().partitions
    const held = (x as unknown as { store: ReplicaStore }).store.heldPartitions()
    const foreign = held.filter((p) => !owners[p]!.includes(x.id))
    if (foreign.length) problems.push(`${x.id} keeps records of ${foreign.length} partitions it does not own`)
  }
  for (const d of divergentPartitions(nodes)) problems.push(`partition ${d.partition} diverged: ${JSON.stringify(d.roots)}`)
  for (const u of undeliveredHints(nodes)) problems.push(`${u.id} still holds ${u.hints} hints`)
  const final = await finalReads(h, nodes[0]!, n)
  for (const lost of lostWrites(h, final)) problems.push(`lost acknowledged write ${lost.id} to ${lost.key}; final read: ${final.get(lost.key)?.join(',')}`)
  if (net.errors().length) problems.push(`errors inside the simulation: ${net.errors().map(String).join('; ')}`)
  const acked = h.writes.filter((x) => x.acked).length
  for (const id of ids) await node(id).stop().catch(() => {})
  await net.stop()
  return { problems, acked, moved }
}

const cases: Array<[n: number, w: number]> = [
  [1, 1],
  [2, 1],
  [3, 1],
  [3, 2],
]

describe('data movement at every replication factor', () => {
  for (const kind of ['join', 'leave', 'expiry'] as const) {
    for (const [n, w] of cases) {
      it(`${kind}: N = ${n}, W = ${w}, writes in flight, one node cut off meanwhile`, async () => {
        for (const seed of [1, 2]) {
          const r = await run(kind, seed, n, w)
          expect(r.problems, `seed ${seed}`).toEqual([])
          expect(r.acked).toBeGreaterThan(100)
          expect(r.moved).toBeGreaterThan(0)
        }
      })
    }
  }
})
