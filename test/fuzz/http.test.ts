/**
 * Fuzzing the HTTP API (src/http/server.ts) over a three-node simulated cluster: valid requests for
 * generated 'fz/' keys, then mutated ones, written on raw sockets so that nothing in an HTTP client
 * tidies them up: bad methods, paths and percent-encodings, bad query values, bad and oversized
 * contexts, duplicated and tampered Content-Length, oversized bodies, and byte mutations of the
 * whole request. Asserted for every request: it is answered (or, for byte-mangled requests only,
 * the connection is closed) within the time limit; an error is a 4xx/5xx whose JSON body carries a
 * code with that status (server.ts's table); never INTERNAL, never a logged error. At the end the
 * keys written before read back unchanged and the server still serves.
 * The status page's JSON endpoint (POST /credential, src/cli/status-page.ts) gets mutated JSON bodies.
 * Requests: 300 by default, FUZZ_RUNS / 100 with FUZZ_RUNS set.
 */
import { connect } from 'node:net'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startStatusPage, type StatusPage } from '../../src/cli/status-page.js'
import { encodeContext } from '../../src/core/record.js'
import { toHex } from '../../src/core/hash.js'
import { ERROR_STATUS, startHttpServer, type HttpServer } from '../../src/http/server.js'
import { bytes, contextVector, FUZZ_KEY_PREFIX } from './arbitraries.js'
import { SEED, TIMEOUT, runs, seeded } from './config.js'
import { confusedJson, mutatedBytes, mutatedText, mutatedToken } from './mutate.js'
import { cluster, type Cluster } from '../sim/cluster.js'

const MAX_BODY = 64 * 1024
const ANSWER_MS = 5000

interface Req {
  method: string
  target: string
  headers: Array<[string, string]>
  body: Uint8Array
  /** Content-Length to declare: the body's by default. */
  length?: string
}

const serialize = (r: Req): Buffer =>
  Buffer.concat([
    Buffer.from(
      `${r.method} ${r.target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${r.headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}` +
        `Content-Length: ${r.length ?? r.body.length}\r\nConnection: close\r\n\r\n`,
      'latin1',
    ),
    r.body,
  ])

interface Answer {
  status: number
  headers: Record<string, string>
  body: string
}

/** Writes `data`, half-closes, and parses the first response; undefined when the server closed without one. */
function send(port: number, data: Uint8Array): Promise<Answer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    const s = connect(port, '127.0.0.1', () => s.end(data))
    const timer = setTimeout(() => {
      s.destroy()
      reject(new Error(`no answer within ${ANSWER_MS} ms to ${JSON.stringify(Buffer.from(data).toString('latin1').slice(0, 300))}`))
    }, ANSWER_MS)
    s.on('data', (d: Buffer) => chunks.push(d))
    s.on('error', () => {}) // a reset after the answer: 'close' follows
    s.on('close', () => {
      clearTimeout(timer)
      resolve(parseAnswer(Buffer.concat(chunks).toString('latin1')))
    })
  })
}

/** The first final response in `text` (1xx interim responses skipped), with a Content-Length or chunked body. */
function parseAnswer(text: string): Answer | undefined {
  for (;;) {
    const end = text.indexOf('\r\n\r\n')
    if (end < 0) return undefined
    const [statusLine, ...lines] = text.slice(0, end).split('\r\n')
    const status = Number(statusLine!.split(' ')[1])
    text = text.slice(end + 4)
    if (status >= 100 && status < 200) continue
    const headers: Record<string, string> = {}
    for (const l of lines) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim()
    let body = ''
    if (headers['transfer-encoding'] === 'chunked') {
      for (let at = 0; ;) {
        const eol = text.indexOf('\r\n', at)
        const size = parseInt(text.slice(at, eol), 16)
        if (eol < 0 || !(size > 0)) break
        body += text.slice(eol + 2, eol + 2 + size)
        at = eol + 2 + size + 2
      }
    } else body = text.slice(0, Number(headers['content-length'] ?? 0))
    return { status, headers, body: Buffer.from(body, 'latin1').toString('utf8') }
  }
}

const OK_STATUSES = [200, 204, 300]

/** What every answer of the kv server must look like. `head`: HEAD answers carry no body. */
function checkAnswer(a: Answer, head: boolean): void {
  if (OK_STATUSES.includes(a.status)) return
  expect(a.status).toBeGreaterThanOrEqual(400)
  expect(a.status).toBeLessThan(600)
  if (head) return
  const body = JSON.parse(a.body) as { error?: { code: string; message: string }; values?: unknown[] }
  // A JSON get of a missing key is a 404 in the get's own shape.
  if (a.status === 404 && Array.isArray(body.values)) return
  const code = body.error?.code as keyof typeof ERROR_STATUS
  expect(typeof body.error?.message).toBe('string')
  expect(code).not.toBe('INTERNAL')
  // The parser's own refusals (clientError) are INVALID_MESSAGE with 400, 408 or 431; an unknown Expect, 417.
  if (code === 'INVALID_MESSAGE' && [400, 408, 417, 431].includes(a.status)) return
  expect(ERROR_STATUS[code], `code ${code}`).toBe(a.status)
}

// ---- generators ----

const fuzzKey = fc.string({ maxLength: 24 }).map((s) => encodeURIComponent(FUZZ_KEY_PREFIX + s))
const query = fc
  .record({ w: fc.integer({ min: 1, max: 3 }), r: fc.integer({ min: 1, max: 3 }), timeout: fc.integer({ min: 200, max: 2000 }) }, { requiredKeys: [] })
  .map((q) => (Object.keys(q).length ? `?${new URLSearchParams(Object.entries(q).map(([k, v]) => [k, String(v)]))}` : ''))
const context = seeded(contextVector.map(encodeContext), 300)
const header = fc.oneof(
  context.map((c): [string, string] => ['X-Dynamesh-Context', c]),
  fc.constantFrom<[string, string]>(['Accept', 'application/json'], ['Accept', '*/*'], ['Accept', 'application/json;q=0'], ['Expect', '100-continue']),
)
const kvRequest: fc.Arbitrary<Req> = fc
  .record({ method: fc.constantFrom('GET', 'PUT', 'DELETE'), key: fuzzKey, query, headers: fc.array(header, { maxLength: 3 }), body: bytes(0, 2000) })
  .map(({ method, key, query: q, headers, body }) => ({ method, target: `/kv/${key}${q}`, headers, body: method === 'PUT' ? body : new Uint8Array(0) }))
const infoRequest: fc.Arbitrary<Req> = fc.constantFrom('/cluster', '/health', '/stats').map((target) => ({ method: 'GET', target, headers: [], body: new Uint8Array(0) }))
const validRequest = fc.oneof({ weight: 6, arbitrary: kvRequest }, { weight: 1, arbitrary: infoRequest })

/** One structural change to a request. */
type ReqEdit = (r: Req) => Req
const reqEdit: fc.Arbitrary<ReqEdit> = fc.oneof(
  fc.constantFrom('POST', 'PATCH', 'OPTIONS', 'HEAD', 'FOO', 'get', 'GET /x', '').map((method): ReqEdit => (r) => ({ ...r, method })),
  mutatedText(fc.constant('/kv/fz%2Fkey?w=2')).map((target): ReqEdit => (r) => ({ ...r, target })),
  fc.constantFrom('%', '%zz', '%E0%A4', '%C0%AF', '%00', '/..', '//', '#x', '?', '&', '%2F', 'é', ' ').chain((junk) =>
    fc.nat().map((at): ReqEdit => (r) => ({ ...r, target: r.target.slice(0, at % (r.target.length + 1)) + junk + r.target.slice(at % (r.target.length + 1)) }))),
  fc.tuple(fc.constantFrom('w', 'r', 'timeout'), fc.constantFrom('-1', '0', 'abc', '1e9', '999999', '4', '65', '1.5', '', '9999999999', '0x10', '%31'))
    .map(([k, v]): ReqEdit => (r) => ({ ...r, target: `${r.target}${r.target.includes('?') ? '&' : '?'}${k}=${v}` })),
  fc.integer({ min: 1, max: 3000 }).map((n): ReqEdit => (r) => ({ ...r, target: `/kv/${'k'.repeat(n)}` })),
  mutatedToken(context).map((c): ReqEdit => (r) => ({ ...r, headers: [...r.headers, ['X-Dynamesh-Context', c]] })),
  fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('A'.repeat(20_000), '\u0000', 'a\r\nX-Injected: 1', ' ')).map((c): ReqEdit => (r) => ({ ...r, headers: [...r.headers, ['X-Dynamesh-Context', c]] })),
  fc.constantFrom('-1', '0', 'abc', '99999999999', '1, 2', '').map((length): ReqEdit => (r) => ({ ...r, length })),
  fc.constant<ReqEdit>((r) => ({ ...r, headers: [...r.headers, ['Content-Length', String(r.body.length + 1)]] })),
  fc.constant<ReqEdit>((r) => ({ ...r, headers: [...r.headers, ['Transfer-Encoding', 'chunked']] })),
  fc.constantFrom(['Accept', 'application/json;q=abc'], ['Accept', ',,,;;;'], ['Expect', 'nonsense'], ['Host', ''], ['X-' + 'a'.repeat(300), 'x']).map((h): ReqEdit => (r) => ({ ...r, headers: [...r.headers, h as [string, string]] })),
  fc.integer({ min: MAX_BODY + 1, max: MAX_BODY + 8192 }).map((n): ReqEdit => (r) => ({ ...r, method: 'PUT', body: new Uint8Array(n).fill(7) })),
  fc.nat().map((at): ReqEdit => (r) => ({ ...r, body: r.body.subarray(0, r.body.length ? at % r.body.length : 0) })),
)
const mutatedRequest = fc.tuple(seeded(validRequest, 500), fc.array(reqEdit, { minLength: 1, maxLength: 3 })).map(([r, edits]) => edits.reduce((acc, e) => e(acc), r))

type Input = { raw: boolean; head: boolean; data: Uint8Array }
const input: fc.Arbitrary<Input> = fc.oneof(
  { weight: 2, arbitrary: validRequest.map((r) => ({ raw: false, head: false, data: serialize(r) })) },
  { weight: 5, arbitrary: mutatedRequest.map((r) => ({ raw: false, head: r.method === 'HEAD', data: serialize(r) })) },
  { weight: 2, arbitrary: mutatedBytes(seeded(validRequest, 500).map(serialize)).map((data) => ({ raw: true, head: true, data })) },
)

// ---- the cluster, the servers, the keys to keep ----

let c: Cluster
let server: HttpServer
let page: StatusPage
const logs: string[] = []
const KEPT = Array.from({ length: 8 }, (_, i) => `kept/${i}`)
const before = new Map<string, string>()

const getKept = async (key: string): Promise<string> => {
  const a = await send(server.port, serialize({ method: 'GET', target: `/kv/${encodeURIComponent(key)}`, headers: [['Accept', 'application/json']], body: new Uint8Array(0) }))
  const body = JSON.parse(a!.body) as { values: string[] }
  return `${a!.status} ${JSON.stringify(body.values.sort())}`
}

beforeAll(async () => {
  c = await cluster(3, { seed: SEED, q: 64 })
  server = await startHttpServer(c.node('a'), { log: (l) => void logs.push(l), maxBodyBytes: MAX_BODY })
  for (const [i, k] of KEPT.entries()) await c.node(i % 2 ? 'b' : 'c').put(k, `value ${i}`)
  await c.node('b').put(KEPT[0]!, 'concurrent')
  for (const k of KEPT) before.set(k, await getKept(k))
  const secret = new Uint8Array(32).fill(5)
  page = await startStatusPage({ port: 0, signalUrl: 'ws://127.0.0.1:1', peers: [], admit: (key) => Uint8Array.from([...secret, ...key]), log: (l) => void logs.push(l) })
})

afterAll(async () => {
  await page?.close()
  await server?.close()
  await c?.stop()
})

describe('fuzz: HTTP API (http/server.ts)', () => {
  it('valid, mutated and byte-mangled requests: each answered with a success or a JSON error of the matching status, never INTERNAL', async () => {
    let answered = 0
    await fc.assert(
      fc.asyncProperty(input, async ({ raw, head, data }) => {
        const a = await send(server.port, data)
        if (a === undefined) {
          // Only a request mangled below HTTP may end without an answer (nothing parseable arrived).
          expect(raw).toBe(true)
          return
        }
        answered++
        checkAnswer(a, head)
      }),
      { seed: SEED, numRuns: runs(300, 100) },
    )
    expect(answered).toBeGreaterThan(0)
    expect(logs).toEqual([])
  }, TIMEOUT)

  it('afterwards the server still serves and every kept key reads back unchanged', async () => {
    const health = await send(server.port, serialize({ method: 'GET', target: '/health', headers: [], body: new Uint8Array(0) }))
    expect(health?.status).toBe(200)
    for (const k of KEPT) expect(await getKept(k)).toBe(before.get(k))
    expect(logs).toEqual([])
  }, TIMEOUT)
})

describe('fuzz: the status page JSON endpoint (cli/status-page.ts, POST /credential)', () => {
  it('mutated JSON bodies get 200 with a credential or 400 INVALID_KEY, nothing else', async () => {
    const valid = seeded(bytes(32, 32).map((k) => JSON.stringify({ publicKey: toHex(k) })), 200)
    const body = fc.oneof(mutatedText(valid), confusedJson(valid, ['publicKey'], 'publicKey'), fc.string({ maxLength: 30 }))
    await fc.assert(
      fc.asyncProperty(body, async (text) => {
        const payload = Buffer.from(text)
        const a = await send(Number(new URL(page.url).port), serialize({ method: 'POST', target: '/credential', headers: [['Content-Type', 'application/json']], body: payload }))
        expect(a).toBeDefined()
        if (a!.status === 200) {
          expect((JSON.parse(a!.body) as { credential: string }).credential).toMatch(/^[0-9a-f]{128}$/)
          return
        }
        expect([a!.status, (JSON.parse(a!.body) as { error: { code: string } }).error.code]).toEqual([400, 'INVALID_KEY'])
      }),
      { seed: SEED, numRuns: runs(100, 100) },
    )
    expect(logs).toEqual([])
  }, TIMEOUT)
})

describe('regressions found by fuzzing', () => {
  it('an Expect other than 100-continue is answered 417 with a JSON error, and the server goes on serving', async () => {
    const a = await send(server.port, serialize({ method: 'PUT', target: '/kv/fz%2Fexpect', headers: [['Expect', 'nonsense']], body: Buffer.from('x') }))
    expect(a?.status).toBe(417)
    expect(JSON.parse(a!.body)).toMatchObject({ error: { code: 'INVALID_MESSAGE' } })
    expect((await send(server.port, serialize({ method: 'GET', target: '/health', headers: [], body: new Uint8Array(0) })))?.status).toBe(200)
  })
})
