/**
 * One write stamped twice (clock.ts, Sibling.op and VersionSet.gone): a coordinator stamps a
 * forwarded write and its answer is lost, the retry reaches another coordinator, which stamps it
 * again. The two versions carry the write's operation id, so a later write that saw only one of
 * them supersedes both, whichever replica meets the other stamp and in whatever order sets merge.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MAX_GONE, contextOf, emptySet, equalSets, merge, sawGone, update, values, type VersionSet } from '../../src/core/clock.js'
import { decodeSet, encodeSet } from '../../src/core/record.js'

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
const texts = (s: VersionSet): string[] => values(s).map((v) => new TextDecoder().decode(v)).sort()

/** The value "v" of operation 7 stamped by x (its answer lost) and again by y. */
function stampedTwice(): { x: VersionSet; y: VersionSet } {
  const x = update(emptySet, {}, 'x', bytes('v'), 100, { op: 7 })
  const y = update(emptySet, {}, 'y', bytes('v'), 105, { op: 7 })
  return { x, y }
}

describe('a write stamped twice', () => {
  it('is superseded in both stamps by a write that read one of them, wherever the other turns up', () => {
    const { x, y } = stampedTwice()
    // A client read x's stamp only and wrote "w" over it.
    const w = update(x, contextOf(x), 'x', bytes('w'), 200)
    expect(texts(w)).toEqual(['w'])
    expect(w.gone).toEqual([7])
    expect(sawGone(w, 7)).toBe(true)
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

  it('leaves other writes alone: different ops, and writes with none', () => {
    const a = update(emptySet, {}, 'x', bytes('a'), 100, { op: 1 })
    const b = update(emptySet, {}, 'y', bytes('b'), 100, { op: 2 })
    const c = update(emptySet, {}, 'z', bytes('c'), 100)
    const w = update(a, contextOf(a), 'x', bytes('w'), 200)
    expect(texts(merge(merge(w, b), c))).toEqual(['b', 'c', 'w'])
  })

  it('remembers the MAX_GONE highest (latest) superseded operations, highest first', () => {
    let s = emptySet
    for (let op = 1; op <= MAX_GONE + 3; op++) {
      const stamp = update(emptySet, {}, `r${op}`, bytes(`v${op}`), 1000 + op, { op })
      s = merge(s, stamp)
      s = update(s, contextOf(s), 'me', bytes(`w${op}`), 2000 + op)
    }
    expect(s.gone).toEqual([7, 6, 5, 4])
    expect(MAX_GONE).toBe(4)
  })

  it('is never stamped twice by one replica: update refuses an op it holds or saw superseded', () => {
    const { x } = stampedTwice()
    expect(() => update(x, {}, 'x', bytes('v'), 300, { op: 7 })).toThrow('operation already stamped here')
    const w = update(x, contextOf(x), 'x', bytes('w'), 200)
    expect(() => update(w, {}, 'x', bytes('v'), 300, { op: 7 })).toThrow('operation already stamped here')
    expect(() => update(w, {}, 'x', bytes('v'), 300, { op: 0 })).toThrow('op must be a safe integer >= 1')
  })

  it('lists an op gone on two replicas once', () => {
    const { x, y } = stampedTwice()
    const wx = update(x, contextOf(x), 'x', bytes('w'), 200)
    const wy = update(y, contextOf(y), 'y', bytes('u'), 200)
    expect(merge(wx, wy).gone).toEqual([7])
    expect(texts(merge(wy, wx))).toEqual(['u', 'w'])
  })

  it('round-trips through the record encoding, ops and list included, and equalSets tells them apart', () => {
    const { x, y } = stampedTwice()
    const w = merge(update(x, contextOf(x), 'x', bytes('w'), 200), y)
    const again = decodeSet(encodeSet(w))
    expect(equalSets(again, w)).toBe(true)
    expect(again.gone).toEqual(w.gone)
    const withOp = decodeSet(encodeSet(merge(x, y)))
    expect(withOp.siblings.map((s) => s.op)).toEqual([7, 7])
    expect(equalSets(withOp, merge(x, y))).toBe(true)
    expect(equalSets({ ...w, gone: [8] }, w)).toBe(false)
    expect(equalSets({ ...w, gone: [8, 7] }, w)).toBe(false)
    expect(equalSets({ ...x, siblings: [{ ...x.siblings[0]!, op: 8 }] }, x)).toBe(false)
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
        else if (st.op !== undefined && (sawGone(s, st.op) || s.siblings.some((x) => x.op === st.op))) continue
        else {
          const value = st.op === undefined ? st.v : `op${st.op}`
          sets[st.at] = update(s, st.kind === 'overwrite' ? contextOf(s) : {}, ids[st.at]!, bytes(value), t++, st.op === undefined ? {} : { op: st.op })
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

describe('the record encoding of ops and superseded ops', () => {
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

  it('accepts exactly the canonical list after the siblings', () => {
    expect(decodeSet(Uint8Array.from([...plain, 2, 9, 7])).gone).toEqual([9, 7])
    expect(refusal([...plain, 2, 7, 9])).toBe('version set: superseded operations not in canonical order')
    expect(refusal([...plain, 2, 9, 9])).toBe('version set: superseded operations not in canonical order')
    expect(refusal([...plain, MAX_GONE + 1, 9, 8, 7, 6, 5])).toBe('version set: bad count of superseded operations')
    expect(refusal([...plain, 1, 0])).toBe('version set: op must be >= 1')
    const stamped = [...encodeSet(update(emptySet, {}, 'x', bytes('v'), 100, { op: 7 }))]
    expect(refusal([...stamped, 1, 7])).toBe('version set: a superseded operation is live')
    expect(refusal([...stamped, 1, 8])).toBe('accepted')
  })

  it('encodes only what it would decode', () => {
    const stamped = update(emptySet, {}, 'x', bytes('v'), 100, { op: 7 })
    expect(() => encodeSet({ ...base, gone: [7, 9] })).toThrow('superseded operations not highest first')
    expect(() => encodeSet({ ...stamped, gone: [7] })).toThrow('a superseded operation is live')
    expect(() => encodeSet({ ...base, gone: [9, 8, 7, 6, 5] })).toThrow('too many superseded operations')
    expect(() => encodeSet({ ...base, siblings: [{ ...base.siblings[0]!, op: 0 }] })).toThrow('op must be a safe integer >= 1')
    // An empty list is no list: the same bytes as none.
    expect([...encodeSet({ ...base, gone: [] })]).toEqual(plain)
  })

  it('costs the op on a forwarded write version and nothing on others', () => {
    const stamped = update(emptySet, {}, 'x', bytes('v'), 100, { op: 2 ** 52 })
    expect(encodeSet(stamped).length - plain.length).toBe(8)
  })
})
