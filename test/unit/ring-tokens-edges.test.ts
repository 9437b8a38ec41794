/**
 * The edges of core/ring-tokens.ts that whole rings in ring.test.ts do not pin down: the token
 * stream itself (xoshiro128** seeded by SHA-256 of the id, part of the protocol), the order of a
 * walk where two members' tokens share a position, walks that start on a token, past the last one
 * or across empty buckets, views that hold only some of an index's members or only part of a
 * member's stream, and which index a view reads through.
 */
import { describe, expect, it } from 'vitest'
import { hash, toBytes } from '../../src/core/hash.js'
import { memberTokens, sortedTokens, tokenView, TokenIndex, TokenWalk, type TokenView } from '../../src/core/ring-tokens.js'

/** xoshiro128** as published (Blackman and Vigna), in 32-bit BigInt arithmetic, seeded as the ring documents. */
function referenceTokens(id: string, count: number): number[] {
  const M = 0xffffffffn
  const h = hash(toBytes(id))
  const word = (i: number): bigint => BigInt(((h[i]! << 24) | (h[i + 1]! << 16) | (h[i + 2]! << 8) | h[i + 3]!) >>> 0)
  const s = [word(0) | 1n, word(4), word(8), word(12)]
  const rotl = (x: bigint, k: bigint): bigint => ((x << k) | (x >> (32n - k))) & M
  const out: number[] = []
  for (let i = 0; i < count; i++) {
    out.push(Number((rotl((s[1]! * 5n) & M, 7n) * 9n) & M))
    const t = (s[1]! << 9n) & M
    s[2]! ^= s[0]!; s[3]! ^= s[1]!; s[1]! ^= s[2]!; s[0]! ^= s[3]!; s[2]! ^= t
    s[3] = rotl(s[3]!, 11n)
  }
  return out
}

const tokensOf = (id: string, count: number): number[] => {
  const out = new Uint32Array(count)
  memberTokens(id, count, out, 0)
  return [...out]
}

interface Member { id: string; count: number }

/** Where a walk from `from` meets the members' tokens: every (position, member index), ordered by position, then id, then stream index. */
function referenceWalk(members: readonly Member[], from: number): Array<[number, number]> {
  const all: Array<{ pos: number; id: string; k: number; i: number }> = []
  members.forEach(({ id, count }, i) => tokensOf(id, count).forEach((pos, k) => all.push({ pos, id, k, i })))
  all.sort((a, b) => a.pos - b.pos || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) || a.k - b.k)
  const start = all.findIndex((t) => t.pos >= from)
  const turn = start < 0 ? all : [...all.slice(start), ...all.slice(0, start)]
  return turn.map((t) => [t.pos, t.i])
}

/** Everything a walk from `from` gives, until -1, with the position of each. */
function walk(v: TokenView, from: number): Array<[number, number]> {
  const w = new TokenWalk(v, from), out: Array<[number, number]> = []
  for (let i = w.next(); i >= 0; i = w.next()) out.push([w.at, i])
  expect(w.next()).toBe(-1)
  return out
}

/** A view of `members` (sorted by id) through a bucketed index of `bits`, registering `others` first so the index holds more than the view. */
function bucketed(bits: number, members: readonly Member[], others: readonly Member[] = []): TokenView {
  const index = new TokenIndex(bits)
  for (const o of others) index.ensure(index.regOf(o.id), o.count)
  const regs = Int32Array.from(members, (m) => index.regOf(m.id))
  members.forEach((m, i) => index.ensure(regs[i]!, m.count))
  const table = new Int32Array(index.registered).fill(-1)
  regs.forEach((r, i) => { table[r] = i })
  const counts = Uint32Array.from(members, (m) => m.count)
  return { index, table, regs, counts, total: members.reduce((n, m) => n + m.count, 0) }
}

const flatView = (members: readonly Member[]): TokenView =>
  tokenView((i) => members[i]!.id, Uint32Array.from(members, (m) => m.count))

// Found by search: c53's token 42 and c194's token 16 fall on one position, as do c361's 43 and
// c997's 40, and c846's 86 and c1171's 109. In the last two pairs id order and stream order disagree.
const SHARED_POSITIONS: Array<[string, number, string, number]> = [
  ['c53', 42, 'c194', 16],
  ['c361', 43, 'c997', 40],
  ['c846', 86, 'c1171', 109],
]
const clashing: Member[] = ['c1171', 'c194', 'c361', 'c53', 'c846', 'c997'].map((id) => ({ id, count: 128 }))

describe('ring tokens: the stream', () => {
  it('is xoshiro128** seeded by the first 16 bytes of SHA-256(id), low bit of the first word set', () => {
    for (const id of ['a', 'node-17', 'ü', '0123456789abcdef']) expect(tokensOf(id, 300)).toEqual(referenceTokens(id, 300))
  })

  it('writes count tokens at the offset given and nothing else', () => {
    const out = new Uint32Array(8).fill(7)
    memberTokens('a', 3, out, 4)
    expect([...out]).toEqual([7, 7, 7, 7, ...referenceTokens('a', 3), 7])
  })

  it('grows only at the end with the count, so a weight change keeps the tokens held', () => {
    expect(tokensOf('b', 200).slice(0, 128)).toEqual(tokensOf('b', 128))
  })

  it('shares a position between the pairs the tests below rely on', () => {
    for (const [a, ka, b, kb] of SHARED_POSITIONS) expect(tokensOf(a, 128)[ka]).toBe(tokensOf(b, 128)[kb])
  })

  it('sortedTokens gives the first count tokens ascending, for ids holding colons too', () => {
    for (const [count, id] of [[5, 'a'], [128, 'x:y'], [3, ':']] as const) {
      const expected = tokensOf(id, count).sort((x, y) => x - y)
      expect([...sortedTokens(`${count}:${id}`)]).toEqual(expected)
    }
  })
})

describe('ring tokens: the flat index', () => {
  it('holds every token once, ascending, each naming its member and stream index', () => {
    const members = [{ id: 'a', count: 300 }, { id: 'b', count: 1 }, { id: 'c', count: 40 }]
    const ix = TokenIndex.flat(members.map((m) => m.id), members.map((m) => m.count))
    expect(ix.bits).toBe(0)
    expect(ix.size).toBe(341)
    expect(ix.ids).toEqual(['a', 'b', 'c'])
    const pos = Array.from(ix.pos[0]!), who = Array.from(ix.who[0]!)
    expect(pos).toEqual([...pos].sort((x, y) => x - y))
    const streams = members.map((m) => tokensOf(m.id, m.count))
    const seen = new Set<number>()
    who.forEach((w, j) => {
      const reg = Math.floor(w / 32768), k = w % 32768
      expect(streams[reg]![k]).toBe(pos[j])
      seen.add(w)
    })
    expect(seen.size).toBe(341)
  })

  it('walks in the order of position, then id, then stream index, wherever it starts', () => {
    const v = flatView(clashing)
    expect(v.index.bits).toBe(0)
    for (const from of [0, 1, 0x7fffffff, 0xffffffff, tokensOf('c53', 128)[42]!]) {
      expect(walk(v, from)).toEqual(referenceWalk(clashing, from))
    }
  })
})

describe('ring tokens: a bucketed index', () => {
  const members: Member[] = [{ id: 'a', count: 200 }, { id: 'b', count: 3 }, { id: 'c', count: 128 }]

  it('walks as the flat index does, however many buckets it has', () => {
    const flat = walk(flatView(members), 12345)
    for (const bits of [1, 2, 4, 16]) expect(walk(bucketed(bits, members), 12345)).toEqual(flat)
  })

  it('orders tokens sharing a position by id then stream index, whichever member registered first', () => {
    const forward = bucketed(16, clashing), backward = bucketed(16, clashing, [...clashing].reverse())
    for (const from of [0, tokensOf('c997', 128)[40]!, tokensOf('c1171', 128)[109]!]) {
      expect(walk(forward, from)).toEqual(referenceWalk(clashing, from))
      expect(walk(backward, from)).toEqual(referenceWalk(clashing, from))
    }
  })

  it('keeps id order at a shared position when the later id arrives first and the earlier one grows into it', () => {
    const index = new TokenIndex(16)
    const late = index.regOf('c53'), early = index.regOf('c194')
    index.ensure(late, 128)
    index.ensure(early, 10)
    index.ensure(early, 128) // c194's token 16, at c53's token 42
    const table = Int32Array.of(1, 0), regs = Int32Array.of(early, late), counts = Uint32Array.of(128, 128)
    const v = { index, table, regs, counts, total: 256 }
    const members = [{ id: 'c194', count: 128 }, { id: 'c53', count: 128 }]
    expect(walk(v, 0)).toEqual(referenceWalk(members, 0))
  })

  it('adds only the tokens a member lacks, and counts them', () => {
    const index = new TokenIndex(4)
    const r = index.regOf('a')
    expect(index.regOf('a')).toBe(r)
    expect(index.registered).toBe(1)
    expect(index.size).toBe(0)
    index.ensure(r, 10)
    index.ensure(r, 4)
    index.ensure(r, 10)
    expect(index.size).toBe(10)
    index.ensure(r, 25)
    expect(index.size).toBe(25)
    const held = index.pos.flatMap((P) => (P ? Array.from(P) : [])).sort((x, y) => x - y)
    expect(held).toEqual(tokensOf('a', 25).sort((x, y) => x - y))
    index.pos.forEach((P, b) => { for (const p of Array.from(P ?? [])) expect(p >>> 28).toBe(b) })
  })

  it('skips the tokens of members outside the view and those past a member\'s count in it', () => {
    const others = [{ id: 'z', count: 300 }, { id: 'a', count: 500 }] // a: the index holds 500, the view 200
    const v = bucketed(8, members, others)
    expect(walk(v, 99)).toEqual(referenceWalk(members, 99))
  })

  it('skips members registered after the view was made', () => {
    const v = bucketed(8, members)
    v.index.ensure(v.index.regOf('later'), 400)
    expect(v.table.length).toBeLessThan(v.index.registered)
    expect(walk(v, 0)).toEqual(referenceWalk(members, 0))
  })
})

describe('ring tokens: walks', () => {
  const members: Member[] = [{ id: 'p', count: 5 }, { id: 'q', count: 5 }]

  it('starts at a token on the start position, and wraps past the last token to the first', () => {
    for (const v of [flatView(members), bucketed(16, members)]) {
      const all = referenceWalk(members, 0)
      const [lastPos] = all[all.length - 1]!
      const [firstPos, firstMember] = all[0]!
      const from = walk(v, all[3]![0])
      expect(from[0]).toEqual(all[3])
      expect(from).toHaveLength(10)
      const past = walk(v, lastPos + 1)
      expect(past[0]).toEqual([firstPos, firstMember])
      expect(past).toEqual(all)
    }
  })

  it('gives each token once per turn, then -1, and -1 at once on an empty view', () => {
    const w = new TokenWalk(flatView(members), 0)
    for (let t = 0; t < 10; t++) expect(w.next()).toBeGreaterThanOrEqual(0)
    expect(w.next()).toBe(-1)
    expect(w.next()).toBe(-1)
    expect(walk(flatView([]), 0)).toEqual([])
    expect(walk(bucketed(16, []), 5)).toEqual([])
  })
})

describe('ring tokens: which index a view reads', () => {
  const many = (prefix: string, n: number, count: number): Member[] =>
    Array.from({ length: n }, (_, i) => ({ id: `${prefix}${String(i).padStart(4, '0')}`, count }))
  const viewOf = (ms: readonly Member[], reuse?: { index: TokenIndex; regs: Int32Array }): TokenView =>
    tokenView((i) => ms[i]!.id, Uint32Array.from(ms, (m) => m.count), reuse)

  it('gives a ring under 32,768 tokens a flat index of its own, members registered in order', () => {
    const ms = [{ id: 'small0', count: 10923 }, { id: 'small1', count: 10922 }, { id: 'small2', count: 10922 }]
    const v = viewOf(ms)
    expect(v.total).toBe(32767)
    expect(v.index.bits).toBe(0)
    expect(v.index.ids).toEqual(ms.map((m) => m.id))
    expect([...v.table]).toEqual([0, 1, 2])
    expect([...v.regs]).toEqual([0, 1, 2])
    expect(v.table).not.toBe(v.regs)
  })

  it('reads a ring of 32,768 tokens or more through the shared index, and keeps reading it on reuse', () => {
    const ms = many('big', 2, 16384)
    const v = viewOf(ms)
    expect(v.total).toBe(32768)
    expect(v.index.bits).toBe(16)
    expect(v.table.length).toBe(v.index.registered)
    ms.forEach((m, i) => expect(v.index.ids[v.regs[i]!]).toBe(m.id))
    expect(walk(v, 77).slice(0, 500)).toEqual(referenceWalk(ms, 77).slice(0, 500))
    // The next ring: one member more, its reg not yet known (-1); the regs array is taken over.
    const next = [...ms, { id: 'big9999', count: 16384 }]
    const regs = Int32Array.of(v.regs[0]!, v.regs[1]!, -1)
    const v2 = viewOf(next, { index: v.index, regs })
    expect(v2.index === v.index).toBe(true) // not toBe: a failure would print both indexes
    expect(v2.regs).toBe(regs)
    expect(v2.index.ids[regs[2]!]).toBe('big9999')
    expect(walk(v2, 0).slice(0, 500)).toEqual(referenceWalk(next, 0).slice(0, 500))
  })

  it('keeps reading the shared index on reuse after others\' rings filled it', () => {
    const ms = many('kept', 2, 16384)
    const v = viewOf(ms)
    expect(v.index.bits).toBe(16)
    for (let r = 0; r < 2; r++) viewOf(many(`crowd${r}-`, 4, 32768)) // now over four times this ring's tokens
    const v2 = viewOf(ms, { index: v.index, regs: v.regs })
    expect(v2.index === v.index).toBe(true)
    expect(v2.regs).toBe(v.regs)
    expect(v2.table.length).toBe(v2.index.registered)
    expect(walk(v2, 0).slice(0, 500)).toEqual(referenceWalk(ms, 0).slice(0, 500)) // the crowd's tokens skipped
  })

  it('turns a reused flat index into a fresh one', () => {
    const ms = many('flat', 2, 5)
    const v = viewOf(ms)
    const v2 = viewOf(ms, { index: v.index, regs: v.regs })
    expect(v2.index === v.index).toBe(false)
    expect(v2.index.bits).toBe(0)
  })

  it('gives a large ring a flat index when the shared one holds over four times its tokens', () => {
    // Two rings of 131,072 tokens each put at least 262,144 tokens in the shared index (unless it
    // already held over four times theirs).
    for (let r = 0; r < 2; r++) viewOf(many(`fill${r}-`, 4, 32768))
    const ms = many('apart', 2, 16384)
    const v = viewOf(ms)
    expect(v.index.bits).toBe(0)
    expect(walk(v, 0).slice(0, 500)).toEqual(referenceWalk(ms, 0).slice(0, 500))
  })
})
