/**
 * What both modes show: the ring with the typed key's preference list, the members, the key form
 * (put / get / delete with per-call N, R, W), the wire feed, the event log, the charts and the
 * techniques list. A mode plugs in a {@link Source}; the dashboard only renders what it reports.
 */
import type { ClusterInfo } from 'dynamesh'
import { TimeChart, type SeriesDef } from './charts.js'
import { placeKey, versionsOf } from './core.js'
import { h, fmtBytes, fmtReplica, shortId } from './dom.js'
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

/** `replica:counter` with the replica id shortened. */
const fmtDot = (dot: string): string => {
  const i = dot.lastIndexOf(':')
  return `${fmtReplica(dot.slice(0, i))}:${dot.slice(i + 1)}`
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
  private readonly prefBox = h('div', { class: 'pref', id: 'pref-list' })
  private readonly resultBox = h('div', { class: 'result', id: 'call-result' })
  private readonly form: HTMLFormElement
  private kvButtons!: HTMLElement
  private readonly keyInput: HTMLInputElement
  private readonly valueInput: HTMLInputElement
  private readonly nInput: HTMLInputElement
  private readonly rInput: HTMLInputElement
  private readonly wInput: HTMLInputElement
  private readonly ctxInput: HTMLInputElement
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
    this.keyInput = h('input', { name: 'key', id: 'key', value: 'greeting', autocomplete: 'off', spellcheck: false, required: true })
    this.valueInput = h('input', { name: 'value', id: 'value', value: 'hello', autocomplete: 'off', spellcheck: false })
    const num = (name: string, title: string): HTMLInputElement =>
      h('input', { name, id: `opt-${name}`, type: 'number', min: 1, max: 9, placeholder: '', title, inputmode: 'numeric' })
    this.nInput = num('n', 'replicas for this call (N)')
    this.rInput = num('r', 'replies a get waits for (R)')
    this.wInput = num('w', 'acknowledgements a put waits for (W)')
    this.ctxInput = h('input', { name: 'context', id: 'context', placeholder: 'none: blind write', autocomplete: 'off', spellcheck: false })
    const btn = (label: string, id: string, fn: () => void, cls = ''): HTMLButtonElement =>
      h('button', { type: 'button', id, class: cls, onclick: (e: Event) => (e.preventDefault(), fn()) }, label)
    this.form = h('form', { class: 'kv-form', id: 'kv-form', onsubmit: (e: Event) => (e.preventDefault(), void this.doPut()) },
      h('label', { class: 'grow' }, h('span', {}, 'key'), this.keyInput),
      h('label', { class: 'grow' }, h('span', {}, 'value'), this.valueInput),
      h('div', { class: 'quorum' },
        h('label', {}, h('span', {}, 'N'), this.nInput),
        h('label', {}, h('span', {}, 'R'), this.rInput),
        h('label', {}, h('span', {}, 'W'), this.wInput)),
      h('label', { class: 'ctx' }, h('span', {}, 'context'), this.ctxInput),
      this.kvButtons = h('div', { class: 'kv-buttons' },
        h('button', { type: 'submit', id: 'do-put', class: 'primary' }, 'Put'),
        btn('Get', 'do-get', () => void this.doGet()),
        btn('Delete', 'do-delete', () => void this.doDelete())))
    this.keyInput.addEventListener('input', () => this.refresh())

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
        h('section', { class: 'panel key-panel' },
          h('h2', {}, 'Put, get, delete'),
          this.form,
          h('p', { class: 'muted small hint-line' }, 'A put is acknowledged after W replicas stored it durably, a get answers after R replies (§4.5); empty fields use the cluster’s N, R, W. A get fills the context, so the next put supersedes what it read.'),
          this.prefBox,
          this.resultBox),
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

  private form2call(): { key: string; value: string; n?: number; r?: number; w?: number; context?: string } {
    const opt = (el: HTMLInputElement): number | undefined => (el.value === '' ? undefined : Number(el.value))
    const f: CallForm = { key: this.keyInput.value, value: this.valueInput.value }
    const n = opt(this.nInput), r = opt(this.rInput), w = opt(this.wInput)
    if (n !== undefined) f.n = n
    if (r !== undefined) f.r = r
    if (w !== undefined) f.w = w
    if (this.ctxInput.value.trim()) f.context = this.ctxInput.value.trim()
    return f
  }

  private busy(on: boolean): void {
    this.form.querySelectorAll('button').forEach((b) => (b.disabled = on))
  }

  private async doPut(): Promise<void> {
    if (!this.form.reportValidity()) return
    this.busy(true)
    try {
      const ok = await this.source.put(this.form2call())
      this.showResult(ok ? h('p', { class: 'ok' }, `put "${this.keyInput.value}" acknowledged`) : h('p', { class: 'err' }, 'put failed: see the event log'))
      if (ok) this.ctxInput.value = ''
    } finally {
      this.busy(false)
    }
  }

  private async doDelete(): Promise<void> {
    if (!this.form.reportValidity()) return
    this.busy(true)
    try {
      const ok = await this.source.del(this.form2call())
      this.showResult(ok ? h('p', { class: 'ok' }, `delete "${this.keyInput.value}" acknowledged: a tombstone with the context`) : h('p', { class: 'err' }, 'delete failed: see the event log'))
    } finally {
      this.busy(false)
    }
  }

  private async doGet(): Promise<void> {
    if (!this.form.reportValidity()) return
    this.busy(true)
    try {
      const r = await this.source.get(this.form2call())
      if (!r) return this.showResult(h('p', { class: 'err' }, 'get failed: see the event log'))
      this.ctxInput.value = r.context
      const vv = versionsOf(r.context)
      const out = h('div', {},
        h('p', {}, r.values.length === 0 ? (r.deleted ? 'deleted (a tombstone was read)' : 'not found') : r.values.length === 1 ? 'one value' : `${r.values.length} siblings: concurrent versions, all kept (\u00a74.4)`),
        h('ul', { class: 'siblings', id: 'siblings' }, ...r.values.map((v) => h('li', {}, h('code', {}, v)))),
        h('p', { class: 'muted small' }, 'version vector of what was read: ', ...(vv.length ? vv.map(([id, n]) => h('code', { class: 'vv', title: id }, `${fmtReplica(id)}:${n}`)) : ['\u2205']), '. The context field now carries it: a put with it supersedes exactly these versions.'))
      this.showResult(out)
      const c = this.source.view()
      if (this.source.replicas && c) {
        const { prefs } = placeKey(c, this.keyInput.value, this.form2call().n ?? c.config.n)
        const reps = await this.source.replicas(this.keyInput.value, prefs.map((p) => p.node))
        out.append(h('table', { class: 'replicas' },
          h('thead', {}, h('tr', {}, h('th', {}, 'replica'), h('th', {}, 'siblings on its disk, with their dots'))),
          h('tbody', {}, ...reps.map((rep) => h('tr', {}, h('td', {}, rep.id), h('td', {}, rep.siblings.length === 0 ? h('span', { class: 'muted' }, 'nothing') : h('span', {}, ...rep.siblings.map((sb) => h('code', { class: 'sib', title: sb.dot }, `${sb.value === null ? '\u2020tombstone' : sb.value} @${fmtDot(sb.dot)}`)))))))))
      }
    } finally {
      this.busy(false)
    }
  }

  /** Adds a button next to Put / Get / Delete; `fn` gets the typed key and value. */
  addKeyAction(label: string, id: string, title: string, fn: (key: string, value: string) => Promise<HTMLElement>): void {
    const b = h('button', { type: 'button', id, title, onclick: async () => {
      if (!this.form.reportValidity()) return
      this.busy(true)
      try {
        this.showResult(await fn(this.keyInput.value, this.valueInput.value))
      } finally {
        this.busy(false)
      }
    } }, label)
    this.kvButtons.append(b)
  }

  /** Types a key into the form (the ring then shows its preference list). */
  setKey(key: string): void {
    this.keyInput.value = key
    this.refresh()
  }

  /** What the Get button does. */
  clickGet(): Promise<void> {
    return this.doGet()
  }

  showResult(el: HTMLElement): void {
    this.resultBox.replaceChildren(el)
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
    this.resultBox.replaceChildren()
  }

  /** Draws everything again from the source; call it every frame or so. */
  refresh(): void {
    const c = this.source.view()
    const members = this.source.members()
    const key = this.keyInput.value
    let highlight: { partition: number; prefs: ReturnType<typeof placeKey>['prefs'] } | undefined
    if (c && key) {
      const n = this.nInput.value === '' ? c.config.n : Number(this.nInput.value)
      highlight = placeKey(c, key, n)
    }
    const colors = new Map(members.map((m) => [m.id, m]))
    if (c) {
      this.nInput.placeholder = String(c.config.n)
      this.rInput.placeholder = String(c.config.r)
      this.wInput.placeholder = String(c.config.w)
    }
    this.ring.render({
      q: c?.config.q ?? 0,
      n: c?.config.n ?? 3,
      owners: c?.partitions ?? [],
      members: members.map((m) => ({ id: m.id, color: m.color, state: m.ring, label: m.short ?? m.label, title: m.label, ...(m.self ? { self: true } : {}) })),
      ...(this.source.selected?.() ? { selected: this.source.selected() } : {}),
      ...(highlight ? { highlight } : {}),
      center: c ? [`Q=${c.config.q} \u00b7 N=${c.config.n} R=${c.config.r} W=${c.config.w}`, `${members.length} members`] : ['', ''],
    })
    this.renderPref(highlight, colors)
    this.renderMembers(members)
    this.flushFeeds()
    this.sample(members)
  }

  private renderPref(hl: { partition: number; prefs: ReturnType<typeof placeKey>['prefs'] } | undefined, members: Map<string, MemberRow>): void {
    if (!hl) {
      this.prefBox.replaceChildren()
      return
    }
    const items = hl.prefs.map((p, i) => {
      const m = members.get(p.node)
      return h('li', { class: p.primary ? 'primary' : 'fallback', style: `--c:${m?.color ?? '#999'}` },
        h('span', { class: 'dot' }), h('b', {}, m?.label ?? shortId(p.node)),
        h('span', { class: 'tag' }, p.primary ? `primary ${i + 1}` : `fallback for ${members.get(p.hintFor ?? '')?.label ?? shortId(p.hintFor ?? '')}`))
    })
    const sig = `${hl.partition}|${hl.prefs.map((p) => `${p.node}${p.primary}${p.hintFor}`).join()}`
    if (this.prefBox.dataset.sig === sig) return
    this.prefBox.dataset.sig = sig
    this.prefBox.replaceChildren(
      h('p', { class: 'muted small' }, `"${this.keyInput.value}" \u2192 partition ${hl.partition}; its preference list as ${members.get(this.source.viewerId() ?? '')?.label ?? 'this node'} sees it:`),
      h('ol', { class: 'pref-list' }, ...items))
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
