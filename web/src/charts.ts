/**
 * Small time-series charts (uPlot): the page's own calls (ops/s and latency), bytes on the wire per
 * message family, and hints held per node. One sample a second, the last two minutes kept. The x
 * axis is seconds: virtual seconds of the run in the simulated mode, wall seconds in the live one.
 */
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'
import { h } from './dom.js'

export interface SeriesDef {
  label: string
  color: string
  /** Second y axis (right). */
  right?: boolean
  dash?: boolean
}

const KEEP = 120

export class TimeChart {
  readonly el: HTMLElement
  private plot: uPlot | undefined
  private readonly box: HTMLElement
  private xs: number[] = []
  private ys: number[][] = []
  private defs: SeriesDef[]
  private dirty = false

  constructor(
    readonly title: string,
    defs: SeriesDef[],
    private readonly units: [string, string?],
    /** Whole numbers on the left axis (counts). */
    private readonly counts = false,
  ) {
    this.defs = defs
    this.ys = defs.map(() => [])
    this.box = h('div', { class: 'chart-box' })
    this.el = h('figure', { class: 'chart' }, h('figcaption', {}, title), this.box)
    new ResizeObserver(() => this.resize()).observe(this.box)
  }

  /** Replaces the series (the set of nodes changed); keeps nothing of the old data. */
  setSeries(defs: SeriesDef[]): void {
    if (defs.map((d) => d.label + d.color).join() === this.defs.map((d) => d.label + d.color).join()) return
    this.defs = defs
    this.xs = []
    this.ys = defs.map(() => [])
    this.plot?.destroy()
    this.plot = undefined
    this.resize()
  }

  push(x: number, values: number[]): void {
    this.xs.push(x)
    this.defs.forEach((_, i) => this.ys[i]!.push(values[i] ?? 0))
    if (this.xs.length > KEEP) {
      this.xs.shift()
      for (const y of this.ys) y.shift()
    }
    this.dirty = true
  }

  clear(): void {
    this.xs = []
    this.ys = this.defs.map(() => [])
    this.dirty = true
  }

  /** Redraws if new samples arrived. */
  flush(): void {
    if (!this.dirty || !this.plot) return
    this.dirty = false
    this.plot.setData([this.xs, ...this.ys] as uPlot.AlignedData)
  }

  private resize(): void {
    const width = Math.floor(this.box.clientWidth)
    if (width < 50) return
    const height = 150
    if (this.plot) return this.plot.setSize({ width, height })
    const hasRight = this.defs.some((d) => d.right)
    this.plot = new uPlot(
      {
        width,
        height,
        legend: { show: true, live: false },
        cursor: { show: false },
        scales: { x: { time: false }, ...(this.counts ? { y: { range: (_u: uPlot, _min: number, max: number): uPlot.Range.MinMax => [0, Math.max(2, max)] } } : {}) },
        axes: [
          { stroke: '#64748b', grid: { stroke: '#eef2f7' }, size: 28, values: (_u, vals) => vals.map((v) => `${v}s`) },
          { stroke: '#64748b', grid: { stroke: '#eef2f7' }, size: 50, ...(this.counts ? { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] } : {}) },
          ...(hasRight ? [{ side: 1, scale: 'r', stroke: '#64748b', grid: { show: false }, size: 44 } as uPlot.Axis] : []),
        ],
        series: [
          {},
          ...this.defs.map((d) => ({
            label: d.label,
            stroke: d.color,
            width: 1.6,
            ...(d.dash ? { dash: [4, 3] } : {}),
            ...(d.right ? { scale: 'r' } : {}),
            points: { show: false },
          })),
        ],
      },
      [this.xs, ...this.ys] as uPlot.AlignedData,
      this.box,
    )
  }
}
