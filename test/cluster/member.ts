/**
 * A benchmark peer for bench/cluster.ts, run as its own process: a member of the cluster (as a
 * browser tab is) that coordinates gets and puts through the library API, no HTTP in between.
 *
 *   node --import tsx test/cluster/member.ts '{"signal":"ws://...","room":"...","peers":5,"n":3,"r":2,"w":2}'
 *
 * Weight 0 by default: it holds no partitions (the five peers keep the same layout), so a get asks
 * the key's replicas directly and a put is forwarded to one of them, which coordinates it.
 *
 * It prints `READY {"id":...}` once it sees every peer up and reachable, then takes one JSON command
 * per stdin line and answers each with one `RESULT {...}` line:
 *   {"op":"get","keys":[...]}              gets one after another; latencies in ms
 *   {"op":"put","keys":[...],"bytes":1024}  puts one after another (each with the context of the last
 *                                          get or put of its key); latencies in ms
 *   {"op":"ping","room":"...","to":"id","count":1000}
 *                                          100-byte round trips from a second, bare transport of this
 *                                          process to `to` (an echoing transport in `room`); median ms
 *   {"op":"stop"}                          leaves and exits
 * Exits by itself after 10 minutes whatever happens, and when stdin closes.
 */
import { createInterface } from 'node:readline'
import { performance } from 'node:perf_hooks'
import { createNode, memoryStorage, type Context } from '../../src/index.js'
import { generateIdentity } from '../../src/identity.js'
import { createWebRtcTransport } from '../../src/transport/webrtc.js'
import { webRtcDefaults } from '../../src/transport/wrtc.js'
import type { NodeId } from '../../src/types.js'
import { medianRtt } from './rtt.js'

interface Config {
  signal: string
  room: string
  peers: number
  n: number
  r: number
  w: number
  weight?: number
}

const cfg = JSON.parse(process.argv[2] ?? '{}') as Config
const out = (line: string): void => void process.stdout.write(`${line}\n`)
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
setTimeout(() => process.exit(3), 10 * 60_000).unref()

const identity = generateIdentity()
const transport = createWebRtcTransport({ signalUrl: cfg.signal, room: cfg.room, identity, ...webRtcDefaults(), loopbackOnly: true })
const node = await createNode({ storage: memoryStorage(), transport, n: cfg.n, r: cfg.r, w: cfg.w, weight: cfg.weight ?? 0 })

// Ready once every peer is up and reachable in this member's view and the ring has owners.
for (const until = Date.now() + 60_000; ; await sleep(100)) {
  const info = node.cluster()
  const others = info.members.filter((m) => m.id !== node.id && m.status === 'up' && m.reachable && m.weight > 0)
  if (others.length >= cfg.peers && info.partitions.every((o) => o.length >= Math.min(cfg.n, cfg.peers))) break
  if (Date.now() > until) {
    out(`FAILED ${JSON.stringify({ why: 'cluster not seen within 60 s' })}`)
    process.exit(1)
  }
}
out(`READY ${JSON.stringify({ id: node.id })}`)

const contexts = new Map<string, Context>()

async function gets(keys: string[]): Promise<{ lat: number[]; errors: number }> {
  const lat: number[] = []
  let errors = 0
  for (const key of keys) {
    const s = performance.now()
    try {
      const r = await node.get(key)
      if (r.context) contexts.set(key, r.context)
    } catch {
      errors++
    }
    lat.push(performance.now() - s)
  }
  return { lat, errors }
}

async function puts(keys: string[], bytes: number): Promise<{ lat: number[]; errors: number }> {
  const lat: number[] = []
  let errors = 0
  const value = new Uint8Array(bytes)
  for (const key of keys) {
    crypto.getRandomValues(value.subarray(0, Math.min(bytes, 65536)))
    const context = contexts.get(key)
    const s = performance.now()
    try {
      const r = await node.put(key, value, context ? { context } : {})
      contexts.set(key, r.context)
    } catch {
      errors++
    }
    lat.push(performance.now() - s)
  }
  return { lat, errors }
}

/** Median 100-byte round trip from a bare transport of this process to an echoing one. */
async function ping(room: string, to: NodeId, count: number): Promise<{ median: number }> {
  const t = createWebRtcTransport({ signalUrl: cfg.signal, room, identity: generateIdentity(), ...webRtcDefaults(), loopbackOnly: true })
  await t.start()
  try {
    return { median: await medianRtt(t, to, count) }
  } finally {
    await t.stop()
  }
}

const lines = createInterface({ input: process.stdin })
lines.on('close', () => void node.stop().finally(() => process.exit(0)))
for await (const line of lines) {
  const cmd = JSON.parse(line) as { op: string; keys?: string[]; bytes?: number; room?: string; to?: string; count?: number }
  try {
    if (cmd.op === 'get') out(`RESULT ${JSON.stringify(await gets(cmd.keys ?? []))}`)
    else if (cmd.op === 'put') out(`RESULT ${JSON.stringify(await puts(cmd.keys ?? [], cmd.bytes ?? 1024))}`)
    else if (cmd.op === 'ping') out(`RESULT ${JSON.stringify(await ping(cmd.room ?? '', (cmd.to ?? '') as NodeId, cmd.count ?? 1000))}`)
    else if (cmd.op === 'stop') break
    else out(`RESULT ${JSON.stringify({ error: `unknown op ${cmd.op}` })}`)
  } catch (e) {
    out(`RESULT ${JSON.stringify({ error: String(e) })}`)
  }
}
await node.stop()
process.exit(0)
