/** What the gossip unit tests share: a message on the test wire, its delivery to a Gossip, and signed entries. */
import { signedPart, type MemberEntry } from '../../src/core/membership.js'
import type { Gossip } from '../../src/node/gossip.js'
import { simAuth } from '../../src/sim/auth.js'
import { asNodeId, type NodeId } from '../../src/types.js'
import { decodeMessage, type Msg } from '../../src/wire/messages.js'

/** A message sent on the test wire, encoded as the transport would carry it. */
export interface Sent {
  from: NodeId
  to: NodeId
  t: Msg['t']
  bytes: Uint8Array
}

/** Decodes `s` and hands it to `g`'s handler for its type, as the node's dispatch does. */
export function deliverTo(g: Gossip, s: Sent): void {
  const m = decodeMessage(s.bytes)
  if (m.t === 'g-sum') g.onSum(s.from, m.d, m.n, m.reply, m.bkt === true)
  else if (m.t === 'g-cells') g.onCells(s.from, m.at, m.c)
  else if (m.t === 'g-more') g.onMore(s.from, m.at, m.k)
  else if (m.t === 'g-bkt') g.onBuckets(s.from, m.h)
  else if (m.t === 'g-ver') g.onVersions(s.from, m.nb, m.b, m.v)
  else if (m.t === 'g-delta') g.onDelta(s.from, m.members, m.want, m.end === true, m.ask === true)
}

/** An entry of member `id`, signed with its simulated key under `secret`. */
export function signedEntry(secret: Uint8Array, id: string, version = 1, status: MemberEntry['status'] = 'up', weight = 1): MemberEntry {
  const e = { id: asNodeId(id), weight, status, version }
  const auth = simAuth(secret, id)
  return { ...e, key: auth.publicKey, sig: auth.sign(signedPart(e)) }
}
