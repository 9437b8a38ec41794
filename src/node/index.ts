/** `createNode`: validates options, opens the node's storage state and joins the cluster. */
import type { DynameshNode, NodeOptions } from '../api.js'
import type { AttachedNode } from '../types.js'
import { MAX_Q, MAX_RECORD_BYTES, MAX_SIBLINGS, MAX_VALUE_BYTES, MAX_WEIGHT } from '../limits.js'
import { realEnv } from './env.js'
import { loadMembers, loadMeta } from './meta.js'
import { Node } from './node.js'
import { READ_REPAIR_CHANCE } from './coordinator.js'
import { ReplicaStore } from './store.js'
import type { NodeConfig } from './context.js'
import type { NodeId } from '../types.js'

function positiveInt(name: string, v: number | undefined, fallback: number): number {
  const x = v ?? fallback
  if (!Number.isInteger(x) || x < 1) throw new TypeError(`${name} must be a positive whole number`)
  return x
}

/** Creates a node, restores what its storage holds, and starts it. */
export async function createNode(options: NodeOptions): Promise<DynameshNode & { idle(): boolean }> {
  if (!options || !options.storage || !options.transport) throw new TypeError('createNode needs storage and transport')
  const { storage, transport } = options
  if (options.id !== undefined && options.id !== transport.id) {
    throw new TypeError(`id ${options.id} does not match the transport's id ${transport.id}`)
  }
  const n = positiveInt('n', options.n, 3)
  const maxRecordBytes = positiveInt('maxRecordBytes', options.maxRecordBytes, MAX_RECORD_BYTES)
  const maxSiblings = positiveInt('maxSiblings', options.maxSiblings, MAX_SIBLINGS)
  const readRepairChance = options.readRepairChance ?? READ_REPAIR_CHANCE
  if (!(readRepairChance >= 0 && readRepairChance <= 1)) throw new TypeError('readRepairChance must be in [0, 1]')
  const tombstoneMs = positiveInt('tombstoneMs', options.tombstoneMs, 10 * 24 * 3600 * 1000)
  const config: NodeConfig = {
    n,
    r: positiveInt('r', options.r, Math.min(2, n)),
    w: positiveInt('w', options.w, Math.min(2, n)),
    q: positiveInt('q', options.q, 256),
    weight: options.weight ?? 1,
    timeoutMs: positiveInt('timeoutMs', options.timeoutMs, 2000),
    maxValueBytes: positiveInt('maxValueBytes', options.maxValueBytes, MAX_VALUE_BYTES),
    maxRecordBytes,
    maxSiblings,
    gossipMs: positiveInt('gossipMs', options.gossipMs, 1000),
    antiEntropyMs: positiveInt('antiEntropyMs', options.antiEntropyMs, 2000),
    handoffMs: positiveInt('handoffMs', options.handoffMs, 1000),
    removeAfterMs: positiveInt('removeAfterMs', options.removeAfterMs, 24 * 3600 * 1000),
    tombstoneMs,
    graveMs: positiveInt('graveMs', options.graveMs, 9 * tombstoneMs),
    staleReads: options.staleReads ?? false,
    readRepairChance,
  }
  if (config.r > n || config.w > n) throw new TypeError('r and w must not exceed n')
  // Limits may be lowered, never raised past what every message is sized for (limits.ts).
  if (maxRecordBytes > MAX_RECORD_BYTES) throw new TypeError(`maxRecordBytes must be at most ${MAX_RECORD_BYTES}`)
  if (config.maxValueBytes > maxRecordBytes) throw new TypeError(`maxValueBytes must be at most maxRecordBytes (${maxRecordBytes})`)
  if (maxSiblings > MAX_SIBLINGS) throw new TypeError(`maxSiblings must be at most ${MAX_SIBLINGS}`)
  if ((config.q & (config.q - 1)) !== 0 || config.q > MAX_Q) throw new TypeError(`q must be a power of two up to ${MAX_Q}`)
  if (!(config.weight >= 0 && config.weight <= MAX_WEIGHT)) throw new TypeError(`weight must be in [0, ${MAX_WEIGHT}] (0: a client that holds no partitions)`)
  const env = options.env ?? realEnv()
  const { simulation } = options
  const release = simulation?.hold()
  try {
    const store = new ReplicaStore(storage, config.q)
    store.now = () => env.now()
    await store.open()
    const meta = await loadMeta(storage, transport.id, env)
    const members = await loadMembers(storage)
    const node = new Node({
      id: transport.id,
      env,
      simulation,
      config,
      store,
      transport,
      meta,
      members,
      seeds: (options.seeds ?? []).map((s) => s as NodeId),
    })
    try {
      await node.start()
    } catch (e) {
      // Whatever started (the transport, timers) stops again; the caller keeps its storage.
      node.halt()
      await transport.stop().catch(() => {})
      throw e
    }
    // The simulation crashes the node through halt() and brings it back through recreate().
    node.recreate = (o: Parameters<AttachedNode['recreate']>[0]) => createNode({ ...options, ...o })
    simulation?.attach(node)
    return node
  } finally {
    release?.()
  }
}
