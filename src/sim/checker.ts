/**
 * The checker that runs over the history of a simulated run (DESIGN.md section 4):
 * - no acknowledged write is lost: it is in the final read of its key, or it was superseded by an
 *   acknowledged write whose context had seen it;
 * - replicas converge: after heal and quiescence every primary of a partition has the same Merkle root;
 * - hints drain: with every owner up, no node holds a hint;
 * - nothing comes back: no value is in the final read of its key after an acknowledged write whose
 *   context had seen it (directly, or through the writes it had seen) superseded it (a resurrected
 *   value), and no value is there that no write of the history wrote to that key (a phantom);
 * - (reported apart) no value comes back because the cluster stamped one write twice and a later
 *   write saw only one of the two versions (restampedValues).
 * Values written through a {@link History} are unique strings, so a final read says exactly which
 * writes survived.
 */
import type { DynameshNode, PutOptions } from '../api.js'
import { covers, type VersionSet, type VersionVector } from '../core/clock.js'
import { decodeContext } from '../core/record.js'

export interface WriteRecord {
  /** The unique value written (or `del:<n>` for a delete). */
  id: string
  key: string
  deleted: boolean
  /** Write ids the writer had read: the values of the get whose context it carried. */
  saw: string[]
  /** The context the write carried, if any (the one its `saw` came with). */
  context?: string
  acked: boolean
  error?: string
}

const decoder = new TextDecoder()
const encoder = new TextEncoder()
/** Ends a write's id inside a padded value (ids never contain it). */
const PAD = 0x23 // '#'

/** The write id a value carries: the whole value, or what precedes the padding of a large one. */
const idOf = (v: Uint8Array): string => {
  const end = v.indexOf(PAD)
  return decoder.decode(end < 0 ? v : v.subarray(0, end))
}

/** Records every write and read made through it, to check them after the run. */
export class History {
  readonly writes: WriteRecord[] = []
  private seq = 0
  /**
   * Key and context → the values the get that produced it returned. Per key: two keys' contexts can
   * be the same string (one coordinator, same counters, same millisecond).
   */
  private readonly reads = new Map<string, string[]>()

  constructor(private readonly prefix = 'w') {}

  /** A get through `node`, remembering what its context covers. */
  async get(node: DynameshNode, key: string): Promise<{ values: string[]; context: string }> {
    const r = await node.get(key)
    const values = r.values.map(idOf)
    if (r.context) this.reads.set(`${key}\u0000${r.context}`, values)
    return { values, context: r.context }
  }

  /**
   * Writes a fresh unique value (or deletes) with an optional context; never throws. `bytes` pads
   * the value to that size (large values); reads still see only the write's id.
   */
  async write(node: DynameshNode, key: string, opts: { context?: string; del?: boolean; w?: number; bytes?: number } = {}): Promise<WriteRecord> {
    const id = `${opts.del ? 'del' : this.prefix}:${this.seq++}`
    const rec: WriteRecord = { id, key, deleted: !!opts.del, saw: opts.context ? (this.reads.get(`${key}\u0000${opts.context}`) ?? []) : [], acked: false }
    if (opts.context) rec.context = opts.context
    this.writes.push(rec)
    const options: PutOptions = {}
    if (opts.context) options.context = opts.context as PutOptions['context']
    if (opts.w) options.w = opts.w
    try {
      if (opts.del) await node.delete(key, options)
      else await node.put(key, opts.bytes ? padded(id, opts.bytes) : id, options)
      rec.acked = true
    } catch (e) {
      rec.error = e instanceof Error ? `${(e as { code?: string }).code ?? e.name}: ${e.message}` : String(e)
    }
    return rec
  }

  keys(): string[] {
    return [...new Set(this.writes.map((w) => w.key))].sort()
  }
}

/**
 * Acknowledged writes missing from the final reads and not superseded by a write that saw them.
 * `finalReads` maps each key to the values a full read returned after the run.
 *
 * A superseding write counts when it was acknowledged, or when it failed but visibly took effect
 * (Dynamo never rolls a failed write back: it may have reached a replica and win later): its value
 * is in the final read or is itself superseded that way. A failed delete leaves no value to look
 * for, so it counts as having taken effect.
 */
export function lostWrites(history: History, finalReads: Map<string, string[]>): WriteRecord[] {
  const supersededBy = new Map<string, WriteRecord[]>()
  for (const w of history.writes) {
    for (const s of w.saw) {
      const list = supersededBy.get(s) ?? []
      list.push(w)
      supersededBy.set(s, list)
    }
  }
  const memo = new Map<string, boolean>()
  const survives = (w: WriteRecord): boolean => {
    const known = memo.get(w.id)
    if (known !== undefined) return known
    memo.set(w.id, false)
    const ok =
      !!finalReads.get(w.key)?.includes(w.id) ||
      (supersededBy.get(w.id) ?? []).some((s) => s.key === w.key && (s.acked || s.deleted || survives(s)))
    memo.set(w.id, ok)
    return ok
  }
  return history.writes.filter((w) => w.acked && !w.deleted && !survives(w))
}

/** A value in a final read that should not be there, and why. */
export interface UnexpectedValue {
  /** The value's write id. */
  id: string
  key: string
  /** For a resurrected value: a write that took effect and superseded it (the first one found). */
  supersededBy?: WriteRecord
}

/**
 * Values present at the end although a write that took effect had superseded them: Dynamo's
 * versioning must never bring such a value back. A reappearing one means causality was lost on the
 * way: a clock entry pruned while an old copy was still out, a dot issued twice.
 *
 * Superseding writes are the acknowledged ones and every write they had seen, transitively (a write
 * some read returned took effect, even if its caller got an error).
 *
 * With `versions` (each key's final set, with dots: the swarm merges every replica's copy), a value
 * is resurrected when one of its final versions has a dot that such a write's context covered: the
 * system itself had superseded that version. Without, by values alone: when such a write had seen
 * the value. The value test also catches one put that the cluster stamped twice (two concurrent
 * versions of one value) of which a later write saw only one: the other stands, correctly by the
 * clocks; {@link restampedValues} reports those apart.
 */
export function resurrectedValues(history: History, finalReads: Map<string, string[]>, versions?: Map<string, VersionSet>): UnexpectedValue[] {
  const byId = new Map(history.writes.map((w) => [w.id, w]))
  const took = new Set<WriteRecord>()
  const visit = (w: WriteRecord): void => {
    if (took.has(w)) return
    took.add(w)
    for (const s of w.saw) {
      const prev = byId.get(s)
      if (prev && prev.key === w.key) visit(prev)
    }
  }
  for (const w of history.writes) if (w.acked) visit(w)
  const contexts = new Map<WriteRecord, VersionVector>()
  const contextOf = (w: WriteRecord): VersionVector => {
    let vv = contexts.get(w)
    if (!vv) contexts.set(w, (vv = w.context ? decodeContext(w.context) : {}))
    return vv
  }
  const out: UnexpectedValue[] = []
  for (const [key, ids] of finalReads) {
    const superseders = [...took].filter((w) => w.key === key)
    const set = versions?.get(key)
    if (set) {
      for (const x of set.siblings) {
        if (x.value === null) continue
        const id = idOf(x.value)
        const by = superseders.find((w) => w.id !== id && covers(contextOf(w), x.dot))
        if (by && !out.some((o) => o.key === key && o.id === id)) out.push({ id, key, supersededBy: by })
      }
      continue
    }
    for (const id of ids) {
      const by = superseders.find((w) => w.id !== id && w.saw.includes(id))
      if (by) out.push({ id, key, supersededBy: by })
    }
  }
  return out
}

/**
 * Values back in a final read although a write that took effect had seen them, where no such write's
 * context covered any of their final versions: one write the cluster stamped twice (a coordinator
 * stamped it, its answer never reached the writer in time, and a retry through another node stamped
 * it again), of which a later write read only one version. By the clocks the other is a concurrent
 * version, so {@link resurrectedValues} with versions passes it; to the user an overwritten value is
 * back. Forwarded writes are stamped once wherever a retry can learn of the first stamp
 * (docs/writes.md); what remains is a first coordinator cut off right after it stamped.
 *
 * Values that resurrectedValues with `versions` already reports are not repeated here.
 */
export function restampedValues(history: History, finalReads: Map<string, string[]>, versions: Map<string, VersionSet>): UnexpectedValue[] {
  const byDots = new Set(resurrectedValues(history, finalReads, versions).map((u) => `${u.key}\u0000${u.id}`))
  return resurrectedValues(history, finalReads).filter((u) => !byDots.has(`${u.key}\u0000${u.id}`))
}

/** Values in a final read that no write of the history (acknowledged or not) put to that key. */
export function phantomValues(history: History, finalReads: Map<string, string[]>): UnexpectedValue[] {
  const written = new Set(history.writes.filter((w) => !w.deleted).map((w) => `${w.key}\u0000${w.id}`))
  const out: UnexpectedValue[] = []
  for (const [key, ids] of finalReads) for (const id of ids) if (!written.has(`${key}\u0000${id}`)) out.push({ id, key })
  return out
}

/** Partitions whose primaries disagree on the Merkle root, with each primary's root. */
export function divergentPartitions(nodes: readonly DynameshNode[]): Array<{ partition: number; roots: Record<string, string> }> {
  const byId = new Map(nodes.map((n) => [n.id as string, n.inspect()]))
  const first = nodes[0]
  if (!first) return []
  const out: Array<{ partition: number; roots: Record<string, string> }> = []
  first.cluster().partitions.forEach((owners, p) => {
    const roots: Record<string, string> = {}
    for (const o of owners) {
      const ins = byId.get(o)
      if (ins) roots[o] = ins.roots[p] ?? ''
    }
    if (new Set(Object.values(roots)).size > 1) out.push({ partition: p, roots })
  })
  return out
}

/** Nodes still holding hints, with the count. */
export function undeliveredHints(nodes: readonly DynameshNode[]): Array<{ id: string; hints: number }> {
  return nodes.map((n) => ({ id: n.id as string, hints: n.inspect().hints })).filter((h) => h.hints > 0)
}

/** Reads every key of the history with R = N through `node`; `contexts`, when given, gets each read's context. */
export async function finalReads(history: History, node: DynameshNode, n = 3, contexts?: Map<string, string>): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>()
  for (const k of history.keys()) {
    const r = await node.get(k, { r: n })
    out.set(k, r.values.map(idOf))
    contexts?.set(k, r.context)
  }
  return out
}

/** `id`, then the padding byte, then filler up to `bytes` bytes in all. */
function padded(id: string, bytes: number): Uint8Array {
  const head = encoder.encode(id)
  const out = new Uint8Array(Math.max(bytes, head.length + 1)).fill(0x2e)
  out.set(head)
  out[head.length] = PAD
  return out
}
