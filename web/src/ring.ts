/**
 * The ring as an SVG: Q partitions around a circle (Dynamo 4.2), one band per replica in
 * preference order, each partition coloured by the member that holds that replica; the members
 * inside, and the messages between them as dots that travel from sender to receiver.
 *
 *        band 1: first replica (the coordinator a write goes to)
 *        band 2: second replica         members on the inner circle,
 *        band 3: third replica          messages as dots between them
 */
import { s, shortId } from './dom.js'
import type { PrefEntry } from './core.js'

export interface RingMemberView {
  id: string
  color: string
  /** `down`: crashed; `cut`: partitioned away; `unreachable`: the viewing node's detector suspects it. */
  state: 'up' | 'down' | 'cut' | 'unreachable' | 'joining' | 'leaving' | 'left'
  self?: boolean
  label?: string
  /** Tooltip name (the full label). */
  title?: string
}

export interface RingModel {
  q: number
  n: number
  /** owners[p]: primaries of partition p in preference order. */
  owners: readonly (readonly string[])[]
  members: RingMemberView[]
  selected?: string
  highlight?: { partition: number; prefs: PrefEntry[] }
  center: [string, string]
}

const C = 300
const BAND = [
  [282, 262],
  [259, 245],
  [242, 231],
]
const MEMBER_R = 178

const polar = (r: number, a: number): [number, number] => [C + r * Math.sin(a), C - r * Math.cos(a)]

function arc(r1: number, r0: number, a0: number, a1: number): string {
  const [x0, y0] = polar(r1, a0)
  const [x1, y1] = polar(r1, a1)
  const [x2, y2] = polar(r0, a1)
  const [x3, y3] = polar(r0, a0)
  const large = a1 - a0 > Math.PI ? 1 : 0
  return `M${x0.toFixed(2)},${y0.toFixed(2)}A${r1},${r1} 0 ${large} 1 ${x1.toFixed(2)},${y1.toFixed(2)}L${x2.toFixed(2)},${y2.toFixed(2)}A${r0},${r0} 0 ${large} 0 ${x3.toFixed(2)},${y3.toFixed(2)}Z`
}

interface Dot {
  el: SVGElement
  from: [number, number]
  to: [number, number]
  start: number
  dur: number
  dropped: boolean
}

export class RingView {
  readonly el: SVGSVGElement
  private readonly bands: SVGGElement
  private readonly marks: SVGGElement
  private readonly links: SVGGElement
  private readonly nodes: SVGGElement
  private readonly dots: SVGGElement
  private readonly centerA: SVGTextElement
  private readonly centerB: SVGTextElement
  private bandKey = ''
  private readonly pos = new Map<string, [number, number]>()
  private live: Dot[] = []
  onSelect: (id: string) => void = () => {}

  constructor() {
    this.el = s('svg', { viewBox: '0 0 600 600', class: 'ring', role: 'img', 'aria-label': 'the ring of partitions and its members' }) as SVGSVGElement
    this.bands = s('g') as SVGGElement
    this.marks = s('g') as SVGGElement
    this.links = s('g') as SVGGElement
    this.dots = s('g') as SVGGElement
    this.nodes = s('g') as SVGGElement
    this.centerA = s('text', { x: C, y: C - 6, class: 'ring-center-a', 'text-anchor': 'middle' }) as SVGTextElement
    this.centerB = s('text', { x: C, y: C + 16, class: 'ring-center-b', 'text-anchor': 'middle' }) as SVGTextElement
    this.el.append(this.bands, this.marks, this.links, this.dots, this.nodes, this.centerA, this.centerB)
    const tick = (): void => {
      this.animate(performance.now())
      requestAnimationFrame(tick)
    }
    requestAnimationFrame(tick)
  }

  render(m: RingModel): void {
    const colorOf = new Map(m.members.map((x) => [x.id, x.color]))
    const key = `${m.q}|${m.owners.map((o) => o.join(',')).join(';')}|${[...colorOf].join()}`
    if (key !== this.bandKey) {
      this.bandKey = key
      const paths: SVGElement[] = []
      const gap = m.q > 128 ? 0 : 0.004
      for (let p = 0; p < m.q; p++) {
        const a0 = (2 * Math.PI * p) / m.q + gap
        const a1 = (2 * Math.PI * (p + 1)) / m.q - gap
        const owners = m.owners[p] ?? []
        for (let k = 0; k < Math.min(3, Math.max(1, m.n)); k++) {
          const id = owners[k]
          const band = BAND[k]!
          paths.push(s('path', { d: arc(band[0]!, band[1]!, a0, a1), fill: id ? (colorOf.get(id) ?? '#cbd5e1') : '#e2e8f0', class: 'part' }))
        }
      }
      this.bands.replaceChildren(...paths)
    }

    this.pos.clear()
    const count = m.members.length
    m.members.forEach((x, i) => this.pos.set(x.id, polar(MEMBER_R, (2 * Math.PI * i) / Math.max(1, count))))

    const marks: SVGElement[] = []
    const links: SVGElement[] = []
    const prefOf = new Map<string, { rank: number; entry: PrefEntry }>()
    if (m.highlight) {
      const { partition, prefs } = m.highlight
      const a0 = (2 * Math.PI * partition) / m.q
      const a1 = (2 * Math.PI * (partition + 1)) / m.q
      const mid = (a0 + a1) / 2
      marks.push(s('path', { d: arc(292, 226, a0 - 0.02, a1 + 0.02), class: 'part-hl' }))
      const [lx, ly] = polar(298, mid)
      const [tx, ty] = polar(218, mid)
      marks.push(s('line', { x1: lx, y1: ly, x2: tx, y2: ty, class: 'part-pointer' }))
      prefs.forEach((e, rank) => prefOf.set(e.node, { rank, entry: e }))
      for (const e of prefs) {
        const p = this.pos.get(e.node)
        if (p) links.push(s('line', { x1: tx, y1: ty, x2: p[0], y2: p[1], class: e.primary ? 'pref-link' : 'pref-link fallback' }))
      }
    }
    this.marks.replaceChildren(...marks)
    this.links.replaceChildren(...links)

    const nodes: SVGElement[] = []
    for (const x of m.members) {
      const [cx, cy] = this.pos.get(x.id)!
      const g = s('g', { class: `member ${x.state}${m.selected === x.id ? ' selected' : ''}`, 'data-id': x.id, transform: `translate(${cx.toFixed(1)},${cy.toFixed(1)})` })
      const pref = prefOf.get(x.id)
      if (pref) g.append(s('circle', { r: 30, class: pref.entry.primary ? 'pref-ring' : 'pref-ring fallback' }))
      g.append(s('circle', { r: 22, fill: x.state === 'down' ? '#cbd5e1' : x.color, class: 'member-dot' }))
      g.append(s('text', { y: 5, 'text-anchor': 'middle', class: 'member-label' }, x.label ?? shortId(x.id)))
      if (x.state === 'down') g.append(s('path', { d: 'M-9,-9L9,9M9,-9L-9,9', class: 'member-x' }))
      if (pref) {
        const t = pref.entry.primary ? `${pref.rank + 1}` : `↪${shortId(pref.entry.hintFor ?? '')}`
        const badge = s('g', { transform: 'translate(18,-20)', class: pref.entry.primary ? 'badge' : 'badge fallback' })
        badge.append(s('rect', { x: -4, y: -11, width: pref.entry.primary ? 16 : 12 + t.length * 6.5, height: 16, rx: 8 }), s('text', { x: pref.entry.primary ? 4 : 2, y: 1, 'text-anchor': pref.entry.primary ? 'middle' : 'start' }, t))
        g.append(badge)
      }
      g.append(s('title', {}, `${x.title ?? x.id} (${x.id}) · ${x.state}`))
      g.addEventListener('click', () => this.onSelect(x.id))
      nodes.push(g)
    }
    this.nodes.replaceChildren(...nodes)
    this.centerA.textContent = m.center[0]
    this.centerB.textContent = m.center[1]
  }

  /** Sends a dot from one member to another; it takes `durMs` of wall time to cross. */
  pulse(from: string, to: string, color: string, durMs: number, dropped = false, delayMs = 0): void {
    const a = this.pos.get(from)
    const b = this.pos.get(to)
    if (!a || !b || this.live.length > 400) return
    const el = s('circle', { r: 4.5, fill: color, cx: a[0], cy: a[1], class: dropped ? 'msg dropped' : 'msg' })
    this.dots.append(el)
    this.live.push({ el, from: a, to: b, start: performance.now() + delayMs, dur: durMs, dropped })
  }

  private animate(now: number): void {
    if (this.live.length === 0) return
    const keep: Dot[] = []
    for (const d of this.live) {
      const f = (now - d.start) / d.dur
      if (f >= 1) {
        d.el.remove()
        continue
      }
      // A dropped message stops halfway and fades: it never reached the other side.
      const g = Math.max(0, d.dropped ? Math.min(f, 0.5) : f)
      d.el.setAttribute('cx', (d.from[0] + (d.to[0] - d.from[0]) * g).toFixed(1))
      d.el.setAttribute('cy', (d.from[1] + (d.to[1] - d.from[1]) * g).toFixed(1))
      d.el.setAttribute('opacity', f < 0 ? '0' : d.dropped && f > 0.5 ? (2 - 2 * f).toFixed(2) : '1')
      keep.push(d)
    }
    this.live = keep
  }
}
