/**
 * Node identity: an Ed25519 key pair generated on first start and persisted; the node id is the
 * hash of the public key, so nobody can claim an id without holding its secret key.
 */
import { ed25519 } from '@noble/curves/ed25519.js'
import { hash, toHex, equalBytes } from './core/hash.js'
import type { NodeId, Storage } from './types.js'
import { asNodeId } from './types.js'

export interface Identity {
  readonly id: NodeId
  readonly publicKey: Uint8Array
  /** Signs bytes with the secret key. */
  sign(message: Uint8Array): Uint8Array
}

/** Length of a node id in hex characters (16 bytes of SHA-256). */
export const ID_HEX_LENGTH = 32

/** The node id a public key proves: hex of the first 16 bytes of its SHA-256. */
export const idOfPublicKey = (publicKey: Uint8Array): NodeId => asNodeId(toHex(hash(publicKey).subarray(0, 16)))

/** True when `signature` over `message` verifies under `publicKey` and that key proves `id`. */
export function verifyId(id: string, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false
  if (idOfPublicKey(publicKey) !== id) return false
  try {
    return ed25519.verify(signature, message, publicKey)
  } catch {
    return false
  }
}

/** An identity from a 32-byte secret key. */
export function identityFromSecret(secretKey: Uint8Array): Identity {
  if (secretKey.length !== 32) throw new TypeError('secret key must be 32 bytes')
  const secret = secretKey.slice()
  const publicKey = ed25519.getPublicKey(secret)
  return { id: idOfPublicKey(publicKey), publicKey, sign: (m) => ed25519.sign(m, secret) }
}

/** A fresh random identity. */
export const generateIdentity = (): Identity => identityFromSecret(ed25519.utils.randomSecretKey())

const IDENTITY_KEY = new TextEncoder().encode('m/identity')

/** Loads the identity kept in `storage`, creating and persisting one on first start. */
export async function loadIdentity(storage: Storage): Promise<Identity> {
  const stored = await storage.get(IDENTITY_KEY)
  if (stored && stored.length === 32) return identityFromSecret(stored)
  const secret = ed25519.utils.randomSecretKey()
  await storage.batch([{ type: 'put', key: IDENTITY_KEY, value: secret }])
  const loaded = await storage.get(IDENTITY_KEY)
  if (!loaded || !equalBytes(loaded, secret)) throw new Error('identity was not persisted')
  return identityFromSecret(secret)
}
