/**
 * Forwarding a write (src/node/forward.ts) against a scripted node: when copies of a forwarded
 * write go out, what timeout each carries, which answer settles the call, and what an earlier
 * attempt's replicas are asked and believed. Timers and replies are the test's, so nothing runs
 * that it did not schedule.
 */
import { describe, expect, it } from 'vitest'
import { encodeSet } from '../../src/core/record.js'
import type { NodeContext } from '../../src/node/context.js'
import { forward, gatherEarlier, type FwdRequest } from '../../src/node/forward.js'
import type { Miss, Reply } from '../../src/node/rpc.js'
import { asNodeId } from '../../src/types.js'

const TO = asNodeId('b')
const fwd = { t: 'fwd', op: 7 } as unknown as FwdRequest
const timeout: Miss = { t: 'miss', why: 'timeout', detail: '' }
const answer = { t: 'fwd-r', rid: 1, ok: true, ctx: 'c', code: '', message: '' } as unknown as Reply

function setup() {
  let now = 0
  let running = true
  const timers: Array<{ at: number; fn: () => void; live: boolean }> = []
  const calls: Array<{ to: string; req: Record<string, unknown>; ms: number; answer: (r: Reply | Miss) => void; fail: (e: unknown) => void }> = []
  const ctx = {
    id: asNodeId('a'),
    running: () => running,
    env: {
      now: () => now,
      setTimer: (ms: number, fn: () => void) => {
        const t = { at: now + ms, fn, live: true }
        timers.push(t)
        return () => void (t.live = false)
      },
    },
    rpc: {
      call: (to: string, req: Record<string, unknown>, ms: number) =>
        new Promise<Reply | Miss>((answer, fail) => calls.push({ to, req, ms, answer, fail })),
    },
  } as unknown as NodeContext
  /** Moves the clock to `t`, firing due timers in order. */
  const at = (t: number): void => {
    for (;;) {
      const due = timers.filter((x) => x.live && x.at <= t).sort((a, b) => a.at - b.at)[0]
      if (!due) break
      due.live = false
      now = due.at
      due.fn()
    }
    now = t
  }
  return { ctx, calls, at, stop: () => void (running = false), timers }
}
const tick = (): Promise<void> => new Promise((r) => setImmediate(r))

describe('forward', () => {
  it('sends a copy at once and three more at a sixth, a third and half of the attempt, each with 80% of the time left', async () => {
    const h = setup()
    void forward(h.ctx, TO, fwd, 600)
    h.at(600)
    expect(h.calls.map((c) => [c.ms, c.req.timeoutMs, c.to])).toEqual([[600, 480, 'b'], [500, 400, 'b'], [400, 320, 'b'], [300, 240, 'b']])
    expect(h.calls.every((c) => c.req.op === 7)).toBe(true)
  })

  const stopped: Miss = { t: 'miss', why: 'stopped', detail: '' }
  for (const [what, reply] of [['an answer', answer], ['a miss that is not silence', stopped]] as const) {
    it(`settles at once with ${what}, and sends nothing after it`, async () => {
      const h = setup()
      const p = forward(h.ctx, TO, fwd, 600)
      h.calls[0]!.answer(reply)
      expect(await p).toBe(reply)
      h.at(600)
      expect(h.calls.length).toBe(1)
    })
  }

  it('takes silence as final only once no copy is out and none is still to go', async () => {
    const h = setup()
    let settled: unknown
    void forward(h.ctx, TO, fwd, 600).then((r) => (settled = r))
    h.calls[0]!.answer(timeout)
    await tick()
    expect(settled).toBeUndefined() // three copies still to go
    h.at(300)
    for (const c of h.calls.slice(1, 3)) c.answer(timeout)
    await tick()
    expect(settled).toBeUndefined() // the last copy is out
    h.calls[3]!.answer(timeout)
    await tick()
    expect(settled).toEqual(timeout)
  })

  it('sends no copy once the node stops, and a silent last copy then ends the call', async () => {
    const h = setup()
    let settled: unknown
    void forward(h.ctx, TO, fwd, 600).then((r) => (settled = r))
    h.stop()
    h.at(600)
    expect(h.calls.length).toBe(1)
    h.calls[0]!.answer(timeout)
    await tick()
    expect(settled).toEqual(timeout)
  })

  it('sends no copy with less than a millisecond left', async () => {
    const h = setup()
    void forward(h.ctx, TO, fwd, 6)
    h.at(6)
    // Copies at 1, 2 and 3 ms; each has at least 3 ms left.
    expect(h.calls.map((c) => c.ms)).toEqual([6, 5, 4, 3])
    const g = setup()
    void forward(g.ctx, TO, fwd, 1)
    g.at(1)
    expect(g.calls.map((c) => c.ms)).toEqual([1])
  })

  it('rejects with the transport error, once', async () => {
    const h = setup()
    const p = forward(h.ctx, TO, fwd, 600)
    h.at(100)
    h.calls[0]!.fail('broken')
    h.calls[1]!.fail(new Error('again'))
    await expect(p).rejects.toThrow('broken')
  })
})

describe('gatherEarlier', () => {
  const rec = (id: string, n: number, v: string): Uint8Array =>
    encodeSet({ vv: { [id]: { n, ts: 0 } }, siblings: [{ dot: { id, n }, value: new TextEncoder().encode(v), ts: 0 }] })

  it('asks each other node once and merges the records that answer', async () => {
    const h = setup()
    const p = gatherEarlier(h.ctx, new Uint8Array([1]), [asNodeId('a'), asNodeId('b'), asNodeId('c'), asNodeId('b')], 50)
    expect(h.calls.map((c) => [c.to, c.req.t, c.ms])).toEqual([['b', 'get', 50], ['c', 'get', 50]])
    h.calls[0]!.answer({ t: 'get-r', rid: 1, rec: rec('x', 1, 'one') } as unknown as Reply)
    h.calls[1]!.answer({ t: 'get-r', rid: 2, rec: rec('y', 1, 'two') } as unknown as Reply)
    const set = await p
    expect(set?.siblings.map((s) => new TextDecoder().decode(s.value!)).sort()).toEqual(['one', 'two'])
  })

  it('believes no error, no miss, no empty answer and no malformed record', async () => {
    const h = setup()
    const p = gatherEarlier(h.ctx, new Uint8Array([1]), ['b', 'c', 'd', 'e', 'f'].map(asNodeId), 50)
    h.calls[0]!.answer({ t: 'get-r', rid: 1, err: 'INTERNAL', rec: rec('x', 1, 'err') } as unknown as Reply)
    h.calls[1]!.answer({ t: 'miss', why: 'timeout', detail: '', rec: rec('x', 1, 'miss') } as unknown as Miss)
    h.calls[2]!.answer({ t: 'get-r', rid: 3 } as unknown as Reply)
    h.calls[3]!.answer({ t: 'get-r', rid: 4, rec: new Uint8Array([9, 9]) } as unknown as Reply)
    h.calls[4]!.answer({ t: 'get-r', rid: 5, rec: rec('y', 2, 'good') } as unknown as Reply)
    const set = await p
    expect(set?.siblings.map((s) => new TextDecoder().decode(s.value!))).toEqual(['good'])
  })
})
