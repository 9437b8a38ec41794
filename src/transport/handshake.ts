/**
 * The identity handshake on every new WebRTC data channel (webrtc.ts): each side sends HELLO, then
 * PROOF, and no other frame is accepted before the peer's proof verifies.
 *
 *   HELLO = public key (32 bytes) | connection nonce (32 bytes) | id (32 hex characters)
 *           [| credential (64 bytes): closed clusters, credential.ts]
 *   PROOF = signature of 'dynamesh-proof' | verifier's nonce | signer's nonce | signer's id | verifier's id
 *
 * The two nonces tie a proof to one connection and the two ids to one pair of peers, so a proof
 * cannot be replayed on another connection or to another peer. Separate from the transport because
 * it is the security-relevant part and pure bytes in, bytes out: the transport keeps the state
 * (who sent what, when to close) and calls these.
 */
import { concatBytes } from '../core/hash.js'
import { CREDENTIAL_BYTES, verifyCredential } from '../credential.js'
import { idOfPublicKey, verifyId, type Identity } from '../identity.js'
import type { NodeId } from '../types.js'

const PROOF_TAG = new TextEncoder().encode('dynamesh-proof')
const utf8 = new TextEncoder()
const HELLO_BYTES = 96
const HELLO_WITH_CREDENTIAL_BYTES = HELLO_BYTES + CREDENTIAL_BYTES

/** One end of a connection as a proof names it: its id and its connection nonce. */
export interface HandshakeSide {
  id: NodeId
  nonce: Uint8Array
}

/** A peer's HELLO: its key and nonce, or why it is refused (`forged`: its key does not prove the id). */
export type HelloResult =
  | { ok: true; key: Uint8Array; nonce: Uint8Array }
  | { ok: false; forged: boolean; reason: string }

/** My HELLO for a connection whose nonce (mine) is `nonce`, with my credential in a closed cluster. */
export const helloMessage = (identity: Identity, nonce: Uint8Array, credential?: Uint8Array): Uint8Array =>
  concatBytes(identity.publicKey, nonce, utf8.encode(identity.id), credential ?? new Uint8Array(0))

/**
 * Parses the HELLO of `remote`, the id signaling vouched for: the key must prove exactly that id,
 * and in a closed cluster (`clusterKey`) carry a credential the cluster key signed.
 */
export function readHello(data: Uint8Array, remote: NodeId, clusterKey?: Uint8Array): HelloResult {
  if (data.length !== HELLO_BYTES && data.length !== HELLO_WITH_CREDENTIAL_BYTES) return { ok: false, forged: false, reason: 'unexpected or malformed HELLO' }
  const key = data.slice(0, 32)
  const claimed = new TextDecoder().decode(data.subarray(64, HELLO_BYTES))
  if (claimed !== remote || idOfPublicKey(key) !== remote) {
    return { ok: false, forged: true, reason: `HELLO claims id ${claimed.slice(0, 8)}, key proves ${idOfPublicKey(key).slice(0, 8)}` }
  }
  if (clusterKey && !verifyCredential(clusterKey, key, data.length === HELLO_WITH_CREDENTIAL_BYTES ? data.subarray(HELLO_BYTES) : undefined)) {
    return { ok: false, forged: true, reason: 'closed cluster: the peer has no valid credential' }
  }
  return { ok: true, key, nonce: data.slice(32, 64) }
}

const proofPayload = (signer: HandshakeSide, verifier: HandshakeSide): Uint8Array =>
  concatBytes(PROOF_TAG, verifier.nonce, signer.nonce, utf8.encode(signer.id), utf8.encode(verifier.id))

/** My PROOF to `peer`, over my nonce `myNonce` and the nonce of the peer's HELLO. */
export const signProof = (identity: Identity, myNonce: Uint8Array, peer: HandshakeSide): Uint8Array =>
  identity.sign(proofPayload({ id: identity.id, nonce: myNonce }, peer))

/** Whether `signature` is the PROOF of `peer` (whose HELLO carried `peerKey`) to me. */
export const verifyProof = (peer: HandshakeSide, peerKey: Uint8Array, me: HandshakeSide, signature: Uint8Array): boolean =>
  verifyId(peer.id, peerKey, proofPayload(peer, me), signature)
