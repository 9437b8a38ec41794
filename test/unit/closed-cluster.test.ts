/**
 * Closed clusters: the signaling server admits to its rooms only peers whose hello carries a
 * credential signed by the cluster key, and a peer of a closed cluster refuses, in the data
 * channel's HELLO, any peer without one, even when an open server introduced them.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { startSignalServer, type SignalServer } from '../../signaling/server.js'
import { generateClusterKey, verifyCredential } from '../../src/credential.js'
import { isDynameshError } from '../../src/errors.js'
import { generateIdentity, type Identity } from '../../src/identity.js'
import { createWebRtcTransport, type WebRtcTransport, type WebRtcTransportOptions } from '../../src/transport/webrtc.js'
import { wrtc } from '../../src/transport/wrtc.js'
import type { NodeId } from '../../src/types.js'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()))
})

async function server(clusterKey?: Uint8Array): Promise<SignalServer> {
  const s = await startSignalServer({ host: '127.0.0.1', port: 0, ...(clusterKey ? { clusterKey } : {}) })
  cleanups.push(() => s.close())
  return s
}

function transport(s: SignalServer, identity: Identity, opts: Partial<WebRtcTransportOptions> = {}): WebRtcTransport {
  const t = createWebRtcTransport({ signalUrl: s.url, room: 'closed', identity, wrtc, WebSocket, loopbackOnly: true, connectTimeoutMs: 3000, ...opts })
  cleanups.push(() => t.stop())
  return t
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

describe('credentials', () => {
  it('admit exactly the key they were issued for, under exactly their cluster key', () => {
    const cluster = generateClusterKey()
    const other = generateClusterKey()
    const member = generateIdentity()
    const cred = cluster.admit(member.publicKey)
    expect(verifyCredential(cluster.publicKey, member.publicKey, cred)).toBe(true)
    expect(verifyCredential(other.publicKey, member.publicKey, cred)).toBe(false)
    expect(verifyCredential(cluster.publicKey, generateIdentity().publicKey, cred)).toBe(false)
    expect(verifyCredential(cluster.publicKey, member.publicKey, undefined)).toBe(false)
    const flipped = cred.slice()
    flipped[5]! ^= 1
    expect(verifyCredential(cluster.publicKey, member.publicKey, flipped)).toBe(false)
  })
})

describe('a closed signaling server', () => {
  it('refuses peers without a valid credential with UNAUTHORIZED and admits those with one', async () => {
    const cluster = generateClusterKey()
    const s = await server(cluster.publicKey)
    const outsider = generateIdentity()
    const err = await transport(s, outsider).start().catch((e: unknown) => e)
    expect(isDynameshError(err, 'UNAUTHORIZED')).toBe(true)
    const thief = generateIdentity()
    const stolen = await transport(s, thief, { credential: cluster.admit(generateIdentity().publicKey) }).start().catch((e: unknown) => e)
    expect(isDynameshError(stolen, 'UNAUTHORIZED')).toBe(true)
    const member = generateIdentity()
    await transport(s, member, { credential: cluster.admit(member.publicKey), clusterKey: cluster.publicKey }).start()
  })
})

describe('peers of a closed cluster', () => {
  it('exchange data with each other and refuse a peer without a credential even when signaling is open', async () => {
    const cluster = generateClusterKey()
    const s = await server() // open: only the data-channel check stands in the way
    const [a, b, c] = [generateIdentity(), generateIdentity(), generateIdentity()]
    const closed = (id: Identity): Partial<WebRtcTransportOptions> => ({ clusterKey: cluster.publicKey, credential: cluster.admit(id.publicKey) })
    const ta = transport(s, a, closed(a))
    const tb = transport(s, b, closed(b))
    const tc = transport(s, c) // an outsider who knows the room
    const inbox = new Map<NodeId, string[]>()
    for (const t of [ta, tb, tc]) t.onMessage((from) => inbox.set(t.id, [...(inbox.get(t.id) ?? []), from]))
    await Promise.all([ta.start(), tb.start(), tc.start()])
    ta.send(tb.id, new Uint8Array([1]))
    tc.send(ta.id, new Uint8Array([2]))
    ta.send(tc.id, new Uint8Array([3]))
    const until = Date.now() + 5000
    while (!(inbox.get(tb.id)?.length) && Date.now() < until) await sleep(20)
    await sleep(1000)
    expect(inbox.get(tb.id)).toEqual([ta.id])
    expect(inbox.get(ta.id)).toBeUndefined()
    expect(inbox.get(tc.id)).toBeUndefined()
    expect(ta.stats().rejected).toBeGreaterThanOrEqual(1)
  })
})
