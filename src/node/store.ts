/**
 * The replica store of one node: version sets for the keys it holds, hints it keeps for others, and
 * one Merkle tree per partition kept up to date on every write. Every read-merge-write of a key runs
 * under that key's lock, so two replies merging into the same key can never lose each other's work.
 */
import { equalSets, merge, emptySet, type VersionSet } from '../core/clock.js'
import { decodeSet, digestOfEncoded, encodeSet } from '../core/record.js'
import { MerkleTree } from '../core/merkle.js'
import { partitionOf } from '../core/ring.js'
import { equalBytes, toHex } from '../core/hash.js'
import { DynameshError } from '../errors.js'
import type { BatchOp, Storage } from '../types.js'
import { hintKey, hintsRange, parseHintKey, parseRecordKey, partitionRange, recordKey, recordsRange } from './keys.js'

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
  private hintCount = 0
  private fenced = false
  /** Told of every record or hint this store writes (a new version reached this node). */
  onChange: ((key: Uint8Array, hintFor: string | undefined) => void) | undefined

  constructor(
    private readonly storage: Storage,
    readonly q: number,
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
    for await (const [k, v] of this.storage.iterate(recordsRange)) {
      const { partition, key } = parseRecordKey(k)
      this.tree(partition).set(key.slice(), digestOfEncoded(v))
    }
    for await (const [k] of this.storage.iterate(hintsRange)) {
      const { owner, key } = parseHintKey(k)
      this.indexHint(owner, key, true)
    }
  }

  tree(partition: number): MerkleTree {
    let t = this.trees.get(partition)
    if (!t) this.trees.set(partition, (t = new MerkleTree()))
    return t
  }

  /** Partitions for which this node holds at least one record. */
  heldPartitions(): number[] {
    return [...this.trees.entries()].filter(([, t]) => t.size > 0).map(([p]) => p)
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
    return partitionOf(key, this.q)
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
    const v = await this.storage.get(recordKey(this.partitionOf(key), key))
    return v ? decodeSet(v) : undefined
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

  /**
   * Read-merge-write of `key` under its lock. `change` gets what the node knows of the key (record
   * and hints) and returns the set to store: as a record, or as a hint for `hintFor`.
   */
  async modify(key: Uint8Array, hintFor: string | undefined, change: (known: VersionSet) => VersionSet): Promise<VersionSet> {
    return this.withLock(key, async () => {
      const known = (await this.readAll(key)) ?? emptySet
      const next = change(known)
      await this.write(key, hintFor, next)
      return next
    })
  }

  /** Merges an incoming set into the record (or the hint for `hintFor`) of `key`. */
  async apply(key: Uint8Array, incoming: VersionSet, hintFor?: string): Promise<VersionSet> {
    return this.withLock(key, async () => {
      const current = hintFor === undefined ? await this.readRecord(key) : await this.readHint(hintFor, key)
      const next = current ? merge(current, incoming) : incoming
      if (current && equalSets(current, next)) return current
      await this.write(key, hintFor, next)
      return next
    })
  }

  private async write(key: Uint8Array, hintFor: string | undefined, set: VersionSet): Promise<void> {
    const value = encodeSet(set)
    this.checkFence()
    try {
      if (hintFor === undefined) {
        const p = this.partitionOf(key)
        await this.storage.batch([{ type: 'put', key: recordKey(p, key), value }])
        this.tree(p).set(key.slice(), digestOfEncoded(value))
      } else {
        await this.storage.batch([{ type: 'put', key: hintKey(hintFor, key), value }])
        this.indexHint(hintFor, key, true)
      }
      this.onChange?.(key.slice(), hintFor)
    } catch (cause) {
      if (cause instanceof DynameshError) throw cause
      throw new DynameshError('STORAGE_FAILED', 'could not write to storage', { cause })
    }
  }

  private indexHint(owner: string, key: Uint8Array, add: boolean): void {
    const k = toHex(key)
    let owners = this.hintIndex.get(k)
    if (add) {
      if (!owners) this.hintIndex.set(k, (owners = new Set()))
      if (!owners.has(owner)) {
        owners.add(owner)
        this.hintCount++
      }
    } else if (owners?.delete(owner)) {
      this.hintCount--
      if (owners.size === 0) this.hintIndex.delete(k)
    }
  }

  /** Every hint held, grouped by owner. */
  async allHints(): Promise<Map<string, HintEntry[]>> {
    const out = new Map<string, HintEntry[]>()
    for await (const [k, v] of this.storage.iterate(hintsRange)) {
      const { owner, key } = parseHintKey(k)
      let list = out.get(owner)
      if (!list) out.set(owner, (list = []))
      list.push({ owner, key: key.slice(), set: decodeSet(v), digest: digestOfEncoded(v) })
    }
    return out
  }

  /** Owners this node holds hints for. */
  hintOwners(): Set<string> {
    const out = new Set<string>()
    for (const owners of this.hintIndex.values()) for (const o of owners) out.add(o)
    return out
  }

  /** Deletes hints whose content is still what was delivered (a newer hint stays for next time). */
  async deleteHints(entries: readonly HintEntry[]): Promise<number> {
    let n = 0
    for (const e of entries) {
      await this.withLock(e.key, async () => {
        const cur = await this.storage.get(hintKey(e.owner, e.key))
        if (!cur || !equalBytes(digestOfEncoded(cur), e.digest)) return
        this.checkFence()
        await this.storage.batch([{ type: 'del', key: hintKey(e.owner, e.key) }])
        this.indexHint(e.owner, e.key, false)
        n++
      })
    }
    return n
  }

  /** Records of one partition, in key order. */
  async *records(partition: number): AsyncGenerator<{ key: Uint8Array; set: VersionSet; digest: Uint8Array }> {
    for await (const [k, v] of this.storage.iterate(partitionRange(partition))) {
      yield { key: parseRecordKey(k).key.slice(), set: decodeSet(v), digest: digestOfEncoded(v) }
    }
  }

  /** Deletes records whose digest is still the one transferred. */
  async deleteRecords(partition: number, entries: readonly { key: Uint8Array; digest: Uint8Array }[]): Promise<number> {
    let n = 0
    for (const e of entries) {
      await this.withLock(e.key, async () => {
        const cur = this.tree(partition).get(e.key)
        if (!cur || !equalBytes(cur, e.digest)) return
        const ops: BatchOp[] = [{ type: 'del', key: recordKey(partition, e.key) }]
        this.checkFence()
        await this.storage.batch(ops)
        this.tree(partition).delete(e.key)
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
