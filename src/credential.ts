/**
 * Closed clusters: a cluster key (an Ed25519 key pair held by whoever admits members) signs each
 * member's public key; the signature is the member's credential. The signaling server and every
 * peer of a closed cluster know the cluster's public key and admit only peers whose credential
 * verifies: at the signaling server's hello, and again in the data channel's HELLO, so a peer that
 * reaches another without the server is refused all the same.
 *
 *   credential = Ed25519(cluster secret, 'dynamesh-credential' | member public key)
 *
 * A credential does not expire; to shut a member out, start over with a new cluster key.
 */
import { ed25519 } from '@noble/curves/ed25519.js'
import { concatBytes, equalBytes, toHex } from './core/hash.js'
import { verifyId, type Identity } from './identity.js'
import type { MemberAuth } from './types.js'

const TAG = new TextEncoder().encode('dynamesh-credential')

/** Bytes of a credential. */
export const CREDENTIAL_BYTES = 64

/** The key that admits members of a closed cluster. */
export interface ClusterKey {
  readonly publicKey: Uint8Array
  /** The credential of the member whose public key is `memberKey`. */
  admit(memberKey: Uint8Array): Uint8Array
}

/** A cluster key from its 32-byte secret. */
export function clusterKeyFromSecret(secret: Uint8Array): ClusterKey {
  if (!(secret instanceof Uint8Array) || secret.length !== 32) throw new TypeError('a cluster secret is 32 bytes')
  const s = secret.slice()
  const publicKey = ed25519.getPublicKey(s)
  return {
    publicKey,
    admit(memberKey) {
      if (!(memberKey instanceof Uint8Array) || memberKey.length !== 32) throw new TypeError('a member key is 32 bytes')
      return ed25519.sign(concatBytes(TAG, memberKey), s)
    },
  }
}

/** A fresh random cluster key, with its secret to keep. */
export function generateClusterKey(): ClusterKey & { secret: Uint8Array } {
  const secret = ed25519.utils.randomSecretKey()
  return { ...clusterKeyFromSecret(secret), secret }
}

/** True when `credential` admits the member `memberKey` to the cluster of `clusterPublicKey`. */
export function verifyCredential(clusterPublicKey: Uint8Array, memberKey: Uint8Array, credential: Uint8Array | undefined): boolean {
  if (!credential || credential.length !== CREDENTIAL_BYTES || memberKey.length !== 32 || clusterPublicKey.length !== 32) return false
  try {
    return ed25519.verify(credential, concatBytes(TAG, memberKey), clusterPublicKey)
  } catch {
    return false
  }
}

/**
 * How a peer signs and checks member entries (Transport.auth): with its identity, and in a closed
 * cluster (a cluster public key given) carrying its credential and admitting only entries whose
 * credential the cluster key signed. Each member key's credential is checked once.
 */
export function memberAuth(identity: Identity, clusterPublicKey?: Uint8Array, credential?: Uint8Array): MemberAuth {
  const auth: MemberAuth = { publicKey: identity.publicKey, sign: (m) => identity.sign(m), verify: verifyId }
  if (!clusterPublicKey) return auth
  const admitted = new Map<string, Uint8Array>()
  return {
    ...auth,
    ...(credential ? { credential } : {}),
    admits(key, cred) {
      if (!cred) return false
      const k = toHex(key)
      const known = admitted.get(k)
      if (known) return equalBytes(known, cred)
      if (!verifyCredential(clusterPublicKey, key, cred)) return false
      if (admitted.size >= 100_000) admitted.clear()
      admitted.set(k, cred.slice())
      return true
    },
  }
}

/** Bytes of a hex string of exactly `length` bytes (cluster keys and credentials on command lines and in configs). */
export function hexBytes(s: string, length: number, what: string): Uint8Array {
  if (typeof s !== 'string' || s.length !== length * 2 || !/^[0-9a-fA-F]*$/.test(s)) throw new TypeError(`${what} must be ${length} bytes of hex`)
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16)
  return out
}
