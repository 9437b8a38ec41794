/**
 * Generators of VALID inputs for every decoder that takes untrusted bytes: wire messages (every
 * variant of `Msg`, built from messages.ts), version sets and contexts (record.ts), Merkle probes
 * and listings (merkle-codec.ts), data-channel frames (framing.ts), HELLO frames (handshake.ts) and
 * signaling frames (signal-protocol.ts). mutate.ts turns them into hostile inputs ({@link hostileWire}
 * combines the two for wire messages).
 *
 * Keys in generated messages all start with {@link FUZZ_KEY_PREFIX} and member ids come from
 * {@link FUZZ_MEMBERS}, so a handler suite can write its own keys first and check that nothing a
 * fuzzed peer sends reaches them.
 */
import fc from 'fast-check'
import { MAX_GONE, compareDots, setEntry, type Sibling, type VersionSet, type VersionVector } from '../../src/core/clock.js'
import type { LeafListing, Probe } from '../../src/core/merkle.js'
import { DEPTH, FANOUT, HASH_BYTES } from '../../src/core/merkle-shape.js'
import { encodeListings, encodeProbes } from '../../src/core/merkle-codec.js'
import { encodeContext, encodeSet, encodeVectors, MAX_ID_BYTES } from '../../src/core/record.js'
import { CELL_BYTES, WANT_BYTES, TOW, encodeTow } from '../../src/core/riblt.js'
import { encodeVarints } from '../../src/core/bytes.js'
import { identityFromSecret, type Identity } from '../../src/identity.js'
import { MAX_CELLS_PER_MESSAGE, MAX_GOSSIP_BUCKETS, MAX_KEY_BYTES, MAX_MEMBER_VERSION, MAX_Q, MAX_SESSION_CELLS, MAX_WEIGHT, VIEW_CELLS } from '../../src/limits.js'
import { SHORT_ID_BYTES } from '../../src/core/view.js'
import { helloMessage } from '../../src/transport/handshake.js'
import { encodeMessage as encodeSignal, toBase64, type ClientMessage, type ServerMessage, type SignalErrorCode } from '../../src/transport/signal-protocol.js'
import { asNodeId, type NodeId } from '../../src/types.js'
import { encodeMessage, type MemberEntry, type Msg, type StoreItem } from '../../src/wire/messages.js'
import { confusedMsgpack, mutatedBytes } from './mutate.js'

export const FUZZ_KEY_PREFIX = 'fz/'
/** Member ids a generated message may name: none is a node of the fuzzed clusters. */
export const FUZZ_MEMBERS = ['fz-m0', 'fz-m1', 'fz-m2', 'fz.m_3~', 'F'.repeat(128)] as const

const utf8 = new TextEncoder()
const PREFIX = utf8.encode(FUZZ_KEY_PREFIX)
const withPrefix = (b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(PREFIX.length + b.length)
  out.set(PREFIX)
  out.set(b, PREFIX.length)
  return out
}

// ---- scalars ----

/**
 * Bytes of a length in [min, max], filled from a seeded xorshift: fc.uint8Array draws every byte
 * through its integer arbitrary, which at a million runs costs more than the decoders under test.
 * Shrinks by length and seed.
 */
export const bytes = (min: number, max: number): fc.Arbitrary<Uint8Array> =>
  fc.tuple(fc.integer({ min, max }), fc.integer({ min: 1, max: 0x7fffffff }), fc.nat(15)).map(([n, seed, style]) => {
    const out = new Uint8Array(n)
    if (style === 0) return out // all zeros: empty hashes, zero digests
    let x = seed
    for (let i = 0; i < n; i++) {
      x ^= x << 13
      x ^= x >>> 17
      x ^= x << 5
      out[i] = x & 0xff
    }
    return out
  })

/** Mostly small, sometimes at the limit: the sizes decoders must accept. */
const sized = (max: number, small = 24): fc.Arbitrary<Uint8Array> =>
  fc.oneof({ weight: 9, arbitrary: bytes(0, small) }, { weight: 1, arbitrary: bytes(max, max) })

/** A key of a generated message: prefixed, up to the key limit. */
export const fuzzKey: fc.Arbitrary<Uint8Array> = sized(MAX_KEY_BYTES - PREFIX.length).map(withPrefix)
/** Request and session ids: small, or anywhere up to 2^53 - 1. */
const rid = fc.oneof(fc.nat(1000), fc.maxSafeNat())
const errCode = fc.oneof(fc.constantFrom('TIMEOUT', 'MESSAGE_TOO_LARGE', 'STORAGE_FAILED', 'QUORUM_FAILED'), fc.string({ minLength: 1, maxLength: 64 }))
const memberId = fc.constantFrom(...FUZZ_MEMBERS.map(asNodeId))

// ---- version sets and contexts (record.ts) ----

/** Replica ids: any well-formed text of 1..256 UTF-8 bytes, including ids that name Object.prototype members. */
export const replicaId: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.string({ minLength: 1, maxLength: 12, unit: 'binary' }).filter((s) => utf8.encode(s).length <= MAX_ID_BYTES) },
  { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'hasOwnProperty', '\u0000', '\uFEFF', 'a'.repeat(MAX_ID_BYTES), '\u{10FFFF}'.repeat(MAX_ID_BYTES / 4)) },
)
const counter = fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }))
/** Times: wall-clock integers (the short form) or any other finite double (the f64 form); never -0. */
/** A forwarded write's stamp (clock.ts OpStamp): 32 bits of its id, the time it was first forwarded. */
const opStamp = fc.record({ tag: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 2 ** 32 - 1 })), at: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })) })
const time = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 2 ** 52 - 2 }) },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).map((t) => t + 0) },
)

const vvEntries = (min: number) => fc.uniqueArray(fc.record({ id: replicaId, n: counter, ts: time }), { selector: (e) => e.id, minLength: min, maxLength: 5 })

function toVV(entries: Array<{ id: string; n: number; ts: number }>): VersionVector {
  const vv: VersionVector = {}
  for (const e of entries) setEntry(vv, e.id, { n: e.n, ts: e.ts })
  return vv
}

/** A version set in canonical form: every sibling covered by the vector, dots unique and sorted. */
export const versionSet: fc.Arbitrary<VersionSet> = vvEntries(0).chain((entries) => {
  const vv = toVV(entries)
  if (entries.length === 0) return fc.constant<VersionSet>({ vv, siblings: [] })
  const sibling = fc
    .record({ at: fc.nat(entries.length - 1), back: fc.nat(), value: fc.option(sized(2048, 32), { nil: null }), ts: fc.option(time, { nil: undefined }), op: fc.option(opStamp, { nil: undefined, freq: 2 }) })
    .map(({ at, back, value, ts, op }): Sibling => {
      const e = entries[at]!
      const x: Sibling = { dot: { id: e.id, n: e.n - (back % Math.min(e.n, 1000)) }, value, ts: ts ?? e.ts }
      return op === undefined ? x : { ...x, op }
    })
  return fc
    .tuple(fc.uniqueArray(sibling, { selector: (s) => JSON.stringify([s.dot.id, s.dot.n]), maxLength: 4 }), fc.uniqueArray(opStamp, { maxLength: MAX_GONE, selector: (o) => `${o.tag}@${o.at}` }))
    .map(([siblings, ops]) => {
      // Superseded ops: latest first, none a sibling's (the canonical form).
      const gone = ops.filter((o) => !siblings.some((x) => x.op?.tag === o.tag && x.op.at === o.at)).sort((a, b) => (a.at !== b.at ? b.at - a.at : b.tag - a.tag))
      const set: VersionSet = { vv, siblings: [...siblings].sort((a, b) => compareDots(a.dot, b.dot)) }
      return gone.length > 0 ? { ...set, gone } : set
    })
})

/** A non-empty causal context's vector (an empty one encodes as ''). */
export const contextVector: fc.Arbitrary<VersionVector> = vvEntries(1).map(toVV)
export const contextString: fc.Arbitrary<string> = fc.oneof({ weight: 1, arbitrary: fc.constant('') }, { weight: 9, arbitrary: contextVector.map(encodeContext) })
export const encodedSet: fc.Arbitrary<Uint8Array> = versionSet.map(encodeSet)

// ---- Merkle diff messages (merkle-codec.ts) ----

const hash16 = bytes(HASH_BYTES, HASH_BYTES)
export const probe: fc.Arbitrary<Probe> = fc.integer({ min: 0, max: DEPTH - 1 }).chain((level) =>
  fc.record({
    node: fc.record({ level: fc.constant(level), index: fc.nat(FANOUT ** level - 1) }),
    childHashes: fc.oneof(fc.array(hash16, { minLength: FANOUT, maxLength: FANOUT }), fc.constant(Array.from({ length: FANOUT }, () => new Uint8Array(HASH_BYTES)))),
  }),
)
export const listing: fc.Arbitrary<LeafListing> = fc.integer({ min: 0, max: DEPTH }).chain((level) =>
  fc.record({
    leaf: fc.nat(FANOUT ** level - 1),
    entries: fc.array(fc.record({ key: sized(MAX_KEY_BYTES, 16), digest: bytes(HASH_BYTES, HASH_BYTES) }), { maxLength: 4 }),
  }).map((l): LeafListing => (level === DEPTH ? l : { level, ...l })),
)
export const encodedProbes: fc.Arbitrary<Uint8Array> = fc.array(probe, { maxLength: 4 }).map(encodeProbes)
export const encodedListings: fc.Arbitrary<Uint8Array> = fc.array(listing, { maxLength: 4 }).map(encodeListings)

// ---- wire messages (wire/messages.ts) ----

/** A member entry as gossiped: unsigned, or with a key and signature of the right sizes (which verify nowhere), and maybe a closed cluster's credential. */
const memberEntry: fc.Arbitrary<MemberEntry> = fc
  .record({
    id: memberId,
    weight: fc.integer({ min: 0, max: MAX_WEIGHT }),
    status: fc.constantFrom('joining' as const, 'up' as const, 'leaving' as const, 'left' as const),
    version: fc.oneof(fc.nat(100), fc.integer({ min: 0, max: MAX_MEMBER_VERSION })),
    signed: fc.option(
      fc.record({ key: bytes(32, 32), sig: bytes(64, 64), cred: fc.option(bytes(64, 64), { nil: undefined }) }).map(({ cred, ...ks }) => (cred ? { ...ks, cred } : ks)),
      { nil: undefined },
    ),
  })
  .map(({ signed, ...m }) => (signed ? { ...m, ...signed } : m))

/** A version list (core/view.ts): short ids, check bytes, varint versions. */
const versionList: fc.Arbitrary<Uint8Array> = fc
  .array(fc.record({ short: bytes(SHORT_ID_BYTES, SHORT_ID_BYTES), check: fc.nat(0xffff), version: fc.nat(2 ** 20) }), { maxLength: 8 })
  .map((lines) => {
    const out: number[] = []
    for (const l of lines) {
      out.push(...l.short, l.check >>> 8, l.check & 0xff)
      for (let v = l.version; ; v = Math.floor(v / 128)) {
        if (v < 128) {
          out.push(v)
          break
        }
        out.push((v % 128) | 0x80)
      }
    }
    return Uint8Array.from(out)
  })

const powerOfTwo = fc.integer({ min: 0, max: Math.log2(MAX_GOSSIP_BUCKETS) }).map((k) => 2 ** k)

/** Gossip, every step of the exchange (node/gossip.ts). Ids come from FUZZ_MEMBERS. */
export const gossipMessage: fc.Arbitrary<Msg> = fc.oneof(
  fc.record({ t: fc.constant('g-sum' as const), d: bytes(8, 8), n: fc.nat(2000), reply: fc.boolean(), bkt: fc.constant(true as const) }, { requiredKeys: ['t', 'd', 'n', 'reply'] }),
  fc.integer({ min: 0, max: VIEW_CELLS - 1 }).chain((at) =>
    fc.integer({ min: 1, max: Math.min(64, VIEW_CELLS - at) }).chain((k) => fc.record({ t: fc.constant('g-cells' as const), at: fc.constant(at), c: bytes(k * CELL_BYTES, k * CELL_BYTES) })),
  ),
  fc.integer({ min: 1, max: VIEW_CELLS - 1 }).chain((at) => fc.record({ t: fc.constant('g-more' as const), at: fc.constant(at), k: fc.integer({ min: 1, max: VIEW_CELLS - at }) })),
  powerOfTwo.chain((nb) => fc.record({ t: fc.constant('g-bkt' as const), h: bytes(nb * 4, nb * 4) })),
  powerOfTwo.chain((nb) => fc.record({ t: fc.constant('g-ver' as const), nb: fc.constant(nb), b: fc.uniqueArray(fc.nat(nb - 1), { maxLength: 8 }), v: versionList })),
  fc.record({
    t: fc.constant('g-delta' as const),
    members: fc.array(memberEntry, { maxLength: 6 }),
    want: fc.array(bytes(SHORT_ID_BYTES, SHORT_ID_BYTES), { maxLength: 4 }).map((ws) => Uint8Array.from(ws.flatMap((w) => [...w]))),
    end: fc.constant(true as const),
    ask: fc.constant(true as const),
  }, { requiredKeys: ['t', 'members', 'want'] }),
)

/** A replica record: mostly a real encoded set (so handlers get past decodeSet), sometimes opaque bytes. */
const rec = fc.oneof({ weight: 4, arbitrary: encodedSet }, { weight: 1, arbitrary: bytes(0, 64) })
const storeItem: fc.Arbitrary<StoreItem> = fc
  .record({ key: fuzzKey, rec, hint: fc.option(memberId, { nil: undefined }) })
  .map(({ hint, ...item }) => (hint === undefined ? item : { ...item, hint }))
const optErr = <T extends object>(m: T, err: string | undefined): T => (err === undefined ? m : { ...m, err })
const partIndex = fc.oneof(fc.nat(255), fc.nat(MAX_Q))

const towSums = fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { minLength: TOW, maxLength: TOW }).map(encodeTow)

/** The variants other than gossip, one arbitrary each, keyed by tag (a variant added to Msg later is simply not generated yet). */
const others = {
  get: fc.record({ t: fc.constant('get' as const), rid, key: fuzzKey }),
  'get-r': fc.tuple(rid, fc.option(rec, { nil: null }), fc.option(errCode, { nil: undefined })).map(([r, b, err]) => optErr({ t: 'get-r' as const, rid: r, rec: b }, err)),
  store: fc.record({ t: fc.constant('store' as const), rid, items: fc.array(storeItem, { maxLength: 4 }), ack: fc.boolean(), own: fc.constant(true as const) }, { requiredKeys: ['t', 'rid', 'items', 'ack'] }),
  'store-r': fc.tuple(rid, fc.boolean(), fc.option(errCode, { nil: undefined })).map(([r, ok, err]) => optErr({ t: 'store-r' as const, rid: r, ok }, err)),
  fwd: fc.record({
    t: fc.constant('fwd' as const), rid, op: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })), at: fc.oneof(fc.nat(), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })), again: fc.boolean(), key: fuzzKey, value: fc.option(sized(4096), { nil: null }), ctx: contextString,
    w: fc.integer({ min: 1, max: 64 }), n: fc.integer({ min: 1, max: 64 }), timeoutMs: fc.oneof(fc.integer({ min: 1, max: 2000 }), fc.integer({ min: 1, max: 600_000 })),
  }),
  'fwd-r': fc.record({ t: fc.constant('fwd-r' as const), rid, ok: fc.boolean(), ctx: contextString, code: fc.oneof(fc.constant(''), errCode), message: fc.string({ maxLength: 1024 }) }),
  'ae-roots': fc.record({ t: fc.constant('ae-roots' as const), sid: rid, parts: fc.array(fc.tuple(partIndex, bytes(0, 16)), { maxLength: 6 }) }),
  'ae-step': fc.record({ t: fc.constant('ae-step' as const), sid: rid, parts: fc.array(fc.tuple(partIndex, encodedProbes, encodedListings), { maxLength: 3 }) }),
  'ae-pull': fc.oneof(
    fc.record({ t: fc.constant('ae-pull' as const), sid: rid, keys: fc.array(fuzzKey, { maxLength: 6 }) }),
    fc.record({ t: fc.constant('ae-pull' as const), sid: rid, keys: fc.constant<Uint8Array[]>([]), idx: fc.array(fc.oneof(fc.nat(300), fc.nat()), { maxLength: 8 }).map(encodeVarints) }),
  ),
  'ae-sum': fc.oneof(
    fc.record({ t: fc.constant('ae-sum' as const), sid: rid, level: fc.constant(0), h: bytes(16, 16) }),
    fc.record({ t: fc.constant('ae-sum' as const), sid: rid, level: fc.constant(0), h: bytes(16, 16), tow: towSums, n: fc.nat() }),
    fc.record({ t: fc.constant('ae-sum' as const), sid: rid, level: fc.constant(1), h: bytes(384, 384) }),
  ),
  'ae-push': fc.record({ t: fc.constant('ae-push' as const), sid: rid, items: fc.array(storeItem, { maxLength: 4 }) }),
  'ae-sym': fc
    .record({
      sid: rid,
      from: fc.oneof(fc.constant(0), fc.nat(MAX_SESSION_CELLS - 64)),
      cells: fc.nat(40).chain((n) => bytes(CELL_BYTES * n, CELL_BYTES * n)),
      tow: fc.option(towSums, { nil: undefined }),
      n: fc.option(fc.nat(), { nil: undefined }),
    })
    .map(({ tow, n, ...m }): Msg => ({ t: 'ae-sym' as const, ...m, ...(tow === undefined ? {} : { tow }), ...(n === undefined ? {} : { n }) })),
  'ae-more': fc
    .tuple(rid, fc.nat(MAX_SESSION_CELLS - 1), fc.integer({ min: 1, max: MAX_CELLS_PER_MESSAGE }))
    .map(([sid, from, n]): Msg => ({ t: 'ae-more' as const, sid, from, to: Math.min(MAX_SESSION_CELLS, from + n) })),
  'ae-diff': fc
    .tuple(rid, fc.nat(100_000), fc.array(fc.tuple(fuzzKey, contextVector), { maxLength: 4 }), fc.nat(4))
    .chain(([sid, at, kv, w]) =>
      bytes(WANT_BYTES * w, WANT_BYTES * w).map((want): Msg => ({ t: 'ae-diff' as const, sid, at, keys: kv.map(([k]) => k), vv: encodeVectors(kv.map(([, v]) => v)), want })),
    ),
  'ae-grave': fc.array(fuzzKey, { maxLength: 4 }).map((keys): Msg => ({ t: 'ae-grave' as const, keys })),
} satisfies Partial<Record<Msg['t'], fc.Arbitrary<Msg>>>

/** Every tag the generators know; a decoder may know more (new variants are tolerated by the checks). */
export const MSG_TAGS: readonly string[] = ['g-sum', 'g-cells', 'g-more', 'g-bkt', 'g-ver', 'g-delta', ...Object.keys(others)]
/** Any valid message, each variant equally likely. */
export const message: fc.Arbitrary<Msg> = fc.oneof(gossipMessage, ...Object.values(others))
export const wireBytes: fc.Arbitrary<Uint8Array> = message.map(encodeMessage)

// ---- data-channel frames (framing.ts, handshake.ts) ----

/** Fixed identities: deriving Ed25519 keys per run would cost more than the decoders under test. */
export const IDENTITIES: readonly Identity[] = [1, 2, 3].map((i) => identityFromSecret(new Uint8Array(32).fill(i)))
export const helloFrame = (credential: fc.Arbitrary<Uint8Array | undefined> = fc.constant(undefined)): fc.Arbitrary<{ who: Identity; data: Uint8Array }> =>
  fc.tuple(fc.constantFrom(...IDENTITIES), bytes(32, 32), credential).map(([who, nonce, cred]) => ({ who, data: helloMessage(who, nonce, cred) }))

// ---- signaling frames (signal-protocol.ts) ----

const nodeIdOf = (i: Identity): NodeId => i.id
const nodeId: fc.Arbitrary<NodeId> = fc.oneof(fc.constantFrom(...IDENTITIES.map(nodeIdOf)), fc.stringMatching(/^[0-9a-f]{32}$/).map((s) => s as NodeId))
export const room = fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/)
const b64 = (n: number): fc.Arbitrary<string> => bytes(n, n).map(toBase64)
/** What peers put in a signal: small JSON (SDP-like strings, candidates, connect requests). */
const signalData = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.record({ kind: fc.constantFrom('signal', 'connect-request'), attempt: fc.string({ maxLength: 64 }), data: fc.jsonValue({ maxDepth: 2 }) }))

export const clientMessage: fc.Arbitrary<ClientMessage> = fc.oneof(
  fc.record({ type: fc.constant('hello' as const), room, publicKey: b64(32), signature: b64(64), id: nodeId, credential: b64(64) }, { requiredKeys: ['type', 'room', 'publicKey', 'signature'] }),
  fc.record({ type: fc.constant('signal' as const), to: nodeId, data: signalData }),
)
const signalErrorCode = fc.constantFrom<SignalErrorCode>('INVALID_MESSAGE', 'UNAUTHORIZED', 'UNKNOWN_PEER', 'ROOM_FULL', 'SERVER_FULL', 'RATE_LIMITED', 'MESSAGE_TOO_LARGE', 'TIMEOUT', 'INTERNAL')
export const serverMessage: fc.Arbitrary<ServerMessage> = fc.oneof(
  fc.record({ type: fc.constant('challenge' as const), nonce: fc.oneof(b64(32), fc.string({ minLength: 1, maxLength: 256 })) }),
  fc.record({ type: fc.constant('welcome' as const), id: nodeId, peers: fc.array(nodeId, { maxLength: 5 }) }),
  fc.record({ type: fc.constantFrom('join' as const, 'leave' as const), id: nodeId }),
  fc.record({ type: fc.constant('signal' as const), from: nodeId, data: signalData }),
  fc.record({ type: fc.constant('error' as const), code: signalErrorCode, message: fc.string({ maxLength: 100 }), to: nodeId }, { requiredKeys: ['type', 'code', 'message'] }),
)
export const SIGNAL_TAGS = ['hello', 'signal', 'challenge', 'welcome', 'join', 'leave', 'error'] as const
export const clientText: fc.Arbitrary<string> = clientMessage.map(encodeSignal)
export const serverText: fc.Arbitrary<string> = serverMessage.map(encodeSignal)

// ---- hostile wire inputs, shared by the decoder and the handler suites ----

/** Wire messages as a hostile peer sends them: byte mutations, MessagePack type confusion, both. */
export function hostileWire(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc.oneof(mutatedBytes(valid), confusedMsgpack(valid, MSG_TAGS), mutatedBytes(confusedMsgpack(valid, MSG_TAGS)))
}
