/**
 * core/memo.ts: a bounded memo computes a key once while it holds it, and starts again empty only
 * once it holds `limit` keys. Counted through the calls the memo makes to the function it wraps.
 */
import { describe, expect, it } from 'vitest'
import { memoByString } from '../../src/core/memo.js'

/** A memo of key => key.length, with the keys it computed, in order. */
function counted(limit: number) {
  const computed: string[] = []
  const f = memoByString(limit, (key) => {
    computed.push(key)
    return key.length
  })
  return { f, computed }
}

describe('memoByString', () => {
  it('computes a key once while it holds it', () => {
    const { f, computed } = counted(10)
    expect([f('ab'), f('ab'), f('abc'), f('ab')]).toEqual([2, 2, 3, 2])
    expect(computed).toEqual(['ab', 'abc'])
  })

  it('keeps limit keys, and on the next new key starts again empty', () => {
    const { f, computed } = counted(2)
    f('a')
    f('b')
    f('a') // two held: both still there
    expect(computed).toEqual(['a', 'b'])
    f('c') // full: emptied, then c computed
    f('c')
    f('a') // gone with the emptying
    f('b') // c and a held: full again, emptied, then b computed
    f('a') // gone again
    expect(computed).toEqual(['a', 'b', 'c', 'a', 'b', 'a'])
  })
})
