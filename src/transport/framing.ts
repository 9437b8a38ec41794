/**
 * Framing for data channels: a message of any size (up to a bound) becomes frames of at most
 * 16 KiB, the size every WebRTC implementation delivers intact (larger SCTP messages are
 * refused or truncated by some browsers). Isomorphic: plain bytes, no platform imports.
 *
 * Frame layout (compact binary; uvarint = unsigned LEB128, at most 5 bytes for a u32):
 *
 *   single frame   [ 0b0kkkkkkk ][ payload ... ]                        whole message
 *   chunk frame    [ 0b1kkkkkkk ][ id uvarint ][ index uvarint ][ count uvarint ][ payload ... ]
 *
 * `k` is a 7-bit message kind the caller chooses (the transport separates its handshake from
 * application data with it). A chunked message has count >= 2 chunks, each sent in order; the
 * reassembler nevertheless accepts chunks in any order, interleaved with other messages.
 * Reassembly memory is bounded: a message larger than `maxMessageBytes`, a malformed frame, or
 * an overflow of the pending budget is dropped and counted, never thrown.
 *
 * Batches: small messages to one peer within a tick travel together, because every data-channel
 * send costs a trip through SCTP, DTLS and a UDP syscall on the sending thread whatever its size.
 * A batch is the payload of one single frame (never chunked):
 *
 *   batch payload  [ len uvarint ][ message ... ]  repeated 1 to MAX_BATCH_MESSAGES times
 *
 * every `len` >= 1, the messages filling the payload exactly. `splitBatch` accepts nothing else.
 */

import { HARD_MESSAGE_BYTES, MAX_FRAME_BYTES } from '../limits.js'
import { getVarint, putVarint, varintSize } from '../core/bytes.js'

export { MAX_FRAME_BYTES } from '../limits.js'
/**
 * Largest message framed and reassembled by default: the hard message cap (limits.ts), so a version
 * set merged past the record limit still streams through, 16 KiB frame by frame.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = HARD_MESSAGE_BYTES
/** Largest chunk header: tag byte plus three 5-byte uvarints. */
const MAX_CHUNK_HEADER = 16
const CHUNKED = 0x80
const KIND_MASK = 0x7f

/** A reassembled message and the kind its frames carried. */
export interface FramedMessage {
  kind: number
  data: Uint8Array
}

/** Counters a reassembler keeps; each counted event dropped something. */
export interface FramingStats {
  /** Frames that could not be parsed or contradicted an earlier frame. */
  garbage: number
  /** Messages dropped whole: too large, or evicted to stay inside the memory budget. */
  dropped: number
}

/** Most messages one batch carries (a bound on what one frame can make a receiver handle). */
export const MAX_BATCH_MESSAGES = 256

/**
 * Splits messages into frames. One framer per connection direction: it numbers chunked
 * messages so the far side can tell them apart.
 */
export class Framer {
  private nextId = 0
  readonly maxFrameBytes: number

  constructor(maxFrameBytes = MAX_FRAME_BYTES) {
    if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < MAX_CHUNK_HEADER + 1) {
      throw new TypeError(`maxFrameBytes must be an integer >= ${MAX_CHUNK_HEADER + 1}`)
    }
    this.maxFrameBytes = maxFrameBytes
  }

  /** The frames of one message, in sending order. */
  encode(kind: number, msg: Uint8Array): Uint8Array[] {
    if (!Number.isInteger(kind) || kind < 0 || kind > KIND_MASK) throw new TypeError('kind must be in 0..127')
    if (msg.length + 1 <= this.maxFrameBytes) {
      const frame = new Uint8Array(msg.length + 1)
      frame[0] = kind
      frame.set(msg, 1)
      return [frame]
    }
    const payload = this.maxFrameBytes - MAX_CHUNK_HEADER
    const count = Math.ceil(msg.length / payload)
    const id = this.nextId
    this.nextId = (this.nextId + 1) >>> 0
    const frames: Uint8Array[] = []
    const header = new Uint8Array(MAX_CHUNK_HEADER)
    for (let index = 0; index < count; index++) {
      header[0] = CHUNKED | kind
      let h = putVarint(header, 1, id)
      h = putVarint(header, h, index)
      h = putVarint(header, h, count)
      const part = msg.subarray(index * payload, Math.min(msg.length, (index + 1) * payload))
      const frame = new Uint8Array(h + part.length)
      frame.set(header.subarray(0, h), 0)
      frame.set(part, h)
      frames.push(frame)
    }
    return frames
  }
}

interface Partial {
  kind: number
  count: number
  chunks: Map<number, Uint8Array>
  bytes: number
}

export interface ReassemblerOptions {
  /** Largest message accepted; larger ones are dropped and counted. Default {@link DEFAULT_MAX_MESSAGE_BYTES}. */
  maxMessageBytes?: number
  /** Bytes held across all partial messages. Default: maxMessageBytes. */
  maxPendingBytes?: number
  /** Partial messages held at once. Default 16. */
  maxPendingMessages?: number
}

/**
 * Turns frames back into messages. Holds partial messages within a memory budget; when a new
 * chunk would exceed it, the oldest partial messages are dropped (and counted) first.
 */
export class Reassembler {
  readonly stats: FramingStats = { garbage: 0, dropped: 0 }
  private readonly partials = new Map<number, Partial>()
  private pendingBytes = 0
  private readonly maxMessageBytes: number
  private readonly maxPendingBytes: number
  private readonly maxPendingMessages: number

  constructor(opts: ReassemblerOptions = {}) {
    this.maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES
    this.maxPendingBytes = Math.max(opts.maxPendingBytes ?? this.maxMessageBytes, this.maxMessageBytes)
    this.maxPendingMessages = Math.max(1, opts.maxPendingMessages ?? 16)
  }

  /** Bytes currently held in partial messages. */
  get pending(): number {
    return this.pendingBytes
  }

  /** Feeds one frame; returns a message when this frame completed one. Never throws. */
  push(frame: Uint8Array): FramedMessage | undefined {
    const tag = frame[0]
    if (tag === undefined) return this.garbage()
    const kind = tag & KIND_MASK
    if ((tag & CHUNKED) === 0) {
      if (frame.length - 1 > this.maxMessageBytes) return this.drop()
      return { kind, data: frame.slice(1) }
    }
    const idRead = getVarint(frame, 1)
    const indexRead = idRead && getVarint(frame, idRead[1])
    const countRead = indexRead && getVarint(frame, indexRead[1])
    if (!idRead || !indexRead || !countRead) return this.garbage()
    const [id] = idRead
    const [index] = indexRead
    const [count, start] = countRead
    if (count < 2 || index >= count) return this.garbage()
    const part = frame.subarray(start)
    let p = this.partials.get(id)
    if (p && (p.kind !== kind || p.count !== count || p.chunks.has(index))) {
      this.discard(id, p)
      return this.garbage()
    }
    if (!p) {
      p = { kind, count, chunks: new Map(), bytes: 0 }
      this.partials.set(id, p)
    }
    if (p.bytes + part.length > this.maxMessageBytes) {
      this.discard(id, p)
      return this.drop()
    }
    this.makeRoom(part.length, id)
    p.chunks.set(index, part.slice())
    p.bytes += part.length
    this.pendingBytes += part.length
    if (p.chunks.size < p.count) return undefined
    this.discard(id, p)
    const data = new Uint8Array(p.bytes)
    let o = 0
    for (let i = 0; i < p.count; i++) {
      const c = p.chunks.get(i)!
      data.set(c, o)
      o += c.length
    }
    return { kind: p.kind, data }
  }

  /** Drops every partial message (e.g. when the connection closes). */
  clear(): void {
    this.partials.clear()
    this.pendingBytes = 0
  }

  /** Evicts the oldest partial messages (other than `keep`) until `bytes` more fit. */
  private makeRoom(bytes: number, keep: number): void {
    for (const [id, p] of this.partials) {
      const overBytes = this.pendingBytes + bytes > this.maxPendingBytes
      const overCount = this.partials.size > this.maxPendingMessages
      if (!overBytes && !overCount) return
      if (id === keep) continue
      this.discard(id, p)
      this.stats.dropped++
    }
  }

  private discard(id: number, p: Partial): void {
    this.partials.delete(id)
    this.pendingBytes -= p.bytes
  }

  private garbage(): undefined {
    this.stats.garbage++
    return undefined
  }

  private drop(): undefined {
    this.stats.dropped++
    return undefined
  }
}

/** A sealed batch: its frame and the message bytes it carries. */
export interface SealedBatch {
  frame: Uint8Array
  bytes: number
  count: number
}

/**
 * Builds batch frames of one kind, up to `maxFrameBytes` each, from messages added in sending order.
 * One builder per connection direction; it reuses one buffer and hands out copies.
 */
export class BatchBuilder {
  private readonly buf: Uint8Array
  private used = 1
  private bytes = 0
  private n = 0

  constructor(
    kind: number,
    readonly maxFrameBytes = MAX_FRAME_BYTES,
  ) {
    if (!Number.isInteger(kind) || kind < 0 || kind > KIND_MASK) throw new TypeError('kind must be in 0..127')
    if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < MAX_CHUNK_HEADER + 1) {
      throw new TypeError(`maxFrameBytes must be an integer >= ${MAX_CHUNK_HEADER + 1}`)
    }
    this.buf = new Uint8Array(maxFrameBytes)
    this.buf[0] = kind
  }

  /** True when a message of `length` bytes can travel in a batch (it is not empty and fits one frame). */
  carries(length: number): boolean {
    return length >= 1 && 1 + varintSize(length) + length <= this.maxFrameBytes
  }

  /** Messages in the open batch. */
  get count(): number {
    return this.n
  }

  /**
   * Appends `msg` (which `carries`) to the open batch; when it does not fit there, or the batch is
   * full, the open batch is sealed first and returned.
   */
  add(msg: Uint8Array): SealedBatch | undefined {
    if (!this.carries(msg.length)) throw new TypeError('message cannot travel in a batch')
    const need = varintSize(msg.length) + msg.length
    const sealed = this.used + need > this.maxFrameBytes || this.n === MAX_BATCH_MESSAGES ? this.seal() : undefined
    this.used = putVarint(this.buf, this.used, msg.length)
    this.buf.set(msg, this.used)
    this.used += msg.length
    this.bytes += msg.length
    this.n++
    return sealed
  }

  /** The open batch as a frame of its own (a copy), or undefined when it is empty; the next batch starts empty. */
  seal(): SealedBatch | undefined {
    if (this.n === 0) return undefined
    const out = { frame: this.buf.slice(0, this.used), bytes: this.bytes, count: this.n }
    this.used = 1
    this.bytes = 0
    this.n = 0
    return out
  }

  /** Drops the open batch. */
  clear(): void {
    this.used = 1
    this.bytes = 0
    this.n = 0
  }
}


/**
 * The messages of a batch payload (views into it), or undefined when it is not exactly one to
 * MAX_BATCH_MESSAGES non-empty length-prefixed messages (minimal uvarints, nothing left over).
 */
export function splitBatch(data: Uint8Array): Uint8Array[] | undefined {
  const out: Uint8Array[] = []
  let o = 0
  while (o < data.length) {
    if (out.length === MAX_BATCH_MESSAGES) return undefined
    const read = getVarint(data, o)
    if (!read) return undefined
    const [len, start] = read
    if (len === 0 || start - o !== varintSize(len) || len > data.length - start) return undefined
    out.push(data.subarray(start, start + len))
    o = start + len
  }
  return out.length > 0 ? out : undefined
}
