/**
 * stampedBefore (src/node/forward.ts): a retried write reuses the version an earlier attempt
 * stamped only when that version is its own: the same value, written after the read, and a vector
 * that has seen everything the write's context saw. Anything less is a different write, and
 * reusing it would acknowledge a write that supersedes less than its context says.
 */
import { describe, expect, it } from 'vitest'
import type { VersionSet, VersionVector } from '../../src/core/clock.js'
import { stampedBefore } from '../../src/node/forward.js'

const v = (s: string): Uint8Array => new TextEncoder().encode(s)
const vv = (entries: Record<string, number>): VersionVector => Object.fromEntries(Object.entries(entries).map(([id, n]) => [id, { n, ts: 1000 + n }]))

describe('stampedBefore', () => {
  // The read saw c's third write (a value); the retried delete's context is {c: 3}.
  const context = vv({ c: 3 })

  it('reuses the version an earlier attempt stamped over the same context', () => {
    // That attempt, coordinated by e: its tombstone (e, 1), its vector the context plus its dot.
    const known: VersionSet = { vv: vv({ c: 3, e: 1 }), siblings: [{ dot: { id: 'e', n: 1 }, value: null, ts: 2000 }] }
    expect(stampedBefore(known, context, null)).toBe(true)
    // A put of the same bytes, likewise.
    const put: VersionSet = { vv: vv({ c: 3, e: 1 }), siblings: [{ dot: { id: 'e', n: 1 }, value: v('x'), ts: 2000 }] }
    expect(stampedBefore(put, context, v('x'))).toBe(true)
  })

  it("does not take another delete's tombstone for its own when that one had not seen the context", () => {
    // A delete by e that saw only what e held: its vector lacks c's third write.
    const other: VersionSet = { vv: vv({ c: 2, e: 2 }), siblings: [{ dot: { id: 'e', n: 2 }, value: null, ts: 2000 }] }
    expect(stampedBefore(other, context, null)).toBe(false)
    // The same for a value: equal bytes from a write that had not seen the context.
    const blind: VersionSet = { vv: vv({ e: 2 }), siblings: [{ dot: { id: 'e', n: 2 }, value: v('x'), ts: 2000 }] }
    expect(stampedBefore(blind, context, v('x'))).toBe(false)
  })

  it('stamps anew where a version the context saw is still there, or the value differs', () => {
    const stale: VersionSet = { vv: vv({ c: 3, e: 1 }), siblings: [{ dot: { id: 'c', n: 3 }, value: v('old'), ts: 1003 }, { dot: { id: 'e', n: 1 }, value: v('x'), ts: 2000 }] }
    expect(stampedBefore(stale, context, v('x'))).toBe(false)
    const other: VersionSet = { vv: vv({ c: 3, e: 1 }), siblings: [{ dot: { id: 'e', n: 1 }, value: v('y'), ts: 2000 }] }
    expect(stampedBefore(other, context, v('x'))).toBe(false)
    expect(stampedBefore(other, context, null)).toBe(false)
  })
})
