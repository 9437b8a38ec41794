/**
 * A rogue peer for test/cluster/badinput.test.ts, run as its own process so that whatever happens to
 * it (including a crash inside the native WebRTC library) cannot take the test runner down:
 *
 *   node --import tsx test/cluster/rogue.ts '{"signal":"ws://...","room":"...","targets":["id",...],"mode":"garbage"}'
 *
 * It joins the cluster's room through the signaling server with a fresh identity (createWebRtcTransport)
 * and attacks every target. Modes:
 *   garbage     random bytes, well-formed but invalid messages (encodeMessage with bad fields), then
 *               random bytes in place of every data-channel frame (below the transport's framing)
 *   bad-proof   two rogues that cheat on the data channel after joining signaling honestly: one signs
 *               its proof with another key, one presents a public key that proves another id; both
 *               try to write
 *   hangup      opens connections and hangs up right after its HELLO frame, or right after a request
 *               (a gossip asking for a reply), over and over
 *   observer    prints the peers the signaling server announces
 * (Data frames are kind 0, or kind 3 for a batch of small messages, framing.ts.)
 * Lines on stdout: `READY {...}`, `RECV {...}` for every message a target sends it (at once, so they
 * survive a crash), `PHASE name`, `DONE {...}`.
 */
import { randomBytes } from 'node:crypto'
import { pack } from 'msgpackr'
import { emptySet, update } from '../../src/core/clock.js'
import { encodeSet } from '../../src/core/record.js'
import { generateIdentity, identityFromSecret, type Identity } from '../../src/identity.js'
import { DataPeer } from '../../src/transport/peer.js'
import { createWebRtcTransport, type WebRtcTransport } from '../../src/transport/webrtc.js'
import { webRtcDefaults } from '../../src/transport/wrtc.js'
import type { NodeId } from '../../src/types.js'
import { decodeMessage, encodeMessage, type Msg } from '../../src/wire/messages.js'

interface Config {
  signal: string
  room: string
  targets: string[]
  mode: 'garbage' | 'bad-proof' | 'hangup' | 'observer'
  rounds?: number
}

const cfg = JSON.parse(process.argv[2] ?? '{}') as Config
const targets = cfg.targets.map((t) => t as NodeId)
const utf8 = new TextEncoder()
const out = (line: string): void => void process.stdout.write(`${line}\n`)
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

// Never let the rogue hang around: a hard deadline.
setTimeout(() => process.exit(3), 60_000).unref()

// ---- frame-level tampering: every data-channel send in this process goes through here ----

/** 'corrupt': random bytes instead of each frame; 'hangup-hello' / 'hangup-data': destroy right after a frame of that kind. */
let tamper: 'none' | 'corrupt' | 'hangup-hello' | 'hangup-data' = 'none'
const originalSend = DataPeer.prototype.send
DataPeer.prototype.send = function (this: DataPeer, frame: Uint8Array) {
  if (tamper === 'corrupt') return originalSend.call(this, randomBytes(1 + Math.floor(Math.random() * 3000)))
  originalSend.call(this, frame)
  const kind = (frame[0] ?? 0) & 0x7f
  if ((tamper === 'hangup-hello' && kind === 1) || (tamper === 'hangup-data' && (kind === 0 || kind === 3))) this.destroy()
} as typeof originalSend

function transport(identity: Identity, recvTag: string): WebRtcTransport {
  const t = createWebRtcTransport({ signalUrl: cfg.signal, room: cfg.room, identity, ...webRtcDefaults(), loopbackOnly: true, connectTimeoutMs: 4000 })
  t.onMessage((from, bytes) => {
    let m: Partial<Record<string, unknown>> = { t: '?' }
    try {
      m = decodeMessage(bytes) as unknown as Record<string, unknown>
    } catch {
      // undecodable: reported as t '?'
    }
    out(`RECV ${JSON.stringify({ by: recvTag, from, t: m.t, rid: m.rid, ok: m.ok, code: m.code })}`)
  })
  return t
}

async function connectAll(t: WebRtcTransport, ms: number): Promise<NodeId[]> {
  const until = Date.now() + ms
  for (;;) {
    const ready = t.connections().filter((c) => c.state === 'ready').map((c) => c.id)
    if (targets.every((id) => ready.includes(id)) || Date.now() > until) return ready
    // An unknown message type: opens the connection, and the target drops it.
    for (const id of targets) if (!ready.includes(id)) t.send(id, encodeMessage({ t: 'nope' } as unknown as Msg))
    await sleep(300)
  }
}

/** Well-formed MessagePack that fails the wire decoder's validation. */
function invalidMessages(): Uint8Array[] {
  const key = utf8.encode('protected-0')
  // 100,000 nested one-element arrays: deep enough to overflow a recursive decoder.
  const nested = new Uint8Array(100_001).fill(0x91)
  nested[100_000] = 0x01
  const bad = (m: unknown): Uint8Array => encodeMessage(m as Msg)
  const raw = (m: unknown): Uint8Array => pack(m)
  return [
    raw({ t: 'g-delta', members: [[targets[0], 0, 3, 2 ** 41]], want: new Uint8Array(0) }),
    raw({ t: 'g-delta', members: [[targets[0], 1, 9, 99]], want: new Uint8Array(0) }),
    raw({ t: 'g-delta', members: 'everyone', want: new Uint8Array(0) }),
    raw({ t: 'g-ver', nb: 5, b: [0], v: new Uint8Array(0) }),
    bad({ t: 'get', rid: -1, key }),
    bad({ t: 'get', rid: 1, key: 'protected-0' }),
    bad({ t: 'store', rid: 1, items: [{ key: randomBytes(5000), rec: randomBytes(10) }], ack: true }),
    // Packed directly: encodeMessage takes store items as a list (it sends them as tuples).
    raw({ t: 'store', rid: 1, items: 'all of them', ack: true }),
    bad({ t: 'fwd', rid: 2, op: 1, at: 0, again: false, key, value: utf8.encode('evil'), ctx: '', w: 0, n: 3, timeoutMs: 1000 }),
    bad({ t: 'fwd', rid: 2, op: 1, at: 0, again: false, key, value: utf8.encode('evil'), ctx: '', w: 2, n: 3, timeoutMs: 10_000_000 }),
    bad({ t: 'ae-roots', sid: 1, parts: [[70_000, randomBytes(16)]] }),
    bad({ t: 'ae-pull', sid: 1, keys: [randomBytes(2000)] }),
    bad({ t: 'store-r', rid: 1.5, ok: true }),
    bad({ t: 'nope', rid: 1 }),
    bad([1, 2, 3]),
    bad('store'),
    nested,
    // A message cut short: its header promises 9 MB.
    bad({ t: 'store', rid: 1, items: [{ key, rec: new Uint8Array(9_000_000) }], ack: true }).subarray(0, 1000),
  ]
}

/** Messages that pass the decoder and fail deeper; the first three are answered with errors. */
function deepMessages(): Msg[] {
  const key = utf8.encode('protected-0')
  return [
    // A garbage record for a protected key; an empty one with a hint naming another peer.
    { t: 'store', rid: 101, items: [{ key, rec: randomBytes(64) }], ack: true },
    { t: 'store', rid: 102, items: [{ key, rec: new Uint8Array(0), hint: targets[targets.length - 1]! }], ack: true },
    // A forwarded write whose context is not one: refused before anything is written.
    { t: 'fwd', rid: 103, op: 103, at: 0, again: false, key, value: utf8.encode('evil'), ctx: '!!not a context!!', w: 2, n: 3, timeoutMs: 1000 },
    // Merkle steps with garbage probes and listings; roots of partitions nobody holds.
    { t: 'ae-step', sid: 7, parts: [[0, randomBytes(100), randomBytes(100)]] },
    { t: 'ae-roots', sid: 8, parts: [[65_535, randomBytes(16)]] },
    // Replies nobody asked for, with forged request ids.
    { t: 'get-r', rid: 1, rec: randomBytes(50) },
    { t: 'store-r', rid: 2, ok: true },
    { t: 'fwd-r', rid: 3, ok: true, ctx: 'x', code: '', message: '' },
  ]
}

const RANDOM_MESSAGES = 30

async function garbage(): Promise<void> {
  const t = transport(generateIdentity(), 'garbage')
  await t.start()
  out(`READY ${JSON.stringify({ id: t.id })}`)
  const ready = await connectAll(t, 20_000)
  out(`PHASE connected ${JSON.stringify(ready)}`)
  const invalid = invalidMessages()
  for (const id of targets) {
    for (let i = 0; i < RANDOM_MESSAGES; i++) t.send(id, randomBytes(1 + Math.floor(Math.random() * 4000)))
    for (const m of invalid) t.send(id, m)
    for (const m of deepMessages()) t.send(id, encodeMessage(m))
  }
  out(`PHASE sent ${JSON.stringify({ random: RANDOM_MESSAGES, invalid: invalid.length })}`)
  await sleep(3000)
  // Below the framing: random bytes in place of every frame.
  tamper = 'corrupt'
  out('PHASE corrupt')
  for (const id of targets) for (let i = 0; i < 50; i++) t.send(id, randomBytes(100 + i * 500))
  await sleep(1500)
  tamper = 'none'
  out(`DONE ${JSON.stringify(t.stats())}`)
  await t.stop()
}

/** An identity whose signer or public key can be swapped after it joined signaling. */
function swappable(): { identity: Identity; swapSigner(): void; swapKey(): void } {
  const real = generateIdentity()
  const other = identityFromSecret(randomBytes(32))
  let signer = real
  let key = real.publicKey
  return {
    identity: {
      id: real.id,
      get publicKey() {
        return key
      },
      sign: (m) => signer.sign(m),
    },
    swapSigner: () => void (signer = other),
    swapKey: () => void (key = other.publicKey),
  }
}

async function badProof(): Promise<void> {
  const a = swappable()
  const b = swappable()
  const ta = transport(a.identity, 'bad-signer')
  const tb = transport(b.identity, 'forged-key')
  // Both join signaling honestly (the server checks their ids), then cheat on the data channel.
  await Promise.all([ta.start(), tb.start()])
  a.swapSigner()
  b.swapKey()
  out(`READY ${JSON.stringify({ ids: [ta.id, tb.id] })}`)
  // Well-formed writes: accepted from any verified peer, so they must never get that far.
  const store = (tag: string): Msg => ({
    t: 'store', rid: 1, ack: true,
    items: [{ key: utf8.encode(`canary-${tag}`), rec: encodeSet(update(emptySet, {}, `rogue-${tag}.1`, utf8.encode('evil'), Date.now())) }],
  })
  const fwd: Msg = { t: 'fwd', rid: 9, op: 9, at: 0, again: false, key: utf8.encode('canary-fwd'), value: utf8.encode('evil'), ctx: '', w: 1, n: 3, timeoutMs: 1000 }
  const until = Date.now() + 4000
  for (let tick = 0; Date.now() < until; tick++) {
    for (const id of targets) {
      ta.send(id, encodeMessage(store('a')))
      ta.send(id, encodeMessage(fwd))
      tb.send(id, encodeMessage(store('b')))
      tb.send(id, encodeMessage(fwd))
    }
    await sleep(500)
    out(`PHASE tick ${tick}`)
  }
  out(`DONE ${JSON.stringify({ a: ta.stats(), b: tb.stats() })}`)
  await Promise.all([ta.stop(), tb.stop()])
}

async function hangup(): Promise<void> {
  const rounds = cfg.rounds ?? 8
  out(`READY ${JSON.stringify({ rounds })}`)
  for (let round = 0; round < rounds; round++) {
    // A fresh identity each round: no connection state left over on the targets' side.
    const t = transport(generateIdentity(), 'hangup')
    await t.start()
    tamper = round % 2 === 0 ? 'hangup-hello' : 'none'
    if (tamper === 'none') await connectAll(t, 5000)
    // Odd rounds: verified first, then a request that the target answers at once, then hang up.
    if (tamper === 'none') tamper = 'hangup-data'
    for (let k = 0; k < 6; k++) {
      for (const id of targets) t.send(id, encodeMessage({ t: 'g-sum', d: new Uint8Array(8), n: 1, reply: true }))
      await sleep(150)
    }
    tamper = 'none'
    await t.stop()
    out(`PHASE round ${round}`)
  }
  out('DONE {}')
}

async function observer(): Promise<void> {
  const t = transport(generateIdentity(), 'observer')
  await t.start()
  const until = Date.now() + 10_000
  while (!targets.every((id) => t.peers().includes(id)) && Date.now() < until) await sleep(100)
  out(`DONE ${JSON.stringify({ peers: t.peers() })}`)
  await t.stop()
}

const modes = { garbage, 'bad-proof': badProof, hangup, observer }
modes[cfg.mode]().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`rogue: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
    process.exit(1)
  },
)
