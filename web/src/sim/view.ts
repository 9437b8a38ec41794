/**
 * The simulated mode: a cluster of many nodes in the page (dynamesh/sim), no server needed. The
 * visitor crashes, restarts, wipes, partitions and heals nodes, writes and reads, pauses and steps
 * virtual time; every click is recorded with the step it happened at, so "Replay" runs the same
 * clicks from the same seed again and the event log comes out the same, line for line.
 */
import type { DynameshNode } from 'dynamesh'
import { Dashboard, type CallForm, type GetShown, type MemberRow, type Source } from '../dashboard.js'
import { colorOf, h } from '../dom.js'
import { FAMILY_COLORS } from '../wire.js'
import { DEFAULT_SETTINGS, SimCluster, type GetView, type SimOp, type SimWire } from './cluster.js'
import { decodeScript, encodeScript } from './link.js'
import { OWNED_BY_N5, TOUR } from './tour.js'
import { placeKey } from '../core.js'

/** Virtual ms per tick of 50 wall ms at each speed. */
const SPEEDS: Array<[string, number]> = [['\u00bc\u00d7', 12], ['\u00bd\u00d7', 25], ['1\u00d7', 50], ['2\u00d7', 100], ['5\u00d7', 250]]
const TICK_WALL_MS = 50
const STEP_MS = 100

export interface SimModeHooks {
  /** Called whenever the selected node or the cluster object changes. */
  onChange(): void
}

export class SimMode implements Source {
  readonly dash: Dashboard
  cluster: SimCluster | undefined
  private sel = 'n1'
  private paused = false
  private speed = 2
  private pendingScript: SimOp[] = []
  private replaying = false
  private timer: ReturnType<typeof setInterval> | undefined
  private opWallStart = 0
  private opVirtStart = 0
  private opScale = 1
  private readonly status = h('span', { class: 'sim-status', id: 'sim-status' })
  private readonly seedInput: HTMLInputElement
  private readonly pauseBtn: HTMLButtonElement
  private readonly nodeBar = h('div', { class: 'node-actions', id: 'node-actions' })
  private readonly verdict = h('span', { class: 'verdict', id: 'replay-verdict' })
  private readonly tourBox = h('div', { class: 'tour', id: 'tour', hidden: true })
  private readonly tourBtn: HTMLButtonElement
  private touring = 0
  private generation = 0

  constructor(private readonly hooks: SimModeHooks) {
    this.dash = new Dashboard(this, 'Simulated cluster')
    const params = new URLSearchParams(location.hash.replace(/^#sim\/?/, ''))
    const seed = Number(params.get('seed') ?? DEFAULT_SETTINGS.seed)
    this.seedInput = h('input', { id: 'seed', type: 'number', value: Number.isFinite(seed) ? seed : 1, min: 0, inputmode: 'numeric', 'aria-label': 'seed' })
    this.pauseBtn = h('button', { type: 'button', id: 'sim-pause', onclick: () => this.setPaused(!this.paused) }, 'Pause')
    const speed = h('select', { id: 'sim-speed', 'aria-label': 'speed', onchange: (e: Event) => (this.speed = Number((e.target as HTMLSelectElement).value)) },
      ...SPEEDS.map(([label], i) => h('option', { value: i, selected: i === this.speed }, label)))
    const b = (label: string, id: string, fn: () => void, title?: string, cls = ''): HTMLButtonElement => h('button', { type: 'button', id, onclick: fn, title, class: cls }, label)
    this.tourBtn = b('Take the tour', 'sim-tour', () => void this.tour(), 'a guided run: crash, writes, restart, wipe, siblings', 'primary')
    this.dash.toolbar.append(h('section', { class: 'panel controls' },
      h('p', { class: 'intro' }, 'Eight dynamesh nodes run inside this page on a simulated network in virtual time, no server involved. Crash, wipe or partition a node, write keys, and watch sloppy quorum, hinted handoff and Merkle repair at work. The same seed and the same clicks replay the same run.'),
      h('div', { class: 'sim-bar' },
        h('div', { class: 'group' }, this.tourBtn),
        h('div', { class: 'group' },
          h('label', { class: 'seed' }, h('span', {}, 'seed'), this.seedInput),
          b('New run', 'sim-reset', () => void this.reset(Number(this.seedInput.value)), 'start a fresh cluster from this seed')),
        h('div', { class: 'group' },
          this.pauseBtn,
          b('Step', 'sim-step', () => void this.step(), `advance ${STEP_MS} ms of virtual time`),
          b('+10 s', 'sim-skip', () => void this.skip(), 'run 10 s of virtual time at once'),
          h('label', { class: 'speed' }, h('span', {}, 'speed'), speed)),
        h('div', { class: 'group' },
          b('Replay', 'sim-replay', () => void this.replay(), 'run the same clicks again from the same seed, on screen'),
          b('Verify replay', 'sim-verify', () => void this.verify(), 'replay the run off screen and compare the event logs'),
          b('Copy link', 'sim-share', () => void this.share(), 'a link that replays this run (seed and clicks) on any browser')),
        this.verdict),
      this.nodeBar,
      h('div', { class: 'status-line' }, this.status),
      this.tourBox))
    this.renderNodeBar()
    if (params.get('paused') === '1') this.setPaused(true)
  }

  // ---- Source ------------------------------------------------------------------------------------

  view(): ReturnType<DynameshNode['cluster']> | undefined {
    return this.cluster?.node(this.viewerId())?.cluster()
  }

  /** The selected node, or while it is crashed (its view frozen) the first node that is up. */
  viewerId(): string {
    const c = this.cluster
    if (!c || c.state(this.sel) !== 'crashed') return this.sel
    return c.ids.find((id) => c.state(id) !== 'crashed') ?? this.sel
  }

  selected(): string {
    return this.sel
  }

  select(id: string): void {
    this.sel = id
    this.renderNodeBar()
    this.dash.refresh()
    this.hooks.onChange()
  }

  members(): MemberRow[] {
    const c = this.cluster
    if (!c) return []
    const viewerId = this.viewerId()
    const viewer = c.node(viewerId)?.cluster()
    const known = new Map(viewer?.members.map((m) => [m.id as string, m]) ?? [])
    return c.ids.map((id, i) => {
      const state = c.state(id)
      const m = known.get(id)
      const ins = c.node(id)?.inspect()
      const ring: MemberRow['ring'] = state === 'crashed' ? 'down' : state === 'isolated' ? 'cut' : m && !m.reachable && id !== viewerId ? 'unreachable' : (m?.status ?? 'joining')
      const status = state === 'crashed' ? 'crashed' : state === 'isolated' ? 'partitioned' : ring === 'unreachable' ? `unreachable to ${viewerId}` : (m?.status ?? 'joining')
      return { id, label: id, color: colorOf(id, i), status, ring, runtime: 'simulated', storage: 'memory', weight: m?.weight ?? 1, ...(ins ? { records: ins.records, hints: ins.hints } : {}) }
    })
  }

  seconds(): number {
    return (this.cluster?.now() ?? 0) / 1000
  }

  async put(f: CallForm): Promise<boolean> {
    const r = await this.act({ op: 'put', via: this.sel, key: f.key, value: f.value, ...quorum(f), ...(f.context ? { context: f.context } : {}) })
    return r !== undefined
  }

  async del(f: CallForm): Promise<boolean> {
    const r = await this.act({ op: 'delete', via: this.sel, key: f.key, ...quorum(f), ...(f.context ? { context: f.context } : {}) })
    return r !== undefined
  }

  async get(f: CallForm): Promise<GetShown | undefined> {
    const q = quorum(f)
    delete q.w
    return (await this.act({ op: 'get', via: this.sel, key: f.key, ...q })) as GetView | undefined
  }

  replicas(key: string, ids: string[]): Promise<Array<{ id: string; siblings: Array<{ value: string | null; dot: string }> }>> {
    return this.cluster ? this.cluster.replicas(key, ids) : Promise.resolve([])
  }

  // ---- driving -----------------------------------------------------------------------------------

  /** Starts (or restarts) the mode: a fresh cluster from the seed in the field. */
  async start(): Promise<void> {
    const run = new URLSearchParams(location.hash.replace(/^#sim\/?/, '')).get('run')
    const script = run ? decodeScript(run) : undefined
    await this.reset(Number(this.seedInput.value), script ?? [])
    if (script) {
      this.verdict.textContent = 'replaying the shared run\u2026'
      this.setPaused(false)
    }
  }

  /** Puts a link to this run (its seed and recorded clicks) in the address bar and the clipboard. */
  async share(): Promise<string | undefined> {
    const c = this.cluster
    if (!c) return undefined
    const url = `${location.href.split('#')[0]}#sim/seed=${c.settings.seed}&run=${encodeScript(c.script)}`
    history.replaceState(null, '', url)
    try {
      await navigator.clipboard.writeText(url)
      this.verdict.textContent = 'link copied: it replays this run'
    } catch {
      this.verdict.textContent = 'link in the address bar: it replays this run'
    }
    return url
  }

  /** Pauses the clock (the mode is hidden) without losing the run. */
  sleep(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }

  wake(): void {
    if (!this.timer && this.cluster) this.timer = setInterval(() => this.tick(), TICK_WALL_MS)
  }

  async reset(seed: number, script: SimOp[] = []): Promise<void> {
    const gen = ++this.generation
    if (this.touring) this.endTour()
    this.sleep()
    const old = this.cluster
    this.cluster = undefined
    await old?.stop()
    if (!Number.isFinite(seed) || seed < 0) seed = 1
    this.seedInput.value = String(seed)
    history.replaceState(null, '', `#sim/seed=${seed}`)
    this.dash.clearFeeds()
    this.verdict.textContent = ''
    const c = await SimCluster.create({ ...DEFAULT_SETTINGS, seed: Math.floor(seed) })
    if (gen !== this.generation) return void c.stop()
    this.cluster = c
    this.callsSeen = 0
    this.pendingScript = expand(script)
    this.replaying = script.length > 0
    c.onWire((w) => this.onWire(w))
    c.onLog((e) => this.dash.event(e))
    for (const e of c.log) this.dash.event(e)
    if (!this.ids().includes(this.sel)) this.sel = 'n1'
    this.renderNodeBar()
    this.hooks.onChange()
    this.dash.refresh()
    this.wake()
  }

  setPaused(p: boolean): void {
    this.paused = p
    this.pauseBtn.textContent = p ? 'Play' : 'Pause'
    this.pauseBtn.classList.toggle('primary', p)
  }

  private ids(): string[] {
    return this.cluster?.ids ?? []
  }

  /** One tick (or step) of virtual time; its messages play out over `wallMs` on the ring. */
  private async advance(ms: number, wallMs = TICK_WALL_MS): Promise<void> {
    const c = this.cluster
    if (!c) return
    const next = this.pendingScript[0]
    if (this.replaying) {
      if (!next) return this.endReplay()
      this.pendingScript.shift()
      this.mark(wallMs / Math.max(1, next.op === 'advance' ? next.ms : 50))
      await c.run(next)
      if (this.pendingScript.length === 0) this.endReplay()
      return
    }
    this.mark(wallMs / ms)
    await c.run({ op: 'advance', ms })
  }

  /** A replay stops where the recorded run stopped: paused, so the two can be compared. */
  private endReplay(): void {
    if (!this.replaying) return
    this.replaying = false
    this.setPaused(true)
    this.renderNodeBar()
    this.verdict.textContent = 'replay finished'
  }

  private callsSeen = 0

  private tick(): void {
    const c = this.cluster
    if (c) for (; this.callsSeen < c.calls.length; this.callsSeen++) this.dash.call(c.calls[this.callsSeen]!.ms)
    if (c && !this.paused && !c.busy()) void this.advance(SPEEDS[this.speed]![1])
    // Paused and nothing new: skip the redraw, so an idle tab costs next to nothing.
    const key = c ? `${c.now()}|${c.log.length}|${c.net.stats().sent}|${this.sel}|${this.paused}` : ''
    if (key === this.drawn) return
    this.drawn = key
    this.dash.refresh()
    this.renderStatus()
    this.techniques()
  }

  private drawn = ''

  private async step(): Promise<void> {
    this.setPaused(true)
    // A step is watched closely: its 100 ms of messages play out over most of a second.
    await this.advance(STEP_MS, 700)
    this.dash.refresh()
    this.renderStatus()
  }

  private async skip(): Promise<void> {
    if (this.replaying) return
    this.mark(0.05)
    await this.cluster?.run({ op: 'advance', ms: 10_000 })
    this.dash.refresh()
    this.renderStatus()
  }

  /** Runs a click; its result is what a get returned, or true. Ignored while a replay plays. */
  private async act(op: SimOp): Promise<unknown> {
    const c = this.cluster
    if (!c || this.replaying) return undefined
    this.mark(25)
    const r = await c.run(op)
    this.renderNodeBar()
    this.dash.refresh()
    return op.op === 'get' ? r : r === undefined ? undefined : true
  }

  /** Maps the coming operation's virtual ms to wall ms, so its messages play out over time. */
  private mark(wallPerVirtualMs: number): void {
    this.opWallStart = performance.now()
    this.opVirtStart = this.cluster?.now() ?? 0
    this.opScale = wallPerVirtualMs
  }

  private onWire(w: SimWire): void {
    const delay = Math.min(2500, Math.max(0, (w.sentAt - this.opVirtStart) * this.opScale - (performance.now() - this.opWallStart)))
    const speedUp = SPEEDS[this.speed]![1] / 50
    this.dash.ring.pulse(w.from, w.to, FAMILY_COLORS[w.family], Math.max(250, 700 / Math.sqrt(speedUp)), w.dropped !== undefined, delay)
    const note = w.info.hintFor ? `hint for ${w.info.hintFor.join(', ')}` : w.info.type === 'store' && w.info.ack === false ? `push ${w.info.items} record${w.info.items === 1 ? '' : 's'}` : w.info.parts !== undefined ? `${w.info.parts} partition${w.info.parts === 1 ? '' : 's'}` : undefined
    this.dash.wire({ t: w.sentAt, from: w.from, to: w.to, type: w.info.type, family: w.family, bytes: w.bytes, ...(note ? { note } : {}), ...(w.dropped ? { dropped: w.dropped } : {}) })
  }

  /** Runs the guided tour on a fresh cluster from the current seed; a second click stops it. */
  private async tour(): Promise<void> {
    if (this.touring) return this.endTour()
    const me = ++this.touring
    await this.reset(Number(this.seedInput.value))
    this.touring = me
    this.tourBtn.textContent = 'Stop the tour'
    this.setPaused(false)
    const c = this.cluster
    for (let i = 0; i < TOUR.length && this.touring === me && this.cluster === c; i++) {
      let step = TOUR[i]!
      if (step.key === OWNED_BY_N5 && step.op?.op === 'get') {
        const key = this.keyOwnedBy('n5') ?? 'user:1.0'
        step = { ...step, key, op: { ...step.op, key } }
      }
      this.tourBox.hidden = false
      this.tourBox.replaceChildren(h('b', {}, `Tour ${i + 1}/${TOUR.length}`), ' ', step.say)
      if (step.key) this.dash.setKey(step.key)
      if (step.op) {
        if ('id' in step.op) this.select(step.op.id)
        if (step.op.op === 'get') {
          this.select(step.op.via)
          await this.dash.clickGet()
        } else await this.act(step.op)
      }
      const until = (this.cluster?.now() ?? 0) + step.waitMs
      while (this.touring === me && this.cluster === c && c && c.now() < until) await new Promise((r) => setTimeout(r, 100))
    }
    if (this.touring === me) {
      this.touring = 0
      this.tourBtn.textContent = 'Take the tour'
    }
  }

  /** The first of the first batch's keys whose primaries include `id`. */
  private keyOwnedBy(id: string): string | undefined {
    const view = this.view()
    if (!view) return undefined
    for (let i = 0; i < 20; i++) {
      const key = `user:1.${i}`
      if (view.partitions[placeKey(view, key).partition]?.includes(id as never)) return key
    }
    return undefined
  }

  private endTour(): void {
    this.touring = 0
    this.tourBtn.textContent = 'Take the tour'
    this.tourBox.hidden = true
  }

  private async replay(): Promise<void> {
    const c = this.cluster
    if (!c || this.replaying) return
    const script = c.script.map((op) => ({ ...op }))
    await this.reset(c.settings.seed, script)
    this.verdict.textContent = 'replaying\u2026'
    this.setPaused(false)
  }

  /** Replays the run so far in a second, hidden cluster and compares the logs. */
  async verify(): Promise<{ same: boolean; fingerprint: string }> {
    const c = this.cluster
    if (!c) return { same: false, fingerprint: '' }
    this.verdict.textContent = 'verifying\u2026'
    const wasPaused = this.paused
    this.setPaused(true)
    await c.run({ op: 'advance', ms: 0 })
    const script = c.script.map((op) => ({ ...op }))
    const log = JSON.stringify(c.log)
    const fp = c.fingerprint.hex()
    const twin = await SimCluster.create({ ...c.settings })
    await twin.replay(script)
    const same = JSON.stringify(twin.log) === log && twin.fingerprint.hex() === fp
    await twin.stop()
    this.verdict.textContent = same ? `\u2713 replay identical: ${c.log.length} events, fingerprint ${fp}` : `\u2717 replay differs (${twin.fingerprint.hex()} vs ${fp})`
    this.verdict.className = `verdict ${same ? 'ok' : 'err'}`
    this.setPaused(wasPaused)
    return { same, fingerprint: fp }
  }

  private renderStatus(): void {
    const c = this.cluster
    if (!c) return
    const text = `t = ${(c.now() / 1000).toFixed(2)} s virtual \u00b7 ${c.log.length} events \u00b7 ${c.net.stats().delivered} messages \u00b7 fingerprint ${c.fingerprint.hex()}${this.paused ? ' \u00b7 paused' : ''}${this.replaying ? ' \u00b7 replaying' : ''}`
    if (this.status.textContent !== text) this.status.textContent = text
  }

  private techniques(): void {
    const c = this.cluster
    if (!c) return
    const k = c.counters
    this.dash.techniques.set({
      ring: `${c.settings.q} partitions`,
      pref: `N=${c.settings.n}`,
      versions: `${k.siblings} sibling reads`,
      quorum: `${k.puts} puts \u00b7 ${k.gets} gets`,
      readrepair: `${k.readRepairs} keys`,
      hints: `${c.ids.reduce((n, id) => n + (c.node(id)?.inspect().hints ?? 0), 0)} held now \u00b7 ${k.hintsDelivered} handed off`,
      merkle: `${k.merkleSessions} exchanges \u00b7 ${k.merkleKeys} keys`,
      gossip: `${k.gossip} messages`,
      transfer: `${k.transferKeys} keys moved`,
      storage: 'memory',
      client: `${c.calls.length} calls`,
    })
  }

  private renderNodeBar(): void {
    const c = this.cluster
    const id = this.sel
    const state = c?.state(id) ?? 'up'
    const lock = this.replaying || !c
    const b = (label: string, bid: string, op: () => SimOp | undefined, disabled: boolean, title: string, cls = ''): HTMLButtonElement =>
      h('button', { type: 'button', id: bid, class: cls, disabled: disabled || lock, title, onclick: async () => {
        const o = op()
        if (o) await this.act(o)
        this.renderNodeBar()
      } }, label)
    const up = this.ids().filter((x) => c?.state(x) !== 'crashed')
    const other = up.find((x) => x !== id) ?? id
    this.nodeBar.replaceChildren(
      h('div', { class: 'group' },
        h('span', { class: 'group-label', title: 'click a member on the ring or in the table to select it' }, 'node ', h('b', { id: 'selected-node' }, id)),
        b('Crash', 'act-crash', () => ({ op: 'crash', id }), state === 'crashed', 'stop the node at once; its disk is kept', 'danger'),
        b('Restart', 'act-restart', () => ({ op: 'restart', id }), state !== 'crashed', 'bring the node back on its disk'),
        b('Wipe', 'act-wipe', () => ({ op: 'wipe', id }), false, 'the node comes back with an empty disk', 'danger'),
        b('Partition', 'act-isolate', () => ({ op: 'isolate', id }), state === 'crashed', 'cut the node off from all others')),
      h('div', { class: 'group' },
        h('span', { class: 'group-label' }, 'cluster'),
        b('Split in two', 'act-split', () => ({ op: 'split' }), false, 'partition the cluster into two halves'),
        b('Heal', 'act-heal', () => ({ op: 'heal' }), false, 'end every partition'),
        b('Add a node', 'act-add', () => ({ op: 'add' }), this.ids().length >= 16, 'a new node joins; partitions move to it (\u00a74.9)'),
        b('Write 20 keys', 'act-writes', () => ({ op: 'writes', via: state === 'crashed' ? (up[0] ?? id) : id, count: 20 }), up.length === 0, 'twenty puts through the selected node', 'primary'),
        b('Make siblings', 'act-siblings', () => ({ op: 'siblings', key: 'cart', a: state === 'crashed' ? other : id, b: up.find((x) => x !== id && x !== other) ?? other }), up.length < 2, 'two concurrent blind writes to "cart" through two nodes; then get "cart"')))
  }

  /** The node the console's `window.dynamesh.node` points at. */
  selectedNode(): DynameshNode | undefined {
    return this.cluster?.node(this.sel)
  }

  replayingNow(): boolean {
    return this.replaying
  }
}

function quorum(f: CallForm): { n?: number; r?: number; w?: number } {
  const q: { n?: number; r?: number; w?: number } = {}
  if (f.n !== undefined) q.n = f.n
  if (f.r !== undefined) q.r = f.r
  if (f.w !== undefined) q.w = f.w
  return q
}

/** Advances with `times` become that many single advances, as they were run. */
function expand(script: readonly SimOp[]): SimOp[] {
  const out: SimOp[] = []
  for (const op of script) {
    if (op.op === 'advance') for (let i = 0; i < (op.times ?? 1); i++) out.push({ op: 'advance', ms: op.ms })
    else out.push(op)
  }
  return out
}
