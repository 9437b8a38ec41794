/**
 * Signaling server and client over real `ws` sockets on 127.0.0.1 (random ports).
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { startSignalServer, type SignalServer, type SignalServerOptions } from '../../signaling/server.js'
import { generateIdentity, type Identity } from '../../src/identity.js'
import { createSignalClient, type SignalClient, type SignalClientOptions } from '../../src/transport/signal-client.js'
import { challengeBytes, toBase64 } from '../../src/transport/signal-protocol.js'
import type { NodeId } from '../../src/types.js'

type Frame = Record<string, unknown>
const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function server(opts: SignalServerOptions = {}): Promise<SignalServer> {
  const s = await startSignalServer({ port: 0, ...opts })
  cleanups.push(() => s.close())
  return s
}

function client(url: string, room: string, extra: Partial<SignalClientOptions> = {}): SignalClient {
  const c = createSignalClient({ url, room, identity: generateIdentity(), WebSocket, minBackoffMs: 20, maxBackoffMs: 100, ...extra })
  cleanups.push(() => c.stop())
  return c
}

async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** A raw socket that queues frames, for speaking (bad) protocol by hand. */
async function raw(url: string, options: { autoPong?: boolean } = {}) {
  const ws = new WebSocket(url, options)
  cleanups.push(() => ws.terminate())
  const frames: Frame[] = []
  ws.on('message', (d) => frames.push(JSON.parse(String(d)) as Frame))
  ws.on('error', () => {})
  const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: String(reason) })))
  await new Promise((r) => ws.once('open', r))
  const next = async (type: string): Promise<Frame> => {
    await waitFor(() => frames.some((f) => f.type === type))
    return frames.splice(frames.findIndex((f) => f.type === type), 1)[0]!
  }
  const nonce = String((await next('challenge')).nonce)
  const hello = (room: string, id: Identity = generateIdentity(), over: Frame = {}): void =>
    ws.send(JSON.stringify({ type: 'hello', room, publicKey: toBase64(id.publicKey), signature: toBase64(id.sign(challengeBytes(nonce, room))), ...over }))
  return { ws, frames, closed, next, nonce, hello }
}

/** Expects the server to answer with an error frame `code`, then close with `closeCode` and a reason. */
async function expectRejected(r: Awaited<ReturnType<typeof raw>>, code: string, closeCode: number): Promise<void> {
  const closed = await r.closed
  expect(r.frames.filter((f) => f.type === 'error').pop()).toMatchObject({ code })
  expect(closed.code).toBe(closeCode)
  expect(closed.reason.length).toBeGreaterThan(0)
}

async function pair(url: string, room = 'r1') {
  const a = client(url, room)
  const b = client(url, room)
  await a.start()
  await b.start()
  await waitFor(() => a.peers().includes(b.id))
  return { a, b }
}

/** Relays one signal each way and checks it arrives. */
async function relays(a: SignalClient, b: SignalClient): Promise<void> {
  const atB: unknown[] = []
  const atA: unknown[] = []
  b.onSignal((from, data) => from === a.id && atB.push(data))
  a.onSignal((from, data) => from === b.id && atA.push(data))
  a.send(b.id, { sdp: 'offer', n: 1 })
  b.send(a.id, { sdp: 'answer', n: [2] })
  await waitFor(() => atA.length > 0 && atB.length > 0)
  expect(atB).toEqual([{ sdp: 'offer', n: 1 }])
  expect(atA).toEqual([{ sdp: 'answer', n: [2] }])
}

describe('signaling', () => {
  it('introduces peers of a room, relays signals both ways, isolates rooms', async () => {
    const lines: string[] = []
    const s = await server({ log: (l) => lines.push(l) })
    expect(s.url).toBe(`ws://127.0.0.1:${s.port}`)
    const { a, b } = await pair(s.url)
    expect(a.connected && b.connected).toBe(true)
    expect(b.peers()).toEqual([a.id])
    await relays(a, b)

    const c = client(s.url, 'other.room')
    const errors: string[] = []
    c.onError((e) => errors.push(`${e.code}:${e.to}`))
    await c.start()
    expect(c.peers()).toEqual([])
    c.send(a.id, 'hi')
    await waitFor(() => errors.length > 0)
    expect(errors).toEqual([`UNKNOWN_PEER:${a.id}`])
    expect(a.peers()).toEqual([b.id])

    const downs: NodeId[] = []
    a.onPeer((ev) => !ev.up && downs.push(ev.id))
    await b.stop()
    await waitFor(() => downs.length > 0)
    expect(downs).toEqual([b.id])
    expect(s.stats()).toMatchObject({ rooms: 2, peers: 2, joins: 3, leaves: 1, relayed: 2, unknownPeer: 1 })
    expect(lines.filter((l) => l.startsWith('join '))).toHaveLength(3)
    expect(lines.filter((l) => l.startsWith('leave '))).toHaveLength(1)
  })

  it('rejects forged identities with UNAUTHORIZED', async () => {
    const s = await server()
    const victim = generateIdentity()
    const forger = generateIdentity()
    // victim's public key, forger's signature
    const r1 = await raw(s.url)
    r1.hello('r1', forger, { publicKey: toBase64(victim.publicKey) })
    await expectRejected(r1, 'UNAUTHORIZED', 4002)
    // forger's key and signature, claiming the victim's id
    const r2 = await raw(s.url)
    r2.hello('r1', forger, { id: victim.id })
    await expectRejected(r2, 'UNAUTHORIZED', 4002)
    // a signature over another room (or nonce) does not transfer
    const r3 = await raw(s.url)
    r3.hello('r1', victim, { room: 'r2' })
    await expectRejected(r3, 'UNAUTHORIZED', 4002)
    // the client gives up at once: a refused identity is not retried
    const bad = client(s.url, 'r1', { identity: { id: victim.id, publicKey: victim.publicKey, sign: forger.sign } })
    await expect(bad.start()).rejects.toMatchObject({ code: 'UNAUTHORIZED' })
    await new Promise((r) => setTimeout(r, 100))
    expect(bad.stats().reconnects).toBe(0)
    expect(s.stats().peers).toBe(0)
  })

  it('lets a reconnect with the same identity take over at once', async () => {
    const s = await server()
    const ida = generateIdentity()
    const a = client(s.url, 'r1', { identity: ida })
    const b = client(s.url, 'r1')
    await a.start()
    await b.start()
    await waitFor(() => a.peers().includes(b.id))
    const events: string[] = []
    b.onPeer((ev) => events.push(`${ev.up ? 'up' : 'down'}:${ev.id}`))
    const oldStates: Array<number | undefined> = []
    a.onState((st, d) => st === 'disconnected' && oldStates.push(d.code))
    const a2 = client(s.url, 'r1', { identity: ida })
    await a2.start()
    expect(a2.peers()).toEqual([b.id])
    await waitFor(() => oldStates.length > 0)
    expect(oldStates).toEqual([4001])
    await relays(a2, b)
    await new Promise((r) => setTimeout(r, 100))
    expect(events).toEqual([`up:${a.id}`]) // a join again, never a leave
    expect(b.peers()).toEqual([a.id])
    expect(a.connected).toBe(false)
    expect(a.stats().reconnects).toBe(0) // the replaced client does not fight back
    expect(s.stats()).toMatchObject({ peers: 2, leaves: 0 })
  })

  it('closes only the socket that sends junk, with a reason', async () => {
    const s = await server({ helloTimeoutMs: 300 })
    const { a, b } = await pair(s.url)
    const cases: Array<[(r: Awaited<ReturnType<typeof raw>>) => void, string, number]> = [
      [(r) => r.ws.send('{not json'), 'INVALID_MESSAGE', 4000],
      [(r) => r.ws.send(new Uint8Array([1, 2, 3])), 'INVALID_MESSAGE', 4000],
      [(r) => r.ws.send('[1,2]'), 'INVALID_MESSAGE', 4000],
      [(r) => r.ws.send(JSON.stringify({ type: 'hello', room: 5, publicKey: 1, signature: [] })), 'INVALID_MESSAGE', 4000],
      [(r) => r.hello('bad room!'), 'INVALID_MESSAGE', 4000],
      [(r) => r.hello('r1', generateIdentity(), { publicKey: 'AAAA' }), 'INVALID_MESSAGE', 4000],
      [(r) => r.ws.send(JSON.stringify({ type: 'signal', to: a.id, data: 1 })), 'INVALID_MESSAGE', 4000],
      [(r) => r.ws.send(JSON.stringify({ type: 'nope' })), 'INVALID_MESSAGE', 4000],
      [(r) => r.ws.send('x'.repeat(100 * 1024)), 'MESSAGE_TOO_LARGE', 4005],
      [() => {}, 'TIMEOUT', 4007],
    ]
    for (const [act, code, closeCode] of cases) {
      const r = await raw(s.url)
      act(r)
      await expectRejected(r, code, closeCode)
    }
    // a signal with bad fields, and a second hello, after a valid hello
    for (const bad of [{ type: 'signal', to: 'zz', data: 1 }, { type: 'signal', to: a.id }, { type: 'hello', room: 'r1', publicKey: '', signature: '' }]) {
      const r = await raw(s.url)
      r.hello('r1')
      await r.next('welcome')
      r.ws.send(JSON.stringify(bad))
      await expectRejected(r, 'INVALID_MESSAGE', 4000)
    }
    // far over the limit: ws cuts the frame off before buffering it (1009, message too big)
    const huge = await raw(s.url)
    huge.ws.send('x'.repeat(1024 * 1024))
    expect((await huge.closed).code).toBe(1009)
    await relays(a, b)
    expect(a.peers()).toEqual([b.id])
    await waitFor(() => s.stats().connections === 2)
  })

  it('closes a flooding socket, a socket over the room and connection caps', async () => {
    const s = await server({ maxMessagesPerSecond: 10, maxPeersPerRoom: 2, maxConnections: 4 })
    const { a, b } = await pair(s.url)
    const flood = await raw(s.url)
    flood.hello('r3')
    await flood.next('welcome')
    for (let i = 0; i < 50; i++) flood.ws.send(JSON.stringify({ type: 'signal', to: a.id, data: i }))
    await expectRejected(flood, 'RATE_LIMITED', 4006)
    await waitFor(() => s.stats().connections === 2)

    const third = await raw(s.url)
    third.hello('r1')
    await expectRejected(third, 'ROOM_FULL', 4003)
    const r = await raw(s.url)
    const r2 = await raw(s.url)
    const over = new WebSocket(s.url)
    cleanups.push(() => over.terminate())
    const overClosed = new Promise<number>((res) => over.on('close', (code) => res(code)))
    expect(await overClosed).toBe(4004)
    r.hello('r2')
    await r.next('welcome')
    r2.ws.close()
    await relays(a, b)
  })

  it('drops a socket that does not answer pings', async () => {
    const s = await server({ heartbeatMs: 60 })
    const b = client(s.url, 'r1')
    await b.start()
    const dead = await raw(s.url, { autoPong: false })
    const deadId = generateIdentity()
    dead.hello('r1', deadId)
    await dead.next('welcome')
    await waitFor(() => b.peers().includes(deadId.id))
    const { code } = await dead.closed
    expect(code).toBe(1006) // terminated, no close frame
    await waitFor(() => !b.peers().includes(deadId.id))
    await new Promise((r) => setTimeout(r, 200))
    expect(b.connected).toBe(true) // a live client answers pings and stays
  })

  it('reconnects after a server restart on the same port', async () => {
    const first = await startSignalServer({ port: 0 })
    const port = first.port
    const a = client(first.url, 'r1')
    const b = client(first.url, 'r1')
    await a.start()
    await b.start()
    const states: string[] = []
    a.onState((st) => states.push(st))
    await first.close()
    await waitFor(() => !a.connected && !b.connected)
    expect(a.peers()).toEqual([])
    await server({ port })
    await waitFor(() => a.connected && b.connected && a.peers().includes(b.id) && b.peers().includes(a.id), 5000)
    expect(states).toEqual(['disconnected', 'connected'])
    expect(a.stats().reconnects).toBeGreaterThan(0)
    await relays(a, b)
  })

  it('rejects start() when the server is unreachable and reconnect is off', async () => {
    const s = await startSignalServer({ port: 0 })
    await s.close()
    const c = client(s.url, 'r1', { reconnect: false })
    await expect(c.start()).rejects.toMatchObject({ code: 'UNAVAILABLE' })
  })

  it('leaves no open handles after close() and stop()', async () => {
    const root = fileURLToPath(new URL('../../', import.meta.url))
    const code = `
      import { WebSocket } from 'ws'
      import { startSignalServer } from '${root}signaling/server.ts'
      import { createSignalClient } from '${root}src/transport/signal-client.ts'
      import { generateIdentity } from '${root}src/identity.ts'
      const s = await startSignalServer({ port: 0, heartbeatMs: 50 })
      const mk = () => createSignalClient({ url: s.url, room: 'x', identity: generateIdentity(), WebSocket })
      const a = mk(), b = mk()
      await a.start(); await b.start()
      const idle = new WebSocket(s.url)
      await new Promise((r) => idle.once('open', r))
      await a.stop()
      await s.close()
      await new Promise((r) => setTimeout(r, 50))
      const state = [b.connected, idle.readyState].join(' ')
      await b.stop()
      console.log('done', state)`
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d) => (out += String(d)))
    child.stderr.on('data', (d) => (out += String(d)))
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
    const exit = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)))
    clearTimeout(timer)
    expect(out).toContain('done false 3')
    expect(exit).toBe(0)
  }, 20_000)
})
