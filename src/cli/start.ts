/**
 * `dynamesh start` (`npm start`): a whole local cluster on one machine. The signaling server runs in
 * this process; each peer is a child process (`dynamesh node`) with its LevelDB under
 * `.data/local/node-N` and its HTTP API on 127.0.0.1. The page server serves the demo page (`dist/web`,
 * built by `npm run build:web`) whose own browser peer joins the cluster, its `/config.json`, and a
 * status view at `/status` that proxies every peer's `/cluster` and `/stats`. Children's log lines come out on stderr tagged with the peer's name. Ctrl-C stops
 * the peers by PID (SIGTERM, then SIGKILL after a grace period), then the page and the signaling.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { startSignalServer, type SignalServer } from '../../signaling/server.js'
import { clusterKeyFromSecret, generateClusterKey, type ClusterKey } from '../credential.js'
import { toHex } from '../core/hash.js'
import { loadIdentity } from '../identity.js'
import { levelStorage } from '../storage/level.js'
import { startStatusPage, type StatusPage } from './status-page.js'
import { onShutdown, type Logger } from './util.js'

export const START_USAGE = `usage: dynamesh start [--peers 3] [--http-base 8081] [--signal-port 4444] [--page-port 8080]
                      [--data .data/local] [--fresh] [--open] [--verbose]`

/** Options of {@link startLocalCluster}. Port 0 picks a free port (for `httpBase`: a free one per peer). */
export interface LocalClusterOptions {
  peers?: number
  /** Peer i (from 0) serves HTTP on `httpBase + i`. Default 8081. */
  httpBase?: number
  signalPort?: number
  pagePort?: number
  /** Parent of the peers' data folders. Default `.data/local` under the working directory (git ignores `.data/`). */
  dataDir?: string
  /** Delete the peers' data first. */
  fresh?: boolean
  /**
   * An open cluster (any peer that knows the room may join). Default: closed, with a cluster key kept
   * under the data folder; each peer and the demo page get a credential it signed.
   */
  open?: boolean
  /** Let the peers log their transport's chatter too. */
  verbose?: boolean
  /** Lines of the orchestrator itself. Default: stderr. */
  log?: Logger
  /** Lines the peers write to stderr, already tagged `[node-N]`. Default: stderr. */
  forward?: (line: string) => void
  /** How long to wait for every peer to see every other one as up. Default 30 s. */
  formTimeoutMs?: number
  /** Aborting it stops whatever already started; startLocalCluster then rejects. */
  signal?: AbortSignal
}

/** One peer process, as the status page and callers see it. */
export interface LocalPeer {
  name: string
  id: string
  http: string
  pid: number
  /** undefined while running; how it ended otherwise. */
  exit?: { code: number | null; signal: NodeJS.Signals | null }
}

/** A running local cluster. */
export interface LocalCluster {
  pageUrl: string
  signalUrl: string
  peers: LocalPeer[]
  /** True once every peer saw every other one as up and reachable within the form timeout. */
  formed: boolean
  /** Stops the peers (SIGTERM, SIGKILL after a grace period), the page and the signaling. Idempotent. */
  stop(): Promise<void>
}

const READY_TIMEOUT_MS = 30_000

/** The local cluster's key: made on first start and kept next to the peers' data. */
function loadClusterKey(dataDir: string): ClusterKey {
  const file = join(dataDir, 'cluster.key')
  mkdirSync(dataDir, { recursive: true })
  if (existsSync(file)) {
    const secret = readFileSync(file)
    if (secret.length === 32) return clusterKeyFromSecret(new Uint8Array(secret))
  }
  const key = generateClusterKey()
  writeFileSync(file, key.secret, { mode: 0o600 })
  return key
}

/** A peer's public key, from its data folder (its identity is made there now if it is new). */
async function peerKey(dir: string): Promise<Uint8Array> {
  const storage = await levelStorage(dir)
  try {
    return (await loadIdentity(storage)).publicKey
  } finally {
    await storage.close()
  }
}
/**
 * Browser tabs of the demo come and go: one closed for good (no leave) is marked left after this
 * long and its partitions move; a node peer's default is a day.
 */
const REMOVE_AFTER_S = 300
/** The signaling room of the local cluster (the demo page joins it too). */
const ROOM = 'local'
const KILL_AFTER_MS = 8_000

/** `src/cli` or `dist/src/cli` → the project root, and how to run `dynamesh node` from here. */
function nodeCommand(): { root: string; args: string[] } {
  const here = dirname(fileURLToPath(import.meta.url))
  const compiled = here.split(/[\\/]/).includes('dist')
  const root = resolve(here, compiled ? '../../..' : '../..')
  return compiled
    ? { root, args: [join(root, 'bin', 'dynamesh.js'), 'node'] }
    : { root, args: ['--import', 'tsx', join(here, 'main.ts'), 'node'] }
}

/** Fails with a message naming the port when something already listens on 127.0.0.1:port. */
function checkPortFree(port: number, what: string, flag: string): Promise<void> {
  if (port === 0) return Promise.resolve()
  return new Promise((ok, fail) => {
    const s = createServer()
    s.once('error', (e: NodeJS.ErrnoException) =>
      fail(new Error(e.code === 'EADDRINUSE'
        ? `port ${port} (${what}) is already in use on 127.0.0.1; pick another with ${flag}`
        : `cannot listen on 127.0.0.1:${port} (${what}): ${e.message}`)))
    s.listen(port, '127.0.0.1', () => s.close(() => ok()))
  })
}

/** Sends SIGTERM, then SIGKILL if the child is still there after `graceMs`; resolves on exit. */
function stopChild(child: ChildProcess, name: string, graceMs: number, log: Logger): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((done) => {
    const t = setTimeout(() => {
      log(`${name} (pid ${child.pid}) did not stop within ${graceMs / 1000} s; killing it`)
      child.kill('SIGKILL')
    }, graceMs)
    child.once('exit', () => {
      clearTimeout(t)
      done()
    })
    child.kill('SIGTERM')
  })
}

const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Resolves true once every peer lists every other peer as up and reachable (false on timeout). */
async function waitFormed(peers: LocalPeer[], timeoutMs: number, stopped: () => boolean): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  const ids = peers.map((p) => p.id)
  while (Date.now() < deadline && !stopped()) {
    const views = await Promise.all(peers.map(async (p) => {
      try {
        const res = await fetch(`${p.http}/cluster`, { signal: AbortSignal.timeout(1000) })
        const c = (await res.json()) as { members: Array<{ id: string; status: string; reachable: boolean }> }
        return ids.every((id) => c.members.some((m) => m.id === id && m.status === 'up' && (m.reachable || id === p.id)))
      } catch {
        return false
      }
    }))
    if (views.every(Boolean)) return true
    await wait(250)
  }
  return false
}

/** Starts signaling, `peers` node processes and the status page; resolves once all peers are up. */
export async function startLocalCluster(opts: LocalClusterOptions = {}): Promise<LocalCluster> {
  const count = opts.peers ?? 3
  if (!Number.isInteger(count) || count < 1 || count > 32) throw new TypeError('peers must be a whole number from 1 to 32')
  const httpBase = opts.httpBase ?? 8081
  const log = opts.log ?? ((l: string) => void process.stderr.write(`${l}\n`))
  const forward = opts.forward ?? ((l: string) => void process.stderr.write(`${l}\n`))
  const { root, args: nodeArgs } = nodeCommand()
  const dataDir = resolve(opts.dataDir ?? join('.data', 'local'))
  const names = Array.from({ length: count }, (_, i) => `node-${i + 1}`)
  const httpPort = (i: number): number => (httpBase === 0 ? 0 : httpBase + i)

  const pagePort = opts.pagePort ?? 8080
  const signalPort = opts.signalPort ?? 4444
  await checkPortFree(pagePort, 'status page', '--page-port')
  await checkPortFree(signalPort, 'signaling', '--signal-port')
  for (let i = 0; i < count; i++) await checkPortFree(httpPort(i), `HTTP API of ${names[i]}`, '--http-base')

  const children: ChildProcess[] = []
  const peers: LocalPeer[] = []
  let signal: SignalServer | undefined
  let page: StatusPage | undefined
  let stopping: Promise<void> | undefined
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      process.off('exit', killAll)
      await Promise.all(children.map((c, i) => stopChild(c, names[i] as string, KILL_AFTER_MS, log)))
      await page?.close()
      await signal?.close()
    })())
  // Last resort if this process ends without stop() (an uncaught error): no orphaned peers.
  const killAll = (): void => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  }
  process.on('exit', killAll)
  const onAbort = (): void => void stop()
  opts.signal?.addEventListener('abort', onAbort, { once: true })

  try {
    if (opts.signal?.aborted) throw new Error('stopped while starting')
    const cluster = opts.open ? undefined : loadClusterKey(dataDir)
    signal = await startSignalServer({
      host: '127.0.0.1', port: signalPort, log: (l) => log(`[signal] ${l}`), ...(cluster ? { clusterKey: cluster.publicKey } : {}),
    })
    const n = Math.min(3, count)
    const quorum = String(Math.min(2, n))
    await Promise.all(names.map(async (name, i) => {
      const dir = join(dataDir, name)
      if (opts.fresh) rmSync(dir, { recursive: true, force: true })
      mkdirSync(dir, { recursive: true })
      const admitted = cluster ? ['--cluster-key', toHex(cluster.publicKey), '--credential', toHex(cluster.admit(await peerKey(dir)))] : []
      const args = [...nodeArgs, ...admitted, '--signal', signal!.url, '--room', ROOM, '--data', dir, '--http', `127.0.0.1:${httpPort(i)}`,
        '--n', String(n), '--r', quorum, '--w', quorum, '--remove-after', String(REMOVE_AFTER_S), ...(opts.verbose ? [] : ['--quiet'])]
      // Own process group: a terminal's Ctrl-C reaches only this process, which then stops each peer once.
      const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
      children.push(child)
      const peer = await awaitReady(name, child, forward)
      peers.push(peer)
      child.once('exit', (code, sig) => {
        peer.exit = { code, signal: sig }
        if (!stopping) log(`${name} (pid ${peer.pid}) exited unexpectedly (${sig ?? `code ${code}`}); the other peers keep running`)
      })
    }))
    peers.sort((a, b) => names.indexOf(a.name) - names.indexOf(b.name))
    const webDir = join(root, 'dist', 'web')
    const hasWeb = existsSync(join(webDir, 'index.html'))
    if (!hasWeb) log(`no demo page at ${webDir} (run npm run build:web); serving the status view at /`)
    const pageConfig = {
      signalUrl: signal.url, room: ROOM, n, r: Number(quorum), w: Number(quorum), q: 256,
      ...(cluster ? { clusterKey: toHex(cluster.publicKey) } : {}),
      peers: peers.map(({ name, id, http }) => ({ name, id, http })),
    }
    page = await startStatusPage({
      port: pagePort, signalUrl: signal.url, peers, log, pageConfig, ...(hasWeb ? { webDir } : {}), ...(cluster ? { admit: cluster.admit } : {}),
    })
  } catch (e) {
    await stop()
    throw e
  }
  const formed = await waitFormed(peers, opts.formTimeoutMs ?? 30_000, () => stopping !== undefined)
  opts.signal?.removeEventListener('abort', onAbort)
  if (stopping) {
    await stopping
    throw new Error('stopped while starting')
  }
  if (!formed) log('warning: the peers did not all see each other in time; the status page shows who sees whom')
  return { pageUrl: page.url, signalUrl: signal.url, peers, formed, stop }
}

/** Forwards the child's stderr tagged with its name; resolves with its READY line's id and URL. */
function awaitReady(name: string, child: ChildProcess, forward: (line: string) => void): Promise<LocalPeer> {
  const tail: string[] = []
  createInterface({ input: child.stderr! }).on('line', (line) => {
    forward(`[${name}] ${line}`)
    tail.push(line)
    if (tail.length > 10) tail.shift()
  })
  const out = createInterface({ input: child.stdout! })
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${name} did not report READY within ${READY_TIMEOUT_MS / 1000} s`)), READY_TIMEOUT_MS)
    const onExit = (code: number | null, sig: string | null): void => {
      clearTimeout(timer)
      fail(new Error(`${name} exited before it was ready (${sig ?? `code ${code}`})${tail.length ? `: ${tail.join(' | ')}` : ''}`))
    }
    child.once('exit', onExit)
    child.once('error', (e) => {
      clearTimeout(timer)
      fail(new Error(`cannot start ${name}: ${e.message}`))
    })
    out.on('line', (line) => {
      if (!line.startsWith('READY ')) return forward(`[${name}] ${line}`)
      clearTimeout(timer)
      child.off('exit', onExit)
      try {
        const r = JSON.parse(line.slice(6)) as { id: string; http: string }
        ok({ name, id: r.id, http: r.http, pid: child.pid as number })
      } catch {
        fail(new Error(`${name} printed a malformed READY line: ${line.slice(0, 200)}`))
      }
    })
  })
}

/** The `start` command: parses flags, starts the cluster, prints the URLs and waits for Ctrl-C. */
export async function runStart(argv: string[], log: Logger): Promise<number> {
  const { values: a } = parseArgs({
    args: argv,
    options: {
      peers: { type: 'string', default: '3' },
      'http-base': { type: 'string', default: '8081' },
      'signal-port': { type: 'string', default: '4444' },
      'page-port': { type: 'string', default: '8080' },
      data: { type: 'string' },
      fresh: { type: 'boolean', default: false },
      open: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
    },
  })
  const port = (name: string, v: string): number => {
    const x = Number(v)
    if (!Number.isInteger(x) || x < 0 || x > 65535) throw new TypeError(`--${name} must be a port number, got "${v}"`)
    return x
  }
  const peers = Number(a.peers)
  const httpBase = port('http-base', a['http-base'])
  if (httpBase !== 0 && httpBase + peers - 1 > 65535) throw new TypeError('--http-base leaves no room for every peer')
  // Ctrl-C during startup must still stop whatever already started.
  const ac = new AbortController()
  let cluster: LocalCluster | undefined
  const shutdown = onShutdown(async () => {
    log('stopping')
    ac.abort()
    await cluster?.stop()
  })
  try {
    cluster = await startLocalCluster({
      peers, httpBase, signalPort: port('signal-port', a['signal-port']), pagePort: port('page-port', a['page-port']),
      ...(a.data ? { dataDir: a.data } : {}), fresh: a.fresh, open: a.open, verbose: a.verbose, log, signal: ac.signal,
    })
  } catch (e) {
    if (ac.signal.aborted) return 0
    log(e instanceof Error ? e.message : String(e))
    return 1
  }
  const pad = (s: string): string => s.padEnd(14)
  const first = cluster.peers[0]!.http
  const second = (cluster.peers[1] ?? cluster.peers[0]!).http
  const lines = [
    `dynamesh: local cluster of ${cluster.peers.length} peer${cluster.peers.length > 1 ? 's' : ''}${cluster.formed ? '' : ' (not all connected yet)'}`,
    `  ${pad('demo page')}${cluster.pageUrl}   (status view: ${cluster.pageUrl}/status)`,
    ...cluster.peers.map((p) => `  ${pad(p.name)}${p.http}   id ${p.id.slice(0, 8)}  pid ${p.pid}`),
    `  ${pad('signaling')}${cluster.signalUrl}`,
    'try:',
    `  curl -X PUT --data-binary 'hello' ${first}/kv/greeting && curl ${second}/kv/greeting`,
    'Ctrl-C stops everything.',
    `READY ${JSON.stringify({ page: cluster.pageUrl, signal: cluster.signalUrl, peers: cluster.peers.map(({ id, http }) => ({ id, http })) })}`,
  ]
  process.stdout.write(`${lines.join('\n')}\n`)
  await shutdown
  log('stopped')
  return 0
}
