/**
 * The isomorphic entries bundle for the browser without any Node built-in: core, memory storage
 * and the simulated network. A second build proves the guard works by bundling a Node-only file.
 */
import { describe, expect, it } from 'vitest'
import { build, type Rollup } from 'vite'
import config, { noNodeBuiltins } from '../../vite.config.js'

type Output = Rollup.RollupOutput

describe('browser bundle', () => {
  it('bundles dynamesh and dynamesh/sim with no Node built-in', async () => {
    const out = (await build({ ...config, configFile: false, logLevel: 'silent', build: { ...config.build, write: false } })) as Output[]
    const chunks = out.flatMap((o) => o.output).filter((c): c is Rollup.OutputChunk => c.type === 'chunk')
    expect(chunks.map((c) => c.fileName).sort()).toEqual(expect.arrayContaining(['dynamesh.js', 'sim.js']))
    for (const c of chunks) {
      expect(c.imports.filter((i) => i.startsWith('node:'))).toEqual([])
      expect(c.code).not.toMatch(/from ["']node:/)
      expect(c.code).not.toMatch(/require\(["'](fs|path|crypto|os)["']\)/)
    }
    const main = chunks.find((c) => c.fileName === 'dynamesh.js')!
    expect(main.exports).toEqual(expect.arrayContaining(['createNode', 'memoryStorage', 'DynameshError']))
  }, 120_000)

  it('fails when a Node built-in is pulled in', async () => {
    await expect(
      build({
        configFile: false,
        logLevel: 'silent',
        plugins: [noNodeBuiltins()],
        build: { write: false, lib: { entry: { level: 'src/storage/level.ts' }, formats: ['es'] } },
      }),
    ).rejects.toThrow(/Node built-in/)
  }, 120_000)
})
