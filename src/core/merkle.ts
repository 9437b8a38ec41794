/**
 * Anti-entropy hash trees (Dynamo, DeCandia et al. 2007, section 4.7): one tree per partition over
 * (key, version digest), kept current on every write, and a diff that descends only into branches
 * whose hashes differ, so reconciling two replicas costs O(d x DEPTH) hashes for d differences.
 *
 * ```
 *  level 0                           root                     XOR of all entry hashes
 *                       ______________|______________
 *                      /      /           \          \
 *  level 1          n[0]   n[1]    ...   n[14]     n[15]      16 nodes      index = bucket >>> 12
 *                  /  |  \
 *  level 2     n[0] ... n[15]   ...                           256 nodes     index = bucket >>> 8
 *  level 3       ...                                          4,096 nodes   index = bucket >>> 4
 *  level 4     leaf buckets                                   65,536 leaves index = bucket
 *                 |
 *            { key -> (key, digest) }   entry hash e = sha256(u32 keyLen | key | digest)[0..16)
 * ```
 *
 * bucket = bytes [3..5) of sha256(key): the partition takes the top bits of the same hash, so the
 * bucket uses bits the partition did not fix (disjoint for up to 2^24 partitions) and a partition's
 * keys spread over every leaf instead of one corner of the tree.
 *
 * A node's hash is the XOR of the entry hashes beneath it. Why XOR rather than hashing the children
 * (riak_core's hashtree): a write is O(DEPTH) XORs with no sibling reads or rehashing, and the tree
 * depends only on the contents, never on write order. The price: XOR is a linear set hash, so someone
 * choosing entries could make two different sets collide. Replicas already trust each other's data,
 * and accidental collision is ~2^-128 per node; emptiness is decided by counts, not by a zero hash.
 *
 * Storage is sparse (maps per level, empty nodes removed): memory grows with entries, not 65,536 x Q.
 * The diff messages' wire form is in merkle-codec.ts (re-exported here).
 */
import { compareBytes, equalBytes, hash } from './hash.js'
import { sha256 } from './sha256.js'
import { decodeListings, decodeProbes, encodeListings, encodeProbes } from './merkle-codec.js'
import { DEPTH, FANOUT, HASH_BYTES, isZero } from './merkle-shape.js'
import { PartitionSketch } from './riblt.js'

export { DEPTH, FANOUT, HASH_BYTES } from './merkle-shape.js'
export { decodeListings, decodeProbes, encodeListings, encodeProbes, listingBytes, probeBytes, type ListingLimits } from './merkle-codec.js'

const BITS = 4 // log2(FANOUT)

/** A key with its version digest, as held in a leaf bucket. */
export interface MerkleEntry { key: Uint8Array; digest: Uint8Array }



/** The leaf bucket (0..65535) of a key. */
export function bucketOf(key: Uint8Array): number {
  return bucketOfDigest(hash(key))
}

/** The leaf bucket of a key from its SHA-256, for callers that hash the key once for several uses. */
export const bucketOfDigest = (d: Uint8Array): number => (d[3]! << 8) | d[4]!

/** Scratch input of entryHash, grown to the longest key seen. */
let entryInput = new Uint8Array(64)
const entryOutput = new Uint8Array(32)

function entryHash(key: Uint8Array, digest: Uint8Array): Uint8Array {
  const n = key.length
  const len = 4 + n + digest.length
  // Stryker disable next-line EqualityOperator,ArithmeticOperator: how the scratch input grows only saves allocations
  if (entryInput.length < len) entryInput = new Uint8Array(Math.max(len, 2 * entryInput.length))
  const buf = entryInput
  buf[0] = n >>> 24
  buf[1] = n >>> 16
  buf[2] = n >>> 8
  buf[3] = n
  buf.set(key, 4)
  buf.set(digest, 4 + n)
  // A copy, not a view: a view of the 32-byte output would keep all of it (and its buffer) alive.
  return sha256(buf.subarray(0, len), entryOutput).slice(0, HASH_BYTES)
}

/** Latin-1 string of the bytes: a Map key that is one char per byte, cheaper than hex. */
function keyId(key: Uint8Array): string {
  // Stryker disable next-line ConditionalExpression,EqualityOperator: the chunks build the same string; one call only saves the loop
  if (key.length <= 4096) return String.fromCharCode.apply(null, key as unknown as number[])
  // Stryker disable next-line StringLiteral: a prefix of every long key's id, and a short key's id is shorter than any
  let s = ''
  // Stryker disable next-line EqualityOperator: one more chunk past the end is empty
  for (let i = 0; i < key.length; i += 4096) s += String.fromCharCode.apply(null, key.subarray(i, i + 4096) as unknown as number[])
  return s
}

function xorInto(into: Uint8Array, x: Uint8Array): void {
  // Stryker disable next-line EqualityOperator: byte HASH_BYTES lies past every hash, where typed-array writes are dropped
  for (let i = 0; i < HASH_BYTES; i++) into[i]! ^= x[i]!
}

function checkNode(level: number, index: number, maxLevel: number): boolean {
  return Number.isInteger(level) && level >= 0 && level <= maxLevel &&
    Number.isInteger(index) && index >= 0 && index < FANOUT ** level
}

/**
 * An entry as a tree keeps it: one byte array [bucket u16 | digest 16 | entry hash 16 | key]. One
 * small array per key rather than an object holding three (a typed array's header outweighs 16
 * bytes of content several times): a partition tree of 400 keys held ~1.3 KB per key that way.
 */
type Packed = Uint8Array
const DIGEST_AT = 2
const HASH_AT = DIGEST_AT + HASH_BYTES
const KEY_AT = HASH_AT + HASH_BYTES

const bucketAt = (e: Packed): number => (e[0]! << 8) | e[1]!
const keyOf = (e: Packed): Uint8Array => e.slice(KEY_AT)
const digestOf = (e: Packed): Uint8Array => e.slice(DIGEST_AT, HASH_AT)
const hashOf = (e: Packed): Uint8Array => e.slice(HASH_AT, KEY_AT)
const entryOf = (e: Packed): MerkleEntry => ({ key: keyOf(e), digest: digestOf(e) })
/** tagOfHash of the entry hash, read in place (a view of a small array would move it off the heap). */
const tagAt = (e: Packed): number => (e[HASH_AT + 4]! << 8) | e[HASH_AT + 5]!
const byKeyBytes = (a: MerkleEntry, b: MerkleEntry): number => compareBytes(a.key, b.key)

/** XORs the entry hash of `e` into `into`. */
function xorHashInto(into: Uint8Array, e: Packed): void {
  // Stryker disable next-line EqualityOperator: byte HASH_BYTES lies past every hash, where typed-array writes are dropped
  for (let i = 0; i < HASH_BYTES; i++) into[i]! ^= e[HASH_AT + i]!
}

/** Hash plus entry count of an interior node, levels 1..INNER. */
interface TreeNode { h: Uint8Array; n: number }
/**
 * Interior levels kept up to date on every write. Below them (the last interior level and the leaf
 * buckets) hashes are XORs of the few entries beneath, computed when a diff asks: at a few hundred
 * keys per partition nearly every key has a node of its own there, and keeping those nodes would
 * cost more memory than the entries themselves.
 */
const INNER = DEPTH - 2

/** The hash tree of one partition's replica on this node. */
export class MerkleTree {
  /** The partition's reconciliation sketch (riblt.ts), kept with the hashes; only for a tree that knows its partition. */
  readonly sketch: PartitionSketch | undefined
  readonly #root: TreeNode = { h: new Uint8Array(HASH_BYTES), n: 0 }
  /** #levels[k - 1] holds the non-empty nodes of level k (1..INNER). */
  readonly #levels: Array<Map<number, TreeNode>> = Array.from({ length: INNER }, () => new Map())
  readonly #byKey = new Map<string, Packed>()
  #changes = 0
  /** Entries by leaf bucket, in arrival order. */
  readonly #leaves = new Map<number, Packed[]>()
  /** With a sketch: entries by the 16 hash bits an ae-diff names them by (riblt.ts tagOfHash). */
  readonly #byTag: Map<number, Packed[]> | undefined

  /** `partition`: the tree of that partition also keeps its reconciliation sketch current. */
  constructor(partition?: number) {
    this.sketch = partition === undefined ? undefined : new PartitionSketch(partition)
    this.#byTag = partition === undefined ? undefined : new Map()
  }

  /**
   * Inserts the key or replaces its digest (both are copied). `bucket`, when given, must be
   * bucketOf(key): a caller that hashed the key already saves hashing it again.
   */
  set(key: Uint8Array, digest: Uint8Array, bucket?: number): void {
    if (!(key instanceof Uint8Array)) throw new TypeError('key must be a Uint8Array')
    if (!(digest instanceof Uint8Array) || digest.length !== HASH_BYTES) throw new TypeError(`digest must be ${HASH_BYTES} bytes`)
    const id = keyId(key)
    const h = entryHash(key, digest)
    const old = this.#byKey.get(id)
    const e = new Uint8Array(KEY_AT + key.length)
    const b = old ? bucketAt(old) : (bucket ?? bucketOf(key))
    e[0] = b >>> 8
    e[1] = b
    e.set(digest, DIGEST_AT)
    e.set(h, HASH_AT)
    e.set(key, KEY_AT)
    if (old) {
      const oldH = hashOf(old)
      if (equalBytes(oldH, h)) return
      const delta = oldH.slice()
      xorInto(delta, h) // XOR out the old entry hash and XOR in the new one in a single pass
      this.#apply(b, delta, 0)
      this.#unstore(old)
      this.#store(id, e)
      this.sketch?.toggle(oldH, -1)
      this.sketch?.toggle(h, 1)
      return
    }
    this.#store(id, e)
    this.#apply(b, h, 1)
    this.sketch?.toggle(h, 1)
  }

  #store(id: string, e: Packed): void {
    this.#byKey.set(id, e)
    if (this.#byTag) push(this.#byTag, tagAt(e), e)
    push(this.#leaves, bucketAt(e), e)
  }

  /** Takes `e` out of the leaf and tag indexes (the caller updates #byKey). */
  #unstore(e: Packed): void {
    if (this.#byTag) pull(this.#byTag, tagAt(e), e)
    pull(this.#leaves, bucketAt(e), e)
  }

  /** Removes the key; absent keys are ignored. */
  delete(key: Uint8Array): void {
    const id = keyId(key)
    const e = this.#byKey.get(id)
    if (!e) return
    this.#byKey.delete(id)
    this.#unstore(e)
    const h = hashOf(e)
    this.#apply(bucketAt(e), h, -1)
    this.sketch?.toggle(h, -1)
  }

  /** The key's current digest (a copy), if present. */
  get(key: Uint8Array): Uint8Array | undefined {
    const e = this.#byKey.get(keyId(key))
    return e && digestOf(e)
  }

  /** How many times the hashes changed: equal counts of one tree mean an equal root, without copying it. */
  get changes(): number {
    return this.#changes
  }

  /** The root hash: 16 bytes, all zero when empty. */
  root(): Uint8Array {
    return this.#root.h.slice()
  }

  /** Number of keys. */
  get size(): number {
    return this.#byKey.size
  }

  /** The 16 child hashes of interior node (level, index), level 0..DEPTH-1; zeros for empty children. */
  children(level: number, index: number): Uint8Array[] {
    if (!checkNode(level, index, DEPTH - 1)) throw new TypeError(`no interior node (${level}, ${index})`)
    const out: Uint8Array[] = []
    for (let c = 0; c < FANOUT; c++) {
      const child = index * FANOUT + c
      // Stryker disable next-line ConditionalExpression,BlockStatement: a kept node holds what #eachUnder would compute, only slower
      if (level < INNER) {
        out.push(this.#levels[level]!.get(child)?.h.slice() ?? new Uint8Array(HASH_BYTES))
        continue
      }
      const h = new Uint8Array(HASH_BYTES)
      this.#eachUnder(level + 1, child, (e) => xorHashInto(h, e))
      out.push(h)
    }
    return out
  }

  /** Calls `fn` for every entry beneath node (level, index), level > INNER (computed levels). */
  #eachUnder(level: number, index: number, fn: (e: Packed) => void): void {
    const span = FANOUT ** (DEPTH - level)
    for (let b = index * span; b < (index + 1) * span; b++) for (const e of this.#leaves.get(b) ?? []) fn(e)
  }

  /** Entries of a leaf bucket, sorted by key bytes (copies). */
  leaf(index: number): MerkleEntry[] {
    if (!checkNode(DEPTH, index, DEPTH)) throw new TypeError(`no leaf ${index}`)
    return (this.#leaves.get(index) ?? []).map(entryOf).sort(byKeyBytes)
  }

  /** Number of entries beneath node (level, index), level 0..DEPTH. */
  count(level: number, index: number): number {
    if (!checkNode(level, index, DEPTH)) throw new TypeError(`no node (${level}, ${index})`)
    if (level === 0) return this.#root.n
    // Stryker disable next-line ConditionalExpression,EqualityOperator: a kept node's count is what #eachUnder would count, only slower
    if (level <= INNER) return this.#levels[level - 1]!.get(index)?.n ?? 0
    let n = 0
    this.#eachUnder(level, index, () => n++)
    return n
  }

  /** Every entry beneath node (level, index), sorted by key bytes (copies). */
  listUnder(level: number, index: number): MerkleEntry[] {
    if (level === 0) return [...this.#byKey.values()].map(entryOf).sort(byKeyBytes)
    return this.leavesUnder(level, index).flatMap((l) => this.leaf(l))
  }

  /** Non-empty leaf buckets beneath node (level, index), level 0..DEPTH, ascending. */
  leavesUnder(level: number, index: number): number[] {
    if (!checkNode(level, index, DEPTH)) throw new TypeError(`no node (${level}, ${index})`)
    if (level === DEPTH) return this.#leaves.has(index) ? [index] : []
    const out: number[] = []
    for (let c = 0; c < FANOUT; c++) {
      const child = index * FANOUT + c
      // Stryker disable next-line ConditionalExpression,EqualityOperator: the kept nodes only skip subtrees without leaves
      if (level + 1 > INNER || this.#levels[level]!.has(child)) out.push(...this.leavesUnder(level + 1, child))
    }
    return out
  }

  /** An independent copy, without rehashing: entries are shared (immutable), nodes are copied. */
  clone(): MerkleTree {
    const t = new MerkleTree(this.sketch?.partition)
    // Stryker disable next-line LogicalOperator: a clone has a sketch exactly when its original has one
    if (this.sketch && t.sketch) {
      if (this.sketch.cells) t.sketch.cells = this.sketch.cells.slice()
      t.sketch.tow.set(this.sketch.tow)
    }
    t.#root.h.set(this.#root.h)
    t.#root.n = this.#root.n
    this.#levels.forEach((level, k) => level.forEach((node, i) => t.#levels[k]!.set(i, { h: node.h.slice(), n: node.n })))
    for (const [id, e] of this.#byKey) t.#byKey.set(id, e)
    // Stryker disable next-line OptionalChaining: a clone has a tag index exactly when its original has one
    this.#byTag?.forEach((same, tag) => t.#byTag?.set(tag, [...same]))
    this.#leaves.forEach((leaf, b) => t.#leaves.set(b, [...leaf]))
    return t
  }

  /** Every entry (copies), in no particular order. */
  *entries(): Iterable<MerkleEntry> {
    for (const e of this.#byKey.values()) yield entryOf(e)
  }

  /** Every entry hash (copies), in no particular order. */
  *hashes(): Iterable<Uint8Array> {
    for (const e of this.#byKey.values()) yield hashOf(e)
  }

  /**
   * The entries whose entry hash has bytes 4..6 equal to `tag` (riblt.ts tagOfHash), with their
   * hashes (copies). Only for a tree of a partition; others have none.
   */
  withTag(tag: number): Array<MerkleEntry & { h: Uint8Array }> {
    return (this.#byTag?.get(tag) ?? []).map((e) => ({ key: keyOf(e), digest: digestOf(e), h: hashOf(e) }))
  }

  /** XORs `delta` into every kept node on the bucket's path and adjusts counts by `dn`. */
  #apply(bucket: number, delta: Uint8Array, dn: number): void {
    this.#changes++
    xorInto(this.#root.h, delta)
    this.#root.n += dn
    for (let k = 1; k <= INNER; k++) {
      const level = this.#levels[k - 1]!
      const idx = bucket >>> (BITS * (DEPTH - k))
      let node = level.get(idx)
      if (!node) level.set(idx, (node = { h: new Uint8Array(HASH_BYTES), n: 0 }))
      xorInto(node.h, delta)
      node.n += dn
      // Stryker disable next-line ConditionalExpression: an emptied node reads as zero hash and count whether kept or not
      if (node.n === 0) level.delete(idx)
    }
  }
}

/** Adds `e` to the list at `k`. */
function push(index: Map<number, Packed[]>, k: number, e: Packed): void {
  const list = index.get(k)
  if (list) list.push(e)
  else index.set(k, [e])
}

/** Removes `e` from the list at `k`, and the list once empty. */
function pull(index: Map<number, Packed[]>, k: number, e: Packed): void {
  const list = index.get(k)
  // Stryker disable next-line UnaryOperator: an entry being removed is always in its list
  const at = list ? list.indexOf(e) : -1
  // Stryker disable next-line ConditionalExpression: an entry being removed is always in its list
  if (at < 0) return
  if (list!.length === 1) index.delete(k)
  else list!.splice(at, 1)
}

/** An interior node whose children are compared: level 0..DEPTH-1, index < 16^level. */
export interface NodeRef { level: number; index: number }
/** The sender's 16 child hashes of one interior node. */
export interface Probe { node: NodeRef; childHashes: Uint8Array[] }
/**
 * The sender's full content of one leaf bucket, or (with `level` < DEPTH) of every leaf beneath the
 * interior node (level, leaf): adaptive depth, a small subtree listed instead of probed.
 */
export interface LeafListing { leaf: number; level?: number; entries: MerkleEntry[] }

/** Subtrees holding at most this many entries are listed at once: a listing of 8 costs about one probe. */
export const SMALL_SUBTREE = 8
export interface AnswerOptions {
  /**
   * When the prober's child hash is zero (it holds nothing there) and mine is not, list my leaves
   * beneath that child at once instead of probing level by level: saves the round trips and the
   * probe bytes of filling an empty or fresh replica. Replies may then mix probes and listings.
   */
  listUnderEmpty?: boolean
  /**
   * List a differing child whose subtree holds at most this many of my entries (one listing at its
   * node) instead of probing further: adaptive depth. 0 (the default) walks every level.
   */
  listSmall?: number
}

/** A listing of every entry beneath node (level, index) of `tree`. */
export function listNode(tree: MerkleTree, level: number, index: number): LeafListing {
  return level === DEPTH ? { leaf: index, entries: tree.leaf(index) } : { level, leaf: index, entries: tree.listUnder(level, index) }
}

/** The first message of a diff: a probe of the root's children. Always exactly one probe. */
export function startDiff(tree: MerkleTree): Probe[] {
  return [{ node: { level: 0, index: 0 }, childHashes: tree.children(0, 0) }]
}

/**
 * Answers the peer's probes: for every child whose hash differs from mine, my probe of that child
 * if it is interior, my listing if it is a leaf bucket. Nothing back means the compared parts agree.
 * Stateless, so a node may answer any subset of a message's probes (e.g. to split large replies).
 */
export function answerProbes(tree: MerkleTree, probes: Probe[], options: AnswerOptions = {}): { probes: Probe[]; leaves: LeafListing[] } {
  const out: Probe[] = []
  const leaves: LeafListing[] = []
  const seen = new Set<number>()
  for (const p of probes) {
    const { level, index } = p.node
    const at = FANOUT ** level + index // unique per node; a repeated probe would only multiply the reply
    if (seen.has(at)) continue
    seen.add(at)
    const mine = tree.children(level, index)
    for (let c = 0; c < FANOUT; c++) {
      const theirs = p.childHashes[c] ?? new Uint8Array(HASH_BYTES)
      // A probe off the wire carries hash prefixes (merkle-codec.ts): compare as many bytes as it has.
      if (equalBytes(mine[c]!.subarray(0, theirs.length), theirs)) continue
      const child = index * FANOUT + c
      if (level + 1 === DEPTH) leaves.push({ leaf: child, entries: tree.leaf(child) })
      else if (options.listSmall && tree.count(level + 1, child) <= options.listSmall) leaves.push(listNode(tree, level + 1, child))
      else if (options.listUnderEmpty && isZero(theirs)) {
        for (const l of tree.leavesUnder(level + 1, child)) leaves.push({ leaf: l, entries: tree.leaf(l) })
      } else out.push({ node: { level: level + 1, index: child }, childHashes: tree.children(level + 1, child) })
    }
  }
  return { probes: out, leaves }
}

/**
 * Compares the peer's leaf listings with my leaves. `theyNeed`: keys I hold that they lack or hold
 * with another digest; `iNeed`: keys they list that I lack or hold with another digest. A key whose
 * digests differ is in both: each side sends its version and each merges.
 */
export function compareLeaves(tree: MerkleTree, listings: LeafListing[]): { theyNeed: Uint8Array[]; iNeed: Uint8Array[] } {
  const theyNeed: Uint8Array[] = []
  const iNeed: Uint8Array[] = []
  const seenLeaves = new Set<number>()
  const seenKeys = new Set<string>()
  for (const l of listings) {
    const level = l.level ?? DEPTH
    // Stryker disable next-line ConditionalExpression,ArithmeticOperator: any numbering that keeps the nodes apart serves (also the leaves')
    const at = level === DEPTH ? l.leaf : -1 - ((FANOUT ** level - 1) / (FANOUT - 1) + l.leaf)
    // Stryker disable next-line ConditionalExpression: a repeated listing's keys are all seen already, so it adds nothing
    if (seenLeaves.has(at)) continue // a repeated listing must not double-count
    seenLeaves.add(at)
    for (const e of l.entries) {
      const id = keyId(e.key)
      if (seenKeys.has(id)) continue
      seenKeys.add(id)
      const mine = tree.get(e.key)
      if (mine && equalBytes(mine, e.digest)) continue
      iNeed.push(e.key)
      if (mine) theyNeed.push(e.key)
    }
    // Stryker disable next-line ConditionalExpression: listUnder of a leaf is that leaf
    for (const e of level === DEPTH ? tree.leaf(l.leaf) : tree.listUnder(level, l.leaf)) {
      const id = keyId(e.key)
      if (!seenKeys.has(id)) theyNeed.push(e.key)
      seenKeys.add(id)
    }
  }
  return { theyNeed, iNeed }
}

/**
 * The whole diff between two trees in one process, through the wire form, as two nodes run it: `a`
 * sends startDiff, then the sides answer in turn until a reply is empty. Counts messages (a reply
 * with probes and listings is one message) and bytes. For tests, the simulation and benchmarks.
 */
export function reconcile(a: MerkleTree, b: MerkleTree, options: AnswerOptions = {}): { aNeeds: Uint8Array[]; bNeeds: Uint8Array[]; messages: number; bytes: number } {
  const needs = new Map<MerkleTree, Uint8Array[]>([[a, []], [b, []]])
  let [from, to] = [a, b]
  let msg = { probes: startDiff(a), leaves: [] as LeafListing[] }
  let messages = 0
  let bytes = 0
  for (; msg.probes.length > 0 || msg.leaves.length > 0; [from, to] = [to, from]) {
    const wireProbes = msg.probes.length ? encodeProbes(msg.probes) : undefined
    const wireLeaves = msg.leaves.length ? encodeListings(msg.leaves) : undefined
    messages++
    bytes += (wireProbes?.length ?? 0) + (wireLeaves?.length ?? 0)
    const cmp = compareLeaves(to, wireLeaves ? decodeListings(wireLeaves) : [])
    needs.get(to)!.push(...cmp.iNeed)
    needs.get(from)!.push(...cmp.theyNeed)
    msg = answerProbes(to, wireProbes ? decodeProbes(wireProbes) : [], options)
  }
  return { aNeeds: needs.get(a)!, bNeeds: needs.get(b)!, messages, bytes }
}
