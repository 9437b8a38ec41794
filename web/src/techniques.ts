/**
 * The Dynamo techniques of the README's table, each with a one-line explanation citing the paper
 * (DeCandia et al., SOSP 2007), where to see it on the page, and a live counter of how often it
 * happened in the run on screen.
 */
import { h } from './dom.js'

export interface Technique {
  key: string
  name: string
  section: string
  line: string
  where: string
}

export const TECHNIQUES: Technique[] = [
  { key: 'ring', name: 'Consistent hashing', section: '4.2', where: 'the ring', line: 'Keys hash onto Q fixed partitions; members take partitions through virtual-node tokens in proportion to their weight, so a join moves only a share of them.' },
  { key: 'pref', name: 'Preference list', section: '4.3', where: 'key panel', line: 'A key is stored on the first N distinct members clockwise from its partition; skipping down members gives fallbacks that stand in for them.' },
  { key: 'versions', name: 'Versioning', section: '4.4', where: 'get result', line: 'Each write gets a dot in a version vector; concurrent writes are kept as siblings and a get returns them all with one context to resolve them.' },
  { key: 'quorum', name: 'Quorum get / put', section: '4.5', where: 'wire', line: 'Any node coordinates: it sends to the N replicas and answers after R (get) or W (put) replies; R + W > N makes reads see the latest acknowledged write.' },
  { key: 'readrepair', name: 'Read repair', section: '4.5', where: 'event log', line: 'A get that sees a stale replica among the replies writes the newest version back to it.' },
  { key: 'hints', name: 'Sloppy quorum, hinted handoff', section: '4.6', where: 'hints chart', line: 'When a replica is down the write goes to the next healthy member with a hint naming the owner, and is handed off when the owner is back.' },
  { key: 'merkle', name: 'Merkle anti-entropy', section: '4.7', where: 'wire, event log', line: 'Replicas compare one hash tree per partition, descend only into differing branches and exchange only the records that differ.' },
  { key: 'gossip', name: 'Gossip membership, failure detection', section: '4.8', where: 'members', line: 'Each second a member swaps its view with a random peer; whether a peer is reachable is each node\u2019s own local opinion, never gossiped.' },
  { key: 'transfer', name: 'Moving partitions', section: '4.9', where: 'add a node', line: 'When ownership changes, records move to their new owners and the old copies are dropped.' },
  { key: 'storage', name: 'Pluggable storage', section: '5', where: 'members', line: 'One small storage interface: memory here and in the simulation, IndexedDB in the browser, LevelDB in Node peers.' },
  { key: 'client', name: 'Client interfaces', section: '4.5', where: 'put / get form', line: 'A library API in the same process (this page calls it) and an HTTP API on Node peers for clients that are not peers.' },
]

/** The techniques list with a counter per technique. */
export class TechniquesPanel {
  readonly el: HTMLElement
  private readonly counts = new Map<string, HTMLElement>()

  constructor() {
    const rows = TECHNIQUES.map((t) => {
      const count = h('span', { class: 'tech-count', 'data-tech': t.key }, '–')
      this.counts.set(t.key, count)
      return h('li', { class: 'tech' },
        h('div', { class: 'tech-head' }, h('b', {}, t.name), h('span', { class: 'sec' }, `§${t.section}`), count),
        h('p', {}, t.line, ' ', h('span', { class: 'where' }, `See: ${t.where}.`)))
    })
    this.el = h('section', { class: 'panel techniques', id: 'techniques' },
      h('h2', {}, 'Dynamo, technique by technique'),
      h('p', { class: 'muted' }, 'Each mechanism of the paper, where it shows on this page, and how often it happened in this run.'),
      h('ul', {}, ...rows))
  }

  set(values: Partial<Record<string, string>>): void {
    for (const [k, v] of Object.entries(values)) {
      const el = this.counts.get(k)
      if (el && v !== undefined && el.textContent !== v) el.textContent = v
    }
  }
}
