/** Builds simulated clusters for the scenario tests. */
import { createNode, memoryStorage, type DynameshNode, type NodeOptions } from '../../src/index.js'
import { createSimNetwork, type SimNetwork, type SimOptions } from '../../src/sim/index.js'

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
