/** Builds simulated clusters for the scenario tests. */
import { createNode, memoryStorage, type DynameshNode, type NodeOptions } from '../../src/index.js'
import { createSimNetwork, type SimNetwork, type SimOptions } from '../../src/sim/index.js'
import { values } from '../../src/core/clock.js'
import { partitionOf } from '../../src/core/ring.js'
import type { ReplicaStore } from '../../src/node/store.js'

export type SimNode = DynameshNode & { idle(): boolean }

export interface Cluster {
  net: SimNetwork
  ids: string[]
  /** The current node object for an id (a restart makes a new one). */
  node(id: string): SimNode
  nodes(): SimNode[]
  /** Adds a node to the running cluster. */
  add(id: string, extra?: Partial<NodeOptions>): Promise<SimNode>
  stop(): Promise<void>
}

export const text = (v: Uint8Array): string => new TextDecoder().decode(v)
export const texts = (vs: Uint8Array[]): string[] => vs.map(text).sort()

export async function cluster(size: number, opts: Partial<SimOptions> & Partial<NodeOptions> = {}): Promise<Cluster> {
  const { seed = 1, latencyMs, loss, duplicate, ...nodeOpts } = opts
  const net = createSimNetwork({ seed, ...(latencyMs ? { latencyMs } : {}), ...(loss ? { loss } : {}), ...(duplicate ? { duplicate } : {}) })
  const ids: string[] = []
  const add = async (id: string, extra: Partial<NodeOptions> = {}): Promise<SimNode> => {
    ids.push(id)
    const node = await createNode({ storage: memoryStorage(), ...net.join(id), n: 3, r: 2, w: 2, ...nodeOpts, ...extra })
    return node as SimNode
  }
  for (let i = 0; i < size; i++) await add(String.fromCharCode(97 + i))
  await net.settle({ quietMs: 3000 })
  const c: Cluster = {
    net,
    ids,
    node: (id) => net.node(id) as SimNode,
    nodes: () => ids.map((id) => net.node(id) as SimNode).filter((n) => n && (n as unknown as { running(): boolean }).running()),
    add,
    stop: async () => {
      for (const id of ids) {
        const n = net.node(id) as SimNode | undefined
        await n?.stop().catch(() => {})
      }
      await net.stop()
    },
  }
  return c
}

const encoder = new TextEncoder()

/** The partition of a string key at the clusters' default Q (256). */
export const partitionOfKey = (key: string, q = 256): number => partitionOf(encoder.encode(key), q)

/** The current primaries of `key` as `node` sees the ring. */
export const ownersOf = (node: DynameshNode, key: string, q = 256): string[] => [...node.cluster().partitions[partitionOfKey(key, q)]!]

/**
 * What `node` itself holds of `key` as a record (not hints, not other replicas): its values, or
 * undefined when it holds no record. Reads the node's store directly, so no read repair or fallback
 * can hide where the data is.
 */
export async function localValues(node: DynameshNode, key: string): Promise<string[] | undefined> {
  const store = (node as unknown as { store: ReplicaStore }).store
  const set = await store.readRecord(encoder.encode(key))
  return set ? values(set).map(text).sort() : undefined
}

/**
 * Keys that some current owner does not hold locally with exactly `expected(key)`, as
 * "key: owner has [...]" lines (empty when every owner of every key holds it).
 */
export async function missingFromOwners(c: Cluster, keys: readonly string[], expected: (k: string) => string[], q = 256): Promise<string[]> {
  const out: string[] = []
  const nodes = c.nodes()
  const byId = new Map(nodes.map((n) => [n.id as string, n]))
  for (const k of keys) {
    for (const o of ownersOf(nodes[0]!, k, q)) {
      const n = byId.get(o)
      const got = n ? await localValues(n, k) : undefined
      if (JSON.stringify(got) !== JSON.stringify(expected(k))) out.push(`${k}: ${o} has ${JSON.stringify(got)}`)
    }
  }
  return out
}

/** Nodes holding records of partitions they do not own, as "id: n foreign records" lines. */
export function foreignRecords(c: Cluster): string[] {
  const out: string[] = []
  for (const n of c.nodes()) {
    const parts = n.cluster().partitions
    const held = (n as unknown as { store: ReplicaStore }).store.heldPartitions()
    const foreign = held.filter((p) => !parts[p]!.includes(n.id))
    if (foreign.length) out.push(`${n.id}: records in ${foreign.length} partitions it does not own`)
  }
  return out
}

/** A memory storage whose record writes can be refused (a replica whose disk rejects writes). */
export function refusingStorage(): { storage: ReturnType<typeof memoryStorage>; refuse(on: boolean): void } {
  const inner = memoryStorage()
  let refusing = false
  const storage: ReturnType<typeof memoryStorage> = {
    get: (k) => inner.get(k),
    iterate: (r) => inner.iterate(r),
    close: () => inner.close(),
    batch: async (ops) => {
      // Records live under the 'r' prefix (src/node/keys.ts); metadata writes still succeed.
      if (refusing && ops.some((o) => o.type === 'put' && o.key[0] === 0x72)) throw new Error('disk refuses writes')
      return inner.batch(ops)
    },
  }
  return { storage, refuse: (on) => void (refusing = on) }
}
