/**
 * The notes example, built into dist/web/examples/notes (after the demo page's build, which empties
 * dist/web) so `npm start` serves it next to the demo page. It imports `dynamesh` by package name;
 * the alias points that name at the sources.
 */
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'
import { noNodeBuiltins } from '../../../vite.config.js'

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  plugins: [noNodeBuiltins()],
  resolve: { alias: [{ find: /^dynamesh$/, replacement: fileURLToPath(new URL('../../../src/index.ts', import.meta.url)) }] },
  build: {
    outDir: fileURLToPath(new URL('../../../dist/web/examples/notes', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
  },
})
