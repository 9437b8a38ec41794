/**
 * Incoming messages: decoded and validated once, then handed to the part of the node they concern.
 * A peer's bytes are untrusted: a message that fails validation is dropped and counted, and no
 * handler's failure escapes into the transport's callback (STYLE.md 8).
 */
import { decodeContext, decodeSet } from '../core/record.js'
import { encodeOnce, rememberEncoding } from './cache.js'
import type { VersionSet } from '../core/clock.js'
import { isPrimary } from '../core/ring.js'
import { DynameshError, isDynameshError } from '../errors.js'
import type { NodeId } from '../types.js'
import { decodeMessage, type Msg, type StoreItem } from '../wire/messages.js'
import type { Node } from './node.js'
import { routeWrite } from './coordinator.js'
import { itemBytes } from './batch.js'
import type { FwdOutcome } from './ops.js'

export class Dispatcher {
  constructor(private readonly node: Node) {}

  onMessage(from: NodeId, bytes: Uint8Array): void {
    if (!this.node.running()) return
    if (!this.node.inbound.admit(from)) return
    let msg: Msg
    try {
      msg = decodeMessage(bytes)
    } catch {
      this.node.rejected++
      return
    }
    this.node.detector.heard(from)
    try {
      this.handle(from, msg)
    } catch {
      this.node.rejected++
    }
  }

  private handle(from: NodeId, msg: Msg): void {
    const node = this.node
    // A member that has left (and is only making sure somebody heard it) holds no data any more:
    // it refuses requests, so nobody counts on a copy that stops with it.
    if (node.gossip.self?.status === 'left' && this.refuseAsLeft(from, msg)) return
    switch (msg.t) {
      case 'g-sum':
        return node.gossip.onSum(from, msg.d, msg.n, msg.reply, msg.bkt === true)
      case 'g-cells':
        return node.gossip.onCells(from, msg.at, msg.c)
      case 'g-more':
        return node.gossip.onMore(from, msg.at, msg.k)
      case 'g-bkt':
        return node.gossip.onBuckets(from, msg.h)
      case 'g-ver':
        return node.gossip.onVersions(from, msg.nb, msg.b, msg.v)
      case 'g-delta':
        return node.gossip.onDelta(from, msg.members, msg.want, msg.end === true, msg.ask === true)
      case 'get':
        void node.store
          .readAll(msg.key)
          .then((set) => {
            try {
              node.send(from, { t: 'get-r', rid: msg.rid, rec: set ? encodeOnce(set) : null }, msg.key)
            } catch (e) {
              // Too large for the transport (counted, reported): say so, so the reader does not take it for silence.
              if (!isDynameshError(e, 'MESSAGE_TOO_LARGE')) throw e
              node.send(from, { t: 'get-r', rid: msg.rid, rec: null, err: e.code })
            }
          })
          .catch(() => {}) // unreadable storage: no answer, the reader moves on
        return
      case 'get-r':
      case 'store-r':
      case 'fwd-r':
        node.rpc.settle(from, msg)
        return
      case 'store':
        this.store(from, msg).catch(() => this.node.rejected++)
        return
      case 'fwd':
        this.forwarded(from, msg).catch(() => this.node.rejected++)
        return
      case 'ae-roots':
        node.antiEntropy.onRoots(from, msg.sid, msg.parts)
        return
      case 'ae-step':
        node.antiEntropy.onStep(from, msg.sid, msg.parts)
        return
      case 'ae-pull':
        node.antiEntropy.onPull(from, msg.sid, msg.keys, msg.idx)
        return
      case 'ae-sum':
        node.antiEntropy.onSum(from, msg.sid, msg.level, msg.h, msg.tow, msg.n)
        return
      case 'ae-sym':
        node.antiEntropy.onSym(from, msg.sid, msg.from, msg.cells, msg.tow, msg.n)
        return
      case 'ae-more':
        node.antiEntropy.onMore(from, msg.sid, msg.from, msg.to)
        return
      case 'ae-diff':
        node.antiEntropy.onDiff(from, msg.sid, msg.at, msg.keys, msg.vv, msg.want).catch(() => this.node.rejected++)
        return
      case 'ae-grave':
        node.antiEntropy.onGrave(from, msg.keys)
        return
      case 'ae-push': {
        const bytes = batchBytes(msg.items)
        if (!node.inbound.reserve(from, bytes)) return
        node.antiEntropy
          .onPush(from, msg.items)
          .catch(() => this.node.rejected++)
          .finally(() => node.inbound.release(from, bytes))
        return
      }
    }
  }

  /** Answers a data request as refused (the reader or writer moves on); true when `msg` was one. */
  private refuseAsLeft(from: NodeId, msg: Msg): boolean {
    const node = this.node
    switch (msg.t) {
      case 'get':
        node.send(from, { t: 'get-r', rid: msg.rid, rec: null, err: 'NOT_RUNNING' })
        return true
      case 'store':
        if (msg.ack) node.send(from, { t: 'store-r', rid: msg.rid, ok: false, err: 'NOT_RUNNING' })
        return true
      case 'fwd':
        node.send(from, { t: 'fwd-r', rid: msg.rid, ok: false, ctx: '', code: 'NOT_RUNNING', message: 'the node has left' })
        return true
      case 'ae-sum':
      case 'ae-sym':
      case 'ae-more':
      case 'ae-diff':
      case 'ae-roots':
      case 'ae-step':
      case 'ae-pull':
      case 'ae-push':
      case 'ae-grave':
        return true
      // Stryker disable next-line ConditionalExpression: without a default the switch ends and returns undefined, as falsy as false
      default:
        return false
    }
  }

  private async store(from: NodeId, msg: Extract<Msg, { t: 'store' }>): Promise<void> {
    const bytes = batchBytes(msg.items)
    if (!this.node.inbound.reserve(from, bytes)) {
      if (msg.ack) this.node.send(from, { t: 'store-r', rid: msg.rid, ok: false, err: 'OVERLOADED' })
      return
    }
    try {
      await this.storeItems(from, msg)
    } finally {
      this.node.inbound.release(from, bytes)
    }
  }

  /**
   * Stores a batch of pushed records and hints. The records go in one bulk merge (one storage batch,
   * their reads together); hints one by one, each under its owner's cap. Acknowledged (if asked) as
   * ok only when every item was stored.
   */
  private async storeItems(from: NodeId, msg: Extract<Msg, { t: 'store' }>): Promise<void> {
    let ok = true
    let err = ''
    const failed = (e: unknown): void => {
      if (e instanceof DynameshError && e.code === 'INVALID_MESSAGE') this.node.rejected++
      ok = false
      err ||= e instanceof DynameshError ? e.code : 'STORAGE_FAILED'
    }
    const records: Array<{ key: Uint8Array; set: VersionSet }> = []
    const hints: Array<{ key: Uint8Array; set: VersionSet; hint: NodeId }> = []
    for (const item of msg.items) {
      try {
        const set = decodeSet(item.rec)
        rememberEncoding(set, item.rec) // stored with the bytes it came in
        const hint = item.hint === this.node.id ? undefined : item.hint
        if (hint) hints.push({ key: item.key, set, hint })
        else records.push({ key: item.key, set })
      } catch (e) {
        failed(e)
      }
    }
    if (records.length) {
      await this.node.store.applyMany(records).catch(failed)
      // A transfer kept, but not taken over: a node that does not own a record's partition (in its
      // view of the ring) is about to move it on, and an acknowledgement would let the sender delete
      // its copy.
      // Two nodes whose views differ, each sending the partition to the other (one leaving, one not
      // yet told), would otherwise each delete on the other's acknowledgement, and the record be gone.
      if (ok && msg.own && records.some((r) => !this.owns(r.key))) {
        ok = false
        err = 'NOT_OWNER'
      }
    }
    for (const h of hints) {
      try {
        await this.node.store.apply(h.key, h.set, h.hint)
        this.node.emit({ type: 'hint-stored', for: h.hint, key: h.key })
      } catch (e) {
        failed(e)
      }
    }
    if (msg.ack && this.node.running()) this.node.send(from, { t: 'store-r', rid: msg.rid, ok, ...(err ? { err } : {}) })
  }

  /** True when this node is a primary of `key`'s partition in its current ring. */
  private owns(key: Uint8Array): boolean {
    return isPrimary(this.node.ring(), this.node.store.partitionOf(key), this.node.id)
  }

  /**
   * A forwarded write: coordinated (or forwarded on) once per operation id; every copy of the same
   * op (a duplicate, a resend, a retry that came back here) is answered with the first's outcome.
   */
  private async forwarded(from: NodeId, msg: Extract<Msg, { t: 'fwd' }>): Promise<void> {
    const out = await this.node.ops.run(msg, () => this.coordinate(msg))
    this.node.send(from, { t: 'fwd-r', rid: msg.rid, ...out })
  }

  private async coordinate(msg: Extract<Msg, { t: 'fwd' }>): Promise<FwdOutcome> {
    try {
      const ctx = decodeContext(msg.ctx)
      const out = await routeWrite(this.node, msg.key, msg.value, ctx, { n: msg.n, w: msg.w, timeoutMs: msg.timeoutMs, op: msg.op, at: msg.at, again: msg.again })
      // Stryker disable next-line StringLiteral: an ok outcome's code and message are never read (routeWrite takes its ctx)
      return { ok: true, ctx: out, code: '', message: '' }
    } catch (e) {
      const code = e instanceof DynameshError ? e.code : 'QUORUM_FAILED'
      const message = e instanceof Error ? e.message : 'failed'
      return { ok: false, ctx: '', code, message }
    }
  }
}

/** Bytes a batch of items will occupy while it is applied. */
const batchBytes = (items: readonly StoreItem[]): number => items.reduce((n, i) => n + itemBytes(i), 0)
