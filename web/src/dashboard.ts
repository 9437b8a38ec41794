/**
 * What both modes show: the ring with the typed key's preference list, the members, the key form
 * (put / get / delete with per-call N, R, W), the wire feed, the event log, the charts and the
 * techniques list. A mode plugs in a {@link Source}; the dashboard only renders what it reports.
 */
import type { ClusterInfo } from 'dynamesh'
import { TimeChart, type SeriesDef } from './charts.js'
import { h, fmtBytes, shortId } from './dom.js'
import { KeyPanel } from './keypanel.js'
import { RingView, type RingMemberView } from './ring.js'
import { TechniquesPanel } from './techniques.js'
import { FAMILY_COLORS, FAMILY_LABELS, type WireFamily } from './wire.js'

export interface MemberRow {
  id: string
  label: string
  /** Label inside the member's circle on the ring (a few characters); `label` by default. */
  short?: string
  color: string
  status: string
  ring: RingMemberView['state']
  runtime: string
  storage: string
  records?: number
  hints?: number
  weight: number
  self?: boolean
}

export interface WireLine {
  t: number
  from: string
  to: string
  type: string
  family: WireFamily
  bytes: number
  note?: string
  dropped?: string
}

export interface EventLine {
  t: number
  kind: string
  text: string
}

export interface GetShown {
  values: string[]
  context: string
  deleted: boolean
}

export interface ReplicaShown {
  id: string
  siblings: Array<{ value: string | null; dot: string }>
}

export interface CallForm {
  key: string
  value: string
  n?: number
  r?: number
  w?: number
  context?: string
}

export interface Source {
  /** The node whose view is drawn (sim: the selected node; live: the page's own). */
  view(): ClusterInfo | undefined
  viewerId(): string | undefined
  members(): MemberRow[]
  /** Seconds on the chart's x axis. */
  seconds(): number
  put(f: CallForm): Promise<boolean>
  get(f: CallForm): Promise<GetShown | undefined>
  del(f: CallForm): Promise<boolean>
  /** What each replica holds for the key (sim only). */
  replicas?(key: string, ids: string[]): Promise<ReplicaShown[]>
  select?(id: string): void
  selected?(): string | undefined
}

const FAMILIES: WireFamily[] = ['gossip', 'write', 'read', 'hint', 'merkle']
const MAX_ROWS = 60

export class Dashboard {
  readonly el: HTMLElement
  readonly ring = new RingView()
  readonly techniques = new TechniquesPanel()
  readonly toolbar = h('div', { class: 'toolbar' })
  readonly banner = h('div', { class: 'banner', hidden: true })
  private readonly membersBody = h('tbody')
  private readonly wireList = h('ol', { class: 'feed', id: 'wire-feed' })
  private readonly eventList = h('ol', { class: 'feed', id: 'event-log' })
  readonly keys: KeyPanel
  private readonly filters = new Set<WireFamily>(FAMILIES)
  private pendingWire: WireLine[] = []
  private pendingEvents: EventLine[] = []
  readonly callsChart = new TimeChart('Your calls: ops/s (left), latency in ms (right)', [
    { label: 'ops/s', color: '#2563eb' },
    { label: 'latency ms', color: '#e11d48', right: true },
  ], ['ops/s', 'ms'])
  readonly bytesChart = new TimeChart('Bytes per second on the wire, by message type', FAMILIES.map((f) => ({ label: FAMILY_LABELS[f], color: FAMILY_COLORS[f] })), ['bytes/s'])
  readonly hintsChart = new TimeChart('Hints held per node', [], ['hints'], true)
  private bytesBucket = new Map<WireFamily, number>()
  private callBucket = { count: 0, ms: 0 }
  private lastSecond = -1

  constructor(
    private readonly source: Source,
    readonly title: string,
  ) {
    this.keys = new KeyPanel(source, () => this.refresh())
    const filterBoxes = FAMILIES.map((f) => {
      const cb = h('input', { type: 'checkbox', checked: true, onchange: (e: Event) => {
        if ((e.target as HTMLInputElement).checked) this.filters.add(f)
        else this.filters.delete(f)
      } })
      return h('label', { class: 'chip', style: `--c:${FAMILY_COLORS[f]}` }, cb, FAMILY_LABELS[f])
    })

    this.ring.onSelect = (id) => source.select?.(id)
    this.el = h('div', { class: 'dash' },
      this.banner,
      this.toolbar,
      h('div', { class: 'grid' },
        h('section', { class: 'panel ring-panel' },
          h('div', { class: 'panel-head' }, h('h2', {}, title), h('div', { class: 'legend' }, ...FAMILIES.map((f) => h('span', { class: 'chip static', style: `--c:${FAMILY_COLORS[f]}` }, FAMILY_LABELS[f])))),
          h('div', { class: 'ring-wrap' }, this.ring.el),
          h('p', { class: 'explain' }, 'Outer band: each partition\u2019s first replica; inner bands: second and third (Dynamo \u00a74.2). Numbered rings mark the typed key\u2019s preference list; dashed rings are fallbacks holding hints for a down primary (\u00a74.3, \u00a74.6).')),
        this.keys.el,
        h('section', { class: 'panel members-panel' },
          h('h2', {}, 'Members'),
          h('div', { class: 'table-wrap' }, h('table', { class: 'members', id: 'members' },
            h('thead', {}, h('tr', {}, h('th', {}, 'member'), h('th', {}, 'status'), h('th', {}, 'runs in'), h('th', { class: 'num' }, 'records'), h('th', { class: 'num' }, 'hints'))),
            this.membersBody))),
        h('section', { class: 'panel wire-panel' },
          h('div', { class: 'panel-head' }, h('h2', {}, 'On the wire'), h('div', { class: 'filters' }, ...filterBoxes)),
          this.wireList),
        h('section', { class: 'panel log-panel' },
          h('h2', {}, 'Event log'),
          this.eventList),
        h('section', { class: 'panel charts-panel' },
          h('h2', {}, 'Charts'),
          h('div', { class: 'charts' }, this.callsChart.el, this.bytesChart.el, this.hintsChart.el))),
      this.techniques.el)
  }

  /** Types a key into the form (the ring then shows its preference list). */
  setKey(key: string): void {
    this.keys.setKey(key)
  }

  /** What the Get button does. */
  clickGet(): Promise<void> {
    return this.keys.clickGet()
  }

  addKeyAction(label: string, id: string, title: string, fn: (key: string, value: string) => Promise<HTMLElement>): void {
    this.keys.addKeyAction(label, id, title, fn)
  }

  showResult(el: HTMLElement): void {
    this.keys.showResult(el)
  }

  showBanner(el: HTMLElement | undefined): void {
    this.banner.hidden = el === undefined
    this.banner.replaceChildren(...(el ? [el] : []))
  }

  wire(w: WireLine): void {
    this.bytesBucket.set(w.family, (this.bytesBucket.get(w.family) ?? 0) + w.bytes)
    this.pendingWire.push(w)
    if (this.pendingWire.length > MAX_ROWS) this.pendingWire.shift()
  }

  event(e: EventLine): void {
    this.pendingEvents.push(e)
    if (this.pendingEvents.length > MAX_ROWS * 4) this.pendingEvents.shift()
  }

  call(ms: number): void {
    this.callBucket.count++
    this.callBucket.ms += ms
  }

  clearFeeds(): void {
    this.pendingWire = []
    this.pendingEvents = []
    this.wireList.replaceChildren()
    this.eventList.replaceChildren()
    this.callsChart.clear()
    this.bytesChart.clear()
    this.hintsChart.clear()
    this.bytesBucket.clear()
    this.callBucket = { count: 0, ms: 0 }
    this.lastSecond = -1
    this.keys.showResult(h('span'))
  }

  /** Draws everything again from the source; call it every frame or so. */
  refresh(): void {
    const c = this.source.view()
    const members = this.source.members()
    const highlight = c ? this.keys.highlight(c) : undefined
    const colors = new Map(members.map((m) => [m.id, m]))
    if (c) this.keys.defaults(c)
    this.ring.render({
      q: c?.config.q ?? 0,
      n: c?.config.n ?? 3,
      owners: c?.partitions ?? [],
      members: members.map((m) => ({ id: m.id, color: m.color, state: m.ring, label: m.short ?? m.label, title: m.label, ...(m.self ? { self: true } : {}) })),
      ...(this.source.selected?.() ? { selected: this.source.selected() } : {}),
      ...(highlight ? { highlight } : {}),
      center: c ? [`Q=${c.config.q} \u00b7 N=${c.config.n} R=${c.config.r} W=${c.config.w}`, `${members.length} members`] : ['', ''],
    })
    this.keys.renderPref(highlight, colors)
    this.renderMembers(members)
    this.flushFeeds()
    this.sample(members)
  }

  private renderMembers(members: MemberRow[]): void {
    const sig = members.map((m) => `${m.id}${m.status}${m.ring}${m.records}${m.hints}${m.runtime}${m.self}`).join('|') + (this.source.selected?.() ?? '')
    if (this.membersBody.dataset.sig === sig) return
    this.membersBody.dataset.sig = sig
    this.membersBody.replaceChildren(...members.map((m) => h('tr', { class: `${m.ring}${this.source.selected?.() === m.id ? ' selected' : ''}`, 'data-id': m.id, onclick: () => this.source.select?.(m.id) },
      h('td', {}, h('span', { class: 'dot', style: `--c:${m.color}` }), h('span', { class: 'mono' }, m.label), m.self ? h('span', { class: 'you' }, 'you') : null),
      h('td', {}, h('span', { class: `state ${m.ring}` }, m.status)),
      h('td', {}, m.runtime, h('span', { class: 'muted small' }, ` \u00b7 ${m.storage}`)),
      h('td', { class: 'num' }, m.records ?? '\u2013'),
      h('td', { class: 'num' }, m.hints ?? '\u2013'))))
  }

  private flushFeeds(): void {
    if (this.pendingWire.length) {
      const rows = this.pendingWire.filter((w) => this.filters.has(w.family)).slice(-12).reverse().map((w) => h('li', { class: w.dropped ? 'dropped' : '', style: `--c:${FAMILY_COLORS[w.family]}` },
        h('span', { class: 't' }, (w.t / 1000).toFixed(2)),
        h('span', { class: 'dot' }),
        h('span', { class: 'mono' }, `${shortId(w.from)} \u2192 ${shortId(w.to)}`),
        h('b', {}, w.type),
        w.note ? h('span', { class: 'note' }, w.note) : null,
        h('span', { class: 'bytes' }, w.dropped ? `dropped: ${w.dropped}` : fmtBytes(w.bytes))))
      this.pendingWire = []
      this.wireList.prepend(...rows)
      while (this.wireList.children.length > MAX_ROWS) this.wireList.lastElementChild!.remove()
    }
    if (this.pendingEvents.length) {
      const rows = this.pendingEvents.slice().reverse().map((e) => h('li', { class: `ev ${e.kind}` },
        h('span', { class: 't' }, (e.t / 1000).toFixed(2)), h('span', { class: 'kind' }, e.kind), h('span', { class: 'text' }, e.text)))
      this.pendingEvents = []
      this.eventList.prepend(...rows)
      while (this.eventList.children.length > MAX_ROWS * 2) this.eventList.lastElementChild!.remove()
    }
  }

  /** One chart sample per second of the source's clock. */
  private sample(members: MemberRow[]): void {
    const sec = Math.floor(this.source.seconds())
    if (sec === this.lastSecond) {
      this.callsChart.flush()
      return
    }
    if (this.lastSecond >= 0) {
      const gap = Math.max(1, sec - this.lastSecond)
      const calls = this.callBucket
      this.callsChart.push(sec, [calls.count / gap, calls.count ? calls.ms / calls.count : 0])
      this.bytesChart.push(sec, FAMILIES.map((f) => (this.bytesBucket.get(f) ?? 0) / gap))
      const defs: SeriesDef[] = members.map((m) => ({ label: m.label, color: m.color }))
      this.hintsChart.setSeries(defs)
      this.hintsChart.push(sec, members.map((m) => m.hints ?? 0))
    }
    this.callBucket = { count: 0, ms: 0 }
    this.bytesBucket.clear()
    this.lastSecond = sec
    this.callsChart.flush()
    this.bytesChart.flush()
    this.hintsChart.flush()
  }
}
