/**
 * Bad input against a running three-process cluster (real WebRTC on loopback, LevelDB, HTTP):
 *  - a rogue peer with a valid identity in the same room sends random bytes, garbage data-channel
 *    frames and well-formed but invalid messages (encodeMessage with bad fields) to every peer;
 *  - rogues whose identity proof fails (swapped signer; a public key that proves another id) try
 *    to write;
 *  - malformed HTTP (raw socket junk, bad percent-encoding, bad context header, bad options);
 *  - oversized values (413);
 *  - junk on the signaling socket (non-JSON, binary, huge frames, forged ids).
 * Each gets a clear error or is dropped; no peer process dies (/health 200); keys written before the
 * attack read back byte-identical with unchanged contexts; the membership stays the three peers.
 *
 * The rogues are test/cluster/rogue.ts, each in its own process (createWebRtcTransport with fresh
 * identities, joined to the cluster's room through its signaling server), so a crash of the native
 * WebRTC library on the attacker's side cannot take the test runner down.
 *
 *   unshare -n sh -c 'ip link set lo up && npx vitest run test/cluster/badinput.test.ts'
 */
import { randomBytes } from 'node:crypto'
import { request } from 'node:http'
import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { generateIdentity } from '../../src/identity.js'
import { challengeBytes, toBase64 } from '../../src/transport/signal-protocol.js'
import { Proc, TestCluster, fetchWithTimeout, get, put, stats, waitUntil } from './procs.js'

const PEERS = 3
const utf8 = new TextEncoder()

// ---- the rogues (test/cluster/rogue.ts, each in its own process) ----

const rogues: Proc[] = []

/** Starts test/cluster/rogue.ts in `mode` against every peer of `c`. */
function rogue(c: TestCluster, mode: string, extra: Record<string, unknown> = {}): Proc {
  const cfg = { signal: c.signal.url, room: c.opts.room, targets: c.peers.map((p) => p.id), mode, ...extra }
  const p = new Proc(`rogue-${mode}`, [JSON.stringify(cfg)], 'test/cluster/rogue.ts')
  rogues.push(p)
  return p
}

interface Recv {
  by: string
  from: string
  t: string
  rid?: number
  ok?: boolean
  code?: string
}
const received = (p: Proc): Recv[] => p.lines.filter((l) => l.startsWith('RECV ')).map((l) => JSON.parse(l.slice(5)) as Recv)

// ---- raw HTTP and WebSocket clients ----

/** Sends raw bytes on a TCP connection and collects whatever comes back until the server closes. */
function rawHttp(port: number, data: Uint8Array | string, ms = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1')
    let out = ''
    const timer = setTimeout(() => {
      s.destroy()
      reject(new Error(`raw HTTP: no close within ${ms} ms; got ${JSON.stringify(out.slice(0, 200))}`))
    }, ms)
    s.setEncoding('latin1')
    s.on('data', (d: string) => (out += d))
    s.on('error', () => {}) // a reset after the answer is fine
    s.on('close', () => {
      clearTimeout(timer)
      resolve(out)
    })
    s.write(data)
  })
}

/** An HTTP request with an exact path (no URL normalization) and headers; answers status, headers, body. */
function rawRequest(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: Uint8Array,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (text += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }))
    })
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${path}: timeout`)))
    req.on('error', reject)
    req.end(body)
  })
}

const errorCode = (body: string): string => (JSON.parse(body) as { error: { code: string } }).error.code

/** Opens a raw WebSocket to signaling, runs `act` after the challenge, reports frames and the close. */
function rawWs(url: string, act: (ws: WebSocket, nonce: string) => void): Promise<{ code: number; frames: Array<{ type: string; code?: string }> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    const frames: Array<{ type: string; code?: string }> = []
    const timer = setTimeout(() => {
      ws.terminate()
      reject(new Error(`signaling did not close the socket; frames ${JSON.stringify(frames)}`))
    }, 8000)
    ws.on('message', (d) => {
      const f = JSON.parse(String(d)) as { type: string; code?: string; nonce?: string }
      frames.push(f)
      if (f.type === 'challenge') act(ws, f.nonce!)
    })
    ws.on('error', () => {})
    ws.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, frames })
    })
  })
}

// ---- the test ----

describe('bad input against a running cluster', () => {
  let c: TestCluster
  /** Keys written before any attack, and what a full read (r = 3) returned for them. */
  const before = new Map<string, { status: number; values: string[]; context: string }>()
  const keys = [...Array.from({ length: 24 }, (_, i) => `protected-${i}`), 'protected-siblings', 'protected-deleted']

  const snapshot = async (via: number): Promise<Map<string, { status: number; values: string[]; context: string }>> => {
    const out = new Map<string, { status: number; values: string[]; context: string }>()
    for (const k of keys) {
      const r = await get(c.peers[via]!.http, k, { r: 3 })
      out.set(k, { status: r.status, values: r.values.map((v) => v.toString('base64')).sort(), context: r.context })
    }
    return out
  }

  beforeAll(async () => {
    c = await TestCluster.start({ peers: PEERS, n: 3, r: 2, w: 2 })
    await c.waitConverged({ timeoutMs: 30_000 })
    for (const [i, k] of keys.entries()) {
      const v = i % 3 === 0 ? randomBytes(200) : Buffer.from(`${k}=${i}`)
      expect((await put(c.peers[i % PEERS]!.http, k, v)).status).toBe(204)
    }
    // Siblings, and a tombstone: contexts that must survive too.
    expect((await put(c.peers[1]!.http, 'protected-siblings', 'other')).status).toBe(204)
    const seen = await get(c.peers[2]!.http, 'protected-deleted')
    const d = await fetchWithTimeout(`${c.peers[2]!.http}/kv/protected-deleted`, { method: 'DELETE', headers: { 'X-Dynamesh-Context': seen.context } }, 5000)
    expect(d.status).toBe(204)
    // Wait until every replica has everything (two identical full reads in a row).
    let prev = ''
    await waitUntil('stable full reads of the protected keys', async () => {
      const s = await snapshot(0)
      const now = JSON.stringify([...s])
      const same = now === prev
      prev = now
      if (same) for (const [k, v] of s) before.set(k, v)
      return same
    }, 20_000, 300)
    expect(before.get('protected-siblings')!.status).toBe(300)
    expect(before.get('protected-deleted')!.status).toBe(404)
    expect(before.get('protected-deleted')!.context).not.toBe('')
  }, 120_000)

  afterAll(async () => {
    await Promise.all(rogues.splice(0).map((r) => r.stop(2000)))
    await c?.stop()
  }, 30_000)

  it('drops random bytes, garbage frames and invalid messages from a rogue peer', async () => {
    const rejectedBefore = await Promise.all(c.peers.map(async (p) => (await stats(p.http)).stats.rejected))
    const r = rogue(c, 'garbage')
    const connected = JSON.parse((await r.waitLine('PHASE connected ', 40_000)).slice(16)) as string[]
    expect(connected.sort()).toEqual(c.peers.map((p) => p.id).sort())
    const sent = JSON.parse((await r.waitLine('PHASE sent ', 20_000)).slice(11)) as { random: number; invalid: number }

    // Every peer counts the undecodable messages as rejected, and answers the garbage stores and
    // the forward with a bad context with errors (ok: false).
    await waitUntil('every peer to reject the invalid messages and answer the bad requests', async () => {
      const now = await Promise.all(c.peers.map(async (p) => (await stats(p.http)).stats.rejected))
      const counted = now.every((n, i) => n - rejectedBefore[i]! >= sent.random + sent.invalid)
      const got = received(r)
      const answered = c.peers.every(({ id }) =>
        [101, 102].every((rid) => got.some((m) => m.from === id && m.t === 'store-r' && m.rid === rid && m.ok === false)) &&
        got.some((m) => m.from === id && m.t === 'fwd-r' && m.rid === 103 && m.ok === false && m.code === 'INVALID_CONTEXT'))
      return counted && answered
    }, 15_000, 300)
    // Nothing it sent was acknowledged as a success.
    expect(received(r).filter((m) => m.ok === true)).toEqual([])

    // Then random bytes in place of every data-channel frame (the rogue may not survive its own
    // attack: the native WebRTC library can crash on a send the far side hung up on).
    await r.waitLine('DONE', 20_000).catch(() => undefined)
    await r.stop(2000)

    expect(c.peers.every((p) => p.proc.alive())).toBe(true)
    for (const p of c.peers) expect((await fetchWithTimeout(`${p.http}/health`, {}, 5000)).status).toBe(200)
  })

  it('refuses rogues whose identity proof fails: nothing they send is accepted', async () => {
    // Each run tries for 4 s, one round of writes every 500 ms ("PHASE tick"). The peers hang up
    // on them, and the rogue's own process may crash on a send racing that (a bug of the native
    // WebRTC library): run it again until it has made 6 rounds in all.
    const runs: Proc[] = []
    const ticks = (): number => runs.reduce((n, r) => n + r.lines.filter((l) => l.startsWith('PHASE tick')).length, 0)
    for (let i = 0; i < 8 && ticks() < 6; i++) {
      const r = rogue(c, 'bad-proof')
      runs.push(r)
      await r.waitLine('DONE', 30_000).catch(() => undefined)
      await r.stop(2000)
    }
    const exits = await Promise.all(runs.map((r) => r.exited))
    expect(ticks(), `rogue runs: ${JSON.stringify(exits)}`).toBeGreaterThanOrEqual(6)
    // No peer ever accepted their proofs: nothing came back, nothing was written.
    expect(runs.flatMap(received)).toEqual([])
    for (const k of ['canary-a', 'canary-b', 'canary-fwd']) {
      const res = await get(c.peers[0]!.http, k, { r: 3 })
      expect(res.status, k).toBe(404)
      expect(res.context, k).toBe('')
    }
    expect(c.peers.every((p) => p.proc.alive())).toBe(true)
  })

  it('answers malformed HTTP with clear errors', async () => {
    const p = c.peers[1]!
    const port = Number(new URL(p.http).port)

    // Raw socket junk: a 400 with the JSON error, then the connection closes.
    const junk = await rawHttp(port, 'GARBAGE\r\n\r\n')
    expect(junk).toMatch(/^HTTP\/1\.1 400 /)
    expect(junk).toContain('"INVALID_MESSAGE"')
    const binary = await rawHttp(port, randomBytes(2048))
    expect(binary === '' || /^HTTP\/1\.1 4\d\d /.test(binary)).toBe(true)
    const overflow = await rawHttp(port, `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n`)
    expect(overflow).toMatch(/^HTTP\/1\.1 431 /)
    const badLength = await rawHttp(port, 'PUT /kv/protected-1 HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\nabc')
    expect(badLength).toMatch(/^HTTP\/1\.1 400 /)
    const smuggle = await rawHttp(port, 'PUT /kv/protected-1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n')
    expect(smuggle).toMatch(/^HTTP\/1\.1 400 /)

    // Bad percent-encoding in the key.
    for (const path of ['/kv/%E0%A4%A', '/kv/%ZZ', '/kv/%C0%80', '/kv/%ED%A0%80']) {
      const r = await rawRequest(port, 'PUT', path, {}, utf8.encode('x'))
      expect([r.status, errorCode(r.body)], path).toEqual([400, 'INVALID_KEY'])
    }
    const empty = await rawRequest(port, 'GET', '/kv/')
    expect([empty.status, errorCode(empty.body)]).toEqual([400, 'INVALID_KEY'])
    const long = await rawRequest(port, 'GET', `/kv/${'k'.repeat(2000)}`)
    expect(long.status).toBe(400)

    // A bad context header, on a key that exists: refused, nothing written (checked at the end).
    for (const ctx of ['not a context', 'AQ', '%%%', 'A'.repeat(10_000)]) {
      const r = await rawRequest(port, 'PUT', '/kv/protected-1', { 'X-Dynamesh-Context': ctx }, utf8.encode('evil'))
      expect([r.status, errorCode(r.body)], ctx.slice(0, 20)).toEqual([400, 'INVALID_CONTEXT'])
      const d = await rawRequest(port, 'DELETE', '/kv/protected-2', { 'X-Dynamesh-Context': ctx })
      expect([d.status, errorCode(d.body)], ctx.slice(0, 20)).toEqual([400, 'INVALID_CONTEXT'])
    }

    // A context past the server's header limit: 431 before any of it is parsed.
    const huge = await rawRequest(port, 'PUT', '/kv/protected-1', { 'X-Dynamesh-Context': 'A'.repeat(70_000) }, utf8.encode('evil'))
    expect([huge.status, errorCode(huge.body)]).toEqual([431, 'INVALID_MESSAGE'])

    // Bad options, methods and paths.
    for (const q of ['w=abc', 'w=0', 'w=99', 'r=-1', 'timeout=soon', 'timeout=0']) {
      const method = q.startsWith('r') ? 'GET' : 'PUT'
      const r = await rawRequest(port, method, `/kv/protected-3?${q}`, {}, method === 'PUT' ? utf8.encode('evil') : undefined)
      expect([r.status, errorCode(r.body)], q).toEqual([400, 'INVALID_OPTION'])
    }
    const patch = await rawRequest(port, 'PATCH', '/kv/protected-3', {}, utf8.encode('evil'))
    expect([patch.status, errorCode(patch.body), patch.headers.allow]).toEqual([405, 'METHOD_NOT_ALLOWED', 'GET, PUT, DELETE'])
    const post = await rawRequest(port, 'POST', '/cluster')
    expect([post.status, errorCode(post.body)]).toEqual([405, 'METHOD_NOT_ALLOWED'])
    const nothing = await rawRequest(port, 'GET', '/nothing-here')
    expect([nothing.status, errorCode(nothing.body)]).toEqual([404, 'NOT_FOUND'])

    // The server still answers normally on a fresh connection.
    expect((await rawRequest(port, 'GET', '/health')).status).toBe(200)
  })

  it('refuses oversized values with 413 and keeps values at the limit', async () => {
    const base = c.peers[2]!.http
    const twoMiB = randomBytes(2 * 1024 * 1024)
    const big = await fetchWithTimeout(`${base}/kv/too-big`, { method: 'PUT', body: twoMiB }, 20_000)
    expect(big.status).toBe(413)
    expect(errorCode(await big.text())).toBe('VALUE_TOO_LARGE')

    // The same without a Content-Length (chunked): cut off once past the limit.
    const stream = new ReadableStream<Uint8Array>({
      start(ctl) {
        for (let i = 0; i < 32; i++) ctl.enqueue(twoMiB.subarray(i * 65536, (i + 1) * 65536))
        ctl.close()
      },
    })
    const chunked = await fetchWithTimeout(`${base}/kv/too-big`, { method: 'PUT', body: stream, duplex: 'half' } as RequestInit, 20_000)
    expect(chunked.status).toBe(413)
    expect(errorCode(await chunked.text())).toBe('VALUE_TOO_LARGE')

    // One byte over the node's 1 MiB value limit: the node's own check answers.
    const over = await fetchWithTimeout(`${base}/kv/too-big`, { method: 'PUT', body: randomBytes(1024 * 1024 + 1) }, 20_000)
    expect(over.status).toBe(413)
    expect(errorCode(await over.text())).toBe('VALUE_TOO_LARGE')
    expect((await get(base, 'too-big')).status).toBe(404)

    // Exactly at the limit: stored and read back through another peer.
    const max = randomBytes(1024 * 1024)
    expect((await put(base, 'at-the-limit', max, { clientMs: 20_000 })).status).toBe(204)
    const back = await get(c.peers[0]!.http, 'at-the-limit', { clientMs: 20_000 })
    expect(back.status).toBe(200)
    expect(back.values[0]!.equals(max)).toBe(true)
  })

  it('closes signaling sockets that send junk, and keeps serving the room', async () => {
    const url = c.signal.url
    const notJson = await rawWs(url, (ws) => ws.send('this is not json {'))
    expect(notJson.code).toBe(4000)
    expect(notJson.frames.some((f) => f.type === 'error' && f.code === 'INVALID_MESSAGE')).toBe(true)

    const binary = await rawWs(url, (ws) => ws.send(randomBytes(100)))
    expect(binary.code).toBe(4000)

    const large = await rawWs(url, (ws) => ws.send('x'.repeat(100 * 1024)))
    expect(large.code).toBe(4005)
    expect(large.frames.some((f) => f.type === 'error' && f.code === 'MESSAGE_TOO_LARGE')).toBe(true)

    const huge = await rawWs(url, (ws) => ws.send('x'.repeat(4 * 1024 * 1024)))
    expect(huge.code).toBe(1009)

    const wrongShape = await rawWs(url, (ws) => ws.send(JSON.stringify({ type: 'hello', room: c.opts.room, publicKey: 'nope', signature: 42 })))
    expect(wrongShape.code).toBe(4000)

    const signalFirst = await rawWs(url, (ws) => ws.send(JSON.stringify({ type: 'signal', to: c.peers[0]!.id, data: { type: 'offer', sdp: 'x' } })))
    expect(signalFirst.code).toBe(4000)

    // A forged id: a real peer's id with another key (and a valid signature by that key).
    const me = generateIdentity()
    const forged = await rawWs(url, (ws, nonce) =>
      ws.send(JSON.stringify({
        type: 'hello', room: c.opts.room, id: c.peers[0]!.id,
        publicKey: toBase64(me.publicKey), signature: toBase64(me.sign(challengeBytes(nonce, c.opts.room))),
      })))
    expect(forged.code).toBe(4002)
    expect(forged.frames.some((f) => f.type === 'error' && f.code === 'UNAUTHORIZED')).toBe(true)

    // A flood of frames: rate limited.
    const flood = await rawWs(url, (ws) => {
      for (let i = 0; i < 400; i++) ws.send(JSON.stringify({ type: 'signal', to: c.peers[0]!.id, data: {} }))
    })
    expect([4000, 4006]).toContain(flood.code)

    // The server lives, and the room still holds exactly the three real peers.
    expect(c.signal.proc.alive()).toBe(true)
    const observer = rogue(c, 'observer')
    const seen = JSON.parse((await observer.waitLine('DONE ', 30_000)).slice(5)) as { peers: string[] }
    expect(seen.peers.sort()).toEqual(c.peers.map((p) => p.id).sort())
    await observer.stop(2000)
  })

  it('leaves every peer running and every stored key exactly as it was', async () => {
    expect(c.peers.every((p) => p.proc.alive())).toBe(true)
    expect(c.signal.proc.alive()).toBe(true)
    for (const p of c.peers) {
      const h = await fetchWithTimeout(`${p.http}/health`, {}, 5000)
      expect(h.status).toBe(200)
      const info = (await (await fetchWithTimeout(`${p.http}/cluster`, {}, 5000)).json()) as { members: Array<{ id: string; status: string }> }
      // Nobody joined the ring: the rogues never gossiped themselves in.
      expect(info.members.map((m) => m.id).sort()).toEqual(c.peers.map((x) => x.id).sort())
    }
    for (let via = 0; via < PEERS; via++) {
      const after = await snapshot(via)
      for (const k of keys) expect(after.get(k), `${k} via peer${via}`).toEqual(before.get(k))
    }
  })

  it('survives rogues that hang up mid-handshake or right after a request', async () => {
    // @roamhq/wrtc crashed the process here (SIGSEGV in RTCDataChannel::Send when a send raced the
    // far side's hang-up); node-datachannel reports it as a JavaScript error the transport handles.
    const r = rogue(c, 'hangup', { rounds: 8 })
    await r.waitLine('DONE', 40_000).catch(() => undefined)
    await r.stop(2000)
    const dead = await Promise.all(c.peers.filter((p) => !p.proc.alive()).map(async (p) => `peer${p.index}: ${JSON.stringify(await p.proc.exited)}`))
    expect(dead, 'peers killed by a rogue hanging up').toEqual([])
    for (const p of c.peers) expect((await fetchWithTimeout(`${p.http}/health`, {}, 5000)).status).toBe(200)
  })
})
