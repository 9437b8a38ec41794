/** Fixtures shared by the tests of core/riblt.ts. */
import { hash } from '../../src/core/hash.js'
import { PartitionSketch, type SketchSource } from '../../src/core/riblt.js'

/** Deterministic 16-byte entry hashes. */
export const h = (label: string): Uint8Array => hash(new TextEncoder().encode(label)).slice(0, 16)

/** A partition's sketch and entry hashes, as anti-entropy reads them. */
export function source(p: number, hashes: Uint8Array[]): SketchSource {
  const sketch = new PartitionSketch(p)
  for (const x of hashes) sketch.toggle(x, 1)
  return { sketch, hashes: () => hashes }
}
