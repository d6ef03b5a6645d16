'use strict';
// The dashboard's script (page.html loads it at the end of <body>, so the markup is
// there when it runs; served at /dashboard/dashboard.js by the admin listener from
// gateway/vaxel/src/dashboard/mod.rs, SCRIPT). Plain JavaScript, no build step, nothing
// from elsewhere. It polls GET /dashboard/data every second and draws everything
// itself; the element ids and the charts' data-points / data-last attributes it sets
// are read by the end-to-end test (tests/e2e/dashboard.rs).

const POLL_MS = 1000;
// After this long without a successful poll the page says "disconnected"; before
// that, a failed poll only makes it "stale" (one lost poll is not an outage).
const DISCONNECTED_AFTER_MS = 5000;
const FETCH_TIMEOUT_MS = 4000;

// Short texts for the fault codes the gateway answers with (model/src/fault.rs).
const FAULT_TEXT = {
  VP002: 'caller not identified from its certificate',
  VP003: 'no logical address in the message',
  VP004: 'no route',
  VP005: 'RIV-TA profile mismatch',
  VP006: 'more than one route matches',
  VP007: 'caller not authorised',
  VP008: 'no routing table loaded',
  VP009: 'producer failed or timed out',
  VP010: 'empty logical address',
  VP011: 'sender not whitelisted',
  VP012: 'header transformation failed',
  VP013: 'original consumer not allowed',
  VP014: 'routing loop',
  VP015: 'not a routable SOAP 1.1 message',
  EI000: 'engagement index: limits or storage',
  EI001: 'engagement index: not schema-valid',
  EI002: 'engagement index: duplicate key',
  EI003: 'engagement index: wrong logical address',
  EI004: 'engagement index: invalid field',
  VX001: 'user context refused',
  PRODUCER: 'producer answered with a SOAP fault (passed on)',
};
// SDK API errors: SDK<HTTP status>.
function faultText(code) {
  if (FAULT_TEXT[code]) return FAULT_TEXT[code];
  if (code.startsWith('SDK')) return 'SDK API answered HTTP ' + code.slice(3);
  return '';
}

const COLORS = { rps: '#5b9cf6', faults: '#f0585e', p50: '#3ecf8e', p99: '#f5b041' };
// SVG presentation attributes cannot use CSS variables: the theme's colours again.
const C = { grid: '#232a37', border: '#262e3d', panel: '#161b24', muted: '#8b94a7' };

const state = {
  data: null,
  lastOkAt: 0,
  failures: 0,
  auth: null,           // HTTP status of the last refused poll (401/403), or null
  windowSec: 300,
  hover: {},            // chart id -> mouse x inside the plot, while hovering
};

try {
  const w = Number(localStorage.getItem('vaxel.dashboard.window'));
  if ([60, 300, 900].includes(w)) state.windowSec = w;
} catch (_) { /* storage may be disabled: keep the default */ }

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------------
// Formatting

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => (
  { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

// Digit groups with a narrow no-break space: readable in any locale, never a decimal mark.
function fmtInt(n) {
  if (n === null || n === undefined || !isFinite(n)) return '–';
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, '\u202f');
}

function fmtRate(x) {
  if (x === null || x === undefined || !isFinite(x)) return '–';
  if (x === 0) return '0';
  if (x < 10) return x.toFixed(x < 1 ? 2 : 1);
  return fmtInt(x);
}

function fmtMs(x) {
  if (x === null || x === undefined || !isFinite(x)) return '–';
  if (x < 1) return x.toFixed(2);
  if (x < 100) return x.toFixed(1);
  return fmtInt(x);
}

function fmtAxis(x) {
  if (x >= 1e6) return (x / 1e6).toFixed(x % 1e6 ? 1 : 0) + 'M';
  if (x >= 1e4) return (x / 1e3).toFixed(0) + 'k';
  if (x >= 1e3) return (x / 1e3).toFixed(x % 1e3 ? 1 : 0) + 'k';
  return String(+x.toFixed(2));
}

function fmtDuration(sec) {
  if (sec === null || sec === undefined || !isFinite(sec)) return '–';
  sec = Math.max(0, Math.floor(sec));
  if (sec < 60) return sec + ' s';
  const m = Math.floor(sec / 60), s = sec % 60;
  // Whole units print alone: "1 min", not "1 min 0 s" (as vaxel top does).
  if (m < 60) return m + ' min' + (s ? ' ' + s + ' s' : '');
  const h = Math.floor(m / 60);
  if (h < 48) return h + ' h' + (m % 60 ? ' ' + (m % 60) + ' min' : '');
  return Math.floor(h / 24) + ' d' + (h % 24 ? ' ' + (h % 24) + ' h' : '');
}

const pad2 = (n) => String(n).padStart(2, '0');
function fmtClock(ms) {
  const d = new Date(ms);
  return pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + ':' + pad2(d.getSeconds());
}

// Contract namespaces are long (urn:riv:clinicalprocess:healthcond:description:
// GetCareDocumentationResponder:2): the last two parts name the contract and version.
function shortContract(name) {
  const parts = String(name).split(':');
  return parts.length > 2 ? parts.slice(-2).join(':') : String(name);
}

// ---------------------------------------------------------------------------------
// Polling

function token() {
  const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  if (!m) return null;
  try { return decodeURIComponent(m[1]); } catch (_) { return m[1]; }
}

let pollTimer = null;
async function poll() {
  clearTimeout(pollTimer);
  const started = performance.now();
  const ctrl = new AbortController();
  const abort = setTimeout(() => ctrl.abort(), FETCH_TIMEOUT_MS);
  try {
    const headers = { Accept: 'application/json' };
    const t = token();
    if (t) headers.Authorization = 'Bearer ' + t;
    const r = await fetch('/dashboard/data', { headers, cache: 'no-store', signal: ctrl.signal });
    if (r.status === 401 || r.status === 403) {
      state.auth = r.status;
      state.failures++;
    } else if (!r.ok) {
      throw new Error('HTTP ' + r.status);
    } else {
      const d = await r.json();
      state.auth = null;
      state.failures = 0;
      state.lastOkAt = Date.now();
      state.data = d;
      // A render error is kept on <body> for the end-to-end test to see (and report).
      try {
        render(d);
        delete document.body.dataset.renderError;
      } catch (e) {
        document.body.dataset.renderError = String(e && e.stack || e);
        console.error('render failed', e);
      }
    }
  } catch (e) {
    state.failures++;
  } finally {
    clearTimeout(abort);
    showConnection();
    // One poll per second, however long the last one took (no overlapping polls).
    const wait = Math.max(0, POLL_MS - (performance.now() - started));
    pollTimer = setTimeout(poll, wait);
  }
}

function showConnection() {
  const live = $('live');
  let st, text;
  if (state.auth) {
    st = 'unauthorized'; text = 'token needed';
  } else if (state.failures === 0 && state.lastOkAt) {
    st = 'live'; text = 'live';
  } else if (state.lastOkAt && Date.now() - state.lastOkAt < DISCONNECTED_AFTER_MS) {
    st = 'stale'; text = 'stale';
  } else if (!state.lastOkAt && state.failures === 0) {
    st = 'connecting'; text = 'connecting';
  } else {
    st = 'disconnected'; text = 'disconnected';
  }
  live.dataset.state = st;
  $('live-text').textContent = text;
  document.body.classList.toggle('dim', st !== 'live' && st !== 'connecting');
  $('updated').textContent = state.lastOkAt
    ? 'last update ' + fmtClock(state.lastOkAt) + (st === 'live' ? '' : ' (' + fmtDuration((Date.now() - state.lastOkAt) / 1000) + ' ago)')
    : 'no data yet';

  const banner = $('banner');
  if (state.auth) {
    const given = token() !== null;
    $('banner-title').textContent = state.auth === 401
      ? (given ? 'The operator token was not accepted (HTTP 401)' : 'An operator token is needed (HTTP 401)')
      : 'This token may not read the dashboard (HTTP 403): an operator token is needed';
    $('banner-text').innerHTML = state.auth === 401 && !given
      ? 'This admin listener requires an operator JWT. Open the page as <code>/dashboard#token=&lt;JWT&gt;</code> or paste the token below; it stays in this browser tab and is sent as <code>Authorization: Bearer</code>.'
      : 'The token may have expired, be signed by another key, or lack the operator role. Paste another operator token below or change <code>#token=</code> in the address.';
    $('token-form').hidden = false;
    banner.hidden = false;
  } else if (st === 'disconnected') {
    $('banner-title').textContent = 'Disconnected from the gateway';
    $('banner-text').textContent = state.lastOkAt
      ? 'No answer from /dashboard/data since ' + fmtClock(state.lastOkAt) + '. The figures below are from then; the page keeps trying every second.'
      : 'No answer from /dashboard/data yet; the page keeps trying every second.';
    $('token-form').hidden = true;
    banner.hidden = false;
  } else {
    banner.hidden = true;
  }
}

// ---------------------------------------------------------------------------------
// Rendering

function render(d) {
  const totals = d.totals || {};
  const series = Array.isArray(d.series) ? d.series : [];
  const step = d.step_seconds > 0 ? d.step_seconds : 1;
  const last = series.length ? series[series.length - 1] : null;

  $('instance').textContent = d.instance_id ?? '–';
  $('version').textContent = 'v' + (d.version ?? '–');
  $('uptime').textContent = fmtDuration(d.uptime_seconds);
  const rt = d.routing_table || {};
  const routing = $('routing');
  if (rt.loaded) {
    routing.textContent = 'loaded ' + fmtDuration(rt.age_seconds) + ' ago · ' + fmtInt(rt.contracts) + ' contracts, '
      + fmtInt(rt.routes) + ' routes, ' + fmtInt(rt.authorizations) + ' authorizations';
    routing.className = 'value';
    routing.title = '';
  } else {
    routing.textContent = 'not loaded';
    routing.className = 'value bad';
    routing.title = 'every request is answered with VP008 until a table loads';
  }

  // The test parses this element: the bare integer, no digit grouping.
  $('total-requests').textContent = String(totals.requests ?? 0);
  $('total-requests-sub').textContent = 'since start · ' + fmtDuration(d.uptime_seconds);

  const rpsNow = last ? last.requests / step : 0;
  const faultsNow = last ? last.faults / step : 0;
  $('rps-now').textContent = fmtRate(rpsNow);
  const recent = series.slice(-60);
  const avg60 = recent.length ? recent.reduce((a, p) => a + p.requests, 0) / (recent.length * step) : 0;
  $('rps-sub').textContent = 'last second · avg ' + fmtRate(avg60) + ' over ' + (recent.length * step) + ' s';

  const faults = $('faults');
  faults.textContent = fmtInt(totals.faults);
  faults.classList.toggle('bad', totals.faults > 0);
  const share = totals.requests ? (100 * totals.faults / totals.requests) : 0;
  $('faults-sub').textContent = fmtRate(faultsNow) + '/s now · ' + (share ? share.toFixed(share < 1 ? 2 : 1) : '0') + ' % of requests';

  $('in-flight').textContent = fmtInt(totals.requests_in_flight);
  $('in-flight-sub').textContent = 'refused (busy or limits): ' + fmtInt(totals.refused);
  $('connections').textContent = fmtInt(totals.connections_open);
  const tlsFail = totals.tls_handshake_failures || 0;
  const csub = $('connections-sub');
  csub.textContent = 'TLS handshake failures: ' + fmtInt(tlsFail);
  csub.classList.toggle('warn', tlsFail > 0);

  renderCharts(d);
  renderTop('top-contracts', d.top?.contracts, true);
  renderTop('top-consumers', d.top?.consumers, false);
  renderTop('top-producers', d.top?.producers, false);
  renderFaults(d.faults_by_code);
  renderSdk(d.sdk);
  renderConsent(d.consent);
  renderEi(d.engagement_index);
  renderAccessLog(d.access_log);
  $('col-more').hidden = !d.consent && !d.engagement_index && !d.access_log;
}

function renderTop(id, rows, contracts) {
  const body = $(id);
  rows = Array.isArray(rows) ? rows : [];
  if (!rows.length) {
    body.innerHTML = '<tr><td class="none" colspan="4">no traffic yet</td></tr>';
    return;
  }
  const max = Math.max(...rows.map((r) => r.per_second || 0), 0);
  const maxReq = Math.max(...rows.map((r) => r.requests || 0), 1);
  body.innerHTML = rows.map((r) => {
    const name = String(r.name ?? '');
    const shown = contracts ? shortContract(name) : name;
    // The bar shows the row's share of the busiest row's rate (or of its requests when
    // nothing moved in the last minute).
    const w = max > 0 ? 100 * (r.per_second || 0) / max : 100 * (r.requests || 0) / maxReq;
    return '<tr><td class="name' + (r.faults > 0 ? ' faulty' : '') + '" style="--w:' + w.toFixed(1) + '%" title="' + esc(name) + '">' + esc(shown) + '</td>'
      + '<td>' + fmtRate(r.per_second) + '</td>'
      + '<td>' + fmtInt(r.requests) + '</td>'
      + '<td>' + (r.faults > 0 ? '<span class="f">' + fmtInt(r.faults) + '</span>' : '<span class="z">0</span>') + '</td></tr>';
  }).join('');
}

function renderFaults(rows) {
  const body = $('faults-by-code');
  rows = Array.isArray(rows) ? rows.filter((r) => r.count > 0) : [];
  if (!rows.length) {
    body.innerHTML = '<tr><td class="none" colspan="3">no faults since start</td></tr>';
    return;
  }
  body.innerHTML = rows.map((r) => {
    const code = String(r.code);
    return '<tr data-code="' + esc(code) + '"><td class="code">' + esc(code) + '</td>'
      + '<td class="desc" title="' + esc(faultText(code)) + '">' + esc(faultText(code)) + '</td>'
      + '<td><span class="f">' + fmtInt(r.count) + '</span></td></tr>';
  }).join('');
}

// A definition list from [label, value] pairs; a string alone is a group heading.
function kv(id, items) {
  $(id).innerHTML = items.map((it) => {
    if (typeof it === 'string') return '<div class="head">' + esc(it) + '</div>';
    const [label, value, cls] = it;
    return '<dt>' + esc(label) + '</dt><dd' + (cls ? ' class="' + cls + '"' : '') + '>' + esc(value) + '</dd>';
  }).join('');
}

// Groups of small figures: [[heading, [[label, value, class], ...]], ...].
function stats(id, groups) {
  $(id).innerHTML = groups.map(([head, items]) =>
    (head ? '<div class="sg-head">' + esc(head) + '</div>' : '')
    + '<div class="sg">' + items.map(([label, value, cls]) =>
      '<div title="' + esc(label) + '"><span>' + esc(label) + '</span><b' + (cls ? ' class="' + cls + '"' : '') + '>' + esc(value) + '</b></div>').join('') + '</div>',
  ).join('');
}

const flag = (n, cls) => (n > 0 ? cls : '');

function renderSdk(s) {
  $('panel-sdk').hidden = !s;
  if (!s) return;
  const o = s.outgoing || {}, a = s.delivery_attempts || {}, r = s.receipts || {};
  stats('sdk-stats', [
    ['Outgoing messages', [
      ['queued', fmtInt(o.queued)],
      ['sending', fmtInt(o.sending)],
      ['delivered', fmtInt(o.delivered), flag(o.delivered, 'ok')],
      ['rejected', fmtInt(o.rejected), flag(o.rejected, 'bad')],
      ['failed', fmtInt(o.failed), flag(o.failed, 'bad')],
    ]],
    ['Delivery attempts', [
      ['delivered', fmtInt(a.delivered)],
      ['rejected', fmtInt(a.rejected), flag(a.rejected, 'warn')],
      ['failed', fmtInt(a.failed), flag(a.failed, 'warn')],
    ]],
    ['Inbox and receipts (accepted / rejected)', [
      ['inbox pending', fmtInt(s.inbox_pending), flag(s.inbox_pending, 'warn')],
      ['receipts sent', fmtInt(r.sent_accepted) + ' / ' + fmtInt(r.sent_rejected), flag(r.sent_rejected, 'warn')],
      ['receipts received', fmtInt(r.received_accepted) + ' / ' + fmtInt(r.received_rejected), flag(r.received_rejected, 'warn')],
    ]],
  ]);
}

function renderConsent(c) {
  $('panel-consent').hidden = !c;
  if (!c) return;
  const dd = c.decisions || {};
  const total = (dd.allowed || 0) + (dd.emergency || 0) + (dd.denied || 0);
  const part = (n, color, label) => total
    ? '<span style="width:' + (100 * (n || 0) / total).toFixed(2) + '%;background:' + color + '" title="' + label + ': ' + fmtInt(n) + '"></span>'
    : '';
  $('consent-stack').innerHTML = part(dd.allowed, 'var(--green)', 'allowed')
    + part(dd.emergency, 'var(--amber)', 'emergency')
    + part(dd.denied, 'var(--red)', 'denied');
  kv('consent-kv', [
    ['allowed', fmtInt(dd.allowed), 'ok'],
    ['emergency access', fmtInt(dd.emergency), dd.emergency > 0 ? 'warn' : ''],
    ['denied', fmtInt(dd.denied), dd.denied > 0 ? 'bad' : ''],
    ['withheld records', fmtInt(c.withheld_records)],
    ['denials / s (60 s)', fmtRate(c.denials_per_second)],
  ]);
}

function renderEi(e) {
  $('panel-ei').hidden = !e;
  if (!e) return;
  stats('ei-stats', [['', [
    ['notifications pending', fmtInt(e.notifications_pending), flag(e.notifications_pending, 'warn')],
    ['updates', fmtInt(e.updates)],
  ]]]);
}

function renderAccessLog(a) {
  $('panel-access-log').hidden = !a;
  if (!a) return;
  stats('access-log-stats', [['', [
    ['queue depth', fmtInt(a.queue_depth), flag(a.queue_depth, 'warn')],
    ['entries', fmtInt(a.entries)],
    ['commit p99', a.commit_p99_ms === null || a.commit_p99_ms === undefined ? '–' : fmtMs(a.commit_p99_ms) + ' ms'],
  ]]]);
}

// ---------------------------------------------------------------------------------
// Charts: inline SVG, drawn from scratch on every poll (at most 900 points a series).

// Round numbers for axis ticks: 1, 2, 2.5, 5 times a power of ten.
function niceStep(raw) {
  if (!(raw > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * p;
}

function renderCharts(d) {
  const series = Array.isArray(d.series) ? d.series : [];
  const step = d.step_seconds > 0 ? d.step_seconds : 1;
  const stepMs = step * 1000;
  const lastT = series.length ? series[series.length - 1].t_ms : (d.now_ms || Date.now());
  const firstT = series.length ? series[0].t_ms : lastT;
  const windowMs = state.windowSec * 1000;
  // The x axis spans the chosen window; while the gateway has less history than a
  // minute, it spans one minute from the first point, so the line grows left to right.
  let t0, t1;
  if (lastT - firstT < 60000) {
    t0 = firstT; t1 = firstT + 60000;
  } else {
    t1 = lastT; t0 = Math.max(firstT, lastT - windowMs + stepMs);
  }
  const pts = series.filter((p) => p.t_ms >= t0 && p.t_ms <= t1);
  const times = pts.map((p) => p.t_ms);

  const rps = pts.map((p) => p.requests / step);
  const fps = pts.map((p) => p.faults / step);
  const lastRps = rps.length ? rps[rps.length - 1] : null;
  chart('chart-rps', {
    times, t0, t1, unit: 'req/s',
    lines: [
      { name: 'requests/s', color: COLORS.rps, values: rps, area: true },
      { name: 'faults/s', color: COLORS.faults, values: fps },
    ],
  });
  legend('legend-rps', [
    ['requests/s', COLORS.rps, fmtRate(lastRps)],
    ['faults/s', COLORS.faults, fmtRate(fps.length ? fps[fps.length - 1] : null)],
  ]);

  const num = (v) => (typeof v === 'number' && isFinite(v) ? v : null);
  const p50 = pts.map((p) => num(p.p50_ms));
  const p99 = pts.map((p) => num(p.p99_ms));
  const lastOf = (a) => { for (let i = a.length - 1; i >= 0; i--) if (a[i] !== null) return a[i]; return null; };
  chart('chart-latency', {
    times, t0, t1, unit: 'ms',
    lines: [
      { name: 'p50', color: COLORS.p50, values: p50 },
      { name: 'p99', color: COLORS.p99, values: p99 },
    ],
  });
  legend('legend-latency', [
    ['p50', COLORS.p50, lastOf(p50) === null ? '–' : fmtMs(lastOf(p50)) + ' ms'],
    ['p99', COLORS.p99, lastOf(p99) === null ? '–' : fmtMs(lastOf(p99)) + ' ms'],
  ]);
}

function legend(id, items) {
  $(id).innerHTML = items.map(([name, color, value]) =>
    '<span class="key"><i style="background:' + color + '"></i>' + esc(name) + ' <b>' + esc(value) + '</b></span>').join('');
}

const PAD = { left: 46, right: 14, top: 16, bottom: 24 };

function chart(id, c) {
  const el = $(id);
  const W = Math.max(200, el.clientWidth), H = Math.max(120, el.clientHeight);
  const pw = W - PAD.left - PAD.right, ph = H - PAD.top - PAD.bottom;
  let max = 0;
  for (const l of c.lines) for (const v of l.values) if (v !== null && v > max) max = v;
  const yStep = niceStep((max || 1) / 4);
  const yMax = Math.max(yStep, Math.ceil((max || 1) / yStep) * yStep);
  const span = Math.max(1, c.t1 - c.t0);
  const x = (t) => PAD.left + (t - c.t0) / span * pw;
  const y = (v) => PAD.top + ph - v / yMax * ph;

  let svg = '<svg viewBox="0 0 ' + W + ' ' + H + '" preserveAspectRatio="none" role="img" aria-label="' + esc(c.lines.map((l) => l.name).join(', ')) + '">';
  svg += '<defs><linearGradient id="' + id + '-fill" x1="0" y1="0" x2="0" y2="1">'
    + '<stop offset="0" stop-color="' + c.lines[0].color + '" stop-opacity=".35"/>'
    + '<stop offset="1" stop-color="' + c.lines[0].color + '" stop-opacity="0"/></linearGradient></defs>';

  // Horizontal grid and y labels.
  svg += '<g class="axis">';
  for (let v = 0; v <= yMax + yStep / 2; v += yStep) {
    const yy = y(v).toFixed(1);
    svg += '<line x1="' + PAD.left + '" x2="' + (W - PAD.right) + '" y1="' + yy + '" y2="' + yy + '" stroke="' + C.grid + '" stroke-width="1"/>';
    svg += '<text x="' + (PAD.left - 7) + '" y="' + yy + '" text-anchor="end" dominant-baseline="middle">' + fmtAxis(v) + '</text>';
  }
  svg += '<text x="' + PAD.left + '" y="' + (PAD.top - 6) + '" text-anchor="start">' + esc(c.unit) + '</text>';
  // Time labels at round intervals, as many as fit.
  const intervals = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900].map((s) => s * 1000);
  const fit = Math.max(2, Math.floor(pw / 80));
  const every = intervals.find((i) => span / i <= fit) || 900000;
  for (let t = Math.ceil(c.t0 / every) * every; t <= c.t1; t += every) {
    const xx = x(t).toFixed(1);
    svg += '<line x1="' + xx + '" x2="' + xx + '" y1="' + PAD.top + '" y2="' + (PAD.top + ph) + '" stroke="' + C.grid + '" stroke-width="1" stroke-dasharray="2 4"/>';
    svg += '<text x="' + xx + '" y="' + (H - 6) + '" text-anchor="middle">' + fmtClock(t) + '</text>';
  }
  svg += '<line x1="' + PAD.left + '" x2="' + (W - PAD.right) + '" y1="' + (PAD.top + ph) + '" y2="' + (PAD.top + ph) + '" stroke="' + C.border + '"/>';
  svg += '</g>';

  let drawn = 0, lastDrawn = null;
  c.lines.forEach((l, li) => {
    // A null value (a second without requests has no latency) breaks the line.
    let d = '', run = [], count = 0, lastV = null, lastX = 0, lastY = 0;
    const flush = () => {
      if (run.length && l.area && li === 0) {
        svg += '<path d="M' + run[0][0] + ',' + (PAD.top + ph) + 'L' + run.map((p) => p[0] + ',' + p[1]).join('L')
          + 'L' + run[run.length - 1][0] + ',' + (PAD.top + ph) + 'Z" fill="url(#' + id + '-fill)"/>';
      }
      if (run.length === 1) {
        svg += '<circle cx="' + run[0][0] + '" cy="' + run[0][1] + '" r="2" fill="' + l.color + '"/>';
      }
      run = [];
    };
    l.values.forEach((v, i) => {
      if (v === null) { flush(); return; }
      const px = x(c.times[i]).toFixed(1), py = y(v).toFixed(1);
      d += (run.length ? 'L' : 'M') + px + ',' + py;
      run.push([px, py]);
      count++; lastV = v; lastX = px; lastY = py;
    });
    flush();
    if (d) {
      svg += '<path d="' + d + '" fill="none" stroke="' + l.color + '" stroke-width="' + (li === 0 ? 1.8 : 1.5) + '" stroke-linejoin="round" stroke-linecap="round"/>';
      svg += '<circle cx="' + lastX + '" cy="' + lastY + '" r="3" fill="' + l.color + '" stroke="' + C.panel + '" stroke-width="1.5"/>';
    }
    if (li === 0) { drawn = count; lastDrawn = lastV; }
  });
  if (!c.times.length) {
    svg += '<text class="empty" x="' + (PAD.left + pw / 2) + '" y="' + (PAD.top + ph / 2) + '" text-anchor="middle">waiting for the first complete second…</text>';
  }
  svg += '<g class="hover"></g><rect class="catch" x="' + PAD.left + '" y="' + PAD.top + '" width="' + pw + '" height="' + ph + '" fill="transparent"/>';
  svg += '</svg>';

  let tip = el.querySelector('.tip');
  el.innerHTML = svg;
  if (!tip) { tip = document.createElement('div'); tip.className = 'tip'; tip.hidden = true; }
  el.appendChild(tip);
  // What the end-to-end test reads: how many points of the first series were drawn,
  // and its last value.
  el.dataset.points = String(drawn);
  el.dataset.last = lastDrawn === null ? '' : String(lastDrawn);
  el._chart = { c, x, y, W, H, pw, ph };
  drawHover(el);
}

function drawHover(el) {
  const g = el.querySelector('g.hover'), tip = el.querySelector('.tip');
  const mx = state.hover[el.id];
  const ch = el._chart;
  if (!g || !tip || mx === undefined || !ch || !ch.c.times.length) {
    if (g) g.innerHTML = '';
    if (tip) tip.hidden = true;
    return;
  }
  const { c, x, y, W, H } = ch;
  // Nearest point in time to the mouse.
  let best = 0, bestD = Infinity;
  c.times.forEach((t, i) => { const dd = Math.abs(x(t) - mx); if (dd < bestD) { bestD = dd; best = i; } });
  const xx = x(c.times[best]);
  let marks = '<line x1="' + xx + '" x2="' + xx + '" y1="' + PAD.top + '" y2="' + (H - PAD.bottom) + '" stroke="' + C.muted + '" stroke-width="1" stroke-dasharray="3 3"/>';
  let rows = '<div class="t">' + fmtClock(c.times[best]) + '</div>';
  for (const l of c.lines) {
    const v = l.values[best];
    if (v !== null) marks += '<circle cx="' + xx + '" cy="' + y(v) + '" r="3.5" fill="' + l.color + '" stroke="' + C.panel + '" stroke-width="1.5"/>';
    rows += '<div><i style="background:' + l.color + '"></i>' + esc(l.name) + ' <b>'
      + (v === null ? '–' : c.unit === 'ms' ? fmtMs(v) + ' ms' : fmtRate(v)) + '</b></div>';
  }
  g.innerHTML = marks;
  tip.innerHTML = rows;
  tip.hidden = false;
  const scale = el.clientWidth / W;
  const left = xx * scale;
  tip.style.top = (PAD.top + 4) + 'px';
  tip.style.left = (left + 12 + tip.offsetWidth > el.clientWidth ? left - 12 - tip.offsetWidth : left + 12) + 'px';
}

for (const id of ['chart-rps', 'chart-latency']) {
  const el = $(id);
  el.addEventListener('mousemove', (ev) => {
    const r = el.getBoundingClientRect();
    const ch = el._chart;
    const mx = (ev.clientX - r.left) * (ch ? ch.W / r.width : 1);
    state.hover[id] = mx;
    drawHover(el);
  });
  el.addEventListener('mouseleave', () => { delete state.hover[id]; drawHover(el); });
}

// ---------------------------------------------------------------------------------
// Controls

function showWindow() {
  for (const b of document.querySelectorAll('#window-seg button')) {
    b.setAttribute('aria-pressed', String(Number(b.dataset.window) === state.windowSec));
  }
}
$('window-seg').addEventListener('click', (ev) => {
  const w = Number(ev.target?.dataset?.window);
  if (!w) return;
  state.windowSec = w;
  try { localStorage.setItem('vaxel.dashboard.window', String(w)); } catch (_) { /* ignore */ }
  showWindow();
  if (state.data) renderCharts(state.data);
});
showWindow();

$('token-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const t = $('token-input').value.trim();
  if (t) location.hash = 'token=' + encodeURIComponent(t);
});
window.addEventListener('hashchange', () => { $('token-input').value = ''; poll(); });

let resizeTimer = null;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => { if (state.data) renderCharts(state.data); }, 100);
});

// The "stale"/"disconnected" state must show even while a poll hangs.
setInterval(showConnection, 1000);
poll();
