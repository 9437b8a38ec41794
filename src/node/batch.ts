/**
 * Store batches (hinted handoff, ownership transfer, anti-entropy pushes): records grouped into
 * messages by count and bytes, so a batch never holds more than fits. Several records share a
 * message only while their bytes stay within the budget (at most MAX_MESSAGE_BYTES, limits.ts); a
 * record above the budget travels alone, up to the transports' hard cap, streamed by the framing.
 */
import { MAX_BATCH_ITEMS, MAX_MESSAGE_BYTES } from '../limits.js'

/** What one store item adds to its message besides key and record: field names, hint, codec framing. */
const ITEM_OVERHEAD = 160

/** Encoded bytes an item adds to a store message, near enough for budgeting. */
export const itemBytes = (it: { key: Uint8Array; rec: Uint8Array }): number => it.key.length + it.rec.length + ITEM_OVERHEAD

/** Splits items, in order, into batches of at most `maxItems` items and `maxBytes` bytes (a bigger item alone). */
export function batches<T extends { key: Uint8Array; rec: Uint8Array }>(
  items: readonly T[],
  budget: { maxItems?: number; maxBytes?: number } = {},
): T[][] {
  const maxItems = Math.min(budget.maxItems ?? MAX_BATCH_ITEMS, MAX_BATCH_ITEMS)
  const maxBytes = Math.min(budget.maxBytes ?? MAX_MESSAGE_BYTES, MAX_MESSAGE_BYTES)
  const out: T[][] = []
  let cur: T[] = []
  let bytes = 0
  for (const it of items) {
    const size = itemBytes(it)
    if (cur.length > 0 && (cur.length >= maxItems || bytes + size > maxBytes)) {
      out.push(cur)
      cur = []
      bytes = 0
    }
    cur.push(it)
    bytes += size
  }
  if (cur.length) out.push(cur)
  return out
}
