/**
 * `dynamesh start` end to end: signaling in this process, three real peer processes (LevelDB,
 * WebRTC over loopback, HTTP API) and the status page, all on free ports; then every child must be
 * gone after stop(). scripts/test.mjs runs this inside a loopback-only network namespace as root.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startLocalCluster, type LocalCluster } from '../../src/cli/start.js'
import type { StatusReport } from '../../src/cli/status-page.js'

interface Member { id: string; status: string; reachable: boolean }

const dir = mkdtempSync(join(tmpdir(), 'dynamesh-start-'))
const lines: string[] = []
const sink = (l: string): void => void lines.push(l)
let cluster: LocalCluster | undefined
const c = (): LocalCluster => cluster as LocalCluster

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
/** Just enough DOM for the page script: elements that keep their children, a canvas that counts cells. */
class FakeElement {
  [prop: string]: unknown
  kids: Array<FakeElement | string> = []
  textContent = ''
  cells = 0
  append(...k: Array<FakeElement | string>): void {
    this.kids.push(...k)
  }
  replaceChildren(...k: Array<FakeElement | string>): void {
    this.kids = k
  }
  getContext(): unknown {
    return { clearRect: () => {}, fillRect: () => void this.cells++ }
  }
}

/** Runs the page's script against a fake DOM whose fetch goes to the real page server. */
function runPageScript(script: string, pageUrl: string): Map<string, FakeElement> {
  const byId = new Map<string, FakeElement>()
  const document = {
    getElementById: (id: string) => byId.get(id) ?? byId.set(id, new FakeElement()).get(id),
    createElement: () => new FakeElement(),
    querySelectorAll: () => [],
  }
  const pageFetch = (path: string, init?: RequestInit): Promise<Response> => fetch(new URL(path, pageUrl), init)
  new Function('document', 'fetch', 'setTimeout', script)(document, pageFetch, () => {})
  return byId
}

const status = async (): Promise<StatusReport> => (await (await fetch(`${c().pageUrl}/api/status`)).json()) as StatusReport

beforeAll(async () => {
  cluster = await startLocalCluster({
    peers: 3, httpBase: 0, signalPort: 0, pagePort: 0, dataDir: dir, log: sink, forward: sink, formTimeoutMs: 45_000,
  })
}, 90_000)

afterAll(async () => {
  await cluster?.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe('dynamesh start', () => {
  it('starts three peers that all see each other', () => {
    expect(c().formed).toBe(true)
    expect(c().peers).toHaveLength(3)
    for (const p of c().peers) {
      expect(p.id).toMatch(/^[0-9a-f]{32}$/)
      expect(p.http).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    }
    expect(c().pageUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(c().signalUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/)
  })

  it('takes a put through peer 1 and answers it through peer 2', async () => {
    const [p1, p2] = c().peers
    const put = await fetch(`${p1!.http}/kv/greeting`, { method: 'PUT', body: 'hello' })
    expect(put.status).toBe(204)
    const get = await fetch(`${p2!.http}/kv/greeting`)
    expect(get.status).toBe(200)
    expect(await get.text()).toBe('hello')
  })

  it('serves a status page whose inline script parses', async () => {
    const res = await fetch(`${c().pageUrl}/status`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/text\/html/)
    const html = await res.text()
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1] as string)
    expect(scripts).toHaveLength(1)
    expect(scripts[0]).toContain('/api/status')
    expect(() => new Function(scripts[0] as string)).not.toThrow()
    // And it runs: one poll renders a card per peer, each with its ring drawn.
    const dom = runPageScript(scripts[0] as string, c().pageUrl)
    await expect.poll(() => dom.get('summary')?.textContent, { timeout: 5000 }).toMatch(/^3 of 3 peers answering/)
    const cards = dom.get('peers')!.kids as FakeElement[]
    expect(cards).toHaveLength(3)
    const canvases = (card: FakeElement): FakeElement[] => (card.kids as FakeElement[]).filter((k) => typeof k.getContext === 'function' && k.width === 512)
    for (const card of cards) expect(canvases(card)[0]?.cells).toBe(2 * 256)
    expect(dom.get('kv-peer')!.kids).toHaveLength(3)
  })

  it('reports every peer view of the members, the config, the ring and the counters', async () => {
    const st = await status()
    expect(st.signal).toBe(c().signalUrl)
    expect(st.peers.map((p) => p.id)).toEqual(c().peers.map((p) => p.id))
    for (const p of st.peers) {
      expect(p.running).toBe(true)
      const cl = p.cluster as { config: { n: number; r: number; w: number; q: number }; members: Member[]; partitions: string[][] }
      expect(cl.config).toEqual({ n: 3, r: 2, w: 2, q: 256 })
      expect(cl.members).toHaveLength(3)
      expect(cl.members.every((m) => m.status === 'up' && m.reachable)).toBe(true)
      expect(cl.partitions).toHaveLength(256)
      const stats = p.stats as { stats: { records: number; hints: number } }
      expect(stats.stats.records).toBeGreaterThanOrEqual(1)
      expect(stats.stats.hints).toBe(0)
    }
  })

  it('proxies key/value calls to any peer, context included', async () => {
    const got = await fetch(`${c().pageUrl}/api/kv/2/greeting`, { headers: { Accept: 'application/json' } })
    expect(got.status).toBe(200)
    const body = (await got.json()) as { values: string[] }
    expect(body.values.map((v) => Buffer.from(v, 'base64').toString())).toEqual(['hello'])
    const ctx = got.headers.get('x-dynamesh-context')
    expect(ctx).toBeTruthy()
    const put = await fetch(`${c().pageUrl}/api/kv/1/greeting`, { method: 'PUT', body: 'hello again', headers: { 'X-Dynamesh-Context': ctx! } })
    expect(put.status).toBe(204)
    const again = await fetch(`${c().peers[0]!.http}/kv/greeting`)
    expect(await again.text()).toBe('hello again') // the context superseded the old value: no siblings
    expect((await fetch(`${c().pageUrl}/api/kv/7/greeting`)).status).toBe(404)
  })

  it('refuses requests that do not name a loopback host', async () => {
    const { request } = await import('node:http')
    const code = await new Promise<number>((resolve, reject) => {
      request(`${c().pageUrl}/api/status`, { headers: { Host: 'evil.example:80' } }, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      }).on('error', reject).end()
    })
    expect(code).toBe(403)
  })

  it('names the busy port instead of starting', async () => {
    const busy: Server = createServer()
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r))
    const port = (busy.address() as { port: number }).port
    try {
      await expect(startLocalCluster({ peers: 1, httpBase: 0, signalPort: 0, pagePort: port, dataDir: dir, log: sink, forward: sink }))
        .rejects.toThrow(`port ${port} (status page) is already in use`)
    } finally {
      await new Promise((r) => busy.close(r))
    }
  })

  it('reports a peer that dies and keeps the others running', async () => {
    const dead = c().peers[2]!
    process.kill(dead.pid, 'SIGKILL')
    await expect.poll(() => lines.some((l) => l.includes('node-3') && l.includes('exited unexpectedly')), { timeout: 10_000 }).toBe(true)
    const st = await status()
    expect(st.peers[2]!.running).toBe(false)
    expect(st.peers[0]!.running && st.peers[0]!.cluster).toBeTruthy()
    expect((await fetch(`${c().peers[0]!.http}/health`)).status).toBe(200)
  })

  it('stop() ends every child process and closes the page', async () => {
    const pids = c().peers.map((p) => p.pid)
    await c().stop()
    for (const pid of pids) expect(alive(pid)).toBe(false)
    await expect(fetch(c().pageUrl)).rejects.toThrow()
    await c().stop() // idempotent
  }, 30_000)
})
