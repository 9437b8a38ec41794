/**
 * The demo page (web/): `npm run build:web` writes a static build to dist/web that works from plain
 * files (`base: './'`), so the simulated mode runs without any server; `npm start` serves the same
 * build next to `/config.json` for the live mode. The page imports the library by package name;
 * the aliases point those names at the sources, so no prior `tsc` build is needed.
 */
import { fileURLToPath } from 'node:url'
import { defineConfig, type Plugin } from 'vite'
import { noNodeBuiltins } from '../vite.config.js'

const src = (p: string): string => fileURLToPath(new URL(`../src/${p}`, import.meta.url))

/**
 * Browsers refuse module scripts from `file://` pages, so the build is one classic (IIFE) script,
 * loaded with `defer`: index.html then works opened straight from the disk.
 */
function classicScript(): Plugin {
  return {
    name: 'dynamesh:classic-script',
    apply: 'build',
    enforce: 'post',
    transformIndexHtml: (html) => html.replace(/<script type="module"/g, '<script defer').replace(/ crossorigin/g, ''),
  }
}

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  plugins: [noNodeBuiltins(), classicScript()],
  define: { global: 'globalThis' },
  resolve: {
    // Longest first: `dynamesh/sim` must not be read as `dynamesh` + `/sim`.
    alias: [
      { find: /^dynamesh\/sim$/, replacement: src('sim/index.ts') },
      { find: /^dynamesh$/, replacement: src('index.ts') },
    ],
  },
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 800,
    modulePreload: false,
    cssCodeSplit: false,
    rolldownOptions: { output: { format: 'iife', codeSplitting: false } },
  },
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
})
