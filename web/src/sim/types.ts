/**
 * The simulated mode's vocabulary: settings, the operations a run is made of (what a script
 * records), the event log, the wire as the page sees it, and what a get and a replica report.
 * Types only, plus the default settings.
 */
import type { WireFamily, WireInfo } from '../wire.js'

export interface SimSettings {
  seed: number
  nodes: number
  n: number
  r: number
  w: number
  q: number
  latencyMs: [number, number]
}

export const DEFAULT_SETTINGS: SimSettings = { seed: 1, nodes: 8, n: 3, r: 2, w: 2, q: 64, latencyMs: [5, 25] }

/** Per-call quorum options, as typed in the page's form. */
export interface CallOpts {
  n?: number
  r?: number
  w?: number
}

/** One step of a run. `advance` carries `times` so long stretches of equal steps stay small. */
export type SimOp =
  | { op: 'advance'; ms: number; times?: number }
  | { op: 'crash'; id: string }
  | { op: 'restart'; id: string }
  | { op: 'wipe'; id: string }
  | { op: 'isolate'; id: string }
  | { op: 'split' }
  | { op: 'heal' }
  | { op: 'add' }
  | { op: 'put'; via: string; key: string; value: string; context?: string } & CallOpts
  | { op: 'get'; via: string; key: string } & CallOpts
  | { op: 'delete'; via: string; key: string; context?: string } & CallOpts
  | { op: 'writes'; via: string; count: number }
  | { op: 'siblings'; key: string; a: string; b: string }

export type LogKind = 'action' | 'result' | 'error' | 'hint' | 'handoff' | 'repair' | 'member' | 'reachable'

/** One line of the event log. `t` is virtual ms since the run began. */
export interface LogEntry {
  t: number
  kind: LogKind
  node?: string
  text: string
}

/** One message on the simulated wire. Times are virtual ms since the run began. */
export interface SimWire {
  seq: number
  from: string
  to: string
  bytes: number
  info: WireInfo
  family: WireFamily
  sentAt: number
  /** Set when the message arrived or was dropped. */
  doneAt?: number
  dropped?: string
}

export type NodeState = 'up' | 'crashed' | 'isolated'

/** Result of a get through the page, with each sibling's version (the dots of the read set). */
export interface GetView {
  values: string[]
  context: string
  deleted: boolean
}

/** What a replica's storage holds for a key: its siblings with their dots (sim mode only). */
export interface ReplicaView {
  id: string
  siblings: Array<{ value: string | null; dot: string }>
  hinted: boolean
}
