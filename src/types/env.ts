/**
 * Where time and randomness come from, injected so the core never reads the clock itself. Types
 * only; `realEnv` (src/node/env.ts) and each life of a simulated node (src/sim/network.ts) provide it.
 */

/** Cancels what it was returned for (a timer); calling it again does nothing. */
export type Cancel = () => void

/** Time, timers and randomness. */
export interface Env {
  /** Milliseconds; wall clock in real envs, virtual in the simulation. */
  now(): number
  /** Calls `fn` once, about `ms` milliseconds from now, unless cancelled first. */
  setTimer(ms: number, fn: () => void): Cancel
  /** Uniform in [0, 1). */
  random(): number
}
