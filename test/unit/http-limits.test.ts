/**
 * The record and sibling limits through the HTTP API and the CLI: a write that would grow its key
 * past a limit answers 413 RECORD_TOO_LARGE or 409 TOO_MANY_SIBLINGS with a message that names the
 * key's siblings and size and says how to resolve them; the key keeps working for every peer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { httpGet, httpPut, runClientCommand, DynameshHttpError } from '../../src/http/client.js'
import { startHttpServer, type HttpServer } from '../../src/http/server.js'
import { createNode, memoryStorage, type DynameshNode } from '../../src/index.js'
import { MAX_RECORD_BYTES, MAX_SIBLINGS } from '../../src/limits.js'
import { createSimNetwork, type SimNetwork } from '../../src/sim/index.js'

let net: SimNetwork
const nodes: DynameshNode[] = []
const servers: HttpServer[] = []
const big = (i: number): Uint8Array => new Uint8Array(1_000_000).fill(i)

beforeAll(async () => {
  net = createSimNetwork({ seed: 3 })
  for (const id of ['a', 'b', 'c']) nodes.push(await createNode({ storage: memoryStorage(), ...net.join(id), n: 3, r: 2, w: 2, q: 16 }))
  await net.settle({ quietMs: 3000 })
  for (const n of nodes) servers.push(await startHttpServer(n, { log: () => {} }))
})

afterAll(async () => {
  for (const s of servers) await s.close()
  for (const n of nodes) await n.stop()
  await net.stop()
})

const put = (s: HttpServer, key: string, body: Uint8Array | string, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(`${s.url}/kv/${encodeURIComponent(key)}`, { method: 'PUT', body: typeof body === 'string' ? body : new Uint8Array(body), headers })

describe('HTTP', () => {
  it('five blind 1,000,000-byte PUTs to one key through one peer: 204 four times, then 413 RECORD_TOO_LARGE; every peer answers the GET at r=3 alike', async () => {
    const statuses: number[] = []
    let refusal: { error: { code: string; message: string } } | undefined
    for (let i = 1; i <= 5; i++) {
      const res = await put(servers[0]!, 'big', big(i))
      statuses.push(res.status)
      if (res.status !== 204) refusal = (await res.json()) as typeof refusal
    }
    expect(statuses).toEqual([204, 204, 204, 204, 413])
    expect(refusal?.error.code).toBe('RECORD_TOO_LARGE')
    expect(refusal?.error.message).toMatch(new RegExp(`^key "big" has 4 siblings in \\d+ bytes; this write would make it \\d+ bytes, over the record limit of ${MAX_RECORD_BYTES} bytes\\. Read the key, merge its siblings into one value and write that back with the read's context\\.$`))
    for (const s of servers) {
      const r = await httpGet(s.url, 'big', { r: 3 })
      expect(r.status).toBe(300)
      expect(r.values.map((v) => v[0]).sort()).toEqual([1, 2, 3, 4])
    }
    // Written back with the context, the key is one value again, through another peer.
    const read = await httpGet(servers[1]!.url, 'big', { r: 3 })
    expect((await put(servers[2]!, 'big', 'merged', { 'X-Dynamesh-Context': read.context })).status).toBe(204)
    for (const s of servers) expect(new TextDecoder().decode((await httpGet(s.url, 'big', { r: 3 })).values[0])).toBe('merged')
  })

  it(`answers 409 TOO_MANY_SIBLINGS to the write that would leave ${MAX_SIBLINGS + 1} siblings`, async () => {
    for (let i = 0; i < MAX_SIBLINGS; i++) expect((await put(servers[i % 3]!, 'many', `v${i}`)).status).toBe(204)
    const res = await put(servers[1]!, 'many', 'one more')
    expect(res.status).toBe(409)
    const body = (await res.json()) as { error: { code: string; message: string } }
    expect(body.error.code).toBe('TOO_MANY_SIBLINGS')
    expect(body.error.message).toMatch(/^key "many" has 100 siblings in \d+ bytes; this write would leave 101, over the limit of 100 siblings\. Read the key/)
    // The client library reports the code and the status.
    const err = await httpPut(servers[0]!.url, 'many', new TextEncoder().encode('x')).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DynameshHttpError)
    expect(err).toMatchObject({ code: 'TOO_MANY_SIBLINGS', status: 409 })
  })
})

describe('CLI', () => {
  it('prints the code and the advice, and exits 1', async () => {
    await put(servers[0]!, 'cli', big(1))
    await put(servers[0]!, 'cli', big(2))
    await put(servers[0]!, 'cli', big(3))
    await put(servers[0]!, 'cli', big(4))
    // Acknowledged at W = 2: the third copy may still be on its way to c. A read at r = 3 through c
    // repairs it, so the refused write below sees all four siblings wherever it is coordinated.
    expect((await httpGet(servers[2]!.url, 'cli', { r: 3 })).values).toHaveLength(4)
    const out: string[] = []
    const code = await runClientCommand(['put', 'cli', 'x'.repeat(1_000_000), '--http', servers[2]!.url], (s) => out.push(s))
    expect(code).toBe(1)
    expect(out.join('\n')).toMatch(/^error: RECORD_TOO_LARGE: key "cli" has 4 siblings in \d+ bytes; .* write that back with the read's context\.$/)
  })
})
