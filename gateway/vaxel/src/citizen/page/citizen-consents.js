'use strict';
// The citizen page's second script: the forms, my consents and blocks, who has read my
// records, and the start. citizen.html loads it after citizen.js (both `defer`, run in
// order), whose helpers and state it uses (classic scripts share one global scope).
// Served at /citizen/citizen-consents.js; the same safety rules as citizen.js.

// ---------------------------------------------------------------------------------
// Forms: field errors next to the field the gateway names

function clearFieldErrors(form) {
  for (const p of form.querySelectorAll('.field-error')) { p.hidden = true; p.textContent = ''; }
  for (const i of form.querySelectorAll('[aria-invalid]')) i.removeAttribute('aria-invalid');
}

function fieldError(form, field, message) {
  const p = form.querySelector('.field-error[data-field="' + CSS.escape(field) + '"]') ||
    form.querySelector('.field-error[data-field="*"]');
  // `care_giver`: must be an HSA id … → Must be an HSA id …
  const text = String(message).replace(/^`[^`]*`:\s*/, '');
  p.textContent = text.charAt(0).toUpperCase() + text.slice(1);
  p.hidden = false;
  const input = p.id ? form.querySelector('[aria-describedby~="' + CSS.escape(p.id) + '"]') : null;
  if (input) {
    input.setAttribute('aria-invalid', 'true');
    const target = input.matches('fieldset') ? input.querySelector('input') : input;
    if (target) target.focus();
  }
}

// A date input's day → the end of that day, local time, as RFC 3339.
function endOfDay(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value || '');
  return m ? new Date(+m[1], +m[2] - 1, +m[3], 23, 59, 59).toISOString() : undefined;
}

// Send a form's body; 400 shows next to the named field; success reloads the lists.
async function submitForm(form, path, body, done) {
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  try {
    await api(path, { method: 'POST', body });
    form.reset();
    if (form.id === 'consent-form') syncScope();
    showBanner(done, '', 'info');
    await loadConsents();
  } catch (e) {
    if (e.status === 400) fieldError(form, e.field || '*', e.message);
    else showError(e);
  } finally {
    button.disabled = false;
  }
}

function renderSetChoices(sets) {
  const box = $('consent-sets');
  const checked = new Set([...box.querySelectorAll('input:checked')].map((i) => i.value));
  clear(box);
  for (const s of sets) {
    box.append(el('label', { class: 'check' },
      el('input', { attrs: { type: 'checkbox', name: 'scope', value: s } }), humanize(s)));
  }
  for (const i of box.querySelectorAll('input')) i.checked = checked.has(i.value);
  syncScope();
}
function syncScope() {
  const sets = document.querySelector('input[name="scope-choice"][value="sets"]').checked;
  for (const i of $('consent-sets').querySelectorAll('input')) i.disabled = !sets;
}

function consentSubmit(ev) {
  ev.preventDefault();
  const form = $('consent-form');
  clearFieldErrors(form);
  const careGiver = $('consent-care-giver').value.trim();
  if (!careGiver) { fieldError(form, 'care_giver', 'Give the care giver\'s HSA id.'); return; }
  let scope = 'all';
  if (document.querySelector('input[name="scope-choice"][value="sets"]').checked) {
    scope = [...$('consent-sets').querySelectorAll('input:checked')].map((i) => i.value);
    if (!scope.length) { fieldError(form, 'scope', 'Choose at least one kind of information, or all of it.'); return; }
  }
  const body = { care_giver: careGiver, scope, kind: 'normal' };
  const validTo = endOfDay($('consent-valid-to').value);
  if (validTo) body.valid_to = validTo;
  submitForm(form, API + 'consents', body, 'Your consent for ' + careGiver + ' is registered.');
}

function blockSubmit(ev) {
  ev.preventDefault();
  const form = $('block-form');
  clearFieldErrors(form);
  const body = {};
  const careGiver = $('block-care-giver').value.trim();
  const careUnit = $('block-care-unit').value.trim();
  if (!careGiver && !careUnit) { fieldError(form, 'care_giver', 'Give a care giver, a care unit, or both.'); return; }
  if (careGiver) body.care_giver = careGiver;
  if (careUnit) body.care_unit = careUnit;
  const validTo = endOfDay($('block-valid-to').value);
  if (validTo) body.valid_to = validTo;
  const reason = $('block-reason').value.trim();
  if (reason) body.reason = reason;
  submitForm(form, API + 'blocks', body, 'Your block on ' + [careGiver, careUnit].filter(Boolean).join(', ') + ' is in place.');
}

// ---------------------------------------------------------------------------------
// My consents and blocks

function loadConsents() {
  return loading('consents', null, async () => {
    const v = (await api(API + 'consents')).json;
    renderConsents(v.consents || []);
    renderBlocks(v.blocks || []);
  });
}

const dayOf = (s) => fmtWhen(s).replace(/,.*$/, '');
const validity = (from, to) => (from ? 'from ' + dayOf(from) + ', ' : '') + (to ? 'until ' + dayOf(to) : 'no end date');
const past = (s) => { const t = parseTime(s); return !!t && t.date.getTime() <= Date.now(); };

function stateCell(text, kind) { return el('td', {}, el('span', { class: 'state ' + kind, text })); }
const noneRow = (cols, text) => el('tr', {}, el('td', { class: 'none', text, attrs: { colspan: cols } }));

function renderConsents(consents) {
  const tbody = clear($('consents'));
  if (!consents.length) tbody.append(noneRow(5, 'You have given no consents.'));
  for (const c of consents) {
    const ended = !!c.revoked_at || past(c.valid_to);
    const tr = el('tr', { class: ended ? 'ended' : '', data: { id: c.id, careGiver: c.care_giver } });
    const covers = c.scope === 'all' || !Array.isArray(c.scope) ? 'All information' : c.scope.map(humanize).join(', ');
    const by = c.registered_by && c.registered_by !== (state.me && state.me.citizen) ? 'Registered by ' + c.registered_by : null;
    tr.append(el('td', {}, el('span', { class: 'mono', text: c.care_giver }),
      c.kind === 'emergency' ? el('div', { class: 'hint', text: 'Emergency consent' }) : null,
      by ? el('div', { class: 'hint', text: by }) : null));
    tr.append(el('td', { text: covers }), el('td', { text: validity(c.valid_from, c.valid_to) }));
    if (c.revoked_at) tr.append(stateCell('Revoked ' + dayOf(c.revoked_at), 'ended'));
    else if (past(c.valid_to)) tr.append(stateCell('Expired', 'ended'));
    else if (!past(c.valid_from)) tr.append(stateCell('Starts later', 'pending'));
    else tr.append(stateCell('Active', 'active'));
    const act = el('td', { class: 'act' });
    if (!ended) {
      act.append(el('button', {
        class: 'small danger', attrs: { type: 'button', 'aria-label': 'Revoke the consent for ' + c.care_giver },
        on: { click: () => confirmThen('Revoke this consent?',
          'Staff at ' + c.care_giver + ' will no longer be able to read what other care givers have written about you.',
          'Revoke', false, () => api(API + 'consents/' + encodeURIComponent(c.id) + '/revoke', { method: 'POST' }),
          'The consent for ' + c.care_giver + ' is revoked.') },
      }, 'Revoke'));
    }
    tr.append(act);
    tbody.append(tr);
  }
}

function renderBlocks(blocks) {
  const tbody = clear($('blocks'));
  if (!blocks.length) tbody.append(noneRow(5, 'You have no blocks.'));
  for (const b of blocks) {
    const ended = !!b.lifted_at || past(b.valid_to);
    const what = el('td');
    if (b.care_giver) what.append(el('div', {}, 'Care giver ', el('span', { class: 'mono', text: b.care_giver })));
    if (b.care_unit) what.append(el('div', {}, 'Care unit ', el('span', { class: 'mono', text: b.care_unit })));
    const tr = el('tr', {
      class: ended ? 'ended' : '',
      data: { id: b.id, careGiver: b.care_giver || '', careUnit: b.care_unit || '', liftRequested: b.lift_requested_at ? 'true' : 'false' },
    }, what, el('td', { text: validity(b.valid_from, b.valid_to) }), el('td', { text: b.reason || '–' }));
    if (b.lifted_at) tr.append(stateCell('Lifted ' + dayOf(b.lifted_at), 'ended'));
    else if (past(b.valid_to)) tr.append(stateCell('Expired', 'ended'));
    else if (b.lift_requested_at) tr.append(stateCell('Lift requested ' + dayOf(b.lift_requested_at), 'pending'));
    else tr.append(stateCell('Active', 'active'));
    const act = el('td', { class: 'act' });
    if (!ended && !b.lift_requested_at) {
      const name = b.care_giver || b.care_unit;
      act.append(el('button', {
        class: 'small', attrs: { type: 'button', 'aria-label': 'Ask to lift the block on ' + name },
        on: { click: () => confirmThen('Ask to lift this block?',
          'A block is lifted by the care giver, not at once: your request goes to them. The block stays until they lift it.',
          'Send request', true, (reason) => api(API + 'blocks/' + encodeURIComponent(b.id) + '/lift-request',
            { method: 'POST', body: reason ? { reason } : {} }),
          'Your request to lift the block on ' + name + ' is sent.') },
      }, 'Ask to lift'));
    }
    tr.append(act);
    tbody.append(tr);
  }
}

// The confirmation dialog; `action(reason)` runs on confirm, then the lists reload.
function confirmThen(title, text, ok, withReason, action, done) {
  const dialog = $('confirm');
  const opener = document.activeElement;
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  $('confirm-ok').textContent = ok;
  $('confirm-reason').value = '';
  $('confirm-reason-wrap').hidden = !withReason;
  $('confirm-form').onsubmit = async (ev) => {
    ev.preventDefault();
    $('confirm-ok').disabled = true;
    try {
      await action($('confirm-reason').value.trim());
      dialog.close();
      showBanner(done, '', 'info');
      await loadConsents();
    } catch (e) {
      dialog.close();
      showError(e);
    } finally {
      $('confirm-ok').disabled = false;
    }
  };
  dialog.onclose = () => { if (opener && opener.isConnected) opener.focus(); };
  dialog.showModal();
}

// ---------------------------------------------------------------------------------
// Who has read my records

function loadAccessLog() {
  return loading('access-log', null, async () => {
    const v = (await api(API + 'access-log?page=' + state.logPage + '&page_size=' + LOG_PAGE_SIZE)).json;
    renderAccessLog(v);
  });
}

// Why a read was allowed or not (the access log's reasons, specs/access-log.md §1.1),
// as the patient is told.
const LOG_REASONS = {
  'same-care-giver': 'their own care giver\'s records',
  consent: 'you had given consent',
  'emergency-consent': 'an emergency consent',
  emergency: 'emergency access',
  blocked: 'you had blocked the care giver',
  'blocked-care-unit': 'you had blocked the care unit',
  'no-consent': 'no consent from you',
  'consent-out-of-scope': 'outside your consent',
  'unknown-record-care-giver': 'the record named no care giver',
  'own-records': 'your own records',
  guardian: 'as guardian',
};

// One page of the log extract: {page, page_size, has_more, items: [{time, care_giver,
// care_unit, user_role, purpose, decision, reason, emergency, information_set,
// record_count}]} (gateway/pdl/src/citizen/log.rs). The extract names no reader and
// no emergency reason (specs/access-log.md §9).
function renderAccessLog(v) {
  const rows = v.items || [];
  const guardian = state.me && state.me.acting_as === 'guardian';
  const tbody = clear($('access-log'));
  $('access-log-empty').hidden = rows.length > 0 || state.logPage > 1;
  for (const e of rows) {
    const own = e.user_role === 'citizen' || e.user_role === 'guardian';
    const tr = el('tr', { class: e.emergency ? 'emergency' : '', data: { emergency: String(!!e.emergency), decision: e.decision } });
    let who = e.user_role ? humanize(e.user_role) : 'Care staff';
    if (e.user_role === 'citizen') who = guardian ? 'Your child' : 'You';
    if (e.user_role === 'guardian') who = guardian ? 'You, as guardian' : 'Your guardian';
    const place = el('td');
    if (e.care_giver) place.append(el('div', { class: 'mono', text: e.care_giver }));
    if (e.care_unit) place.append(el('div', { class: 'hint mono', text: e.care_unit }));
    if (!e.care_giver && !e.care_unit) place.append(own ? 'This service' : '–');
    const outcome = el('td', {}, el('div', {
      class: 'outcome-' + e.decision,
      text: e.decision === 'denied' ? 'Not shown' : 'Shown',
    }));
    if (e.reason) outcome.append(el('div', { class: 'hint', text: humanize(LOG_REASONS[e.reason] || e.reason) }));
    if (e.emergency) outcome.append(el('span', { class: 'flag', text: 'Emergency access' }));
    tr.append(el('td', { text: fmtWhen(e.time) }), el('td', { text: who }), place,
      el('td', { text: e.purpose === 'citizen-access' ? 'Reading your records' : humanize(e.purpose || '–') }),
      el('td', { text: humanize(e.information_set || '–') + (e.record_count ? ' (' + plural(e.record_count, 'record', 'records') + ')' : '') }),
      outcome);
    tbody.append(tr);
  }
  const page = v.page || state.logPage;
  $('log-page').textContent = 'Page ' + page;
  $('log-prev').disabled = page <= 1;
  $('log-next').disabled = !v.has_more;
  $('view-access-log').dataset.page = page;
}

// ---------------------------------------------------------------------------------
// Start

function start() {
  $('demo-signin').addEventListener('click', demoSignIn);
  $('token-form').addEventListener('submit', tokenSignIn);
  $('sign-out').addEventListener('click', () => signOut('You are signed out', 'Your token is forgotten in this browser tab.'));
  $('banner-close').addEventListener('click', hideBanner);
  $('overview-reload').addEventListener('click', loadOverview);
  $('consents-reload').addEventListener('click', loadConsents);
  $('access-log-reload').addEventListener('click', loadAccessLog);
  $('record-close').addEventListener('click', () => $('record').close());
  $('confirm-cancel').addEventListener('click', () => $('confirm').close());
  $('consent-form').addEventListener('submit', consentSubmit);
  $('block-form').addEventListener('submit', blockSubmit);
  for (const r of document.querySelectorAll('input[name="scope-choice"]')) r.addEventListener('change', syncScope);
  $('care-giver-filter').addEventListener('change', (ev) => {
    state.careGiver = ev.target.value;
    if (state.overview) renderItems(state.overview.items || []);
  });
  $('log-prev').addEventListener('click', () => { state.logPage = Math.max(1, state.logPage - 1); loadAccessLog(); });
  $('log-next').addEventListener('click', () => { state.logPage++; loadAccessLog(); });
  window.addEventListener('hashchange', route);
  renderSetChoices(DEFAULT_SETS);

  const token = getToken();
  if (!token) { signOut(); return; }
  signIn(token).catch((e) => {
    signOut(e.status === 401 ? 'Please sign in again' : null, e.status === 401 ? e.message : null);
    if (e.status !== 401) showError(e);
  });
}

start();
