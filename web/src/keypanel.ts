/**
 * The key panel: put, get and delete with per-call N, R, W and a context (Dynamo 4.4, 4.5), the
 * typed key's preference list (4.3), and what a call returned: siblings, the version vector of the
 * read and, where the mode can look at disks, what each replica holds.
 */
import type { ClusterInfo } from 'dynamesh'
import { placeKey, versionsOf } from './core.js'
import type { CallForm, MemberRow, Source } from './dashboard.js'
import { fmtReplica, h, shortId } from './dom.js'

/** `replica:counter` with the replica id shortened. */
const fmtDot = (dot: string): string => {
  const i = dot.lastIndexOf(':')
  return `${fmtReplica(dot.slice(0, i))}:${dot.slice(i + 1)}`
}

export type Highlight = ReturnType<typeof placeKey>

export class KeyPanel {
  readonly el: HTMLElement
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

  constructor(
    private readonly source: Source,
    private readonly onKey: () => void,
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
    this.keyInput.addEventListener('input', () => this.onKey())

    this.el = h('section', { class: 'panel key-panel' },
      h('h2', {}, 'Put, get, delete'),
      this.form,
      h('p', { class: 'muted small hint-line' }, 'A put is acknowledged after W replicas stored it durably, a get answers after R replies (§4.5); empty fields use the cluster’s N, R, W. A get fills the context, so the next put supersedes what it read.'),
      this.prefBox,
      this.resultBox)
  }

  /** The typed key. */
  key(): string {
    return this.keyInput.value
  }

  /** Where the typed key lives for a cluster view, with the form's N; undefined without a key. */
  highlight(c: ClusterInfo): Highlight | undefined {
    if (!this.keyInput.value) return undefined
    return placeKey(c, this.keyInput.value, this.nInput.value === '' ? c.config.n : Number(this.nInput.value))
  }

  /** Shows the cluster's N, R, W as the empty fields' placeholders. */
  defaults(c: ClusterInfo): void {
    this.nInput.placeholder = String(c.config.n)
    this.rInput.placeholder = String(c.config.r)
    this.wInput.placeholder = String(c.config.w)
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
    this.onKey()
  }

  /** What the Get button does. */
  clickGet(): Promise<void> {
    return this.doGet()
  }

  showResult(el: HTMLElement): void {
    this.resultBox.replaceChildren(el)
  }

  /** The typed key's partition and preference list, as the viewing node sees it. */
  renderPref(hl: { partition: number; prefs: ReturnType<typeof placeKey>['prefs'] } | undefined, members: Map<string, MemberRow>): void {
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
}
