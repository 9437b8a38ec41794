/**
 * Notes on dynamesh: a small offline-first app. The tab is a peer (a weight-0 client: it holds no
 * one else's data, only its own offline writes as hints), so notes keep working without a network
 * and sync when it returns.
 *
 * Data model:
 *   note:{id}     JSON { title, body, updated }; concurrent edits come back as siblings and are shown
 *                 side by side; saving the merged text with the read's context replaces them all.
 *   notes:index   JSON array of note ids, a grow-only set: siblings merge by set union (the Dynamo
 *                 paper's shopping cart), written back with their context when they diverged.
 *                 Listing never scans the store. A deleted note's id stays in the index; its key
 *                 reads as deleted and the list skips it.
 */
import { credentialFrom, hexBytes, openBrowserPeer, type BrowserPeer, type Context } from 'dynamesh'

interface Note {
  title: string
  body: string
  updated: number
}

interface Loaded {
  id: string
  versions: Note[]
  context: Context
}

const INDEX = 'notes:index'
const OFFLINE_KEY = 'dynamesh-notes:offline'
const dec = new TextDecoder()
const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T
const q = new URLSearchParams(location.search)

function parseNote(v: Uint8Array): Note | undefined {
  try {
    const n = JSON.parse(dec.decode(v)) as Partial<Note>
    return { title: String(n.title ?? ''), body: String(n.body ?? ''), updated: Number(n.updated ?? 0) }
  } catch {
    return undefined
  }
}

function parseIds(v: Uint8Array): string[] {
  try {
    const ids = JSON.parse(dec.decode(v)) as unknown
    return Array.isArray(ids) ? ids.filter((x): x is string => typeof x === 'string') : []
  } catch {
    return []
  }
}

interface Config {
  signalUrl: string
  room: string
  n: number
  r: number
  w: number
  /** A closed cluster's key; the credential comes from the page server (`admit`). */
  clusterKey?: string
  admit: string
}

/** The local cluster's config from the page server (`?admit=URL` names another one, for tests). */
async function config(): Promise<Config> {
  const admit = q.get('admit') ?? new URL('../../', location.href).href
  const res = await fetch(new URL('config.json', admit), { cache: 'no-store' })
  if (!res.ok) throw new Error(`config.json: HTTP ${res.status} (open this page through npm start)`)
  return { ...((await res.json()) as Omit<Config, 'admit'>), admit }
}

const onLoopback = ['127.0.0.1', 'localhost', '[::1]'].includes(location.hostname)
let peer: BrowserPeer
let open: Loaded | undefined
let dirty = false

/** The index as a set: the union of every sibling, written back merged when siblings diverged. */
async function readIndex(): Promise<string[]> {
  const r = await peer.node.get(INDEX)
  const ids = [...new Set(r.values.flatMap(parseIds))].sort()
  if (r.values.length > 1 && !r.stale && !peer.transport.offline) {
    await peer.node.put(INDEX, JSON.stringify(ids), { context: r.context, w: 1 }).catch(() => {})
  }
  return ids
}

async function addToIndex(id: string): Promise<void> {
  const r = await peer.node.get(INDEX)
  const ids = new Set(r.values.flatMap(parseIds))
  if (ids.has(id) && r.values.length === 1) return
  ids.add(id)
  await peer.node.put(INDEX, JSON.stringify([...ids].sort()), { context: r.context, w: 1 })
}

async function load(id: string): Promise<Loaded | undefined> {
  const r = await peer.node.get(`note:${id}`)
  const versions = r.values.map(parseNote).filter((n): n is Note => n !== undefined).sort((a, b) => a.updated - b.updated)
  return versions.length ? { id, versions, context: r.context } : undefined
}

async function renderList(): Promise<void> {
  const notes = (await Promise.all((await readIndex()).map(load))).filter((n): n is Loaded => n !== undefined)
  notes.sort((a, b) => b.versions.at(-1)!.updated - a.versions.at(-1)!.updated)
  const list = $('list')
  list.replaceChildren(...notes.map((n) => {
    const li = document.createElement('li')
    li.dataset.testid = 'note-item'
    li.dataset.id = n.id
    li.className = n.id === open?.id ? 'active' : ''
    li.textContent = n.versions.at(-1)!.title || 'Untitled'
    if (n.versions.length > 1) {
      const badge = document.createElement('span')
      badge.className = 'conflicted'
      badge.textContent = `${n.versions.length} versions`
      li.append(badge)
    }
    li.onclick = () => void show(n.id)
    return li
  }))
}

function renderEditor(n: Loaded): void {
  $('editor').hidden = false
  const latest = n.versions.at(-1)!
  $<HTMLInputElement>('title').value = latest.title
  const conflict = n.versions.length > 1
  $('conflict').hidden = !conflict
  $('versions').replaceChildren(...n.versions.map((v, i) => {
    const div = document.createElement('div')
    div.className = 'version'
    div.dataset.testid = 'version'
    const h = document.createElement('h3')
    h.textContent = `Version ${i + 1}${v.title ? ` · ${v.title}` : ''}`
    div.append(h, v.body)
    return div
  }))
  $<HTMLTextAreaElement>('body').value = conflict ? n.versions.map((v) => v.body).join('\n\n') : latest.body
  dirty = false
}

async function show(id: string): Promise<void> {
  const n = await load(id)
  if (!n) return
  open = n
  renderEditor(n)
  await renderList()
}

async function save(): Promise<void> {
  if (!open) return
  $('saved').textContent = 'saving…'
  const note: Note = { title: $<HTMLInputElement>('title').value, body: $<HTMLTextAreaElement>('body').value, updated: Date.now() }
  const key = `note:${open.id}`
  // The context of what was read: the new version supersedes every version shown, and only those.
  const { context } = await peer.node.put(key, JSON.stringify(note), { ...(open.context ? { context: open.context } : {}), w: 1 })
  open = { id: open.id, versions: [note], context }
  await addToIndex(open.id)
  renderEditor(open)
  $('saved').textContent = peer.transport.offline ? 'saved on this device; syncs when online' : 'saved'
  await renderList()
}

async function create(): Promise<void> {
  const id = `${Date.now().toString(36)}-${crypto.getRandomValues(new Uint32Array(1))[0]!.toString(36)}`
  open = { id, versions: [{ title: '', body: '', updated: Date.now() }], context: '' as Context }
  renderEditor(open)
  $<HTMLInputElement>('title').focus()
}

async function remove(): Promise<void> {
  if (!open) return
  await peer.node.delete(`note:${open.id}`, { ...(open.context ? { context: open.context } : {}), w: 1 })
  open = undefined
  $('editor').hidden = true
  await renderList()
}

function renderStatus(): void {
  const up = peer.node.cluster().members.filter((m) => m.id !== peer.node.id && m.status === 'up' && m.reachable).length
  const online = !peer.transport.offline && up > 0
  const s = $('status')
  s.className = `status ${online ? 'online' : 'offline'}`
  const kept = peer.persisted === true ? 'storage persisted' : peer.persisted === false ? 'storage may be evicted' : ''
  s.textContent = [online ? `online · ${up} peer${up === 1 ? '' : 's'}` : 'offline', `${peer.node.inspect().hints} waiting to sync`, peer.role === 'guest' ? 'guest tab (another tab owns this device\'s notes)' : '', kept].filter(Boolean).join(' · ')
}

/** Re-reads the list, and the open note unless the user is editing it. */
async function refresh(): Promise<void> {
  renderStatus()
  await renderList()
  if (open && !dirty) {
    const n = await load(open.id)
    if (n && n.context !== open.context) {
      open = n
      renderEditor(n)
    }
  }
}

async function main(): Promise<void> {
  const cfg = await config()
  const offline = q.get('offline') === '1' || localStorage.getItem(OFFLINE_KEY) === '1'
  peer = await openBrowserPeer({
    signalUrl: cfg.signalUrl, room: cfg.room, n: cfg.n, r: cfg.r, w: cfg.w,
    database: 'dynamesh-notes', weight: 0, offline, handoffMs: 500,
    ...(cfg.clusterKey ? { clusterKey: hexBytes(cfg.clusterKey, 32, 'clusterKey'), credential: credentialFrom(cfg.admit) } : {}),
    transport: { loopbackOnly: onLoopback },
  })
  const box = $<HTMLInputElement>('offline')
  box.checked = offline
  box.onchange = async () => {
    localStorage.setItem(OFFLINE_KEY, box.checked ? '1' : '0')
    await peer.transport.setOffline(box.checked)
    await refresh()
  }
  window.addEventListener('offline', () => void peer.transport.setOffline(true))
  window.addEventListener('online', () => void peer.transport.setOffline(box.checked))
  $('new').onclick = () => void create()
  $('save').onclick = () => void save().catch(report)
  $('delete').onclick = () => void remove().catch(report)
  for (const id of ['title', 'body']) $(id).addEventListener('input', () => (dirty = true))
  let pending: ReturnType<typeof setTimeout> | undefined
  peer.node.on('change', () => {
    pending ??= setTimeout(() => {
      pending = undefined
      void refresh().catch(report)
    }, 100)
  })
  setInterval(() => void refresh().catch(report), 2000)
  ;(window as unknown as { notes: unknown }).notes = { peer, refresh }
  await refresh()
  document.body.dataset.ready = peer.node.id
}

function report(e: unknown): void {
  $('saved').textContent = e instanceof Error ? e.message : String(e)
}

main().catch((e: unknown) => {
  $('status').textContent = `cannot start: ${e instanceof Error ? e.message : String(e)}`
})
