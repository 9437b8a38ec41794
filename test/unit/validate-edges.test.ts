/**
 * The edges of node/validate.ts that the node-level option and limit tests (limits.test.ts) do not
 * pin down: each bound of a key, a value, a replica count and a timeout on both sides, the words
 * and codes of what is refused, copies that do not share their caller's bytes, an abort that wins or
 * loses against the promise it races (leaving no listener behind), how a key is shown in an error,
 * and the singular and the limits of the growth check.
 */
import { getEventListeners } from 'node:events'
import { describe, expect, it } from 'vitest'
import { DynameshError, type ErrorCode } from '../../src/errors.js'
import { MAX_KEY_BYTES } from '../../src/limits.js'
import { checkCount, checkGrowth, checkKey, checkTimeout, checkValue, keyText, withAbort } from '../../src/node/validate.js'

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)

/** The error `f` throws, to look at its class, code and message together. */
const thrown = (f: () => unknown): unknown => {
  try {
    f()
  } catch (e) {
    return e
  }
  throw new Error('did not throw')
}
const refusal = (f: () => unknown): { code: ErrorCode; message: string } => {
  const e = thrown(f)
  expect(e).toBeInstanceOf(DynameshError)
  const { code, message } = e as DynameshError
  return { code, message }
}

describe('validate edges: checkKey', () => {
  it('takes a string as its UTF-8 and bytes as a copy of their own', () => {
    expect(checkKey('é')).toEqual(Uint8Array.of(0xc3, 0xa9))
    const raw = Uint8Array.of(1, 2, 3)
    const k = checkKey(raw)
    raw[0] = 9
    expect(k).toEqual(Uint8Array.of(1, 2, 3))
  })

  it('refuses anything but a string or bytes as a TypeError', () => {
    for (const bad of [7, null, undefined, [1], new ArrayBuffer(1)]) {
      const e = thrown(() => checkKey(bad as unknown as string))
      expect(e).toBeInstanceOf(TypeError)
      expect((e as Error).message).toBe('key must be a string or a Uint8Array')
    }
  })

  it('refuses an empty key, text or bytes', () => {
    expect(refusal(() => checkKey(''))).toEqual({ code: 'INVALID_KEY', message: 'key must not be empty' })
    expect(refusal(() => checkKey(new Uint8Array(0)))).toEqual({ code: 'INVALID_KEY', message: 'key must not be empty' })
    expect(checkKey('k')).toEqual(bytes('k'))
  })

  it('takes a key of exactly the limit and refuses one byte more, saying both sizes', () => {
    expect(checkKey(new Uint8Array(MAX_KEY_BYTES))).toHaveLength(MAX_KEY_BYTES)
    expect(checkKey('x'.repeat(MAX_KEY_BYTES))).toHaveLength(MAX_KEY_BYTES)
    expect(refusal(() => checkKey(new Uint8Array(MAX_KEY_BYTES + 1)))).toEqual({
      code: 'INVALID_KEY',
      message: `key is ${MAX_KEY_BYTES + 1} bytes; the limit is ${MAX_KEY_BYTES}`,
    })
  })
})

describe('validate edges: checkValue', () => {
  it('takes a string as its UTF-8, bytes as a copy of their own, and an empty value', () => {
    expect(checkValue('é', 10)).toEqual(Uint8Array.of(0xc3, 0xa9))
    const raw = Uint8Array.of(4, 5)
    const v = checkValue(raw, 10)
    raw[1] = 0
    expect(v).toEqual(Uint8Array.of(4, 5))
    expect(checkValue('', 0)).toEqual(new Uint8Array(0))
    expect(checkValue(new Uint8Array(0), 0)).toEqual(new Uint8Array(0))
  })

  it('refuses anything but a string or bytes as a TypeError', () => {
    for (const bad of [7, null, undefined, { length: 1 }]) {
      const e = thrown(() => checkValue(bad as unknown as string, 10))
      expect(e).toBeInstanceOf(TypeError)
      expect((e as Error).message).toBe('value must be a string or a Uint8Array')
    }
  })

  it('takes a value of exactly the limit given and refuses one byte more, saying both sizes', () => {
    expect(checkValue(new Uint8Array(5), 5)).toHaveLength(5)
    expect(checkValue('abcde', 5)).toHaveLength(5)
    expect(refusal(() => checkValue(new Uint8Array(6), 5))).toEqual({ code: 'VALUE_TOO_LARGE', message: 'value is 6 bytes; the limit is 5' })
    expect(refusal(() => checkValue('ééé', 5))).toEqual({ code: 'VALUE_TOO_LARGE', message: 'value is 6 bytes; the limit is 5' })
  })
})

describe('validate edges: checkCount', () => {
  it('gives the fallback for a missing option and takes every whole number from 1 to the maximum', () => {
    expect(checkCount('n', undefined, 3, 5)).toBe(3)
    expect([1, 2, 5].map((v) => checkCount('n', v, 3, 5))).toEqual([1, 2, 5])
  })

  it('refuses 0, one past the maximum, fractions and non-numbers, naming the option, the range and the value', () => {
    for (const [v, shown] of [[0, '0'], [6, '6'], [1.5, '1.5'], [-1, '-1'], [NaN, 'NaN'], [Infinity, 'Infinity']] as const) {
      expect(refusal(() => checkCount('w', v, 3, 5))).toEqual({ code: 'INVALID_OPTION', message: `w must be a whole number from 1 to 5, got ${shown}` })
    }
  })
})

describe('validate edges: checkTimeout', () => {
  it('gives the fallback for a missing option and takes any positive time up to ten minutes', () => {
    expect(checkTimeout(undefined, 250)).toBe(250)
    expect([0.5, 1, 600_000].map((v) => checkTimeout(v, 250))).toEqual([0.5, 1, 600_000])
  })

  it('refuses 0, negative, non-finite, over ten minutes and non-numbers, saying the range and the value', () => {
    const cases: Array<[unknown, string]> = [[0, '0'], [-1, '-1'], [600_001, '600001'], [NaN, 'NaN'], [Infinity, 'Infinity'], ['5', '5'], [null, 'null']]
    for (const [v, shown] of cases) {
      expect(refusal(() => checkTimeout(v as number, 250))).toEqual({
        code: 'INVALID_OPTION',
        message: `timeoutMs must be a number of milliseconds from 1 to 600000, got ${shown}`,
      })
    }
  })
})

/**
 * How a promise has settled once pending callbacks ran: its value, its error, or 'pending' (so a
 * promise that never settles fails its test at once instead of hanging it).
 */
const outcome = <T>(p: Promise<T>): Promise<{ value: T } | { error: unknown } | 'pending'> =>
  Promise.race([p.then((value) => ({ value }), (error: unknown) => ({ error })), new Promise<'pending'>((r) => setTimeout(() => r('pending'), 0))])

describe('validate edges: withAbort', () => {
  const never = (): Promise<never> => new Promise<never>(() => {})

  it('hands back the promise itself without a signal', () => {
    const p = Promise.resolve(1)
    expect(withAbort(p, undefined)).toBe(p)
  })

  it('rejects with the reason of a signal aborted before, without waiting for the promise', async () => {
    const c = new AbortController()
    const reason = new Error('gone')
    c.abort(reason)
    expect(await outcome(withAbort(never(), c.signal))).toEqual({ error: reason })
    expect(getEventListeners(c.signal, 'abort')).toHaveLength(0)
  })

  it('rejects with the reason when the signal aborts first', async () => {
    const c = new AbortController()
    const reason = new Error('cancelled')
    const p = withAbort(never(), c.signal)
    expect(await outcome(p)).toBe('pending')
    c.abort(reason)
    expect(await outcome(p)).toEqual({ error: reason })
  })

  it('settles as the promise does when it settles first, and takes its listener off the signal', async () => {
    const c = new AbortController()
    expect(await outcome(withAbort(Promise.resolve('v'), c.signal))).toEqual({ value: 'v' })
    expect(getEventListeners(c.signal, 'abort')).toHaveLength(0)
    const failed = new Error('failed')
    expect(await outcome(withAbort(Promise.reject(failed), c.signal))).toEqual({ error: failed })
    expect(getEventListeners(c.signal, 'abort')).toHaveLength(0)
  })

  it('keeps its listener on the signal while the promise is pending, and none once it aborted', async () => {
    const c = new AbortController()
    const p = withAbort(never(), c.signal)
    expect(getEventListeners(c.signal, 'abort')).toHaveLength(1)
    c.abort()
    expect(getEventListeners(c.signal, 'abort')).toHaveLength(0)
    expect(await outcome(p)).toEqual({ error: c.signal.reason })
  })
})

describe('validate edges: keyText', () => {
  it('quotes short printable UTF-8 up to 64 characters', () => {
    expect(keyText(bytes('user:1'))).toBe('"user:1"')
    expect(keyText(bytes('a"b'))).toBe('"a\\"b"')
    expect(keyText(bytes('x'.repeat(64)))).toBe(`"${'x'.repeat(64)}"`)
    expect(keyText(new Uint8Array(0))).toBe('""')
  })

  it('shows as hex text over 64 characters, with a control character, or not UTF-8', () => {
    expect(keyText(bytes('x'.repeat(65)))).toBe(`0x${'78'.repeat(32)}…`)
    expect(keyText(bytes('a\nb'))).toBe('0x610a62')
    expect(keyText(bytes('\u007f'))).toBe('0x7f')
    expect(keyText(Uint8Array.of(0x61, 0xff))).toBe('0x61ff')
    expect(keyText(Uint8Array.of(0xed, 0xa0, 0x80))).toBe('0xeda080')
  })

  it('shows the first 32 bytes, two digits each, and marks only a longer key as cut', () => {
    expect(keyText(Uint8Array.of(0, 1, 0x0a, 0xff))).toBe('0x00010aff')
    expect(keyText(new Uint8Array(32).fill(0xfe))).toBe(`0x${'fe'.repeat(32)}`)
    expect(keyText(new Uint8Array(33).fill(0xfe))).toBe(`0x${'fe'.repeat(32)}…`)
  })
})

describe('validate edges: checkGrowth', () => {
  const k = bytes('k')
  const limits = { maxRecordBytes: 1000, maxSiblings: 3 }
  const resolve = "Read the key, merge its siblings into one value and write that back with the read's context."

  it('refuses one sibling past the limit, naming one sibling in the singular', () => {
    expect(refusal(() => checkGrowth(k, { siblings: 1, bytes: 40 }, { siblings: 4, bytes: 90 }, limits))).toEqual({
      code: 'TOO_MANY_SIBLINGS',
      message: `key "k" has 1 sibling in 40 bytes; this write would leave 4, over the limit of 3 siblings. ${resolve}`,
    })
  })

  it('lets a write reach the sibling limit, and one past it that leaves no more than there were', () => {
    expect(() => checkGrowth(k, { siblings: 2, bytes: 40 }, { siblings: 3, bytes: 90 }, limits)).not.toThrow()
    expect(() => checkGrowth(k, { siblings: 5, bytes: 40 }, { siblings: 5, bytes: 90 }, limits)).not.toThrow()
    expect(refusal(() => checkGrowth(k, { siblings: 5, bytes: 40 }, { siblings: 6, bytes: 90 }, limits)).code).toBe('TOO_MANY_SIBLINGS')
  })

  it('lets a write reach the record limit, and one past it that is no larger than the record was', () => {
    expect(() => checkGrowth(k, { siblings: 1, bytes: 900 }, { siblings: 1, bytes: 1000 }, limits)).not.toThrow()
    expect(() => checkGrowth(k, { siblings: 1, bytes: 1200 }, { siblings: 2, bytes: 1200 }, limits)).not.toThrow()
    expect(refusal(() => checkGrowth(k, { siblings: 1, bytes: 1200 }, { siblings: 1, bytes: 1201 }, limits))).toEqual({
      code: 'RECORD_TOO_LARGE',
      message: `key "k" has 1 sibling in 1200 bytes; this write would make it 1201 bytes, over the record limit of 1000 bytes. ${resolve}`,
    })
  })
})
