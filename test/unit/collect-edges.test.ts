/**
 * Tombstone collection (src/node/collect.ts) against a scripted node: which proofs let a tombstone
 * be buried and a grave be deleted, at which ages, for which peers, and what a notice of a grave is
 * worth. Nothing else runs, so a burial or a purge that should not happen shows at once.
 */
import { describe, expect, it } from 'vitest'
import { toHex } from '../../src/core/hash.js'
import type { Ring } from '../../src/core/ring.js'
import { Collector } from '../../src/node/collect.js'
import type { NodeContext } from '../../src/node/context.js'
import type { Grave, Tombstone } from '../../src/node/store.js'
import { asNodeId } from '../../src/types.js'

const A = asNodeId('a'), B = asNodeId('b'), C = asNodeId('c'), D = asNodeId('d')
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
const TOMBSTONE_MS = 100
const GRAVE_MS = 1000

/** Node a: primary of partition 0 with b and c; partition 1 is b, c and d's. */
function setup() {
  let now = 0
  let running = true
  const tombstones = new Map<string, Tombstone>()
  const graves = new Map<string, Grave>()
  const buried: string[] = []
  const purged: string[] = []
  const ring = { q: 2, n: 3, owners: [[A, B, C], [B, C, D]] } as unknown as Ring
  const store = {
    tombstones,
    graves,
    bury: async (t: Tombstone): Promise<boolean> => {
      await Promise.resolve() // as storage: the burial lands a turn later
      const hex = toHex(t.key)
      buried.push(new TextDecoder().decode(t.key))
      tombstones.delete(hex)
      graves.set(hex, { key: t.key, p: t.p, digest: new Uint8Array(16), since: now, seq: t.seq })
      return true
    },
    purge: async (g: Grave): Promise<void> => {
      purged.push(new TextDecoder().decode(g.key))
      graves.delete(toHex(g.key))
    },
  }
  const ctx = {
    id: A,
    env: { now: () => now },
    config: { tombstoneMs: TOMBSTONE_MS, graveMs: GRAVE_MS },
    store,
    ring: () => ring,
    running: () => running,
    dotId: () => 'a',
  } as unknown as NodeContext
  const tombstone = (key: string, p = 0, seq = 5, at = 0): void => void tombstones.set(toHex(bytes(key)), { key: bytes(key), p, seq, at })
  const grave = (key: string, p = 0, seq = 5, since = 0): void => void graves.set(toHex(bytes(key)), { key: bytes(key), p, digest: new Uint8Array(16), since, seq })
  return { c: new Collector(ctx), at: (t: number) => void (now = t), stop: () => void (running = false), tombstone, grave, buried, purged, tombstones, graves }
}

describe('collector: burying tombstones', () => {
  it('buries once every fellow replica has a proof at or after the landing, not before', async () => {
    const h = setup()
    h.tombstone('k', 0, 5)
    h.at(TOMBSTONE_MS)
    h.c.agreed(B, [0], 5)
    await h.c.sweep()
    expect(h.buried).toEqual([]) // c has no proof
    h.c.agreed(C, [0], 4)
    await h.c.sweep()
    expect(h.buried).toEqual([]) // c's proof is older than the landing
    h.c.agreed(C, [0], 5)
    await h.c.sweep()
    expect(h.buried).toEqual(['k'])
  })

  it('keeps a later proof: an older one arriving after it does not lower it', async () => {
    const h = setup()
    h.tombstone('k', 0, 5)
    h.at(TOMBSTONE_MS)
    h.c.agreed(B, [0], 6)
    h.c.agreed(B, [0], 2)
    h.c.agreed(C, [0, 1], 5)
    h.c.agreed(C, [0], 5)
    await h.c.sweep()
    expect(h.buried).toEqual(['k'])
  })

  it('waits until the tombstone is tombstoneMs old, and only where this node is a primary', async () => {
    const h = setup()
    h.tombstone('k', 0, 5, 0)
    h.tombstone('foreign', 1, 5, 0)
    h.c.agreed(B, [0, 1], 9)
    h.c.agreed(C, [0, 1], 9)
    h.c.agreed(D, [1], 9)
    h.at(TOMBSTONE_MS - 1)
    await h.c.sweep()
    expect(h.buried).toEqual([])
    h.at(TOMBSTONE_MS)
    await h.c.sweep()
    expect(h.buried).toEqual(['k'])
  })

  it('forgets a notice about a key it holds neither as a tombstone nor as a grave', async () => {
    const h = setup()
    h.c.noticed(C, [bytes('k')]) // not held: ignored
    h.tombstone('k', 0, 5)
    h.at(TOMBSTONE_MS)
    h.c.agreed(B, [0], 5)
    await h.c.sweep()
    expect(h.buried).toEqual([])
  })

  it('drops notices of keys gone meanwhile, so a new tombstone of the key waits for proofs again', async () => {
    const h = setup()
    h.tombstone('k', 0, 5)
    h.c.noticed(C, [bytes('k')])
    h.tombstones.clear() // written over: the key is a live record again
    await h.c.sweep()
    h.tombstone('k', 0, 8, TOMBSTONE_MS)
    h.at(2 * TOMBSTONE_MS)
    h.c.agreed(B, [0], 8)
    await h.c.sweep()
    expect(h.buried).toEqual([]) // c's notice was about the old tombstone
  })

  it('keeps the notices of several peers about one key', async () => {
    const h = setup()
    h.tombstone('k', 0, 5)
    h.at(TOMBSTONE_MS)
    h.c.noticed(B, [bytes('k')])
    h.c.noticed(C, [bytes('k')])
    await h.c.sweep()
    expect(h.buried).toEqual(['k'])
  })

  it('counts a fellow with no proof at all as holding nothing, even of the first landing', async () => {
    const h = setup()
    h.tombstone('k', 0, 1)
    h.grave('g', 0, 1, 0)
    h.at(GRAVE_MS)
    await h.c.sweep()
    expect(h.buried).toEqual([])
    expect(h.purged).toEqual([])
  })

  it('takes a fellow that said it keeps the grave as a proof, for each key it named, one notice at a time', async () => {
    const h = setup()
    h.tombstone('k1', 0, 5)
    h.tombstone('k2', 0, 5)
    h.tombstone('other', 0, 5)
    h.at(TOMBSTONE_MS)
    h.c.agreed(B, [0], 5)
    h.c.noticed(C, [bytes('k1')])
    h.c.noticed(C, [bytes('k2')])
    await h.c.sweep()
    expect(h.buried.sort()).toEqual(['k1', 'k2'])
  })

  it('stops when the node stops, and a sweep already running is not started twice', async () => {
    const h = setup()
    h.tombstone('k', 0, 5)
    h.at(TOMBSTONE_MS)
    h.c.agreed(B, [0], 5)
    h.c.agreed(C, [0], 5)
    h.stop()
    await h.c.sweep()
    expect(h.buried).toEqual([])

    const g = setup()
    g.tombstone('k', 0, 5)
    g.at(TOMBSTONE_MS)
    g.c.agreed(B, [0], 5)
    g.c.agreed(C, [0], 5)
    const first = g.c.sweep()
    const second = g.c.sweep()
    await Promise.all([first, second])
    expect(g.buried).toEqual(['k'])
  })
})

describe('collector: deleting graves', () => {
  it('deletes a grave graveMs old once every fellow held nothing this node lacks since the burial', async () => {
    const h = setup()
    h.grave('g', 0, 5, 0)
    h.c.holdsAllOf(B, [0], 5)
    h.c.holdsAllOf(C, [0], 4)
    h.at(GRAVE_MS)
    await h.c.sweep()
    expect(h.purged).toEqual([]) // c only before the burial
    h.c.holdsAllOf(C, [0], 5)
    h.at(GRAVE_MS - 1)
    await h.c.sweep()
    expect(h.purged).toEqual([]) // not old enough
    h.at(GRAVE_MS)
    await h.c.sweep()
    expect(h.purged).toEqual(['g'])
  })

  it('takes a fellow that keeps the grave too as one that will not send the tombstone back', async () => {
    const h = setup()
    h.grave('g', 0, 5, 0)
    h.c.holdsAllOf(B, [0], 5)
    h.c.noticed(C, [bytes('g')])
    h.at(GRAVE_MS)
    await h.c.sweep()
    expect(h.purged).toEqual(['g'])
  })

  for (const stopped of [false, true]) {
    it(`deletes a grave of a partition it no longer owns without waiting for anyone${stopped ? ', not once the node stops' : ''}`, async () => {
      const h = setup()
      h.grave('g', 1, 5, 0)
      h.at(GRAVE_MS)
      if (stopped) h.stop()
      await h.c.sweep()
      expect(h.purged).toEqual(stopped ? [] : ['g'])
    })
  }
})
