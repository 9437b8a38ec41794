/** Stable error codes a caller of dynamesh can receive. */
export type ErrorCode =
  | 'QUORUM_FAILED'
  | 'TIMEOUT'
  | 'VALUE_TOO_LARGE'
  | 'KEY_TOO_LARGE'
  | 'INVALID_KEY'
  | 'INVALID_VALUE'
  | 'INVALID_CONTEXT'
  | 'INVALID_OPTION'
  | 'INVALID_MESSAGE'
  | 'NOT_RUNNING'
  | 'STORAGE_FAILED'
  | 'UNAUTHORIZED'
  | 'UNAVAILABLE'

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
