/**
 * Five real `dynamesh node` processes (LevelDB, WebRTC data channels on loopback, the HTTP API) and
 * one signaling server, at (N, R, W) = (3, 2, 2):
 *  - writes and reads through the HTTP API of different peers; siblings from concurrent blind puts;
 *  - the signaling server killed: peers already connected keep serving reads and writes.
 *
 *   unshare -n sh -c 'ip link set lo up && npx vitest run test/cluster/cluster.test.ts'
 */
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { TestCluster, clusterForSuite, get, put, stats, waitUntil, fetchWithTimeout } from './procs.js'

/** Runs `fn` over `items` with at most `limit` calls in flight. */
async function pool<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i]!, i)
    }
  }))
  return out
}

const PEERS = 5
const KEYS = 200

describe('a five-peer cluster over WebRTC at (3,2,2)', () => {
  let c: TestCluster
  /** Every value acknowledged so far, by key. */
  const written = new Map<string, Buffer>()
  clusterForSuite({ peers: PEERS, n: 3, r: 2, w: 2 }, (started) => (c = started))

  it('serves the configured quorum on every peer', async () => {
    for (const p of c.peers) {
      const res = await fetchWithTimeout(`${p.http}/cluster`, {}, 5000)
      const info = (await res.json()) as { id: string; config: { n: number; r: number; w: number }; members: unknown[] }
      expect(info.id).toBe(p.id)
      expect(info.config).toMatchObject({ n: 3, r: 2, w: 2 })
      expect(info.members).toHaveLength(PEERS)
    }
  })

  it('writes through one peer and reads through another', async () => {
    const keys = Array.from({ length: KEYS }, (_, i) => `key-${i}`)
    const values = keys.map((k) => Buffer.concat([Buffer.from(`${k}:`), randomBytes(32 + (k.length % 7) * 20)]))
    const puts = await pool(keys, 8, async (k, i) => put(c.peers[i % PEERS]!.http, k, values[i]!))
    const failed = puts.map((r, i) => [keys[i], r.status, r.body] as const).filter(([, s]) => s !== 204)
    expect(failed).toEqual([])
    keys.forEach((k, i) => written.set(k, values[i]!))

    const reads = await pool(keys, 8, async (k, i) => get(c.peers[(i + 2) % PEERS]!.http, k))
    const wrong = reads
      .map((r, i) => ({ key: keys[i], status: r.status, same: r.values.length === 1 && r.values[0]!.equals(values[i]!) }))
      .filter((r) => r.status !== 200 || !r.same)
    expect(wrong).toEqual([])
    // Every read returned a context the next write can carry.
    expect(reads.every((r) => r.context.length > 0)).toBe(true)

    // The binary (non-JSON) form returns the bytes themselves.
    const raw = await fetchWithTimeout(`${c.peers[4]!.http}/kv/key-7`, {}, 5000)
    expect(raw.status).toBe(200)
    expect(Buffer.from(await raw.arrayBuffer()).equals(values[7]!)).toBe(true)
  })

  it('keeps N = 3 replicas of every key', async () => {
    // The third replica is written after the W = 2 acknowledgement; wait for it.
    let total = 0
    await waitUntil(`${3 * KEYS} records across the cluster`, async () => {
      const all = await Promise.all(c.peers.map((p) => stats(p.http)))
      total = all.reduce((n, s) => n + s.stats.records, 0)
      return total === 3 * KEYS && all.every((s) => s.stats.hints === 0)
    }, 20_000)
    expect(total).toBe(3 * KEYS)
  })

  it('keeps concurrent blind writes through two peers as siblings (300) until a put with the context resolves them', async () => {
    const key = 'sibling-key'
    const [a, b] = await Promise.all([put(c.peers[0]!.http, key, 'from-peer-0'), put(c.peers[1]!.http, key, 'from-peer-1')])
    expect([a.status, b.status]).toEqual([204, 204])

    const res = await fetchWithTimeout(`${c.peers[3]!.http}/kv/${key}`, {}, 5000)
    expect(res.status).toBe(300)
    expect(res.headers.get('content-type')).toMatch(/application\/json/)
    const body = (await res.json()) as { values: string[]; context: string }
    const seen = body.values.map((v) => Buffer.from(v, 'base64').toString()).sort()
    expect(seen).toEqual(['from-peer-0', 'from-peer-1'])
    expect(body.context).toBe(res.headers.get('x-dynamesh-context'))

    // A put carrying the context of what was read supersedes both siblings.
    const merged = await put(c.peers[2]!.http, key, 'merged', { context: body.context })
    expect(merged.status).toBe(204)
    const after = await get(c.peers[4]!.http, key)
    expect(after.status).toBe(200)
    expect(after.values.map(String)).toEqual(['merged'])
    written.set(key, Buffer.from('merged'))
  })

  it('keeps serving reads and writes between connected peers after the signaling server is killed', async () => {
    // Every peer has coordinated writes to every other one above, so the data channels exist.
    const sig = c.signal.proc
    await c.killSignal()
    expect(sig.alive()).toBe(false)
    // Give the peers time to notice that signaling is gone (their sockets close at once).
    await new Promise((r) => setTimeout(r, 1500))

    const keys = Array.from({ length: 50 }, (_, i) => `after-signal-${i}`)
    const values = keys.map((k) => Buffer.from(`${k}:${randomBytes(8).toString('hex')}`))
    const puts = await pool(keys, 4, async (k, i) => put(c.peers[i % PEERS]!.http, k, values[i]!))
    expect(puts.filter((r) => r.status !== 204).map((r) => r.body)).toEqual([])
    keys.forEach((k, i) => written.set(k, values[i]!))

    // Read everything written so far, each key through a peer other than the one that wrote it.
    const all = [...written.keys()]
    const reads = await pool(all, 8, async (k, i) => get(c.peers[(i + 3) % PEERS]!.http, k))
    const wrong = reads
      .map((r, i) => ({ key: all[i], status: r.status, ok: r.values.length === 1 && r.values[0]!.equals(written.get(all[i]!)!) }))
      .filter((r) => r.status !== 200 || !r.ok)
    expect(wrong).toEqual([])

    // Nobody died, and every peer still sees every other one as up and reachable.
    expect(c.peers.every((p) => p.proc.alive())).toBe(true)
    await c.waitConverged({ timeoutMs: 5000 })
  })
})
