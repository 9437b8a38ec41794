/**
 * The HTTP API of a Node peer (DESIGN.md section 1, "client interfaces"; paper section 4.5): any peer
 * takes a request for any key and coordinates it. Values travel as raw bytes; the causal context of a
 * get travels in the `X-Dynamesh-Context` header and comes back on the put or delete that follows.
 *
 *   PUT    /kv/{key}?w=&timeout=   body = value bytes        → 204 + context header
 *   GET    /kv/{key}?r=&timeout=   → 200 bytes | 300 JSON siblings | 404   (Accept JSON: always JSON)
 *   DELETE /kv/{key}?w=&timeout=   context header optional   → 204 + context header
 *   GET    /cluster  /health  /stats                          → JSON
 *
 * Untrusted input never throws out of a callback (STYLE.md 8): every failure becomes a JSON error
 * with a stable code, and anything unexpected is a logged 500, never a crashed process.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { Context, DynameshNode, GetResult } from '../api.js'
import { DynameshError, type ErrorCode } from '../errors.js'
import { MAX_VALUE_BYTES } from '../limits.js'

/** Header carrying the opaque causal context (see {@link Context}). */
export const CONTEXT_HEADER = 'X-Dynamesh-Context'

/** Default request body limit: the node's default 1 MiB value limit plus a little, so the node's own check speaks for values just over it. */
export const DEFAULT_MAX_BODY_BYTES = MAX_VALUE_BYTES + 1024

/** Error codes an HTTP reply can carry: the node's codes plus three of the HTTP layer's own. */
export type HttpErrorCode = ErrorCode | 'NOT_FOUND' | 'METHOD_NOT_ALLOWED' | 'INTERNAL'

/** The one table from error code to HTTP status. */
export const ERROR_STATUS: Readonly<Record<HttpErrorCode, number>> = {
  INVALID_KEY: 400, KEY_TOO_LARGE: 400, INVALID_VALUE: 400, INVALID_CONTEXT: 400, INVALID_OPTION: 400, INVALID_MESSAGE: 400,
  UNAUTHORIZED: 403, NOT_FOUND: 404, METHOD_NOT_ALLOWED: 405,
  // The key has too many siblings: a conflict the client resolves (read, merge, write back with the context).
  TOO_MANY_SIBLINGS: 409,
  VALUE_TOO_LARGE: 413, RECORD_TOO_LARGE: 413,
  INTERNAL: 500, STORAGE_FAILED: 500,
  QUORUM_FAILED: 503, TIMEOUT: 503, NOT_RUNNING: 503, NOT_OWNER: 503, UNAVAILABLE: 503, MESSAGE_TOO_LARGE: 503, OVERLOADED: 503,
}

/** Options of {@link startHttpServer}. */
export interface HttpServerOptions {
  /** Interface to bind. Default 127.0.0.1. */
  host?: string
  /** Port; 0 (the default) picks a free one. */
  port?: number
  /** Receives one line per unexpected error. Default: console.error. */
  log?: (line: string) => void
  /** Largest request body read, in bytes. Default {@link DEFAULT_MAX_BODY_BYTES}; the node's own value limit still applies. */
  maxBodyBytes?: number
}

/** A running server. */
export interface HttpServer {
  url: string
  port: number
  /** Stops accepting, closes every connection (idle keep-alive ones too) and resolves when closed. */
  close(): Promise<void>
}

/** After answering a request early (413), this much of its unread body is drained and dropped so the client reads the answer; past it the socket is cut. */
const LINGER_BYTES = 8 * 1024 * 1024
const LINGER_MS = 5000

/** An error answered as-is: code, message and extra headers (Allow). */
class HttpProblem extends Error {
  constructor(
    readonly code: HttpErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
  }
}

const notAllowed = (allow: string): HttpProblem =>
  new HttpProblem('METHOD_NOT_ALLOWED', `method not allowed; use ${allow}`, { Allow: allow })

/** Starts serving `node` over HTTP; resolves once listening. */
export function startHttpServer(node: DynameshNode, opts: HttpServerOptions = {}): Promise<HttpServer> {
  const host = opts.host ?? '127.0.0.1'
  const log = opts.log ?? ((line: string) => console.error(line))
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES
  if (!Number.isInteger(maxBody) || maxBody < 0) throw new TypeError('maxBodyBytes must be a whole number of bytes')
  const server = createServer({
    keepAliveTimeout: 5000,
    // Slow clients cannot hold a socket: headers within 10 s, the whole request within 30 s.
    headersTimeout: 10_000,
    requestTimeout: 30_000,
    connectionsCheckingInterval: 5000,
  })

  const onRequest = (req: IncomingMessage, res: ServerResponse, expectContinue: boolean): void => {
    const ac = new AbortController()
    // A client that goes away before its answer aborts the node call it started.
    res.once('close', () => {
      if (!res.writableFinished) ac.abort(new DynameshError('UNAVAILABLE', 'client disconnected'))
    })
    route(node, req, res, { signal: ac.signal, maxBody, expectContinue })
      .catch((e: unknown) => fail(req, res, e, log))
      .catch((e: unknown) => {
        log(`http: failed to answer ${req.method} ${req.url}: ${String(e)}`)
        res.destroy()
      })
  }
  server.on('request', (req, res) => onRequest(req, res, false))
  server.on('checkContinue', (req, res) => onRequest(req, res, true))
  // Any other Expect: Node would answer 417 with an empty body; answer it in the API's JSON shape.
  server.on('checkExpectation', (req, res) => {
    sendJson(res, 417, { error: { code: 'INVALID_MESSAGE', message: 'unsupported Expect header; only 100-continue is' } })
    discardRest(req)
  })
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy()
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400
    const body = JSON.stringify({ error: { code: 'INVALID_MESSAGE', message: 'malformed HTTP request' } })
    socket.end(`HTTP/1.1 ${status} Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`)
  })
  server.on('error', (e) => log(`http: server error: ${String(e)}`))

  let closing: Promise<void> | undefined
  const close = (): Promise<void> =>
    (closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    }))

  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject)
      const port = (server.address() as AddressInfo).port
      const h = host.includes(':') ? `[${host}]` : host
      resolve({ url: `http://${h}:${port}`, port, close })
    })
  })
}

interface RouteOptions {
  signal: AbortSignal
  maxBody: number
  expectContinue: boolean
}

async function route(node: DynameshNode, req: IncomingMessage, res: ServerResponse, o: RouteOptions): Promise<void> {
  const raw = req.url ?? '/'
  const qi = raw.indexOf('?')
  const path = qi < 0 ? raw : raw.slice(0, qi)
  const query = new URLSearchParams(qi < 0 ? '' : raw.slice(qi + 1))
  if (path.startsWith('/kv/')) return kv(node, req, res, path.slice(4), query, o)
  const get = Object.hasOwn(GET_ROUTES, path) ? GET_ROUTES[path] : undefined
  if (!get) throw new HttpProblem('NOT_FOUND', `no such resource: ${path.slice(0, 200)}`)
  if (req.method !== 'GET') throw notAllowed('GET')
  const [status, body] = await get(node)
  sendJson(res, status, body)
}

const GET_ROUTES: Record<string, (node: DynameshNode) => Promise<[number, unknown]>> = {
  '/cluster': async (node) => [200, node.cluster()],
  '/health': async (node) => {
    // The interface has no running(); the node class has. Without it, answering is the proof.
    const running = (node as { running?: () => boolean }).running
    const ok = typeof running !== 'function' || running.call(node)
    return ok ? [200, { ok: true, id: node.id }] : [503, { ok: false, id: node.id, error: { code: 'NOT_RUNNING', message: 'node is stopped' } }]
  },
  '/stats': async (node) => [200, { stats: await node.stats(), inspect: node.inspect() }],
}

async function kv(
  node: DynameshNode,
  req: IncomingMessage,
  res: ServerResponse,
  rawKey: string,
  query: URLSearchParams,
  o: RouteOptions,
): Promise<void> {
  let key: string
  try {
    key = decodeURIComponent(rawKey)
  } catch {
    throw new DynameshError('INVALID_KEY', 'key is not valid percent-encoded UTF-8')
  }
  const timeoutMs = numberParam(query, 'timeout')
  const base = { signal: o.signal, ...(timeoutMs !== undefined ? { timeoutMs } : {}) }
  switch (req.method) {
    case 'GET': {
      const r = intParam(query, 'r')
      const result = await node.get(key, { ...base, ...(r !== undefined ? { r } : {}) })
      return sendGet(res, result, wantsJson(req.headers.accept))
    }
    case 'PUT': {
      const w = intParam(query, 'w')
      const context = contextHeader(req)
      const body = await readBody(req, res, o.maxBody, o.expectContinue)
      const out = await node.put(key, body, { ...base, ...(w !== undefined ? { w } : {}), ...(context ? { context } : {}) })
      return noContent(res, out.context)
    }
    case 'DELETE': {
      const w = intParam(query, 'w')
      const context = contextHeader(req)
      const out = await node.delete(key, { ...base, ...(w !== undefined ? { w } : {}), ...(context ? { context } : {}) })
      return noContent(res, out.context)
    }
    default:
      throw notAllowed('GET, PUT, DELETE')
  }
}

function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name)
  if (v === null) return undefined
  if (!/^\d{1,6}$/.test(v)) throw new DynameshError('INVALID_OPTION', `${name} must be a whole number, got ${JSON.stringify(v.slice(0, 50))}`)
  return Number(v)
}

function numberParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name)
  if (v === null) return undefined
  if (!/^\d{1,9}(\.\d{1,6})?$/.test(v)) throw new DynameshError('INVALID_OPTION', `${name} must be a number of milliseconds, got ${JSON.stringify(v.slice(0, 50))}`)
  return Number(v)
}

function contextHeader(req: IncomingMessage): Context | undefined {
  const v = req.headers[CONTEXT_HEADER.toLowerCase()]
  if (v === undefined || v === '') return undefined
  // Duplicate headers arrive joined (or as a list); either way not one context.
  return (Array.isArray(v) ? v.join(', ') : v) as Context
}

/** True when the client accepts application/json (q > 0), which selects the JSON form of a get. */
function wantsJson(accept: string | undefined): boolean {
  if (!accept) return false
  return accept.split(',').some((part) => {
    const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase())
    return type === 'application/json' && !params.some((p) => /^q=0(\.0*)?$/.test(p))
  })
}

/** Reads the body, keeping at most `max` bytes: past that it pauses the request and rejects with VALUE_TOO_LARGE. */
function readBody(req: IncomingMessage, res: ServerResponse, max: number, expectContinue: boolean): Promise<Buffer> {
  const declared = Number(req.headers['content-length'])
  if (declared > max) return Promise.reject(tooLarge(declared, max))
  if (expectContinue) res.writeContinue()
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const done = (): void => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      req.off('close', onClose)
    }
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size <= max) return void chunks.push(chunk)
      done()
      req.pause()
      chunks.length = 0
      reject(tooLarge(size, max))
    }
    const onEnd = (): void => {
      done()
      resolve(Buffer.concat(chunks, size))
    }
    const onError = (e: Error): void => {
      done()
      reject(new DynameshError('UNAVAILABLE', 'request body failed', { cause: e }))
    }
    const onClose = (): void => {
      done()
      if (!req.complete) reject(new DynameshError('UNAVAILABLE', 'client disconnected'))
    }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
    req.on('close', onClose)
  })
}

const tooLarge = (size: number, max: number): DynameshError =>
  new DynameshError('VALUE_TOO_LARGE', `request body is at least ${size} bytes; the limit is ${max}`)

/**
 * After an early answer, drops the rest of the body (so a client still sending can read the answer)
 * up to a bound in bytes and time; past it, cuts the connection rather than read forever.
 */
function discardRest(req: IncomingMessage): void {
  if (req.complete || req.destroyed) return
  let left = LINGER_BYTES
  const cut = (): void => void req.socket.destroy()
  const timer = setTimeout(cut, LINGER_MS)
  timer.unref()
  const stop = (): void => clearTimeout(timer)
  req.on('data', (chunk: Buffer) => {
    left -= chunk.length
    if (left < 0) {
      stop()
      cut()
    }
  })
  req.once('end', stop)
  req.once('close', stop)
  req.on('error', stop)
  req.resume()
}

function fail(req: IncomingMessage, res: ServerResponse, e: unknown, log: (line: string) => void): void {
  if (res.destroyed || res.writableEnded) return
  if (res.headersSent) return void res.destroy()
  let code: HttpErrorCode
  let message: string
  let headers: Record<string, string> = {}
  if (e instanceof HttpProblem) {
    ;({ code, message, headers } = e)
  } else if (e instanceof DynameshError && e.code in ERROR_STATUS) {
    ;({ code, message } = e)
  } else {
    code = 'INTERNAL'
    message = 'internal error'
    log(`http: ${req.method} ${(req.url ?? '').slice(0, 200)} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`)
  }
  sendJson(res, ERROR_STATUS[code], { error: { code, message } }, headers)
  discardRest(req)
}

function sendGet(res: ServerResponse, r: GetResult, json: boolean): void {
  const headers: Record<string, string> = { Vary: 'Accept', ...(r.context ? { [CONTEXT_HEADER]: r.context } : {}) }
  const n = r.values.length
  const status = n === 0 ? 404 : n > 1 ? 300 : 200
  if (json || n > 1) {
    return sendJson(res, status, { context: r.context, values: r.values.map((v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')) }, headers)
  }
  if (n === 0) return sendJson(res, 404, { error: { code: 'NOT_FOUND', message: r.deleted ? 'key was deleted' : 'key not found' } }, headers)
  const v = r.values[0] as Uint8Array
  send(res, 200, 'application/octet-stream', v, headers)
}

function noContent(res: ServerResponse, context: Context): void {
  if (res.destroyed) return
  res.writeHead(204, { 'Cache-Control': 'no-store', ...(context ? { [CONTEXT_HEADER]: context } : {}) })
  res.end()
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  send(res, status, 'application/json; charset=utf-8', Buffer.from(JSON.stringify(body)), headers)
}

function send(res: ServerResponse, status: number, type: string, body: Uint8Array, headers: Record<string, string>): void {
  if (res.destroyed) return
  res.writeHead(status, { ...headers, 'Content-Type': type, 'Content-Length': String(body.byteLength), 'Cache-Control': 'no-store' })
  res.end(body)
}
