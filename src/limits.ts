/**
 * Every size limit of dynamesh, defined once: node options, the wire decoder, the record codec, the
 * framing layer and both transports (simulated and WebRTC) read them from here, so a value the API
 * accepts always fits a record, a record at its limit always fits a message, and a message a real
 * transport would refuse is refused by the simulated one too. Constants only; no logic.
 *
 * The budget, from the client inwards:
 *
 *   value   ≤ 1 MiB      what one put may carry (option `maxValueBytes`, at most the record limit)
 *   record  ≤ 4 MiB      a key's whole version set, encoded (option `maxRecordBytes`, at most 4 MiB):
 *                        a write that would grow a set past it is refused at the coordinator
 *   siblings ≤ 100       concurrent versions a write may leave (option `maxSiblings`, at most 100)
 *   message ≤ 4 MiB + 64 KiB   what a batch aims at: one record at its limit plus key, hint, framing
 *   hard cap ≤ 64 MiB    the most any transport carries and any decoder accepts
 *
 * Why these numbers:
 * - Record 4 MiB: four values at the value limit, the same order as Riak's 5 MB warning. A record
 *   travels whole to every replica on every write, read, repair and transfer; 4 MiB takes ~0.07 s
 *   between Node peers (~60 MB/s over node-datachannel on loopback) and ~0.7 s to or from a browser
 *   (~6 MB/s in Chromium), which is about what a call's default 2 s timeout can absorb.
 * - Siblings 100: Riak refuses writes at 100 siblings by default (and warns at 25). A client that has
 *   to merge more has stopped resolving conflicts; the bound keeps merges and replies cheap too.
 * - Hard cap 64 MiB, sixteen times the record limit: writes through different coordinators can each
 *   pass the coordinator's check and still merge into a set above it (both sides of a partition,
 *   offline browsers taking writes as their own fallbacks). Such a set must still replicate, repair
 *   and hand off, so messages carry up to sixteen full records, streamed by the framing layer in
 *   16 KiB frames. It is slow to a browser (~11 s at 6 MB/s) but it moves, and the next write with
 *   the read's context shrinks it. A set merged past even this cap cannot travel: the send is refused
 *   with MESSAGE_TOO_LARGE, counted and reported, never silently lost.
 * - Frames of 16 KiB: the data-channel message size every WebRTC implementation delivers intact
 *   (Chromium's SCTP limit is 256 KiB; it closes a channel whose buffer passes 16 MiB, and senders
 *   pause at 1 MiB buffered). The whole-message limit is the one both transports enforce alike.
 *
 * Not yet here (each still defined where it is used): the record codec's bounds on replica ids and
 * vector entries (core/record.ts), error-code lengths (wire/messages.ts),
 * SDP size (transport/loopback.ts), the signaling server's buffers (signaling/server.ts), the status
 * page's body limit (cli/status-page.ts), Merkle probe counts (core/merkle-codec.ts). Receive
 * memory is bounded per connection (one message up to the hard cap being reassembled), not yet
 * across connections: that budget belongs with the limits against hostile peers.
 */

const KiB = 1024
const MiB = 1024 * KiB

/** Largest key, in bytes (UTF-8 for string keys). */
export const MAX_KEY_BYTES = 1 * KiB

/** Default largest value of one put (option `maxValueBytes`; it may be raised up to the record limit). */
export const MAX_VALUE_BYTES = 1 * MiB

/** Largest record a write may produce: a key's whole version set, encoded (option `maxRecordBytes`, at most this). */
export const MAX_RECORD_BYTES = 4 * MiB

/** Most siblings a write may leave on a key (option `maxSiblings`, at most this). */
export const MAX_SIBLINGS = 100

/** Room for what a message carries around records: keys, hints, message fields, codec overhead. */
export const MESSAGE_OVERHEAD_BYTES = 64 * KiB

/** Largest ordinary message, and the budget of a batch: one record at the record limit fits. */
export const MAX_MESSAGE_BYTES = MAX_RECORD_BYTES + MESSAGE_OVERHEAD_BYTES

/** The most any transport carries and any decoder accepts in one message (records merged past the record limit). */
export const HARD_MESSAGE_BYTES = 64 * MiB

/** Most siblings a decoded version set may hold (merges can exceed MAX_SIBLINGS; this bounds what a peer can make us parse). */
export const HARD_SIBLINGS = 10_000

/** Largest frame handed to a data channel. */
export const MAX_FRAME_BYTES = 16 * KiB

/** Records per batch message (store batches of handoff and anti-entropy), besides the byte budget. */
export const MAX_BATCH_ITEMS = 128

/**
 * Slowest link throughput a call plans for, in bytes per millisecond (4 MB/s, below Chromium's
 * ~6 MB/s): a request carrying many bytes gets this much more time before it counts as unanswered.
 */
export const SLOW_LINK_BYTES_PER_MS = 4000

/** Partitions in a ring, at most (a power of two). */
export const MAX_Q = 2 ** 16

/** Largest node weight: bounds a node's token count and so the ring's size. */
export const MAX_WEIGHT = 256

/** Members one gossip message may carry (a larger view travels in several). */
export const MAX_GOSSIP_MEMBERS = 4096

/** Highest member version: far beyond any real count of a member's status changes, so none can be made unbeatable. */
export const MAX_MEMBER_VERSION = 2 ** 40

/** Most members a view may hold, and a gossip version list describe. */
export const MAX_VIEW_MEMBERS = 65_536

/** Finest resolution of gossip's bucket sums (a power of two): members per bucket stay few up to ~8,000 members. */
export const MAX_GOSSIP_BUCKETS = 1024

/**
 * Cells of rateless reconciliation a view keeps current (core/view.ts): views differing in up to
 * ~750 entries reconcile in cells; further apart they compare bucket sums.
 */
export const VIEW_CELLS = 1024

/** Longest member id, in characters. */
export const MAX_MEMBER_ID = 128

/** Reconciliation cells in one anti-entropy message (13 bytes each: ~106 KB). */
export const MAX_CELLS_PER_MESSAGE = 8192
/** Reconciliation cells one anti-entropy session may ask for; a larger difference is walked with the hash trees. */
export const MAX_SESSION_CELLS = 65_536

/**
 * Hints one node holds for one owner: past it a further key for that owner is refused (OVERLOADED,
 * counted in stats().overloaded.hints) and the coordinator looks for another fallback, so a member
 * cannot fill another's disk with hints for an owner that never returns.
 */
export const MAX_HINTS_PER_OWNER = 100_000

/** Items in one list field of a message (store items, pulled keys). */
export const MAX_LIST_ITEMS = 10_000

/**
 * Messages one peer may have handled per second (a token bucket this deep, refilled at this rate):
 * far above what a quorum workload sends one peer, low enough that a flood cannot monopolise a node.
 */
export const MAX_PEER_MESSAGES_PER_SEC = 10_000

/**
 * Bytes of one peer's stores and pushes being applied at once: one message at the hard cap and one
 * ordinary batch. Past it a peer's writes are refused (OVERLOADED) until earlier ones are stored.
 */
export const MAX_PEER_QUEUED_BYTES = HARD_MESSAGE_BYTES + MAX_MESSAGE_BYTES
