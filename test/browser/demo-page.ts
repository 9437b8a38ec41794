/**
 * Fixtures of the demo page suites: a static build of web/ (the same `vite build` as
 * `npm run build:web`), a file server for it on 127.0.0.1, Chromium, pages that record every
 * console error, and screenshots under test-results/screenshots/.
 */
import { mkdirSync, readFileSync, statSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { extname, join, normalize, resolve } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { build } from 'vite'

export const root = resolve(import.meta.dirname, '../..')
export const screenshotDir = join(root, 'test-results', 'screenshots')

/**
 * Builds the page into `outDir` exactly as `npm run build:web` does (there: dist/web). Into dist/web
 * the folder is not emptied first: the examples' builds live under it too.
 */
export async function buildPage(outDir: string, opts: { empty?: boolean } = {}): Promise<void> {
  await build({ configFile: join(root, 'web/vite.config.ts'), logLevel: 'silent', build: { outDir, emptyOutDir: opts.empty ?? true } })
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
}

/** Serves a folder of plain files on 127.0.0.1 (a free port). */
export function serveStatic(dir: string): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!)
    const file = normalize(join(dir, path.endsWith('/') ? `${path}index.html` : path))
    try {
      if (!file.startsWith(dir) || !statSync(file).isFile()) throw new Error('not found')
      res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' })
      res.end(readFileSync(file))
    } catch {
      res.writeHead(404).end('not found')
    }
  })
  return new Promise((ok) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      ok({ url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((done) => server.close(() => done())) })
    })
  })
}

/** A page that records console errors and uncaught exceptions into `errors`. */
export async function openPage(browser: Browser, url: string, size: { width: number; height: number }, errors: string[]): Promise<Page> {
  const page = await browser.newPage({ viewport: size })
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`)
  })
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`))
  await page.goto(url)
  return page
}

/** Saves a screenshot as test-results/screenshots/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(screenshotDir, { recursive: true })
  const path = join(screenshotDir, `${name}.png`)
  await page.screenshot({ path })
  return path
}

/** How far the page is wider than its viewport, in CSS pixels (0 when it fits). */
export const overflowX = (page: Page): Promise<number> =>
  page.evaluate(() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) - window.innerWidth)

export const PHONE = { width: 390, height: 844 }
export const LAPTOP = { width: 1280, height: 800 }
