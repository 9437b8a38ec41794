/**
 * Local failure detection (Dynamo paper section 4.8): a node considers a peer unreachable when a
 * request to it timed out or its connection closed, and reachable again as soon as anything arrives
 * from it. The opinion is local and temporary; it decides where requests go (sloppy quorum), never
 * membership.
 */
import type { NodeId } from '../types.js'

export interface DetectorEvent {
  id: NodeId
  reachable: boolean
}

export class FailureDetector {
  /**
   * Only the suspected ones: nothing is kept per peer that is fine (a node hears of every peer in its
   * room, and a simulation holds thousands of nodes that each would keep an entry per peer).
   */
  private readonly suspects = new Map<NodeId, number>()

  constructor(
    private readonly now: () => number,
    private readonly onChange: (ev: DetectorEvent) => void = () => {},
  ) {}

  /** Something arrived from `id`: it is alive. */
  heard(id: NodeId): void {
    if (this.suspects.delete(id)) this.onChange({ id, reachable: true })
  }

  /** A request to `id` timed out, or its connection closed. */
  suspect(id: NodeId): void {
    if (this.suspects.has(id)) return
    this.suspects.set(id, this.now())
    this.onChange({ id, reachable: false })
  }

  isUp(id: NodeId): boolean {
    return !this.suspects.has(id)
  }

  /** Ids currently suspected, oldest suspicion first. */
  suspected(): NodeId[] {
    return [...this.suspects.entries()].sort((a, b) => a[1] - b[1]).map(([id]) => id)
  }

  /** Milliseconds `id` has been suspected without a word from it, or 0 when it is not suspected. */
  suspectedFor(id: NodeId): number {
    const t = this.suspects.get(id)
    return t === undefined ? 0 : this.now() - t
  }
}
