/**
 * node/inbound.ts against a clock the test sets: each peer's message bucket holds a second's worth,
 * refills at its rate and never past full; each peer's store budget takes one reservation of any
 * size, then reservations while they fit, and a release never takes it below nothing; drops are
 * counted by reason; forgetting idle peers past 4096 never forgets one with queued bytes or spent
 * tokens.
 */
import { describe, expect, it } from 'vitest'
import { MAX_PEER_MESSAGES_PER_SEC, MAX_PEER_QUEUED_BYTES } from '../../src/limits.js'
import { InboundLimits } from '../../src/node/inbound.js'
import { asNodeId } from '../../src/types.js'

const a = asNodeId('a')
const b = asNodeId('b')

const harness = (opts?: { messagesPerSec?: number; queuedBytes?: number }) => {
  let t = 0
  const limits = new InboundLimits(() => t, opts)
  /** How many of `n` messages from `from` are admitted now. */
  const admitted = (from = a, n = 1): number => Array.from({ length: n }, () => limits.admit(from)).filter(Boolean).length
  return {
    limits,
    admitted,
    at: (ms: number) => {
      t = ms
    },
  }
}

describe('inbound edges: message rate', () => {
  it("admits a second's worth at once, then counts each refused message", () => {
    const { limits, admitted } = harness({ messagesPerSec: 10 })
    expect(admitted(a, 10)).toBe(10)
    expect(admitted(a, 3)).toBe(0)
    expect(limits.dropped).toEqual({ rate: 3, queued: 0 })
  })

  it('refills at the rate, a whole token before a message passes', () => {
    const { admitted, at } = harness({ messagesPerSec: 10 })
    admitted(a, 10)
    at(50)
    expect(admitted()).toBe(0)
    at(100)
    expect(admitted(a, 2)).toBe(1)
    at(350)
    expect(admitted(a, 5)).toBe(2)
  })

  it('refills only up to full however long a peer was quiet', () => {
    const { admitted, at } = harness({ messagesPerSec: 10 })
    admitted(a, 10)
    at(60_000)
    expect(admitted(a, 20)).toBe(10)
  })

  it('keeps a bucket per peer', () => {
    const { admitted } = harness({ messagesPerSec: 2 })
    expect(admitted(a, 3)).toBe(2)
    expect(admitted(b, 3)).toBe(2)
  })

  it('defaults to MAX_PEER_MESSAGES_PER_SEC', () => {
    const { admitted } = harness()
    expect(admitted(a, MAX_PEER_MESSAGES_PER_SEC)).toBe(MAX_PEER_MESSAGES_PER_SEC)
    expect(admitted()).toBe(0)
  })
})

describe('inbound edges: store budget', () => {
  it('takes one reservation of any size, then more only while they fit, counting each refused', () => {
    const { limits } = harness({ queuedBytes: 100 })
    expect(limits.reserve(a, 150)).toBe(true)
    expect(limits.reserve(a, 1)).toBe(false)
    limits.release(a, 150)
    expect(limits.reserve(a, 60)).toBe(true)
    expect(limits.reserve(a, 40)).toBe(true)
    expect(limits.reserve(a, 1)).toBe(false)
    expect(limits.reserve(b, 100)).toBe(true)
    expect(limits.dropped).toEqual({ rate: 0, queued: 2 })
  })

  it('gives back what is released, and never goes below nothing', () => {
    const { limits } = harness({ queuedBytes: 100 })
    limits.reserve(a, 80)
    limits.release(a, 30)
    expect(limits.reserve(a, 50)).toBe(true)
    expect(limits.reserve(a, 1)).toBe(false)
    limits.release(a, 500)
    expect(limits.reserve(a, 100)).toBe(true)
    expect(limits.reserve(a, 1)).toBe(false)
  })

  it('ignores a release for a peer it has not seen', () => {
    const { limits } = harness({ queuedBytes: 100 })
    expect(() => limits.release(b, 10)).not.toThrow()
    expect(limits.reserve(b, 100)).toBe(true)
  })

  it('defaults to MAX_PEER_QUEUED_BYTES', () => {
    const { limits } = harness()
    expect(limits.reserve(a, 1)).toBe(true)
    expect(limits.reserve(a, MAX_PEER_QUEUED_BYTES - 1)).toBe(true)
    expect(limits.reserve(a, 1)).toBe(false)
  })
})

describe('inbound edges: forgetting idle peers', () => {
  it('keeps, past 4096 peers, a peer with bytes queued and one whose tokens are spent', () => {
    const { limits, admitted, at } = harness({ messagesPerSec: 2, queuedBytes: 100 })
    expect(admitted(a, 2)).toBe(2)
    expect(limits.reserve(b, 100)).toBe(true)
    for (let i = 0; i < 4100; i++) limits.admit(asNodeId(`idle-${i}`))
    at(100)
    for (let i = 0; i < 10; i++) limits.admit(asNodeId(`late-${i}`))
    expect(admitted()).toBe(0)
    expect(limits.reserve(b, 1)).toBe(false)
  })
})
