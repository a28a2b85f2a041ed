// The supervisor's page: log in (badge + PIN; only the supervisor role may go on), stock
// per zone, the return-to-vendor note over items in the defect zone (with its print job's
// state), reprint a return's label with a reason, void a return with a reason after a
// confirm step. Every word comes from GET /api/v1/i18n; texts are set with textContent
// only. Commands carry X-CSRF-Token and an Idempotency-Key (kept for a resend of the same
// request after a network error, so it is applied once).
'use strict';

(() => {
  const LANG_KEY = 'returnsd.sv.lang';
  const CSRF_KEY = 'returnsd.sv.csrf';
  const RETURN_ID = /^R-[A-Z0-9]+-\d{8}-\d+$/;
  let lang = null;
  let strings = {};
  let csrf = sessionStorage.getItem(CSRF_KEY) || '';
  let me = null;
  let defects = [];            // [{ref, return_id, item_no, sku, name, zone}]
  const picked = new Set();    // refs "R-….1"
  let note = null;             // {no, job: {state}|null}
  let jobTimer = null;
  const results = {};          // panel -> body of the last answer, re-rendered on a language switch
  const pendingKeys = {};      // panel -> {sig, key}: a resend after a network error keeps its key

  const $ = (id) => document.getElementById(id);

  function t(key, params) {
    let s = Object.prototype.hasOwnProperty.call(strings, key) ? strings[key] : key;
    for (const [k, v] of Object.entries(params || {})) s = s.split('{' + k + '}').join(String(v));
    return s;
  }

  // A command's or an error's text from its code and params, in the page's language.
  function textOf(body) {
    if (!body) return '';
    const code = body.ok ? body.code : body.error;
    const params = {};
    for (const [k, v] of Object.entries(body.params || {})) {
      const e = ['kind', 'grade', 'visual', 'stage', 'role'].includes(k) ? k + '.' + v : null;
      params[k] = e && strings[e] ? strings[e] : v;
    }
    for (const key of [code, 'api.' + code]) {
      if (key && strings[key]) {
        const s = t(key, params);
        if (!/\{[a-z_]+\}/.test(s)) return s;
      }
    }
    return body.message || code || '';
  }

  function translate(root) {
    root.querySelectorAll('[data-i18n]').forEach((el) => { el.textContent = t(el.dataset.i18n); });
  }

  function show(view) {
    for (const v of ['v-login', 'v-denied', 'v-main']) $(v).hidden = v !== view;
    document.body.dataset.view = view;
    if (view === 'v-login') $('badge').focus();
  }

  function say(text, kind) {
    const m = $('msg');
    m.textContent = text;
    m.dataset.kind = kind || 'info';
    m.hidden = !text;
  }

  function headers(extra) {
    const h = Object.assign({ 'Accept-Language': lang || '' }, extra || {});
    if (csrf) h['X-CSRF-Token'] = csrf;
    return h;
  }

  async function getJson(path) {
    const r = await fetch(path, { cache: 'no-store', headers: headers() });
    const body = await r.json().catch(() => ({}));
    if (r.status === 401) { toLogin(); throw new Error(textOf(body)); }
    if (!r.ok) throw new Error(textOf(body) || t('hh.error', { status: r.status }));
    return body;
  }

  function newKey() {
    const a = new Uint8Array(16);
    crypto.getRandomValues(a);
    return 'sv-' + Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  // POST a command; the same request sent again after a network error reuses its key.
  async function command(panel, path, body) {
    const sig = path + ' ' + JSON.stringify(body);
    const p = pendingKeys[panel];
    const key = p && p.sig === sig ? p.key : newKey();
    pendingKeys[panel] = { sig, key };
    let r;
    try {
      r = await fetch(path, {
        method: 'POST',
        cache: 'no-store',
        headers: headers({ 'Content-Type': 'application/json', 'Idempotency-Key': key }),
        body: JSON.stringify(body),
      });
    } catch (e) {
      return { status: 0, body: { ok: false, error: 'offline', message: t('hh.offline') } };
    }
    delete pendingKeys[panel];
    const answer = await r.json().catch(() => ({}));
    if (r.status === 401) toLogin();
    return { status: r.status, body: answer };
  }

  function setResult(panel, body) {
    results[panel] = body;
    renderResult(panel);
  }

  function renderResult(panel) {
    const el = $(panel + '-result');
    const body = results[panel];
    if (!el || !body) return;
    el.hidden = false;
    el.dataset.ok = String(!!body.ok);
    el.textContent = textOf(body);
  }

  // --- login --------------------------------------------------------------------------

  function toLogin() {
    me = null;
    csrf = '';
    sessionStorage.removeItem(CSRF_KEY);
    clearTimeout(jobTimer);
    $('who').textContent = '';
    $('logout').hidden = true;
    show('v-login');
  }

  async function login(e) {
    e.preventDefault();
    const btn = $('login-btn');
    if (btn.disabled) return;
    const badge = $('badge').value.trim().replace(/^OP-/i, '');
    const pin = $('pin').value;
    if (!badge) return;
    if (!pin) { $('pin').focus(); return; }
    btn.disabled = true;
    try {
      const r = await fetch('/api/v1/session', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Accept-Language': lang },
        body: JSON.stringify({ badge, pin, lang }),
      });
      const body = await r.json().catch(() => ({}));
      if (!r.ok) { say(textOf(body), 'error'); $('pin').value = ''; $('pin').focus(); return; }
      csrf = body.csrf_token;
      sessionStorage.setItem(CSRF_KEY, csrf);
      $('pin').value = '';
      $('badge').value = '';
      say('');
      await afterLogin();
    } catch (err) {
      say(t('hh.offline'), 'error');
    } finally {
      btn.disabled = false;
    }
  }

  async function afterLogin() {
    me = await getJson('/api/v1/me');
    $('who').textContent = me.badge;
    $('logout').hidden = false;
    if (!(me.roles || []).includes('supervisor')) {
      renderDenied();
      show('v-denied');
      return;
    }
    show('v-main');
    await Promise.all([loadStock(), loadDefects()]);
  }

  function renderDenied() {
    if (me) $('denied').textContent = t('sv.denied', { badge: me.badge });
  }

  // --- stock per zone -----------------------------------------------------------------

  // `good/A01` → "Good zone A01" (the bin kept as it is).
  function zoneName(z) {
    const [base, bin] = String(z).split('/');
    const w = strings['zone.' + base] || base;
    return bin ? w + ' ' + bin : w;
  }

  let stock = [];
  async function loadStock() {
    try { stock = (await getJson('/api/v1/zones')).stock || []; } catch (e) { say(e.message, 'error'); return; }
    renderStock();
  }

  function renderStock() {
    $('stock').replaceChildren(...stock.map((s) => {
      const tr = document.createElement('tr');
      tr.dataset.zone = s.zone;
      tr.dataset.sku = s.sku;
      for (const [v, cls] of [[zoneName(s.zone), 'zone'], [s.sku, 'sku'], [String(s.qty), 'num']]) {
        const td = document.createElement('td');
        td.className = cls;
        td.textContent = v;
        tr.appendChild(td);
      }
      return tr;
    }));
    $('no-stock').hidden = stock.length > 0;
  }

  // --- return-to-vendor note ----------------------------------------------------------

  // Items whose zone is the defect zone (or one of its bins), from the put-away returns.
  async function loadDefects() {
    let list;
    try { list = await getJson('/api/v1/returns?stage=put_away&limit=500'); } catch (e) { say(e.message, 'error'); return; }
    const out = [];
    const ids = (list.items || []).map((r) => r.return_id);
    const details = await Promise.all(ids.map((id) =>
      getJson('/api/v1/returns/' + encodeURIComponent(id)).catch(() => null)));
    details.forEach((d, n) => {
      const st = (d && d.state) || {};
      for (const i of st.items || []) {
        if (i.voided || !/^defect(\/|$)/.test(String(i.zone || ''))) continue;
        out.push({ ref: ids[n] + '.' + i.item_no, return_id: ids[n], item_no: i.item_no,
          sku: i.sku || '', name: i.name || '', zone: i.zone });
      }
    });
    out.sort((a, b) => a.ref.localeCompare(b.ref));
    defects = out;
    for (const r of [...picked]) if (!defects.some((d) => d.ref === r)) picked.delete(r);
    renderDefects();
  }

  function renderDefects() {
    $('defects').replaceChildren(...defects.map((d) => {
      const li = document.createElement('li');
      const label = document.createElement('label');
      label.className = 'pick';
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.value = d.ref;
      box.checked = picked.has(d.ref);
      box.addEventListener('change', () => { if (box.checked) picked.add(d.ref); else picked.delete(d.ref); });
      const ref = document.createElement('span');
      ref.className = 'ref';
      ref.textContent = d.ref;
      const meta = document.createElement('span');
      meta.className = 'muted';
      meta.textContent = [d.sku, d.name, zoneName(d.zone)].filter(Boolean).join(' · ');
      label.append(box, ref, meta);
      li.dataset.ref = d.ref;
      li.appendChild(label);
      return li;
    }));
    $('no-defects').hidden = defects.length > 0;
  }

  async function createNote(e) {
    e.preventDefault();
    const btn = $('rtv-btn');
    if (btn.disabled) return;
    const items = defects.map((d) => d.ref).filter((r) => picked.has(r));
    const vendor = $('vendor').value.trim();
    if (!items.length) { say(t('sv.need_items'), 'error'); return; }
    if (!vendor) { say(t('sv.need_vendor'), 'error'); $('vendor').focus(); return; }
    btn.disabled = true;
    try {
      const a = await command('rtv', '/api/v1/rtv-notes', { vendor, items });
      if (!a.body.ok) { say(textOf(a.body), 'error'); return; }
      say(textOf(a.body));
      note = { no: a.body.params && a.body.params.note_no, job: null };
      picked.clear();
      $('vendor').value = '';
      renderNote();
      pollJob(0);
      await Promise.all([loadDefects(), loadStock()]);
    } finally {
      btn.disabled = false;
    }
  }

  function renderNote() {
    if (!note) return;
    $('rtv-result').hidden = false;
    $('rtv-note').textContent = t('sv.note_no', { note_no: note.no });
    const job = $('rtv-job');
    job.dataset.state = note.job ? note.job.state : '';
    job.textContent = note.job
      ? t('sv.job_state', { state: strings['job.state.' + note.job.state] || note.job.state })
      : t('sv.job_none');
  }

  // The note's print job, until it is printed or failed (every 1.5 s, at most 2 min).
  async function pollJob(n) {
    clearTimeout(jobTimer);
    if (!note || !me) return;
    try {
      const jobs = (await getJson('/api/v1/print-jobs?all=1&limit=1000')).jobs || [];
      const j = jobs.filter((x) => x.template === 'rtv_note' && x.subject === note.no).pop();
      if (j) note.job = { state: j.state };
      renderNote();
    } catch (e) { /* shown on the next try */ }
    const done = note.job && ['confirmed', 'failed'].includes(note.job.state);
    if (!done && n < 80) jobTimer = setTimeout(() => pollJob(n + 1), 1500);
  }

  // --- reprint and void ---------------------------------------------------------------

  // The return id and the reason of a form, or null (said why).
  function idAndReason(idField, reasonField) {
    const id = $(idField).value.trim().toUpperCase();
    const reason = $(reasonField).value.trim();
    if (!RETURN_ID.test(id)) { say(t('sv.bad_return', { code: id }), 'error'); $(idField).focus(); return null; }
    if (!reason) { say(t('sv.need_reason'), 'error'); $(reasonField).focus(); return null; }
    return { id, reason };
  }

  async function reprint(e) {
    e.preventDefault();
    const btn = $('reprint-btn');
    if (btn.disabled) return;
    const v = idAndReason('reprint-id', 'reprint-reason');
    if (!v) return;
    btn.disabled = true;
    try {
      const a = await command('reprint', '/api/v1/returns/' + encodeURIComponent(v.id) + '/reprint', { reason: v.reason });
      say(a.body.ok ? '' : textOf(a.body), a.body.ok ? 'info' : 'error');
      setResult('reprint', a.body);
      if (a.body.ok) $('reprint-reason').value = '';
    } finally {
      btn.disabled = false;
    }
  }

  let voidAsk = null; // {id, reason} waiting for the confirm
  function askVoid(e) {
    e.preventDefault();
    const v = idAndReason('void-id', 'void-reason');
    if (!v) return;
    say('');
    voidAsk = v;
    renderVoidAsk();
    $('void-confirm').hidden = false;
    $('void-yes').focus();
  }

  function renderVoidAsk() {
    if (voidAsk) $('void-question').textContent = t('sv.void_confirm', { return_id: voidAsk.id, reason: voidAsk.reason });
  }

  function cancelVoid() {
    voidAsk = null;
    $('void-confirm').hidden = true;
  }

  async function doVoid() {
    const btn = $('void-yes');
    if (btn.disabled || !voidAsk) return;
    btn.disabled = true;
    const v = voidAsk;
    try {
      const a = await command('void', '/api/v1/returns/' + encodeURIComponent(v.id) + '/void', { reason: v.reason });
      say(a.body.ok ? '' : textOf(a.body), a.body.ok ? 'info' : 'error');
      setResult('void', a.body);
      if (a.status !== 0) cancelVoid();
      if (a.body.ok) { $('void-id').value = ''; $('void-reason').value = ''; loadStock(); loadDefects(); }
    } finally {
      btn.disabled = false;
    }
  }

  // --- language and start -------------------------------------------------------------

  async function loadStrings() {
    const q = lang ? '?lang=' + encodeURIComponent(lang) : '';
    const r = await fetch('/api/v1/i18n' + q, { cache: 'no-store' });
    const body = await r.json();
    strings = body.strings || {};
    lang = body.lang;
    document.documentElement.lang = lang;
    translate(document);
    document.title = t('sv.title');
    renderDenied();
    renderStock();
    renderDefects();
    renderNote();
    renderVoidAsk();
    for (const p of Object.keys(results)) renderResult(p);
  }

  async function switchLang() {
    lang = lang === 'en' ? 'zh-CN' : 'en';
    localStorage.setItem(LANG_KEY, lang);
    say('');
    await loadStrings();
  }

  async function logout() {
    try { await fetch('/api/v1/session', { method: 'DELETE', headers: headers() }); } catch (e) { /* offline */ }
    toLogin();
  }

  async function start() {
    lang = localStorage.getItem(LANG_KEY);
    for (let wait = 1000; ; wait = Math.min(wait * 2, 15000)) {
      try { await loadStrings(); break; } catch (e) { await new Promise((r) => setTimeout(r, wait)); }
    }
    $('lang').addEventListener('click', switchLang);
    $('logout').addEventListener('click', logout);
    $('login-form').addEventListener('submit', login);
    $('badge').addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !$('pin').value) { e.preventDefault(); $('pin').focus(); }
    });
    $('stock-refresh').addEventListener('click', loadStock);
    $('rtv-refresh').addEventListener('click', loadDefects);
    $('rtv-form').addEventListener('submit', createNote);
    $('reprint-form').addEventListener('submit', reprint);
    $('void-form').addEventListener('submit', askVoid);
    $('void-yes').addEventListener('click', doVoid);
    $('void-no').addEventListener('click', cancelVoid);
    if (!csrf) { toLogin(); return; }
    try { await afterLogin(); } catch (e) { toLogin(); }
  }

  start();
})();
