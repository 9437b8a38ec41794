/**
 * One write stamped twice (clock.ts, Sibling.op and VersionSet.gone): a coordinator stamps a
 * forwarded write and its answer is lost, the retry reaches another coordinator, which stamps it
 * again. The two versions carry the write's operation id, so a later write that saw only one of
 * them supersedes both, whichever replica meets the other stamp and in whatever order sets merge.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MAX_GONE, contextOf, emptySet, equalSets, holdsOp, merge, update, values, type OpStamp, type VersionSet } from '../../src/core/clock.js'
import { decodeSet, encodeSet, setSize } from '../../src/core/record.js'

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
const texts = (s: VersionSet): string[] => values(s).map((v) => new TextDecoder().decode(v)).sort()
/** The stamp of operation `tag`, first forwarded at time 10 * tag (later ops, later times). */
const op = (tag: number, at = 10 * tag): OpStamp => ({ tag, at })

/** The value "v" of operation 7 stamped by x (its answer lost) and again by y. */
function stampedTwice(): { x: VersionSet; y: VersionSet } {
  const x = update(emptySet, {}, 'x', bytes('v'), 100, { op: op(7) })
  const y = update(emptySet, {}, 'y', bytes('v'), 105, { op: op(7) })
  return { x, y }
}

describe('a write stamped twice', () => {
  it('is superseded in both stamps by a write that read one of them, wherever the other turns up', () => {
    const { x, y } = stampedTwice()
    // A client read x's stamp only and wrote "w" over it.
    const w = update(x, contextOf(x), 'x', bytes('w'), 200)
    expect(texts(w)).toEqual(['w'])
    expect(w.gone).toEqual([op(7)])
    expect(holdsOp(w, op(7))).toBe(true)
    expect(holdsOp(w, op(7, 71))).toBe(false)
    // The other stamp, delivered later (a hint), does not bring "v" back, in either order.
    expect(texts(merge(w, y))).toEqual(['w'])
    expect(texts(merge(y, w))).toEqual(['w'])
    // A replica that held both stamps when the write reached it drops both.
    const both = merge(x, y)
    expect(texts(both)).toEqual(['v', 'v'])
    expect(texts(update(both, contextOf(x), 'z', bytes('w'), 200))).toEqual(['w'])
  })

  it('is superseded through a replica that only saw the overwrite of the first stamp merged in', () => {
    const { x, y } = stampedTwice()
    const w = update(x, contextOf(x), 'x', bytes('w'), 200)
    // A replica that never held x's stamp takes the overwrite without the list (as a fresh write
    // with x's context would arrive there), then meets x and y: x is superseded there, so y is too.
    const bare: VersionSet = { vv: w.vv, siblings: w.siblings }
    expect(texts(merge(merge(bare, x), y))).toEqual(['w'])
    expect(texts(merge(merge(bare, y), x))).toEqual(['w'])
    expect(texts(merge(bare, merge(x, y)))).toEqual(['w'])
  })

  it('leaves other writes alone: other stamps (one tag, another time), and writes with none', () => {
    const a = update(emptySet, {}, 'x', bytes('a'), 100, { op: op(1) })
    const b = update(emptySet, {}, 'y', bytes('b'), 100, { op: op(1, 11) })
    const c = update(emptySet, {}, 'z', bytes('c'), 100)
    const w = update(a, contextOf(a), 'x', bytes('w'), 200)
    expect(texts(merge(merge(w, b), c))).toEqual(['b', 'c', 'w'])
  })

  it('remembers the MAX_GONE latest superseded operations, latest first, by time and then tag', () => {
    let s = emptySet
    // Tags fall as times rise: the order is the times'.
    for (let i = 1; i <= MAX_GONE + 3; i++) {
      const stamp = update(emptySet, {}, `r${i}`, bytes(`v${i}`), 1000 + i, { op: op(100 - i, i) })
      s = merge(s, stamp)
      s = update(s, contextOf(s), 'me', bytes(`w${i}`), 2000 + i)
    }
    // Writes 1 to MAX_GONE + 3 superseded: the MAX_GONE latest kept, the 3 earliest forgotten.
    expect(s.gone).toEqual(Array.from({ length: MAX_GONE }, (_, k) => op(100 - (MAX_GONE + 3 - k), MAX_GONE + 3 - k)))
    expect(MAX_GONE).toBe(8)
    // At one time, the higher tag first.
    const t1 = update(emptySet, {}, 'p', bytes('p'), 1, { op: op(1, 50) })
    const t2 = update(emptySet, {}, 'q', bytes('q'), 1, { op: op(2, 50) })
    const both = merge(t1, t2)
    expect(update(both, contextOf(both), 'me', bytes('w'), 2).gone).toEqual([op(2, 50), op(1, 50)])
  })

  it('takes a stamp of tag 0 at time 0, and keeps it through the encoding', () => {
    const s = update(emptySet, {}, 'x', bytes('v'), 100, { op: op(0, 0) })
    expect(decodeSet(encodeSet(s)).siblings[0]!.op).toEqual(op(0, 0))
  })

  it('keeps, of two copies of one dot, the same one in either order: the larger value, then a stamp over none, then the later stamp', () => {
    // Only a confused replica (a reused id) makes such copies; every replica must still agree.
    for (const value of [bytes('v'), null]) {
      const base = update(emptySet, {}, 'x', value, 100)
      const none: VersionSet = base
      const early: VersionSet = { ...base, siblings: [{ ...base.siblings[0]!, op: op(9, 5) }] }
      const late: VersionSet = { ...base, siblings: [{ ...base.siblings[0]!, op: op(3, 6) }] }
      for (const [a, b, kept] of [[none, early, early], [early, none, early], [early, late, late], [late, early, late]] as const) {
        expect(merge(a, b).siblings.map((x) => x.op)).toEqual([kept.siblings[0]!.op])
      }
    }
    // Copies that differ in value: the larger bytes, whatever their stamps.
    const base = update(emptySet, {}, 'x', bytes('a'), 100)
    const other: VersionSet = { ...base, siblings: [{ ...base.siblings[0]!, value: bytes('b') }] }
    const stamped: VersionSet = { ...base, siblings: [{ ...base.siblings[0]!, op: op(5) }] }
    expect(texts(merge(stamped, other))).toEqual(['b'])
    expect(texts(merge(other, stamped))).toEqual(['b'])
    // A value over a tombstone, whatever their stamps.
    const tomb: VersionSet = { ...base, siblings: [{ ...base.siblings[0]!, value: null, op: op(6) }] }
    expect(texts(merge(tomb, base))).toEqual(['a'])
    expect(texts(merge(base, tomb))).toEqual(['a'])
  })

  it('is never stamped twice by one replica: update refuses an op it holds or saw superseded', () => {
    const { x } = stampedTwice()
    expect(() => update(x, {}, 'x', bytes('v'), 300, { op: op(7) })).toThrow('operation already stamped here')
    const w = update(x, contextOf(x), 'x', bytes('w'), 200)
    expect(() => update(w, {}, 'x', bytes('v'), 300, { op: op(7) })).toThrow('operation already stamped here')
    for (const bad of [op(-1, 5), op(2 ** 32), op(1.5), op(1, -1), op(1, 0.5), op(1, Infinity)]) {
      expect(() => update(w, {}, 'x', bytes('v'), 300, { op: bad })).toThrow('op: tag must be a 32-bit unsigned integer, at a safe integer >= 0')
    }
  })

  it('lists an op gone on two replicas once', () => {
    const { x, y } = stampedTwice()
    const wx = update(x, contextOf(x), 'x', bytes('w'), 200)
    const wy = update(y, contextOf(y), 'y', bytes('u'), 200)
    expect(merge(wx, wy).gone).toEqual([op(7)])
    expect(texts(merge(wy, wx))).toEqual(['u', 'w'])
  })

  it('round-trips through the record encoding, ops and list included, and equalSets tells them apart', () => {
    const { x, y } = stampedTwice()
    const w = merge(update(x, contextOf(x), 'x', bytes('w'), 200), y)
    const again = decodeSet(encodeSet(w))
    expect(equalSets(again, w)).toBe(true)
    expect(again.gone).toEqual(w.gone)
    const withOp = decodeSet(encodeSet(merge(x, y)))
    expect(withOp.siblings.map((s) => s.op)).toEqual([op(7), op(7)])
    expect(equalSets(withOp, merge(x, y))).toBe(true)
    expect(equalSets({ ...w, gone: [op(8)] }, w)).toBe(false)
    expect(equalSets({ ...w, gone: [op(7, 1)] }, w)).toBe(false)
    expect(equalSets({ ...w, gone: [op(8), op(7)] }, w)).toBe(false)
    expect(equalSets({ ...x, siblings: [{ ...x.siblings[0]!, op: op(8) }] }, x)).toBe(false)
    expect(equalSets({ ...x, siblings: [{ ...x.siblings[0]!, op: op(7, 1) }] }, x)).toBe(false)
    expect(equalSets(x, { ...x, siblings: [{ ...x.siblings[0]!, op: undefined }] } as VersionSet)).toBe(false)
    const plain = update(emptySet, {}, 'x', bytes('v'), 100)
    expect(equalSets(plain, { ...plain, siblings: [{ ...plain.siblings[0]!, op: op(7) }] })).toBe(false)
  })
})

describe('merge with operations stays a join', () => {
  // Three replicas of one key living one history (dots stay unique, as each replica stamps with its
  // own counter), writing, overwriting what they hold and syncing; an op, written at two replicas,
  // is one write stamped twice (same value). Small universes, so stamps of one op meet often.
  const world = fc
    .array(
      fc.record({
        at: fc.nat(2),
        from: fc.nat(2),
        kind: fc.constantFrom('write', 'overwrite', 'sync'),
        op: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
        v: fc.constantFrom('p', 'q'),
      }),
      { maxLength: 12 },
    )
    .map((steps) => {
      const sets: VersionSet[] = [emptySet, emptySet, emptySet]
      const ids = ['a', 'b', 'c']
      let t = 100
      for (const st of steps) {
        const s = sets[st.at]!
        if (st.kind === 'sync') sets[st.at] = merge(s, sets[st.from]!)
        // A coordinator holding a stamp of the op, or its supersession, reuses that (coordinator.ts).
        else if (st.op !== undefined && holdsOp(s, op(st.op))) continue
        else {
          const value = st.op === undefined ? st.v : `op${st.op}`
          sets[st.at] = update(s, st.kind === 'overwrite' ? contextOf(s) : {}, ids[st.at]!, bytes(value), t++, st.op === undefined ? {} : { op: op(st.op) })
        }
      }
      return sets as [VersionSet, VersionSet, VersionSet]
    })

  it('is commutative, associative and idempotent, up to encoding', () => {
    const same = (a: VersionSet, b: VersionSet): boolean => Buffer.from(encodeSet(a)).equals(Buffer.from(encodeSet(b)))
    fc.assert(
      fc.property(world, ([a, b, c]) => {
        expect(same(merge(a, b), merge(b, a))).toBe(true)
        expect(same(merge(merge(a, b), c), merge(a, merge(b, c)))).toBe(true)
        expect(same(merge(a, a), a)).toBe(true)
      }),
      { numRuns: 2000, seed: 42 },
    )
  })
})

describe('the record encoding of stamps and superseded operations', () => {
  const refusal = (b: Uint8Array | number[]): string => {
    try {
      decodeSet(Uint8Array.from(b))
      return 'accepted'
    } catch (e) {
      return (e as Error).message
    }
  }
  const base = update(emptySet, {}, 'x', bytes('v'), 100)
  const plain = [...encodeSet(base)]
  /** The 4-byte tag and the short time form of a stamp. */
  const stampBytes = (tag: number, at: number): number[] => [tag >>> 24, (tag >>> 16) & 255, (tag >>> 8) & 255, tag & 255, 2 + 2 * at]

  it('accepts exactly the canonical list after the siblings', () => {
    // (9 at 20), then (7 at 20 - 3 = 17): latest first.
    expect(decodeSet(Uint8Array.from([...plain, 2, ...stampBytes(9, 20), 0, 0, 0, 7, 3])).gone).toEqual([op(9, 20), op(7, 17)])
    // Same time: the higher tag first; a tie in both is a repeat.
    expect(decodeSet(Uint8Array.from([...plain, 2, ...stampBytes(9, 20), 0, 0, 0, 7, 0])).gone).toEqual([op(9, 20), op(7, 20)])
    expect(refusal([...plain, 2, ...stampBytes(7, 20), 0, 0, 0, 9, 0])).toBe('version set: superseded operations not in canonical order')
    expect(refusal([...plain, 2, ...stampBytes(7, 20), 0, 0, 0, 7, 0])).toBe('version set: superseded operations not in canonical order')
    // (7 at 20) then (9 at 19): a higher tag at an earlier time comes after.
    expect(decodeSet(Uint8Array.from([...plain, 2, ...stampBytes(7, 20), 0, 0, 0, 9, 1])).gone).toEqual([op(7, 20), op(9, 19)])
    // The time step cannot pass zero.
    expect(refusal([...plain, 2, ...stampBytes(9, 20), 0, 0, 0, 7, 21])).toBe('version set: count or index 21 over 20')
    const tags = Array.from({ length: MAX_GONE }, (_, k) => MAX_GONE - k)
    expect(refusal([...plain, MAX_GONE + 1, ...stampBytes(99, 50), ...tags.flatMap((t) => [0, 0, 0, t, 1])])).toBe('version set: bad count of superseded operations')
    expect(decodeSet(Uint8Array.from([...plain, MAX_GONE, ...stampBytes(99, 50), ...tags.slice(1).flatMap((t) => [0, 0, 0, t, 1])])).gone).toHaveLength(MAX_GONE)
    expect(refusal([...plain, 1, 0, 0, 7])).toBe('version set: truncated')
    expect(refusal([...plain, 1, 0, 0, 0, 7, 1, 0x3f, 0xe0, 0, 0, 0, 0, 0, 0])).toBe('version set: op time must be an integer >= 0')
    // -2 in the long form (the short one holds only times >= 0).
    expect(refusal([...plain, 1, 0, 0, 0, 7, 1, 0xc0, 0, 0, 0, 0, 0, 0, 0])).toBe('version set: op time must be an integer >= 0')
    const stamped = [...encodeSet(update(emptySet, {}, 'x', bytes('v'), 100, { op: op(7, 30) }))]
    expect(refusal([...stamped, 1, ...stampBytes(7, 30)])).toBe('version set: a superseded operation is live')
    expect(refusal([...stamped, 1, ...stampBytes(7, 31)])).toBe('accepted')
  })

  it('reads a tag of all 32 bits', () => {
    const s = update(emptySet, {}, 'x', bytes('v'), 100, { op: op(2 ** 32 - 1, 5) })
    expect(decodeSet(encodeSet(s)).siblings[0]!.op).toEqual(op(2 ** 32 - 1, 5))
    const g = decodeSet(Uint8Array.from([...plain, 2, ...stampBytes(0xfedcba98, 9), 0x80, 0, 0, 1, 1]))
    expect(g.gone).toEqual([op(0xfedcba98, 9), op(0x80000001, 8)])
  })

  it('encodes only what it would decode', () => {
    const stamped = update(emptySet, {}, 'x', bytes('v'), 100, { op: op(7) })
    expect(() => encodeSet({ ...base, gone: [op(7), op(9)] })).toThrow('superseded operations not latest first')
    expect(() => encodeSet({ ...base, gone: [op(7), op(7)] })).toThrow('superseded operations not latest first')
    expect(() => encodeSet({ ...stamped, gone: [op(7)] })).toThrow('a superseded operation is live')
    expect(() => encodeSet({ ...stamped, gone: [op(9), op(7)] })).toThrow('a superseded operation is live')
    // Time decides before the tag: a higher tag at an earlier time comes after.
    expect(() => encodeSet({ ...base, gone: [op(9, 5), op(7, 10)] })).toThrow('superseded operations not latest first')
    expect(encodeSet({ ...base, gone: [op(7, 10), op(9, 5)] }).length).toBeGreaterThan(plain.length)
    // Later entries' times too: they are written as steps back, which only whole times >= 0 allow.
    for (const at of [10.5, -5]) {
      expect(() => encodeSet({ ...base, gone: [op(9, 20), { tag: 7, at }] })).toThrow('op: tag must be a 32-bit unsigned integer, at a safe integer >= 0')
    }
    for (const tag of [-1, 1.5, 2 ** 32]) {
      expect(() => encodeSet({ ...base, gone: [op(9, 20), { tag, at: 10 }] })).toThrow(`op tag must be a 32-bit unsigned integer, got ${tag}`)
    }
    expect(() => encodeSet({ ...base, gone: Array.from({ length: MAX_GONE + 1 }, (_, k) => op(MAX_GONE + 1 - k)) })).toThrow('too many superseded operations')
    expect(() => encodeSet({ ...base, siblings: [{ ...base.siblings[0]!, op: op(2 ** 32) }] })).toThrow('op: tag must be a 32-bit unsigned integer')
    expect(() => encodeSet({ ...base, gone: [op(1, 0.5)] })).toThrow('op: tag must be a 32-bit unsigned integer')
    // An empty list is no list: the same bytes as none.
    expect([...encodeSet({ ...base, gone: [] })]).toEqual(plain)
    expect(encodeSet({ ...base, gone: [op(9), op(8)] }).length).toBe(setSize({ ...base, gone: [op(9), op(8)] }))
  })

  it("costs the stamp on a forwarded write's version and nothing on others", () => {
    const stamped = update(emptySet, {}, 'x', bytes('v'), 100, { op: op(2 ** 31, 1_700_000_000_000) })
    expect(encodeSet(stamped).length - plain.length).toBe(4 + 6)
    expect(setSize(stamped)).toBe(encodeSet(stamped).length)
  })
})
