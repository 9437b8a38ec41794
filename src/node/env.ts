/** The Env of a real process: wall-clock time, host timers, Math.random. */
import type { Env } from '../types.js'

export const realEnv = (): Env => ({
  now: () => Date.now(),
  setTimer: (ms, fn) => {
    const t = setTimeout(fn, ms)
    return () => clearTimeout(t)
  },
  random: () => Math.random(),
})
