/**
 * The replica store of one node: version sets for the keys it holds, hints it keeps for others, and
 * one Merkle tree per partition kept up to date on every write. Every read-merge-write of a key runs
 * under that key's lock, so two replies merging into the same key can never lose each other's work.
 *
 * Traces: a node stamps its writes with one replica id (`NodeContext.dotId`) and numbers them per
 * key from what it holds of the key (`update` in clock.ts). When its last copy of a key leaves (a
 * hint delivered, a record transferred), that count would start again at 1, and worse: a new dot
 * `(id, n)` claims, by its vector entry, to have seen every earlier `(id, m < n)` of the key, so a
 * blind write here would also supersede this node's own earlier versions still live elsewhere (a
 * lost update), or reuse their dots (a resurrection). So before the last copy goes, the store keeps
 * the key's trace: this node's own vector entry and its own live siblings, nothing else. The next
 * write this node coordinates on the key starts from its copies merged with the trace, exactly as
 * if it had kept the record, and the trace is dropped once a copy holds it again. The replica id then
 * stays the same for the node's whole life (a new one only for a fresh disk, `meta.ts`), and clocks
 * stay as small as the set of replicas that really coordinated writes. A trace costs a counter, plus
 * the values of this node's own writes that were still current when they left (until a set arrives
 * that supersedes them); it is written in the same atomic batch as the deletion it stands in for, so
 * a crash cannot separate them.
 */
import { covers, entryOf, equalSets, merge, emptySet, type VersionSet } from '../core/clock.js'
import { decodeSet, digestOfEncoded, encodeSet } from '../core/record.js'
import { MerkleTree, bucketOfDigest } from '../core/merkle.js'
import { partitionOfDigest } from '../core/ring.js'
import { sha256 } from '../core/sha256.js'
import { MAX_HINTS_PER_OWNER } from '../limits.js'
import { equalBytes, toHex } from '../core/hash.js'
import { DynameshError } from '../errors.js'
import type { BatchOp, Storage } from '../types.js'
import { RecordCache, encodeOnce, rememberEncoding } from './cache.js'
import { hintKey, hintsRange, parseHintKey, parseRecordKey, partitionRange, recordKey, recordsRange } from './keys.js'

/** `'s' | key -> trace` (see above): next to records ('r'), hints ('h') and metadata ('m/') of keys.ts. */
const TRACE = 0x73
/** `tag | key`, and the range of all such keys. */
const tagged = (tag: number, key: Uint8Array): Uint8Array => {
  const out = new Uint8Array(1 + key.length)
  out[0] = tag
  out.set(key, 1)
  return out
}
const taggedRange = (tag: number): { gte: Uint8Array; lt: Uint8Array } => ({ gte: Uint8Array.of(tag), lt: Uint8Array.of(tag + 1) })
const traceKey = (key: Uint8Array): Uint8Array => tagged(TRACE, key)
const tracesRange = taggedRange(TRACE)

/**
 * `'g' | key -> digest (16) | since (f64)`: a grave, a tombstone every replica of its partition is
 * known to hold (collect.ts). Its record stays where it was, out of the partition's tree, so a stale
 * copy arriving later still merges into it; it is deleted once `since` is a horizon old. The digest
 * names the record it stands for: a marker whose record changed meanwhile is void.
 */
const GRAVE = 0x67
const graveKey = (key: Uint8Array): Uint8Array => tagged(GRAVE, key)
const gravesRange = taggedRange(GRAVE)
/** Tombstones larger than this (a vector of hundreds of entries) are not checked at open: kept, never collected. */
const SCAN_TOMBSTONE_BYTES = 2048

/** True when every version of `set` is a delete. */
export const deletedOnly = (set: VersionSet): boolean => set.siblings.length > 0 && set.siblings.every((s) => s.value === null)

/** A tombstone this store holds in a tree: when it landed (a store-wide sequence number and a time). */
export interface Tombstone {
  key: Uint8Array
  p: number
  seq: number
  at: number
}

/** A grave (see GRAVE above). */
export interface Grave {
  key: Uint8Array
  p: number
  digest: Uint8Array
  since: number
  /** The landing count when it was buried (0: found at open). */
  seq: number
}

/** What `set` says of replica `self`'s own writes: its vector entry and its live siblings; undefined when it has none. */
export function ownPart(set: VersionSet, self: string): VersionSet | undefined {
  const e = entryOf(set.vv, self)
  if (e === undefined) return undefined
  const vv: VersionSet['vv'] = {}
  Object.defineProperty(vv, self, { value: e, enumerable: true, writable: true, configurable: true })
  return { vv, siblings: set.siblings.filter((x) => x.dot.id === self) }
}

export interface HintEntry {
  owner: string
  key: Uint8Array
  set: VersionSet
  digest: Uint8Array
}

export class ReplicaStore {
  private readonly trees = new Map<number, MerkleTree>()
  /** key hex -> owners we hold hints for (hints are few; reads check them). */
  private readonly hintIndex = new Map<string, Set<string>>()
  private readonly locks = new Map<string, Promise<unknown>>()
  /** Keys (hex) this store holds a trace for. */
  private readonly traced = new Set<string>()
  private hintCount = 0
  private fenced = false
  /** Decoded records of hot keys (cache.ts); told of every record write and delete below. */
  readonly cache = new RecordCache()
  /** Told of every record or hint this store writes (a new version reached this node). */
  onChange: ((key: Uint8Array, hintFor: string | undefined) => void) | undefined

  /** Clock for landing and grave times; the node sets its Env's. */
  now: () => number = () => 0
  /** Counts records landing: a proof of agreement names the count it covers (collect.ts). */
  seq = 0
  /** Tombstones in the trees, by key hex: candidates for collection. */
  readonly tombstones = new Map<string, Tombstone>()
  /** Graves by key hex: records kept out of the trees until they are deleted. */
  readonly graves = new Map<string, Grave>()

  /** Hints held per owner, and hints refused because an owner had MAX_HINTS_PER_OWNER already. */
  private readonly hintsByOwner = new Map<string, number>()
  hintsRefused = 0

  constructor(
    private readonly storage: Storage,
    readonly q: number,
    private readonly maxHintsPerOwner = MAX_HINTS_PER_OWNER,
  ) {}

  /**
   * After a crash (halt) nothing more may reach the disk: work still in flight from before the crash
   * must not write behind the back of the node that restarts on the same storage.
   */
  fence(): void {
    this.fenced = true
  }

  private checkFence(): void {
    if (this.fenced) throw new DynameshError('NOT_RUNNING', 'node stopped')
  }

  /** Writes raw ops (node metadata) unless fenced. */
  async batch(ops: BatchOp[]): Promise<void> {
    this.checkFence()
    await this.storage.batch(ops)
  }

  /** Rebuilds the trees and the hint index from storage. */
  async open(): Promise<void> {
    const marked = new Map<string, { mark: Uint8Array; digest: Uint8Array; since: number }>()
    for await (const [k, v] of this.storage.iterate(gravesRange)) {
      if (v.length === 24)
        marked.set(toHex(k.subarray(1)), {
          // Stryker disable next-line MethodExpression: the iterator's key holds the same bytes, and is only kept until the deletion below
          mark: k.slice(),
          digest: v.slice(0, 16),
          since: new DataView(v.buffer, v.byteOffset + 16, 8).getFloat64(0),
        })
    }
    for await (const [k, v] of this.storage.iterate(recordsRange)) {
      const { partition, key } = parseRecordKey(k)
      const digest = digestOfEncoded(v)
      const hex = toHex(key)
      const mark = marked.get(hex)
      if (mark && equalBytes(mark.digest, digest)) {
        // Stryker disable next-line MethodExpression: a view of the iterator's fresh key holds the same bytes (the copy saves memory)
        this.graves.set(hex, { key: key.slice(), p: partition, digest, since: mark.since, seq: 0 })
        marked.delete(hex)
        continue
      }
      // Stryker disable next-line MethodExpression: the tree copies the key it is given
      this.setEntry(partition, key.slice(), digest)
      // Every tombstone found here landed before any proof this run records.
      // Stryker disable next-line MethodExpression: a view of the iterator's fresh key holds the same bytes (the copy saves memory)
      if (v.length <= SCAN_TOMBSTONE_BYTES && deletedOnly(decodeSet(v))) this.tombstones.set(hex, { key: key.slice(), p: partition, seq: 0, at: this.now() })
    }
    // Markers whose record changed or went: void.
    if (marked.size) await this.storage.batch([...marked.values()].map((m) => ({ type: 'del' as const, key: m.mark })))
    for await (const [k] of this.storage.iterate(hintsRange)) {
      const { owner, key } = parseHintKey(k)
      this.indexHint(owner, key, true)
    }
    for await (const [k] of this.storage.iterate(tracesRange)) this.traced.add(toHex(k.subarray(1)))
  }

  tree(partition: number): MerkleTree {
    let t = this.trees.get(partition)
    if (!t) this.trees.set(partition, (t = new MerkleTree(partition)))
    return t
  }

  /**
   * Partitions for which this node holds at least one record (do not mutate). Asked whenever the
   * node is asked whether it is idle, so it is kept until a tree becomes empty or non-empty.
   */
  heldPartitions(): readonly number[] {
    if (this.held) return this.held
    const out: number[] = []
    for (const [p, t] of this.trees) if (t.size > 0) out.push(p)
    return (this.held = out)
  }
  private held: number[] | undefined

  /** Every change of a tree's entries goes through these two, which keep heldPartitions() current. */
  private setEntry(p: number, key: Uint8Array, digest: Uint8Array, bucket?: number): void {
    const t = this.tree(p)
    t.set(key, digest, bucket)
    if (t.size === 1) this.held = undefined
  }

  private deleteEntry(p: number, key: Uint8Array): void {
    const t = this.tree(p)
    t.delete(key)
    if (t.size === 0) this.held = undefined
  }

  get recordCount(): number {
    let n = 0
    for (const t of this.trees.values()) n += t.size
    return n
  }

  get hints(): number {
    return this.hintCount
  }

  partitionOf(key: Uint8Array): number {
    return partitionOfDigest(sha256(key, this.keyHash), this.q)
  }

  /** Where `key` lives: its partition and its leaf bucket in that partition's tree, from one hash. */
  private placeOf(key: Uint8Array): { p: number; bucket: number } {
    sha256(key, this.keyHash)
    return { p: partitionOfDigest(this.keyHash, this.q), bucket: bucketOfDigest(this.keyHash) }
  }
  private readonly keyHash = new Uint8Array(32)

  /**
   * Runs `fn` while holding the locks of all `hexes` (distinct hex keys). They are queued for in one
   * synchronous step, so two such calls never wait on each other in a cycle: whichever queued first
   * is ahead on every key they share.
   */
  private async withLocks<T>(hexes: readonly string[], fn: () => Promise<T>): Promise<T> {
    const before = hexes.map((k) => this.locks.get(k))
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    for (const k of hexes) this.locks.set(k, held)
    try {
      await Promise.all(before) // tails never reject (withLock keeps only settled-safe tails)
      return await fn()
    } finally {
      release()
      for (const k of hexes) if (this.locks.get(k) === held) this.locks.delete(k)
    }
  }

  /** Runs `fn` while holding the lock of `key`. */
  async withLock<T>(key: Uint8Array, fn: () => Promise<T>): Promise<T> {
    const k = toHex(key)
    const prev = this.locks.get(k) ?? Promise.resolve()
    const run = prev.then(fn, fn)
    const tail = run.catch(() => {})
    this.locks.set(k, tail)
    try {
      return await run
    } finally {
      if (this.locks.get(k) === tail) this.locks.delete(k)
    }
  }

  async readRecord(key: Uint8Array): Promise<VersionSet | undefined> {
    return this.readRecordAt(key, toHex(key), this.partitionOf(key))
  }

  /** readRecord, for a caller that knows the key's hex and partition. */
  private async readRecordAt(key: Uint8Array, k: string, p: number): Promise<VersionSet | undefined> {
    const cached = this.cache.get(k)
    if (cached) return cached
    const stamp = this.cache.stamp(k)
    const v = await this.storage.get(recordKey(p, key))
    if (!v) return undefined
    const set = decodeSet(v)
    rememberEncoding(set, v)
    this.cache.offer(k, set, v.length, stamp)
    return set
  }

  async readHint(owner: string, key: Uint8Array): Promise<VersionSet | undefined> {
    const v = await this.storage.get(hintKey(owner, key))
    return v ? decodeSet(v) : undefined
  }

  /** Everything this node knows of `key`: its record merged with every hint it holds for it. */
  async readAll(key: Uint8Array): Promise<VersionSet | undefined> {
    let s = await this.readRecord(key)
    for (const owner of this.hintIndex.get(toHex(key)) ?? []) {
      const h = await this.readHint(owner, key)
      if (h) s = s ? merge(s, h) : h
    }
    return s
  }

  /** The trace this store keeps of `key`, if any (see the top of this file). */
  async readTrace(key: Uint8Array): Promise<VersionSet | undefined> {
    if (!this.traced.has(toHex(key))) return undefined
    const v = await this.storage.get(traceKey(key))
    return v ? decodeSet(v) : undefined
  }

  /** Keys with a trace (for tests and inspection). */
  get traces(): number {
    return this.traced.size
  }

  /**
   * Read-merge-write of `key` under its lock, for a write this node coordinates. `change` gets what
   * the node knows of the key (record and hints, and its trace) and returns the set to store: as a
   * record, or as a hint for `hintFor`. That set holds everything the trace did, so the trace goes.
   */
  async modify(key: Uint8Array, hintFor: string | undefined, change: (known: VersionSet) => VersionSet): Promise<VersionSet> {
    return this.withLock(key, async () => {
      const held = await this.readAll(key)
      // Checked first so that a key without a trace costs no extra turn (the simulation's timing).
      const trace = this.traced.has(toHex(key)) ? await this.readTrace(key) : undefined
      const known = held && trace ? merge(held, trace) : (held ?? trace ?? emptySet)
      const next = change(known)
      await this.write(key, hintFor, next, trace !== undefined)
      return next
    })
  }

  /**
   * Merges an incoming set into the record (or the hint for `hintFor`) of `key`. Siblings of the
   * key's trace that the incoming set superseded leave the trace (its counter stays).
   */
  async apply(key: Uint8Array, incoming: VersionSet, hintFor?: string): Promise<VersionSet> {
    return this.withLock(key, async () => {
      if (this.traced.has(toHex(key))) await this.shrinkTrace(key, incoming)
      const current = hintFor === undefined ? await this.readRecord(key) : await this.readHint(hintFor, key)
      const next = current ? merge(current, incoming) : incoming
      if (current && equalSets(current, next)) return current
      await this.write(key, hintFor, next)
      return next
    })
  }

  /**
   * Merges many records at once, as `apply` does each, with one storage batch for all that changed:
   * a bulk fill (a wiped replica, a partition pushed whole) pays one write per batch instead of one
   * per record, and reads all the records in one go. The keys' locks are queued for in one step
   * (withLocks), so two bulk merges never wait on each other. Resolves with each key's set, in order.
   */
  async applyMany(items: ReadonlyArray<{ key: Uint8Array; set: VersionSet }>): Promise<VersionSet[]> {
    // One lock per key: a key given twice is merged first.
    const byKey = new Map<string, { key: Uint8Array; set: VersionSet }>()
    for (const it of items) {
      const k = toHex(it.key)
      const seen = byKey.get(k)
      byKey.set(k, seen ? { key: seen.key, set: merge(seen.set, it.set) } : it)
    }
    const order = [...byKey.keys()].sort()
    const merged = new Map<string, VersionSet>()
    const run = async (): Promise<void> => {
      const ops: BatchOp[] = []
      const wrote: Array<{ key: Uint8Array; hex: string; set: VersionSet; value: Uint8Array; p: number; bucket: number }> = []
      for (const k of order) if (this.traced.has(k)) await this.shrinkTrace(byKey.get(k)!.key, byKey.get(k)!.set)
      // Read all at once: storage serves them concurrently (LevelDB's thread pool, one IndexedDB transaction).
      const places = order.map((k) => this.placeOf(byKey.get(k)!.key))
      const currents = await Promise.all(order.map((k, i) => this.readRecordAt(byKey.get(k)!.key, k, places[i]!.p)))
      for (let i = 0; i < order.length; i++) {
        const k = order[i]!
        const { key, set } = byKey.get(k)!
        const { p, bucket } = places[i]!
        const current = currents[i]
        const next = current ? merge(current, set) : set
        if (current && equalSets(current, next)) {
          merged.set(k, current)
          continue
        }
        const value = encodeOnce(next) // a record new here keeps the bytes it came in
        ops.push({ type: 'put', key: recordKey(p, key), value })
        wrote.push({ key, hex: k, set: next, value, p, bucket })
        merged.set(k, next)
      }
      if (ops.length === 0) return
      this.checkFence()
      try {
        await this.storage.batch(ops)
      } catch (err) {
        // Whether the batch landed is unknown: the cache forgets the keys rather than guess.
        for (const w of wrote) this.cache.dropped(w.hex)
        throw err
      }
      for (const w of wrote) {
        this.landed(w.key, w.p, w.set, w.value, w.hex, w.bucket)
        this.onChange?.(w.key.slice(), undefined)
      }
    }
    await this.withLocks(order, run)
    return items.map((it) => merged.get(toHex(it.key))!)
  }

  private async shrinkTrace(key: Uint8Array, incoming: VersionSet): Promise<void> {
    const trace = await this.readTrace(key)
    if (!trace) return
    const held = new Set(incoming.siblings.map((x) => `${x.dot.n}:${x.dot.id}`))
    const siblings = trace.siblings.filter((x) => !covers(incoming.vv, x.dot) || held.has(`${x.dot.n}:${x.dot.id}`))
    if (siblings.length === trace.siblings.length) return
    this.checkFence()
    await this.storage.batch([{ type: 'put', key: traceKey(key), value: encodeSet({ vv: trace.vv, siblings }) }])
  }

  /** A record storage took: the cache and the partition's tree learn it. */
  private landed(key: Uint8Array, p: number, set: VersionSet, value: Uint8Array, hex = toHex(key), bucket?: number): void {
    this.cache.wrote(hex, set, value.length)
    this.setEntry(p, key, digestOfEncoded(value), bucket)
    this.seq++
    if (deletedOnly(set)) this.tombstones.set(hex, { key: key.slice(), p, seq: this.seq, at: this.now() })
    else this.tombstones.delete(hex)
    // A grave written over is a record again (its marker is void now; open() checks the digest).
    if (this.graves.delete(hex)) this.storage.batch([{ type: 'del', key: graveKey(key) }]).catch(() => {})
  }

  /** True when `key` is held as a grave. */
  isGrave(key: Uint8Array): boolean {
    return this.graves.has(toHex(key))
  }

  /** Takes a tombstone out of its tree and keeps it as a grave from now on (unless it changed meanwhile). */
  async bury(t: Tombstone): Promise<boolean> {
    return this.withLock(t.key, async () => {
      const hex = toHex(t.key)
      const digest = this.tree(t.p).get(t.key)
      if (this.tombstones.get(hex) !== t || !digest) return false
      const since = this.now()
      const value = new Uint8Array(24)
      value.set(digest, 0)
      new DataView(value.buffer).setFloat64(16, since)
      this.checkFence()
      await this.storage.batch([{ type: 'put', key: graveKey(t.key), value }])
      this.tombstones.delete(hex)
      this.deleteEntry(t.p, t.key)
      // A proof must come after the burial to count for the grave: the count moves on.
      this.graves.set(hex, { key: t.key, p: t.p, digest, since, seq: ++this.seq })
      return true
    })
  }

  /**
   * Deletes a grave's record and marker. Only the counter of this node's own writes stays behind
   * (replica `self`'s vector entry, as a trace): a write it coordinates on the key later numbers on
   * from it, so its dot is new to every replica that still keeps the grave.
   */
  async purge(g: Grave, self?: string): Promise<boolean> {
    return this.withLock(g.key, async () => {
      const hex = toHex(g.key)
      if (this.graves.get(hex) !== g) return false
      const cur = await this.storage.get(recordKey(g.p, g.key))
      const ops: BatchOp[] = [{ type: 'del', key: graveKey(g.key) }]
      if (cur && equalBytes(digestOfEncoded(cur), g.digest)) {
        ops.push({ type: 'del', key: recordKey(g.p, g.key) })
        const own = self === undefined ? undefined : ownPart(decodeSet(cur), self)
        if (own) ops.push(...(await this.traceOps(g.key, { vv: own.vv, siblings: [] }, await this.heldExcept(g.key, 'record'), self)))
      }
      this.checkFence()
      await this.storage.batch(ops)
      this.graves.delete(hex)
      this.cache.dropped(hex)
      if (ops.some((o) => o.type === 'put')) this.traced.add(hex)
      return true
    })
  }

  private async write(key: Uint8Array, hintFor: string | undefined, set: VersionSet, dropTrace = false): Promise<void> {
    if (hintFor !== undefined) this.checkHintRoom(hintFor, key)
    const value = encodeOnce(set)
    this.checkFence()
    const untrace: BatchOp[] = dropTrace ? [{ type: 'del', key: traceKey(key) }] : []
    try {
      if (hintFor === undefined) {
        const p = this.partitionOf(key)
        await this.storage.batch([{ type: 'put', key: recordKey(p, key), value }, ...untrace])
        this.landed(key, p, set, value)
      } else {
        await this.storage.batch([{ type: 'put', key: hintKey(hintFor, key), value }, ...untrace])
        this.indexHint(hintFor, key, true)
      }
      if (dropTrace) this.traced.delete(toHex(key))
      this.onChange?.(key.slice(), hintFor)
    } catch (cause) {
      // Whether the batch landed is unknown: the cache forgets the key rather than guess.
      if (hintFor === undefined) this.cache.dropped(toHex(key))
      if (cause instanceof DynameshError) throw cause
      throw new DynameshError('STORAGE_FAILED', 'could not write to storage', { cause })
    }
  }

  /**
   * The op that keeps the trace of `key` when `leaving` (a copy about to be deleted) carries writes
   * of replica `self` and no copy that stays (`staying`) has seen them all; none otherwise.
   */
  private async traceOps(key: Uint8Array, leaving: VersionSet, staying: VersionSet | undefined, self: string | undefined): Promise<BatchOp[]> {
    // Stryker disable next-line ArrayDeclaration: unreachable, every caller passes an id
    if (self === undefined) return []
    const own = ownPart(leaving, self)
    // Stryker disable next-line ArrayDeclaration: unreachable, every caller checks for an entry of self first
    if (own === undefined) return []
    const kept = staying && entryOf(staying.vv, self)
    if (kept !== undefined && kept.n >= own.vv[self]!.n) return []
    const prev = await this.readTrace(key)
    return [{ type: 'put', key: traceKey(key), value: encodeSet(prev ? merge(prev, own) : own) }]
  }

  /** Everything held of `key` but the copy `except` names (a hint's owner, or 'record'). */
  private async heldExcept(key: Uint8Array, except: { owner: string } | 'record'): Promise<VersionSet | undefined> {
    let s = except === 'record' ? undefined : await this.readRecord(key)
    for (const owner of this.hintIndex.get(toHex(key)) ?? []) {
      // Stryker disable next-line StringLiteral: compared with '', 'record' goes on to 'record'.owner, undefined: no owner matches
      if (except !== 'record' && owner === except.owner) continue
      const h = await this.readHint(owner, key)
      if (h) s = s ? merge(s, h) : h
    }
    return s
  }

  private indexHint(owner: string, key: Uint8Array, add: boolean): void {
    const k = toHex(key)
    let owners = this.hintIndex.get(k)
    if (add) {
      if (!owners) this.hintIndex.set(k, (owners = new Set()))
      if (!owners.has(owner)) {
        owners.add(owner)
        this.hintCount++
        this.hintsByOwner.set(owner, (this.hintsByOwner.get(owner) ?? 0) + 1)
      }
    } else if (owners?.delete(owner)) {
      this.hintCount--
      const left = (this.hintsByOwner.get(owner) ?? 1) - 1
      if (left > 0) this.hintsByOwner.set(owner, left)
      else this.hintsByOwner.delete(owner)
      if (owners.size === 0) this.hintIndex.delete(k)
    }
  }

  /** Refuses a new key for `owner` once it has its share of hints (an update of a held hint passes). */
  private checkHintRoom(owner: string, key: Uint8Array): void {
    if ((this.hintsByOwner.get(owner) ?? 0) < this.maxHintsPerOwner) return
    if (this.hintIndex.get(toHex(key))?.has(owner)) return
    this.hintsRefused++
    throw new DynameshError('OVERLOADED', `already ${this.maxHintsPerOwner} hints for ${owner}`)
  }

  /** Every hint held, grouped by owner. */
  async allHints(): Promise<Map<string, HintEntry[]>> {
    const out = new Map<string, HintEntry[]>()
    for await (const [k, v] of this.storage.iterate(hintsRange)) {
      const { owner, key } = parseHintKey(k)
      let list = out.get(owner)
      if (!list) out.set(owner, (list = []))
      // Stryker disable next-line MethodExpression: a view of the iterator's fresh key holds the same bytes (the copy saves memory)
      list.push({ owner, key: key.slice(), set: decodeSet(v), digest: digestOfEncoded(v) })
    }
    return out
  }

  /** Owners this node holds hints for. */
  hintOwners(): ReadonlySet<string> {
    return new Set(this.hintsByOwner.keys())
  }

  /**
   * Deletes hints whose content is still what was delivered (a newer hint stays for next time).
   * `self`, the replica id this node stamps its writes with, keeps a trace of a key whose last copy
   * this was (see the top of this file).
   */
  async deleteHints(entries: readonly HintEntry[], self?: string): Promise<number> {
    let n = 0
    for (const e of entries) {
      await this.withLock(e.key, async () => {
        const cur = await this.storage.get(hintKey(e.owner, e.key))
        if (!cur || !equalBytes(digestOfEncoded(cur), e.digest)) return
        const leaving = decodeSet(cur)
        const trace = self !== undefined && entryOf(leaving.vv, self) ? await this.traceOps(e.key, leaving, await this.heldExcept(e.key, { owner: e.owner }), self) : []
        this.checkFence()
        await this.storage.batch([{ type: 'del', key: hintKey(e.owner, e.key) }, ...trace])
        this.indexHint(e.owner, e.key, false)
        if (trace.length) this.traced.add(toHex(e.key))
        n++
      })
    }
    return n
  }

  /** Records of one partition, in key order. */
  async *records(partition: number): AsyncGenerator<{ key: Uint8Array; set: VersionSet; digest: Uint8Array }> {
    for await (const [k, v] of this.storage.iterate(partitionRange(partition))) {
      // Stryker disable next-line MethodExpression: a view of the iterator's fresh key holds the same bytes (the copy saves memory)
      yield { key: parseRecordKey(k).key.slice(), set: decodeSet(v), digest: digestOfEncoded(v) }
    }
  }

  /**
   * Records of one partition as stored, in key order, without decoding (graves left out): what a
   * replica that holds none of the partition is sent. Read past the cache, so a bulk push does not
   * evict the keys clients are reading.
   */
  async *encodedRecords(partition: number): AsyncGenerator<{ key: Uint8Array; rec: Uint8Array }> {
    for await (const [k, rec] of this.storage.iterate(partitionRange(partition))) {
      const key = k.slice(3) // a copy: a view would move a small array off the heap
      if (this.graves.size > 0 && this.graves.has(toHex(key))) continue
      yield { key, rec }
    }
  }

  /** Deletes records whose digest is still the one transferred; `self` keeps traces as deleteHints does. */
  async deleteRecords(partition: number, entries: readonly { key: Uint8Array; digest: Uint8Array }[], self?: string): Promise<number> {
    let n = 0
    for (const e of entries) {
      await this.withLock(e.key, async () => {
        const cur = this.tree(partition).get(e.key)
        if (!cur || !equalBytes(cur, e.digest)) return
        const leaving = self === undefined ? undefined : await this.readRecord(e.key)
        const trace = leaving && self !== undefined && entryOf(leaving.vv, self) ? await this.traceOps(e.key, leaving, await this.heldExcept(e.key, 'record'), self) : []
        const ops: BatchOp[] = [{ type: 'del', key: recordKey(partition, e.key) }, ...trace]
        this.checkFence()
        await this.storage.batch(ops)
        this.cache.dropped(toHex(e.key))
        this.deleteEntry(partition, e.key)
        this.tombstones.delete(toHex(e.key))
        if (trace.length) this.traced.add(toHex(e.key))
        n++
      })
    }
    return n
  }

  /** Raw access for node metadata. */
  get raw(): Storage {
    return this.storage
  }
}
