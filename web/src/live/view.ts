/**
 * The live mode: the page's own browser peer joins the cluster `npm start` runs, and the dashboard
 * draws that peer's view of it (members, ring, preference lists), every message crossing the page's
 * transport, and the node's events. Records and hints of the Node peers come from the page server's
 * `/api/status` (same origin, no CORS needed); the page's own come from its node.
 */
import type { ClusterInfo, DynameshNode, NodeEvent } from 'dynamesh'
import { Dashboard, type CallForm, type GetShown, type MemberRow, type Source } from '../dashboard.js'
import { colorOf, h, shortId } from '../dom.js'
import { startLivePeer, type LivePeer, type WireEvent } from '../live-peer.js'
import { FAMILY_COLORS, familyOf } from '../wire.js'

interface Counts {
  hints?: number
  records?: number
}

/** A Node peer as the page server's `/api/status` reports it (`stats` is the peer's `/stats`). */
interface PeerStatus {
  id: string
  name: string
  stats?: Counts & { stats?: Counts; inspect?: Counts }
}

const dec = new TextDecoder()
const errText = (e: unknown): string => {
  const code = (e as { code?: unknown })?.code
  const msg = e instanceof Error ? e.message : String(e)
  return typeof code === 'string' ? `${code}: ${msg}` : msg
}

export class LiveMode implements Source {
  readonly dash: Dashboard
  peer: LivePeer | undefined
  error: string | undefined
  private readonly t0 = performance.now()
  private readonly remote = new Map<string, PeerStatus>()
  private readonly counters = { gossip: 0, writes: 0, reads: 0, hintsStored: 0, hintsDelivered: 0, readRepairs: 0, merkle: 0, merkleKeys: 0, transfer: 0, siblings: 0, calls: 0 }
  private timer: ReturnType<typeof setInterval> | undefined
  private starting: Promise<void> | undefined
  private readonly info = h('span', { class: 'sim-status', id: 'live-status' }, 'connecting to the local cluster\u2026')

  constructor(private readonly onChange: () => void, private readonly toSim: () => void) {
    this.dash = new Dashboard(this, 'Live cluster')
    this.dash.toolbar.append(h('section', { class: 'panel controls' },
      h('p', { class: 'intro' }, 'This page is a dynamesh peer: it joins the cluster ', h('code', {}, 'npm start'), ' runs over WebRTC, keeps its replicas in IndexedDB and takes its share of the ring like the Node peers do. Everything below is what its node sees and sends.'),
      h('div', { class: 'status-line sim-bar' }, this.info, h('a', { href: './status', class: 'link', target: '_blank', rel: 'noopener' }, 'status view ↗'),
        h('a', { href: './examples/notes/', class: 'link', target: '_blank', rel: 'noopener' }, 'notes example ↗'))))
  }

  start(): Promise<void> {
    return (this.starting ??= this.connect())
  }

  private async connect(): Promise<void> {
    try {
      this.peer = await startLivePeer()
    } catch (e) {
      this.error = errText(e)
      this.info.textContent = 'not connected'
      this.dash.el.classList.add('empty')
      this.dash.showBanner(h('div', { class: 'unreachable', id: 'live-unreachable' },
        h('h3', {}, 'Live cluster not reachable'),
        h('p', {}, 'The page could not join a running dynamesh cluster: ', h('code', {}, this.error)),
        h('p', {}, 'Run ', h('code', {}, 'npm start'), ' in a clone of dynamesh and open the URL it prints: the page\u2019s own peer then joins three Node peers over WebRTC. The simulated cluster needs no server at all.'),
        h('button', { type: 'button', class: 'primary', onclick: () => this.toSim() }, 'Open the simulated cluster')))
      this.onChange()
      return
    }
    const p = this.peer
    p.onWire((ev) => this.onWire(ev))
    p.node.on((ev) => this.onEvent(ev))
    this.info.textContent = `this page is peer ${shortId(p.node.id)} (${p.role === 'owner' ? 'owner of this origin\u2019s stored node' : 'guest tab, own node'}) \u00b7 storage: IndexedDB${p.persisted ? ', persistent' : ''} \u00b7 room ${p.config.room}`
    this.dash.event({ t: this.ms(), kind: 'action', text: `joined the cluster as ${shortId(p.node.id)} (${p.role})` })
    const first = p.config.peers[0]
    if (first) this.dash.addKeyAction(`Get via ${first.name} HTTP`, 'do-http-get', `GET ${first.http}/kv/{key}: the HTTP client interface of a Node peer (\u00a74.5), through the page server`, (key) => this.httpGet(key))
    this.timer = setInterval(() => this.tick(), 250)
    void this.pollStatus()
    this.onChange()
  }

  node(): DynameshNode | undefined {
    return this.peer?.node
  }

  private ms(): number {
    return performance.now() - this.t0
  }

  private tick(): void {
    this.dash.refresh()
    const k = this.counters
    const c = this.view()
    this.dash.techniques.set({
      ring: c ? `${c.config.q} partitions` : '\u2013',
      pref: c ? `N=${c.config.n}` : '\u2013',
      versions: `${k.siblings} sibling reads`,
      quorum: `${k.writes} store \u00b7 ${k.reads} get messages`,
      readrepair: `${k.readRepairs} keys`,
      hints: `${k.hintsStored} held \u00b7 ${k.hintsDelivered} handed off`,
      merkle: `${k.merkle} messages \u00b7 ${k.merkleKeys} keys`,
      gossip: `${k.gossip} messages`,
      transfer: `${k.transfer} keys moved`,
      storage: 'IndexedDB \u00b7 LevelDB',
      client: `${k.calls} calls`,
    })
  }

  private async pollStatus(): Promise<void> {
    for (;;) {
      try {
        const res = await fetch(new URL('api/status', location.href), { cache: 'no-store' })
        if (res.ok) {
          const r = (await res.json()) as { peers?: Array<PeerStatus & { stats?: PeerStatus['stats'] }> }
          for (const p of r.peers ?? []) this.remote.set(p.id, p)
        }
      } catch {
        // The status endpoint is a nicety: without it the Node peers' counts show as unknown.
      }
      await new Promise((r) => setTimeout(r, 2000))
      if (!this.peer) return
    }
  }

  /** Reads a key through the first Node peer's HTTP API (proxied by the page server: same origin, no CORS). */
  private async httpGet(key: string): Promise<HTMLElement> {
    const first = this.peer!.config.peers[0]!
    const t = performance.now()
    this.counters.calls++
    try {
      const res = await fetch(new URL(`api/kv/0/${encodeURIComponent(key)}`, location.href), { cache: 'no-store' })
      const body = await res.text()
      this.dash.call(performance.now() - t)
      const what = res.status === 200 ? `"${body}"` : res.status === 300 ? 'siblings (JSON)' : res.status === 404 ? 'not found' : `HTTP ${res.status}`
      this.dash.event({ t: this.ms(), kind: 'result', text: `GET ${first.http}/kv/${key} on ${first.name}: ${what}` })
      return h('div', {}, h('p', {}, `${first.name} answered over HTTP: `, h('b', {}, `${res.status}`), ' ', res.status === 200 ? h('code', {}, body) : h('span', { class: 'muted' }, what)),
        h('p', { class: 'muted small' }, `GET ${first.http}/kv/${key}: a client that is not a peer reads through any Node peer, which coordinates the quorum read (\u00a74.5).`))
    } catch (e) {
      this.dash.call(performance.now() - t)
      return h('p', { class: 'err' }, `HTTP read failed: ${errText(e)}`)
    }
  }

  private onWire(ev: WireEvent): void {
    const self = this.peer!.node.id
    const from = ev.dir === 'out' ? self : ev.peer
    const to = ev.dir === 'out' ? ev.peer : self
    const family = familyOf({ type: ev.type })
    if (ev.type === 'gossip') this.counters.gossip++
    if (ev.type === 'store' || ev.type === 'store-r') this.counters.writes++
    if (ev.type === 'get' || ev.type === 'get-r') this.counters.reads++
    if (ev.type.startsWith('ae-')) this.counters.merkle++
    this.dash.ring.pulse(from, to, FAMILY_COLORS[family], 600)
    this.dash.wire({ t: this.ms(), from, to, type: ev.type, family, bytes: ev.bytes })
  }

  private label(id: string): string {
    const p = this.peer
    if (!p) return shortId(id)
    if (id === p.node.id) return 'this page'
    const cfg = p.config.peers.find((x) => x.id === id)
    return cfg ? cfg.name : `browser ${shortId(id)}`
  }

  /** Node peers in their config order, then this page, then other browsers by id. */
  private color(id: string): string {
    const p = this.peer
    const i = p ? p.config.peers.findIndex((x) => x.id === id) : -1
    if (i >= 0) return colorOf(id, i)
    if (p && id === p.node.id) return colorOf(id, 3)
    return colorOf(id)
  }

  /** What fits inside a member's circle on the ring. */
  private short(id: string): string {
    const p = this.peer
    if (!p) return shortId(id).slice(0, 4)
    if (id === p.node.id) return 'you'
    const cfg = p.config.peers.find((x) => x.id === id)
    return cfg ? cfg.name.replace(/^node-/, 'N') : id.slice(0, 4)
  }

  private onEvent(ev: NodeEvent): void {
    const t = this.ms()
    const say = (kind: string, text: string): void => this.dash.event({ t, kind, text })
    switch (ev.type) {
      case 'hint-stored':
        this.counters.hintsStored++
        return say('hint', `this page holds a hint for ${this.label(ev.for)}: "${dec.decode(ev.key)}"`)
      case 'hint-delivered':
        this.counters.hintsDelivered += ev.count
        return say('handoff', `handed ${ev.count} hint${ev.count === 1 ? '' : 's'} off to ${this.label(ev.to)}`)
      case 'repair':
        if (ev.kind === 'read') this.counters.readRepairs += ev.keys
        if (ev.kind === 'merkle') this.counters.merkleKeys += ev.keys
        if (ev.kind === 'transfer') this.counters.transfer += ev.keys
        return say('repair', `${ev.kind} repair to ${this.label(ev.peer)}: ${ev.keys} key${ev.keys === 1 ? '' : 's'}, ${ev.bytes} B`)
      case 'member':
        return say('member', `${this.label(ev.id)} is ${ev.status}`)
      case 'reachable':
        return say('reachable', `${this.label(ev.id)} ${ev.reachable ? 'is reachable' : 'is unreachable'}`)
    }
  }

  // ---- Source ------------------------------------------------------------------------------------

  view(): ClusterInfo | undefined {
    return this.peer?.node.cluster()
  }

  viewerId(): string | undefined {
    return this.peer?.node.id
  }

  members(): MemberRow[] {
    const p = this.peer
    if (!p) return []
    const c = p.node.cluster()
    const self = p.node.inspect()
    return c.members.filter((m) => m.status !== 'left').map((m) => {
      const isSelf = m.id === p.node.id
      const runtime = p.runtimeOf(m.id)
      const st = this.remote.get(m.id)?.stats
      const stats: Counts | undefined = isSelf ? { records: self.records, hints: self.hints } : (st?.inspect ?? st?.stats ?? st)
      const ring: MemberRow['ring'] = !isSelf && !m.reachable ? 'unreachable' : m.status
      return {
        id: m.id,
        label: this.label(m.id),
        short: this.short(m.id),
        color: this.color(m.id),
        status: ring === 'unreachable' ? 'unreachable' : m.status,
        ring,
        runtime: runtime === 'node' ? `Node \u00b7 HTTP :${p.config.peers.find((x) => x.id === m.id)?.http.split(':').pop() ?? '?'}` : isSelf ? 'this browser' : 'a browser',
        storage: runtime === 'node' ? 'LevelDB' : 'IndexedDB',
        weight: m.weight,
        ...(isSelf ? { self: true } : {}),
        ...(stats?.records !== undefined ? { records: stats.records } : {}),
        ...(stats?.hints !== undefined ? { hints: stats.hints } : {}),
      }
    })
  }

  seconds(): number {
    return this.ms() / 1000
  }

  private async call<T>(what: string, fn: (n: DynameshNode) => Promise<T>): Promise<T | undefined> {
    const n = this.peer?.node
    if (!n) {
      this.dash.event({ t: this.ms(), kind: 'error', text: `${what}: the page is not connected to a cluster` })
      return undefined
    }
    const t = performance.now()
    this.counters.calls++
    try {
      const r = await fn(n)
      this.dash.call(performance.now() - t)
      return r
    } catch (e) {
      this.dash.call(performance.now() - t)
      this.dash.event({ t: this.ms(), kind: 'error', text: `${what} failed: ${errText(e)}` })
      return undefined
    }
  }

  async put(f: CallForm): Promise<boolean> {
    this.dash.event({ t: this.ms(), kind: 'action', text: `put "${f.key}" = "${f.value}"` })
    const r = await this.call(`put "${f.key}"`, (n) => n.put(f.key, f.value, opts(f)))
    if (r) this.dash.event({ t: this.ms(), kind: 'result', text: `put "${f.key}" acknowledged` })
    return r !== undefined
  }

  async del(f: CallForm): Promise<boolean> {
    this.dash.event({ t: this.ms(), kind: 'action', text: `delete "${f.key}"` })
    const r = await this.call(`delete "${f.key}"`, (n) => n.delete(f.key, opts(f)))
    return r !== undefined
  }

  async get(f: CallForm): Promise<GetShown | undefined> {
    this.dash.event({ t: this.ms(), kind: 'action', text: `get "${f.key}"` })
    const o = opts(f)
    delete o.w
    delete o.context
    const r = await this.call(`get "${f.key}"`, (n) => n.get(f.key, o))
    if (!r) return undefined
    const values = r.values.map((v) => dec.decode(v))
    if (values.length > 1) this.counters.siblings++
    this.dash.event({ t: this.ms(), kind: 'result', text: `get "${f.key}": ${values.length ? values.map((v) => `"${v}"`).join(' | ') : r.deleted ? 'deleted' : 'not found'}` })
    return { values, context: r.context, deleted: r.deleted }
  }
}

function opts(f: CallForm): Record<string, unknown> {
  const o: Record<string, unknown> = {}
  if (f.n !== undefined) o.n = f.n
  if (f.r !== undefined) o.r = f.r
  if (f.w !== undefined) o.w = f.w
  if (f.context) o.context = f.context
  return o
}
