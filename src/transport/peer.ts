/**
 * One WebRTC data channel to one peer, over the standard `RTCPeerConnection` API: the page's own in
 * a browser, node-datachannel's (shimmed, ndc-shim.ts) in Node. This is the part of simple-peer the
 * transport used (offer/answer, trickled candidates, one ordered binary channel) and nothing else,
 * so one file runs unchanged in both runtimes: simple-peer 9 pulls `global`, `process`, `Buffer` and
 * readable-stream into a browser bundle, and its ESM fork hard-wires its own Node WebRTC polyfill, so
 * neither could take the shimmed connection whose fixes are measured in ndc-shim.ts.
 *
 *   initiator                              answerer
 *   createDataChannel, createOffer ──offer──▶ setRemoteDescription, createAnswer
 *   setRemoteDescription ◀──answer────────── setLocalDescription
 *   candidates ◀────────────trickled both ways────────────▶ candidates (held until the remote
 *                                                           description is set)
 *   channel 'open' → onOpen; 'message' → onData; close, error or a failed connection → onClose once
 */
import type { PeerSignal } from './loopback.js'

export type PeerConnectionConstructor = new (config?: RTCConfiguration) => RTCPeerConnection

export interface DataPeerOptions {
  initiator: boolean
  config: RTCConfiguration
  RTCPeerConnection: PeerConnectionConstructor
  /** A signal to relay to the other side (offer, answer or candidate). */
  onSignal(signal: PeerSignal): void
  onOpen(): void
  onData(data: Uint8Array): void
  /** Called once, whatever closed it (remote hang-up, failure, destroy()). */
  onClose(reason: string): void
}

const CHANNEL_LABEL = 'dynamesh'

/** A data channel to one peer. Nothing is sent before `onOpen`; `destroy()` releases everything. */
export class DataPeer {
  readonly pc: RTCPeerConnection
  channel: RTCDataChannel | undefined
  private closed = false
  private remoteSet = false
  private readonly pending: RTCIceCandidateInit[] = []
  /** Signals are applied one after another: a candidate may arrive while the offer is being set. */
  private chain: Promise<void> = Promise.resolve()

  constructor(private readonly opts: DataPeerOptions) {
    this.pc = new opts.RTCPeerConnection(opts.config)
    this.pc.onicecandidate = (e) => {
      const c = e.candidate
      if (!c || !c.candidate || this.closed) return
      opts.onSignal({ type: 'candidate', candidate: { candidate: c.candidate, sdpMLineIndex: c.sdpMLineIndex, sdpMid: c.sdpMid } })
    }
    this.pc.onconnectionstatechange = () => {
      const state = this.pc.connectionState
      if (state === 'failed' || state === 'closed') this.destroy(`connection ${state}`)
    }
    if (opts.initiator) {
      this.attach(this.pc.createDataChannel(CHANNEL_LABEL, { ordered: true }))
      this.run(async () => {
        const offer = await this.pc.createOffer()
        await this.pc.setLocalDescription(offer)
        this.sendDescription('offer', offer)
      })
    } else {
      this.pc.ondatachannel = (e) => this.attach(e.channel)
    }
  }

  get destroyed(): boolean {
    return this.closed
  }

  /** Applies a signal from the other side. Errors close the peer (reported through onClose). */
  signal(s: PeerSignal): void {
    if (this.closed) return
    this.run(async () => {
      if (s.type === 'candidate') {
        if (this.remoteSet) await this.pc.addIceCandidate(s.candidate)
        else this.pending.push(s.candidate)
        return
      }
      if ((s.type === 'offer') === this.opts.initiator) throw new Error(`unexpected ${s.type}`)
      await this.pc.setRemoteDescription({ type: s.type, sdp: s.sdp })
      this.remoteSet = true
      for (const c of this.pending.splice(0)) await this.pc.addIceCandidate(c)
      if (s.type === 'offer') {
        const answer = await this.pc.createAnswer()
        await this.pc.setLocalDescription(answer)
        this.sendDescription('answer', answer)
      }
    })
  }

  /** Sends one frame; throws when the channel is not open (the caller closes the connection). */
  send(frame: Uint8Array): void {
    const ch = this.channel
    if (!ch || ch.readyState !== 'open') throw new Error('data channel is not open')
    ch.send(frame as Uint8Array<ArrayBuffer>)
  }

  destroy(reason = 'destroyed'): void {
    if (this.closed) return
    this.closed = true
    const ch = this.channel
    if (ch) {
      ch.onopen = ch.onmessage = ch.onclose = ch.onerror = null
      try {
        ch.close()
      } catch {
        // already closing
      }
    }
    this.pc.onicecandidate = this.pc.onconnectionstatechange = this.pc.ondatachannel = null
    try {
      this.pc.close()
    } catch {
      // already closed
    }
    this.opts.onClose(reason)
  }

  private run(step: () => Promise<void>): void {
    this.chain = this.chain.then(step).catch((e: unknown) => this.destroy(`signaling failed: ${String(e)}`))
  }

  private sendDescription(type: 'offer' | 'answer', made: RTCSessionDescriptionInit): void {
    if (this.closed) return
    // The local description is what the connection applied (node-datachannel's shim trims it).
    const sdp = this.pc.localDescription?.sdp || made.sdp
    if (sdp) this.opts.onSignal({ type, sdp })
  }

  private attach(ch: RTCDataChannel): void {
    if (this.closed || this.channel) return
    this.channel = ch
    ch.binaryType = 'arraybuffer'
    ch.onopen = () => {
      if (!this.closed) this.opts.onOpen()
    }
    ch.onmessage = (e: MessageEvent) => {
      if (this.closed) return
      const d: unknown = e.data
      if (d instanceof ArrayBuffer) this.opts.onData(new Uint8Array(d))
      else if (ArrayBuffer.isView(d)) this.opts.onData(new Uint8Array(d.buffer, d.byteOffset, d.byteLength))
      // Text messages are never sent by a dynamesh peer: ignored.
    }
    ch.onclose = () => this.destroy('data channel closed')
    ch.onerror = (e: Event) => {
      const err = (e as Event & { error?: { message?: string } }).error
      this.destroy(`data channel error: ${err?.message ?? 'unknown'}`)
    }
    if (ch.readyState === 'open') queueMicrotask(() => ch.onopen?.(new Event('open')))
  }
}
