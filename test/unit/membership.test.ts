import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { mergeView, ringMembersOf, type MemberEntry } from '../../src/core/membership.js'
import { FailureDetector } from '../../src/core/detector.js'
import { asNodeId } from '../../src/types.js'

const entry = fc.record({
  id: fc.constantFrom(...['a', 'b', 'c', 'd'].map(asNodeId)),
  weight: fc.constantFrom(0.5, 1, 2),
  status: fc.constantFrom('joining', 'up', 'leaving', 'left') as fc.Arbitrary<MemberEntry['status']>,
  version: fc.integer({ min: 1, max: 5 }),
})
const view = fc.array(entry, { maxLength: 8 })

const merged = (views: MemberEntry[][]): MemberEntry[] => {
  const m = new Map<string, MemberEntry>()
  for (const v of views) mergeView(m, v)
  return [...m.values()].sort((x, y) => x.id.localeCompare(y.id))
}

describe('membership views', () => {
  it('converge whatever the order views are merged in (commutative, associative, idempotent)', () => {
    fc.assert(
      fc.property(view, view, view, (a, b, c) => {
        const abc = merged([a, b, c])
        expect(merged([c, a, b])).toEqual(abc)
        expect(merged([b, c, a, b, a])).toEqual(abc)
      }),
      { numRuns: 300 },
    )
  })

  it('put only up members on the ring', () => {
    const ring = ringMembersOf([
      { id: asNodeId('b'), weight: 1, status: 'up', version: 1 },
      { id: asNodeId('a'), weight: 2, status: 'up', version: 1 },
      { id: asNodeId('c'), weight: 1, status: 'leaving', version: 2 },
      { id: asNodeId('d'), weight: 1, status: 'left', version: 3 },
      { id: asNodeId('e'), weight: 1, status: 'joining', version: 1 },
    ])
    expect(ring).toEqual([
      { id: 'a', weight: 2 },
      { id: 'b', weight: 1 },
    ])
  })
})

describe('failure detector', () => {
  it('suspects on timeout and clears on the next message', () => {
    let now = 0
    const events: string[] = []
    const d = new FailureDetector(() => now, (e) => events.push(`${e.id}:${e.reachable}`))
    const b = asNodeId('b')
    expect(d.isUp(b)).toBe(true)
    d.suspect(b)
    d.suspect(b)
    expect(d.isUp(b)).toBe(false)
    now = 50
    d.heard(b)
    expect(d.isUp(b)).toBe(true)
    expect(d.suspectedFor(b)).toBe(0)
    expect(events).toEqual(['b:false', 'b:true'])
  })
})
