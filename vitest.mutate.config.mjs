// The vitest configuration mutation testing runs with (stryker.config.mjs). Stryker stops a mutant
// at its first failing test, so test files run fastest first: unit tests, then simulated clusters,
// the heaviest last. A simulated cluster that never settles fails its test after testTimeout
// instead of vitest's usual two minutes.
import { BaseSequencer } from 'vitest/node'
import { defineConfig, mergeConfig } from 'vitest/config'
import base from './vitest.config.ts'

/** Heaviest simulated suites, run last (most mutants they reach die earlier). */
const LAST = ['persistence', 'repair', 'membership', 'handoff', 'movement']

const rank = (file) => {
  const name = file.replace(/\\/g, '/')
  if (name.includes('/test/unit/')) return 0
  const i = LAST.findIndex((n) => name.endsWith(`/test/sim/${n}.test.ts`))
  return i < 0 ? 1 : 2 + i
}

class FastFirst extends BaseSequencer {
  async sort(files) {
    const id = (f) => f.moduleId ?? f[1] ?? ''
    return [...files].sort((a, b) => rank(id(a)) - rank(id(b)) || (id(a) < id(b) ? -1 : id(a) > id(b) ? 1 : 0))
  }
}

export default mergeConfig(
  base,
  defineConfig({
    test: {
      testTimeout: 45_000,
      sequence: { sequencer: FastFirst, shuffle: false },
    },
  }),
)
