/**
 * Membership gossip (Dynamo paper section 4.8): every period a node sends its whole view to one
 * random peer and gets the peer's view back (push-pull). Seeds and the peers the transport knows of
 * (the signaling server's room) are used to bootstrap and to heal a split view. Now and then a
 * suspected peer is gossiped with too, which is how a node that came back is noticed.
 */
import { mergeView, ringMembersOf, ringKey, type MemberEntry, type MemberStatus } from '../core/membership.js'
import type { NodeId } from '../types.js'
import type { NodeContext } from './context.js'

export class Gossip {
  readonly view = new Map<string, MemberEntry>()
  private lastRingKey = ''
  private ticks = 0

  constructor(
    private readonly ctx: NodeContext,
    private readonly seeds: readonly NodeId[],
    private readonly onChange: (changed: MemberEntry[], ringChanged: boolean) => void,
  ) {}

  get self(): MemberEntry {
    return this.view.get(this.ctx.id)!
  }

  /** Sets this node's own status, bumping its version so the change wins everywhere. */
  setSelf(status: MemberStatus, weight = this.self?.weight ?? this.ctx.config.weight): void {
    const prev = this.view.get(this.ctx.id)
    const entry = { id: this.ctx.id, weight, status, version: (prev?.version ?? 0) + 1 }
    this.view.set(this.ctx.id, entry)
    this.changed([entry])
  }

  /** Loads a persisted view (on restart), keeping this node's own entry authoritative. */
  load(entries: readonly MemberEntry[]): void {
    mergeView(this.view, entries)
  }

  members(): MemberEntry[] {
    return [...this.view.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  }

  /** Every id worth gossiping with: known members that have not left, seeds, transport peers. */
  candidates(): NodeId[] {
    const ids = new Set<NodeId>()
    for (const m of this.view.values()) if (m.status !== 'left') ids.add(m.id as NodeId)
    for (const s of this.seeds) ids.add(s)
    for (const p of this.ctx.transport.peers?.() ?? []) ids.add(p)
    ids.delete(this.ctx.id)
    return [...ids].sort()
  }

  /** One gossip round. */
  tick(): void {
    this.ticks++
    this.expireAbsent()
    const all = this.candidates()
    if (all.length === 0) return
    const up = all.filter((id) => this.ctx.isUp(id))
    // Every fourth round probe a suspected peer, so recoveries are noticed without a request.
    const pool = up.length > 0 && (this.ticks % 4 !== 0 || up.length === all.length) ? up : all.filter((id) => !this.ctx.isUp(id))
    const target = pool[Math.floor(this.ctx.env.random() * pool.length)]
    if (target) this.sendTo(target, true)
  }

  /**
   * "Unreachable" is temporary (hints cover it); after a long absence (removeAfterMs) a member is
   * marked left so its partitions move to the others. If it ever returns it re-asserts itself with
   * a newer version of its own entry.
   */
  private expireAbsent(): void {
    const changed: MemberEntry[] = []
    for (const m of this.view.values()) {
      if (m.id === this.ctx.id || m.status === 'left') continue
      if (this.ctx.detector.suspectedFor(m.id as NodeId) < this.ctx.config.removeAfterMs) continue
      const next = { ...m, status: 'left' as const, version: m.version + 1 }
      this.view.set(m.id, next)
      changed.push(next)
    }
    if (changed.length) this.changed(changed)
  }

  sendTo(to: NodeId, reply: boolean): void {
    this.ctx.send(to, { t: 'gossip', members: this.members(), reply })
  }

  onGossip(from: NodeId, members: MemberEntry[], reply: boolean): void {
    const mine = this.view.get(this.ctx.id)
    const changed = mergeView(this.view, members)
    const now = this.view.get(this.ctx.id)
    if (mine && now !== mine) {
      // Someone holds a newer entry for this node (from before a restart): re-assert the current one.
      this.view.set(this.ctx.id, { ...mine, version: now!.version + 1 })
      changed.push(this.view.get(this.ctx.id)!)
    }
    if (changed.length) this.changed(changed)
    if (reply) this.sendTo(from, false)
  }

  private changed(entries: MemberEntry[]): void {
    const key = ringKey(ringMembersOf(this.view.values()))
    const ringChanged = key !== this.lastRingKey
    this.lastRingKey = key
    this.onChange(entries, ringChanged)
  }
}
