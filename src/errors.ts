/** Stable error codes a caller of dynamesh can receive, each with what it means. */
export const ERROR_CODES = {
  QUORUM_FAILED: 'fewer replicas than asked for acknowledged or answered; the message says which did not, and why',
  TIMEOUT: 'the call ran out of time',
  VALUE_TOO_LARGE: 'the value is over the value limit',
  KEY_TOO_LARGE: 'the key is over the key limit',
  RECORD_TOO_LARGE: "the write would grow the key's version set past the record limit: read, merge the siblings, write back with the context",
  TOO_MANY_SIBLINGS: 'the write would leave the key more siblings than the limit: read, merge the siblings, write back with the context',
  MESSAGE_TOO_LARGE: 'a transport refused a message over its message limit',
  INVALID_KEY: 'the key is empty or malformed',
  INVALID_VALUE: 'the value is malformed',
  INVALID_CONTEXT: 'the context is not one a get returned',
  INVALID_OPTION: 'an option is out of range',
  INVALID_MESSAGE: 'a message failed validation',
  NOT_RUNNING: 'the node is stopped',
  NOT_OWNER: 'a replica was sent records of a partition it does not own in its view of the ring (the ring is changing): it keeps a copy and moves it on, but does not count as holding it',
  STORAGE_FAILED: 'the storage failed',
  UNAUTHORIZED: 'the signaling server refused the identity',
  UNAVAILABLE: 'the peer, server or client went away',
  OVERLOADED: 'a peer sent more than a node accepts from one peer (messages per second, bytes being stored), or more hints for one owner than a node holds; the excess was dropped and counted',
} as const

export type ErrorCode = keyof typeof ERROR_CODES

/** True when `s` is one of the stable codes (for codes that arrive over the wire). */
export const isErrorCode = (s: string): s is ErrorCode => Object.hasOwn(ERROR_CODES, s)

/** An error with a stable `code`; programmer mistakes are `TypeError` instead. */
export class DynameshError extends Error {
  readonly code: ErrorCode
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'DynameshError'
    this.code = code
  }
}

export const isDynameshError = (e: unknown, code?: ErrorCode): e is DynameshError =>
  e instanceof DynameshError && (code === undefined || e.code === code)
