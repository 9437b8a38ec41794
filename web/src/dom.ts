/** A few lines of DOM building, so the views read as the markup they make. */
type Attrs = Record<string, string | number | boolean | undefined | ((ev: Event) => void)>
type Child = Node | string | number | null | undefined | false

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...kids: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v)
    else if (k === 'class') el.className = String(v)
    else if (k in el && typeof (el as unknown as Record<string, unknown>)[k] !== 'function' && k !== 'list' && !k.startsWith('data-') && !k.startsWith('aria-')) {
      ;(el as unknown as Record<string, unknown>)[k] = v
    } else el.setAttribute(k, v === true ? '' : String(v))
  }
  for (const c of kids) if (c !== null && c !== undefined && c !== false) el.append(typeof c === 'number' ? String(c) : c)
  return el
}

const SVG = 'http://www.w3.org/2000/svg'

export function s(tag: string, attrs: Record<string, string | number | undefined> = {}, ...kids: Array<Node | string>): SVGElement {
  const el = document.createElementNS(SVG, tag)
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) el.setAttribute(k, String(v))
  for (const c of kids) el.append(c)
  return el
}

export const $ = <T extends Element = HTMLElement>(sel: string, root: ParentNode = document): T => {
  const el = root.querySelector<T>(sel)
  if (!el) throw new Error(`missing element ${sel}`)
  return el
}

/** A member's colour: fixed for the simulation's n1..n16, hashed from the id otherwise. */
const PALETTE = ['#2563eb', '#db2777', '#059669', '#d97706', '#7c3aed', '#0891b2', '#dc2626', '#65a30d', '#4f46e5', '#c026d3', '#0d9488', '#ea580c', '#9333ea', '#0284c7', '#be123c', '#16a34a']
export function colorOf(id: string, index?: number): string {
  if (index !== undefined) return PALETTE[index % PALETTE.length]!
  let x = 0
  for (let i = 0; i < id.length; i++) x = (Math.imul(x, 31) + id.charCodeAt(i)) >>> 0
  return PALETTE[x % PALETTE.length]!
}

/** Short label of a member id: simulation names as they are, hex ids by their first 6 digits. */
export const shortId = (id: string): string => (id.length > 8 ? id.slice(0, 6) : id)

/** A replica id of a version (`node~incarnation.epoch`) as `node~inca`, short enough to read. */
export function fmtReplica(id: string): string {
  const [name = id, inc] = id.split('~')
  return inc ? `${shortId(name)}~${inc.slice(0, 4)}` : shortId(name)
}

export const fmtBytes = (b: number): string => (b < 1024 ? `${b} B` : b < 1024 * 1024 ? `${(b / 1024).toFixed(1)} KiB` : `${(b / 1048576).toFixed(1)} MiB`)
export const fmtTime = (ms: number): string => `${(ms / 1000).toFixed(2)} s`
