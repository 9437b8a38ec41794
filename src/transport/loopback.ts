/**
 * What the WebRTC transport (webrtc.ts) relays through signaling: validation of the offer,
 * answer and candidate signals (peer.ts), ours going out and untrusted ones coming in, and the
 * `loopbackOnly` filter that drops every ICE candidate not on 127.0.0.0/8 or ::1 (tests and
 * benchmarks run in a network namespace with nothing else). Separate because it is pure string
 * checking with no connection state, and tests and benchmarks use it directly.
 */

/** The signals data peers exchange that this transport relays; anything else is dropped. */
export type PeerSignal =
  | { type: 'offer' | 'answer'; sdp: string }
  | { type: 'candidate'; candidate: { candidate: string; sdpMLineIndex: number | null; sdpMid: string | null } }

/** True for 127.0.0.0/8 and ::1 (also bracketed or IPv4-mapped). */
export function isLoopbackAddress(address: string): boolean {
  const a = address.toLowerCase().replace(/^\[|\]$/g, '')
  const v4 = a.startsWith('::ffff:') ? a.slice(7) : a
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4) || a === '::1' || a === '0:0:0:0:0:0:0:1'
}

/** True when an ICE candidate line (`candidate:f c proto prio ADDRESS port typ ...`) is on loopback. */
export function isLoopbackCandidate(candidate: string): boolean {
  const address = candidate.trim().replace(/^a=/, '').split(/\s+/)[4]
  return address !== undefined && isLoopbackAddress(address)
}

/** Removes `a=candidate` lines that are not on loopback from an SDP. */
export const stripNonLoopbackCandidates = (sdp: string): string =>
  sdp.split('\n').filter((l) => !l.startsWith('a=candidate:') || isLoopbackCandidate(l.slice(2))).join('\n')

const MAX_SDP = 32 * 1024

/**
 * Validates a signal (ours going out, or untrusted coming in) and applies the loopback filter.
 * Returns a fresh object with only the known fields, or undefined to drop it.
 */
export function filterSignal(data: unknown, loopbackOnly: boolean): PeerSignal | undefined {
  if (typeof data !== 'object' || data === null) return undefined
  const d = data as { type?: unknown; sdp?: unknown; candidate?: unknown }
  if (d.type === 'offer' || d.type === 'answer') {
    if (typeof d.sdp !== 'string' || d.sdp.length > MAX_SDP) return undefined
    return { type: d.type, sdp: loopbackOnly ? stripNonLoopbackCandidates(d.sdp) : d.sdp }
  }
  if (d.type !== 'candidate' || typeof d.candidate !== 'object' || d.candidate === null) return undefined
  const c = d.candidate as { candidate?: unknown; sdpMLineIndex?: unknown; sdpMid?: unknown }
  if (typeof c.candidate !== 'string' || c.candidate.length === 0 || c.candidate.length > 1024) return undefined
  if (loopbackOnly && !isLoopbackCandidate(c.candidate)) return undefined
  const sdpMLineIndex = typeof c.sdpMLineIndex === 'number' && Number.isInteger(c.sdpMLineIndex) ? c.sdpMLineIndex : null
  const sdpMid = typeof c.sdpMid === 'string' && c.sdpMid.length <= 64 ? c.sdpMid : null
  if (sdpMLineIndex === null && sdpMid === null) return undefined
  return { type: 'candidate', candidate: { candidate: c.candidate, sdpMLineIndex, sdpMid } }
}
