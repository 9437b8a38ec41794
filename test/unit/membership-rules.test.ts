/**
 * The rules of membership views (src/core/membership.ts), case by case: which entry wins a merge,
 * what a merge reports as changed, who is on the ring and when the ring counts as changed.
 */
import { describe, expect, it } from 'vitest'
import { mergeView, ringKey, ringMembersOf, supersedes, type MemberEntry } from '../../src/core/membership.js'
import { asNodeId } from '../../src/types.js'

const m = (id: string, version: number, status: MemberEntry['status'] = 'up', weight = 1): MemberEntry => ({ id: asNodeId(id), version, status, weight })

describe('supersedes', () => {
  it('a higher version wins whatever the status or weight', () => {
    expect(supersedes(m('a', 2, 'joining', 1), m('a', 1, 'left', 5))).toBe(true)
    expect(supersedes(m('a', 1, 'left', 5), m('a', 2, 'joining', 1))).toBe(false)
  })

  it('at equal versions the later lifecycle state wins: joining < up < leaving < left', () => {
    const order: MemberEntry['status'][] = ['joining', 'up', 'leaving', 'left']
    for (const [i, s] of order.entries()) {
      for (const [j, t] of order.entries()) {
        expect(supersedes(m('a', 3, s), m('a', 3, t)), `${s} over ${t}`).toBe(i > j)
      }
    }
  })

  it('at equal version and status the larger weight wins; an identical entry does not', () => {
    expect(supersedes(m('a', 1, 'up', 2), m('a', 1, 'up', 1))).toBe(true)
    expect(supersedes(m('a', 1, 'up', 1), m('a', 1, 'up', 2))).toBe(false)
    expect(supersedes(m('a', 1), m('a', 1))).toBe(false)
  })
})

describe('mergeView', () => {
  it('adds unknown members and replaces superseded ones, reporting exactly those', () => {
    const local = new Map([['a', m('a', 1)], ['b', m('b', 2)]])
    const changed = mergeView(local, [m('a', 2, 'leaving'), m('b', 1, 'left'), m('c', 1)])
    expect(changed).toEqual([m('a', 2, 'leaving'), m('c', 1)])
    expect(local.get('a')).toEqual(m('a', 2, 'leaving'))
    expect(local.get('b')).toEqual(m('b', 2))
    expect(local.get('c')).toEqual(m('c', 1))
  })

  it('keeps copies, so a later change to the remote objects does not leak in', () => {
    const remote = m('a', 1)
    const local = new Map<string, MemberEntry>()
    const [stored] = mergeView(local, [{ ...remote, extra: 'dropped' } as MemberEntry])
    expect(stored).toEqual(remote)
    expect(Object.keys(local.get('a')!).sort()).toEqual(['id', 'status', 'version', 'weight'])
    expect(local.get('a')).toBe(stored)
  })

  it('reports nothing when the remote view holds nothing newer', () => {
    const local = new Map([['a', m('a', 3)]])
    expect(mergeView(local, [m('a', 3), m('a', 2, 'left')])).toEqual([])
    expect(mergeView(local, [])).toEqual([])
  })
})

describe('ring members', () => {
  it('are the up members with a weight, sorted by id', () => {
    const view = [m('c', 1), m('a', 1, 'up', 2), m('z', 1, 'up', 0), m('b', 1, 'joining'), m('d', 1, 'leaving'), m('e', 1, 'left')]
    expect(ringMembersOf(view)).toEqual([
      { id: 'a', weight: 2 },
      { id: 'c', weight: 1 },
    ])
    expect(ringMembersOf([m('b', 1), m('a', 1)]).map((x) => x.id)).toEqual(['a', 'b'])
    const ids = ['h', 'c', 'f', 'a', 'g', 'b', 'e', 'd']
    expect(ringMembersOf(ids.map((x) => m(x, 1))).map((x) => x.id)).toEqual([...ids].sort())
    expect(ringMembersOf([...ids].reverse().map((x) => m(x, 1))).map((x) => x.id)).toEqual([...ids].sort())
    expect(ringMembersOf([])).toEqual([])
  })

  it('fingerprint changes with any id or weight and with nothing else', () => {
    const key = (v: MemberEntry[]): string => ringKey(ringMembersOf(v))
    const base = key([m('a', 1), m('b', 1)])
    expect(key([m('b', 7), m('a', 3)])).toBe(base)
    expect(key([m('a', 1), m('b', 1, 'up', 2)])).not.toBe(base)
    expect(key([m('a', 1), m('c', 1)])).not.toBe(base)
    expect(key([m('a', 1)])).not.toBe(base)
    expect(ringKey([{ id: 'a' as never, weight: 1 }, { id: 'b' as never, weight: 2 }])).toBe('a:1,b:2')
  })
})
