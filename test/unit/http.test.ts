import { request } from 'node:http'
import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startHttpServer, type HttpServer } from '../../src/http/server.js'
import { httpDelete, httpGet, httpPut, runClientCommand } from '../../src/http/client.js'
import { isDynameshError } from '../../src/errors.js'
import { cluster, type Cluster } from '../sim/cluster.js'

const CTX = 'X-Dynamesh-Context'
const JSON_ACCEPT = { Accept: 'application/json' }
const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const b64 = (s: string): string => Buffer.from(s).toString('base64')
const unb64 = (s: string): string => Buffer.from(s, 'base64').toString()

let c: Cluster
let sa: HttpServer
let sb: HttpServer
const logs: string[] = []
const log = (l: string): void => void logs.push(l)
const url = (s: HttpServer, key: string, q = ''): string => `${s.url}/kv/${encodeURIComponent(key)}${q}`
const codeOf = async (res: Response): Promise<string> => ((await res.json()) as { error: { code: string } }).error.code
/** Values the tests stored and expect to find unchanged at the end. */
const stored = new Map<string, string[]>()

/** Sends raw bytes on a fresh socket and returns whatever comes back before the server closes it. */
function raw(port: number, data: string | Buffer, waitMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    let got = ''
    const s = connect(port, '127.0.0.1', () => s.write(data))
    const done = (): void => {
      clearTimeout(t)
      s.destroy()
      resolve(got)
    }
    const t = setTimeout(done, waitMs)
    s.on('data', (d) => (got += d.toString('latin1')))
    s.on('close', done)
    s.on('error', done)
  })
}

/** A chunked PUT (no Content-Length) of `total` bytes, written with backpressure. */
function chunkedPut(target: string, total: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(target, { method: 'PUT', headers: { 'Transfer-Encoding': 'chunked' } }, (res) => {
      let body = ''
      res.on('data', (d: Buffer) => (body += d.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    const chunk = Buffer.alloc(64 * 1024, 7)
    let sent = 0
    const pump = (): void => {
      while (sent < total) {
        sent += chunk.length
        if (!req.write(chunk)) return void req.once('drain', pump)
      }
      req.end()
    }
    pump()
  })
}

beforeAll(async () => {
  c = await cluster(5)
  sa = await startHttpServer(c.node('a'), { log })
  sb = await startHttpServer(c.node('b'), { log })
})

afterAll(async () => {
  await sa?.close()
  await sb?.close()
  await c?.stop()
})

describe('HTTP API over a simulated 5-node cluster', () => {
  it('round-trips binary bytes with a context header', async () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i)
    const put = await fetch(url(sa, 'bin/ärger key'), { method: 'PUT', body: bytes })
    expect(put.status).toBe(204)
    expect(put.headers.get(CTX)).toBeTruthy()
    const get = await fetch(url(sb, 'bin/ärger key'))
    expect(get.status).toBe(200)
    expect(get.headers.get('content-type')).toBe('application/octet-stream')
    expect(get.headers.get(CTX)).toBeTruthy()
    expect(new Uint8Array(await get.arrayBuffer())).toEqual(bytes)
    stored.set('bin/ärger key', [Buffer.from(bytes).toString('base64')])
  })

  it('keeps blind writes through two nodes as siblings; a put with the context resolves them', async () => {
    expect((await fetch(url(sa, 'sib'), { method: 'PUT', body: 'x' })).status).toBe(204)
    expect((await fetch(url(sb, 'sib'), { method: 'PUT', body: 'y' })).status).toBe(204)
    const plain = await fetch(url(sa, 'sib'))
    expect(plain.status).toBe(300)
    const json = await fetch(url(sa, 'sib'), { headers: JSON_ACCEPT })
    expect(json.status).toBe(300)
    const body = (await json.json()) as { context: string; values: string[] }
    expect(body.values.map(unb64).sort()).toEqual(['x', 'y'])
    expect(json.headers.get(CTX)).toBe(body.context)
    const put = await fetch(url(sb, 'sib'), { method: 'PUT', body: 'z', headers: { [CTX]: body.context } })
    expect(put.status).toBe(204)
    const after = await fetch(url(sa, 'sib', '?r=3'))
    expect(after.status).toBe(200)
    expect(await after.text()).toBe('z')
    stored.set('sib', [b64('z')])
  })

  it('answers Accept: application/json with the JSON form, 200 for one value and 404 when absent', async () => {
    const one = await fetch(url(sa, 'sib'), { headers: JSON_ACCEPT })
    expect(one.status).toBe(200)
    expect(((await one.json()) as { values: string[] }).values).toEqual([b64('z')])
    const absent = await fetch(url(sa, 'never-written'), { headers: JSON_ACCEPT })
    expect(absent.status).toBe(404)
    expect(absent.headers.get(CTX)).toBeNull()
    expect(await absent.json()).toEqual({ context: '', values: [] })
    const plain = await fetch(url(sa, 'never-written'))
    expect(plain.status).toBe(404)
    expect(await codeOf(plain)).toBe('NOT_FOUND')
  })

  it('deletes with a context: 204, then 404 carrying the tombstone context', async () => {
    await fetch(url(sa, 'del-k'), { method: 'PUT', body: 'gone soon' })
    const ctx = (await fetch(url(sb, 'del-k'))).headers.get(CTX) ?? ''
    const del = await fetch(url(sb, 'del-k'), { method: 'DELETE', headers: { [CTX]: ctx } })
    expect(del.status).toBe(204)
    expect(del.headers.get(CTX)).toBeTruthy()
    const get = await fetch(url(sa, 'del-k'))
    expect(get.status).toBe(404)
    expect(get.headers.get(CTX)).toBeTruthy()
    const json = (await (await fetch(url(sa, 'del-k'), { headers: JSON_ACCEPT })).json()) as { context: string; values: string[] }
    expect(json.values).toEqual([])
    expect(json.context).not.toBe('')
    expect((await fetch(url(sa, 'blind-del'), { method: 'DELETE' })).status).toBe(204)
    stored.set('del-k', [])
  })

  it('describes the cluster, its health and its stats', async () => {
    const info = (await (await fetch(`${sa.url}/cluster`)).json()) as {
      id: string
      config: Record<string, number>
      members: Array<{ id: string; status: string; reachable: boolean; weight: number }>
      partitions: string[][]
    }
    expect(info.id).toBe('a')
    expect(info.config).toEqual({ n: 3, r: 2, w: 2, q: 256 })
    expect(info.members.map((m) => m.id).sort()).toEqual(['a', 'b', 'c', 'd', 'e'])
    expect(info.members.every((m) => m.status === 'up' && m.reachable && m.weight === 1)).toBe(true)
    expect(info.partitions).toHaveLength(256)
    expect(info.partitions.every((p) => p.length === 3)).toBe(true)
    const health = await fetch(`${sb.url}/health`)
    expect(health.status).toBe(200)
    expect(await health.json()).toEqual({ ok: true, id: 'b' })
    const stats = (await (await fetch(`${sa.url}/stats`)).json()) as { stats: { records: number }; inspect: { id: string } }
    expect(typeof stats.stats.records).toBe('number')
    expect(stats.inspect.id).toBe('a')
  })

  it('rejects oversized values with 413 without reading them whole, and keeps serving', async () => {
    const big = new Uint8Array(2 * 1024 * 1024)
    const res = await fetch(url(sa, 'big'), { method: 'PUT', body: big })
    expect(res.status).toBe(413)
    expect(await codeOf(res)).toBe('VALUE_TOO_LARGE')
    const chunked = await chunkedPut(url(sa, 'big'), 2 * 1024 * 1024)
    expect(chunked.status).toBe(413)
    expect(JSON.parse(chunked.body)).toMatchObject({ error: { code: 'VALUE_TOO_LARGE' } })
    // A body limit above the node's value limit: the node's own check answers 413.
    const loose = await startHttpServer(c.node('c'), { log, maxBodyBytes: 4 * 1024 * 1024 })
    try {
      const res2 = await fetch(url(loose, 'big'), { method: 'PUT', body: new Uint8Array(1024 * 1024 + 1) })
      expect(res2.status).toBe(413)
      expect(await codeOf(res2)).toBe('VALUE_TOO_LARGE')
    } finally {
      await loose.close()
    }
    expect((await fetch(`${sa.url}/health`)).status).toBe(200)
  })

  it('maps bad input to 400, unknown routes to 404 and wrong methods to 405', async () => {
    const longKey = await fetch(url(sa, 'k'.repeat(1025)))
    expect(longKey.status).toBe(400)
    expect(await codeOf(longKey)).toBe('INVALID_KEY')
    const badPct = await fetch(`${sa.url}/kv/%E0%A4%A`)
    expect(badPct.status).toBe(400)
    expect(await codeOf(badPct)).toBe('INVALID_KEY')
    const badCtx = await fetch(url(sa, 'sib'), { method: 'PUT', body: 'q', headers: { [CTX]: 'not-a-context!' } })
    expect(badCtx.status).toBe(400)
    expect(await codeOf(badCtx)).toBe('INVALID_CONTEXT')
    for (const q of ['?r=abc', '?r=9', '?r=0', '?timeout=soon']) {
      const res = await fetch(url(sa, 'sib', q))
      expect(res.status, q).toBe(400)
      expect(await codeOf(res)).toBe('INVALID_OPTION')
    }
    const wBad = await fetch(url(sa, 'sib', '?w=1.5'), { method: 'PUT', body: 'q' })
    expect(await codeOf(wBad)).toBe('INVALID_OPTION')
    const unknown = await fetch(`${sa.url}/nope`)
    expect(unknown.status).toBe(404)
    expect(await codeOf(unknown)).toBe('NOT_FOUND')
    const post = await fetch(url(sa, 'sib'), { method: 'POST', body: 'q' })
    expect(post.status).toBe(405)
    expect(post.headers.get('allow')).toBe('GET, PUT, DELETE')
    expect(await codeOf(post)).toBe('METHOD_NOT_ALLOWED')
    const delCluster = await fetch(`${sa.url}/cluster`, { method: 'DELETE' })
    expect(delCluster.status).toBe(405)
    expect(delCluster.headers.get('allow')).toBe('GET')
  })

  it('survives garbage bytes and clients that vanish mid-body', async () => {
    const reply = await raw(sa.port, Buffer.from('\x00\x01GARBAGE \xff\xfe\r\n\r\n\x16\x03\x01'))
    expect(reply.startsWith('HTTP/1.1 400')).toBe(true)
    await raw(sa.port, 'PUT /kv/half HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nonly ten b', 200)
    await raw(sa.port, 'GET /kv/%FF HTTP/1.1\r\nHost: x\r\n', 200)
    expect((await fetch(`${sa.url}/health`)).status).toBe(200)
    expect(logs).toEqual([])
  })

  it('runs the CLI commands against the server', async () => {
    const http = ['--http', `127.0.0.1:${sa.port}`]
    const run = async (...argv: string[]): Promise<[number, string[]]> => {
      const lines: string[] = []
      const code = await runClientCommand([...argv, ...http], (s) => void lines.push(s))
      return [code, lines]
    }
    const [c1, l1] = await run('put', 'cli-k', 'hello')
    expect(c1).toBe(0)
    expect(l1[0]).toMatch(/^# context: \S+$/)
    const [, l2] = await run('get', 'cli-k')
    expect(l2[0]).toBe('hello')
    const ctx = (l2[1] ?? '').replace('# context: ', '')
    expect((await run('put', 'cli-k', 'world', '--context', ctx, '--w', '3'))[0]).toBe(0)
    const [, l3] = await run('get', 'cli-k', '--r', '3')
    expect(l3[0]).toBe('world')
    expect((await run('del', 'cli-k', `--context=${(l3[1] ?? '').slice(11)}`))[0]).toBe(0)
    expect((await run('get', 'cli-k'))[1][0]).toBe('# deleted')
    expect((await run('get', 'cli-missing'))[1]).toEqual(['# not found'])
    const [c4, l4] = await run('cluster')
    expect(c4).toBe(0)
    expect((JSON.parse(l4.join('\n')) as { members: unknown[] }).members).toHaveLength(5)
    expect((await run('frobnicate'))[0]).toBe(2)
    expect((await run('put', 'only-key'))[0]).toBe(2)
    expect((await run('get', 'k', '--r', 'abc'))[0]).toBe(2)
    const [c5, l5] = await run('get', 'k', '--r', '9')
    expect(c5).toBe(1)
    expect(l5[0]).toMatch(/^error: INVALID_OPTION/)
    const lines: string[] = []
    expect(await runClientCommand(['get', 'k', '--http', '127.0.0.1:1'], (s) => void lines.push(s))).toBe(1)
    expect(lines[0]).toMatch(/^error: UNAVAILABLE/)
    stored.set('cli-k', [])
  })

  it('library client: round trip and coded errors', async () => {
    const { context } = await httpPut(sa.url, 'lib', enc('v1'))
    const got = await httpGet(sb.url, 'lib')
    expect(got.status).toBe(200)
    expect(got.values).toEqual([enc('v1')])
    expect((await httpDelete(sa.url, 'lib', { context: got.context })).context).not.toBe(context)
    expect((await httpGet(sa.url, 'lib')).status).toBe(404)
    const err = await httpPut(sa.url, 'lib', enc('x'), { context: 'bad!' }).catch((e: unknown) => e)
    expect(isDynameshError(err, 'INVALID_CONTEXT')).toBe(true)
    stored.set('lib', [])
  })

  it('answers 503 when a quorum cannot be had, and the data survives the outage', async () => {
    for (const id of ['b', 'c', 'd', 'e']) c.net.crash(id)
    const res = await fetch(url(sa, 'during-outage', '?w=2'), { method: 'PUT', body: 'lonely' })
    expect(res.status).toBe(503)
    expect(['QUORUM_FAILED', 'TIMEOUT']).toContain(await codeOf(res))
    expect((await fetch(`${sa.url}/health`)).status).toBe(200)
    for (const id of ['b', 'c', 'd', 'e']) await c.net.restart(id)
    await c.net.settle({ quietMs: 3000 })
    for (const [key, values] of stored) {
      const body = (await (await fetch(url(sa, key, '?r=3'), { headers: JSON_ACCEPT })).json()) as { values: string[] }
      expect(body.values.sort(), key).toEqual(values)
    }
    expect(logs).toEqual([])
  })
})

describe('HTTP server robustness (stub node)', () => {
  it('aborts the node call when the client goes away, and answers 500 for unexpected throws', async () => {
    let aborted: (reason: unknown) => void = () => {}
    const sawAbort = new Promise<unknown>((resolve) => (aborted = resolve))
    const stub = {
      id: 'stub',
      get: (_k: unknown, o: { signal: AbortSignal }) =>
        new Promise((_resolve, reject) => o.signal.addEventListener('abort', () => (aborted(o.signal.reason), reject(o.signal.reason)))),
      put: async () => {
        throw new Error('boom')
      },
    }
    const lines: string[] = []
    const s = await startHttpServer(stub as never, { log: (l) => void lines.push(l) })
    try {
      const ac = new AbortController()
      const pending = fetch(`${s.url}/kv/slow`, { signal: ac.signal }).catch((e: unknown) => e)
      await new Promise((r) => setTimeout(r, 50))
      ac.abort()
      await pending
      expect(isDynameshError(await sawAbort, 'UNAVAILABLE')).toBe(true)
      const res = await fetch(`${s.url}/kv/x`, { method: 'PUT', body: 'v' })
      expect(res.status).toBe(500)
      expect(await codeOf(res)).toBe('INTERNAL')
      expect(lines.join('\n')).toMatch(/boom/)
      // Expect: 100-continue with a declared length over the limit gets 413 before any body is sent.
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(`${s.url}/kv/x`, { method: 'PUT', headers: { Expect: '100-continue', 'Content-Length': 4 * 1024 * 1024 } }, (r) => {
          r.resume()
          resolve(r.statusCode ?? 0)
        })
        req.on('continue', () => reject(new Error('server asked for the oversized body')))
        req.on('error', reject)
      })
      expect(status).toBe(413)
    } finally {
      await s.close()
    }
  })
})
