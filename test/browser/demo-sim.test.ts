/**
 * The demo page's simulated mode in real Chromium, from the static build served as plain files (no
 * dynamesh server): crash + writes show hints held, restart drains them, wipe + time shows Merkle
 * repair restoring the keys, and two runs from one seed with the same clicks give the same event
 * log (and so does the page's own replay). Virtual time moves only through the page's Step and
 * +10 s buttons (the runs start paused), so nothing here depends on how fast the machine is.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium } from './chromium.js'
import { buildPage, LAPTOP, openPage, overflowX, PHONE, screenshot, serveStatic } from './demo-page.js'

const outDir = mkdtempSync(join(tmpdir(), 'dynamesh-web-'))
let server: { url: string; close(): Promise<void> } | undefined
let browser: Browser | undefined
const errors: string[] = []
const pages: Page[] = []

beforeAll(async () => {
  await buildPage(outDir)
  server = await serveStatic(outDir)
  browser = await launchChromium()
}, 120_000)

afterAll(async () => {
  for (const p of pages) await p.close().catch(() => {})
  await browser?.close()
  await server?.close()
  rmSync(outDir, { recursive: true, force: true })
})

/** Opens the simulated mode, paused, from a seed. */
async function openSim(seed: number, size = LAPTOP, base = server!.url + '/'): Promise<Page> {
  const page = await openPage(browser!, `${base}#sim/seed=${seed}&paused=1`, size, errors)
  pages.push(page)
  await page.waitForFunction(() => window.dynamesh?.mode === 'sim' && window.dynamesh.sim !== undefined && window.dynamesh.node !== undefined)
  return page
}

const idle = (page: Page): Promise<unknown> =>
  page.waitForFunction(() => !(window.dynamesh.sim as { busy(): boolean }).busy(), undefined, { timeout: 60_000 })

/** Clicks a control and waits until the simulation ran what it queued. */
async function click(page: Page, selector: string): Promise<void> {
  await page.click(selector)
  await idle(page)
}

const select = (page: Page, id: string): Promise<void> => click(page, `#members tr[data-id="${id}"]`)

/** The members table as the page shows it: id → { status, records, hints }. */
async function table(page: Page): Promise<Record<string, { status: string; records: number; hints: number }>> {
  await page.waitForTimeout(300) // one refresh of the page (it redraws every 50 ms)
  return page.$$eval('#members tbody tr', (rows) => Object.fromEntries(rows.map((r) => {
    const td = r.querySelectorAll('td')
    return [r.getAttribute('data-id'), { status: td[1]!.textContent!.trim(), records: Number(td[3]!.textContent), hints: Number(td[4]!.textContent) }]
  })))
}

const hintsHeld = async (page: Page): Promise<number> => Object.values(await table(page)).reduce((n, m) => n + m.hints, 0)
const logText = (page: Page): Promise<string> => page.$eval('#event-log', (el) => el.textContent ?? '')

describe('demo page, simulated mode', () => {
  it('draws a cluster of eight members from the static build without console errors', async () => {
    const page = await openSim(1)
    await click(page, '#sim-skip')
    expect(await page.locator('svg.ring g.member').count()).toBe(8)
    expect(Object.keys(await table(page))).toEqual(['n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7', 'n8'])
    expect(await page.locator('svg.ring path.part').count()).toBe(64 * 3)
    expect(await page.locator('#pref-list li').count()).toBe(3)
    expect(errors).toEqual([])
    await page.close()
  })

  it('crash then writes: hints held; restart: handed off; wipe then time: Merkle repair restores the keys', async () => {
    const page = await openSim(3)
    await click(page, '#sim-skip')
    await select(page, 'n3')
    await click(page, '#act-crash')
    expect((await table(page)).n3!.status).toBe('crashed')
    await click(page, '#act-writes')
    expect(await logText(page)).toContain('20 of 20 writes acknowledged')
    const held = await hintsHeld(page)
    expect(held).toBeGreaterThan(0)
    expect(await logText(page)).toContain('holds a hint for n3')
    await screenshot(page, 'demo-sim-hints-1280x800')

    await click(page, '#act-restart')
    await click(page, '#sim-skip')
    expect(await hintsHeld(page)).toBe(0)
    expect(await logText(page)).toMatch(/handed \d+ hints? off to n3/)
    expect(await page.evaluate(() => (window.dynamesh.sim as { counters: { hintsDelivered: number } }).counters.hintsDelivered)).toBeGreaterThanOrEqual(held)

    await select(page, 'n5')
    const before = (await table(page)).n5!.records
    expect(before).toBeGreaterThan(0)
    await click(page, '#act-wipe')
    expect((await table(page)).n5!.records).toBe(0)
    let after = 0
    for (let i = 0; i < 9 && after < before; i++) {
      await click(page, '#sim-skip')
      after = (await table(page)).n5!.records
    }
    expect(after).toBeGreaterThanOrEqual(before)
    expect(await page.evaluate(() => (window.dynamesh.sim as { counters: { merkleKeys: number } }).counters.merkleKeys)).toBeGreaterThanOrEqual(before)
    expect(errors).toEqual([])
    await page.close()
  }, 300_000)

  /** One scripted visit: the same clicks every time. */
  async function visit(seed: number): Promise<{ page: Page; log: string; fingerprint: string; early: string }> {
    const page = await openSim(seed)
    await click(page, '#sim-skip')
    const early = await page.evaluate(() => (window.dynamesh.sim as { fingerprint: { hex(): string } }).fingerprint.hex())
    await select(page, 'n2')
    await click(page, '#act-crash')
    await click(page, '#act-writes')
    for (let i = 0; i < 5; i++) await click(page, '#sim-step')
    await click(page, '#act-restart')
    await click(page, '#sim-skip')
    await select(page, 'n6')
    await click(page, '#act-wipe')
    await click(page, '#act-isolate')
    await click(page, '#act-writes')
    await click(page, '#act-heal')
    await click(page, '#sim-skip')
    await click(page, '#act-siblings')
    await page.fill('#key', 'cart')
    await click(page, '#do-get')
    await click(page, '#sim-skip')
    const state = await page.evaluate(() => {
      const sim = window.dynamesh.sim as { log: unknown[]; fingerprint: { hex(): string } }
      return { log: JSON.stringify(sim.log), fingerprint: sim.fingerprint.hex() }
    })
    return { page, early, ...state }
  }

  it('two runs from the same seed with the same clicks show the same event log; the page replays it too', async () => {
    const a = await visit(21)
    const b = await visit(21)
    expect(JSON.parse(a.log).length).toBeGreaterThan(50)
    expect(b.log).toBe(a.log)
    expect(b.fingerprint).toBe(a.fingerprint)
    expect(await logText(a.page)).toMatch(/get "cart": "from n\d" \| "from n\d"/)
    expect(await a.page.locator('#siblings li').count()).toBe(2)

    expect(b.early).toBe(a.early)
    await b.page.close()

    // Another seed, another run: its first ten seconds already differ.
    const other = await openSim(22)
    await click(other, '#sim-skip')
    expect(await other.evaluate(() => (window.dynamesh.sim as { fingerprint: { hex(): string } }).fingerprint.hex())).not.toBe(a.early)
    await other.close()

    await a.page.click('#sim-verify')
    await a.page.waitForFunction(() => /identical|differs/.test(document.querySelector('#replay-verdict')?.textContent ?? ''), undefined, { timeout: 60_000 })
    expect(await a.page.textContent('#replay-verdict')).toContain('identical')

    // On-screen replay: the page starts over from the seed and plays the recorded clicks itself.
    await a.page.click('#sim-replay')
    await a.page.waitForFunction(() => document.querySelector('#replay-verdict')?.textContent === 'replay finished', undefined, { timeout: 90_000 })
    await idle(a.page)
    const replayed = await a.page.evaluate(() => JSON.stringify((window.dynamesh.sim as { log: unknown[] }).log))
    expect(replayed).toBe(a.log)

    // A copied link carries the seed and the clicks: another browser tab replays the same run.
    const link = await a.page.evaluate(() => (window.dynamesh.view as { share(): Promise<string> }).share())
    expect(link).toContain('#sim/seed=21&run=')
    const shared = await openPage(browser!, link, LAPTOP, errors)
    pages.push(shared)
    await shared.waitForFunction(() => document.querySelector('#replay-verdict')?.textContent === 'replay finished', undefined, { timeout: 90_000 })
    await idle(shared)
    expect(await shared.evaluate(() => JSON.stringify((window.dynamesh.sim as { log: unknown[] }).log))).toBe(a.log)
    expect(errors).toEqual([])
  }, 400_000)

  it('screenshots at 1280x800 and 390x844; no horizontal overflow at the phone width', async () => {
    const page = await openSim(5)
    await click(page, '#sim-skip')
    await select(page, 'n4')
    await click(page, '#act-crash')
    await click(page, '#act-writes')
    await page.click('#sim-pause') // play: messages in flight on the screenshots
    await page.waitForTimeout(1500)
    await screenshot(page, 'demo-sim-1280x800')
    expect(await overflowX(page)).toBe(0)

    const phone = await openSim(5, PHONE)
    await click(phone, '#sim-skip')
    await select(phone, 'n4')
    await click(phone, '#act-crash')
    await click(phone, '#act-writes')
    await phone.click('#sim-pause')
    await phone.waitForTimeout(1500)
    await screenshot(phone, 'demo-sim-390x844')
    expect(await overflowX(phone)).toBe(0)
    await phone.evaluate(() => window.scrollTo(0, document.body.scrollHeight))
    expect(await overflowX(phone)).toBe(0)
    expect(errors).toEqual([])
    await page.close()
    await phone.close()
  }, 300_000)

  it('the guided tour shows hints, handoff, read repair, Merkle repair and siblings', async () => {
    const page = await openSim(1)
    await page.selectOption('#sim-speed', '4') // 5x: the tour's virtual minute passes sooner
    await page.click('#sim-tour')
    await page.waitForFunction(() => /^Tour 10\/10/.test(document.querySelector('#tour')?.textContent ?? ''), undefined, { timeout: 240_000 })
    const log = await page.evaluate(() => (window.dynamesh.sim as { log: Array<{ kind: string; text: string }> }).log)
    const has = (kind: string, re: RegExp): boolean => log.some((e) => e.kind === kind && re.test(e.text))
    expect(has('hint', /holds a hint for n3/)).toBe(true)
    expect(has('handoff', /handed \d+ hints? off to n3/)).toBe(true)
    expect(has('repair', /^read repair: n1 → n5/)).toBe(true)
    expect(has('repair', /^merkle repair: .* → n5/)).toBe(true)
    expect(has('result', /^get "cart": "from n\d" \| "from n\d"$/)).toBe(true)
    expect(await page.locator('#siblings li').count()).toBe(2)
    expect(errors).toEqual([])
    await page.close()
  }, 300_000)

  it('runs from plain files: index.html opened from the disk', async () => {
    const page = await openSim(1, LAPTOP, `file://${outDir}/index.html`)
    await click(page, '#sim-skip')
    expect(await page.locator('#members tbody tr').count()).toBe(8)
    await click(page, '#act-writes')
    expect(await logText(page)).toContain('20 of 20 writes acknowledged')
    expect(errors).toEqual([])
  }, 300_000)
})
