/**
 * The WebRTC transport between Node peers on loopback: a signaling server on 127.0.0.1:0, wrtc from
 * node-datachannel (wrtc.ts), `loopbackOnly` so no candidate other than 127.x / ::1 is used, no
 * STUN/TURN.
 * Run it inside a loopback-only namespace when root:
 *   unshare -n sh -c 'ip link set lo up && npx vitest run test/unit/transport-webrtc.test.ts'
 */
import { spawn } from 'node:child_process'
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { startSignalServer } from '../../signaling/server.js'
import { equalBytes } from '../../src/core/hash.js'
import { generateIdentity, type Identity } from '../../src/identity.js'
import type { NodeId } from '../../src/types.js'
import {
  createWebRtcTransport, filterSignal, isLoopbackCandidate, stripNonLoopbackCandidates,
  type WebRtcTransportOptions,
} from '../../src/transport/webrtc.js'
import { wrtc } from '../../src/transport/wrtc.js'
import { transportSuite } from '../suites/transport.js'
import { DataPeer } from '../../src/transport/peer.js'
import { seededBytes } from '../../src/sim/random.js'

let rooms = 0

async function waitFor(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const until = Date.now() + ms
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** A signaling server and `n` transports in one room, not started. */
async function fixture(n: number, opts: Partial<WebRtcTransportOptions> = {}, identities: Identity[] = []) {
  const server = await startSignalServer({ host: '127.0.0.1', port: 0 })
  const room = `webrtc-${process.pid}-${rooms++}`
  const ts = Array.from({ length: n }, (_, i) =>
    createWebRtcTransport({ signalUrl: server.url, room, identity: identities[i] ?? generateIdentity(), wrtc, WebSocket, loopbackOnly: true, connectTimeoutMs: 5000, ...opts }),
  )
  const cleanup = async (): Promise<void> => {
    await Promise.all(ts.map((t) => t.stop()))
    await server.close()
  }
  return { server, ts, cleanup }
}

/** `n` started transports that see each other, with their inboxes and onPeer events. */
async function cluster(n: number, opts: Partial<WebRtcTransportOptions> = {}, identities: Identity[] = []) {
  const fx = await fixture(n, opts, identities)
  running.push(fx.cleanup)
  const { ts } = fx
  const inbox = ts.map(() => [] as Array<{ from: NodeId; msg: Uint8Array }>)
  const events = ts.map(() => [] as Array<{ id: NodeId; up: boolean }>)
  ts.forEach((t, i) => {
    t.onMessage((from, msg) => inbox[i]!.push({ from, msg }))
    t.onPeer((ev) => events[i]!.push(ev))
  })
  await Promise.all(ts.map((t) => t.start()))
  await waitFor(() => ts.every((t) => t.peers().length === n - 1), 5000, 'signaling presence')
  return { ...fx, inbox, events }
}

const running: Array<() => Promise<void>> = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => c()))
})

const bytes = (n: number, seed = 7): Uint8Array => seededBytes(n, seed)

transportSuite('webrtc', async () => {
  const { ts, cleanup } = await fixture(3)
  return { a: ts[0]!, b: ts[1]!, c: ts[2]!, cleanup }
})

describe('webrtc transport', () => {
  it('connects on demand, proves ids and delivers both ways', async () => {
    const { ts, inbox, events } = await cluster(2)
    const [a, b] = [ts[0]!, ts[1]!]
    const t0 = performance.now()
    a.send(b.id, new Uint8Array([1, 2, 3]))
    await waitFor(() => inbox[1]!.length === 1, 5000, 'delivery')
    const connectMs = performance.now() - t0
    expect(inbox[1]![0]!.from).toBe(a.id)
    expect(inbox[1]![0]!.msg).toEqual(new Uint8Array([1, 2, 3]))
    b.send(a.id, new Uint8Array([4]))
    await waitFor(() => inbox[0]!.length === 1, 5000, 'reply')
    expect(a.connections()).toEqual([{ id: b.id, state: 'ready', initiator: a.id < b.id }])
    // Reachability was reported once, from signaling presence; the connection adds no event.
    expect(events[0]).toEqual([{ id: b.id, up: true }])
    expect(events[1]).toEqual([{ id: a.id, up: true }])
    console.log(`webrtc: first message to a new peer (connect + identity proof) ${connectMs.toFixed(1)} ms`)
  })

  it('carries a 1 MiB message intact and survives a send loop without throwing', async () => {
    const { ts, inbox } = await cluster(2)
    const [a, b] = [ts[0]!, ts[1]!]
    const big = bytes(1024 * 1024)
    b.send(a.id, big) // b is the higher or lower id: either way a connection opens
    await waitFor(() => inbox[0]!.length === 1, 10_000, '1 MiB message')
    expect(equalBytes(inbox[0]![0]!.msg, big)).toBe(true)

    // 1,000 x 4 KiB fit the queue: all arrive, in order.
    for (let i = 0; i < 1000; i++) {
      const m = bytes(4096, i)
      a.send(b.id, m)
    }
    await waitFor(() => inbox[1]!.length === 1000, 15_000, '1000 messages')
    expect(inbox[1]!.every((m, i) => m.msg[0] === bytes(4096, i)[0])).toBe(true)

  })

  it('sends the small messages of one turn as batch frames, in order, with a large message between them', async () => {
    const { ts, inbox } = await cluster(2)
    const [a, b] = [ts[0]!, ts[1]!]
    a.send(b.id, Uint8Array.of(0))
    await waitFor(() => inbox[1]!.length === 1, 5000, 'connection')
    const kinds: number[] = []
    const send = DataPeer.prototype.send
    DataPeer.prototype.send = function (this: DataPeer, frame: Uint8Array) {
      kinds.push(frame[0]! & 0x7f)
      send.call(this, frame)
    }
    try {
      const sent: Uint8Array[] = []
      for (let i = 0; i < 300; i++) sent.push(i === 150 ? bytes(40_000, i) : bytes(200 + i, i))
      for (const m of sent) a.send(b.id, m)
      await waitFor(() => inbox[1]!.length === 301, 10_000, '300 messages')
      expect(inbox[1]!.slice(1).every((m, i) => equalBytes(m.msg, sent[i]!))).toBe(true)
      // 298 small messages in batch frames of up to 16 KiB; the 40 KB one in three chunks (kind 0).
      expect(kinds.filter((k) => k === 3).length).toBeLessThan(30)
      expect(kinds.filter((k) => k === 0).length).toBe(3)
    } finally {
      DataPeer.prototype.send = send
    }
  })

  it('bounds the queue of a connection that is not open yet: the excess is dropped and counted', async () => {
    const { ts, inbox } = await cluster(2)
    const [a, b] = [ts[0]!, ts[1]!]
    // 3,000 x 4 KiB = 12 MiB queued before the connection opens; the queue holds 8 MiB.
    for (let i = 0; i < 3000; i++) a.send(b.id, bytes(4096, i))
    expect(a.stats().dropped).toBe(3000 - 2048)
    await waitFor(() => inbox[1]!.length === 2048, 20_000, 'queued messages')
    expect(inbox[1]!.every((m, i) => m.msg[0] === bytes(4096, i)[0])).toBe(true)
  })

  it('resolves glare to one connection when both send at the same moment', async () => {
    const { ts, inbox, events } = await cluster(2)
    const [a, b] = [ts[0]!, ts[1]!]
    a.send(b.id, new Uint8Array([1]))
    b.send(a.id, new Uint8Array([2]))
    await waitFor(() => inbox[0]!.length === 1 && inbox[1]!.length === 1, 5000, 'both deliveries')
    await sleep(200)
    expect(a.connections()).toEqual([{ id: b.id, state: 'ready', initiator: a.id < b.id }])
    expect(b.connections()).toEqual([{ id: a.id, state: 'ready', initiator: b.id < a.id }])
    expect(events[0]).toEqual([{ id: b.id, up: true }])
    expect(events[1]).toEqual([{ id: a.id, up: true }])
  })

  it('rejects a peer whose proof is signed with another key, and delivers nothing from it', async () => {
    const real = generateIdentity()
    const other = generateIdentity()
    // Signaling authenticates at start with the real key; the data-channel proof then uses another.
    const rogue: { -readonly [K in keyof Identity]: Identity[K] } = { id: real.id, publicKey: real.publicKey, sign: real.sign }
    const { ts, inbox, events } = await cluster(2, {}, [generateIdentity(), rogue])
    rogue.sign = other.sign
    const [victim, bad] = [ts[0]!, ts[1]!]
    bad.send(victim.id, new Uint8Array([66]))
    await waitFor(() => victim.stats().rejected === 1, 5000, 'rejection')
    victim.send(bad.id, new Uint8Array([1])) // the victim's own attempt is refused too
    await waitFor(() => victim.stats().rejected === 2, 5000, 'second rejection')
    await sleep(100)
    expect(inbox[0]).toEqual([])
    expect(victim.connections()).toEqual([])
    expect(events[0]).toEqual([{ id: bad.id, up: true }]) // from signaling presence only
  })

  it('rejects a HELLO whose key does not prove the id signaling vouched for', async () => {
    const real = generateIdentity()
    const other = generateIdentity()
    const liar: { -readonly [K in keyof Identity]: Identity[K] } = { id: real.id, publicKey: real.publicKey, sign: real.sign }
    const { ts, inbox } = await cluster(2, {}, [generateIdentity(), liar])
    liar.publicKey = other.publicKey
    liar.sign = other.sign
    ts[1]!.send(ts[0]!.id, new Uint8Array([66]))
    await waitFor(() => ts[0]!.stats().rejected === 1, 5000, 'rejection')
    await sleep(100)
    expect(inbox[0]).toEqual([])
  })

  it('keeps existing connections working after the signaling server closes', async () => {
    const { ts, inbox, events, server } = await cluster(2, { idleMs: 1000 })
    const [a, b] = [ts[0]!, ts[1]!]
    a.send(b.id, new Uint8Array([1]))
    await waitFor(() => inbox[1]!.length === 1, 5000, 'delivery')
    await server.close()
    await sleep(100)
    a.send(b.id, new Uint8Array([2]))
    b.send(a.id, new Uint8Array([3]))
    await waitFor(() => inbox[1]!.length === 2 && inbox[0]!.length === 1, 5000, 'delivery without signaling')
    expect(a.connections()).toHaveLength(1)
    expect(a.peers()).toEqual([b.id]) // still reachable through its live connection
    expect(events[0]).toEqual([{ id: b.id, up: true }])
    // Without signaling, a connection that closes (here: idle) makes the peer unreachable.
    await waitFor(() => events[0]!.length === 2, 4000, 'down after idle close')
    expect(events[0]![1]).toEqual({ id: b.id, up: false })
    expect(a.peers()).toEqual([])
  })

  it('closes idle connections and reopens on demand, without a down while the peer is announced', async () => {
    const { ts, inbox, events } = await cluster(2, { idleMs: 300 })
    const [a, b] = [ts[0]!, ts[1]!]
    a.send(b.id, new Uint8Array([1]))
    await waitFor(() => inbox[1]!.length === 1, 5000, 'delivery')
    await waitFor(() => a.connections().length === 0 && b.connections().length === 0, 3000, 'idle close')
    b.send(a.id, new Uint8Array([2]))
    await waitFor(() => inbox[0]!.length === 1, 5000, 'reconnect')
    expect(events[0]).toEqual([{ id: b.id, up: true }])
    expect(events[1]).toEqual([{ id: a.id, up: true }])
  })

  it('caps connections, closing the least recently used', async () => {
    const { ts, inbox, events } = await cluster(3, { maxConnections: 1 })
    const [a, b, c] = [ts[0]!, ts[1]!, ts[2]!]
    a.send(b.id, new Uint8Array([1]))
    await waitFor(() => inbox[1]!.length === 1, 5000, 'delivery to b')
    a.send(c.id, new Uint8Array([2]))
    await waitFor(() => inbox[2]!.length === 1, 5000, 'delivery to c')
    expect(a.connections().map((x) => x.id)).toEqual([c.id])
    await waitFor(() => b.connections().length === 0, 3000, 'b sees the close')
    expect(events[0]!.filter((e) => !e.up)).toEqual([]) // b is still announced: no down
  })

  it('never creates more peer connections than its budget; open ones keep working', async () => {
    const { ts, inbox } = await cluster(3, { connectionBudget: 1 })
    const [a, b, c] = [ts[0]!, ts[1]!, ts[2]!]
    a.send(b.id, new Uint8Array([1]))
    await waitFor(() => inbox[1]!.length === 1, 5000, 'delivery to b')
    a.send(c.id, new Uint8Array([2]))
    c.send(a.id, new Uint8Array([3]))
    await sleep(500)
    expect(inbox[2]).toEqual([])
    expect(inbox[0]).toEqual([])
    expect(a.stats()).toMatchObject({ created: 1 })
    expect(a.stats().overBudget).toBeGreaterThanOrEqual(1)
    a.send(b.id, new Uint8Array([4]))
    await waitFor(() => inbox[1]!.length === 2, 5000, 'the open connection still carries')
  })

  it('works offline: every peer goes down, nothing is sent, and online again it reconnects', async () => {
    const { ts, inbox, events } = await cluster(2)
    const [a, b] = [ts[0]!, ts[1]!]
    a.send(b.id, new Uint8Array([1]))
    await waitFor(() => inbox[1]!.length === 1, 5000, 'delivery')
    await a.setOffline(true)
    expect(a.offline).toBe(true)
    expect(a.peers()).toEqual([])
    expect(events[0]!.at(-1)).toEqual({ id: b.id, up: false })
    expect(a.connections()).toEqual([])
    a.send(b.id, new Uint8Array([2]))
    b.send(a.id, new Uint8Array([3]))
    await sleep(500)
    expect(inbox[1]!.length).toBe(1)
    expect(inbox[0]).toEqual([])
    await a.setOffline(false)
    await waitFor(() => a.peers().includes(b.id), 5000, 'presence again')
    a.send(b.id, new Uint8Array([4]))
    await waitFor(() => inbox[1]!.length === 2, 5000, 'delivery after going online')
    expect(events[0]!.at(-1)).toEqual({ id: b.id, up: true })
  })

  it('drops, and counts, messages to a peer signaling does not know', async () => {
    const { ts } = await cluster(1)
    const ghost = generateIdentity().id
    ts[0]!.send(ghost, new Uint8Array([1]))
    ts[0]!.send(ghost, new Uint8Array([2]))
    await waitFor(() => ts[0]!.stats().dropped === 2, 4000, 'drop')
    expect(ts[0]!.connections()).toEqual([])
  })

  it('stop() releases everything: a Node process exits on its own', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dynamesh-webrtc-'))
    const root = resolve(import.meta.dirname, '../..')
    const script = join(dir, 'exit.mts')
    writeFileSync(script, `
      import { startSignalServer } from ${JSON.stringify(join(root, 'signaling/server.ts'))}
      import { createWebRtcTransport } from ${JSON.stringify(join(root, 'src/transport/webrtc.ts'))}
      import { webRtcDefaults } from ${JSON.stringify(join(root, 'src/transport/wrtc.ts'))}
      import { generateIdentity } from ${JSON.stringify(join(root, 'src/identity.ts'))}
      const server = await startSignalServer({ host: '127.0.0.1', port: 0 })
      const mk = () => createWebRtcTransport({ signalUrl: server.url, identity: generateIdentity(), ...webRtcDefaults(), loopbackOnly: true })
      const a = mk(), b = mk()
      await a.start(); await b.start()
      const got = new Promise((r) => b.onMessage(r))
      while (a.peers().length === 0) await new Promise((r) => setTimeout(r, 10))
      a.send(b.id, new Uint8Array([1]))
      await got
      await a.stop(); await b.stop(); await server.close()
      console.log('stopped')
    `)
    try {
      const started = Date.now()
      const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      child.stdout.on('data', (d) => (out += String(d)))
      child.stderr.on('data', (d) => (out += String(d)))
      const code = await new Promise<number | null>((res) => {
        const kill = setTimeout(() => child.kill('SIGKILL'), 15_000)
        child.on('exit', (c) => {
          clearTimeout(kill)
          res(c)
        })
      })
      const stoppedAt = Date.now() - started
      expect(out).toContain('stopped')
      expect(code).toBe(0)
      // A timer or native handle left behind would hold the process past stop(); none may.
      expect(stoppedAt).toBeLessThan(4500)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('loopback filter', () => {
  it('keeps only loopback candidates, in signals and in SDP', () => {
    expect(isLoopbackCandidate('candidate:1 1 udp 2122194687 127.0.0.1 41544 typ host generation 0')).toBe(true)
    expect(isLoopbackCandidate('candidate:1 1 udp 2122267903 ::1 55712 typ host')).toBe(true)
    expect(isLoopbackCandidate('candidate:1 1 udp 2122260223 192.168.1.5 5000 typ host')).toBe(false)
    expect(isLoopbackCandidate('candidate:1 1 udp 2122260223 abcd.local 5000 typ host')).toBe(false)
    expect(isLoopbackCandidate('garbage')).toBe(false)
    const sdp = 'v=0\r\na=candidate:1 1 udp 1 127.0.0.1 1 typ host\r\na=candidate:2 1 udp 1 10.0.0.2 2 typ host\r\na=mid:0\r\n'
    expect(stripNonLoopbackCandidates(sdp)).toBe('v=0\r\na=candidate:1 1 udp 1 127.0.0.1 1 typ host\r\na=mid:0\r\n')
    const cand = (c: string) => ({ type: 'candidate', candidate: { candidate: c, sdpMLineIndex: 0, sdpMid: '0' } })
    expect(filterSignal(cand('candidate:2 1 udp 1 10.0.0.2 2 typ host'), true)).toBeUndefined()
    expect(filterSignal(cand('candidate:2 1 udp 1 10.0.0.2 2 typ host'), false)).toEqual(cand('candidate:2 1 udp 1 10.0.0.2 2 typ host'))
    expect(filterSignal({ type: 'offer', sdp }, true)).toEqual({ type: 'offer', sdp: stripNonLoopbackCandidates(sdp) })
    for (const junk of [null, 1, 'x', {}, { type: 'offer' }, { type: 'renegotiate', renegotiate: true }, { type: 'candidate', candidate: {} }]) {
      expect(filterSignal(junk, false)).toBeUndefined()
    }
  })
})
