/**
 * core/detector.ts: the order of `suspected()`. It is by the time each suspicion began, read from the
 * injected clock, which in a real node is the wall clock and may step back (an NTP correction):
 * the order the suspicions were made in is not the answer then.
 */
import { describe, expect, it } from 'vitest'
import { FailureDetector } from '../../src/core/detector.js'
import { asNodeId } from '../../src/types.js'

const a = asNodeId('a'), b = asNodeId('b'), c = asNodeId('c')

describe('FailureDetector.suspected', () => {
  it('lists the oldest suspicion first even when the clock stepped back between suspicions', () => {
    let t = 100
    const d = new FailureDetector(() => t)
    d.suspect(a) // at 100
    t = 40
    d.suspect(b) // the clock stepped back: b is suspected since 40
    t = 70
    d.suspect(c)
    expect(d.suspected()).toEqual([b, c, a])
    t = 120
    expect([a, b, c].map((id) => d.suspectedFor(id))).toEqual([20, 80, 50])
  })
})
