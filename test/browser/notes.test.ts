/**
 * The notes example end to end, driven through its page as a person would: a note edited offline in
 * one tab and online in another shows both versions side by side once the first reconnects; the
 * merged note saved with the read's context is then the only version in both tabs and on a Node
 * peer. Each tab is its own browser profile; the cluster is three Node peer processes.
 */
import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { httpGet } from '../../src/http/client.js'
import { waitFor, worldPerFile } from './harness.js'

const world = worldPerFile()

async function openNotes(): Promise<Page> {
  const ctx = await world().browser.newContext({ viewport: { width: 1100, height: 800 } })
  const page = await ctx.newPage()
  page.on('pageerror', (e) => world().errors.push(String(e)))
  await page.goto(`${world().viteUrl}/web/examples/notes/index.html?admit=${encodeURIComponent(`${world().cluster.pageUrl}/`)}`)
  await page.waitForFunction(() => document.body.dataset.ready, undefined, { timeout: 30_000 })
  await waitFor('the tab to be online', async () => (await page.getByTestId('status').textContent())?.startsWith('online') ?? false)
  return page
}

const item = (page: Page, title: string) => page.getByTestId('note-item').filter({ hasText: title })

async function edit(page: Page, body: string): Promise<void> {
  await page.getByTestId('body').fill(body)
  await page.getByTestId('save').click()
  await waitFor('saved', async () => ((await page.getByTestId('saved').textContent()) ?? '').startsWith('saved'))
}

describe('the notes example', () => {
  it('shows offline and online edits side by side after reconnecting, and the merge replaces both everywhere', async () => {
    const a = await openNotes()
    const b = await openNotes()
    await a.getByTestId('new').click()
    await a.getByTestId('title').fill('Groceries')
    await edit(a, 'milk')
    await waitFor('the note listed in the other tab', async () => (await item(b, 'Groceries').count()) === 1)
    await item(b, 'Groceries').click()
    await waitFor('the other tab reads the note', async () => (await b.getByTestId('body').inputValue()) === 'milk')

    await a.getByTestId('offline').check()
    await waitFor('tab A offline', async () => (await a.getByTestId('status').textContent())?.startsWith('offline') ?? false)
    await edit(a, 'milk, eggs (offline)')
    expect(await a.getByTestId('saved').textContent()).toContain('syncs when online')
    await edit(b, 'milk, bread (online)')

    await a.getByTestId('offline').uncheck()
    for (const p of [a, b]) {
      await waitFor('both versions side by side', async () => (await p.getByTestId('version').count()) === 2, 40_000)
      if (p === b) await p.screenshot({ path: 'test-results/screenshots/notes-conflict.png' })
      const shown = await p.getByTestId('version').allTextContents()
      expect(shown.some((t) => t.includes('milk, eggs (offline)'))).toBe(true)
      expect(shown.some((t) => t.includes('milk, bread (online)'))).toBe(true)
    }
    const node = world().cluster.peers[0]!.http
    const id = await item(a, 'Groceries').getAttribute('data-id')
    expect((await httpGet(node, `note:${id}`)).values).toHaveLength(2)

    await edit(a, 'milk, eggs, bread')
    for (const p of [a, b]) {
      await waitFor('one version again', async () =>
        (await p.getByTestId('conflict').isHidden()) && (await p.getByTestId('body').inputValue()) === 'milk, eggs, bread', 30_000)
    }
    await waitFor('the merged note alone on a Node peer', async () => {
      const r = await httpGet(world().cluster.peers[1]!.http, `note:${id}`)
      return r.values.length === 1 && JSON.parse(new TextDecoder().decode(r.values[0])).body === 'milk, eggs, bread'
    })
    expect(world().errors).toEqual([])
  })
})
