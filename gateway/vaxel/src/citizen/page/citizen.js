'use strict';
// The citizen page's script (citizen.html loads it with `defer`, so the markup is there
// when it runs; served at /citizen/citizen.js by the citizen listener from
// gateway/vaxel/src/citizen/page.rs). Plain JavaScript, no build step, nothing from
// elsewhere. It calls the citizen API of the same origin (specs/openapi-citizen.yaml)
// with the citizen's token as `Authorization: Bearer`; the token lives in this tab's
// sessionStorage only.
//
// Safety: everything the API sends is data, never markup. The page builds its DOM with
// createElement and textContent only (no innerHTML anywhere), follows only links that
// point into the citizen API of this origin, and reads a record's XML with DOMParser
// (an inert document: nothing in it runs or loads).
//
// The element ids and data-* attributes set here are read by the end-to-end test
// (tests/e2e/citizen.rs): keep them when restyling.

const TOKEN_KEY = 'vaxel.citizen.token';
const API = '/citizen/v1/';
const LOG_PAGE_SIZE = 20;

// The overview's kinds (adapters' `kind`, adapters/core/src/information_set.rs), in the
// order the filter shows them: label, plural, Swedish term.
const KINDS = {
  booking: ['Booking', 'bookings', 'tidbokning'],
  note: ['Note', 'notes', 'journalanteckning'],
  diagnosis: ['Diagnosis', 'diagnoses', 'diagnos'],
  'lab-result': ['Lab result', 'lab results', 'provsvar'],
  medication: ['Medication', 'medications', 'läkemedel'],
  'care-contact': ['Care contact', 'care contacts', 'vårdkontakt'],
  referral: ['Referral', 'referrals', 'remiss'],
  imaging: ['Imaging', 'imaging results', 'bilddiagnostik'],
  alert: ['Alert', 'alerts', 'uppmärksamhetsinformation'],
  'care-plan': ['Care plan', 'care plans', 'vårdplan'],
  vaccination: ['Vaccination', 'vaccinations', 'vaccination'],
};
const kindLabel = (k) => (KINDS[k] ? KINDS[k][0] : humanize(k || 'record'));
const kindPlural = (k) => (KINDS[k] ? KINDS[k][1] : humanize(k || 'records').toLowerCase());

// Information sets a consent can name (specs/openapi-consent.yaml, Scope), used until
// the overview says which sets this gateway has.
const DEFAULT_SETS = [
  'care-documentation', 'diagnosis', 'alert-information', 'laboratory-outcome-3',
  'laboratory-outcome-4', 'medication-history', 'care-contacts', 'referral-outcome',
  'imaging-outcome',
];

// Why records are held back (the patient-facing rules, specs/user-context.md).
const WITHHELD_REASONS = {
  'not-approved-for-patient': 'not approved for patients',
  delayed: 'waiting period',
};

const state = {
  memToken: null,      // when sessionStorage is unavailable
  me: null,
  overview: null,
  kind: '',            // the kind filter ('' = all)
  careGiver: '',       // the care giver filter ('' = all)
  logPage: 1,
  generation: 0,       // bumped on sign-out: answers of an older session are dropped
  expiryTimer: null,
};

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------------
// Small DOM and text helpers (textContent only)

// el('li', {class: 'x', data: {kind: 'note'}, attrs: {title: 't'}}, 'text', child, ...)
function el(tag, props, ...children) {
  const e = document.createElement(tag);
  const p = props || {};
  if (p.class) e.className = p.class;
  if (p.text !== undefined) e.textContent = p.text;
  for (const [k, v] of Object.entries(p.data || {})) e.dataset[k] = v == null ? '' : String(v);
  for (const [k, v] of Object.entries(p.attrs || {})) if (v != null) e.setAttribute(k, String(v));
  if (p.on) for (const [k, f] of Object.entries(p.on)) e.addEventListener(k, f);
  for (const c of children) if (c != null) e.append(c instanceof Node ? c : String(c));
  return e;
}
const clear = (e) => { while (e.firstChild) e.removeChild(e.firstChild); return e; };
const groupBy = (list, key) => {
  const m = new Map();
  for (const x of list) { const k = key(x); if (!m.has(k)) m.set(k, []); m.get(k).push(x); }
  return m;
};
const unique = (values) => [...new Set(values.filter(Boolean))].sort();

function humanize(name) {
  const s = String(name).replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/[-_]+/g, ' ').toLowerCase().trim();
  return s.charAt(0).toUpperCase() + s.slice(1);
}

// 191212121212 → 19121212-1212, as Swedish personal identity numbers are written.
const personalId = (s) => (/^\d{8}[\dpPtTfF]\d{3}$/.test(s || '') ? s.slice(0, 8) + '-' + s.slice(8) : String(s || ''));
const plural = (n, one, many) => n + ' ' + (n === 1 ? one : many);

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const pad2 = (n) => String(n).padStart(2, '0');

// The overview's times are local ISO 8601 (`2026-11-20T09:30:00` or a date); the APIs'
// other times are RFC 3339. Returns {date, hasTime} or null.
function parseTime(s) {
  if (!s) return null;
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(s);
  if (m) {
    const d = new Date(+m[1], +m[2] - 1, +m[3], +(m[4] || 0), +(m[5] || 0), +(m[6] || 0));
    return isNaN(d) ? null : { date: d, hasTime: m[4] !== undefined };
  }
  const t = Date.parse(s);
  return isNaN(t) ? null : { date: new Date(t), hasTime: true };
}
const fmtDay = (d) => d.getDate() + ' ' + MONTHS[d.getMonth()].slice(0, 3) + ' ' + d.getFullYear();
const fmtClock = (d) => pad2(d.getHours()) + ':' + pad2(d.getMinutes());
function fmtWhen(s) {
  const t = parseTime(s);
  if (!t) return s ? String(s) : '–';
  return fmtDay(t.date) + (t.hasTime ? ', ' + fmtClock(t.date) : '');
}
// `yyyyMMddHHmmss` / `yyyyMMdd` in a record's XML, readable; anything else as it is.
function fmtValue(v) {
  const m = /^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?$/.exec(v);
  if (!m || +m[2] < 1 || +m[2] > 12 || +m[3] < 1 || +m[3] > 31 || +m[1] < 1800) return v;
  const d = new Date(+m[1], +m[2] - 1, +m[3], +(m[4] || 0), +(m[5] || 0));
  return fmtDay(d) + (m[4] !== undefined ? ', ' + fmtClock(d) : '');
}
const isFuture = (s) => { const t = parseTime(s); return !!t && t.date.getTime() > Date.now(); };

// ---------------------------------------------------------------------------------
// Token and API

function getToken() {
  try { return sessionStorage.getItem(TOKEN_KEY) || state.memToken; } catch (_) { return state.memToken; }
}
function setToken(t) {
  state.memToken = t;
  try {
    if (t) sessionStorage.setItem(TOKEN_KEY, t); else sessionStorage.removeItem(TOKEN_KEY);
  } catch (_) { /* storage disabled: the token lives in memory for this page only */ }
}
// The token's `exp` (seconds), read for display only: the gateway checks the token.
function tokenExpiry(t) {
  try {
    const part = t.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const exp = JSON.parse(atob(part + '='.repeat((4 - part.length % 4) % 4))).exp;
    return typeof exp === 'number' ? exp : null;
  } catch (_) { return null; }
}

class ApiError extends Error {
  constructor(status, error, message, field) {
    super(message || error || ('HTTP ' + status));
    this.status = status;
    this.error = error || '';
    this.field = field || '';
  }
}

// One API call. JSON in and out unless `accept` says otherwise. A 401 signs out (the
// token is gone or expired) unless `keepSession`; other errors throw ApiError.
async function api(path, opts = {}) {
  const generation = state.generation;
  const headers = { Accept: opts.accept || 'application/json' };
  const token = getToken();
  if (token) headers.Authorization = 'Bearer ' + token;
  const init = { method: opts.method || 'GET', headers, cache: 'no-store', credentials: 'omit' };
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(opts.body);
  }
  let r;
  try {
    r = await fetch(path, init);
  } catch (_) {
    throw new ApiError(0, 'network', 'The service could not be reached. Check your connection and try again.');
  }
  const text = await r.text();
  let json = null;
  if ((r.headers.get('content-type') || '').includes('json')) {
    try { json = JSON.parse(text); } catch (_) { /* not JSON after all */ }
  }
  if (generation !== state.generation) throw new ApiError(0, 'stale', 'signed out meanwhile');
  if (!r.ok) {
    const e = new ApiError(r.status, json && json.error, json && json.message, json && json.field);
    if (r.status === 401 && !opts.keepSession) {
      signOut('Please sign in again', e.message);
    }
    throw e;
  }
  return { status: r.status, json, text };
}

// ---------------------------------------------------------------------------------
// The banner

const STATUS_TITLES = {
  0: 'No connection', 400: 'That did not work', 403: 'Not allowed', 404: 'Not found', 409: 'Already done',
  502: 'A care giver\'s system could not be reached', 503: 'The service is not available right now',
};

function showBanner(title, text, kind) {
  const b = $('banner');
  b.classList.toggle('info', kind === 'info');
  b.setAttribute('role', kind === 'info' ? 'status' : 'alert');
  $('banner-title').textContent = title;
  $('banner-text').textContent = text || '';
  b.hidden = false;
}
function hideBanner() { $('banner').hidden = true; }
function showError(e, what) {
  if (e && e.error === 'stale') return;
  if (e && e.status === 401) return; // signOut said it
  const title = (e && STATUS_TITLES[e.status]) || 'Something went wrong';
  const detail = e && e.message ? e.message : String(e);
  showBanner(title, (what ? what + ': ' : '') + detail + (e && e.status >= 500 ? ' Please try again in a while.' : ''));
}

// ---------------------------------------------------------------------------------
// Signing in and out

// The demo's sign-in exists only in `vaxel serve --demo` (elsewhere 404).
const demoToken = () => fetch('/citizen/demo/token', { cache: 'no-store', credentials: 'omit' });
function checkDemo() {
  demoToken().then((r) => { $('demo-panel').hidden = !r.ok; }, () => { $('demo-panel').hidden = true; });
}

async function demoSignIn() {
  const button = $('demo-signin');
  button.disabled = true;
  try {
    const r = await demoToken();
    const v = r.ok ? await r.json() : null;
    if (!v || typeof v.token !== 'string') throw new ApiError(r.status, 'demo', 'The demo sign-in is not available.');
    await signIn(v.token);
  } catch (e) {
    showError(e, 'Demo sign-in');
  } finally {
    button.disabled = false;
  }
}

async function tokenSignIn(ev) {
  ev.preventDefault();
  const form = $('token-form');
  clearFieldErrors(form);
  const token = $('token-input').value.trim().replace(/^Bearer\s+/i, '');
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token)) {
    fieldError(form, 'token', 'That is not a token: a token is three parts separated by dots (eyJ….….…).');
    return;
  }
  try {
    await signIn(token);
    $('token-input').value = '';
  } catch (e) {
    if (e.status === 401 || e.status === 403) fieldError(form, 'token', 'The token was not accepted: ' + e.message);
    else showError(e, 'Sign-in');
  }
}

// Keep the token, ask who it is, show the page. Throws (and keeps nothing) when the
// gateway refuses the token.
async function signIn(token) {
  setToken(token);
  let me;
  try {
    me = (await api(API + 'me', { keepSession: true })).json;
  } catch (e) {
    setToken(null);
    throw e;
  }
  state.me = me;
  hideBanner();
  showSignedIn();
}

function signOut(title, text) {
  state.generation++;
  setToken(null);
  state.me = null;
  state.overview = null;
  clearTimeout(state.expiryTimer);
  for (const v of ['overview', 'consents', 'access-log']) $('view-' + v).dataset.loaded = 'false';
  for (const id of ['items', 'sources', 'consents', 'blocks', 'access-log']) clear($(id));
  for (const d of [$('record'), $('confirm')]) if (d.open) d.close();
  $('app').hidden = true;
  $('who').hidden = true;
  $('signin').hidden = false;
  document.body.dataset.state = 'signed-out';
  if (title) showBanner(title, text, 'info'); else hideBanner();
  checkDemo();
}

function showSignedIn() {
  const me = state.me;
  const who = clear($('me'));
  who.dataset.patient = me.patient || '';
  who.dataset.actingAs = me.acting_as || '';
  if (me.acting_as === 'guardian') {
    who.append('Signed in as ', el('b', { text: personalId(me.citizen) }), ', guardian (',
      el('span', { attrs: { lang: 'sv' }, text: 'vårdnadshavare' }), ') for ', el('b', { text: personalId(me.patient) }));
  } else {
    who.append('Signed in as ', el('b', { text: personalId(me.patient || me.citizen) }));
  }
  $('loa').textContent = 'LoA ' + (me.loa != null ? me.loa : '–');
  $('loa').hidden = me.loa == null;
  showExpiry();
  $('who').hidden = false;
  $('signin').hidden = true;
  $('app').hidden = false;
  document.body.dataset.state = 'signed-in';
  route();
}

// The session pill, and signing out when the token runs out.
function showExpiry() {
  clearTimeout(state.expiryTimer);
  const exp = tokenExpiry(getToken() || '');
  const pill = $('session');
  if (!exp) { pill.hidden = true; return; }
  const left = exp * 1000 - Date.now();
  if (left <= 0) { signOut('Your sign-in has ended', 'Please sign in again.'); return; }
  pill.hidden = false;
  pill.textContent = 'until ' + fmtClock(new Date(exp * 1000));
  state.expiryTimer = setTimeout(showExpiry, Math.min(left, 30000));
}

// ---------------------------------------------------------------------------------
// Views (#overview, #consents, #access-log)

// Called late: loadConsents and loadAccessLog are in citizen-consents.js, which runs after
// this script.
const VIEWS = {
  overview: () => loadOverview(),
  consents: () => loadConsents(),
  'access-log': () => loadAccessLog(),
};

function route() {
  if (!state.me) return;
  const name = location.hash.slice(1);
  const view = VIEWS[name] ? name : 'overview';
  for (const v of Object.keys(VIEWS)) {
    $('view-' + v).hidden = v !== view;
    const tab = $('tab-' + v);
    if (v === view) tab.setAttribute('aria-current', 'page'); else tab.removeAttribute('aria-current');
  }
  const loaded = $('view-' + view).dataset.loaded;
  if (loaded !== 'true' && loaded !== 'loading') VIEWS[view]();
}

// Runs a view's loader with its busy state; a render error is kept on <body> for the
// end-to-end test to report.
async function loading(view, busy, work) {
  const section = $('view-' + view);
  section.dataset.loaded = 'loading';
  section.setAttribute('aria-busy', 'true');
  if (busy) $(busy).hidden = false;
  try {
    await work();
    section.dataset.loaded = 'true';
    delete document.body.dataset.renderError;
  } catch (e) {
    section.dataset.loaded = 'error';
    if (!(e instanceof ApiError)) {
      document.body.dataset.renderError = String(e && e.stack || e);
      console.error(e);
    }
    showError(e);
  } finally {
    section.removeAttribute('aria-busy');
    if (busy) $(busy).hidden = true;
  }
}

// ---------------------------------------------------------------------------------
// My overview

function loadOverview() {
  return loading('overview', 'overview-busy', async () => {
    const o = (await api(API + 'overview')).json;
    state.overview = o;
    renderOverview();
  });
}

function renderOverview() {
  const o = state.overview;
  const items = o.items || [];
  const sources = o.sources || [];
  const withheld = o.withheld || { total: 0, by_reason: {} };
  const careGivers = unique(items.map((i) => i.care_giver));
  if (state.careGiver && !careGivers.includes(state.careGiver)) state.careGiver = '';

  $('count-items').textContent = items.length;
  $('count-items-sub').textContent = 'from ' + plural(careGivers.length, 'care giver', 'care givers');
  const next = items.filter((i) => i.kind === 'booking' && isFuture(i.time))
    .sort((a, b) => parseTime(a.time).date - parseTime(b.time).date)[0];
  $('next-booking').textContent = next ? fmtWhen(next.time) : 'None';
  $('next-booking-sub').textContent = next ? (next.title || next.care_unit || '') : 'no upcoming bookings';
  const failed = sources.filter((s) => s.status !== 'ok');
  $('count-sources').textContent = (sources.length - failed.length) + ' / ' + sources.length;
  $('count-sources-sub').textContent = failed.length ? plural(failed.length, 'did not answer', 'did not answer') : 'all answered';
  $('count-withheld').textContent = withheld.total || 0;

  renderSourceProblems(failed);
  renderWithheld(withheld);
  renderFilters(items, careGivers);
  renderItems(items);
  renderSources(sources, items);
  fillDatalists(items, sources);
}

// "X could not be reached": one line per logical address, never hiding the rest.
function renderSourceProblems(failed) {
  const list = clear($('source-problem-list'));
  const byAddress = groupBy(failed, (s) => s.logical_address || '');
  for (const [address, list2] of byAddress) {
    const what = [...new Set(list2.map((s) => kindPlural(s.kind)))].join(', ');
    const timedOut = list2.every((s) => s.status === 'timeout');
    const li = el('li', { data: { logicalAddress: address, status: timedOut ? 'timeout' : 'failed' } });
    if (address) {
      li.append(el('span', { class: 'mono', text: address }),
        ' could not be reached' + (timedOut ? ' in time' : '') + ' for your ' + what + '.');
    } else {
      li.append('Your ' + what + ' could not be looked up (' + (list2[0].code || 'error') + ').');
    }
    list.append(li);
  }
  $('source-problems').hidden = byAddress.size === 0;
}

// Withheld records are counted, never named (specs/user-context.md).
function renderWithheld(w) {
  const p = $('withheld');
  const total = w.total || 0;
  p.hidden = total === 0;
  p.dataset.total = total;
  if (!total) return;
  const reasons = Object.entries(w.by_reason || {}).filter(([, n]) => n > 0)
    .map(([r, n]) => n + ' ' + (WITHHELD_REASONS[r] || humanize(r).toLowerCase()));
  p.textContent = (total === 1 ? '1 record is' : total + ' records are') + ' not shown yet' +
    (reasons.length ? ': ' + reasons.join(', ') : '') +
    '. Your care giver decides when records are shown to patients; ask them if you need one sooner.';
}

function renderFilters(items, careGivers) {
  const counts = {};
  for (const i of items) counts[i.kind] = (counts[i.kind] || 0) + 1;
  const kinds = Object.keys(KINDS).filter((k) => counts[k])
    .concat(Object.keys(counts).filter((k) => !KINDS[k]).sort());
  if (state.kind && !counts[state.kind]) state.kind = '';
  const chips = clear($('kind-filter'));
  const chip = (kind, label, n) => el('button', {
    attrs: { type: 'button', 'aria-pressed': state.kind === kind ? 'true' : 'false' },
    data: { kind },
    on: { click: () => { state.kind = kind; renderFilters(items, careGivers); renderItems(items); } },
  }, label, el('span', { class: 'n', text: '(' + n + ')' }));
  chips.append(chip('', 'All', items.length));
  for (const k of kinds) chips.append(chip(k, KINDS[k] ? humanize(KINDS[k][1]) : humanize(k), counts[k]));

  const select = $('care-giver-filter');
  clear(select).append(el('option', { attrs: { value: '' }, text: 'All care givers' }));
  for (const cg of careGivers) select.append(el('option', { attrs: { value: cg }, text: cg }));
  select.value = state.careGiver;
}

function renderItems(items) {
  const box = clear($('items'));
  const shown = items.filter((i) => (!state.kind || i.kind === state.kind) &&
    (!state.careGiver || i.care_giver === state.careGiver));
  $('items-empty').hidden = shown.length > 0;
  let month = null;
  let list = null;
  for (const item of shown) {
    const t = parseTime(item.time);
    const heading = t ? MONTHS[t.date.getMonth()] + ' ' + t.date.getFullYear() : 'Without a date';
    if (heading !== month) {
      month = heading;
      box.append(el('h3', { class: 'month', text: heading }));
      list = el('ol', { class: 'items' });
      box.append(list);
    }
    list.append(itemRow(item, t));
  }
}

function itemRow(item, t) {
  const upcoming = item.kind === 'booking' && isFuture(item.time);
  const title = item.title || kindLabel(item.kind);
  const li = el('li', {
    class: 'item' + (upcoming ? ' upcoming' : ''),
    data: {
      kind: item.kind, informationSet: item.information_set, careGiver: item.care_giver || '',
      careUnit: item.care_unit || '', logicalAddress: item.source ? item.source.logical_address : '',
      recordId: item.source && item.source.record_id ? item.source.record_id : '',
      time: item.time || '', upcoming: upcoming ? 'true' : 'false',
    },
  });
  li.append(t
    ? el('time', { attrs: { datetime: item.time } }, el('b', { text: fmtDay(t.date) }), t.hasTime ? fmtClock(t.date) : '')
    : el('time', { text: '–' }));
  const tags = el('div', { class: 'tags' }, el('span', { class: 'kind k-' + item.kind, text: kindLabel(item.kind) }));
  if (upcoming) tags.append(el('span', { class: 'tag upcoming', text: 'Upcoming' }));
  if (item.status) tags.append(el('span', { class: 'tag status', text: humanize(item.status) }));
  const where = [];
  if (item.care_giver) where.push('Care giver ' + item.care_giver);
  if (item.care_unit) where.push((item.care_giver ? 'unit ' : 'Care unit ') + item.care_unit);
  li.append(el('div', {}, tags, el('div', { class: 'title', text: title }),
    el('div', { class: 'meta', text: where.join(', ') || 'Care giver not given' })));
  if (item.link) {
    li.append(el('button', {
      class: 'small open', attrs: { type: 'button', 'aria-label': 'Open ' + title + (t ? ', ' + fmtDay(t.date) : '') },
      on: { click: (ev) => openRecord(item, ev.currentTarget) },
    }, 'Open'));
  } else {
    li.append(el('span'));
  }
  return li;
}

// The sources panel: per logical address, how it answered for each kind.
function renderSources(sources, items) {
  const ul = clear($('sources'));
  const byAddress = groupBy(sources, (s) => s.logical_address || '');
  if (!byAddress.size) ul.append(el('li', { class: 'detail', text: 'No system holds information about you yet.' }));
  for (const [address, list] of byAddress) {
    const bad = list.filter((s) => s.status !== 'ok');
    const status = bad.length === 0 ? 'ok' : (bad.every((s) => s.status === 'timeout') ? 'timeout' : 'failed');
    const records = list.reduce((n, s) => n + (s.items || 0), 0);
    const careGivers = unique(items.filter((i) => i.source && i.source.logical_address === address)
      .map((i) => i.care_giver));
    const li = el('li', { data: { logicalAddress: address, status, items: records } },
      el('div', { class: 'name' }, el('span', { class: 'dot', attrs: { 'aria-hidden': 'true' } }),
        address || 'The engagement index'));
    if (careGivers.length) li.append(el('div', { class: 'detail', text: 'Care giver ' + careGivers.join(', ') }));
    li.append(el('div', {
      class: 'detail',
      text: plural(list.length - bad.length, 'kind of information', 'kinds of information') + ' answered, ' +
        plural(records, 'record', 'records') + ' shown',
    }));
    for (const s of bad) {
      li.append(el('div', { class: 'detail' }, el('span', { class: 'bad', text: humanize(kindPlural(s.kind)) + ': ' }),
        s.status === 'timeout' ? 'did not answer in time' : 'could not be reached',
        s.code ? ' (' + s.code + ')' : ''));
    }
    ul.append(li);
  }
}

// The forms' suggestions: care givers and units seen in the overview.
function fillDatalists(items, sources) {
  const fill = (id, values) => clear($(id)).append(...unique(values).map((v) => el('option', { attrs: { value: v } })));
  fill('known-care-givers', items.map((i) => i.care_giver));
  fill('known-care-units', items.map((i) => i.care_unit));
  const sets = unique(sources.map((s) => s.information_set));
  if (sets.length) renderSetChoices(sets);
}

// ---------------------------------------------------------------------------------
// One record

async function openRecord(item, opener) {
  const dialog = $('record');
  const t = parseTime(item.time);
  $('record-title').textContent = item.title || kindLabel(item.kind);
  $('record-meta').textContent = [kindLabel(item.kind), t ? fmtWhen(item.time) : null,
    item.care_giver ? 'care giver ' + item.care_giver : null, item.care_unit ? 'unit ' + item.care_unit : null]
    .filter(Boolean).join(' · ');
  clear($('record-body'));
  $('record-raw').textContent = '';
  $('record-raw-wrap').hidden = true;
  $('record-busy').hidden = false;
  dialog.dataset.state = 'loading';
  dialog.onclose = () => { if (opener && opener.isConnected) opener.focus(); };
  if (!dialog.open) dialog.showModal();
  // Only the citizen API of this origin gets the token.
  const url = new URL(item.link, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith(API)) {
    $('record-busy').hidden = true;
    $('record-body').append(el('p', { text: 'This record cannot be opened here.' }));
    dialog.dataset.state = 'error';
    return;
  }
  try {
    const r = await api(url.pathname + url.search, { accept: 'application/xml' });
    $('record-raw').textContent = r.text;
    $('record-raw-wrap').hidden = false;
    renderRecord(r.text);
    dialog.dataset.state = 'ready';
  } catch (e) {
    dialog.dataset.state = 'error';
    if (e.status !== 401) {
      $('record-body').append(el('p', { class: 'field-error', text: e.status === 404
        ? 'This record is no longer available to you.' : 'The record could not be fetched: ' + e.message }));
    }
  } finally {
    $('record-busy').hidden = true;
  }
}

const elements = (n) => [...n.childNodes].filter((c) => c.nodeType === 1);

// A readable summary of the record: every element's text, labelled by its path below
// the record's top-level parts. Read from an inert XML document.
function renderRecord(xml) {
  const body = $('record-body');
  const doc = new DOMParser().parseFromString(xml, 'application/xml');
  if (doc.getElementsByTagName('parsererror').length) {
    body.append(el('p', { text: 'The record is not readable XML; it is shown as sent below.' }));
    return;
  }
  const soapBody = [...doc.getElementsByTagName('*')].find((e) => e.localName === 'Body');
  const response = soapBody ? elements(soapBody)[0] : doc.documentElement;
  const records = response ? elements(response).filter((e) => e.localName !== 'result') : [];
  let rows = 0;
  for (const record of records) {
    const dl = el('dl');
    for (const part of elements(record)) {
      const before = dl.childNodes.length;
      dl.append(el('div', { class: 'group', text: humanize(part.localName) }));
      const walk = (node, path) => {
        const kids = elements(node);
        if (!kids.length) {
          const v = node.textContent.trim();
          if (v && rows < 500) {
            rows++;
            dl.append(el('dt', { text: path.length ? path.map(humanize).join(' › ') : humanize(node.localName) }),
              el('dd', { text: fmtValue(v) }));
          }
          return;
        }
        for (const k of kids) walk(k, path.concat(k.localName));
      };
      walk(part, []);
      if (dl.childNodes.length === before + 1) dl.lastChild.remove();
    }
    body.append(dl);
  }
  if (!rows) body.append(el('p', { text: 'The record holds no text to show; see it as sent below.' }));
}

