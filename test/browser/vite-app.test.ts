/**
 * dynamesh as a user's plain Vite app sees it: an app folder with nothing but an index.html and a
 * main.js that imports `dynamesh` by package name (node_modules/dynamesh links to this package, built
 * with tsc), bundled by `vite build` with no configuration at all (no polyfills, no defines). The
 * built app is served as static files, opened in Chromium, and its peer joins a cluster of Node
 * peers: a put in the app reads back through a Node peer's HTTP API. Prints the bundle's gzipped size.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { extname, join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { build } from 'vite'
import { httpCluster, httpGet } from '../../src/http/client.js'
import { root, startWorld, waitFor, type BrowserWorld } from './harness.js'

const MAIN_JS = `
import { createNode, idbStorage, createWebRtcTransport, loadIdentity } from 'dynamesh'

const q = new URLSearchParams(location.search)
const storage = await idbStorage('app')
const identity = await loadIdentity(storage)
const transport = createWebRtcTransport({ signalUrl: q.get('signal'), room: 'local', identity, loopbackOnly: true })
const node = await createNode({ storage, transport, n: 3, r: 2, w: 2 })
window.app = { id: node.id, put: (k, v) => node.put(k, v).then(() => 'ok') }
document.body.dataset.ready = node.id
`

let w: BrowserWorld
let app: string
let server: Server
let url: string

beforeAll(async () => {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'pipe' })
  app = mkdtempSync(join(tmpdir(), 'dynamesh-vite-app-'))
  mkdirSync(join(app, 'node_modules'))
  symlinkSync(root, join(app, 'node_modules', 'dynamesh'), 'dir')
  writeFileSync(join(app, 'index.html'), '<!doctype html><html><body><script type="module" src="./main.js"></script></body></html>\n')
  writeFileSync(join(app, 'main.js'), MAIN_JS)
  await build({ root: app, logLevel: 'silent', configFile: false, build: { outDir: join(app, 'dist'), target: 'es2022' } })
  const dist = join(app, 'dist')
  server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!
    try {
      const body = readFileSync(join(dist, path === '/' ? 'index.html' : path.replace(/\.\./g, '')))
      res.writeHead(200, { 'Content-Type': extname(path) === '.js' ? 'text/javascript' : 'text/html' }).end(body)
    } catch {
      res.writeHead(404).end()
    }
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  // An open cluster: the app joins with nothing but the signaling URL.
  w = await startWorld({ open: true })
}, 240_000)

afterAll(async () => {
  await w?.stop()
  server?.close()
  if (app) rmSync(app, { recursive: true, force: true })
})

describe('a plain Vite app importing dynamesh by name', () => {
  it('builds without polyfill configuration and its peer joins a Node cluster', async () => {
    const assets = readdirSync(join(app, 'dist', 'assets')).filter((f) => f.endsWith('.js'))
    const bytes = assets.reduce((n, f) => n + readFileSync(join(app, 'dist', 'assets', f)).length, 0)
    const gz = assets.reduce((n, f) => n + gzipSync(readFileSync(join(app, 'dist', 'assets', f))).length, 0)
    console.log(`browser bundle of an app using dynamesh: ${(bytes / 1024).toFixed(1)} KiB, ${(gz / 1024).toFixed(1)} KiB gzipped`)
    const js = assets.map((f) => readFileSync(join(app, 'dist', 'assets', f), 'utf8')).join('\n')
    expect(js).not.toMatch(/from ["']node:|require\(["'](fs|path|crypto|os|events|stream)["']\)/)

    const ctx = await w.browser.newContext()
    const page = await ctx.newPage()
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(String(e)))
    await page.goto(`${url}/?signal=${encodeURIComponent(w.cluster.signalUrl)}`)
    await page.waitForFunction(() => document.body.dataset.ready, undefined, { timeout: 30_000 })
    const id = await page.evaluate(() => document.body.dataset.ready!)
    await waitFor('the app peer in a Node peer\'s /cluster', async () =>
      (await httpCluster(w.cluster.peers[0]!.http)).members.some((m) => m.id === id && m.reachable))
    expect(await page.evaluate(() => (window as unknown as { app: { put(k: string, v: string): Promise<string> } }).app.put('from-app', 'hello from a Vite app'))).toBe('ok')
    await waitFor('the app\'s write through HTTP', async () =>
      new TextDecoder().decode((await httpGet(w.cluster.peers[1]!.http, 'from-app')).values[0]) === 'hello from a Vite app')
    expect(errors).toEqual([])
    await ctx.close()
  })
})
