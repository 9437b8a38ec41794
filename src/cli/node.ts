/**
 * `dynamesh node`: a Node.js peer. LevelDB under --data (identity key, records, hints, membership),
 * WebRTC to the other peers of the room through the signaling server, the HTTP API if --http is
 * given. Logs what it does; stops cleanly on SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util'
import { CREDENTIAL_BYTES, hexBytes, verifyCredential } from '../credential.js'
import { mkdirSync } from 'node:fs'
import { createNode, loadIdentity, type NodeEvent } from '../index.js'
import { levelStorage } from '../storage/level.js'
import { createWebRtcTransport } from '../transport/webrtc.js'
import { webRtcDefaults } from '../transport/wrtc.js'
import { startHttpServer } from '../http/server.js'
import { keyText } from '../node/validate.js'
import { hostPort, isLoopbackHost, onShutdown, type Logger } from './util.js'

export const NODE_USAGE = `usage: dynamesh node --signal ws://127.0.0.1:4444 [--room default] [--data DIR]
                     [--http 127.0.0.1:PORT] [--weight 1] [--n 3 --r 2 --w 2] [--sync] [--remove-after 86400] [--quiet]
  --sync            fsync every write before acknowledging it (survives a power loss, not only kill -9)
  --remove-after S  a member unreachable this many seconds is marked left and its partitions move
  --cluster-key HEX --credential HEX
                    a closed cluster's public key and this peer's credential (dynamesh start makes both)`

export async function runNode(argv: string[], log: Logger): Promise<number> {
  const { values: a } = parseArgs({
    args: argv,
    options: {
      signal: { type: 'string', default: 'ws://127.0.0.1:4444' },
      room: { type: 'string', default: 'default' },
      data: { type: 'string', default: '.data/node' },
      http: { type: 'string' },
      weight: { type: 'string', default: '1' },
      n: { type: 'string', default: '3' },
      r: { type: 'string', default: '2' },
      w: { type: 'string', default: '2' },
      quiet: { type: 'boolean', default: false },
      sync: { type: 'boolean', default: false },
      'remove-after': { type: 'string', default: '86400' },
      'cluster-key': { type: 'string' },
      credential: { type: 'string' },
      'any-interface': { type: 'boolean', default: false },
    },
  })
  const num = (name: string, v: string): number => {
    const x = Number(v)
    if (!Number.isFinite(x) || x <= 0) throw new TypeError(`--${name} must be a positive number, got "${v}"`)
    return x
  }
  // A peer serves others: a bug in one request must be logged, not take the whole peer down.
  process.on('unhandledRejection', (e) => log(`internal error (kept running): ${e instanceof Error ? e.stack : String(e)}`))
  process.on('uncaughtException', (e) => log(`internal error (kept running): ${e.stack ?? e.message}`))
  mkdirSync(a.data, { recursive: true })
  const storage = await levelStorage(a.data, { sync: a.sync })
  const identity = await loadIdentity(storage)
  // On a loopback signaling server, keep WebRTC on loopback too (never another interface).
  const loopbackOnly = !a['any-interface'] && isLoopbackHost(new URL(a.signal).hostname)
  const clusterKey = a['cluster-key'] ? hexBytes(a['cluster-key'], 32, '--cluster-key') : undefined
  const credential = a.credential ? hexBytes(a.credential, CREDENTIAL_BYTES, '--credential') : undefined
  if (clusterKey && !verifyCredential(clusterKey, identity.publicKey, credential)) {
    throw new TypeError(`--credential does not admit this peer (id ${identity.id}) to the cluster of --cluster-key`)
  }
  if (!clusterKey) log('open cluster: any peer that knows the room may join (use --cluster-key and --credential to close it)')
  const transport = createWebRtcTransport({
    ...(clusterKey ? { clusterKey } : {}),
    ...(credential ? { credential } : {}),
    signalUrl: a.signal,
    room: a.room,
    identity,
    ...webRtcDefaults(),
    loopbackOnly,
    ...(a.quiet ? {} : { log: (line: string) => log(`transport: ${line}`) }),
  })
  const node = await createNode({
    storage,
    transport,
    n: num('n', a.n),
    r: num('r', a.r),
    w: num('w', a.w),
    weight: a.weight === '0' ? 0 : num('weight', a.weight),
    removeAfterMs: Math.round(num('remove-after', a['remove-after']) * 1000),
  })
  const short = (id: string): string => id.slice(0, 8)
  node.on((ev: NodeEvent) => {
    if (ev.type === 'member') log(`member ${short(ev.id)} is ${ev.status}`)
    else if (ev.type === 'reachable') log(`peer ${short(ev.id)} ${ev.reachable ? 'reachable' : 'unreachable'}`)
    else if (ev.type === 'hint-delivered') log(`handed ${ev.count} hints to ${short(ev.to)}`)
    else if (ev.type === 'repair' && ev.kind !== 'read') log(`${ev.kind} repair: sent ${ev.keys} records (${ev.bytes} bytes) to ${short(ev.peer)}`)
    else if (ev.type === 'too-large') {
      const keys = ev.keys.map((k) => keyText(k)).join(', ')
      log(`not sent: ${ev.message} to ${short(ev.peer)}${keys ? ` for ${keys}` : ''}: ${ev.detail}`)
    }
  })
  let httpUrl = ''
  const http = a.http ? await startHttpServer(node, { ...hostPort(a.http), log }) : undefined
  if (http) httpUrl = http.url
  log(`node ${node.id} ready; data ${a.data}; room ${a.room}${httpUrl ? `; http ${httpUrl}` : ''}`)
  // One machine-readable line for scripts and tests.
  process.stdout.write(`READY ${JSON.stringify({ id: node.id, http: httpUrl })}\n`)
  await onShutdown(async () => {
    log('stopping')
    await http?.close()
    await node.stop()
  })
  return 0
}
