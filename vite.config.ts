/**
 * Vite builds the browser side of dynamesh: the isomorphic entries (`dynamesh`, `dynamesh/sim`) as
 * an ES library. The guard plugin fails the build if anything pulls in a Node built-in, which is
 * what keeps the browser bundle honest (test/unit/browser-bundle.test.ts runs this build).
 */
import { builtinModules } from 'node:module'
import { defineConfig, type Plugin } from 'vite'

const nodeBuiltins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)])

/** Fails on any import of a Node built-in, naming the importer. */
export function noNodeBuiltins(): Plugin {
  return {
    name: 'dynamesh:no-node-builtins',
    enforce: 'pre',
    resolveId(source, importer) {
      if (nodeBuiltins.has(source)) {
        this.error(`browser bundle imports the Node built-in "${source}" (from ${importer ?? 'the entry'})`)
      }
      return null
    },
  }
}

export default defineConfig({
  plugins: [noNodeBuiltins()],
  define: { global: 'globalThis' },
  build: {
    outDir: 'dist/browser',
    emptyOutDir: true,
    target: 'es2022',
    lib: {
      entry: { dynamesh: 'src/index.ts', sim: 'src/sim/index.ts' },
      formats: ['es'],
    },
  },
})
