/**
 * Data-channel figures between two Node peers on loopback (DESIGN.md section 6): connect time,
 * 100-byte round trip, bulk throughput. First a raw DataPeer pair over node-datachannel (wrtc.ts; signals
 * passed in process), then the dynamesh WebRTC transport (signaling server, identity proof, framing,
 * backpressure). Prints figures only; never passes or fails on time. Loopback candidates only.
 *
 *   unshare -n sh -c 'ip link set lo up && npx tsx bench/datachannel.ts'   (as root; or without unshare)
 */
import { performance } from 'node:perf_hooks'
import { WebSocket } from 'ws'
import { startSignalServer } from '../signaling/server.js'
import { generateIdentity } from '../src/identity.js'
import { DataPeer } from '../src/transport/peer.js'
import { createWebRtcTransport, filterSignal } from '../src/transport/webrtc.js'
import { wrtc } from '../src/transport/wrtc.js'
import type { NodeId } from '../src/types.js'

const ROUND_TRIPS = 1000
const BULK_BYTES = 64 * 1024 * 1024
const FRAME = 16 * 1024

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const p99 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.99)]!
const mbps = (bytes: number, ms: number): string => `${(bytes / 1e6 / (ms / 1000)).toFixed(1)} MB/s`

async function raw(): Promise<void> {
  // bindAddress: node-datachannel gathers no loopback candidate unless bound to one (as webrtc.ts does).
  const config = { iceServers: [], bindAddress: '127.0.0.1' } as RTCConfiguration
  const data = new Map<DataPeer, (d: Uint8Array) => void>()
  let opened = 0
  let markOpen!: () => void
  const bothOpen = new Promise<void>((r) => (markOpen = r))
  const peers: DataPeer[] = []
  const mk = (initiator: boolean): DataPeer => {
    const p: DataPeer = new DataPeer({
      initiator, config, RTCPeerConnection: wrtc.RTCPeerConnection,
      onSignal: (d) => {
        const f = filterSignal(d, true)
        if (f) peers[initiator ? 1 : 0]!.signal(f)
      },
      onOpen: () => void (++opened === 2 && markOpen()),
      onData: (d) => data.get(p)?.(d),
      onClose: () => {},
    })
    return p
  }
  const t0 = performance.now()
  const a = mk(true)
  peers.push(a)
  const b = mk(false)
  peers.push(b)
  await bothOpen
  const connectMs = performance.now() - t0

  data.set(b, (d) => {
    if (d.length === 100) b.send(d)
  })
  const rtts: number[] = []
  const ping = new Uint8Array(100)
  for (let i = 0; i < ROUND_TRIPS; i++) {
    const s = performance.now()
    await new Promise<void>((r) => {
      data.set(a, () => r())
      a.send(ping)
    })
    rtts.push(performance.now() - s)
  }

  // Bulk: 16 KiB frames, pausing above 1 MiB buffered (the transport's high-water mark).
  let received = 0
  const done = new Promise<void>((r) => data.set(b, (d) => {
    received += d.length
    if (received >= BULK_BYTES) r()
  }))
  const ch = a.channel!
  const frame = new Uint8Array(FRAME)
  const t1 = performance.now()
  for (let sent = 0; sent < BULK_BYTES; sent += FRAME) {
    while (ch.bufferedAmount > 1024 * 1024) await new Promise((r) => setTimeout(r, 1))
    a.send(frame)
  }
  await done
  const bulkMs = performance.now() - t1
  console.log(`raw data channel (node-datachannel): connect ${connectMs.toFixed(1)} ms; 100 B round trip median ${median(rtts).toFixed(3)} ms, p99 ${p99(rtts).toFixed(3)} ms; bulk ${mbps(BULK_BYTES, bulkMs)} (${BULK_BYTES / 1024 / 1024} MiB in 16 KiB frames)`)
  for (const p of [a, b]) p.destroy()
}

async function transport(): Promise<void> {
  const server = await startSignalServer({ host: '127.0.0.1', port: 0 })
  const mk = () => createWebRtcTransport({ signalUrl: server.url, room: 'bench', identity: generateIdentity(), wrtc, WebSocket, loopbackOnly: true })
  const a = mk()
  const b = mk()
  await Promise.all([a.start(), b.start()])
  while (a.peers().length === 0 || b.peers().length === 0) await new Promise((r) => setTimeout(r, 5))
  let onA: (msg: Uint8Array) => void = () => {}
  let onB: (from: NodeId, msg: Uint8Array) => void = () => {}
  a.onMessage((_f, m) => onA(m))
  b.onMessage((f, m) => onB(f, m))

  const t0 = performance.now()
  await new Promise<void>((r) => {
    onB = () => r()
    a.send(b.id, new Uint8Array(1))
  })
  const firstMs = performance.now() - t0

  onB = (from, m) => b.send(from, m)
  const rtts: number[] = []
  const ping = new Uint8Array(100)
  for (let i = 0; i < ROUND_TRIPS; i++) {
    const s = performance.now()
    await new Promise<void>((r) => {
      onA = () => r()
      a.send(b.id, ping)
    })
    rtts.push(performance.now() - s)
  }

  // Bulk: 1 MiB messages, at most 4 MiB outstanding so the 8 MiB send queue never drops.
  const msg = new Uint8Array(1024 * 1024)
  const total = BULK_BYTES / msg.length
  let got = 0
  let sent = 0
  const t1 = performance.now()
  await new Promise<void>((r) => {
    const pump = (): void => {
      while (sent < total && sent - got < 7) {
        a.send(b.id, msg)
        sent++
      }
    }
    onB = () => {
      got++
      if (got === total) r()
      else pump()
    }
    pump()
  })
  const bulkMs = performance.now() - t1
  console.log(`dynamesh webrtc transport: first message (connect + identity proof) ${firstMs.toFixed(1)} ms; 100 B round trip median ${median(rtts).toFixed(3)} ms, p99 ${p99(rtts).toFixed(3)} ms; bulk ${mbps(BULK_BYTES, bulkMs)} (1 MiB messages); drops ${a.stats().dropped}`)
  await Promise.all([a.stop(), b.stop()])
  await server.close()
}

await raw()
await transport()
