/**
 * A membership view indexed for cheap reconciliation (Scuttlebutt-style: exchange summaries, then
 * only what differs). Every entry hashes to 8 bytes; the view keeps the XOR of those hashes over the
 * whole view (the digest) and over each of 1,024 buckets of ids, both updated in O(1) per change.
 * Two views with equal digests agree; otherwise comparing bucket sums at a resolution chosen for
 * the view's size, then the (short id, version) lists of the differing buckets, finds the entries
 * that differ while sending a few bytes per member only where something changed. Pure.
 */
import { Reader, Writer, varintSize } from './bytes.js'
import { memoByString } from './memo.js'
import { hash, toBytes, toHex } from './hash.js'
import { supersedes, type MemberEntry } from './membership.js'
import type { NodeId } from '../types.js'
import { MAX_GOSSIP_BUCKETS, MAX_MEMBER_VERSION } from '../limits.js'

/** Bytes of an id's short form in version lists and wants (48 bits: no collision in practice below millions of members). */
export const SHORT_ID_BYTES = 6
const FINE_BITS = Math.log2(MAX_GOSSIP_BUCKETS)

/**
 * What a view needs of an entry, computed once per entry object and shared by every view holding it
 * (a simulation's thousand views hold the same interned entries): a view keeps only the entries.
 */
interface Info {
  /** First bytes of hash(id): the short id, whose top bits pick the bucket. */
  short: Uint8Array
  shortHex: string
  bucket: number
  /** Two 32-bit words of the entry's hash (XORed into sums), and 16 more bits as a check in version lists. */
  h0: number
  h1: number
  check: number
}

const infos = new WeakMap<MemberEntry, Info>()

function infoOf(e: MemberEntry): Info {
  let info = infos.get(e)
  if (!info) {
    const id = idInfoOf(e.id)
    const [h0, h1, check] = entryHashOf(`${e.id}\n${e.weight}\n${e.status}\n${e.version}`)
    info = { short: id.short, shortHex: id.shortHex, bucket: id.bucket, h0, h1, check }
    infos.set(e, info)
  }
  return info
}

/** One line of a peer's version list. */
export interface VersionLine {
  short: string
  version: number
  check: number
}

/** The bucket resolution for a view of `size` members: about 8 members per bucket, a power of two. */
export function bucketsFor(size: number): number {
  let nb = 1
  while (nb < MAX_GOSSIP_BUCKETS && nb * 8 < size) nb *= 2
  return nb
}

export class MemberView {
  private readonly slots = new Map<string, MemberEntry>()
  /**
   * Every entry by fine bucket, in the order it arrived (entries never leave a view, so these only
   * grow): one array per bucket, so a new member costs a push, not a move of the whole view.
   */
  private readonly byBucket: Array<MemberEntry[] | undefined> = new Array<MemberEntry[] | undefined>(MAX_GOSSIP_BUCKETS).fill(undefined)
  private readonly sums = new Uint32Array(MAX_GOSSIP_BUCKETS * 2)
  private d0 = 0
  private d1 = 0
  private digestBytes: Uint8Array | undefined

  get size(): number {
    return this.slots.size
  }

  get(id: string): MemberEntry | undefined {
    return this.slots.get(id)
  }

  values(): IterableIterator<MemberEntry> {
    return this.slots.values()
  }

  /** Puts `entry` in place of any entry of the same id (no version check: see `offer`). */
  set(entry: MemberEntry): void {
    const old = this.slots.get(entry.id)
    const info = infoOf(entry)
    if (old) {
      this.xor(infoOf(old))
      const b = this.byBucket[info.bucket]!
      b[b.indexOf(old)] = entry
    } else {
      (this.byBucket[info.bucket] ??= []).push(entry)
    }
    this.slots.set(entry.id, entry)
    this.xor(info)
  }

  /** True when `entry` would replace what the view holds of its id (or the view has none). */
  wouldTake(entry: MemberEntry): boolean {
    const mine = this.get(entry.id)
    return !mine || supersedes(entry, mine)
  }

  /** The id a peer's short id names here, if any (a scan of its fine bucket: a few entries). */
  idOfShort(shortHex: string): NodeId | undefined {
    const bucket = parseInt(shortHex.slice(0, 4), 16) >>> (16 - FINE_BITS)
    for (const e of this.byBucket[bucket] ?? []) if (infoOf(e).shortHex === shortHex) return e.id
    return undefined
  }

  /** 8 bytes summarising the whole view (kept until the view changes: do not modify). */
  digest(): Uint8Array {
    if (!this.digestBytes) {
      this.digestBytes = new Uint8Array(8)
      const dv = new DataView(this.digestBytes.buffer)
      dv.setUint32(0, this.d0)
      dv.setUint32(4, this.d1)
    }
    return this.digestBytes
  }

  /** The 4-byte sums of `nb` buckets (a power of two up to MAX_GOSSIP_BUCKETS), concatenated. */
  bucketSums(nb: number): Uint8Array {
    const shift = FINE_BITS - Math.log2(nb)
    const coarse = new Uint32Array(nb)
    for (let b = 0; b < MAX_GOSSIP_BUCKETS; b++) coarse[b >>> shift]! ^= this.sums[b * 2]!
    const out = new Uint8Array(nb * 4)
    const dv = new DataView(out.buffer)
    for (let c = 0; c < nb; c++) dv.setUint32(c * 4, coarse[c]!)
    return out
  }

  /** Buckets (at the resolution of `theirs`) whose sums differ from this view's. */
  differingBuckets(theirs: Uint8Array): number[] {
    const mine = this.bucketSums(theirs.length / 4)
    const out: number[] = []
    for (let c = 0; c < theirs.length / 4; c++) {
      const o = c * 4
      if (mine[o] !== theirs[o] || mine[o + 1] !== theirs[o + 1] || mine[o + 2] !== theirs[o + 2] || mine[o + 3] !== theirs[o + 3]) out.push(c)
    }
    return out
  }

  /** Entries in the given buckets at resolution `nb`, with their infos. */
  private slotsIn(nb: number, buckets: readonly number[]): Array<{ entry: MemberEntry; info: Info }> {
    const span = MAX_GOSSIP_BUCKETS / nb
    const out: Array<{ entry: MemberEntry; info: Info }> = []
    for (const c of buckets) {
      for (let b = c * span; b < (c + 1) * span; b++) for (const entry of this.byBucket[b] ?? []) out.push({ entry, info: infoOf(entry) })
    }
    return out
  }

  /** The version list of the given buckets: per entry its short id, 2 check bytes, its version as a varint. */
  versions(nb: number, buckets: readonly number[]): Uint8Array {
    const slots = this.slotsIn(nb, buckets)
    const w = new Writer(slots.reduce((n, s) => n + SHORT_ID_BYTES + 2 + varintSize(s.entry.version), 0))
    for (const { entry, info } of slots) {
      w.bytes(info.short)
      w.u8(info.check >>> 8)
      w.u8(info.check & 0xff)
      w.varint(entry.version)
    }
    return w.done()
  }

  /**
   * Compares a peer's version list of `buckets` with this view: the entries the peer should get
   * (missing there, older there, or the same version with other content) and the short ids this
   * view should ask for (missing here, newer there, or the same version with other content).
   */
  compare(nb: number, buckets: readonly number[], theirs: readonly VersionLine[]): { give: MemberEntry[]; want: string[] } {
    const remaining = new Map(theirs.map((l) => [l.short, l]))
    const give: MemberEntry[] = []
    const want: string[] = []
    for (const { entry: e, info: s } of this.slotsIn(nb, buckets)) {
      const t = remaining.get(s.shortHex)
      remaining.delete(s.shortHex)
      if (!t || t.version < e.version) give.push(e)
      else if (t.version > e.version) want.push(s.shortHex)
      else if (t.check !== s.check) {
        give.push(e)
        want.push(s.shortHex)
      }
    }
    for (const short of remaining.keys()) want.push(short)
    return { give, want }
  }

  /** The given short ids (hex), concatenated as bytes: a want list. */
  shortsOf(shorts: readonly string[]): Uint8Array {
    const out = new Uint8Array(shorts.length * SHORT_ID_BYTES)
    shorts.forEach((h, i) => out.set(fromHex(h), i * SHORT_ID_BYTES))
    return out
  }

  private xor(s: Info): void {
    const i = s.bucket * 2
    this.sums[i] = this.sums[i]! ^ s.h0
    this.sums[i + 1] = this.sums[i + 1]! ^ s.h1
    this.d0 = (this.d0 ^ s.h0) >>> 0
    this.d1 = (this.d1 ^ s.h1) >>> 0
    this.digestBytes = undefined
  }
}

/** Short ids by id (bytes, hex, fine bucket), shared by every view in the process. */
const idInfoOf = memoByString(100_000, (id) => {
  const short = hash(toBytes(id)).slice(0, SHORT_ID_BYTES)
  return { short, shortHex: toHex(short), bucket: ((short[0]! << 8) | short[1]!) >>> (16 - FINE_BITS) }
})

/** The two sum words and the check of an entry's hash, by its fields, shared by every view in the process. */
const entryHashOf = memoByString(200_000, (fields) => {
  const h = hash(toBytes(fields))
  const dv = new DataView(h.buffer, h.byteOffset, 10)
  return [dv.getUint32(0), dv.getUint32(4), dv.getUint16(8)] as const
})

const fromHex = (h: string): Uint8Array => Uint8Array.from(h.match(/../g)!.map((b) => parseInt(b, 16)))

/** Parses a version list; `fail` throws. */
export function parseVersions(blob: Uint8Array, fail: (why: string) => never): VersionLine[] {
  const r = new Reader(blob, fail)
  const out: VersionLine[] = []
  while (r.left() > 0) {
    const short = toHex(r.sub(SHORT_ID_BYTES))
    const check = (r.u8() << 8) | r.u8()
    out.push({ short, check, version: r.varint(MAX_MEMBER_VERSION) })
  }
  return out
}

/** Splits a want list into short ids; `fail` throws on a length that is not a whole number of ids. */
export function parseShorts(blob: Uint8Array, fail: (why: string) => never): string[] {
  if (blob.length % SHORT_ID_BYTES !== 0) fail('want list: length')
  const out: string[] = []
  for (let o = 0; o < blob.length; o += SHORT_ID_BYTES) out.push(toHex(blob.subarray(o, o + SHORT_ID_BYTES)))
  return out
}
