/**
 * The edges of core/view.ts that whole gossip exchanges (gossip.test.ts) do not pin down: the bucket
 * resolution at its steps and its cap, a replaced entry leaving the sums and the count, which buckets
 * differ when only one byte of a sum does, every outcome of comparing a version list line, the want
 * list's round trip, and which id a short id names, also for two ids whose short ids collide (48
 * bits of SHA-256: a pair found offline by sorting the prefixes of 48 million ids).
 */
import { describe, expect, it } from 'vitest'
import { hash, toBytes, toHex } from '../../src/core/hash.js'
import type { MemberEntry, MemberStatus } from '../../src/core/membership.js'
import { MemberView, bucketsFor, itemOf, numberOf, parseShorts, parseVersions } from '../../src/core/view.js'
import { Difference, encodeCells } from '../../src/core/riblt.js'
import { MAX_GOSSIP_BUCKETS, VIEW_CELLS } from '../../src/limits.js'
import { asNodeId } from '../../src/types.js'

const fail = (why: string): never => {
  throw new Error(why)
}
const entry = (id: string, version: number, status: MemberStatus = 'up'): MemberEntry => ({ id: asNodeId(id), weight: 1, status, version })
const viewOf = (...entries: MemberEntry[]): MemberView => {
  const v = new MemberView()
  for (const e of entries) v.set(e)
  return v
}
/** The short id of `id` as the view documents it: the first 6 bytes of SHA-256 of its UTF-8. */
const shortOf = (id: string): number => parseInt(toHex(hash(toBytes(id)).subarray(0, 6)), 16)
/** A view's version list of all its entries (one bucket), parsed as its peer would. */
const linesOf = (v: MemberView) => parseVersions(v.versions(1, [0]), fail)

describe('view edges: bucketsFor', () => {
  it('doubles past 8 members a bucket, up to the cap', () => {
    const sizes = [0, 1, 8, 9, 16, 17, 32, 33, 8 * 512, 8 * 512 + 1, 8 * 1024, 8 * 1024 + 1, 1e9]
    expect(sizes.map(bucketsFor)).toEqual([1, 1, 1, 2, 2, 4, 4, 8, 512, 1024, 1024, 1024, 1024])
    expect(MAX_GOSSIP_BUCKETS).toBe(1024)
  })
})

describe('view edges: set', () => {
  it('takes a replaced entry out of the sums and the count', () => {
    const v = viewOf(entry('rep-a', 1), entry('rep-b', 1), entry('rep-a', 2, 'leaving'))
    const fresh = viewOf(entry('rep-a', 2, 'leaving'), entry('rep-b', 1))
    expect(v.size).toBe(2)
    expect(v.digest()).toEqual(fresh.digest())
    expect(v.bucketSums(MAX_GOSSIP_BUCKETS)).toEqual(fresh.bucketSums(MAX_GOSSIP_BUCKETS))
    expect(v.digest()).not.toEqual(viewOf(entry('rep-a', 1), entry('rep-b', 1)).digest())
  })

  it('would take only an entry that supersedes what it holds, or one of an id it lacks', () => {
    const v = viewOf(entry('take-a', 2))
    expect(v.wouldTake(entry('take-a', 1))).toBe(false)
    expect(v.wouldTake(entry('take-a', 2))).toBe(false)
    expect(v.wouldTake(entry('take-a', 3))).toBe(true)
    expect(v.wouldTake(entry('take-a', 2, 'left'))).toBe(true)
    expect(v.wouldTake(entry('take-b', 1))).toBe(true)
  })
})

describe('view edges: differingBuckets', () => {
  it('reports a bucket whose sum differs in any one of its four bytes', () => {
    const v = viewOf(...Array.from({ length: 40 }, (_, i) => entry(`diff-${i}`, 1)))
    const mine = v.bucketSums(4)
    expect(v.differingBuckets(mine)).toEqual([])
    for (let byte = 0; byte < 4; byte++) {
      const theirs = Uint8Array.from(mine)
      theirs[2 * 4 + byte]! ^= 0x10
      expect(v.differingBuckets(theirs)).toEqual([2])
    }
  })
})

describe('view edges: compare', () => {
  const mine = viewOf(entry('cmp-x', 3))
  const x = shortOf('cmp-x')
  /** What `mine` gives (as id@version) and wants, against the version list of a view of `theirs`. */
  const against = (...theirs: MemberEntry[]) => {
    const { give, want } = mine.compare(1, [0], linesOf(viewOf(...theirs)))
    return { give: give.map((e) => `${e.id}@${e.version}`), want }
  }

  it('gives what the peer lacks or holds older, and wants what it holds newer', () => {
    expect(against()).toEqual({ give: ['cmp-x@3'], want: [] })
    expect(against(entry('cmp-x', 1))).toEqual({ give: ['cmp-x@3'], want: [] })
    expect(against(entry('cmp-x', 5))).toEqual({ give: [], want: [x] })
    expect(against(entry('cmp-x', 3), entry('cmp-y', 1))).toEqual({ give: [], want: [shortOf('cmp-y')] })
  })

  it('trades both ways on the same version with other content, and not at all on the same entry', () => {
    expect(against(entry('cmp-x', 3, 'leaving'))).toEqual({ give: ['cmp-x@3'], want: [x] })
    expect(against(entry('cmp-x', 3))).toEqual({ give: [], want: [] })
  })
})

describe('view edges: want lists', () => {
  it('round-trip, and a length that is not whole short ids is refused', () => {
    const shorts = [shortOf('want-a'), 0, 2 ** 48 - 1]
    const bytes = new MemberView().shortsOf(shorts)
    expect(bytes).toHaveLength(18)
    expect(parseShorts(bytes, fail)).toEqual(shorts)
    expect(parseShorts(new Uint8Array(0), fail)).toEqual([])
    expect(() => parseShorts(new Uint8Array(7), fail)).toThrow('want list: length')
  })
})

describe('view edges: idOfShort', () => {
  it('names an id only in a view that holds it', () => {
    const v = viewOf(entry('short-a', 1))
    viewOf(entry('short-b', 1)) // numbered in the process, not held by v
    expect(v.idOfShort(shortOf('short-a'))).toBe('short-a')
    expect(v.idOfShort(shortOf('short-b'))).toBe(undefined)
    expect(new MemberView().idOfShort(shortOf('short-a'))).toBe(undefined)
    expect(v.idOfShort(shortOf('short-never-numbered'))).toBe(undefined)
  })

  it('on a 48-bit collision names the id the view holds, or the first numbered when it holds both', () => {
    const [first, second] = ['collide-1736521', 'collide-9235547']
    const neighbour = 'collide-neighbour-1304' // same fine bucket (top 10 bits), another short id
    const short = shortOf(first)
    expect(shortOf(second)).toBe(short)
    expect(Math.floor(shortOf(neighbour) / 2 ** 38)).toBe(Math.floor(short / 2 ** 38))
    expect(shortOf(neighbour)).not.toBe(short)
    for (const id of [first, neighbour, second]) numberOf(asNodeId(id))

    expect(viewOf(entry(first, 1)).idOfShort(short)).toBe(first)
    expect(viewOf(entry(neighbour, 1), entry(second, 1)).idOfShort(short)).toBe(second)
    expect(viewOf(entry(second, 1), entry(first, 1)).idOfShort(short)).toBe(first)
    expect(viewOf(entry(neighbour, 1)).idOfShort(short)).toBe(undefined)
  })
})

describe('view edges: sorted', () => {
  it('lists the entries in id order, whatever order their ids were numbered in', () => {
    // Numbered out of order, more of them than the order table's first size (64), and ids that
    // sort differently as text than as numbers would.
    const ids = Array.from({ length: 150 }, (_, i) => `ord-${(i * 37) % 150}`)
    for (const id of ids) numberOf(asNodeId(id))
    const held = ids.filter((_, i) => i % 3 !== 0)
    const v = viewOf(...held.map((id) => entry(id, 1)))
    expect(v.sorted().map((e) => e.id)).toEqual([...held].sort())
    expect(new MemberView().sorted()).toEqual([])
  })

  it('holds each id once, at its latest entry', () => {
    const v = viewOf(entry('ord-z', 1), entry('ord-a', 1), entry('ord-z', 2, 'leaving'))
    expect(v.sorted().map((e) => [e.id, e.version])).toEqual([['ord-a', 1], ['ord-z', 2]])
  })
})

describe('view edges: cells', () => {
  /** The difference of two views' first `k` cells, decoded: items only in `a`, only in `b`. */
  const decode = (a: MemberView, b: MemberView, k = 64): Difference => {
    const d = new Difference()
    d.add(encodeCells(b.cellsAt(0, k)), a.cellsAt(0, k))
    expect(d.done).toBe(true)
    return d
  }
  const shortsOfItems = (items: ReadonlyArray<readonly [number, number]>): number[] => items.map(([lo, hi]) => (lo >>> 0) * 2 ** 16 + (hi >>> 16)).sort()

  it('an entry is its short id and its version modulo 2^16, and leaves the cells when replaced', () => {
    const [lo, hi] = itemOf(shortOf('cell-a'), 65_536 + 7)
    expect((lo >>> 0) * 2 ** 16 + (hi >>> 16)).toBe(shortOf('cell-a'))
    expect(hi & 0xffff).toBe(7)
    const v = viewOf(entry('cell-a', 1), entry('cell-b', 1), entry('cell-a', 2))
    expect(v.cellsAt(0, VIEW_CELLS)).toEqual(viewOf(entry('cell-b', 1), entry('cell-a', 2)).cellsAt(0, VIEW_CELLS))
    expect(v.cellsAt(3, 5)).toEqual(v.cellsAt(0, VIEW_CELLS).subarray(12, 32))
    expect(viewOf().cellsAt(0, VIEW_CELLS).every((w) => w === 0)).toBe(true)
  })

  it('decodes into what to give and what to want, by whose version is ahead', () => {
    const mine = viewOf(entry('c-same', 4), entry('c-mine-only', 1), entry('c-newer-here', 5), entry('c-older-here', 2))
    const theirs = viewOf(entry('c-same', 4), entry('c-theirs-only', 3), entry('c-newer-here', 4), entry('c-older-here', 3))
    const d = decode(mine, theirs)
    expect(shortsOfItems(d.mine)).toEqual(['c-mine-only', 'c-newer-here', 'c-older-here'].map(shortOf).sort())
    const { give, want } = mine.reconcile(d.mine, d.theirs)
    expect(give.map((e) => `${e.id}@${e.version}`).sort()).toEqual(['c-mine-only@1', 'c-newer-here@5'])
    expect(want.sort()).toEqual(['c-older-here', 'c-theirs-only'].map(shortOf).sort())
  })

  it('compares versions by their low 16 bits, ahead by fewer than 2^15 steps, across the wrap', () => {
    const at = (v: number): MemberView => viewOf(entry('c-wrap', v))
    const outcome = (here: number, there: number): string => {
      const d = decode(at(here), at(there))
      const { give, want } = at(here).reconcile(d.mine, d.theirs)
      return `${give.length > 0 ? 'give' : ''}${want.length > 0 ? 'want' : ''}`
    }
    expect(outcome(65_535, 65_536)).toBe('want') // 0xffff then 0x0000: one step ahead
    expect(outcome(65_536, 65_535)).toBe('give')
    expect(outcome(1, 1 + 2 ** 15 - 1)).toBe('want') // the farthest still ahead
    expect(outcome(1 + 2 ** 15 - 1, 1)).toBe('give')
    expect(outcome(1, 1 + 2 ** 15)).toBe('give') // half way round reads as behind: this side's entry is sent, the merge decides
  })

  it('wants an item whose version bits equal its own (the view changed since its cells were taken), and skips items it cannot name', () => {
    const v = viewOf(entry('c-held', 9))
    const { give, want } = v.reconcile([itemOf(shortOf('c-unknown'), 1)], [itemOf(shortOf('c-held'), 9), itemOf(shortOf('c-unknown-2'), 1)])
    expect(give).toEqual([])
    expect(want.sort()).toEqual(['c-held', 'c-unknown-2'].map(shortOf).sort())
  })
})
