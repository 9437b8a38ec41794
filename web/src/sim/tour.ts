/**
 * The guided tour of the simulated mode: a handful of clicks made for the visitor, each with a line
 * saying what to watch and which section of the paper it comes from. The tour clicks the same
 * buttons a visitor would, so its run is recorded and replays like any other.
 */
import type { SimOp } from './cluster.js'

export interface TourStep {
  say: string
  /** The click this step makes, if any. */
  op?: SimOp
  /** Key to type into the form first (its preference list lights up on the ring). */
  key?: string
  /** Virtual ms to let run after the click before the next step. */
  waitMs: number
}

/** Stands for "the first key written by the tour that n5 is a replica of", found when the step runs. */
export const OWNED_BY_N5 = '\u0000owned-by-n5'

export const TOUR: TourStep[] = [
  { say: 'Eight nodes found each other by gossip and built the same ring: 64 partitions, each on N = 3 members (\u00a74.2, \u00a74.8). The numbered rings mark where the key "greeting" lives (\u00a74.3).', waitMs: 3000 },
  { say: 'n3 crashes. Its disk is kept; the others notice it is gone (\u00a74.8).', op: { op: 'crash', id: 'n3' }, waitMs: 2000 },
  { say: 'Twenty writes through n1. Where n3 is a replica, the next healthy member takes the write with a hint naming n3: sloppy quorum, every write acknowledged (\u00a74.6). See the hints per node in the table and the chart.', op: { op: 'writes', via: 'n1', count: 20 }, waitMs: 4000 },
  { say: 'n3 restarts on its disk. The members holding its hints hand them off, then drop them (\u00a74.6).', op: { op: 'restart', id: 'n3' }, waitMs: 6000 },
  { say: 'n5 loses its disk and comes back empty.', op: { op: 'wipe', id: 'n5' }, waitMs: 300 },
  { say: 'A get of a key n5 holds, right away: n5 answers that it has nothing, so the coordinator writes the newest version back to it (read repair, \u00a74.5).', key: OWNED_BY_N5, op: { op: 'get', via: 'n1', key: OWNED_BY_N5 }, waitMs: 1500 },
  { say: 'Meanwhile anti-entropy compares Merkle roots per partition with n5, descends only into differing branches and copies only the missing records (\u00a74.7). Watch n5\u2019s record count climb back.', waitMs: 20000 },
  { say: 'Two clients write "cart" at once through n2 and n6, each without a context: both versions are kept as siblings (\u00a74.4).', key: 'cart', op: { op: 'siblings', key: 'cart', a: 'n2', b: 'n6' }, waitMs: 1000 },
  { say: 'A get of "cart" returns both siblings and one context; a put with that context would resolve them (\u00a74.4, \u00a74.5).', key: 'cart', op: { op: 'get', via: 'n1', key: 'cart' }, waitMs: 2000 },
  { say: 'That was Dynamo\u2019s recovery in one run. Press Replay to watch the same run again from its seed, or break the cluster yourself with the buttons above.', waitMs: 0 },
]
