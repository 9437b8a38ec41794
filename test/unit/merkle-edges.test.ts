/**
 * The edges of core/merkle.ts that the random trees and diffs of merkle.test.ts do not pin down: the
 * entry hash as the module documents it (also for keys whose length needs the upper bytes of its
 * u32 prefix, and keys longer than one 4,096-byte chunk of the key index), the node bounds of every
 * accessor, the change count, the partition's sketch and tag index kept through replace, delete and
 * clone, the order of listings, and the answers to probes at each option's boundary.
 */
import { describe, expect, it } from 'vitest'
import { compareBytes, hash, toHex } from '../../src/core/hash.js'
import {
  DEPTH, FANOUT, MerkleTree, answerProbes, bucketOf, compareLeaves, encodeProbes, listNode, listingBytes, reconcile, startDiff,
  type LeafListing, type MerkleEntry, type Probe,
} from '../../src/core/merkle.js'
import { PartitionSketch, tagOfHash } from '../../src/core/riblt.js'

const LEAVES = FANOUT ** DEPTH
const digest = (v: number): Uint8Array => new Uint8Array(16).fill(v)
const zeros = (): Uint8Array => new Uint8Array(16)
const key = (s: string): Uint8Array => new TextEncoder().encode(s)
const treeOf = (keys: Uint8Array[], partition?: number, v = 1): MerkleTree => {
  const t = new MerkleTree(partition)
  for (const k of keys) t.set(k, digest(v))
  return t
}
/** The entry hash as documented: sha256(u32 keyLen | key | digest)[0..16). */
function entryHash(k: Uint8Array, d: Uint8Array): Uint8Array {
  const buf = new Uint8Array(4 + k.length + d.length)
  new DataView(buf.buffer).setUint32(0, k.length)
  buf.set(k, 4)
  buf.set(d, 4 + k.length)
  return hash(buf).slice(0, 16)
}
const xor = (hs: Uint8Array[]): Uint8Array => hs.reduce((acc, x) => acc.map((b, i) => b ^ x[i]!), zeros())
const byKey = (a: MerkleEntry, b: MerkleEntry): number => compareBytes(a.key, b.key)
/** The sketch a partition's tree should hold: its current entry hashes toggled into a fresh one. */
function sketchOf(t: MerkleTree, partition: number): PartitionSketch {
  const s = new PartitionSketch(partition)
  for (const h of t.hashes()) s.toggle(h, 1)
  return s
}
const sketchState = (s: PartitionSketch | undefined) => ({ cells: s?.cells && [...s.cells].some((w) => w !== 0) ? [...s.cells] : undefined, tow: s && [...s.tow] })

/**
 * Keys found offline, by bucket: each side of the boundaries between leaves, level-3 and level-2
 * nodes around bucket 0x1200, three keys sharing a leaf, and the first and last bucket.
 */
const EDGE_KEYS: Array<[number, string[]]> = [
  [0x0000, ['edge 165136']],
  [0x11ff, ['edge 10057']],
  [0x1200, ['edge 62222']],
  [0x120f, ['edge 47295']],
  [0x1210, ['edge 98105', 'edge 45523', 'edge 77431']], // not in key order: a leaf sorts them
  [0x12ff, ['edge 44390']],
  [0x1300, ['edge 52893']],
  [0xffff, ['edge 56443']],
]

describe('merkle edges: the entry hash', () => {
  it('is sha256 of the u32 key length, the key and the digest, cut to 16 bytes', () => {
    for (const n of [0, 1, 63, 64, 300]) {
      const k = new Uint8Array(n).fill(n % 251)
      expect(treeOf([k]).root()).toEqual(entryHash(k, digest(1)))
    }
    // A long key, then a short one: the short one's hash reads none of the long one's bytes.
    const long = new Uint8Array(1000).fill(9)
    const short = Uint8Array.of(9, 9)
    expect(treeOf([long, short]).root()).toEqual(xor([entryHash(long, digest(1)), entryHash(short, digest(1))]))
  })

  it('writes every byte of the key length, also past 16 bits', () => {
    for (const n of [0x1_0001]) {
      const k = new Uint8Array(n).fill(7)
      expect(treeOf([k]).root()).toEqual(entryHash(k, digest(1)))
    }
  })

  it('tells apart keys that differ only past their first 4,096 bytes', () => {
    const a = new Uint8Array(5000).fill(1)
    const b = a.slice()
    b[4999] = 2
    const t = treeOf([a])
    t.set(b, digest(2))
    expect(t.size).toBe(2)
    expect(t.get(a)).toEqual(digest(1))
    expect(t.get(b)).toEqual(digest(2))
    expect(t.get(a.subarray(0, 4096))).toBeUndefined()
  })
})

describe('merkle edges: node bounds', () => {
  const bounds = () => treeOf([key('bounds')])
  const b = bucketOf(key('bounds'))

  it('takes the first and last node of every level and refuses the next, negatives and fractions', () => {
    const t = bounds()
    for (let level = 0; level <= DEPTH; level++) {
      const last = FANOUT ** level - 1
      const at = b >>> (4 * (DEPTH - level))
      const size = (i: number) => (i === at ? 1 : 0)
      expect([t.count(level, 0), t.count(level, last)]).toEqual([size(0), size(last)])
      expect(t.leavesUnder(level, at)).toEqual([b])
      expect(() => t.count(level, last + 1)).toThrow(new TypeError(`no node (${level}, ${last + 1})`))
      expect(() => t.leavesUnder(level, last + 1)).toThrow(new TypeError(`no node (${level}, ${last + 1})`))
    }
    for (let level = 0; level < DEPTH; level++) {
      const last = FANOUT ** level - 1
      expect(t.children(level, last)).toHaveLength(FANOUT)
      expect(() => t.children(level, last + 1)).toThrow(new TypeError(`no interior node (${level}, ${last + 1})`))
    }
    expect(t.leaf(LEAVES - 1)).toEqual(b === LEAVES - 1 ? [{ key: key('bounds'), digest: digest(1) }] : [])
    expect(() => t.leaf(LEAVES)).toThrow(new TypeError(`no leaf ${LEAVES}`))
    for (const [level, index] of [[-1, 0], [0, -1], [1, -1], [0.5, 0], [1, 0.5], [NaN, 0], [1, NaN]]) {
      expect(() => t.count(level!, index!)).toThrow(`no node (${level}, ${index})`)
      expect(() => t.leavesUnder(level!, index!)).toThrow(`no node (${level}, ${index})`)
      expect(() => t.children(level!, index!)).toThrow(`no interior node (${level}, ${index})`)
    }
    expect(() => t.count(DEPTH + 1, 0)).toThrow(`no node (${DEPTH + 1}, 0)`)
    expect(() => t.leavesUnder(DEPTH + 1, 0)).toThrow(`no node (${DEPTH + 1}, 0)`)
    expect(() => t.children(DEPTH, 0)).toThrow(`no interior node (${DEPTH}, 0)`)
    for (const index of [-1, 0.5, NaN]) expect(() => t.leaf(index)).toThrow(`no leaf ${index}`)
  })
})

describe('merkle edges: set and delete', () => {
  it('refuses a key that is no byte array and a digest of another size', () => {
    const t = new MerkleTree()
    expect(() => t.set('k' as unknown as Uint8Array, digest(1))).toThrow(new TypeError('key must be a Uint8Array'))
    for (const d of [new Uint8Array(15), new Uint8Array(17), [...digest(1)] as unknown as Uint8Array]) {
      expect(() => t.set(key('k'), d)).toThrow(new TypeError('digest must be 16 bytes'))
    }
    expect(t.size).toBe(0)
    expect(t.changes).toBe(0)
  })

  it('counts a change only when a hash changes', () => {
    const t = treeOf([key('a')])
    expect(t.changes).toBe(1)
    t.set(key('a'), digest(1))
    t.delete(key('absent'))
    expect(t.changes).toBe(1)
    t.set(key('a'), digest(2))
    expect(t.changes).toBe(2)
    t.delete(key('a'))
    expect(t.changes).toBe(3)
    expect(t.root()).toEqual(zeros())
  })

  it('keeps a replaced key in its bucket, whatever bucket a later write names', () => {
    const t = new MerkleTree()
    const k = key('bucketed')
    t.set(k, digest(1), bucketOf(k))
    t.set(k, digest(2), (bucketOf(k) + 1) % LEAVES)
    expect(t.leavesUnder(0, 0)).toEqual([bucketOf(k)])
    expect(t.root()).toEqual(entryHash(k, digest(2)))
    // A first write takes the bucket it is given (0 too) and does not hash the key again.
    const z = new MerkleTree()
    z.set(k, digest(1), 0)
    expect(z.leavesUnder(0, 0)).toEqual([0])
  })

  it('hands out copies of the root and child hashes', () => {
    const t = treeOf([key('a'), key('b')])
    const root = toHex(t.root())
    const node = bucketOf(key('a')) >>> 12
    const kids = t.children(1, node).map(toHex)
    t.root().fill(0)
    for (const h of t.children(1, node)) h.fill(0)
    expect(toHex(t.root())).toBe(root)
    expect(t.children(1, node).map(toHex)).toEqual(kids)
    expect(kids.filter((h) => h !== toHex(zeros()))).not.toEqual([])
  })

  it('copies the key and digest it is given, and hands out copies', () => {
    const k = key('copied')
    const d = digest(3)
    const t = new MerkleTree()
    t.set(k, d)
    k[0] = 0
    d[0] = 0
    expect(t.get(key('copied'))).toEqual(digest(3))
    t.get(key('copied'))![1] = 0
    expect(t.get(key('copied'))).toEqual(digest(3))
    expect(t.get(k)).toBeUndefined()
  })
})

describe('merkle edges: a partition tree’s sketch and tag index', () => {
  const keys = Array.from({ length: 30 }, (_, i) => key(`sk ${i}`))

  it('keeps the sketch equal to one of its current entries through replace and delete', () => {
    const t = treeOf(keys, 7)
    expect(t.sketch?.partition).toBe(7)
    expect(sketchState(t.sketch)).toEqual(sketchState(sketchOf(t, 7)))
    for (const k of keys.slice(0, 10)) t.set(k, digest(2))
    for (const k of keys.slice(10, 20)) t.delete(k)
    expect(sketchState(t.sketch)).toEqual(sketchState(sketchOf(t, 7)))
    for (const k of keys) t.delete(k)
    expect(sketchState(t.sketch)).toEqual({ cells: undefined, tow: new Array<number>(64).fill(0) })
    expect(new MerkleTree().sketch).toBeUndefined()
  })

  it('finds an entry by its hash tag, and no longer by the tag of a hash it replaced', () => {
    const t = treeOf(keys, 7)
    const k = keys[3]!
    const h1 = entryHash(k, digest(1))
    expect(t.withTag(tagOfHash(h1))).toContainEqual({ key: k, digest: digest(1), h: h1 })
    t.set(k, digest(2))
    const h2 = entryHash(k, digest(2))
    expect(t.withTag(tagOfHash(h1)).filter((e) => toHex(e.key) === toHex(k))).toEqual([])
    expect(t.withTag(tagOfHash(h2))).toContainEqual({ key: k, digest: digest(2), h: h2 })
    t.delete(k)
    expect(t.withTag(tagOfHash(h2)).filter((e) => toHex(e.key) === toHex(k))).toEqual([])
    // Every entry is found by its own tag, once.
    for (const e of t.entries()) {
      const h = entryHash(e.key, e.digest)
      expect(t.withTag(tagOfHash(h)).filter((x) => toHex(x.key) === toHex(e.key))).toEqual([{ ...e, h }])
    }
    expect(treeOf(keys).withTag(tagOfHash(h1))).toEqual([])
  })

  it('a clone has its own copy of the sketch and the tag index', () => {
    const t = treeOf(keys, 7)
    const c = t.clone()
    expect(c.sketch?.partition).toBe(7)
    expect(sketchState(c.sketch)).toEqual(sketchState(t.sketch))
    const before = sketchState(t.sketch)
    const h0 = entryHash(keys[0]!, digest(1))
    c.set(keys[0]!, digest(2))
    c.set(key('only in the clone'), digest(1))
    expect(sketchState(t.sketch)).toEqual(before)
    expect(sketchState(c.sketch)).toEqual(sketchState(sketchOf(c, 7)))
    expect(t.withTag(tagOfHash(h0))).toContainEqual({ key: keys[0], digest: digest(1), h: h0 })
    expect(c.withTag(tagOfHash(h0)).filter((e) => toHex(e.key) === toHex(keys[0]!))).toEqual([])
    for (const e of c.entries()) expect(c.withTag(tagOfHash(entryHash(e.key, e.digest))).map((x) => toHex(x.key))).toContain(toHex(e.key))
    // An empty partition tree clones to one without cells yet.
    const empty = new MerkleTree(3).clone()
    expect(empty.sketch?.partition).toBe(3)
    expect(empty.sketch?.cells).toBeUndefined()
    expect(new MerkleTree().clone().sketch).toBeUndefined()
  })

  it('a clone has its own leaves and nodes', () => {
    const t = treeOf(keys)
    const c = t.clone()
    const show = (x: MerkleTree) => [x.root(), x.count(1, 0), x.children(1, 0), x.children(DEPTH - 1, 0), x.leavesUnder(0, 0), x.listUnder(0, 0)]
    const before = show(t)
    expect(show(c)).toEqual(before)
    for (const k of keys.slice(0, 15)) c.delete(k)
    c.set(keys[20]!, digest(5))
    expect(show(t)).toEqual(before)
    const fresh = new MerkleTree()
    for (const e of c.entries()) fresh.set(e.key, e.digest)
    expect(show(c)).toEqual(show(fresh))
  })
})

describe('merkle edges: nodes against a model of the tree', () => {
  const entries = EDGE_KEYS.flatMap(([, ks]) => ks).map((s, i) => ({ key: key(s), digest: digest(i + 1) }))
  const build = () => {
    const t = new MerkleTree()
    for (const e of entries) t.set(e.key, e.digest)
    return t
  }
  const under = (level: number, index: number) => entries.filter((e) => bucketOf(e.key) >>> (4 * (DEPTH - level)) === index)
  const inKeyOrder = (es: MerkleEntry[]) => [...es].sort(byKey)
  const inLeafOrder = (es: MerkleEntry[]) => [...es].sort((a, b) => bucketOf(a.key) - bucketOf(b.key) || byKey(a, b))

  it('places the keys in the buckets they were found for', () => {
    for (const [b, ks] of EDGE_KEYS) for (const s of ks) expect(bucketOf(key(s))).toBe(b)
  })

  it('counts, lists, and hashes every node on and beside the keys’ paths as the model does', () => {
    const tree = build()
    const nodes = new Set<string>()
    for (const e of entries) {
      for (let level = 0; level <= DEPTH; level++) {
        const at = bucketOf(e.key) >>> (4 * (DEPTH - level))
        for (const i of [at - 1, at, at + 1]) if (i >= 0 && i < FANOUT ** level) nodes.add(`${level}/${i}`)
      }
    }
    for (const n of nodes) {
      const [level, index] = n.split('/').map(Number) as [number, number]
      const mine = under(level, index)
      expect(tree.count(level, index), n).toBe(mine.length)
      expect(tree.leavesUnder(level, index), n).toEqual([...new Set(mine.map((e) => bucketOf(e.key)))].sort((x, y) => x - y))
      expect(tree.listUnder(level, index), n).toEqual(level === 0 ? inKeyOrder(mine) : inLeafOrder(mine))
      if (level === DEPTH) expect(tree.leaf(index), n).toEqual(inKeyOrder(mine))
      else {
        const want = Array.from({ length: FANOUT }, (_, c) => xor(under(level + 1, index * FANOUT + c).map((e) => entryHash(e.key, e.digest))))
        expect(tree.children(level, index).map(toHex), n).toEqual(want.map(toHex))
      }
    }
    expect(tree.root()).toEqual(xor(entries.map((e) => entryHash(e.key, e.digest))))
  })

  it('lists a node as its level asks', () => {
    const tree = build()
    expect(listNode(tree, DEPTH, 0x1210)).toEqual({ leaf: 0x1210, entries: inKeyOrder(under(DEPTH, 0x1210)) })
    expect(listNode(tree, 3, 0x121)).toEqual({ level: 3, leaf: 0x121, entries: inKeyOrder(under(DEPTH, 0x1210)) })
    expect(listNode(tree, 0, 0)).toEqual({ level: 0, leaf: 0, entries: inKeyOrder(entries) })
  })

  it('forgets a node once its last entry is deleted, and keeps it while one is left', () => {
    const tree = build()
    const t = tree.clone()
    t.delete(key('edge 45523'))
    t.delete(key('edge 77431'))
    expect(t.count(DEPTH, 0x1210)).toBe(1)
    expect(t.leavesUnder(2, 0x12)).toEqual([0x1200, 0x120f, 0x1210, 0x12ff])
    t.delete(key('edge 98105'))
    t.delete(key('edge 44390'))
    expect(t.leavesUnder(2, 0x12)).toEqual([0x1200, 0x120f])
    expect(t.leaf(0x1210)).toEqual([])
    t.delete(key('edge 62222'))
    t.delete(key('edge 47295'))
    expect(t.leavesUnder(1, 0x1)).toEqual([0x11ff, 0x1300])
    expect(t.count(2, 0x12)).toBe(0)
    expect(t.children(1, 0x1)[2]).toEqual(zeros())
    expect(t.leavesUnder(0, 0)).toEqual([0x0000, 0x11ff, 0x1300, 0xffff])
  })
})

describe('merkle edges: answering probes', () => {
  const entries = EDGE_KEYS.flatMap(([, ks]) => ks).map((s) => ({ key: key(s), digest: digest(1) }))
  const build = () => treeOf(entries.map((e) => e.key))
  const probe = (level: number, index: number, childHashes: Uint8Array[] = []): Probe => ({ node: { level, index }, childHashes })
  const listed = (ls: LeafListing[]) => ls.map((l) => [l.level ?? DEPTH, l.leaf, l.entries.length])

  it('reads child hashes a probe leaves out as zero', () => {
    const tree = build()
    expect(answerProbes(new MerkleTree(), [probe(0, 0)])).toEqual({ probes: [], leaves: [] })
    const got = answerProbes(tree, [probe(2, 0x12, tree.children(2, 0x12).slice(0, 2))])
    expect(got.probes.map((p) => p.node)).toEqual([{ level: 3, index: 0x12f }])
    expect(got.leaves).toEqual([])
  })

  it('compares only as many bytes of a child hash as the probe carries', () => {
    const tree = build()
    const prefixes = (level: number, index: number) => tree.children(level, index).map((h) => h.slice(0, 8))
    expect(answerProbes(tree, [probe(0, 0, prefixes(0, 0)), probe(3, 0x121, prefixes(3, 0x121))])).toEqual({ probes: [], leaves: [] })
    const off = prefixes(3, 0x121)
    off[0] = Uint8Array.of(...off[0]!.subarray(0, 7), off[0]![7]! ^ 1)
    expect(listed(answerProbes(tree, [probe(3, 0x121, off)]).leaves)).toEqual([[DEPTH, 0x1210, 3]])
  })

  it('answers each node once, and every node of a message', () => {
    const tree = build()
    // Pairs of nodes whose positions a slip in FANOUT ** level + index would make collide.
    const pairs = [[probe(1, 0), probe(2, 240)], [probe(0, 0), probe(1, 15)], [probe(1, 1), probe(2, 0x12)], [probe(2, 0x12), probe(3, 0x12)]]
    for (const ps of pairs) {
      const each = ps.map((p) => answerProbes(tree, [p]))
      const both = answerProbes(tree, [...ps, ...ps])
      expect(both.probes).toEqual(each.flatMap((a) => a.probes))
      expect(both.leaves).toEqual(each.flatMap((a) => a.leaves))
    }
  })

  it('lists a differing child of at most listSmall entries, and probes one of more', () => {
    const tree = build()
    // Under (1, 0x1): node (2, 0x12) holds 6 entries, its neighbours (2, 0x11) and (2, 0x13) one each.
    const at = (n: number) => answerProbes(tree, [probe(1, 0x1, new Array(FANOUT).fill(digest(1)))], { listSmall: n })
    expect(tree.count(2, 0x12)).toBe(6)
    const held = (ls: LeafListing[]) => listed(ls).filter(([, , n]) => n! > 0)
    expect(held(at(6).leaves)).toEqual([[2, 0x11, 1], [2, 0x12, 6], [2, 0x13, 1]])
    expect(at(6).probes.map((p) => p.node)).toEqual([])
    expect(held(at(5).leaves)).toEqual([[2, 0x11, 1], [2, 0x13, 1]])
    expect(at(5).probes.map((p) => p.node)).toEqual([{ level: 2, index: 0x12 }])
    // A differing child I hold nothing under is listed (empty) whatever listSmall.
    expect(listed(at(1).leaves)).toContainEqual([2, 0x10, 0])
    expect(listed(answerProbes(tree, [probe(0, 0, new Array(FANOUT).fill(digest(1)))], { listSmall: 0 }).leaves)).toEqual([])
  })

  it('lists every leaf beneath a child the prober holds nothing under, and only there', () => {
    const tree = build()
    const theirs = tree.children(1, 0x1).map((h, c) => (c === 2 ? zeros() : digest(9)))
    const got = answerProbes(tree, [probe(1, 0x1, theirs)], { listUnderEmpty: true })
    expect(listed(got.leaves)).toEqual([[DEPTH, 0x1200, 1], [DEPTH, 0x120f, 1], [DEPTH, 0x1210, 3], [DEPTH, 0x12ff, 1]])
    expect(got.probes.map((p) => p.node.index)).toEqual([0x10, 0x11, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f])
    expect(answerProbes(tree, [probe(1, 0x1, theirs)]).leaves).toEqual([])
  })

  it('answers a probe of the last interior level with listings of its leaves', () => {
    const tree = build()
    const got = answerProbes(tree, [probe(DEPTH - 1, 0x121)], { listUnderEmpty: true, listSmall: 0 })
    expect(got).toEqual({ probes: [], leaves: [{ leaf: 0x1210, entries: tree.leaf(0x1210) }] })
  })
})

describe('merkle edges: comparing listings', () => {
  const build = () => treeOf(['edge 62222', 'edge 98105', 'edge 45523', 'edge 52893'].map(key))
  const e = (s: string, v = 1): MerkleEntry => ({ key: key(s), digest: digest(v) })
  const hexes = (r: { theyNeed: Uint8Array[]; iNeed: Uint8Array[] }) => ({ theyNeed: r.theyNeed.map(toHex).sort(), iNeed: r.iNeed.map(toHex).sort() })
  const want = (theyNeed: string[], iNeed: string[]) => ({ theyNeed: theyNeed.map((s) => toHex(key(s))).sort(), iNeed: iNeed.map((s) => toHex(key(s))).sort() })

  it('finds what each side needs under any two listed nodes, disjoint or nested, each key once', () => {
    const mine = build()
    // Their tree: some of mine, some with other digests, some only theirs.
    const theirs = treeOf(['edge 62222', 'edge 77431', 'edge 165136', 'edge 10057'].map(key))
    theirs.set(key('edge 98105'), digest(2))
    // Nodes of every level, with the same index at several levels.
    const nodes: Array<[number, number]> = [
      [0, 0], [1, 0], [1, 1], [2, 0], [2, 1], [2, 0x12], [2, 0x13], [3, 0], [3, 1], [3, 0x12], [3, 0x121], [3, 0x130],
      [DEPTH, 0], [DEPTH, 1], [DEPTH, 0x12], [DEPTH, 0x121], [DEPTH, 0x1210], [DEPTH, 0x1300],
    ]
    const inNode = (k: Uint8Array, [level, index]: [number, number]) => bucketOf(k) >>> (4 * (DEPTH - level)) === index
    for (const a of nodes) {
      for (const b of nodes) {
        const listed = (k: Uint8Array) => inNode(k, a) || inNode(k, b)
        const differs = (x: MerkleTree, y: MerkleTree) =>
          [...x.entries()].filter((en) => listed(en.key) && toHex(y.get(en.key) ?? zeros()) !== toHex(en.digest)).map((en) => toHex(en.key)).sort()
        const got = compareLeaves(mine, [listNode(theirs, ...a), listNode(theirs, ...b)])
        expect({ theyNeed: got.theyNeed.map(toHex).sort(), iNeed: got.iNeed.map(toHex).sort() }, `${a} ${b}`).toEqual({ theyNeed: differs(mine, theirs), iNeed: differs(theirs, mine) })
      }
    }
  })

  it('names a key once though two listings hold it, and each side’s keys as the digests say', () => {
    const mine = build()
    const leaf: LeafListing = { leaf: 0x1210, entries: [e('edge 98105', 2), e('edge 77431')] }
    const node: LeafListing = { level: 3, leaf: 0x121, entries: [e('edge 98105', 2), e('edge 77431')] }
    const got = compareLeaves(mine, [leaf, node])
    expect(got.iNeed.map(toHex)).toEqual([toHex(key('edge 98105')), toHex(key('edge 77431'))])
    expect(got.theyNeed.map(toHex)).toEqual([toHex(key('edge 98105')), toHex(key('edge 45523'))])
    expect(hexes(compareLeaves(mine, [{ level: 0, leaf: 0, entries: [e('edge 62222')] }]))).toEqual(want(['edge 98105', 'edge 45523', 'edge 52893'], []))
  })
})

describe('merkle edges: reconcile', () => {
  it('counts each message once and the bytes of both its parts', () => {
    const full = treeOf(EDGE_KEYS.flatMap(([, ks]) => ks).map(key))
    const empty = new MerkleTree()
    const same = reconcile(full, full.clone())
    expect(same).toEqual({ aNeeds: [], bNeeds: [], messages: 1, bytes: encodeProbes(startDiff(full)).length })
    const answer = answerProbes(full, startDiff(empty), { listUnderEmpty: true })
    expect(answer.probes).toEqual([])
    const fill = reconcile(empty, full, { listUnderEmpty: true })
    expect(fill.messages).toBe(2)
    expect(fill.bytes).toBe(4 + listingBytes(answer.leaves))
    expect(fill.bNeeds).toEqual([])
    expect(fill.aNeeds.map(toHex).sort()).toEqual([...full.entries()].map((x) => toHex(x.key)).sort())
  })
})
