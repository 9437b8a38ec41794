/**
 * Ring figures: rebuild and preference-list cost, and balance of the bounded-load placement over
 * many random member sets. Prints numbers; never passes or fails on time.
 *
 *   npx tsx bench/ring.ts [cases=1000]
 */
import { buildRing, preferenceList, type Ring } from '../src/core/ring.js'
import { asNodeId, type NodeId } from '../src/types.js'

const Q = 256, N = 3, SLOTS = Q * N
const cases = Number(process.argv[2] ?? 1000)

let seed = 0x9e3779b9 // a fixed LCG so runs are comparable
const rand = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32)
const randomId = (): NodeId => asNodeId(Math.floor(rand() * 2 ** 32).toString(16) + Math.floor(rand() * 2 ** 32).toString(16))

function timeIt(fn: () => void, reps: number): number {
  fn() // warm up the JIT
  const times: number[] = []
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now()
    fn()
    times.push(performance.now() - t0)
  }
  return times.sort((a, b) => a - b)[Math.floor(reps / 2)]!
}

for (const m of [10, 50, 200]) {
  const members = Array.from({ length: m }, (_, i) => ({ id: randomId(), weight: 0.5 + (i % 8) / 2 }))
  console.log(`buildRing ${m} members (weights 0.5..4), Q=${Q}: median ${timeIt(() => buildRing(members, { q: Q, n: N }), 20).toFixed(2)} ms`)
}
{
  const r = buildRing(Array.from({ length: 50 }, () => ({ id: randomId(), weight: 1 })), { q: Q, n: N })
  const down = new Set([r.members[0]!.id, r.members[7]!.id])
  const all = timeIt(() => { for (let p = 0; p < Q; p++) preferenceList(r, p, N, () => true) }, 50) / Q
  const some = timeIt(() => { for (let p = 0; p < Q; p++) preferenceList(r, p, N, (id) => !down.has(id)) }, 50) / Q
  console.log(`preferenceList: ${(all * 1000).toFixed(2)} µs all up, ${(some * 1000).toFixed(2)} µs with 2 of 50 down`)
}

const loads = (r: Ring): number[] => {
  const m = new Map<NodeId, number>()
  for (const o of r.owners) for (const id of o) m.set(id, (m.get(id) ?? 0) + 1)
  return r.members.map((x) => m.get(x.id) ?? 0)
}
const moved = (a: Ring, b: Ring): number => {
  let k = 0
  b.owners.forEach((o, p) => { for (const id of o) if (!a.owners[p]!.includes(id)) k++ })
  return k
}
const stats = (xs: number[]): string => {
  const s = [...xs].sort((a, b) => a - b)
  return `mean ${(s.reduce((a, b) => a + b, 0) / s.length).toFixed(3)} p99 ${s[Math.floor(s.length * 0.99)]!.toFixed(3)} max ${s[s.length - 1]!.toFixed(3)}`
}
const equal = (ids: NodeId[]) => buildRing(ids.map((id) => ({ id, weight: 1 })), { q: Q, n: N })
const maxMean: number[] = [], weight2: number[] = [], join: number[] = [], leave: number[] = []
for (let c = 0; c < cases; c++) {
  const ids = Array.from({ length: 11 }, randomId)
  const ten = equal(ids.slice(0, 10))
  maxMean.push(Math.max(...loads(ten)) / (SLOTS / 10))
  join.push((moved(ten, equal(ids)) / SLOTS) * 11)
  leave.push((moved(ten, equal(ids.slice(1, 10))) / SLOTS) * 10)
  const w = buildRing(ids.slice(0, 10).map((id, i) => ({ id, weight: i === 0 ? 2 : 1 })), { q: Q, n: N })
  const l = loads(w), heavy = w.members.findIndex((x) => x.id === ids[0])
  const mean1 = (l.reduce((a, b) => a + b, 0) - l[heavy]!) / 9
  weight2.push(Math.abs(l[heavy]! / (2 * mean1) - 1))
}
console.log(`balance over ${cases} random member sets (Q=${Q}, N=${N}):`)
console.log(`  10 equal, most loaded / mean:        ${stats(maxMean)}   (bound 1.15)`)
console.log(`  weight 2 vs 2x weight 1, |dev|:      ${stats(weight2)}   (bound 0.15)`)
console.log(`  join 10->11, moved x 11 / replicas:  ${stats(join)}   (bound 1.3)`)
console.log(`  leave 10->9, moved x 10 / replicas:  ${stats(leave)}`)
