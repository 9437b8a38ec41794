/**
 * The shared Transport suite: every transport (sim, webrtc) registers these tests through its own
 * small test file. Runtime-neutral, and written for real-time transports too: waits either call the
 * fixture's `settle()` (virtual time) or poll in real time for a few seconds.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { NodeId, Transport } from '../../src/types.js'

/**
 * Transports for one test. The suite registers its handlers, then calls `start()` (which must be
 * idempotent, so fixtures may hand them out already started).
 */
export interface TransportFixture {
  a: Transport
  b: Transport
  /** A third transport, for the relay test. */
  c: Transport
  /** Lets in-flight work finish (a simulation runs virtual time). Omit for real-time transports. */
  settle?: () => Promise<void>
  /** Stops whatever the fixture started (signaling servers, networks). Transports are stopped first. */
  cleanup: () => Promise<void>
}

interface Probe {
  t: Transport
  messages: Array<{ from: NodeId; msg: Uint8Array }>
  peers: Array<{ id: NodeId; up: boolean }>
}

const REAL_WAIT_MS = 5_000
/** How long "nothing arrives" is watched for on a real-time transport. */
const REAL_QUIET_MS = 300

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

function probe(t: Transport): Probe {
  const p: Probe = { t, messages: [], peers: [] }
  t.onMessage((from, msg) => p.messages.push({ from, msg }))
  t.onPeer((ev) => p.peers.push(ev))
  return p
}

/** A deterministic byte pattern, so corruption anywhere in a message shows. */
function pattern(size: number, salt: number): Uint8Array {
  const out = new Uint8Array(size)
  for (let i = 0; i < size; i++) out[i] = (i * 131 + salt * 7 + (i >>> 10)) & 255
  return out
}

/**
 * Whether `p` sees `id` as up: its latest onPeer news about it, else its peer list. The fallback is
 * for fixtures that start transports before the suite's handlers are registered.
 */
const isUp = (p: Probe, id: NodeId): boolean => {
  const last = p.peers.filter((e) => e.id === id).at(-1)
  if (last !== undefined) return last.up
  return p.t.peers?.().includes(id) ?? false
}

/** Registers the Transport conformance tests for one transport. */
export function transportSuite(name: string, factory: () => Promise<TransportFixture>): void {
  describe(`Transport: ${name}`, () => {
    let fx: TransportFixture
    let a: Probe
    let b: Probe

    /** Waits until `cond` holds: via settle() in a simulation, by polling real time otherwise. */
    async function until(cond: () => boolean, what: string): Promise<void> {
      if (fx.settle !== undefined) {
        for (let i = 0; i < 5 && !cond(); i++) await fx.settle()
      } else {
        const end = Date.now() + REAL_WAIT_MS
        while (!cond() && Date.now() < end) await sleep(10)
      }
      if (!cond()) throw new Error(`timed out waiting for ${what}`)
    }

    /** Lets anything in flight land, for tests that check nothing arrived. */
    async function quiet(): Promise<void> {
      if (fx.settle !== undefined) await fx.settle()
      else await sleep(REAL_QUIET_MS)
    }

    async function startBoth(): Promise<void> {
      await Promise.all([a.t.start(), b.t.start()])
      await until(() => isUp(a, b.t.id) && isUp(b, a.t.id), 'both peers up')
    }

    beforeEach(async () => {
      fx = await factory()
      a = probe(fx.a)
      b = probe(fx.b)
    })

    afterEach(async () => {
      await Promise.allSettled([fx.a.stop(), fx.b.stop(), fx.c.stop()])
      await fx.cleanup()
    })

    it('reports each peer up after start', async () => {
      expect(a.t.id).not.toBe(b.t.id)
      await startBoth()
      if (a.t.peers !== undefined) expect(a.t.peers()).toContain(b.t.id)
    })

    it('delivers intact bytes of 0 B, 1 B, 16 KiB and 1 MiB', async () => {
      await startBoth()
      const sizes = [0, 1, 16 * 1024, 1024 * 1024]
      sizes.forEach((size, i) => a.t.send(b.t.id, pattern(size, i)))
      await until(() => b.messages.length >= sizes.length, 'all sizes delivered')
      // Order is not guaranteed; sizes are distinct, so match by length.
      for (const [i, size] of sizes.entries()) {
        const got = b.messages.find((m) => m.msg.length === size)
        expect(got, `message of ${size} bytes`).toBeDefined()
        expect(got!.from).toBe(a.t.id)
        expect(got!.msg).toBeInstanceOf(Uint8Array)
        expect(sameBytes(got!.msg, pattern(size, i))).toBe(true)
      }
    })

    it('delivers in both directions with the right sender id', async () => {
      await startBoth()
      a.t.send(b.t.id, pattern(10, 1))
      b.t.send(a.t.id, pattern(20, 2))
      await until(() => a.messages.length >= 1 && b.messages.length >= 1, 'both directions')
      expect(b.messages[0]!.from).toBe(a.t.id)
      expect(a.messages[0]!.from).toBe(b.t.id)
      expect(a.messages[0]!.msg.length).toBe(20)
    })

    it('is not affected when the sender reuses its buffer', async () => {
      await startBoth()
      const buf = pattern(64, 3)
      a.t.send(b.t.id, buf)
      buf.fill(0)
      await until(() => b.messages.length >= 1, 'delivery')
      expect(sameBytes(b.messages[0]!.msg, pattern(64, 3))).toBe(true)
    })

    it('delivers 1,000 messages when the network is reliable', async () => {
      await startBoth()
      const n = 1000
      for (let i = 0; i < n; i++) {
        const m = new Uint8Array(4)
        new DataView(m.buffer).setUint32(0, i)
        a.t.send(b.t.id, m)
      }
      await until(() => b.messages.length >= n, `${n} messages`)
      const seen = new Set(b.messages.map(({ msg }) => new DataView(msg.buffer, msg.byteOffset, 4).getUint32(0)))
      expect(seen.size).toBe(n)
    })

    it('does not throw on a message to an unknown id', async () => {
      await startBoth()
      expect(() => a.t.send('nobody-here' as NodeId, pattern(8, 0))).not.toThrow()
      await quiet()
    })

    it('delivers nothing to a stopped transport, and its peers see it go down', async () => {
      await startBoth()
      await b.t.stop()
      await until(() => !isUp(a, b.t.id), 'peer down after stop')
      const before = b.messages.length
      a.t.send(b.t.id, pattern(8, 0))
      await quiet()
      expect(b.messages.length).toBe(before)
    })

    it('sends nothing once stopped', async () => {
      await startBoth()
      await a.t.stop()
      expect(() => a.t.send(b.t.id, pattern(8, 0))).not.toThrow()
      await quiet()
      expect(b.messages.length).toBe(0)
    })

    it('relays between three peers', async () => {
      const c = probe(fx.c)
      await Promise.all([a.t.start(), b.t.start(), c.t.start()])
      await until(() => isUp(a, c.t.id) && isUp(c, b.t.id) && isUp(b, c.t.id), 'three peers up')
      a.t.send(c.t.id, pattern(5, 5))
      c.t.send(b.t.id, pattern(6, 6))
      await until(() => c.messages.length >= 1 && b.messages.length >= 1, 'three-way delivery')
      expect(c.messages[0]!.from).toBe(a.t.id)
      expect(b.messages[0]!.from).toBe(c.t.id)
    })
  })
}

/** Byte equality without a Node Buffer, so the suite runs in browsers. */
function sameBytes(x: Uint8Array, y: Uint8Array): boolean {
  if (x.length !== y.length) return false
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false
  return true
}
