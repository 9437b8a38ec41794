/**
 * The demo page's live mode in real Chromium against the cluster `npm start` runs (startLocalCluster
 * on free ports, three Node peers): the page's own peer joins, the page draws every member and
 * itself without console errors, and a put through the page's form reads back through a Node
 * peer's HTTP API. Screenshots at laptop and phone widths; the phone width must not overflow.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startLocalCluster, type LocalCluster } from '../../src/cli/start.js'
import { launchChromium } from './chromium.js'
import { buildPage, LAPTOP, openPage, overflowX, PHONE, root, screenshot } from './demo-page.js'

const dataDir = mkdtempSync(join(tmpdir(), 'dynamesh-demo-live-'))
const lines: string[] = []
let cluster: LocalCluster | undefined
let browser: Browser | undefined
let page: Page | undefined
const errors: string[] = []

beforeAll(async () => {
  // npm start serves dist/web; build it the way `npm run build:web` does.
  await buildPage(join(root, 'dist', 'web'), { empty: false })
  cluster = await startLocalCluster({
    peers: 3, httpBase: 0, signalPort: 0, pagePort: 0, dataDir, fresh: true,
    log: (l) => void lines.push(l), forward: (l) => void lines.push(l), formTimeoutMs: 45_000,
  })
  browser = await launchChromium()
}, 180_000)

afterAll(async () => {
  await page?.close().catch(() => {})
  await browser?.close()
  await cluster?.stop()
  rmSync(dataDir, { recursive: true, force: true })
})

const memberCount = (p: Page): Promise<number> => p.locator('#members tbody tr').count()

describe('demo page, live mode', () => {
  it('joins the npm start cluster and draws every member and its own peer, without console errors', async () => {
    expect(cluster!.formed).toBe(true)
    page = await openPage(browser!, `${cluster!.pageUrl}/`, LAPTOP, errors)
    await page.waitForFunction(() => window.dynamesh?.mode === 'live' && (window.dynamesh.node !== undefined || window.dynamesh.error !== undefined), undefined, { timeout: 120_000 })
    expect(await page.evaluate(() => window.dynamesh.error)).toBeUndefined()
    await expect.poll(() => memberCount(page!), { timeout: 60_000, interval: 500 }).toBe(4)
    const rows = await page.$$eval('#members tbody tr', (trs) => trs.map((tr) => ({ id: tr.getAttribute('data-id'), text: tr.textContent ?? '' })))
    for (const p of cluster!.peers) expect(rows.find((r) => r.id === p.id)?.text).toContain(p.name)
    const self = await page.evaluate(() => window.dynamesh.node!.id)
    expect(rows.find((r) => r.id === self)?.text).toContain('this page')
    expect(await page.locator('svg.ring g.member').count()).toBe(4)
    await expect.poll(() => page!.locator('#members tbody tr .state.up').count(), { timeout: 60_000, interval: 500 }).toBe(4)
    expect(await page.locator('#live-unreachable').count()).toBe(0)
    expect(errors).toEqual([])
  }, 240_000)

  it('a put through the page\u2019s form reads back through a Node peer\u2019s HTTP API', async () => {
    const p = page!
    await p.fill('#key', 'demo:greeting')
    await p.fill('#value', 'hello from the page')
    await p.click('#do-put')
    await p.waitForFunction(() => /acknowledged|failed/.test(document.querySelector('#call-result')?.textContent ?? ''), undefined, { timeout: 30_000 })
    expect(await p.textContent('#call-result')).toContain('acknowledged')
    for (const peer of cluster!.peers) {
      const res = await fetch(`${peer.http}/kv/${encodeURIComponent('demo:greeting')}`)
      expect(res.status).toBe(200)
      expect(await res.text()).toBe('hello from the page')
    }
    // The Node peers' counts on the page come from the page server's status: two of them hold the key.
    const nodeRecords = (): Promise<number> => p.$$eval('#members tbody tr', (trs) =>
      trs.filter((tr) => tr.textContent?.includes('LevelDB')).reduce((n, tr) => n + Number(tr.querySelectorAll('td')[3]?.textContent ?? 0), 0))
    await expect.poll(nodeRecords, { timeout: 30_000, interval: 500 }).toBeGreaterThanOrEqual(2)
    await p.click('#do-get')
    await p.waitForSelector('#siblings li')
    expect(await p.textContent('#siblings')).toContain('hello from the page')
    // The page's own button for the HTTP client interface: the same read through node-1's API.
    await p.click('#do-http-get')
    await p.waitForFunction(() => /answered over HTTP|failed/.test(document.querySelector('#call-result')?.textContent ?? ''), undefined, { timeout: 30_000 })
    expect(await p.textContent('#call-result')).toContain('hello from the page')
    expect(errors).toEqual([])
  })

  it('screenshots at 1280x800 and 390x844; no horizontal overflow at the phone width', async () => {
    const p = page!
    await p.waitForTimeout(1000)
    await screenshot(p, 'demo-live-1280x800')
    expect(await overflowX(p)).toBe(0)
    await p.setViewportSize(PHONE)
    await p.waitForTimeout(1000)
    await screenshot(p, 'demo-live-390x844')
    expect(await overflowX(p)).toBe(0)
    expect(errors).toEqual([])
  })
})
