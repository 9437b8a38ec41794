import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isDynameshError } from '../../src/errors.js'
import { toHex } from '../../src/core/hash.js'
import {
  DEPTH, FANOUT, MerkleTree, answerProbes, bucketOf, compareLeaves, decodeListings, decodeProbes, encodeListings, encodeProbes,
  listingBytes, probeBytes, reconcile, startDiff, type LeafListing, type Probe,
} from '../../src/core/merkle.js'
import { randomBytes, seededRandom } from '../../src/sim/random.js'

const digestOf = (v: number): Uint8Array => new Uint8Array(16).fill(v)
const hexSet = (keys: Iterable<Uint8Array>): Set<string> => new Set([...keys].map(toHex))
const sorted = (s: Set<string>): string[] => [...s].sort()

function buildPair(n: number, seed: number) {
  const r = seededRandom(seed)
  const keys = Array.from({ length: n }, () => randomBytes(r, 16))
  const digests = keys.map(() => randomBytes(r, 16))
  const a = new MerkleTree()
  keys.forEach((k, i) => a.set(k, digests[i]!))
  return { a, b: a.clone(), keys, digests, r }
}

/**
 * Makes d differences on b (a third each: changed digest, missing on b, extra on b), returns the
 * keys each side should find it needs and an undo that restores b.
 */
function perturb(p: ReturnType<typeof buildPair>, d: number) {
  const aNeeds = new Set<string>()
  const bNeeds = new Set<string>()
  const undo: Array<() => void> = []
  const picked = new Set<number>()
  for (let i = 0; i < d; i++) {
    let j = Math.floor(p.r() * p.keys.length)
    while (picked.has(j)) j = (j + 1) % p.keys.length
    picked.add(j)
    const key = p.keys[j]!
    const digest = p.digests[j]!
    if (i % 3 === 0) {
      p.b.set(key, randomBytes(p.r, 16))
      aNeeds.add(toHex(key))
      bNeeds.add(toHex(key))
      undo.push(() => p.b.set(key, digest))
    } else if (i % 3 === 1) {
      p.b.delete(key)
      bNeeds.add(toHex(key))
      undo.push(() => p.b.set(key, digest))
    } else {
      const extra = randomBytes(p.r, 16)
      p.b.set(extra, randomBytes(p.r, 16))
      aNeeds.add(toHex(extra))
      undo.push(() => p.b.delete(extra))
    }
  }
  return { aNeeds, bNeeds, undo: () => undo.forEach((f) => f()) }
}

const TRIALS = 5
const DS = [1, 10, 100]

/** Mean messages and bytes over TRIALS runs of d differences, each checked for exactness. */
function measure(p: ReturnType<typeof buildPair>, d: number) {
  let messages = 0
  let bytes = 0
  for (let t = 0; t < TRIALS; t++) {
    const want = perturb(p, d)
    const got = reconcile(p.a, p.b)
    expect(sorted(hexSet(got.aNeeds))).toEqual(sorted(want.aNeeds))
    expect(sorted(hexSet(got.bNeeds))).toEqual(sorted(want.bNeeds))
    expect(got.messages).toBe(DEPTH + 1) // one probe round per level, then the listings
    messages += got.messages
    bytes += got.bytes
    want.undo()
    expect(p.b.root()).toEqual(p.a.root())
  }
  return { messages: messages / TRIALS, bytes: bytes / TRIALS }
}

describe('merkle diff cost tracks differences, not keys (Dynamo 4.7)', () => {
  it('finds exactly the changed keys at n = 10,000 and 100,000; bytes depend on d, not n', () => {
    const rows: Array<{ n: number; d: number; messages: number; bytes: number; naiveBytes: number }> = []
    const cost = new Map<string, number>()
    for (const n of [10_000, 100_000]) {
      const t0 = performance.now()
      const p = buildPair(n, n)
      const buildMs = performance.now() - t0
      const naiveBytes = listingBytes([{ leaf: 0, entries: [...p.a.entries()] }])
      const same = reconcile(p.a, p.b)
      expect(same).toMatchObject({ messages: 1, aNeeds: [], bNeeds: [] })
      rows.push({ n, d: 0, messages: same.messages, bytes: same.bytes, naiveBytes })
      for (const d of DS) {
        const m = measure(p, d)
        cost.set(`${n}/${d}`, m.bytes)
        rows.push({ n, d, ...m, naiveBytes })
      }
      console.log(`built 2 trees of ${n} keys in ${buildMs.toFixed(0)} ms`)
      if (n === 100_000) expect(cost.get(`${n}/100`)!).toBeLessThan(naiveBytes / 20)
    }
    console.table(rows.map((r) => ({ ...r, 'bytes/naive': (r.bytes / r.naiveBytes).toExponential(2) })))
    for (const d of DS) expect(cost.get(`100000/${d}`)!).toBeLessThanOrEqual(1.5 * cost.get(`10000/${d}`)!)
    expect(cost.get('100000/10')!).toBeGreaterThan(cost.get('100000/1')!)
    expect(cost.get('100000/100')!).toBeGreaterThan(cost.get('100000/10')!)
  })

  it('fills an empty replica with one listing reply when listUnderEmpty is set', () => {
    const p = buildPair(3000, 7)
    const empty = new MerkleTree()
    const all = sorted(hexSet(p.keys))
    for (const options of [{}, { listUnderEmpty: true }]) {
      const got = reconcile(empty, p.a, options)
      expect(sorted(hexSet(got.aNeeds))).toEqual(all)
      expect(got.bNeeds).toEqual([])
      if (options.listUnderEmpty) expect(got.messages).toBe(2)
    }
  })
})

// A small key pool in which many keys share leaves and level-3 nodes, so the properties exercise
// buckets with several entries and not only a sparse tree.
const POOL = (() => {
  const r = seededRandom(42)
  const byLeaf = new Map<number, Uint8Array[]>()
  const loose: Uint8Array[] = []
  const unique = new Set<string>()
  for (let i = 0; i < 6000; i++) {
    const k = randomBytes(r, 1 + (i % 6))
    if (unique.has(toHex(k))) continue
    unique.add(toHex(k))
    const l = bucketOf(k)
    byLeaf.set(l, [...(byLeaf.get(l) ?? []), k])
    if (loose.length < 20) loose.push(k)
  }
  const shared = [...byLeaf.values()].filter((ks) => ks.length > 1).flat().slice(0, 28)
  return [...shared, ...loose.filter((k) => !shared.includes(k))]
})()

type Op = { k: number; del: boolean; v: number }
const opArb = fc.record({ k: fc.nat(POOL.length - 1), del: fc.boolean(), v: fc.nat(3) })

function play(ops: Op[], tree = new MerkleTree(), model = new Map<number, number>()) {
  for (const { k, del, v } of ops) {
    if (del) {
      tree.delete(POOL[k]!)
      model.delete(k)
    } else {
      tree.set(POOL[k]!, digestOf(v))
      model.set(k, v)
    }
  }
  return { tree, model }
}

function fromScratch(model: Map<number, number>): MerkleTree {
  const t = new MerkleTree()
  for (const [k, v] of model) t.set(POOL[k]!, digestOf(v))
  return t
}

describe('merkle tree properties', () => {
  it('incremental set/delete equals a tree built from the final contents', () => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 120 }), (ops) => {
      const { tree, model } = play(ops)
      const fresh = fromScratch(model)
      expect(tree.root()).toEqual(fresh.root())
      expect(tree.size).toBe(model.size)
      // every node on the path of every key either side ever touched (hex: toEqual on many small
      // typed arrays is what would make this property slow)
      const show = (t: MerkleTree, b: number) => [
        ...Array.from({ length: DEPTH }, (_, level) => t.children(level, b >>> (4 * (DEPTH - level))).map(toHex).join()),
        t.leaf(b).map((e) => toHex(e.key) + toHex(e.digest)).join(),
      ].join('/')
      for (const key of POOL) expect(show(tree, bucketOf(key))).toBe(show(fresh, bucketOf(key)))
      // no empty node survives: the non-empty leaves are exactly those of the model
      expect(tree.leavesUnder(0, 0)).toEqual([...new Set([...model.keys()].map((k) => bucketOf(POOL[k]!)))].sort((x, y) => x - y))
      if (model.size === 0) expect(tree.root()).toEqual(new Uint8Array(16))
    }))
  })

  it('a clone is independent of its original', () => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 40 }), fc.array(opArb, { maxLength: 40 }), (before, after) => {
      const { tree, model } = play(before)
      const rootBefore = toHex(tree.root())
      const copy = play(after, tree.clone(), new Map(model))
      expect(toHex(tree.root())).toBe(rootBefore)
      expect(toHex(copy.tree.root())).toBe(toHex(fromScratch(copy.model).root()))
    }))
  })

  it('root does not depend on insertion order', () => {
    const entries = fc.uniqueArray(fc.nat(POOL.length - 1)).chain((ks) =>
      fc.tuple(fc.constant(ks), fc.shuffledSubarray(ks, { minLength: ks.length, maxLength: ks.length })))
    fc.assert(fc.property(entries, ([ks, shuffled]) => {
      const one = new MerkleTree()
      const two = new MerkleTree()
      ks.forEach((k) => one.set(POOL[k]!, digestOf(k)))
      shuffled.forEach((k) => two.set(POOL[k]!, digestOf(k)))
      expect(one.root()).toEqual(two.root())
    }))
  })

  it('diff finds exactly the symmetric difference', () => {
    const arb = fc.record({ base: fc.array(opArb, { maxLength: 60 }), da: fc.array(opArb, { maxLength: 8 }), db: fc.array(opArb, { maxLength: 8 }), list: fc.boolean() })
    fc.assert(fc.property(arb, ({ base, da, db, list }) => {
      const A = play(da, ...Object.values(play(base)) as [MerkleTree, Map<number, number>])
      const B = play(db, ...Object.values(play(base)) as [MerkleTree, Map<number, number>])
      const differ = (x: Map<number, number>, y: Map<number, number>) =>
        sorted(new Set([...x].filter(([k, v]) => y.get(k) !== v).map(([k]) => toHex(POOL[k]!))))
      const got = reconcile(A.tree, B.tree, { listUnderEmpty: list })
      expect(sorted(hexSet(got.aNeeds))).toEqual(differ(B.model, A.model))
      expect(sorted(hexSet(got.bNeeds))).toEqual(differ(A.model, B.model))
      if (differ(A.model, B.model).length + differ(B.model, A.model).length === 0) expect(got.messages).toBe(1)
    }))
  })
})

describe('merkle wire form', () => {
  const hashArb = fc.oneof(fc.constant(new Uint8Array(16)), fc.uint8Array({ minLength: 16, maxLength: 16 }))
  const probeArb = fc.integer({ min: 0, max: DEPTH - 1 }).chain((level) => fc.record({
    node: fc.record({ level: fc.constant(level), index: fc.nat(FANOUT ** level - 1) }),
    childHashes: fc.array(hashArb, { minLength: FANOUT, maxLength: FANOUT }),
  }))
  const listingArb = fc.record({
    leaf: fc.nat(FANOUT ** DEPTH - 1),
    entries: fc.array(fc.record({ key: fc.uint8Array({ maxLength: 300 }), digest: fc.uint8Array({ minLength: 16, maxLength: 16 }) }), { maxLength: 5 }),
  })

  it('round-trips and sizes match', () => {
    fc.assert(fc.property(fc.array(probeArb, { maxLength: 20 }), fc.array(listingArb, { maxLength: 10 }), (probes: Probe[], listings: LeafListing[]) => {
      const p = encodeProbes(probes)
      const l = encodeListings(listings)
      expect(p.length).toBe(probeBytes(probes))
      expect(l.length).toBe(listingBytes(listings))
      expect(decodeProbes(p)).toEqual(probes.map((q) => ({ ...q, childHashes: q.childHashes.map((h) => h.slice(0, 8)) })))
      expect(decodeListings(l)).toEqual(listings)
    }))
  })

  it('rejects malformed input with INVALID_MESSAGE and nothing else', () => {
    const rejects = (f: () => unknown) => {
      try {
        f()
      } catch (e) {
        expect(isDynameshError(e, 'INVALID_MESSAGE')).toBe(true)
        return
      }
      throw new Error('accepted a malformed message')
    }
    const good = encodeProbes(startDiff(POOL.reduce((t, k) => (t.set(k, digestOf(1)), t), new MerkleTree())))
    rejects(() => decodeProbes(good.subarray(0, good.length - 1))) // truncated
    rejects(() => decodeProbes(Uint8Array.of(...good, 0))) // trailing byte
    rejects(() => decodeProbes(Uint8Array.of(0x4c, 0))) // a listing tag
    rejects(() => decodeProbes(Uint8Array.of(0x50, 1, DEPTH, 0, 0, 0))) // level too deep
    rejects(() => decodeProbes(Uint8Array.of(0x50, 1, 1, 16, 0, 0))) // index out of range
    rejects(() => decodeProbes(Uint8Array.of(0x50, 0xff, 0xff, 0xff, 0xff, 0x0f))) // count over cap
    rejects(() => decodeProbes(Uint8Array.of(0x50, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01))) // varint too long
    rejects(() => decodeListings(Uint8Array.of(0x4c, 1, 0xff, 0xff, 0x07, 0))) // leaf out of range
    rejects(() => decodeListings(Uint8Array.of(0x4c, 1, 0, 3), { maxEntries: 2 })) // entries over cap
    rejects(() => decodeListings(Uint8Array.of(0x4c, 1, 0, 1, 9, ...new Uint8Array(25)), { maxKeyBytes: 8 }))
    expect(encodeProbes(startDiff(new MerkleTree()))).toEqual(Uint8Array.of(0x50, 1, 0x80, 0)) // an empty node costs 2 bytes
    expect(() => encodeProbes([{ node: { level: 0, index: 0 }, childHashes: [] }])).toThrow(TypeError)
    // a repeated probe or listing costs no more than one
    const t = POOL.reduce((x, k) => (x.set(k, digestOf(2)), x), new MerkleTree())
    const probe = startDiff(new MerkleTree())
    expect(answerProbes(t, [...probe, ...probe])).toEqual(answerProbes(t, probe))
    const listing = answerProbes(t, probe, { listUnderEmpty: true }).leaves
    expect(compareLeaves(new MerkleTree(), listing).iNeed).toHaveLength(POOL.length)
    expect(compareLeaves(new MerkleTree(), [...listing, ...listing])).toEqual(compareLeaves(new MerkleTree(), listing))
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), fc.boolean(), (junk, asProbe) => {
      const msg = Uint8Array.of(asProbe ? 0x50 : 0x4c, ...junk)
      try {
        if (asProbe) decodeProbes(msg)
        else decodeListings(msg)
      } catch (e) {
        expect(isDynameshError(e, 'INVALID_MESSAGE')).toBe(true)
      }
    }))
  })
})
