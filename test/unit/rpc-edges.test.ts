/**
 * node/rpc.ts against a scripted clock and transport: request ids count up from 1; a reply settles
 * only its own call and only from the peer asked; each way a call ends without one (time-out after
 * the time given, a send refused for its size, a stop) resolves it with the matching Miss, forgets
 * it and cancels its timer; any other send failure is the caller's error.
 */
import { describe, expect, it } from 'vitest'
import { DynameshError } from '../../src/errors.js'
import { Rpc, type Miss, type Reply } from '../../src/node/rpc.js'
import { asNodeId, type Env, type NodeId } from '../../src/types.js'
import type { Msg } from '../../src/wire/messages.js'

interface Timer {
  ms: number
  fn: () => void
  cancelled: boolean
}

const a = asNodeId('a')
const b = asNodeId('b')

const harness = (send?: (to: NodeId, msg: Msg) => void) => {
  const timers: Timer[] = []
  const sent: Array<{ to: NodeId; msg: Msg }> = []
  const env: Env = {
    now: () => 0,
    random: () => 0.5,
    setTimer: (ms, fn) => {
      const t: Timer = { ms, fn, cancelled: false }
      timers.push(t)
      return () => {
        t.cancelled = true
      }
    },
  }
  const rpc = new Rpc(env, send ?? ((to, msg) => sent.push({ to, msg })))
  /** Fires a timer as the env would, unless it was cancelled. */
  const fire = (t: Timer | undefined): void => {
    if (t && !t.cancelled) t.fn()
  }
  return { rpc, timers, sent, fire }
}

const getReply = (rid: number): Reply => ({ t: 'get-r', rid, rec: null })
/** What a promise has resolved with once pending callbacks ran, or 'pending' (a call that never ends fails at once, not by hanging). */
const settled = async <T>(p: Promise<T>): Promise<T | 'pending'> => Promise.race([p, new Promise<'pending'>((r) => setTimeout(() => r('pending'), 0))])

describe('rpc edges: call and settle', () => {
  it('numbers requests from 1 up and sends each with its id to the peer asked', () => {
    const { rpc, sent, timers } = harness()
    void rpc.call(a, { t: 'get', key: Uint8Array.of(1) }, 100)
    void rpc.call(b, { t: 'get', key: Uint8Array.of(2) }, 250)
    expect(sent).toEqual([
      { to: a, msg: { t: 'get', key: Uint8Array.of(1), rid: 1 } },
      { to: b, msg: { t: 'get', key: Uint8Array.of(2), rid: 2 } },
    ])
    expect(timers.map((t) => t.ms)).toEqual([100, 250])
    expect(rpc.size).toBe(2)
  })

  it('settles a call with the reply of its id from the peer asked, once, and cancels its timer', async () => {
    const { rpc, timers } = harness()
    const p = rpc.call(a, { t: 'get', key: Uint8Array.of(1) }, 100)
    const other = rpc.call(b, { t: 'get', key: Uint8Array.of(2) }, 100)
    expect(rpc.settle(a, getReply(1))).toBe(true)
    expect(await settled(p)).toEqual(getReply(1))
    expect(timers[0]!.cancelled).toBe(true)
    expect(timers[1]!.cancelled).toBe(false)
    expect(rpc.size).toBe(1)
    expect(rpc.settle(a, getReply(1))).toBe(false)
    expect(await settled(other)).toBe('pending')
  })

  it('ignores a reply from another peer than the one asked, and one of no waiting call', async () => {
    const { rpc, timers } = harness()
    const p = rpc.call(a, { t: 'get', key: Uint8Array.of(1) }, 100)
    expect(rpc.settle(b, getReply(1))).toBe(false)
    expect(rpc.settle(a, getReply(2))).toBe(false)
    expect(rpc.size).toBe(1)
    expect(timers[0]!.cancelled).toBe(false)
    expect(await settled(p)).toBe('pending')
    expect(rpc.settle(a, getReply(1))).toBe(true)
    expect(await settled(p)).toEqual(getReply(1))
  })
})

describe('rpc edges: calls without a reply', () => {
  it('resolves a time-out with the time waited, rounded, and forgets the call', async () => {
    const { rpc, timers, fire } = harness()
    const p = rpc.call(a, { t: 'get', key: Uint8Array.of(1) }, 1234.6)
    fire(timers[0])
    expect(await settled(p)).toEqual({ t: 'miss', why: 'timeout', detail: 'no answer within 1235 ms' })
    expect(rpc.size).toBe(0)
    expect(rpc.settle(a, getReply(1))).toBe(false)
  })

  it('resolves a send refused for its size with the transport\'s words, forgets the call and cancels its timer', async () => {
    const { rpc, timers } = harness(() => {
      throw new DynameshError('MESSAGE_TOO_LARGE', 'message of 9 bytes is over the limit of 8')
    })
    const p = rpc.call(a, { t: 'get', key: Uint8Array.of(1) }, 100)
    expect(await settled(p)).toEqual({ t: 'miss', why: 'too-large', detail: 'message of 9 bytes is over the limit of 8' })
    expect(rpc.size).toBe(0)
    expect(timers[0]!.cancelled).toBe(true)
  })

  it('rejects with any other error the send throws, forgets the call and cancels its timer', async () => {
    const boom = new DynameshError('NOT_RUNNING', 'transport closed')
    const { rpc, timers } = harness(() => {
      throw boom
    })
    await expect(settled(rpc.call(a, { t: 'get', key: Uint8Array.of(1) }, 100))).rejects.toBe(boom)
    expect(rpc.size).toBe(0)
    expect(timers[0]!.cancelled).toBe(true)
  })

  it('resolves every waiting call as stopped on clear, cancels their timers and forgets them', async () => {
    const { rpc, timers } = harness()
    const p1 = rpc.call(a, { t: 'get', key: Uint8Array.of(1) }, 100)
    const p2 = rpc.call(b, { t: 'get', key: Uint8Array.of(2) }, 100)
    rpc.clear()
    const stopped: Miss = { t: 'miss', why: 'stopped', detail: 'node stopped' }
    expect(await settled(p1)).toEqual(stopped)
    expect(await settled(p2)).toEqual(stopped)
    expect(timers.every((t) => t.cancelled)).toBe(true)
    expect(rpc.size).toBe(0)
    expect(rpc.settle(a, getReply(1))).toBe(false)
  })
})
