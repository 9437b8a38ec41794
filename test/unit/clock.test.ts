import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  compareIds,
  contextOf,
  covers,
  descends,
  emptySet,
  equalSets,
  isDeleted,
  merge,
  mergeVV,
  update,
  values,
  type Dot,
  type VersionSet,
  type VersionVector,
} from '../../src/core/clock.js'

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
const text = (s: VersionSet): string[] => values(s).map((v) => new TextDecoder().decode(v))
const dotKey = (d: Dot): string => `${d.id}/${d.n}`

/**
 * A tiny cluster: replica i owns id `r<i>~x` and holds one set for one key. Clients read from any
 * replica (keeping the context), write through any replica with a remembered context or blind, and
 * replicas sync one way. Time advances by one per step.
 */
type Op =
  | { t: 'read'; r: number }
  | { t: 'write'; r: number; ctx: number; del: boolean }
  | { t: 'sync'; from: number; to: number }

const opArb = (replicas: number): fc.Arbitrary<Op> =>
  fc.oneof(
    fc.record({ t: fc.constant('read' as const), r: fc.nat(replicas - 1) }),
    fc.record({ t: fc.constant('write' as const), r: fc.nat(replicas - 1), ctx: fc.integer({ min: -1, max: 30 }), del: fc.boolean() }),
    fc.record({ t: fc.constant('sync' as const), from: fc.nat(replicas - 1), to: fc.nat(replicas - 1) }),
  )

interface Run {
  states: VersionSet[]
  written: Dot[]
  usedContexts: VersionVector[]
  maxEntries: number
}

function run(ops: Op[], replicas: number, maxEntries = 10): Run {
  const states: VersionSet[] = Array.from({ length: replicas }, () => emptySet)
  const reads: VersionVector[] = []
  const written: Dot[] = []
  const usedContexts: VersionVector[] = []
  let now = 1000
  for (const op of ops) {
    now++
    if (op.t === 'read') reads.push(contextOf(states[op.r]!))
    else if (op.t === 'sync') states[op.to] = merge(states[op.to]!, states[op.from]!)
    else {
      const ctx = op.ctx >= 0 && reads.length > 0 ? reads[op.ctx % reads.length]! : {}
      usedContexts.push(ctx)
      const before = states[op.r]!
      const after = update(before, ctx, `r${op.r}~x`, op.del ? null : bytes(`v${now}`), now, { maxEntries })
      written.push(after.siblings.find((s) => !before.siblings.some((b) => dotKey(b.dot) === dotKey(s.dot)))!.dot)
      states[op.r] = after
    }
  }
  return { states, written, usedContexts, maxEntries }
}

const mergeAll = (states: VersionSet[]): VersionSet => states.reduce(merge, emptySet)

const runArb = (opts: { maxEntries?: number; replicas?: number } = {}) =>
  fc
    .integer({ min: 2, max: opts.replicas ?? 4 })
    .chain((n) => fc.tuple(fc.constant(n), fc.array(opArb(n), { maxLength: 40 })))
    .map(([n, ops]) => run(ops, n, opts.maxEntries))

/** Canonical form: sorted, unique dots, every dot covered by the set's own vector. */
function expectCanonical(s: VersionSet): void {
  for (let i = 1; i < s.siblings.length; i++) {
    const a = s.siblings[i - 1]!.dot
    const b = s.siblings[i]!.dot
    expect(compareIds(a.id, b.id) || a.n - b.n).toBeLessThan(0)
  }
  for (const x of s.siblings) expect(covers(s.vv, x.dot)).toBe(true)
}

describe('clock: merge algebra', () => {
  it('is commutative, associative and idempotent on sets from one history', () => {
    fc.assert(
      fc.property(runArb(), fc.nat(), fc.nat(), fc.nat(), ({ states }, i, j, k) => {
        const a = states[i % states.length]!
        const b = states[j % states.length]!
        const c = states[k % states.length]!
        expect(equalSets(merge(a, b), merge(b, a))).toBe(true)
        expect(equalSets(merge(merge(a, b), c), merge(a, merge(b, c)))).toBe(true)
        expect(equalSets(merge(a, a), a)).toBe(true)
        expect(equalSets(merge(a, emptySet), a)).toBe(true)
        expectCanonical(merge(a, b))
      }),
      { numRuns: 300 },
    )
  })

  it('holds with pruning too', () => {
    fc.assert(
      fc.property(runArb({ maxEntries: 2, replicas: 6 }), fc.nat(), fc.nat(), fc.nat(), ({ states }, i, j, k) => {
        const [a, b, c] = [i, j, k].map((x) => states[x % states.length]!) as [VersionSet, VersionSet, VersionSet]
        expect(equalSets(merge(a, b), merge(b, a))).toBe(true)
        expect(equalSets(merge(merge(a, b), c), merge(a, merge(b, c)))).toBe(true)
        expect(equalSets(merge(a, a), a)).toBe(true)
      }),
      { numRuns: 200 },
    )
  })

  it('mergeVV is a pointwise max and descends agrees with it', () => {
    const vvArb = fc.dictionary(fc.constantFrom('a', 'b', 'c', 'constructor', '__proto__'), fc.record({ n: fc.integer({ min: 1, max: 5 }), ts: fc.integer({ min: 0, max: 5 }) }))
    fc.assert(
      fc.property(vvArb, vvArb, (a, b) => {
        const m = mergeVV(a, b)
        expect(descends(m, a) && descends(m, b)).toBe(true)
        expect(mergeVV(b, a)).toEqual(m)
        expect(mergeVV(m, m)).toEqual(m)
      }),
    )
  })
})

describe('clock: concurrency', () => {
  it('a write with the context of the latest read leaves exactly one sibling', () => {
    fc.assert(
      fc.property(runArb(), fc.nat(), fc.boolean(), ({ states }, i, del) => {
        const s = states[i % states.length]!
        const out = update(s, contextOf(s), 'client~1', del ? null : bytes('new'), 9999)
        expect(out.siblings).toHaveLength(1)
        expect(out.siblings[0]!.value === null).toBe(del)
        expect(descends(out.vv, s.vv)).toBe(true)
      }),
    )
  })

  it('N blind writes through one coordinator leave exactly N siblings', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), (n) => {
        let s = emptySet
        for (let i = 0; i < n; i++) s = update(s, {}, 'a~1', bytes(`v${i}`), i)
        expect(s.siblings.map((x) => x.dot.n)).toEqual(Array.from({ length: n }, (_, i) => i + 1))
        expect(text(s)).toEqual(Array.from({ length: n }, (_, i) => `v${i}`))
        expect(Object.keys(s.vv)).toEqual(['a~1'])
      }),
    )
  })

  it('blind writes through different coordinators, merged, are all kept', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(5), { minLength: 1, maxLength: 30 }), (coords) => {
        const sets: VersionSet[] = Array.from({ length: 6 }, () => emptySet)
        coords.forEach((c, i) => (sets[c] = update(sets[c]!, {}, `n${c}~1`, bytes(`w${i}`), i)))
        const all = mergeAll(sets)
        expect(all.siblings).toHaveLength(coords.length)
        expect(new Set(text(all))).toEqual(new Set(coords.map((_, i) => `w${i}`)))
      }),
    )
  })

  it('a write supersedes exactly what its context saw and keeps later concurrent writes', () => {
    let s = update(emptySet, {}, 'a~1', bytes('x'), 1)
    s = merge(s, update(emptySet, {}, 'b~1', bytes('y'), 2))
    const ctx = contextOf(s) // the client read x and y
    s = update(s, {}, 'a~1', bytes('z'), 3) // concurrent with that read
    s = merge(s, update(emptySet, {}, 'c~1', bytes('q'), 4))
    const out = update(s, ctx, 'b~1', bytes('w'), 5)
    expect(text(out).sort()).toEqual(['q', 'w', 'z'])
    expect(out.siblings.map((x) => dotKey(x.dot))).toEqual(['a~1/2', 'b~1/2', 'c~1/1'])
  })

  it('a context from another replica never makes the new dot look already seen', () => {
    // the coordinator's copy lags behind what the client read elsewhere
    const ahead = update(update(emptySet, {}, 'a~1', bytes('1'), 1), {}, 'a~1', bytes('2'), 2)
    const out = update(emptySet, contextOf(ahead), 'a~1', bytes('3'), 3)
    expect(out.siblings.map((x) => dotKey(x.dot))).toEqual(['a~1/3'])
    expect(text(merge(ahead, out))).toEqual(['3'])
  })

  it('no lost update: after full sync the siblings are exactly the writes no used context covers', () => {
    fc.assert(
      fc.property(runArb(), ({ states, written, usedContexts }) => {
        const final = mergeAll(states)
        const expected = written.filter((d) => !usedContexts.some((c) => covers(c, d))).map(dotKey).sort()
        expect(final.siblings.map((x) => dotKey(x.dot)).sort()).toEqual(expected)
        expectCanonical(final)
      }),
      { numRuns: 300 },
    )
  })

  it('no lost update under pruning: only extra (false-conflict) siblings may appear', () => {
    fc.assert(
      fc.property(runArb({ maxEntries: 2, replicas: 6 }), ({ states, written, usedContexts }) => {
        const final = mergeAll(states)
        const have = new Set(final.siblings.map((x) => dotKey(x.dot)))
        for (const d of written) if (!usedContexts.some((c) => covers(c, d))) expect(have.has(dotKey(d))).toBe(true)
        expectCanonical(final)
      }),
      { numRuns: 300 },
    )
  })
})

describe('clock: deletes', () => {
  it('a delete is a tombstone with a context; a write with that context leaves only the new value', () => {
    let s = update(emptySet, {}, 'a~1', bytes('x'), 1)
    s = merge(s, update(emptySet, {}, 'b~1', bytes('y'), 2))
    const del = update(s, contextOf(s), 'a~1', null, 3)
    expect(isDeleted(del)).toBe(true)
    expect(values(del)).toEqual([])
    const back = update(del, contextOf(del), 'b~1', bytes('z'), 4)
    expect(isDeleted(back)).toBe(false)
    expect(text(back)).toEqual(['z'])
    expect(back.siblings).toHaveLength(1)
  })

  it('a delete concurrent with a write keeps the write', () => {
    const base = update(emptySet, {}, 'a~1', bytes('x'), 1)
    const del = update(base, contextOf(base), 'a~1', null, 2)
    const put = update(base, contextOf(base), 'b~1', bytes('y'), 3)
    const m = merge(del, put)
    expect(isDeleted(m)).toBe(false)
    expect(text(m)).toEqual(['y'])
    expect(m.siblings).toHaveLength(2)
    expect(isDeleted(emptySet)).toBe(false)
  })
})

describe('clock: pruning (section 4.4)', () => {
  it('keeps the vector within maxEntries plus live sibling ids and never drops a live sibling', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ c: fc.nat(15), ctx: fc.boolean() }), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 5 }),
        (writes, maxEntries) => {
          let s = emptySet
          writes.forEach(({ c, ctx }, i) => {
            const before = s
            const context = ctx ? contextOf(s) : {}
            s = update(s, context, `n${c}~1`, bytes(`${i}`), i, { maxEntries })
            const ids = Object.keys(s.vv)
            const live = new Set(s.siblings.map((x) => x.dot.id))
            expect(ids.length <= maxEntries || ids.every((id) => live.has(id))).toBe(true)
            for (const x of s.siblings) expect(covers(s.vv, x.dot)).toBe(true)
            const survivors = before.siblings.filter((x) => !covers(context, x.dot))
            expect(s.siblings).toHaveLength(survivors.length + 1)
          })
        },
      ),
    )
  })

  it('costs a false conflict: a superseded version resurfaces as an extra sibling', () => {
    const b = update(emptySet, {}, 'b', bytes('old'), 1) // replica b still holds (b,1)
    let a = merge(emptySet, b)
    a = update(a, contextOf(a), 'a', bytes('new'), 2) // supersedes (b,1)
    for (let i = 0; i < 3; i++) a = merge(a, update(emptySet, {}, `c${i}`, null, 3 + i))
    a = update(a, contextOf(a), 'a', bytes('newer'), 10, { maxEntries: 2 }) // prunes b, c0, c1
    expect(Object.keys(a.vv).sort()).toEqual(['a', 'c2'])
    expect(text(merge(a, b))).toEqual(['newer', 'old'])
  })

  it('prunes nothing by default, so the superseded version stays superseded', () => {
    const b = update(emptySet, {}, 'b', bytes('old'), 1)
    let a = merge(emptySet, b)
    a = update(a, contextOf(a), 'a', bytes('new'), 2)
    for (let i = 0; i < 12; i++) a = merge(a, update(emptySet, {}, `c${i}`, null, 3 + i))
    a = update(a, contextOf(a), 'a', bytes('newer'), 20)
    expect(Object.keys(a.vv)).toHaveLength(14)
    expect(text(merge(a, b))).toEqual(['newer'])
  })

  it('removes the oldest entries first', () => {
    let s = emptySet
    for (let i = 0; i < 5; i++) s = update(s, contextOf(s), `n${i}~1`, bytes(`${i}`), 100 + i, { maxEntries: 3 })
    expect(Object.keys(s.vv).sort()).toEqual(['n2~1', 'n3~1', 'n4~1'])
    expect(text(s)).toEqual(['4'])
  })
})

describe('clock: odd ids and inputs', () => {
  it('orders ids by UTF-8 bytes, not UTF-16 units', () => {
    const enc = (s: string) => Array.from(new TextEncoder().encode(s))
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
        const x = enc(a)
        const y = enc(b)
        let d = 0
        for (let i = 0; i < Math.min(x.length, y.length) && d === 0; i++) d = x[i]! - y[i]!
        if (d === 0) d = x.length - y.length
        expect(Math.sign(compareIds(a, b))).toBe(Math.sign(d))
      }),
    )
    expect(compareIds('\uffff', '\u{10000}')).toBeLessThan(0)
  })

  it('treats prototype-named ids as ordinary ids', () => {
    let s = update(emptySet, {}, '__proto__', bytes('p'), 1)
    s = update(s, {}, 'constructor', bytes('c'), 2)
    expect(Object.getPrototypeOf(s.vv)).toBe(Object.prototype)
    expect(s.vv['__proto__']).toEqual({ n: 1, ts: 1 })
    expect(covers({}, { id: 'toString', n: 1 })).toBe(false)
    expect(text(merge(s, emptySet))).toEqual(['p', 'c'])
  })

  it('rejects programmer mistakes with TypeError and does not mutate inputs', () => {
    expect(() => update(emptySet, {}, '', bytes('x'), 1)).toThrow(TypeError)
    expect(() => update(emptySet, {}, 'a', bytes('x'), Number.NaN)).toThrow(TypeError)
    expect(() => update(emptySet, {}, 'a', bytes('x'), 1, { maxEntries: 0 })).toThrow(TypeError)
    const s = update(emptySet, {}, 'a', bytes('x'), 1)
    const snapshot = structuredClone(s)
    update(s, contextOf(s), 'b', bytes('y'), 2, { maxEntries: 1 })
    merge(s, update(emptySet, {}, 'c', null, 3))
    expect(s).toEqual(snapshot)
    expect(emptySet).toEqual({ vv: {}, siblings: [] })
  })
})
