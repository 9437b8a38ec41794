/**
 * The status page of `dynamesh start`: one HTML page with inline JS, served on 127.0.0.1, that polls
 * `/api/status` every second. The page server asks each peer for `/cluster` and `/stats` itself and
 * proxies `/api/kv/{peer}/{key}` to the peer's HTTP API, so the browser talks to one origin and
 * needs no CORS. With `webDir` (the built demo page, `dist/web`) the same server serves that page at
 * `/`, its `/config.json` (what the page's own peer needs to join), and this status view at `/status`.
 */
import { readFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { extname, join, normalize, sep } from 'node:path'
import type { AddressInfo } from 'node:net'
import { toHex } from '../core/hash.js'
import { hexBytes } from '../credential.js'
import type { LocalPeer } from './start.js'
import { isLoopbackHost, type Logger } from './util.js'

export interface StatusPageOptions {
  port: number
  signalUrl: string
  /** Live list: exits recorded on these objects show up on the page. */
  peers: readonly LocalPeer[]
  /** Folder of the built demo page; served at `/` when set. */
  webDir?: string
  /** Served as `/config.json` for the demo page. */
  pageConfig?: unknown
  /**
   * A closed cluster's admission: `POST /credential` with `{"publicKey": hex}` answers the credential
   * for that key. Only pages of this loopback server can ask (the host check below).
   */
  admit?: (publicKey: Uint8Array) => Uint8Array
  log?: Logger
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json',
  '.webmanifest': 'application/manifest+json',
}

/** A file of the built page, or undefined (missing, or a path that leaves the folder). */
async function staticFile(dir: string, path: string): Promise<{ body: Buffer; type: string } | undefined> {
  let rel: string
  try {
    rel = decodeURIComponent(path)
  } catch {
    return undefined
  }
  if (rel.endsWith('/')) rel += 'index.html'
  const file = normalize(join(dir, rel))
  if (file !== dir && !file.startsWith(dir.endsWith(sep) ? dir : dir + sep)) return undefined
  try {
    return { body: await readFile(file), type: TYPES[extname(file)] ?? 'application/octet-stream' }
  } catch {
    return undefined
  }
}

export interface StatusPage {
  url: string
  close(): Promise<void>
}

/** What `/api/status` answers. */
export interface StatusReport {
  signal: string
  time: number
  peers: Array<Omit<LocalPeer, 'exit'> & { running: boolean; exit?: LocalPeer['exit']; cluster?: unknown; stats?: unknown; error?: string }>
}

const PEER_TIMEOUT_MS = 900
const KV_TIMEOUT_MS = 5000
const MAX_BODY = 1024 * 1024 + 1024

async function askPeer(base: string, path: string): Promise<unknown> {
  const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(PEER_TIMEOUT_MS) })
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`)
  return res.json()
}

/** Every peer's own view, fetched now; a peer that fails to answer is reported, not hidden. */
export async function statusReport(signalUrl: string, peers: readonly LocalPeer[]): Promise<StatusReport> {
  return {
    signal: signalUrl,
    time: Date.now(),
    peers: await Promise.all(peers.map(async (p) => {
      const base = { name: p.name, id: p.id, http: p.http, pid: p.pid, running: !p.exit, ...(p.exit ? { exit: p.exit } : {}) }
      if (p.exit) return base
      try {
        const [cluster, stats] = await Promise.all([askPeer(p.http, '/cluster'), askPeer(p.http, '/stats')])
        return { ...base, cluster, stats }
      } catch (e) {
        return { ...base, error: e instanceof Error ? e.message : String(e) }
      }
    })),
  }
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((ok, fail) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > MAX_BODY) return void ok(undefined)
      chunks.push(c)
    })
    req.on('end', () => ok(size > MAX_BODY ? undefined : Buffer.concat(chunks)))
    req.on('error', fail)
  })
}

function send(res: ServerResponse, status: number, type: string, body: string | Uint8Array, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, 'Content-Type': type, 'Cache-Control': 'no-store' })
  res.end(body)
}
const sendJson = (res: ServerResponse, status: number, body: unknown): void =>
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body))
const problem = (res: ServerResponse, status: number, code: string, message: string): void =>
  sendJson(res, status, { error: { code, message } })

/** `/api/kv/{peer index}/{percent-encoded key}` → the same request to that peer's `/kv/{key}`. */
async function proxyKv(req: IncomingMessage, res: ServerResponse, rest: string, peers: readonly LocalPeer[]): Promise<void> {
  const slash = rest.indexOf('/')
  const peer = peers[Number(rest.slice(0, slash))]
  if (slash < 1 || !peer) return problem(res, 404, 'NOT_FOUND', 'no such peer')
  const method = req.method ?? 'GET'
  if (!['GET', 'PUT', 'DELETE'].includes(method)) return problem(res, 405, 'METHOD_NOT_ALLOWED', 'use GET, PUT or DELETE')
  const body = method === 'PUT' ? await readBody(req) : undefined
  if (method === 'PUT' && !body) return problem(res, 413, 'VALUE_TOO_LARGE', `the page forwards at most ${MAX_BODY} bytes`)
  const headers: Record<string, string> = {}
  for (const h of ['accept', 'x-dynamesh-context']) {
    const v = req.headers[h]
    if (typeof v === 'string') headers[h] = v
  }
  const upstream = await fetch(`${peer.http}/kv/${rest.slice(slash + 1)}`, {
    method, headers, ...(body ? { body: new Uint8Array(body) } : {}), signal: AbortSignal.timeout(KV_TIMEOUT_MS),
  })
  const out: Record<string, string> = {}
  const ctx = upstream.headers.get('x-dynamesh-context')
  if (ctx) out['X-Dynamesh-Context'] = ctx
  send(res, upstream.status, upstream.headers.get('content-type') ?? 'application/octet-stream', new Uint8Array(await upstream.arrayBuffer()), out)
}

const isLoopbackOrigin = (origin: string): boolean => {
  try {
    const u = new URL(origin)
    return u.protocol === 'http:' && isLoopbackHost(u.hostname)
  } catch {
    return false
  }
}

/** `POST /credential`: the credential of the public key in the JSON body. */
async function credential(req: IncomingMessage, res: ServerResponse, admit: (key: Uint8Array) => Uint8Array): Promise<void> {
  const body = await readBody(req)
  let key: Uint8Array
  try {
    key = hexBytes(String((JSON.parse(String(body ?? '')) as { publicKey?: unknown }).publicKey), 32, 'publicKey')
  } catch (e) {
    return problem(res, 400, 'INVALID_KEY', e instanceof Error ? e.message : 'body must be {"publicKey": hex}')
  }
  return sendJson(res, 200, { credential: toHex(admit(key)) })
}

/** Serves the page on 127.0.0.1:`port` (0 picks one). */
export function startStatusPage(opts: StatusPageOptions): Promise<StatusPage> {
  const log = opts.log ?? (() => {})
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] as string
    // Only loopback names: a web page elsewhere cannot reach this through DNS rebinding.
    const host = (req.headers.host ?? '').replace(/:\d+$/, '')
    const handle = async (): Promise<void> => {
      if (!isLoopbackHost(host)) return problem(res, 403, 'FORBIDDEN', 'open the page through 127.0.0.1 or localhost')
      // Pages served elsewhere on this machine (a dev server) may join the local cluster too.
      const origin = req.headers.origin
      if (origin && (path === '/credential' || path === '/config.json') && isLoopbackOrigin(origin)) res.setHeader('Access-Control-Allow-Origin', origin)
      if (path.startsWith('/api/kv/')) return proxyKv(req, res, path.slice(8), opts.peers)
      if (path === '/credential' && req.method === 'POST' && opts.admit) return credential(req, res, opts.admit)
      if (req.method !== 'GET') return problem(res, 405, 'METHOD_NOT_ALLOWED', 'use GET')
      if (path === '/status' || (path === '/' && !opts.webDir)) return send(res, 200, 'text/html; charset=utf-8', PAGE_HTML)
      if (path === '/api/status') return sendJson(res, 200, await statusReport(opts.signalUrl, opts.peers))
      if (path === '/config.json' && opts.pageConfig) return sendJson(res, 200, opts.pageConfig)
      const file = opts.webDir ? await staticFile(opts.webDir, path) : undefined
      if (file) return send(res, 200, file.type, file.body)
      return problem(res, 404, 'NOT_FOUND', 'no such page')
    }
    handle().catch((e: unknown) => {
      log(`status page: ${req.method} ${path.slice(0, 200)} failed: ${e instanceof Error ? e.message : String(e)}`)
      if (res.headersSent) res.destroy()
      else problem(res, 502, 'UNAVAILABLE', `peer did not answer: ${e instanceof Error ? e.message : String(e)}`)
    })
  })
  server.on('clientError', (_e, socket) => socket.destroy())
  return new Promise((ok, fail) => {
    server.once('error', fail)
    server.listen(opts.port, '127.0.0.1', () => {
      server.off('error', fail)
      const port = (server.address() as AddressInfo).port
      ok({
        url: `http://127.0.0.1:${port}`,
        close: () => new Promise<void>((done) => {
          server.close(() => done())
          server.closeAllConnections()
        }),
      })
    })
  })
}

/** The page. Plain DOM, no dependencies; its script is checked for syntax by test/cluster/start.test.ts. */
export const PAGE_HTML = String.raw`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dynamesh · local cluster</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; background: #fafafa; }
h1 { font-size: 1.3em; margin: 0 0 .2em; } h2 { font-size: 1.05em; margin: 0 0 .4em; }
.muted { color: #777; } .bad { color: #b00020; } .ok { color: #1b7f3b; }
.peer { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: .8em 1em; margin: 1em 0; }
table { border-collapse: collapse; margin: .4em 0; } td, th { padding: .15em .8em .15em 0; text-align: left; }
code, .mono { font-family: ui-monospace, monospace; }
.sw { display: inline-block; width: .8em; height: .8em; border-radius: 2px; margin-right: .4em; vertical-align: -1px; }
canvas { display: block; border: 1px solid #ddd; margin-top: .3em; image-rendering: pixelated; }
form { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: .8em 1em; }
input, select, button { font: inherit; margin-right: .4em; } pre { white-space: pre-wrap; word-break: break-all; }
</style></head><body>
<h1>dynamesh · local cluster</h1>
<div id="summary" class="muted">loading…</div>
<form id="kv" onsubmit="return false">
  <strong>key/value</strong> through
  <select id="kv-peer"></select>
  key <input id="kv-key" value="greeting" size="16">
  value <input id="kv-value" value="hello" size="24">
  <button data-m="PUT">put</button><button data-m="GET">get</button><button data-m="DELETE">delete</button>
  <pre id="kv-out" class="muted">A get remembers the key's context; the next put or delete through this form sends it.</pre>
</form>
<div id="peers"></div>
<script>
'use strict';
var colors = {};
var contexts = {};
var peerCount = -1;
function $(id) { return document.getElementById(id); }
function el(tag, props, kids) {
  var e = document.createElement(tag);
  Object.keys(props || {}).forEach(function (k) { e[k] = props[k]; });
  (kids || []).forEach(function (k) { e.append(k); });
  return e;
}
function color(id) {
  if (!(id in colors)) colors[id] = 'hsl(' + Math.round(Object.keys(colors).length * 137.508 % 360) + ',65%,48%)';
  return colors[id];
}
function who(id, self) {
  return el('span', { className: 'mono' }, [el('span', { className: 'sw', style: 'background:' + color(id) }), id.slice(0, 8) + (id === self ? ' (self)' : '')]);
}
function drawRing(canvas, parts, self) {
  var ctx = canvas.getContext('2d'), w = canvas.width / parts.length;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  parts.forEach(function (owners, p) {
    ctx.fillStyle = owners.length ? color(owners[0]) : '#eee';
    ctx.fillRect(p * w, 0, Math.max(1, w - (w > 2 ? 0.5 : 0)), 12);
    ctx.fillStyle = owners.indexOf(self) >= 0 ? '#333' : '#e4e4e4';
    ctx.fillRect(p * w, 14, Math.max(1, w - (w > 2 ? 0.5 : 0)), 4);
  });
}
function peerCard(p) {
  var head = el('h2', {}, [p.name + ' ', who(p.id), ' ', el('a', { href: p.http + '/health', textContent: p.http }), el('span', { className: 'muted', textContent: '  pid ' + p.pid })]);
  var kids = [head];
  if (!p.running) kids.push(el('div', { className: 'bad', textContent: 'process exited (' + (p.exit.signal || 'code ' + p.exit.code) + ')' }));
  else if (p.error) kids.push(el('div', { className: 'bad', textContent: 'not answering: ' + p.error }));
  if (p.cluster && p.stats) {
    var c = p.cluster, s = p.stats.stats, ins = p.stats.inspect;
    var sent = Object.keys(s.sent).reduce(function (n, k) { return n + s.sent[k].count; }, 0);
    kids.push(el('div', { textContent: 'N=' + c.config.n + ' R=' + c.config.r + ' W=' + c.config.w + ' Q=' + c.config.q +
      ' · records ' + s.records + ' · hints ' + s.hints + (ins.hintOwners.length ? ' (for ' + ins.hintOwners.map(function (h) { return h.slice(0, 8); }).join(', ') + ')' : '') +
      ' · partitions held ' + Object.keys(ins.roots).length + ' · messages sent ' + sent + ' · rejected ' + s.rejected + (ins.idle ? ' · idle' : ' · busy') }));
    var rows = c.members.map(function (m) {
      return el('tr', {}, [el('td', {}, [who(m.id, p.id)]), el('td', { textContent: m.status }),
        el('td', { className: m.reachable ? 'ok' : 'bad', textContent: m.reachable ? 'reachable' : 'unreachable' }), el('td', { textContent: 'weight ' + m.weight })]);
    });
    kids.push(el('table', {}, [el('tr', {}, ['member', 'status', 'seen by ' + p.name, ''].map(function (t) { return el('th', { textContent: t }); }))].concat(rows)));
    var canvas = el('canvas', { width: 512, height: 18, title: 'top: first owner of each partition; bottom: partitions ' + p.name + ' replicates' });
    drawRing(canvas, c.partitions, p.id);
    kids.push(el('div', { className: 'muted', textContent: 'ring as ' + p.name + ' sees it: ' + c.partitions.length + ' partitions coloured by first owner; dark marks below = its replicas' }), canvas);
  }
  return el('div', { className: 'peer' }, kids);
}
function render(st) {
  st.peers.map(function (p) { return p.id; }).sort().forEach(color);
  var up = st.peers.filter(function (p) { return p.running && !p.error; }).length;
  $('summary').textContent = up + ' of ' + st.peers.length + ' peers answering · signaling ' + st.signal + ' · updated ' + new Date(st.time).toLocaleTimeString();
  $('peers').replaceChildren.apply($('peers'), st.peers.map(peerCard));
  if (peerCount !== st.peers.length) {
    peerCount = st.peers.length;
    $('kv-peer').replaceChildren.apply($('kv-peer'), st.peers.map(function (p, i) { return el('option', { value: String(i), textContent: p.name }); }));
  }
}
function poll() {
  fetch('/api/status').then(function (r) { return r.json(); }).then(render, function (e) {
    $('summary').textContent = 'page server unreachable (' + e.message + '); is dynamesh start still running?';
  }).finally(function () { setTimeout(poll, 1000); });
}
function decode(b64) {
  var bin = atob(b64), bytes = new Uint8Array(bin.length);
  for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new TextDecoder().decode(bytes);
}
function kv(method) {
  var key = $('kv-key').value, peer = $('kv-peer').value || '0', headers = { Accept: 'application/json' };
  if (method !== 'GET' && contexts[key]) headers['X-Dynamesh-Context'] = contexts[key];
  var init = { method: method, headers: headers };
  if (method === 'PUT') init.body = $('kv-value').value;
  $('kv-out').textContent = method + ' ' + key + ' …';
  fetch('/api/kv/' + peer + '/' + encodeURIComponent(key), init).then(function (res) {
    var ctx = res.headers.get('X-Dynamesh-Context');
    if (method === 'GET') contexts[key] = ctx || undefined; else if (ctx) contexts[key] = ctx;
    return res.text().then(function (text) {
      var line = method + ' ' + key + ' via ' + $('kv-peer').selectedOptions[0].textContent + ' → ' + res.status;
      var body = text;
      try {
        var j = JSON.parse(text);
        body = j.values ? j.values.map(decode).map(function (v, i) { return (j.values.length > 1 ? 'sibling ' + (i + 1) + ': ' : 'value: ') + v; }).join('\n')
          : j.error ? j.error.code + ': ' + j.error.message : text;
      } catch (e) { /* not JSON: show as is */ }
      $('kv-out').textContent = line + (body ? '\n' + body : '') + (ctx ? '\ncontext ' + ctx.slice(0, 40) + (ctx.length > 40 ? '…' : '') : '');
    });
  }).catch(function (e) { $('kv-out').textContent = method + ' failed: ' + e.message; });
}
document.querySelectorAll('#kv button').forEach(function (b) { b.onclick = function () { kv(b.dataset.m); }; });
poll();
</script>
</body></html>
`
