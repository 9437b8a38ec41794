/**
 * Fixtures of the browser suites: a local cluster of Node peers (`startLocalCluster` on free
 * ports), a Vite dev server for the test pages on 127.0.0.1, Chromium, and helpers to open a page
 * that runs a browser peer (test/browser/fixtures/peer.ts) and to wait for conditions.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { createServer, type ViteDevServer } from 'vite'
import { afterAll, beforeAll } from 'vitest'
import { startLocalCluster, type LocalCluster } from '../../src/cli/start.js'
import { waitUntil } from '../cluster/procs.js'
import { launchChromium } from './chromium.js'

export const root = resolve(import.meta.dirname, '../..')

export interface BrowserWorld {
  cluster: LocalCluster
  vite: ViteDevServer
  viteUrl: string
  browser: Browser
  /** Console errors and page errors of every page opened through `openPeer`. */
  errors: string[]
  stop(): Promise<void>
}

/** Starts Node peers, the dev server and Chromium. `stop()` ends all three and removes the data. */
export async function startWorld(opts: { peers?: number; open?: boolean } = {}): Promise<BrowserWorld> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dynamesh-browser-'))
  const cluster = await startLocalCluster({
    peers: opts.peers ?? 3, httpBase: 0, signalPort: 0, pagePort: 0, dataDir, fresh: true, open: opts.open ?? false,
    log: () => {}, forward: () => {},
  })
  const vite = await createServer({
    root, configFile: false, logLevel: 'silent', clearScreen: false,
    resolve: { alias: [{ find: /^dynamesh$/, replacement: join(root, 'src/index.ts') }] },
    server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false, watch: null },
    optimizeDeps: { entries: ['test/browser/fixtures/*.html', 'web/examples/*/index.html'] },
  })
  await vite.listen()
  const addr = vite.httpServer!.address() as { port: number }
  const viteUrl = `http://127.0.0.1:${addr.port}`
  let browser: Browser
  try {
    browser = await launchChromium()
  } catch (e) {
    await vite.close()
    await cluster.stop()
    throw e
  }
  const errors: string[] = []
  return {
    cluster, vite, viteUrl, browser, errors,
    async stop() {
      await browser.close().catch(() => {})
      await vite.close().catch(() => {})
      await cluster.stop()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** The URL of a test peer page joined to the world's cluster. */
export function peerUrl(w: BrowserWorld, params: Record<string, string | number> = {}): string {
  const q = new URLSearchParams({ signal: w.cluster.signalUrl, room: 'local', admit: `${w.cluster.pageUrl}/`, ...Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)])) })
  return `${w.viteUrl}/test/browser/fixtures/peer.html?${q}`
}

export interface PeerInfo {
  id: string
  role: 'owner' | 'guest'
  persisted: boolean | null
}

/** Opens a peer page in `ctx` and waits for its node to start. */
export async function openPeer(w: BrowserWorld, ctx: BrowserContext, params: Record<string, string | number> = {}): Promise<{ page: Page; info: PeerInfo }> {
  const page = await ctx.newPage()
  page.on('console', (m) => {
    if (m.type() === 'error') w.errors.push(m.text())
  })
  page.on('pageerror', (e) => w.errors.push(String(e)))
  await page.goto(peerUrl(w, params))
  const info = await page.evaluate(() => (window as unknown as { peer: { ready: Promise<PeerInfo> } }).peer.ready)
  return { page, info }
}

/** Calls a helper of the test page (`window.peer[name](...args)`). */
export function call<T>(page: Page, name: string, ...args: unknown[]): Promise<T> {
  return page.evaluate(
    ([n, a]) => (window as unknown as { peer: Record<string, (...x: unknown[]) => Promise<unknown>> }).peer[n as string]!(...(a as unknown[])),
    [name, args] as const,
  ) as Promise<T>
}

/** Polls `check` until it returns true or `ms` pass (the multi-process suites' helper). */
export const waitFor = (what: string, check: () => Promise<boolean> | boolean, ms = 30_000): Promise<void> => waitUntil(what, check, ms, 200)

/** One world for the whole test file: started before its tests, stopped after them. */
export function worldPerFile(): () => BrowserWorld {
  let w: BrowserWorld | undefined
  beforeAll(async () => {
    w = await startWorld()
  }, 120_000)
  afterAll(async () => {
    await w?.stop()
  })
  return () => w as BrowserWorld
}
