// The supervisor's page: log in (badge + PIN; only the supervisor role may go on), stock
// per zone, the bins (add, relabel, retire or reactivate after a confirm step), the
// return-to-vendor note over the items of GET /api/v1/defect-items (with its print job's
// state), the RTV notes (close one after a confirm step, with an optional carrier waybill
// and note), reprint a return's label with a reason, void a return with a reason after a
// confirm step; while a photo the station cannot upload holds the sync back (GET
// /api/v1/sync push.blocked_photo, contract 1.1) say which and acknowledge it as lost with
// a reason; the day's report (figures, the defect Pareto by reason and by SKU as SVG
// charts, the day's quality-check sheets and their one-file download, any return's sheet
// by id). Every word comes from GET /api/v1/i18n; texts are set with textContent
// only (t, textOf, headers… are in common.js). Commands carry X-CSRF-Token and an
// Idempotency-Key (kept for a resend of the same request after a network error, so it is
// applied once).
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
  let bins = [];               // GET /zones bins
  let notes = [];              // GET /rtv-notes notes
  let binAsk = null;           // {bin, action: 'retire'|'reactivate'} waiting for the confirm
  let closeAsk = null;         // note number waiting for the close confirm
  let jobTimer = null;
  let blocked = null;          // GET /sync push.blocked_photo, or null
  let rejected = [];           // GET /sync feed.recent_rejected (newest first)
  let rejectedTotal = 0;       // GET /sync feed.rejected_items
  let ackedSha = null;         // the photo this page acknowledged as lost (its push goes on)
  let syncTimer = null;
  const results = {};          // panel -> body of the last answer, re-rendered on a language switch
  const pendingKeys = {};      // panel -> {sig, key}: a resend after a network error keeps its key

  const $ = (id) => document.getElementById(id);

  // t, textOf, translate, say, headers, getJson: common.js, over this page's state.
  const common = Returnsd.page({
    lang: () => lang,
    strings: () => strings,
    csrf: () => csrf,
    setCsrf: (token) => { csrf = token; },
    csrfKey: CSRF_KEY,
    onUnauthorized: () => toLogin(),
  });
  const { t, textOf, translate, say, headers, getJson } = common;
  // An enum value's word (zn.class.good, zn.note.open…).
  const word = (group, value) => t(group + '.' + value);
  // A journal time as the station's local date and time (yyyy-mm-dd hh:mm).
  function when(at) {
    const d = new Date(at);
    if (isNaN(d)) return at || '';
    const p = (n) => String(n).padStart(2, '0');
    return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + ' ' + p(d.getHours()) + ':' + p(d.getMinutes());
  }

  function show(view) {
    for (const v of ['v-login', 'v-denied', 'v-main']) $(v).hidden = v !== view;
    document.body.dataset.view = view;
    if (view === 'v-login') $('badge').focus();
  }

  const newKey = () => common.newKey('sv-');

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

  // Journal events that change what this page shows (stock, bins, defect items, notes).
  const PAGE_EVENTS = ['ledger.entry', 'zone.bin_set', 'inspection.completed', 'item.moved',
    'rtv.note_created', 'rtv.note_closed', 'return.voided'];
  let live = null;

  function toLogin() {
    if (live) { live.close(); live = null; }
    for (const k of Object.keys(shown)) delete shown[k];
    me = null;
    common.dropSession();
    clearTimeout(jobTimer);
    clearInterval(syncTimer);
    show('v-login');
  }

  async function login(e) {
    await common.login(e, afterLogin);
  }

  async function afterLogin() {
    me = await common.whoAmI();
    if (!(me.roles || []).includes('supervisor')) {
      renderDenied();
      show('v-denied');
      return;
    }
    show('v-main');
    if (live) live.close();
    // Another supervisor's or an inspector's change shows without touching refresh.
    live = common.follow(PAGE_EVENTS, () => { if (me) Promise.all([loadStock(), loadDefects(), loadNotes(), loadDay()]); });
    clearInterval(syncTimer);
    syncTimer = setInterval(() => { if (me) loadSync(); }, SYNC_EVERY_MS);
    await Promise.all([loadStock(), loadDefects(), loadNotes(), loadSync(), loadDay()]);
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

  // What each panel last showed: a reload that reads the same data leaves the panel alone
  // (no flicker, and a tap in progress lands where it was aimed).
  const shown = {};
  function changed(panel, data) {
    const sig = JSON.stringify(data);
    if (shown[panel] === sig) return false;
    shown[panel] = sig;
    return true;
  }

  let stock = [];
  // GET /zones: the stock per zone and the bins (one read for both panels).
  async function loadStock() {
    let z;
    try { z = await getJson('/api/v1/zones'); } catch (e) { say(e.message, 'error'); return; }
    if (!changed('zones', z)) return;
    stock = z.stock || [];
    bins = z.bins || [];
    renderStock();
    renderBins();
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

  // Every item in the defect zone or a defect bin, in one read (GET /defect-items).
  async function loadDefects() {
    let list;
    try { list = await getJson('/api/v1/defect-items'); } catch (e) { say(e.message, 'error'); return; }
    if (!changed('defects', list)) return;
    const out = (list.items || []).map((i) => ({ ref: i.ref, return_id: i.return_id, item_no: i.item_no,
      sku: i.sku || '', name: i.name || '', zone: i.zone }));
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
      await Promise.all([loadDefects(), loadStock(), loadNotes()]);
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

  // --- bins ---------------------------------------------------------------------------

  const BIN_CODE = /^[A-Z0-9-]{1,16}$/;

  function cell(cls, text) {
    const el = document.createElement('span');
    el.className = cls;
    el.textContent = text;
    return el;
  }

  function button(cls, key, onClick) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'small ' + cls;
    b.textContent = t(key);
    b.addEventListener('click', onClick);
    return b;
  }

  function renderBins() {
    $('bins').replaceChildren(...bins.map((b) => {
      const li = document.createElement('li');
      li.className = 'bin';
      li.dataset.bin = b.code;
      li.dataset.active = String(!!b.active);
      const state = t(b.active ? 'zn.active' : 'zn.retired') + ' · ' + word('zn.source', b.source);
      const main = document.createElement('div');
      main.className = 'line';
      main.append(cell('code', b.code), cell('class', word('zn.class', b.class)),
        cell('units', t('zn.units') + ' ' + b.units), cell('state', state));
      const label = cell('label muted', b.label || '');
      const acts = document.createElement('div');
      acts.className = 'acts';
      acts.append(button('edit', 'zn.edit', () => editBin(b)),
        b.active
          ? button('retire danger', 'zn.retire', () => askBin(b.code, 'retire'))
          : button('reactivate', 'zn.reactivate', () => askBin(b.code, 'reactivate')));
      li.append(main, label, acts);
      return li;
    }));
    $('no-bins').hidden = bins.length > 0;
  }

  function editBin(b) {
    $('bin-code').value = b.code;
    $('bin-class').value = b.class;
    $('bin-label').value = b.label || '';
    $('bin-label').focus();
  }

  async function saveBin(e) {
    e.preventDefault();
    const btn = $('bin-btn');
    if (btn.disabled) return;
    const code = $('bin-code').value.trim().toUpperCase().replace(/^Z-/, '');
    if (!BIN_CODE.test(code)) { say(t('zn.bad_code', { code }), 'error'); $('bin-code').focus(); return; }
    const label = $('bin-label').value.trim();
    btn.disabled = true;
    try {
      const a = await command('bins', '/api/v1/zones/bins', { code, class: $('bin-class').value, label });
      say(a.body.ok ? '' : textOf(a.body), a.body.ok ? 'info' : 'error');
      setResult('bins', a.body);
      if (a.body.ok) { $('bin-code').value = ''; $('bin-label').value = ''; await loadStock(); }
    } finally {
      btn.disabled = false;
    }
  }

  function askBin(bin, action) {
    say('');
    binAsk = { bin, action };
    renderBinAsk();
    $('bin-confirm').hidden = false;
    $('bin-yes').focus();
  }

  function renderBinAsk() {
    if (!binAsk) return;
    const key = binAsk.action === 'retire' ? 'zn.retire_confirm' : 'zn.reactivate_confirm';
    $('bin-question').textContent = t(key, { bin: binAsk.bin });
  }

  function cancelBin() {
    binAsk = null;
    $('bin-confirm').hidden = true;
  }

  async function doBin() {
    const btn = $('bin-yes');
    if (btn.disabled || !binAsk) return;
    btn.disabled = true;
    const v = binAsk;
    try {
      const a = await command('bins', '/api/v1/zones/bins/' + encodeURIComponent(v.bin) + '/' + v.action, {});
      say(a.body.ok ? '' : textOf(a.body), a.body.ok ? 'info' : 'error');
      setResult('bins', a.body);
      if (a.status !== 0) cancelBin();
      if (a.body.ok) await loadStock();
    } finally {
      btn.disabled = false;
    }
  }

  // --- RTV notes ----------------------------------------------------------------------

  async function loadNotes() {
    let list;
    try { list = (await getJson('/api/v1/rtv-notes')).notes || []; } catch (e) { say(e.message, 'error'); return; }
    if (!changed('notes', list)) return;
    notes = list;
    renderNotes();
  }

  function renderNotes() {
    $('notes').replaceChildren(...notes.map((n) => {
      const li = document.createElement('li');
      li.className = 'note';
      li.dataset.note = n.note_no;
      li.dataset.state = n.state;
      const head = document.createElement('div');
      head.className = 'line';
      head.append(cell('no', n.note_no), cell('state', word('zn.note', n.state)));
      const meta = cell('meta muted', t('zn.created', { vendor: n.vendor, items: n.items, at: when(n.created_at), by: n.created_by }));
      const lines = cell('lines muted', (n.lines || []).map((l) => l.ref + ' ' + l.sku).join(', '));
      li.append(head, meta, lines);
      if (n.closed) {
        li.append(cell('closed', t('zn.closed_by', { at: when(n.closed.at), by: n.closed.by,
          waybill: n.closed.waybill || '', note: n.closed.note || '' }).replace(/\s+/g, ' ').trim()));
      } else {
        const acts = document.createElement('div');
        acts.className = 'acts';
        acts.append(button('close primary', 'zn.close', () => askClose(n.note_no)));
        li.append(acts);
      }
      return li;
    }));
    $('no-notes').hidden = notes.length > 0;
  }

  function askClose(no) {
    say('');
    closeAsk = no;
    $('close-waybill').value = '';
    $('close-note').value = '';
    renderCloseAsk();
    $('close-box').hidden = false;
    $('close-waybill').focus();
  }

  function renderCloseAsk() {
    if (closeAsk) $('close-question').textContent = t('zn.close_confirm', { note_no: closeAsk });
  }

  function cancelClose() {
    closeAsk = null;
    $('close-box').hidden = true;
  }

  async function doClose() {
    const btn = $('close-yes');
    if (btn.disabled || !closeAsk) return;
    btn.disabled = true;
    const no = closeAsk;
    const body = { waybill: $('close-waybill').value.trim().toUpperCase(), note: $('close-note').value.trim() };
    try {
      const a = await command('notes', '/api/v1/rtv-notes/' + encodeURIComponent(no) + '/close', body);
      say(a.body.ok ? '' : textOf(a.body), a.body.ok ? 'info' : 'error');
      setResult('notes', a.body);
      if (a.body.ok) { cancelClose(); await loadNotes(); }
    } finally {
      btn.disabled = false;
    }
  }

  // --- a photo holding the sync back (contract 1.1) -------------------------------------

  // The push's state is not a journal event: it is read again this often.
  const SYNC_EVERY_MS = 10000;

  async function loadSync() {
    let s;
    try { s = await getJson('/api/v1/sync'); } catch (e) { return; }
    blocked = (s.push && s.push.blocked_photo) || null;
    rejected = (s.feed && s.feed.recent_rejected) || [];
    rejectedTotal = (s.feed && s.feed.rejected_items) || 0;
    renderSync();
  }

  // The sync panel: shown while a photo holds the push back, or while the central's feed
  // (or a manifest file) has items the station refused — each with its reason (contract
  // 1.1: the reason, not only a count).
  function renderSync() {
    $('p-sync').hidden = !blocked && !rejected.length;
    $('sync-rejected').hidden = !rejected.length;
    $('rejected-title').textContent = t('sv.rejected_title', { n: rejected.length, total: rejectedTotal });
    $('rejected').replaceChildren(...rejected.map((r) => {
      const li = document.createElement('li');
      li.className = 'note rejected';
      li.dataset.key = r.key || '';
      const line = document.createElement('div');
      line.className = 'line';
      line.append(cell('no', [r.type, r.key].filter(Boolean).join(' ') || '?'),
        cell('state', r.version != null ? 'v' + r.version : ''),
        cell('muted', word('sv.rejected_source', r.source) + ' · ' + when(r.at)));
      const why = cell('meta reason', r.reason || '');
      li.append(line, why);
      return li;
    }));
    $('sync-photo').hidden = !blocked;
    $('lost-form').hidden = !blocked;
    if (!blocked) return;
    const done = blocked.sha256 === ackedSha;
    $('sync-photo').hidden = done;
    $('lost-form').hidden = done;
    $('sync-photo').textContent = t('sv.photo_blocked', {
      sha256: blocked.sha256_prefix,
      photo_problem: word('photo_problem', blocked.problem),
      seq: blocked.seq,
    });
  }

  async function ackLost(e) {
    e.preventDefault();
    const btn = $('lost-btn');
    if (btn.disabled || !blocked) return;
    const reason = $('lost-reason').value.trim();
    if (!reason) { say(t('sv.need_reason'), 'error'); $('lost-reason').focus(); return; }
    btn.disabled = true;
    try {
      const a = await command('sync', '/api/v1/photos/lost', { sha256: blocked.sha256, reason });
      say(a.body.ok ? '' : textOf(a.body), a.body.ok ? 'info' : 'error');
      setResult('sync', a.body);
      if (a.body.ok) { $('lost-reason').value = ''; ackedSha = blocked.sha256; renderSync(); }
    } finally {
      btn.disabled = false;
    }
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

  // --- the day's report ---------------------------------------------------------------

  let day = null;              // GET /reports/daily
  const SVG = 'http://www.w3.org/2000/svg';
  const KINDS = ['customer_return', 'carrier_return', 'refused', 'unknown'];

  // GET /reports/daily for the date picked (the station's today when none is): figures,
  // the Pareto of defects by reason and by SKU, the returns inspected that day.
  async function loadDay() {
    const date = $('day-date').value;
    const q = '?lang=' + encodeURIComponent(lang) + (date ? '&date=' + encodeURIComponent(date) : '');
    let r;
    try { r = await getJson('/api/v1/reports/daily' + q); } catch (e) { say(e.message, 'error'); return; }
    day = r;
    if (!date) $('day-date').value = r.date;
    renderDay();
  }

  function showDay(e) {
    e.preventDefault();
    loadDay();
  }

  function renderDay() {
    if (!day) return;
    const kinds = KINDS.filter((k) => day.received.by_kind[k])
      .map((k) => (k === 'unknown' ? t('qc.kind_unknown') : word('kind', k)) + ' ' + day.received.by_kind[k]);
    const rows = [
      ['received', 'sv.day_received', day.received.total + (kinds.length ? ' (' + kinds.join(' · ') + ')' : '')],
      ['unannounced', 'sv.day_unannounced', day.unannounced],
      ['card_missing', 'sv.day_card_missing', day.card_missing],
      ['first_checked', 'sv.day_first_checked', day.first_checked],
      ['inspected', 'sv.day_inspected', day.inspected_returns + ' / ' + day.inspected_units],
      ['good', 'sv.day_good', day.good_units],
      ['defect', 'sv.day_defect', day.defect_units],
      ['refund_passed', 'sv.day_refund_passed', day.refund_deadline_passed],
      ['exchange_overdue', 'sv.day_exchange_overdue', day.exchange_overdue],
    ];
    $('day-figures').replaceChildren(...rows.map(([key, label, value]) => {
      const tr = document.createElement('tr');
      tr.dataset.figure = key;
      const th = document.createElement('th');
      th.textContent = t(label);
      const td = document.createElement('td');
      td.className = 'num';
      td.textContent = String(value);
      tr.append(th, td);
      return tr;
    }));
    drawPareto('pareto-reasons', day.pareto_reasons || []);
    drawPareto('pareto-skus', day.pareto_skus || []);
    const date = encodeURIComponent(day.date);
    const l = encodeURIComponent(lang);
    $('day-export').href = '/api/v1/qc-sheets?date=' + date + '&lang=' + l;
    $('day-sheets').replaceChildren(...(day.returns_inspected || []).map((id) => {
      const li = document.createElement('li');
      const a = document.createElement('a');
      a.href = '/api/v1/returns/' + encodeURIComponent(id) + '/qc-sheet?lang=' + l;
      a.target = '_blank';
      a.rel = 'noopener';
      a.textContent = id;
      li.appendChild(a);
      return li;
    }));
  }

  function svgEl(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // A Pareto chart of the ten largest: a bar per key (units), largest first, and the
  // cumulative share as a line with its percentage at the right.
  function drawPareto(id, rows) {
    const svg = $(id);
    const top = rows.slice(0, 10);
    $('no-' + id).hidden = top.length > 0;
    svg.hidden = top.length === 0;
    if (!top.length) { svg.replaceChildren(); return; }
    const W = 600, ROW = 30, HEAD = 22, LABEL = 200, PCT = 56;
    const barMax = W - LABEL - PCT - 40;
    const H = HEAD + top.length * ROW + 6;
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    svg.setAttribute('aria-label', top.map((r) => (r.label || r.key) + ' ' + r.units).join(', '));
    const max = Math.max(1, ...top.map((r) => r.units));
    const short = (s) => (s.length > 16 ? s.slice(0, 15) + '…' : s);
    const kids = [
      svgEl('text', { x: W - 4, y: 15, 'text-anchor': 'end', fill: '#ffc233', 'font-size': 12 }, t('sv.pareto_cumulative')),
      svgEl('line', { x1: LABEL, y1: HEAD - 2, x2: LABEL, y2: H - 4, stroke: '#33404d' }),
    ];
    const points = [];
    top.forEach((r, i) => {
      const y = HEAD + i * ROW;
      const w = Math.max(3, (barMax * r.units) / max);
      const name = r.label || r.key;
      kids.push(svgEl('text', { x: LABEL - 8, y: y + 20, 'text-anchor': 'end', fill: '#f3f6f9', 'font-size': 14 }, short(name)));
      const bar = svgEl('rect', { x: LABEL, y: y + 5, width: w.toFixed(1), height: ROW - 10, rx: 3, fill: '#d9534f',
        class: 'bar', 'data-key': r.key, 'data-units': r.units });
      bar.appendChild(svgEl('title', {}, name + ': ' + r.units));
      kids.push(bar);
      kids.push(svgEl('text', { x: (LABEL + w + 6).toFixed(1), y: y + 20, fill: '#f3f6f9', 'font-size': 14 }, String(r.units)));
      kids.push(svgEl('text', { x: W - 4, y: y + 20, 'text-anchor': 'end', fill: '#ffc233', 'font-size': 13, class: 'pct' },
        r.cumulative_pct + '%'));
      points.push([LABEL + (barMax * r.cumulative_pct) / 100, y + ROW / 2]);
    });
    kids.push(svgEl('polyline', { points: points.map((p) => p[0].toFixed(1) + ',' + p[1]).join(' '),
      fill: 'none', stroke: '#ffc233', 'stroke-width': 2, class: 'cum' }));
    for (const [x, y] of points) kids.push(svgEl('circle', { cx: x.toFixed(1), cy: y, r: 3.5, fill: '#ffc233' }));
    svg.replaceChildren(...kids);
  }

  // Open one return's sheet in a new tab.
  function openSheet(e) {
    e.preventDefault();
    const id = $('qc-id').value.trim().toUpperCase();
    if (!RETURN_ID.test(id)) { say(t('sv.bad_return', { code: id }), 'error'); $('qc-id').focus(); return; }
    window.open('/api/v1/returns/' + encodeURIComponent(id) + '/qc-sheet?lang=' + encodeURIComponent(lang), '_blank', 'noopener');
  }

  // --- language and start -------------------------------------------------------------

  async function loadStrings() {
    const body = await common.fetchStrings(lang);
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
    renderBins();
    renderBinAsk();
    renderNotes();
    renderCloseAsk();
    renderSync();
    // The reasons' labels come in the report's language: read it again.
    if (me && day) loadDay();
    for (const p of Object.keys(results)) renderResult(p);
  }

  async function switchLang() {
    lang = lang === 'en' ? 'zh-CN' : 'en';
    localStorage.setItem(LANG_KEY, lang);
    say('');
    await loadStrings();
  }

  async function logout() {
    await common.endSession();
    toLogin();
  }

  async function start() {
    lang = localStorage.getItem(LANG_KEY);
    await common.untilLoaded(loadStrings);
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
    $('zones-refresh').addEventListener('click', loadStock);
    $('bin-form').addEventListener('submit', saveBin);
    $('bin-yes').addEventListener('click', doBin);
    $('bin-no').addEventListener('click', cancelBin);
    $('notes-refresh').addEventListener('click', loadNotes);
    $('close-yes').addEventListener('click', doClose);
    $('close-no').addEventListener('click', cancelClose);
    $('sync-refresh').addEventListener('click', loadSync);
    $('lost-form').addEventListener('submit', ackLost);
    $('day-form').addEventListener('submit', showDay);
    $('day-refresh').addEventListener('click', loadDay);
    $('qc-form').addEventListener('submit', openSheet);
    if (!csrf) { toLogin(); return; }
    try { await afterLogin(); } catch (e) { toLogin(); }
  }

  start();
})();
