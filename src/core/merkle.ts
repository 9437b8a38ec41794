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
 */
import { DynameshError } from '../errors.js'
import { compareBytes, equalBytes, hash } from './hash.js'

export const FANOUT = 16
export const DEPTH = 4
/** Bytes of an entry or node hash, and of a version digest. */
export const HASH_BYTES = 16
const BITS = 4 // log2(FANOUT)
const LEAVES = FANOUT ** DEPTH

/** A key with its version digest, as held in a leaf bucket. */
export interface MerkleEntry { key: Uint8Array; digest: Uint8Array }

/** Immutable once stored (an update stores a new one), so clone() can share entries. */
interface Entry extends MerkleEntry { readonly h: Uint8Array; readonly bucket: number }

/** Hash plus entry count: the count (not an all-zero hash) says whether a subtree is empty. */
interface TreeNode { h: Uint8Array; n: number }

/** The leaf bucket (0..65535) of a key. */
export function bucketOf(key: Uint8Array): number {
  const d = hash(key)
  return (d[3]! << 8) | d[4]!
}

function entryHash(key: Uint8Array, digest: Uint8Array): Uint8Array {
  const n = key.length
  const buf = new Uint8Array(4 + n + digest.length)
  buf[0] = n >>> 24
  buf[1] = n >>> 16
  buf[2] = n >>> 8
  buf[3] = n
  buf.set(key, 4)
  buf.set(digest, 4 + key.length)
  return hash(buf).subarray(0, HASH_BYTES)
}

/** Latin-1 string of the bytes: a Map key that is one char per byte, cheaper than hex. */
function keyId(key: Uint8Array): string {
  if (key.length <= 4096) return String.fromCharCode.apply(null, key as unknown as number[])
  let s = ''
  for (let i = 0; i < key.length; i += 4096) s += String.fromCharCode.apply(null, key.subarray(i, i + 4096) as unknown as number[])
  return s
}

function xorInto(into: Uint8Array, x: Uint8Array): void {
  for (let i = 0; i < HASH_BYTES; i++) into[i]! ^= x[i]!
}

const isZero = (h: Uint8Array): boolean => h.every((b) => b === 0)
/** A real copy: `slice` on a Node Buffer (a Uint8Array subclass) returns a view instead. */
const copy = (b: Uint8Array): Uint8Array => new Uint8Array(b)

function checkNode(level: number, index: number, maxLevel: number): boolean {
  return Number.isInteger(level) && level >= 0 && level <= maxLevel &&
    Number.isInteger(index) && index >= 0 && index < FANOUT ** level
}

/** The hash tree of one partition's replica on this node. */
export class MerkleTree {
  readonly #root: TreeNode = { h: new Uint8Array(HASH_BYTES), n: 0 }
  /** #levels[k - 1] holds the non-empty nodes of level k (1..DEPTH). */
  readonly #levels: Array<Map<number, TreeNode>> = Array.from({ length: DEPTH }, () => new Map())
  readonly #byKey = new Map<string, Entry>()
  readonly #leaves = new Map<number, Map<string, Entry>>()

  /** Inserts the key or replaces its digest. Both are copied. */
  set(key: Uint8Array, digest: Uint8Array): void {
    if (!(key instanceof Uint8Array)) throw new TypeError('key must be a Uint8Array')
    if (!(digest instanceof Uint8Array) || digest.length !== HASH_BYTES) throw new TypeError(`digest must be ${HASH_BYTES} bytes`)
    const id = keyId(key)
    const h = entryHash(key, digest)
    const old = this.#byKey.get(id)
    if (old) {
      if (equalBytes(old.h, h)) return
      const delta = old.h.slice()
      xorInto(delta, h) // XOR out the old entry hash and XOR in the new one in a single pass
      this.#apply(old.bucket, delta, 0)
      this.#store(id, { key: old.key, digest: copy(digest), h, bucket: old.bucket })
      return
    }
    const e: Entry = { key: copy(key), digest: copy(digest), h, bucket: bucketOf(key) }
    this.#store(id, e)
    this.#apply(e.bucket, h, 1)
  }

  #store(id: string, e: Entry): void {
    this.#byKey.set(id, e)
    let leaf = this.#leaves.get(e.bucket)
    if (!leaf) this.#leaves.set(e.bucket, (leaf = new Map()))
    leaf.set(id, e)
  }

  /** Removes the key; absent keys are ignored. */
  delete(key: Uint8Array): void {
    const id = keyId(key)
    const e = this.#byKey.get(id)
    if (!e) return
    this.#byKey.delete(id)
    const leaf = this.#leaves.get(e.bucket)!
    leaf.delete(id)
    if (leaf.size === 0) this.#leaves.delete(e.bucket)
    this.#apply(e.bucket, e.h, -1)
  }

  /** The key's current digest (a copy), if present. */
  get(key: Uint8Array): Uint8Array | undefined {
    return this.#byKey.get(keyId(key))?.digest.slice()
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
    const below = this.#levels[level]!
    const out: Uint8Array[] = []
    for (let c = 0; c < FANOUT; c++) out.push(below.get(index * FANOUT + c)?.h.slice() ?? new Uint8Array(HASH_BYTES))
    return out
  }

  /** Entries of a leaf bucket, sorted by key bytes (copies). */
  leaf(index: number): MerkleEntry[] {
    if (!checkNode(DEPTH, index, DEPTH)) throw new TypeError(`no leaf ${index}`)
    const leaf = this.#leaves.get(index)
    if (!leaf) return []
    return [...leaf.values()].map((e) => ({ key: e.key.slice(), digest: e.digest.slice() })).sort((a, b) => compareBytes(a.key, b.key))
  }

  /** Non-empty leaf buckets beneath node (level, index), level 0..DEPTH, ascending. */
  leavesUnder(level: number, index: number): number[] {
    if (!checkNode(level, index, DEPTH)) throw new TypeError(`no node (${level}, ${index})`)
    if (level === DEPTH) return this.#leaves.has(index) ? [index] : []
    const out: number[] = []
    for (let c = 0; c < FANOUT; c++) {
      const child = index * FANOUT + c
      if (this.#levels[level]!.has(child)) out.push(...this.leavesUnder(level + 1, child))
    }
    return out
  }

  /** An independent copy, without rehashing: entries are shared (immutable), nodes are copied. */
  clone(): MerkleTree {
    const t = new MerkleTree()
    t.#root.h.set(this.#root.h)
    t.#root.n = this.#root.n
    this.#levels.forEach((level, k) => level.forEach((node, i) => t.#levels[k]!.set(i, { h: node.h.slice(), n: node.n })))
    for (const [id, e] of this.#byKey) t.#byKey.set(id, e)
    this.#leaves.forEach((leaf, b) => t.#leaves.set(b, new Map(leaf)))
    return t
  }

  /** Every entry (no copies: do not mutate), in no particular order. */
  *entries(): Iterable<MerkleEntry> {
    for (const e of this.#byKey.values()) yield { key: e.key, digest: e.digest }
  }

  /** XORs `delta` into every node on the bucket's path and adjusts counts by `dn`. */
  #apply(bucket: number, delta: Uint8Array, dn: number): void {
    xorInto(this.#root.h, delta)
    this.#root.n += dn
    for (let k = 1; k <= DEPTH; k++) {
      const level = this.#levels[k - 1]!
      const idx = bucket >>> (BITS * (DEPTH - k))
      let node = level.get(idx)
      if (!node) level.set(idx, (node = { h: new Uint8Array(HASH_BYTES), n: 0 }))
      xorInto(node.h, delta)
      node.n += dn
      if (node.n === 0) level.delete(idx)
    }
  }
}

/** An interior node whose children are compared: level 0..DEPTH-1, index < 16^level. */
export interface NodeRef { level: number; index: number }
/** The sender's 16 child hashes of one interior node. */
export interface Probe { node: NodeRef; childHashes: Uint8Array[] }
/** The sender's full content of one leaf bucket. */
export interface LeafListing { leaf: number; entries: MerkleEntry[] }
export interface AnswerOptions {
  /**
   * When the prober's child hash is zero (it holds nothing there) and mine is not, list my leaves
   * beneath that child at once instead of probing level by level: saves the round trips and the
   * probe bytes of filling an empty or fresh replica. Replies may then mix probes and listings.
   */
  listUnderEmpty?: boolean
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
      if (equalBytes(mine[c]!, theirs)) continue
      const child = index * FANOUT + c
      if (level + 1 === DEPTH) leaves.push({ leaf: child, entries: tree.leaf(child) })
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
    if (seenLeaves.has(l.leaf)) continue // a repeated listing must not double-count
    seenLeaves.add(l.leaf)
    for (const e of l.entries) {
      const id = keyId(e.key)
      if (seenKeys.has(id)) continue
      seenKeys.add(id)
      const mine = tree.get(e.key)
      if (mine && equalBytes(mine, e.digest)) continue
      iNeed.push(e.key)
      if (mine) theyNeed.push(e.key)
    }
    for (const e of tree.leaf(l.leaf)) {
      const id = keyId(e.key)
      if (!seenKeys.has(id)) theyNeed.push(e.key)
      seenKeys.add(id)
    }
  }
  return { theyNeed, iNeed }
}

// Wire form. Probes: 'P', varint count, then per probe: u8 level (high bit set when all 16 child
// hashes are zero), varint index, then the 16 child hashes of 16 bytes unless the flag is set.
// Listings: 'L', varint count, then per listing: varint leaf, varint entry count, and per entry:
// varint key length, key, 16-byte digest. Varints are LEB128, at most 32 bits.
//
// Why dense probes: eliding each zero child hash (a bitmap) saves up to ~40% on sparse trees but
// makes the cost of a difference depend on how full the tree is (measured: 1.68x the bytes at
// n = 100,000 as at 10,000 for d = 100); dense probes cost the same at every n. A probe of an
// empty node is still one byte plus its index, so probing where one side holds nothing is cheap.
const PROBE_TAG = 0x50
const LISTING_TAG = 0x4c
const EMPTY = 0x80
/** Every interior node once: an honest peer never sends more probes than this in one message. */
const MAX_PROBES = (FANOUT ** DEPTH - 1) / (FANOUT - 1)

/** Limits a listing decoder applies whatever the message claims. */
export interface ListingLimits { maxEntries?: number; maxKeyBytes?: number }

const varintBytes = (v: number): number => (v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5)
const emptyProbe = (p: Probe): boolean => p.childHashes.every(isZero)

/** Encoded size of probes, in bytes. */
export const probeBytes = (probes: Probe[]): number =>
  probes.reduce((n, p) => n + 1 + varintBytes(p.node.index) + (emptyProbe(p) ? 0 : FANOUT * HASH_BYTES), 1 + varintBytes(probes.length))

/** Encoded size of leaf listings, in bytes. */
export const listingBytes = (listings: LeafListing[]): number =>
  listings.reduce((n, l) => l.entries.reduce((m, e) => m + varintBytes(e.key.length) + e.key.length + HASH_BYTES,
    n + varintBytes(l.leaf) + varintBytes(l.entries.length)), 1 + varintBytes(listings.length))

class Writer {
  pos = 0
  constructor(readonly buf: Uint8Array) {}
  u8(v: number): void {
    this.buf[this.pos++] = v
  }
  varint(v: number): void {
    for (; v >= 0x80; v = Math.floor(v / 128)) this.buf[this.pos++] = (v % 128) | 0x80
    this.buf[this.pos++] = v
  }
  bytes(b: Uint8Array): void {
    this.buf.set(b, this.pos)
    this.pos += b.length
  }
}

const bad = (why: string): DynameshError => new DynameshError('INVALID_MESSAGE', `merkle: ${why}`)

class Reader {
  pos = 0
  constructor(readonly buf: Uint8Array) {}
  u8(): number {
    if (this.pos >= this.buf.length) throw bad('truncated')
    return this.buf[this.pos++]!
  }
  varint(max: number): number {
    let v = 0
    for (let shift = 1, b = 0x80; b >= 0x80; shift *= 128) {
      if (shift > 2 ** 28) throw bad('varint too long')
      b = this.u8()
      v += (b & 0x7f) * shift
    }
    if (v > max) throw bad(`count or index ${v} over ${max}`)
    return v
  }
  bytes(n: number): Uint8Array {
    if (this.pos + n > this.buf.length) throw bad('truncated')
    return copy(this.buf.subarray(this.pos, (this.pos += n))) // transports may reuse their buffers
  }
}

/** Compact binary form of probes. */
export function encodeProbes(probes: Probe[]): Uint8Array {
  const w = new Writer(new Uint8Array(probeBytes(probes)))
  w.u8(PROBE_TAG)
  w.varint(probes.length)
  for (const p of probes) {
    if (p.childHashes.length !== FANOUT || p.childHashes.some((h) => h.length !== HASH_BYTES)) throw new TypeError('a probe has 16 hashes of 16 bytes')
    const empty = emptyProbe(p)
    w.u8(p.node.level | (empty ? EMPTY : 0))
    w.varint(p.node.index)
    if (!empty) for (let c = 0; c < FANOUT; c++) w.bytes(p.childHashes[c]!)
  }
  return w.buf
}

/** Decodes probes; throws DynameshError('INVALID_MESSAGE') on anything malformed. */
export function decodeProbes(msg: Uint8Array): Probe[] {
  const r = new Reader(msg)
  if (r.u8() !== PROBE_TAG) throw bad('not a probe message')
  const out: Probe[] = []
  for (let i = r.varint(MAX_PROBES); i > 0; i--) {
    const head = r.u8()
    const level = head & ~EMPTY
    if (level >= DEPTH) throw bad(`probe level ${level}`)
    const index = r.varint(FANOUT ** level - 1)
    const childHashes: Uint8Array[] = []
    for (let c = 0; c < FANOUT; c++) childHashes.push(head & EMPTY ? new Uint8Array(HASH_BYTES) : r.bytes(HASH_BYTES))
    out.push({ node: { level, index }, childHashes })
  }
  if (r.pos !== msg.length) throw bad('trailing bytes')
  return out
}

/** Compact binary form of leaf listings. */
export function encodeListings(listings: LeafListing[]): Uint8Array {
  const w = new Writer(new Uint8Array(listingBytes(listings)))
  w.u8(LISTING_TAG)
  w.varint(listings.length)
  for (const l of listings) {
    w.varint(l.leaf)
    w.varint(l.entries.length)
    for (const e of l.entries) {
      if (e.digest.length !== HASH_BYTES) throw new TypeError(`digest must be ${HASH_BYTES} bytes`)
      w.varint(e.key.length)
      w.bytes(e.key)
      w.bytes(e.digest)
    }
  }
  return w.buf
}

/** Decodes leaf listings; throws DynameshError('INVALID_MESSAGE') on anything malformed or over limits. */
export function decodeListings(msg: Uint8Array, limits: ListingLimits = {}): LeafListing[] {
  const { maxEntries = 1 << 20, maxKeyBytes = 1 << 16 } = limits
  const r = new Reader(msg)
  if (r.u8() !== LISTING_TAG) throw bad('not a listing message')
  const out: LeafListing[] = []
  let total = 0
  for (let i = r.varint(LEAVES); i > 0; i--) {
    const leaf = r.varint(LEAVES - 1)
    const n = r.varint(maxEntries - total)
    total += n
    const entries: MerkleEntry[] = []
    for (let j = 0; j < n; j++) entries.push({ key: r.bytes(r.varint(maxKeyBytes)), digest: r.bytes(HASH_BYTES) })
    out.push({ leaf, entries })
  }
  if (r.pos !== msg.length) throw bad('trailing bytes')
  return out
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
