/**
 * Member-entry signatures in the simulation. Real peers sign with Ed25519 (identity.ts); a thousand
 * simulated nodes verifying a thousand entries each would spend minutes in curve arithmetic, so the
 * simulation stands in a keyed hash of the same sizes (32-byte keys, 64-byte signatures, so byte
 * counts match a real cluster). The network's secret plays the part of every node's secret key: code
 * under test that does not hold it cannot forge an entry, which is what the hostile-gossip tests need.
 */
import { concatBytes as concat, equalBytes, hash, toBytes } from '../core/hash.js'
import type { MemberAuth } from '../types.js'
import { memoByString } from '../core/memo.js'

/** The public key a simulated node with this id holds. */
export const simPublicKey = memoByString(100_000, (id) => hash(toBytes(`dynamesh-sim-key:${id}`)))

function simSign(secret: Uint8Array, key: Uint8Array, message: Uint8Array): Uint8Array {
  const a = hash(concat(secret, key, message))
  return concat(a, hash(a))
}

/**
 * The signature `claimed` would make over `message`, by network secret: a thousand nodes check the
 * same entries, and the stand-in is a pure function, so each is computed once per process.
 */
const expectedSigs = new WeakMap<Uint8Array, (k: string) => Uint8Array>()
/**
 * The same by message object, per secret and claimed id: the signed bytes of an entry are one shared
 * array per entry in the process (membership.ts's signedPart), so most checks end here without
 * turning the message into a string.
 */
const byMessage = new WeakMap<Uint8Array, WeakMap<Uint8Array, { claimed: string; sig: Uint8Array }>>()
function expectedSig(secret: Uint8Array, claimed: string, message: Uint8Array): Uint8Array {
  let seen = byMessage.get(secret)
  if (!seen) byMessage.set(secret, (seen = new WeakMap()))
  const hit = seen.get(message)
  if (hit && hit.claimed === claimed) return hit.sig
  const sig = expectedSigSlow(secret, claimed, message)
  seen.set(message, { claimed, sig })
  return sig
}

function expectedSigSlow(secret: Uint8Array, claimed: string, message: Uint8Array): Uint8Array {
  let of = expectedSigs.get(secret)
  if (!of) {
    of = memoByString(200_000, (k) => {
      const cut = k.indexOf('\u0000')
      return simSign(secret, simPublicKey(k.slice(0, cut)), Uint8Array.from(k.slice(cut + 1), (c) => c.charCodeAt(0)))
    })
    expectedSigs.set(secret, of)
  }
  return of(`${claimed}\u0000${String.fromCharCode(...message)}`)
}

/** Signing and checking for one simulated node; `secret` is the network's. */
export function simAuth(secret: Uint8Array, id: string): MemberAuth {
  const publicKey = simPublicKey(id)
  return {
    publicKey,
    sign: (message) => simSign(secret, publicKey, message),
    verify: (claimed, key, message, sig) =>
      key.length === 32 && sig.length === 64 && equalBytes(key, simPublicKey(claimed)) && equalBytes(sig, expectedSig(secret, claimed, message)),
  }
}

/** The network-wide secret for a seed. */
export const simSecret = (seed: number): Uint8Array => hash(toBytes(`dynamesh-sim-secret:${seed}`))
