/**
 * How a node lays its data out in a Storage (ordered byte keys):
 *
 *   'r' | partition (u16 BE) | key            -> encoded version set   (replicas this node holds)
 *   'h' | owner length (u8) | owner | key     -> encoded version set   (hints held for `owner`)
 *   'm/<name>'                                -> node metadata (incarnation, members, identity)
 *
 * Records sort by partition, so one partition's records are one range scan (anti-entropy, transfer).
 */
const R = 0x72
const H = 0x68
const encoder = new TextEncoder()
const decoder = new TextDecoder()

export const recordKey = (partition: number, key: Uint8Array): Uint8Array => {
  const out = new Uint8Array(3 + key.length)
  out[0] = R
  out[1] = partition >>> 8
  out[2] = partition & 0xff
  out.set(key, 3)
  return out
}

/** Range of all records of one partition. */
export const partitionRange = (partition: number): { gte: Uint8Array; lt: Uint8Array } => ({
  gte: Uint8Array.of(R, partition >>> 8, partition & 0xff),
  lt: partition === 0xffff ? Uint8Array.of(R + 1) : Uint8Array.of(R, (partition + 1) >>> 8, (partition + 1) & 0xff),
})

export const recordsRange = { gte: Uint8Array.of(R), lt: Uint8Array.of(R + 1) }

export const parseRecordKey = (k: Uint8Array): { partition: number; key: Uint8Array } => ({
  partition: (k[1]! << 8) | k[2]!,
  key: k.subarray(3),
})

export const hintKey = (owner: string, key: Uint8Array): Uint8Array => {
  const o = encoder.encode(owner)
  if (o.length > 255) throw new TypeError('owner id too long')
  const out = new Uint8Array(2 + o.length + key.length)
  out[0] = H
  out[1] = o.length
  out.set(o, 2)
  out.set(key, 2 + o.length)
  return out
}

export const hintsRange = { gte: Uint8Array.of(H), lt: Uint8Array.of(H + 1) }

export const parseHintKey = (k: Uint8Array): { owner: string; key: Uint8Array } => {
  const len = k[1]!
  return { owner: decoder.decode(k.subarray(2, 2 + len)), key: k.subarray(2 + len) }
}

export const metaKey = (name: string): Uint8Array => encoder.encode(`m/${name}`)
