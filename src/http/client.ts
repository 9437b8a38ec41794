/**
 * A tiny client of the HTTP API in `server.ts`, over the global `fetch`, and the `put | get | del |
 * cluster` commands the CLI runs with it (`npx dynamesh get KEY --http 127.0.0.1:8080`).
 */
import type { ClusterInfo } from '../api.js'
import { DynameshError, isErrorCode } from '../errors.js'

const CONTEXT_HEADER = 'X-Dynamesh-Context'

/** Options every call takes. */
export interface HttpCallOptions {
  /** Server-side timeout of the node call, in ms (query `timeout`). */
  timeoutMs?: number
  signal?: AbortSignal
}

/** Options of {@link httpGet}. */
export interface HttpGetOptions extends HttpCallOptions {
  r?: number
}

/** Options of {@link httpPut} and {@link httpDelete}. */
export interface HttpWriteOptions extends HttpCallOptions {
  /** Context from a get; without one the write is blind. */
  context?: string
  w?: number
}

/** What a get returns: `status` is 200 (one value), 300 (siblings) or 404 (absent or deleted). */
export interface HttpGetResult {
  status: number
  values: Uint8Array[]
  /** Opaque causal context; empty when the key never existed. */
  context: string
}

/**
 * An error answer of the server. `code` is the server's code when it is one of the node's codes,
 * otherwise (NOT_FOUND route, METHOD_NOT_ALLOWED, INTERNAL) `UNAVAILABLE`; `serverCode` is always the
 * server's own.
 */
export class DynameshHttpError extends DynameshError {
  readonly status: number
  readonly serverCode: string
  constructor(status: number, serverCode: string, message: string) {
    super(isErrorCode(serverCode) ? serverCode : 'UNAVAILABLE', message)
    this.name = 'DynameshHttpError'
    this.status = status
    this.serverCode = serverCode
  }
}


/** `127.0.0.1:8080` or `http://127.0.0.1:8080/` → `http://127.0.0.1:8080`. */
function baseUrl(base: string): string {
  const b = /^https?:\/\//i.test(base) ? base : `http://${base}`
  return b.replace(/\/+$/, '')
}

function kvUrl(base: string, key: string, params: Record<string, number | undefined>): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v))
  const qs = q.toString()
  return `${baseUrl(base)}/kv/${encodeURIComponent(key)}${qs ? `?${qs}` : ''}`
}

async function call(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init)
  } catch (e) {
    if (init.signal?.aborted) throw e
    throw new DynameshError('UNAVAILABLE', `cannot reach ${url}: ${e instanceof Error ? (e.cause as Error | undefined)?.message ?? e.message : String(e)}`, { cause: e })
  }
}

async function errorOf(res: Response): Promise<DynameshHttpError> {
  const text = await res.text().catch(() => '')
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }
    if (typeof body.error?.code === 'string') return new DynameshHttpError(res.status, body.error.code, String(body.error.message ?? body.error.code))
  } catch {
    // Not our JSON: fall through to the status line.
  }
  return new DynameshHttpError(res.status, 'UNAVAILABLE', `HTTP ${res.status} ${res.statusText}`.trim())
}

/** Reads a key: every sibling value and the context, in the JSON form (200, 300 or 404). */
export async function httpGet(base: string, key: string, opts: HttpGetOptions = {}): Promise<HttpGetResult> {
  const res = await call(kvUrl(base, key, { r: opts.r, timeout: opts.timeoutMs }), {
    headers: { Accept: 'application/json' },
    ...(opts.signal ? { signal: opts.signal } : {}),
  })
  if (res.status === 200 || res.status === 300 || res.status === 404) {
    const body = (await res.json().catch(() => ({}))) as { context?: unknown; values?: unknown }
    if (Array.isArray(body.values) && typeof body.context === 'string') {
      const values = body.values.map((v) => new Uint8Array(Buffer.from(String(v), 'base64')))
      return { status: res.status, values, context: body.context }
    }
    if (res.status === 404) throw new DynameshHttpError(404, 'NOT_FOUND', `no key route at ${baseUrl(base)}`)
    throw new DynameshError('INVALID_MESSAGE', `unexpected reply to a get (HTTP ${res.status})`)
  }
  throw await errorOf(res)
}

async function write(method: 'PUT' | 'DELETE', base: string, key: string, body: Uint8Array | undefined, opts: HttpWriteOptions): Promise<{ context: string }> {
  const headers: Record<string, string> = {}
  if (opts.context) headers[CONTEXT_HEADER] = opts.context
  if (body) headers['Content-Type'] = 'application/octet-stream'
  const res = await call(kvUrl(base, key, { w: opts.w, timeout: opts.timeoutMs }), {
    method,
    headers,
    ...(body ? { body: new Uint8Array(body) } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  })
  if (res.status !== 204 && res.status !== 200) throw await errorOf(res)
  await res.arrayBuffer().catch(() => undefined)
  return { context: res.headers.get(CONTEXT_HEADER) ?? '' }
}

/** Writes a value; returns the new version's context. */
export function httpPut(base: string, key: string, value: Uint8Array, opts: HttpWriteOptions = {}): Promise<{ context: string }> {
  return write('PUT', base, key, value, opts)
}

/** Deletes a key (with the context of a get, or blind); returns the tombstone's context. */
export function httpDelete(base: string, key: string, opts: HttpWriteOptions = {}): Promise<{ context: string }> {
  return write('DELETE', base, key, undefined, opts)
}

/** The serving node's view of the cluster. */
export async function httpCluster(base: string, opts: HttpCallOptions = {}): Promise<ClusterInfo> {
  const res = await call(`${baseUrl(base)}/cluster`, { headers: { Accept: 'application/json' }, ...(opts.signal ? { signal: opts.signal } : {}) })
  if (res.status !== 200) throw await errorOf(res)
  return (await res.json()) as ClusterInfo
}

/** Usage text of the client commands. */
export const CLIENT_USAGE = `usage:
  dynamesh put KEY VALUE [--context C] [--w N] [--timeout MS] [--http HOST:PORT]
  dynamesh get KEY [--r N] [--timeout MS] [--http HOST:PORT]
  dynamesh del KEY [--context C] [--w N] [--timeout MS] [--http HOST:PORT]
  dynamesh cluster [--http HOST:PORT]
HOST:PORT defaults to 127.0.0.1:8080. get prints each sibling on its own line, then "# context: C".`

const COMMANDS: Record<string, { args: number; flags: string[] }> = {
  put: { args: 2, flags: ['context', 'w', 'timeout', 'http'] },
  get: { args: 1, flags: ['r', 'timeout', 'http'] },
  del: { args: 1, flags: ['context', 'w', 'timeout', 'http'] },
  cluster: { args: 0, flags: ['http'] },
}

class UsageError extends Error {}

function parse(argv: string[]): { cmd: string; args: string[]; flags: Map<string, string> } {
  const [cmd = '', ...rest] = argv
  const spec = Object.hasOwn(COMMANDS, cmd) ? COMMANDS[cmd] : undefined
  if (!spec) throw new UsageError(cmd ? `unknown command: ${cmd}` : 'missing command')
  const args: string[] = []
  const flags = new Map<string, string>()
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i] as string
    if (!a.startsWith('--')) {
      args.push(a)
      continue
    }
    const eq = a.indexOf('=')
    const name = a.slice(2, eq < 0 ? undefined : eq)
    const value = eq < 0 ? rest[++i] : a.slice(eq + 1)
    if (!spec.flags.includes(name)) throw new UsageError(`unknown option for ${cmd}: --${name}`)
    if (value === undefined) throw new UsageError(`--${name} needs a value`)
    flags.set(name, value)
  }
  if (args.length !== spec.args) throw new UsageError(`${cmd} takes ${spec.args} argument${spec.args === 1 ? '' : 's'}, got ${args.length}`)
  for (const n of ['w', 'r', 'timeout']) {
    const v = flags.get(n)
    if (v !== undefined && !/^\d+$/.test(v)) throw new UsageError(`--${n} must be a whole number`)
  }
  return { cmd, args, flags }
}

/**
 * Runs one client command (`put`, `get`, `del`, `cluster`) against a server; writes results to
 * `out`. Returns the exit code: 0 done (a get of an absent key included), 1 failed, 2 bad usage.
 */
export async function runClientCommand(argv: string[], out: (s: string) => void): Promise<number> {
  if (argv[0] === 'help' || argv.includes('--help')) {
    out(CLIENT_USAGE)
    return 0
  }
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse(argv)
  } catch (e) {
    out(`${(e as Error).message}\n${CLIENT_USAGE}`)
    return 2
  }
  const { cmd, args, flags } = parsed
  const base = flags.get('http') ?? '127.0.0.1:8080'
  const num = (n: string): number | undefined => (flags.has(n) ? Number(flags.get(n)) : undefined)
  const timeoutMs = num('timeout')
  const common = timeoutMs !== undefined ? { timeoutMs } : {}
  const key = args[0] ?? ''
  try {
    if (cmd === 'get') {
      const r = num('r')
      const res = await httpGet(base, key, { ...common, ...(r !== undefined ? { r } : {}) })
      const decoder = new TextDecoder()
      for (const v of res.values) out(decoder.decode(v))
      if (res.status === 404) out(res.context ? '# deleted' : '# not found')
      if (res.context) out(`# context: ${res.context}`)
    } else if (cmd === 'put' || cmd === 'del') {
      const w = num('w')
      const context = flags.get('context')
      const opts = { ...common, ...(w !== undefined ? { w } : {}), ...(context ? { context } : {}) }
      const res = cmd === 'put' ? await httpPut(base, key, new TextEncoder().encode(args[1] ?? ''), opts) : await httpDelete(base, key, opts)
      out(`# context: ${res.context}`)
    } else {
      out(JSON.stringify(await httpCluster(base), null, 2))
    }
    return 0
  } catch (e) {
    if (e instanceof DynameshError) out(`error: ${e instanceof DynameshHttpError ? e.serverCode : e.code}: ${e.message}`)
    else out(`error: ${e instanceof Error ? e.message : String(e)}`)
    return 1
  }
}
