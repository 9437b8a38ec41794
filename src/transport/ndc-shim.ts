/**
 * `node-datachannel`'s W3C polyfill (libdatachannel 0.24 + libjuice) made to work for the transport's
 * data peers (peer.ts), for Node (wrtc.ts). Each shim fixes one measured problem (loopback, Node 20):
 *
 *  1. createOffer / createAnswer resolve plain `{ type, sdp }` objects. The polyfill resolves an
 *     RTCSessionDescription whose `sdp` is a getter only, which code that edits a description
 *     (simple-peer did, in strict mode) cannot assign.
 *  2. Bind to 127.0.0.1 when the host has no interface but loopback. libjuice never gathers a
 *     candidate on a loopback interface, so in a loopback-only network namespace (tests, benchmarks)
 *     it gathered none and every connection hung in 'connecting'. A caller's `bindAddress` wins
 *     (webrtc.ts passes 127.0.0.1 for `loopbackOnly`, which covers hosts with other interfaces).
 *  3. The offerer's candidates go out only once the answer is applied: they are cut from the offer
 *     SDP and its 'icecandidate' events are held until setRemoteDescription. Otherwise the answerer
 *     (the DTLS client) completed ICE against the offer's candidates before the offerer had the
 *     answer, so its first DTLS ClientHello hit an offerer without a DTLS transport and was lost;
 *     OpenSSL retransmits after 1 s, so every connection took ~1,010 ms. Now ~5-60 ms (libjuice
 *     paces the answerer's triggered check by up to 50 ms); about 1 in 100-200 still takes ~1 s.
 *     Swapping the DTLS roles instead (offer `a=setup:active`) connected in ~15 ms but hit a
 *     libdatachannel race (DTLS "certificate verify failed") on about 1 connection in 10-20.
 *  4. `globalThis.RTCError`: the polyfill's RTCDataChannel builds an RTCError on a native channel
 *     error without importing the class, so that path would throw a ReferenceError inside a native
 *     callback (an uncaught exception). Installed only if absent.
 *  5. Native callbacks left behind are released when no connection is alive (see releaseWhenIdle).
 *
 * Unlike node-webrtc (used here before), a send racing the far side's hang-up does not crash the
 * process: libdatachannel throws a JavaScript error ("DataChannel is closed", "Sending failed"), and
 * the transport closes the connection (measured: 200 hang-ups during flat-out sends, no crash).
 */
import { networkInterfaces } from 'node:os'
import { cleanup } from 'node-datachannel'
import {
  RTCError,
  RTCIceCandidate as NdcIceCandidate,
  RTCPeerConnection as NdcPeerConnection,
  RTCSessionDescription as NdcSessionDescription,
} from 'node-datachannel/polyfill'

const g = globalThis as { RTCError?: unknown }
g.RTCError ??= RTCError

/** True when every network interface of this host is loopback (a loopback-only namespace). */
function onlyLoopback(): boolean {
  try {
    return Object.values(networkInterfaces()).every((addrs) => (addrs ?? []).every((a) => a.internal))
  } catch {
    return false
  }
}

/** An SDP without its candidates and end-of-candidates mark (they follow as trickled candidates). */
const withoutCandidates = (sdp: string): string => sdp.replace(/^a=(?:candidate:.*|end-of-candidates)\r?\n/gm, '')

/** Peer connections of this process not closed yet by their owner. */
let liveConnections = 0
/** Connections and data channels whose native close notification has not arrived yet. */
const unreleased = new Set<object>()
/** Grace period after the last connection closed for the close notifications to arrive. */
const RELEASE_AFTER_MS = 500

/**
 * Shim 5: each native connection and data channel holds a ref'd thread-safe function until
 * libdatachannel reports it closed, and when both ends close at once that report is sometimes lost
 * (measured: 1 to 3 connections in 100): Node would then never exit. Once no connection is left,
 * anything still unreleased after a grace period is freed with node-datachannel's `cleanup()` (it
 * closes every connection, so it runs only when none is alive; it blocks ~10 ms; the next connection
 * initializes the library again).
 */
function releaseWhenIdle(): void {
  setTimeout(() => {
    if (liveConnections > 0 || unreleased.size === 0) return
    unreleased.clear()
    try {
      cleanup()
    } catch {
      // libdatachannel timed out tearing down: nothing more can be done from here
    }
  }, RELEASE_AFTER_MS).unref()
}

/** libdatachannel options the polyfill passes through from the RTCConfiguration. */
type NdcConfiguration = RTCConfiguration & { bindAddress?: string }

/** The polyfill's RTCPeerConnection with the shims above; counts itself for shim 5. */
export class ShimPeerConnection extends NdcPeerConnection {
  /** Local candidate events held back until the remote description is set (shim 3). */
  #held: Event[] = []
  #closed = false

  constructor(config: NdcConfiguration = {}) {
    const bind = config.bindAddress ?? (onlyLoopback() ? '127.0.0.1' : undefined)
    super({ ...config, iceServers: config.iceServers ?? [], ...(bind ? { bindAddress: bind } : {}) } as RTCConfiguration)
    liveConnections++
    unreleased.add(this)
    this.addEventListener('connectionstatechange', () => {
      if (this.connectionState === 'closed') unreleased.delete(this)
    })
    this.addEventListener('datachannel', (e) => this.#track((e as RTCDataChannelEvent).channel))
  }

  #track(channel: RTCDataChannel): void {
    unreleased.add(channel)
    channel.addEventListener('close', () => unreleased.delete(channel))
  }

  override createDataChannel(label: string, init?: RTCDataChannelInit): ReturnType<NdcPeerConnection['createDataChannel']> {
    const channel = super.createDataChannel(label, init)
    this.#track(channel)
    return channel
  }

  override close(): void {
    if (this.#closed) return
    this.#closed = true
    try {
      super.close()
    } finally {
      if (--liveConnections === 0) releaseWhenIdle()
    }
  }

  override async createOffer(): Promise<RTCSessionDescriptionInit> {
    const d = await super.createOffer()
    return { type: d.type, sdp: withoutCandidates(d.sdp) }
  }

  override async createAnswer(): Promise<RTCSessionDescriptionInit> {
    const d = await super.createAnswer()
    return { type: d.type, sdp: d.sdp }
  }

  override get localDescription(): RTCSessionDescription {
    const d = super.localDescription
    if (d.type !== 'offer') return d
    const offer = { type: d.type, sdp: withoutCandidates(d.sdp) }
    return { ...offer, toJSON: () => offer }
  }

  override dispatchEvent(event: Event): boolean {
    if (event.type === 'icecandidate' && !super.remoteDescription.type) {
      this.#held.push(event)
      return true
    }
    return super.dispatchEvent(event)
  }

  override async setRemoteDescription(description: RTCSessionDescriptionInit): Promise<void> {
    await super.setRemoteDescription(description)
    for (const e of this.#held.splice(0)) super.dispatchEvent(e)
  }
}

export { NdcIceCandidate as RTCIceCandidate, NdcSessionDescription as RTCSessionDescription }
