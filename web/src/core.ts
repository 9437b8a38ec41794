/**
 * The pure building blocks the page draws with: the ring and sloppy preference lists (Dynamo 4.2,
 * 4.3) rebuilt from a node's public `cluster()` view, and contexts decoded into version vectors
 * (4.4). Pure functions from src/core, the same code every node runs.
 */
import type { ClusterInfo, NodeId } from 'dynamesh'
import { ringMembersOf } from '../../src/core/membership.js'
import { buildRing, partitionOf, preferenceList, type PrefEntry, type Ring } from '../../src/core/ring.js'
import { decodeContext, decodeSet } from '../../src/core/record.js'
import { recordKey } from '../../src/node/keys.js'

export { partitionOf, recordKey, decodeSet, type PrefEntry, type Ring }

const enc = new TextEncoder()
let cached: { key: string; ring: Ring } | undefined

/** The ring a node with this view computes (only `up` members with a weight own partitions; weight-0 clients do not). */
export function ringOf(c: ClusterInfo): Ring {
  const members = ringMembersOf(c.members.map((m) => ({ id: m.id, weight: m.weight, status: m.status, version: 0 })))
  const key = `${c.config.q}/${c.config.n}/${members.map((m) => `${m.id}:${m.weight}`).join(',')}`
  if (cached?.key !== key) cached = { key, ring: buildRing(members, { q: c.config.q, n: c.config.n }) }
  return cached.ring
}

/** Where a key lives as the viewing node sees it: its partition and sloppy preference list. */
export function placeKey(c: ClusterInfo, key: string, n = c.config.n): { partition: number; prefs: PrefEntry[] } {
  const partition = partitionOf(enc.encode(key), c.config.q)
  const reachable = new Map(c.members.map((m) => [m.id as string, m.reachable]))
  const ring = ringOf(c)
  if (ring.members.length === 0) return { partition, prefs: [] }
  const prefs = preferenceList(ring, partition, n, (id: NodeId) => id === c.id || reachable.get(id) === true)
  return { partition, prefs }
}

/** A context as the version vector it stands for: `[[replica id, counter], ...]`. */
export function versionsOf(context: string): Array<[string, number]> {
  try {
    return Object.entries(decodeContext(context)).map(([id, e]) => [id, e.n] as [string, number]).sort()
  } catch {
    return []
  }
}
