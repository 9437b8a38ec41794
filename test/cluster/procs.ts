/**
 * Real multi-process clusters for tests and benchmarks: one signaling server and N `dynamesh node`
 * processes (LevelDB, WebRTC over loopback, the HTTP API), spawned from the sources through tsx's
 * ESM loader (`node --import tsx src/cli/main.ts ...`) so no build step is needed.
 *
 * Every process is spawned detached (its own process group) and killed by group id, never by name.
 * Whatever a test does, `stop()` ends every child and removes the temporary directory; a last-resort
 * `exit` hook SIGKILLs any group still alive if the test runner itself goes down first.
 *
 * Everything binds 127.0.0.1. Run inside a loopback-only network namespace when root:
 *   unshare -n sh -c 'ip link set lo up && npx vitest run test/cluster/'
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll } from 'vitest'

/** The repository root (the children's working directory). */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

const live = new Set<ChildProcess>()
let exitHookInstalled = false

/**
 * A watchdog process that outlives a crash of this one: it learns the process groups we spawn over
 * its stdin ("+pid" / "-pid" lines) and SIGKILLs those still listed when its stdin closes, which
 * the kernel does when this process exits for any reason (even SIGKILL or a native crash, where no
 * `exit` hook runs).
 */
const WATCHDOG = `
const groups = new Set()
let buf = ''
process.stdin.setEncoding('utf8')
process.stdin.on('data', (d) => {
  buf += d
  let i
  while ((i = buf.indexOf('\\n')) >= 0) {
    const line = buf.slice(0, i)
    buf = buf.slice(i + 1)
    const pid = Number(line.slice(1))
    if (line[0] === '+') groups.add(pid)
    else groups.delete(pid)
  }
})
const end = () => {
  for (const g of groups) try { process.kill(-g, 'SIGKILL') } catch {}
  process.exit(0)
}
process.stdin.on('end', end)
process.stdin.on('error', end)
`
let watchdog: ChildProcess | undefined

function watch(line: string): void {
  if (!watchdog) {
    watchdog = spawn(process.execPath, ['-e', WATCHDOG], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] })
    watchdog.stdin!.on('error', () => {})
    watchdog.unref()
    ;(watchdog.stdin as unknown as { unref?: () => void }).unref?.()
  }
  watchdog.stdin!.write(`${line}\n`)
}

/** SIGKILLs the process group of `child` (spawned detached, so its pid is the group id). */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    // already gone
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  // Synchronous, last resort: a runner that dies (or times out) must not leave peers behind.
  process.on('exit', () => {
    for (const c of live) killGroup(c, 'SIGKILL')
  })
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** A spawned CLI process, its READY line and the tail of its logs. */
export class Proc {
  readonly child: ChildProcess
  readonly pid: number
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  private stderrTail = ''
  private stdoutBuf = ''
  private readyWaiters: Array<(line: string) => void> = []
  private readyLine: string | undefined
  /** Every line written to stdout so far. */
  readonly lines: string[] = []
  private stdoutEnded = false

  /**
   * Spawns `node ...execArgv --import tsx SCRIPT ...args` in the repository (SCRIPT defaults to the
   * CLI); with `stdin`, a pipe to write lines to (`writeLine`), else no stdin.
   */
  constructor(
    readonly name: string,
    args: string[],
    script = 'src/cli/main.ts',
    opts: { execArgv?: string[]; stdin?: boolean } = {},
  ) {
    installExitHook()
    this.child = spawn(process.execPath, [...(opts.execArgv ?? []), '--import', 'tsx', script, ...args], {
      cwd: REPO,
      detached: true,
      stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_OPTIONS: '' },
    })
    if (this.child.pid === undefined) throw new Error(`${name}: spawn failed`)
    this.pid = this.child.pid
    live.add(this.child)
    watch(`+${this.pid}`)
    const gone = (): void => {
      live.delete(this.child)
      watch(`-${this.pid}`)
    }
    this.exited = new Promise((res) => {
      this.child.once('exit', (code, signal) => {
        gone()
        res({ code, signal })
      })
      this.child.once('error', () => {
        gone()
        res({ code: null, signal: null })
      })
    })
    this.child.stdout!.setEncoding('utf8')
    this.child.stdout!.on('data', (s: string) => {
      this.stdoutBuf += s
      let i: number
      while ((i = this.stdoutBuf.indexOf('\n')) >= 0) {
        const line = this.stdoutBuf.slice(0, i)
        this.stdoutBuf = this.stdoutBuf.slice(i + 1)
        this.lines.push(line)
        if (line.startsWith('READY ') && this.readyLine === undefined) {
          this.readyLine = line
          for (const w of this.readyWaiters.splice(0)) w(line)
        }
      }
    })
    this.child.stdout!.once('end', () => (this.stdoutEnded = true))
    // Always drain stderr (a full pipe would block the child); keep the last 64 KiB for diagnostics.
    this.child.stderr!.setEncoding('utf8')
    this.child.stderr!.on('data', (s: string) => {
      this.stderrTail = (this.stderrTail + s).slice(-64 * 1024)
    })
  }

  /** True while the process runs (and the kernel agrees). */
  alive(): boolean {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return false
    try {
      process.kill(this.pid, 0)
      return true
    } catch {
      return false
    }
  }

  /** Last lines of stderr (the process's log). */
  log(lines = 40): string {
    return this.stderrTail.split('\n').slice(-lines).join('\n')
  }

  /** The JSON of the READY line; rejects if the process exits first or `ms` pass. */
  ready<T>(ms: number): Promise<T> {
    return new Promise<T>((res, rej) => {
      const done = (line: string): void => {
        clearTimeout(timer)
        try {
          res(JSON.parse(line.slice(6)) as T)
        } catch (e) {
          rej(e as Error)
        }
      }
      const timer = setTimeout(() => rej(new Error(`${this.name}: no READY within ${ms} ms\n${this.log()}`)), ms)
      if (this.readyLine !== undefined) return done(this.readyLine)
      this.readyWaiters.push(done)
      void this.exited.then(({ code, signal }) => {
        clearTimeout(timer)
        rej(new Error(`${this.name}: exited (${code ?? signal}) before READY\n${this.log()}`))
      })
    })
  }

  /** Resolves with the first stdout line starting with `prefix`; rejects if the process exits first or `ms` pass. */
  async waitLine(prefix: string, ms: number): Promise<string> {
    const until = Date.now() + ms
    for (;;) {
      const line = this.lines.find((l) => l.startsWith(prefix))
      if (line !== undefined) return line
      if (this.stdoutEnded) throw new Error(`${this.name}: exited before printing "${prefix}"\n${this.log()}`)
      if (Date.now() > until) throw new Error(`${this.name}: no "${prefix}" within ${ms} ms\n${this.log()}`)
      await sleep(50)
    }
  }

  /** Writes one line to the process's stdin (spawned with `stdin`). */
  writeLine(line: string): void {
    this.child.stdin?.write(`${line}\n`)
  }

  /** Resolves with the first line starting with `prefix` printed after the first `after` lines. */
  async nextLine(prefix: string, after: number, ms: number): Promise<string> {
    const until = Date.now() + ms
    for (;;) {
      const line = this.lines.slice(after).find((l) => l.startsWith(prefix))
      if (line !== undefined) return line
      if (this.stdoutEnded) throw new Error(`${this.name}: exited before printing "${prefix}"\n${this.log()}`)
      if (Date.now() > until) throw new Error(`${this.name}: no "${prefix}" within ${ms} ms\n${this.log()}`)
      await sleep(5)
    }
  }

  /** kill -9 of the process group; resolves once it has exited. */
  async kill9(): Promise<void> {
    killGroup(this.child, 'SIGKILL')
    await this.exited
  }

  /** SIGTERM (clean stop), then SIGKILL after `graceMs`; resolves once exited. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.alive()) return void (await this.exited)
    killGroup(this.child, 'SIGTERM')
    const t = setTimeout(() => killGroup(this.child, 'SIGKILL'), graceMs)
    await this.exited
    clearTimeout(t)
  }
}

/** A `dynamesh node` process and what identifies it. */
export interface Peer {
  index: number
  dataDir: string
  /** Node id (32 hex), from the READY line; the same after a restart on the same data dir. */
  id: string
  /** `http://127.0.0.1:PORT` of the current incarnation (a restart picks a new port). */
  http: string
  proc: Proc
}

export interface ClusterOptions {
  peers: number
  n?: number
  r?: number
  w?: number
  /** Room name; default a unique one. */
  room?: string
  /** Extra CLI arguments for every peer. */
  nodeArgs?: string[]
  /** Extra Node.js options for every peer process (e.g. `--cpu-prof`). */
  execArgv?: string[]
  /** Time for each READY line. Default 60 s (cold tsx starts on a busy machine are slow). */
  readyTimeoutMs?: number
}

let clusters = 0

/** A signaling server plus N peers in one room, under one temporary directory. */
export class TestCluster {
  readonly peers: Peer[] = []
  signal!: { proc: Proc; url: string; port: number }
  private constructor(
    readonly root: string,
    readonly opts: Required<Omit<ClusterOptions, 'nodeArgs' | 'execArgv'>> & { nodeArgs: string[]; execArgv: string[] },
  ) {}

  /** Starts signaling, then every peer in parallel; resolves once every READY line arrived. */
  static async start(options: ClusterOptions): Promise<TestCluster> {
    const root = mkdtempSync(join(tmpdir(), 'dynamesh-cluster-'))
    const opts = {
      n: 3, r: 2, w: 2, room: `c${process.pid}-${clusters++}`, nodeArgs: [], execArgv: [], readyTimeoutMs: 60_000, ...options,
    }
    const c = new TestCluster(root, opts)
    try {
      const sig = new Proc('signal', ['signal', '--host', '127.0.0.1', '--port', '0'])
      const info = await sig.ready<{ url: string; port: number }>(opts.readyTimeoutMs)
      c.signal = { proc: sig, ...info }
      await Promise.all(Array.from({ length: opts.peers }, (_, i) => c.launch(i)))
    } catch (e) {
      await c.stop()
      throw e
    }
    return c
  }

  private async launch(index: number): Promise<Peer> {
    const dataDir = join(this.root, `peer${index}`)
    mkdirSync(dataDir, { recursive: true })
    const o = this.opts
    const proc = new Proc(`peer${index}`, [
      'node', '--signal', this.signal.url, '--room', o.room, '--data', dataDir, '--http', '127.0.0.1:0',
      '--n', String(o.n), '--r', String(o.r), '--w', String(o.w), ...o.nodeArgs,
    ], undefined, { execArgv: o.execArgv })
    const info = await proc.ready<{ id: string; http: string }>(o.readyTimeoutMs)
    const prev = this.peers[index]
    if (prev && prev.id !== info.id) throw new Error(`peer${index} came back as ${info.id}, was ${prev.id}`)
    const peer: Peer = { index, dataDir, id: info.id, http: info.http, proc }
    this.peers[index] = peer
    return peer
  }

  /** Peers whose process is running. */
  livePeers(): Peer[] {
    return this.peers.filter((p) => p.proc.alive())
  }

  /** kill -9 of one peer. */
  async kill9(index: number): Promise<void> {
    await this.peers[index]!.proc.kill9()
  }

  /** Starts a peer again on its data directory (same identity, records and hints; new HTTP port). */
  async restart(index: number): Promise<Peer> {
    const p = this.peers[index]!
    if (p.proc.alive()) throw new Error(`peer${index} is still running`)
    return this.launch(index)
  }

  /** kill -9 of the signaling server. */
  async killSignal(): Promise<void> {
    await this.signal.proc.kill9()
  }

  /**
   * Polls GET /cluster of every live peer (or of `only`) until each lists every peer in `expect`
   * (default: all peers) as up and reachable, and answers /health.
   */
  async waitConverged(opts: { timeoutMs?: number; only?: number[]; expect?: number[] } = {}): Promise<void> {
    const timeoutMs = opts.timeoutMs ?? 30_000
    const until = Date.now() + timeoutMs
    const expectIds = (opts.expect ?? this.peers.map((p) => p.index)).map((i) => this.peers[i]!.id)
    let last = ''
    for (;;) {
      const who = (opts.only ?? this.peers.map((p) => p.index)).map((i) => this.peers[i]!)
      const views = await Promise.all(who.map(async (p) => {
        try {
          const res = await fetchWithTimeout(`${p.http}/cluster`, {}, 2000)
          if (res.status !== 200) return `${p.index}: HTTP ${res.status}`
          const info = (await res.json()) as { members: Array<{ id: string; status: string; reachable: boolean }> }
          const missing = expectIds.filter((id) => !info.members.some((m) => m.id === id && m.status === 'up' && m.reachable))
          return missing.length ? `${p.index} misses ${missing.map((m) => m.slice(0, 8)).join(',')}` : ''
        } catch (e) {
          return `${p.index}: ${(e as Error).message}`
        }
      }))
      last = views.filter(Boolean).join('; ')
      if (!last) return
      if (Date.now() > until) throw new Error(`cluster did not converge within ${timeoutMs} ms: ${last}`)
      await sleep(250)
    }
  }

  /** Stops every process (SIGTERM, then SIGKILL) and removes the temporary directory. */
  async stop(): Promise<void> {
    const procs = [...this.peers.map((p) => p.proc), ...(this.signal ? [this.signal.proc] : [])]
    await Promise.all(procs.map((p) => p.stop(3000)))
    rmSync(this.root, { recursive: true, force: true })
  }
}

// ---- HTTP helpers (the API of src/http/server.ts, spoken directly) ----

export const CONTEXT_HEADER = 'X-Dynamesh-Context'

export async function fetchWithTimeout(url: string, init: RequestInit, ms: number): Promise<Response> {
  const ac = new AbortController()
  const t = setTimeout(() => ac.abort(new Error(`timeout after ${ms} ms: ${init.method ?? 'GET'} ${url}`)), ms)
  try {
    return await fetch(url, { ...init, signal: ac.signal })
  } finally {
    clearTimeout(t)
  }
}

export interface KvRead {
  status: number
  /** Sibling values (decoded from the JSON form). */
  values: Buffer[]
  context: string
}

const kvUrl = (base: string, key: string, q: Record<string, number | undefined> = {}): string => {
  const qs = Object.entries(q).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`).join('&')
  return `${base}/kv/${encodeURIComponent(key)}${qs ? `?${qs}` : ''}`
}

/** PUT; resolves with the status and the new context (204 on success). */
export async function put(
  base: string,
  key: string,
  value: Uint8Array | string,
  o: { context?: string; w?: number; timeout?: number; clientMs?: number } = {},
): Promise<{ status: number; context: string; body: string }> {
  const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream' }
  if (o.context) headers[CONTEXT_HEADER] = o.context
  const res = await fetchWithTimeout(kvUrl(base, key, { w: o.w, timeout: o.timeout }), { method: 'PUT', headers, body: typeof value === 'string' ? value : new Uint8Array(value) }, o.clientMs ?? 10_000)
  const body = await res.text()
  return { status: res.status, context: res.headers.get(CONTEXT_HEADER) ?? '', body }
}

/** GET in the JSON form: every sibling, and the context. */
export async function get(base: string, key: string, o: { r?: number; timeout?: number; clientMs?: number } = {}): Promise<KvRead> {
  const res = await fetchWithTimeout(kvUrl(base, key, { r: o.r, timeout: o.timeout }), { headers: { Accept: 'application/json' } }, o.clientMs ?? 10_000)
  const text = await res.text()
  if (res.status !== 200 && res.status !== 300 && res.status !== 404) return { status: res.status, values: [], context: text }
  const body = JSON.parse(text) as { values?: string[]; context?: string }
  return { status: res.status, values: (body.values ?? []).map((v) => Buffer.from(v, 'base64')), context: body.context ?? '' }
}

/** GET /stats. */
export interface PeerStats {
  stats: { hints: number; records: number; rejected: number }
  /** Hex Merkle root of every partition the peer holds records of. */
  inspect: { hints: number; records: number; roots: Record<string, string> }
}

export async function stats(base: string): Promise<PeerStats> {
  const res = await fetchWithTimeout(`${base}/stats`, {}, 5000)
  if (res.status !== 200) throw new Error(`/stats: HTTP ${res.status}`)
  return (await res.json()) as never
}

/** Polls `cond` every `everyMs` until it returns true; throws with `what` (and the last error) after `ms`. */
export async function waitUntil(what: string, cond: () => Promise<boolean> | boolean, ms = 30_000, everyMs = 250): Promise<void> {
  const until = Date.now() + ms
  let lastErr: unknown
  for (;;) {
    try {
      if (await cond()) return
    } catch (e) {
      lastErr = e
    }
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ''}`)
    await sleep(everyMs)
  }
}

/**
 * Starts a converged cluster before the tests of the enclosing describe and stops it after them;
 * `use` receives the running cluster.
 */
export function clusterForSuite(options: ClusterOptions, use: (c: TestCluster) => void): void {
  let cluster: TestCluster | undefined
  beforeAll(async () => {
    cluster = await TestCluster.start(options)
    await cluster.waitConverged({ timeoutMs: 30_000 })
    use(cluster)
  }, 120_000)
  afterAll(async () => {
    await cluster?.stop()
  }, 30_000)
}
