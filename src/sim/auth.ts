/**
 * Member-entry signatures in the simulation. Real peers sign with Ed25519 (identity.ts); a thousand
 * simulated nodes verifying a thousand entries each would spend minutes in curve arithmetic, so the
 * simulation stands in a keyed hash of the same sizes (32-byte keys, 64-byte signatures, so byte
 * counts match a real cluster). The network's secret plays the part of every node's secret key: code
 * under test that does not hold it cannot forge an entry, which is what the hostile-gossip tests need.
 */
import { concatBytes as concat, equalBytes, hash, toBytes } from '../core/hash.js'
import type { MemberAuth } from '../types.js'

const keys = new Map<string, Uint8Array>()

/** The public key a simulated node with this id holds (memoised: a thousand nodes check the same ids). */
export function simPublicKey(id: string): Uint8Array {
  let key = keys.get(id)
  if (!key) {
    if (keys.size >= 100_000) keys.clear()
    key = hash(toBytes(`dynamesh-sim-key:${id}`))
    keys.set(id, key)
  }
  return key
}

function simSign(secret: Uint8Array, key: Uint8Array, message: Uint8Array): Uint8Array {
  const a = hash(concat(secret, key, message))
  return concat(a, hash(a))
}

/** Signing and checking for one simulated node; `secret` is the network's. */
export function simAuth(secret: Uint8Array, id: string): MemberAuth {
  const publicKey = simPublicKey(id)
  return {
    publicKey,
    sign: (message) => simSign(secret, publicKey, message),
    verify: (claimed, key, message, sig) =>
      key.length === 32 && sig.length === 64 && equalBytes(key, simPublicKey(claimed)) && equalBytes(sig, simSign(secret, key, message)),
  }
}

/** The network-wide secret for a seed. */
export const simSecret = (seed: number): Uint8Array => hash(toBytes(`dynamesh-sim-secret:${seed}`))
