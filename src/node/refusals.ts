/**
 * Messages the transport refused to carry because of their size (MESSAGE_TOO_LARGE): counted for
 * `stats()`, and reported once per key through a `too-large` event (the CLI logs it), so a key whose
 * version set outgrew even the hard message cap is named, not lost in silence, and a retried
 * repair does not flood the log.
 */
import type { NodeEvent } from '../api.js'
import { toHex } from '../core/hash.js'
import type { NodeId } from '../types.js'
import type { Msg } from '../wire/messages.js'

/** Keys remembered as already reported; past it the memory starts over (and may report a key again). */
const REMEMBER = 1024

export class Refusals {
  /** Messages refused so far. */
  count = 0
  private readonly reported = new Set<string>()

  constructor(private readonly emit: (ev: NodeEvent) => void) {}

  /** Counts one refused message and reports the keys it concerned that were not reported before. */
  note(to: NodeId, msg: Msg, bytes: number, limitText: string, key?: Uint8Array): void {
    this.count++
    const keys = key ? [key] : keysOf(msg)
    const fresh = keys.filter((k) => !this.reported.has(toHex(k)))
    if (keys.length > 0 && fresh.length === 0) return
    if (this.reported.size + fresh.length > REMEMBER) this.reported.clear()
    for (const k of fresh) this.reported.add(toHex(k))
    this.emit({ type: 'too-large', peer: to, message: msg.t, bytes, keys: fresh, detail: limitText })
  }
}

function keysOf(msg: Msg): Uint8Array[] {
  switch (msg.t) {
    case 'store':
    case 'ae-push':
      return msg.items.map((i) => i.key)
    case 'get':
    case 'fwd':
      return [msg.key]
    default:
      return []
  }
}
