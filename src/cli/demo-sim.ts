/**
 * `dynamesh sim`: a simulated 5-node cluster in the terminal. It writes, crashes a node, shows hints
 * being held and handed off, wipes a node's disk and shows Merkle repair converging, makes siblings
 * and resolves them, and prints what happened at each step, in virtual time.
 */
import { createNode, memoryStorage, type DynameshNode, type NodeEvent } from '../index.js'
import { createSimNetwork, divergentPartitions, SIM_EPOCH } from '../sim/index.js'
import { partitionOf } from '../core/ring.js'

const IDS = ['a', 'b', 'c', 'd', 'e']
const enc = new TextEncoder()
const dec = new TextDecoder()

export async function runSimDemo(out: (line: string) => void = console.log, seed = 7): Promise<void> {
  const net = createSimNetwork({ seed, latencyMs: [1, 5] })
  const t = (): string => `[${((net.now() - SIM_EPOCH) / 1000).toFixed(3).padStart(8)}s]`
  const say = (s: string): void => out(`${t()} ${s}`)
  const counters = { hintsStored: 0, hintsDelivered: 0, merkleKeys: 0, merkleBytes: 0, readRepairs: 0 }
  const watch = (n: DynameshNode): void => {
    n.on((ev: NodeEvent) => {
      if (ev.type === 'hint-stored') counters.hintsStored++
      if (ev.type === 'hint-delivered') {
        counters.hintsDelivered += ev.count
        say(`  ${n.id} handed ${ev.count} hints to ${ev.to}`)
      }
      if (ev.type === 'repair' && ev.kind === 'merkle') {
        counters.merkleKeys += ev.keys
        counters.merkleBytes += ev.bytes
      }
      if (ev.type === 'repair' && ev.kind === 'read') counters.readRepairs++
    })
  }
  const node = (id: string): DynameshNode => net.node(id) as DynameshNode

  out('dynamesh: a simulated 5-node cluster (N=3, R=2, W=2, Q=256), seed ' + seed)
  for (const id of IDS) watch(await createNode({ storage: memoryStorage(), ...net.join(id), n: 3, r: 2, w: 2 }))
  await net.settle({ quietMs: 2000 })
  const parts = node('a').cluster().partitions
  say('ring built by gossip; partition replicas per node: ' + IDS.map((id) => `${id}=${parts.filter((o) => o.includes(id as never)).length}`).join(' '))

  const keys = Array.from({ length: 300 }, (_, i) => `user:${i}`)
  for (const k of keys) await node('a').put(k, `profile of ${k}`)
  const p42 = partitionOf(enc.encode('user:42'), 256)
  say(`wrote ${keys.length} keys through a; user:42 is in partition ${p42}, replicas ${parts[p42]!.join(', ')}`)

  net.crash('c')
  say('crashed c (its disk is kept)')
  const more = Array.from({ length: 300 }, (_, i) => `order:${i}`)
  for (const k of more) await node('b').put(k, `order ${k}`)
  const held = IDS.filter((id) => id !== 'c').map((id) => `${id}=${node(id).inspect().hints}`).join(' ')
  say(`wrote ${more.length} more keys while c was down: every write acknowledged (sloppy quorum); hints held: ${held}`)
  const one = more.find((k) => parts[partitionOf(enc.encode(k), 256)]!.includes('c' as never))!
  say(`${one} (owned by c) reads back while c is down: "${dec.decode((await node('d').get(one)).values[0])}"`)

  await net.restart('c')
  watch(node('c'))
  say('restarted c on its disk')
  await net.settle()
  say(`hints drained: ${counters.hintsDelivered} delivered, ${IDS.reduce((n, id) => n + node(id).inspect().hints, 0)} left; c holds ${node('c').inspect().records} records`)

  const before = node('d').inspect().records
  await net.replace('d')
  watch(node('d'))
  say(`replaced d with an empty disk (it held ${before} records, now ${node('d').inspect().records})`)
  const divergent = divergentPartitions(IDS.map(node)).length
  say(`${divergent} partitions now have replicas with different Merkle roots; anti-entropy compares roots, then only differing branches`)
  await net.settle()
  say(`Merkle repair converged: d holds ${node('d').inspect().records} records; ${counters.merkleKeys} records pushed in ${counters.merkleBytes} bytes; divergent partitions: ${divergentPartitions(IDS.map(node)).length}`)

  await Promise.all([node('a').put('cart', 'apples'), node('e').put('cart', 'pears')])
  const r = await node('b').get('cart')
  say(`two concurrent blind writes to "cart" are kept as siblings: ${r.values.map((v) => dec.decode(v)).join(' | ')}`)
  await node('b').put('cart', 'apples+pears', { context: r.context })
  say(`a write with that context resolves them: ${(await node('c').get('cart')).values.map((v) => dec.decode(v)).join(' | ')}`)

  const stats = net.stats()
  say(`done: ${stats.delivered} messages delivered, ${stats.bytes} bytes, ${stats.events} simulated events`)
  for (const id of IDS) await node(id).stop()
  await net.stop()
}
