/**
 * node/refusals.ts: every refused message is counted; a `too-large` event names the peer, the
 * message type, its size, the transport's words and the keys not reported before, taken from the
 * message itself (stores, pushes, gets, forwarded writes) or from the caller; a message of no key is
 * reported every time; the memory of reported keys starts over past 1024 keys, not before.
 */
import { describe, expect, it } from 'vitest'
import type { NodeEvent } from '../../src/api.js'
import { Refusals } from '../../src/node/refusals.js'
import { asNodeId } from '../../src/types.js'
import type { Msg } from '../../src/wire/messages.js'

const peer = asNodeId('peer')
const k = (i: number): Uint8Array => Uint8Array.of(i >> 8, i & 0xff)
const item = (key: Uint8Array): { key: Uint8Array; rec: Uint8Array } => ({ key, rec: Uint8Array.of(0) })
const get = (key: Uint8Array): Msg => ({ t: 'get', rid: 1, key })

const harness = (): { refusals: Refusals; events: NodeEvent[] } => {
  const events: NodeEvent[] = []
  return { refusals: new Refusals((ev) => events.push(ev)), events }
}

describe('refusals edges: the event', () => {
  it('names the peer, the message type, its bytes, the limit and the keys, and counts the message', () => {
    const { refusals, events } = harness()
    refusals.note(peer, get(k(1)), 5000, 'over 4096 bytes')
    expect(refusals.count).toBe(1)
    expect(events).toEqual([{ type: 'too-large', peer, message: 'get', bytes: 5000, keys: [k(1)], detail: 'over 4096 bytes' }])
  })

  it('takes the keys of every item of a store and of an anti-entropy push', () => {
    const { refusals, events } = harness()
    refusals.note(peer, { t: 'store', rid: 1, items: [item(k(1)), item(k(2))], ack: true }, 9, 'x')
    refusals.note(peer, { t: 'ae-push', sid: 1, items: [item(k(3)), item(k(4))] }, 9, 'x')
    expect(events.map((e) => (e.type === 'too-large' ? [e.message, e.keys] : []))).toEqual([
      ['store', [k(1), k(2)]],
      ['ae-push', [k(3), k(4)]],
    ])
  })

  it('takes the key of a forwarded write, and the key the caller names over the message', () => {
    const { refusals, events } = harness()
    const fwd: Msg = { t: 'fwd', rid: 1, op: 1, at: 0, again: false, key: k(5), value: null, ctx: '', w: 1, n: 1, timeoutMs: 10 }
    refusals.note(peer, fwd, 9, 'x')
    refusals.note(peer, get(k(6)), 9, 'x', k(7))
    expect(events.map((e) => (e.type === 'too-large' ? e.keys : []))).toEqual([[k(5)], [k(7)]])
  })
})

describe('refusals edges: once per key', () => {
  it('reports only the keys not reported before, and nothing when every key was', () => {
    const { refusals, events } = harness()
    refusals.note(peer, get(k(1)), 9, 'x')
    refusals.note(peer, { t: 'store', rid: 2, items: [item(k(1)), item(k(2))], ack: true }, 9, 'x')
    refusals.note(peer, { t: 'store', rid: 3, items: [item(k(2)), item(k(1))], ack: true }, 9, 'x')
    refusals.note(peer, get(k(3)), 9, 'x', k(1))
    expect(refusals.count).toBe(4)
    expect(events.map((e) => (e.type === 'too-large' ? e.keys : []))).toEqual([[k(1)], [k(2)]])
  })

  it('reports a message of no key every time', () => {
    const { refusals, events } = harness()
    const delta: Msg = { t: 'g-delta', members: [], want: new Uint8Array(0) }
    refusals.note(peer, delta, 9, 'x')
    refusals.note(peer, delta, 9, 'x')
    refusals.note(peer, { t: 'store', rid: 1, items: [], ack: true }, 9, 'x')
    expect(refusals.count).toBe(3)
    expect(events.map((e) => (e.type === 'too-large' ? [e.message, e.keys] : []))).toEqual([
      ['g-delta', []],
      ['g-delta', []],
      ['store', []],
    ])
  })

  it('remembers 1024 keys and starts over only when a message brings more', () => {
    const { refusals, events } = harness()
    for (let i = 0; i < 1024; i++) refusals.note(peer, get(k(i)), 9, 'x')
    refusals.note(peer, get(k(0)), 9, 'x')
    refusals.note(peer, get(k(1023)), 9, 'x')
    expect(events).toHaveLength(1024)
    refusals.note(peer, get(k(1024)), 9, 'x')
    expect(events).toHaveLength(1025)
    refusals.note(peer, get(k(1024)), 9, 'x')
    expect(events).toHaveLength(1025)
    refusals.note(peer, get(k(0)), 9, 'x')
    expect(events).toHaveLength(1026)
    expect(refusals.count).toBe(1029)
  })

  it('starts over when one message brings more than the memory has room for', () => {
    const { refusals, events } = harness()
    for (let i = 0; i < 1000; i++) refusals.note(peer, get(k(i)), 9, 'x')
    refusals.note(peer, { t: 'store', rid: 1, items: Array.from({ length: 24 }, (_, i) => item(k(1000 + i))), ack: true }, 9, 'x')
    refusals.note(peer, get(k(0)), 9, 'x')
    expect(events).toHaveLength(1001)
    refusals.note(peer, { t: 'store', rid: 2, items: [item(k(2000)), item(k(0))], ack: true }, 9, 'x')
    expect(events).toHaveLength(1002)
    refusals.note(peer, get(k(1)), 9, 'x')
    expect(events).toHaveLength(1003)
    expect(events.at(-2)).toMatchObject({ keys: [k(2000)] })
  })
})
