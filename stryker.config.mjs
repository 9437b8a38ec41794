// Mutation testing (`npm run mutate`): StrykerJS with its vitest runner over the pure core and the
// node, on the in-process suites only. Not part of `npm test` or CI: run it after changing a
// mechanism, to see that its tests fail when the mechanism is broken. README.md, "Tests and
// benchmarks", has the scope, the measured times and the scores.
//
//   npm run mutate                                    # everything below, incremental
//   npm run mutate -- --mutate src/node/handoff.ts    # one file
//   npm run mutate -- --force                         # ignore the incremental file, test every mutant
import { readdirSync } from 'node:fs'

/**
 * In-process, deterministic suites: unit tests and simulated clusters. Left out: the swarm (its
 * thousands of seeds would run for every mutant they reach; a mutant should be killed by a test
 * named for its mechanism), and tests that need real sockets, WebRTC, LevelDB alone or a bundler,
 * which cover none of the mutated code and are timing-sensitive. test/cluster and test/browser
 * never run here.
 */
const SKIP = new Set([
  'test/sim/swarm-a.test.ts',
  'test/sim/swarm-b.test.ts',
  'test/unit/transport-webrtc.test.ts',
  'test/unit/signaling.test.ts',
  'test/unit/browser-bundle.test.ts',
  'test/unit/storage-level.test.ts',
  'test/unit/http.test.ts',
  'test/unit/http-limits.test.ts',
  // Moves records of megabytes through whole simulated clusters: instrumented, every byte loop
  // counts coverage, and a 0.8 s test passes 45 s. The record limit's checks are also covered by
  // test/unit (record and wire tests).
  'test/sim/limits.test.ts',
])
const testFiles = ['test/unit', 'test/sim']
  .flatMap((dir) => readdirSync(dir).filter((f) => f.endsWith('.test.ts')).map((f) => `${dir}/${f}`))
  .filter((f) => !SKIP.has(f))
  .sort()

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutate.config.mjs', related: false },
  testFiles,
  // Not sha256.ts: its test pins it against @noble/hashes on many inputs, so any mutant of it that
  // changes a digest dies there, and instrumented it costs a coverage counter per round of every
  // byte any simulated suite hashes (one test of large records went from 0.8 s past 45 s).
  mutate: ['src/core/**/*.ts', 'src/node/**/*.ts', '!src/core/sha256.ts'],
  // Each mutant runs only the tests that reached it in the dry run.
  coverageAnalysis: 'perTest',
  // A mutant of a module's top level (a constant table) would need the environment reloaded and
  // every test run; those are left out of the score rather than costing a full suite each.
  ignoreStatic: true,
  // A re-run tests only mutants whose code or covering tests changed since the last run.
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  concurrency: 2,
  // Tight: simulated runs that never settle spin in virtual time, so a hung mutant costs its tests'
  // normal time plus this, not vitest's two-minute test timeout.
  timeoutMS: 4000,
  timeoutFactor: 1.5,
  dryRunTimeoutMinutes: 15,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  thresholds: { high: 90, low: 80, break: null },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
}
