/** The forwarded-operation table (src/node/ops.ts): one outcome per op, bounded in time and size. */
import { describe, expect, it } from 'vitest'
import { ForwardedOps, type FwdOutcome, type FwdRequest } from '../../src/node/ops.js'

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
const req = (op: number, over: Partial<FwdRequest> = {}): FwdRequest => ({ op, key: bytes('k'), value: bytes('v'), ctx: '', timeoutMs: 100, ...over })
const ok = (ctx: string): FwdOutcome => ({ ok: true, ctx, code: '', message: '' })

/** A table on a clock the test moves, and a counter of how often a write was really coordinated. */
function setup(max?: number): { ops: ForwardedOps; runs: () => number; run: (o: FwdOutcome) => () => Promise<FwdOutcome>; at: (t: number) => void } {
  let now = 0
  let runs = 0
  return {
    ops: new ForwardedOps(() => now, max),
    runs: () => runs,
    run: (o) => () => {
      runs++
      return Promise.resolve(o)
    },
    at: (t) => void (now = t),
  }
}

describe('ForwardedOps', () => {
  it('coordinates an op once: a copy in flight or after the end gets the first outcome', async () => {
    const { ops, runs, run, at } = setup()
    const first = ops.run(req(1), run(ok('c1')))
    const copy = ops.run(req(1), run(ok('c2')))
    expect(await first).toEqual(ok('c1'))
    expect(await copy).toEqual(ok('c1'))
    at(150)
    expect(await ops.run(req(1), run(ok('c3')))).toEqual(ok('c1'))
    expect(runs()).toBe(1)
    expect(ops.joined).toBe(2)
  })

  it('runs a request that reuses an op id for another write on its own', async () => {
    const { ops, runs, run } = setup()
    await ops.run(req(1), run(ok('c1')))
    expect(await ops.run(req(1, { key: bytes('other') }), run(ok('c2')))).toEqual(ok('c2'))
    expect(await ops.run(req(1, { value: null }), run(ok('c3')))).toEqual(ok('c3'))
    expect(await ops.run(req(1, { ctx: 'x' }), run(ok('c4')))).toEqual(ok('c4'))
    expect(await ops.run(req(2), run(ok('c5')))).toEqual(ok('c5'))
    expect(runs()).toBe(5)
  })

  it('forgets an ended op after four times its budget', async () => {
    const { ops, runs, run, at } = setup()
    await ops.run(req(1), run(ok('c1')))
    at(399)
    expect(await ops.run(req(1), run(ok('c2')))).toEqual(ok('c1'))
    at(401)
    expect(await ops.run(req(1), run(ok('c3')))).toEqual(ok('c3'))
    expect(runs()).toBe(2)
  })

  it('keeps at most max entries, the oldest ended ones going first, never one in flight', async () => {
    const { ops, run } = setup(3)
    let finish!: (o: FwdOutcome) => void
    const pending = ops.run(req(1), () => new Promise<FwdOutcome>((r) => (finish = r)))
    for (let op = 2; op <= 10; op++) await ops.run(req(op), run(ok(`c${op}`)))
    expect(ops.size).toBeLessThanOrEqual(3)
    // Op 1 is still in flight: a copy joins it instead of running again.
    const copy = ops.run(req(1), run(ok('again')))
    finish(ok('c1'))
    expect(await pending).toEqual(ok('c1'))
    expect(await copy).toEqual(ok('c1'))
  })
})

describe('ForwardedOps: what makes two requests one write, and when entries go', () => {
  it('tells writes apart by the bytes of the key and the context, not only their lengths', async () => {
    const { ops, runs, run } = setup()
    await ops.run(req(1, { key: bytes('a'), ctx: 'x' }), run(ok('c1')))
    expect(await ops.run(req(1, { key: bytes('b'), ctx: 'x' }), run(ok('c2')))).toEqual(ok('c2'))
    expect(await ops.run(req(1, { key: bytes('a'), ctx: 'y' }), run(ok('c3')))).toEqual(ok('c3'))
    expect(runs()).toBe(3)
  })

  it('keeps the first write of an op id when another write reuses the id', async () => {
    const { ops, runs, run } = setup()
    await ops.run(req(1), run(ok('c1')))
    await ops.run(req(1, { key: bytes('other') }), run(ok('c2')))
    expect(await ops.run(req(1), run(ok('c3')))).toEqual(ok('c1'))
    expect(runs()).toBe(2)
  })

  it('keeps an op that ended late for its budget after the end', async () => {
    const { ops, runs, run, at } = setup()
    let finish!: (o: FwdOutcome) => void
    const first = ops.run(req(1), () => new Promise<FwdOutcome>((r) => (finish = r)))
    at(1000)
    finish(ok('c1'))
    await first
    at(1099)
    expect(await ops.run(req(1), run(ok('c2')))).toEqual(ok('c1'))
    at(1100)
    expect(await ops.run(req(1), run(ok('c3')))).toEqual(ok('c3'))
    expect(runs()).toBe(1)
  })

  it('forgets an ended op at exactly four times its budget', async () => {
    const { ops, runs, run, at } = setup()
    await ops.run(req(1), run(ok('c1')))
    at(400)
    expect(await ops.run(req(1), run(ok('c2')))).toEqual(ok('c2'))
    expect(runs()).toBe(2)
  })

  it('makes room by taking only as many ended ops as needed, oldest first', async () => {
    const { ops, runs, run, at } = setup(3)
    await ops.run(req(1), run(ok('c1')))
    await ops.run(req(2), run(ok('c2')))
    at(10)
    // Two held, room for a third: nothing not yet due goes.
    await ops.run(req(3), run(ok('c3')))
    expect(ops.size).toBe(3)
    // Full: one goes (op 1), and only that one.
    await ops.run(req(4), run(ok('c4')))
    expect(ops.size).toBe(3)
    // A copy of op 3 makes room again (op 2 goes) and still finds op 3.
    expect(await ops.run(req(3), run(ok('again')))).toEqual(ok('c3'))
    expect(runs()).toBe(4)
  })
})
