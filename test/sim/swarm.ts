/**
 * One swarm run: a 5-node simulated cluster, a random fault mix drawn from the seed, about 100
 * operations, then heal, restart, quiesce and check the history. Same seed, same run.
 */
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
} from '../../src/sim/index.js'

export interface SwarmResult {
  seed: number
  problems: string[]
  ops: number
  acked: number
  faults: string[]
  virtualMs: number
}

const IDS = ['a', 'b', 'c', 'd', 'e']
const KEYS = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7']

export async function runSwarmSeed(seed: number, ops = 100): Promise<SwarmResult> {
  const rng = seededRandom(seed, 'swarm')
  const pick = <T>(xs: readonly T[]): T => xs[randomInt(rng, 0, xs.length - 1)]!
  const loss = pick([0, 0, 0.01, 0.05, 0.1])
  const duplicate = pick([0, 0, 0.02, 0.1])
  const latencyMs: [number, number] = [1, pick([2, 5, 20, 80])]
  const net = createSimNetwork({ seed, loss, duplicate, latencyMs })
  const opts = { n: 3, r: 2, w: 2, q: 64, antiEntropyMs: 1000, timeoutMs: 1000 }
  for (const id of IDS) await createNode({ storage: memoryStorage(), ...net.join(id), ...opts })
  await net.settle({ quietMs: 2000 })
  const faults: string[] = [`loss=${loss} dup=${duplicate} latency=${latencyMs.join('-')}`]
  const crashed = new Set<string>()
  let replaced = false
  const h = new History(`s${seed}`)
  const node = (id: string): DynameshNode => net.node(id) as DynameshNode
  const live = (): string[] => IDS.filter((id) => !crashed.has(id))

  const fault = async (): Promise<void> => {
    const roll = rng()
    if (roll < 0.3) {
      const cut = randomInt(rng, 1, 3)
      const shuffled = [...IDS].sort(() => rng() - 0.5)
      net.partition(shuffled.slice(0, cut), shuffled.slice(cut))
      faults.push(`partition ${shuffled.slice(0, cut).join('')}|${shuffled.slice(cut).join('')}`)
    } else if (roll < 0.5) {
      net.heal()
      faults.push('heal')
    } else if (roll < 0.75 && crashed.size < 2) {
      const id = pick(live())
      net.crash(id)
      crashed.add(id)
      faults.push(`crash ${id}`)
    } else if (crashed.size > 0) {
      const id = pick([...crashed])
      crashed.delete(id)
      await net.restart(id)
      faults.push(`restart ${id}`)
    } else if (!replaced) {
      replaced = true
      const id = pick(live())
      await net.replace(id)
      faults.push(`replace ${id}`)
    }
  }

  const op = async (): Promise<void> => {
    const n = node(pick(live()))
    const key = pick(KEYS)
    const roll = rng()
    if (roll < 0.25) await h.get(n, key).catch(() => undefined)
    else if (roll < 0.5) await h.write(n, key)
    else {
      const r = await h.get(n, key).catch(() => undefined)
      await h.write(n, key, { ...(r?.context ? { context: r.context } : {}), del: roll > 0.9 })
    }
  }

  let done = 0
  while (done < ops) {
    if (rng() < 0.1) await fault()
    const batch = randomInt(rng, 1, 3)
    await Promise.all(Array.from({ length: batch }, () => op()))
    done += batch
  }

  net.heal()
  net.setFaults({ loss: 0, duplicate: 0 })
  for (const id of [...crashed]) await net.restart(id)
  crashed.clear()
  let settled = await net.settle({ quietMs: 10_000 })
  const nodes = IDS.map(node)
  const problems: string[] = []
  if (divergentPartitions(nodes).length > 0) settled = await net.settle({ quietMs: 30_000 })
  const final = await finalReads(h, nodes[0]!)
  for (const w of lostWrites(h, final)) problems.push(`lost acknowledged write ${w.id} to ${w.key}; final read: ${final.get(w.key)?.join(',')}`)
  for (const d of divergentPartitions(nodes)) problems.push(`partition ${d.partition} diverged: ${JSON.stringify(d.roots)}`)
  for (const u of undeliveredHints(nodes)) problems.push(`${u.id} still holds ${u.hints} hints`)
  if (net.errors().length) problems.push(`errors inside the simulation: ${net.errors().map(String).join('; ')}`)
  if (process.env.SWARM_TRACE) {
    for (const w of h.writes) if (w.key === process.env.SWARM_TRACE) console.log(JSON.stringify(w))
    console.log('final', final.get(process.env.SWARM_TRACE))
  }
  const result = { seed, problems, ops: done, acked: h.writes.filter((w) => w.acked).length, faults, virtualMs: settled.virtualMs }
  for (const id of IDS) await node(id).stop().catch(() => {})
  await net.stop()
  return result
}

/**
 * Registers one half of the swarm as a vitest test (two files, so the halves run in parallel).
 * SWARM_SEEDS sets how many seeds run in all (default 2,000); SWARM_SEED=<n> replays one seed.
 */
export async function swarmHalf(half: 0 | 1, total: number, only: string | undefined): Promise<string[]> {
  const seeds = only !== undefined ? (half === 0 ? [Number(only)] : []) : Array.from({ length: Math.ceil(total / 2) }, (_, i) => 2 * i + half).filter((s) => s < total)
  const started = Date.now()
  const failures: string[] = []
  for (const seed of seeds) {
    const r = await runSwarmSeed(seed)
    if (r.problems.length) {
      failures.push(`seed ${seed} failed (replay: SWARM_SEED=${seed} npx vitest run test/sim/swarm-a.test.ts): ${r.problems.join('; ')}; faults: ${r.faults.join(', ')}`)
      console.error(failures.at(-1))
    }
  }
  const secs = (Date.now() - started) / 1000
  if (seeds.length) console.log(`swarm ${'ab'[half]}: ${seeds.length} seeds in ${secs.toFixed(1)} s (${(seeds.length / secs).toFixed(1)} seeds/s), ${failures.length} failed`)
  return failures
}
