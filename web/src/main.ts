/**
 * The demo page: a live view of the cluster `npm start` runs, with the page's own peer in it, and a
 * simulated cluster in the page that a visitor can break and replay from its seed. The mode comes
 * from the URL (`#live`, `#sim/seed=7`); without one, a page served from this machine (as `npm start`
 * does) starts live, and one from elsewhere or from a file starts simulated. `window.dynamesh` is `{ node, mode, ... }` for the console.
 */
import './style.css'
import type { DynameshNode } from 'dynamesh'
import { $ } from './dom.js'
import { LiveMode } from './live/view.js'
import { SimMode } from './sim/view.js'

type Mode = 'live' | 'sim'

declare global {
  interface Window {
    dynamesh: { node: DynameshNode | undefined; mode: Mode; [k: string]: unknown }
  }
}

const app = $('#app')
/** `npm start` serves the page on loopback; anywhere else (a static host, a file) there is no cluster to join. */
const servedByCluster = location.protocol.startsWith('http') && ['127.0.0.1', 'localhost', '[::1]'].includes(location.hostname)
let mode: Mode = location.hash.startsWith('#sim') ? 'sim' : location.hash.startsWith('#live') ? 'live' : servedByCluster ? 'live' : 'sim'
let live: LiveMode | undefined
let sim: SimMode | undefined

function expose(): void {
  if (mode === 'sim') {
    window.dynamesh = { mode, node: sim?.selectedNode(), net: sim?.cluster?.net, sim: sim?.cluster, view: sim }
  } else {
    window.dynamesh = { mode, node: live?.node(), peer: live?.peer, error: live?.error, view: live }
  }
}

async function show(next: Mode): Promise<void> {
  mode = next
  document.querySelectorAll<HTMLButtonElement>('.modes button').forEach((b) => b.setAttribute('aria-selected', String(b.dataset.mode === mode)))
  if (mode === 'sim') {
    if (!location.hash.startsWith('#sim')) history.replaceState(null, '', '#sim')
    sim ??= new SimMode({ onChange: expose })
    app.replaceChildren(sim.dash.el)
    if (sim.cluster) sim.wake()
    else await sim.start()
  } else {
    sim?.sleep()
    history.replaceState(null, '', '#live')
    live ??= new LiveMode(expose, () => void show('sim'))
    app.replaceChildren(live.dash.el)
    await live.start()
  }
  expose()
}

document.querySelectorAll<HTMLButtonElement>('.modes button').forEach((b) => b.addEventListener('click', () => void show(b.dataset.mode as Mode)))
expose()
void show(mode)
