// The inspector's handheld: log in (badge + PIN), the inspection queue, scan a return
// label, grade each item (defect reasons, note, photo), confirm, put away by scanning
// item labels and a zone or bin (a return label or an item label of an inspected return
// scanned in the queue opens its put-away). Every word comes from GET /api/v1/i18n; texts are set with textContent only.
// Submits go through an outbox kept in memory and localStorage with their
// Idempotency-Key: a network error keeps them and they are resent until an HTTP answer
// arrives (the server applies one key once).
'use strict';

(() => {
  const LANG_KEY = 'returnsd.hh.lang';
  const CSRF_KEY = 'returnsd.hh.csrf';
  const OUTBOX_KEY = 'returnsd.hh.outbox';
  const RETURN_ID = /^R-[A-Z0-9]+-\d{8}-\d+/;
  const ITEM_LABEL = /^(R-[A-Z0-9]+-\d{8}-\d+)\.(\d+)$/;
  const ZONE = /^Z-[A-Z0-9_-]+$/;
  let lang = null;
  let strings = {};
  let csrf = sessionStorage.getItem(CSRF_KEY) || '';
  let me = null;
  let reasons = [];
  let photoRequired = true;
  let current = null;        // the return being inspected: {id, detail, items: [{no, grade, reasons, note, photos}]}
  let live = null;           // the event stream: the queue follows first checks and inspections
  let queueShown = '';       // the rows the queue list shows (JSON), to skip identical reloads
  let putaway = null;        // the return being put away: {id, items: [{no, sku, name, grade}], picked: Set of item nos}
  let lastResult = null;     // {code, params, message} of the last command, re-rendered on a language switch
  let outcome = null;        // after an inspection: {freight, tags: [print job ids]}
  let outbox = loadOutbox();
  const waiters = new Map(); // Idempotency-Key -> resolve
  let retryTimer = null;
  let retryDelay = 2000;
  let flushing = false;

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
  const newKey = () => common.newKey('hh-');
  // An enum value's word (kind.customer_return, stage.inspected…).
  const word = (group, value) => t(group + '.' + value);

  function show(view) {
    for (const v of ['v-login', 'v-queue', 'v-return', 'v-done']) $(v).hidden = v !== view;
    document.body.dataset.view = view;
    const focus = { 'v-login': 'badge', 'v-queue': 'scan', 'v-done': 'zone' }[view];
    if (focus) $(focus).focus();
  }

  // Wedge scanners type the code and press Enter: the form's submit is the one handler
  // (no keydown handler), a submit while one is in flight is ignored, and the same code
  // again within 500 ms is a double read.
  function onSubmit(form, input, fn) {
    let busy = false;
    let last = { code: '', at: 0 };
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const code = input.value.trim().toUpperCase();
      const now = Date.now();
      if (busy || !code || (code === last.code && now - last.at < 500)) return;
      last = { code, at: now };
      busy = true;
      form.querySelectorAll('button').forEach((b) => { b.disabled = true; });
      try {
        await fn(code);
      } finally {
        busy = false;
        form.querySelectorAll('button').forEach((b) => { b.disabled = false; });
        input.value = '';
      }
    });
  }

  // --- outbox -------------------------------------------------------------------------

  function loadOutbox() {
    try { return JSON.parse(localStorage.getItem(OUTBOX_KEY) || '[]'); } catch (e) { return []; }
  }

  function saveOutbox() {
    localStorage.setItem(OUTBOX_KEY, JSON.stringify(outbox));
    const waiting = outbox.filter((o) => o.failed && me && o.badge === me.badge).length;
    $('outbox').hidden = waiting === 0;
    $('outbox-text').textContent = t('hh.pending', { n: waiting });
    document.body.dataset.outbox = String(waiting);
  }

  // Queue a command; resolves with {status, body} once the server answered.
  function submit(path, body) {
    const entry = { key: newKey(), badge: me ? me.badge : '', path, body, csrf, failed: false };
    outbox.push(entry);
    saveOutbox();
    const p = new Promise((resolve) => waiters.set(entry.key, resolve));
    flush();
    return p;
  }

  async function sendOne(entry) {
    let r;
    try {
      r = await fetch(entry.path, {
        method: 'POST',
        cache: 'no-store',
        headers: Object.assign(headers({ 'Content-Type': 'application/json', 'Idempotency-Key': entry.key }),
          entry.csrf ? { 'X-CSRF-Token': entry.csrf } : {}),
        body: JSON.stringify(entry.body),
      });
    } catch (e) {
      return null; // no HTTP answer: keep it
    }
    const body = await r.json().catch(() => ({}));
    if (r.status === 409 && body.error === 'idempotency_in_progress') return null;
    return { status: r.status, body };
  }

  async function flush() {
    if (flushing) return;
    flushing = true;
    clearTimeout(retryTimer);
    try {
      // Only this operator's submits: a key is one operator's (another's would run again).
      for (;;) {
        const entry = outbox.find((o) => me && o.badge === me.badge);
        if (!entry) return;
        const answer = await sendOne(entry);
        if (!answer) {
          entry.failed = true;
          saveOutbox();
          retryTimer = setTimeout(flush, retryDelay);
          retryDelay = Math.min(retryDelay * 2, 15000);
          return;
        }
        retryDelay = 2000;
        outbox = outbox.filter((o) => o.key !== entry.key);
        saveOutbox();
        const resolve = waiters.get(entry.key);
        waiters.delete(entry.key);
        if (resolve) resolve(answer);
        else say(textOf(answer.body), answer.body.ok ? 'info' : 'error'); // sent before a reload
      }
    } finally {
      flushing = false;
    }
  }

  // --- login and queue ----------------------------------------------------------------

  // Journal events that change the inspection queue.
  const QUEUE_EVENTS = ['check.first_completed', 'inspection.completed', 'return.voided'];

  // While logged in, the queue on screen reloads when a keeper finishes a first check (or
  // a return leaves the queue).
  function follow() {
    if (live) live.close();
    live = common.follow(QUEUE_EVENTS, () => { if (me && !$('v-queue').hidden) loadQueue(); });
  }

  function toLogin() {
    if (live) { live.close(); live = null; }
    me = null;
    common.dropSession();
    show('v-login');
  }

  async function login(e) {
    await common.login(e, afterLogin);
  }

  async function afterLogin() {
    me = await common.whoAmI();
    const d = await getJson('/api/v1/defect-reasons');
    reasons = d.reasons || [];
    photoRequired = !!d.photo_required;
    saveOutbox();
    show('v-queue');
    follow();
    await loadQueue();
    for (const o of outbox) if (o.badge === me.badge) o.csrf = csrf; // kept over a reload: this session's token
    if (outbox.length) flush();
  }

  function duration(min) {
    const m = Math.abs(min);
    return m >= 60 ? t('hh.hm', { h: Math.floor(m / 60), m: m % 60 }) : t('hh.m', { m });
  }

  async function loadQueue() {
    let q;
    try { q = await getJson('/api/v1/inspection-queue'); } catch (e) { say(e.message, 'error'); return; }
    const rows = q.items || [];
    // The same rows again (a live reload): leave the list alone, so a tap lands where aimed.
    const sig = JSON.stringify(rows) + lang;
    if (sig === queueShown && $('queue').childElementCount === rows.length) return;
    queueShown = sig;
    $('queue').replaceChildren(...rows.map((r) => {
      const li = document.createElement('li');
      const b = document.createElement('button');
      b.type = 'button';
      b.dataset.id = r.return_id;
      const id = document.createElement('span');
      id.className = 'qid';
      id.textContent = r.return_id;
      const meta = document.createElement('span');
      meta.className = 'qmeta';
      meta.textContent = [word('kind', r.kind), t('hh.items_n', { n: r.items }),
        t('hh.age_h', { h: r.sla_age_h })].join(' · ');
      const due = document.createElement('span');
      due.className = 'qmeta qdue';
      if (r.due_in_min != null) {
        due.dataset.over = String(r.due_in_min < 0);
        due.textContent = t(r.due_in_min < 0 ? 'hh.overdue' : 'hh.due_in', { t: duration(r.due_in_min) });
      }
      b.append(id, meta, due);
      b.addEventListener('click', () => openReturn(r.return_id));
      li.appendChild(b);
      return li;
    }));
    $('queue-empty').hidden = rows.length > 0;
  }

  // --- one return ---------------------------------------------------------------------

  // A return label opens the return: to grade it, or (graded) to put it away; an item
  // label of a graded item opens the put-away with that item picked.
  async function scanReturn(code) {
    const m = code.match(RETURN_ID);
    if (!m) { say(t('hh.not_a_return', { code }), 'error'); return; }
    const item = code.match(ITEM_LABEL);
    await openReturn(m[0], item ? Number(item[2]) : null);
  }

  // Graded items still in pending: what a put-away can move.
  function waiting(d) {
    return ((d.state || {}).items || []).filter((i) => !i.voided && i.grade && i.zone === 'pending')
      .map((i) => ({ no: i.item_no, sku: i.sku, name: i.name, grade: i.grade }));
  }

  async function openReturn(id, itemNo = null) {
    let d;
    try { d = await getJson('/api/v1/returns/' + encodeURIComponent(id)); } catch (e) { say(e.message, 'error'); return; }
    const st = d.state || {};
    const ungraded = (st.items || []).some((i) => !i.voided && !i.grade
      && (itemNo === null || i.item_no === itemNo));
    if (st.stage !== 'first_checked' || !ungraded) {
      const w = waiting(d);
      if (w.length) {
        lastResult = null;
        outcome = null;
        renderDone();
        startPutAway(id, w, itemNo);
        return;
      }
      say(t('hh.not_waiting', { id, stage: word('stage', st.stage) }), 'error');
      return;
    }
    say('');
    current = {
      id, detail: d,
      items: (st.items || []).filter((i) => !i.voided && !i.grade)
        .map((i) => {
          const c = (d.checklists || []).find((x) => x.item_no === i.item_no);
          return { no: i.item_no, src: i, grade: null, reasons: [], note: '', photos: [],
            lines: c ? c.lines : [], ticked: [] };
        }),
    };
    renderReturn();
    $('confirm-box').hidden = true;
    show('v-return');
  }

  // The claimed reason in the page's language, with the customer's own words when they
  // were free text ("屏幕有划痕") rather than a code.
  function claimedText(raw, cls) {
    if (!raw) return '—';
    const said = word('claimed', cls || 'unknown');
    return raw.toLowerCase().replace(/[- ]/g, '_') === cls ? said : said + ' — ' + raw;
  }

  function renderReturn() {
    if (!current) return;
    const st = current.detail.state || {};
    $('r-id').textContent = current.id;
    $('r-kind').textContent = st.kind ? word('kind', st.kind) : '—';
    $('r-claimed').textContent = claimedText(st.claimed_reason, current.detail.claimed_reason_class);
    const blind = !!current.detail.blind;
    $('r-visual').textContent = blind ? t('hh.blind') : word('visual', st.visual || 'not_recorded');
    const tpl = $('item-tpl');
    $('items').replaceChildren(...current.items.map((it) => {
      const li = tpl.content.firstElementChild.cloneNode(true);
      translate(li);
      li.dataset.item = String(it.no);
      li.querySelector('.sku').textContent = it.src.sku || '';
      li.querySelector('.name').textContent = it.src.name || '';
      const first = li.querySelector('.first');
      const ex = it.src.exception;
      first.dataset.exception = String(!!ex);
      first.textContent = t('hh.first_check', { result: ex ? word('kiosk.row', ex) : t('hh.first_ok') });
      first.hidden = blind;
      li.querySelector('.checklist').hidden = !it.lines.length;
      li.querySelector('.checks').replaceChildren(...it.lines.map((l) => {
        const lab = document.createElement('label');
        const box = document.createElement('input');
        box.type = 'checkbox';
        box.dataset.code = l.code;
        box.checked = it.ticked.includes(l.code);
        box.addEventListener('change', () => {
          it.ticked = box.checked ? it.ticked.concat(l.code) : it.ticked.filter((c) => c !== l.code);
          $('confirm-box').hidden = true;
        });
        const span = document.createElement('span');
        span.textContent = lang === 'en' ? l.label_en : l.label_zh;
        lab.append(box, span);
        return lab;
      }));
      li.querySelectorAll('.grade').forEach((b) => {
        b.setAttribute('aria-pressed', String(it.grade === b.dataset.grade));
        b.addEventListener('click', () => { it.grade = b.dataset.grade; $('confirm-box').hidden = true; renderReturn(); });
      });
      li.querySelector('.defect').hidden = it.grade !== 'defect';
      li.querySelector('.reasons').replaceChildren(...reasons.map((r) => {
        const b = document.createElement('button');
        b.type = 'button';
        b.dataset.code = r.code;
        b.textContent = lang === 'en' ? r.label_en : r.label_zh;
        b.setAttribute('aria-pressed', String(it.reasons.includes(r.code)));
        b.addEventListener('click', () => {
          it.reasons = it.reasons.includes(r.code) ? it.reasons.filter((c) => c !== r.code) : it.reasons.concat(r.code);
          b.setAttribute('aria-pressed', String(it.reasons.includes(r.code)));
        });
        return b;
      }));
      const note = li.querySelector('.note');
      note.value = it.note;
      note.addEventListener('input', () => { it.note = note.value; });
      li.querySelector('.photos').textContent = it.photos.length ? t('hh.photos_n', { n: it.photos.length }) : '';
      li.querySelector('.photo').addEventListener('change', (e) => uploadPhoto(it, e.target, li));
      return li;
    }));
  }

  async function uploadPhoto(it, input, li) {
    const file = input.files && input.files[0];
    if (!file) return;
    const out = li.querySelector('.photos');
    out.textContent = t('hh.photo_uploading');
    try {
      const r = await fetch('/api/v1/photos', {
        method: 'POST', headers: headers({ 'Content-Type': file.type || 'image/jpeg' }), body: file,
      });
      const body = await r.json().catch(() => ({}));
      if (!r.ok) { say(textOf(body), 'error'); out.textContent = t('hh.photo_failed'); return; }
      if (!it.photos.includes(body.sha256)) it.photos.push(body.sha256);
      out.textContent = t('hh.photos_n', { n: it.photos.length });
    } catch (e) {
      out.textContent = t('hh.photo_failed');
    } finally {
      input.value = '';
    }
  }

  function review() {
    const items = current ? current.items : [];
    let problem = null;
    for (const it of items) {
      if (!it.grade) problem = 'hh.need_grade';
      else if (it.grade === 'defect' && !it.reasons.length) problem = 'hh.need_reason';
      else if (it.grade === 'defect' && photoRequired && !it.photos.length) problem = 'hh.photo_required';
      if (problem) break;
    }
    if (problem || !items.length) { say(t(problem || 'hh.need_grade'), 'error'); return; }
    say('');
    const good = items.filter((i) => i.grade === 'good').length;
    $('summary').textContent = t('hh.summary', { good, defect: items.length - good });
    $('confirm-box').hidden = false;
    $('confirm').focus();
  }

  // Items with the same grade, reasons, note and photos go in one inspect command.
  async function confirm() {
    const btn = $('confirm');
    if (btn.disabled || !current) return;
    btn.disabled = true;
    say(t('hh.sending'));
    const groups = new Map();
    for (const it of current.items) {
      // Every line of the standard's checklist, met (ticked) or not.
      const checklist = it.lines.map((l) => ({ code: l.code, met: it.ticked.includes(l.code) }));
      const body = { grade: it.grade, defect_reasons: it.grade === 'defect' ? it.reasons.slice().sort() : [],
        note: it.grade === 'defect' ? it.note.trim() : '', photos: it.grade === 'defect' ? it.photos : [],
        checklist };
      const k = JSON.stringify(body);
      if (!groups.has(k)) groups.set(k, Object.assign({ items: [] }, body));
      groups.get(k).items.push(it.no);
    }
    const id = current.id;
    const path = '/api/v1/returns/' + encodeURIComponent(id) + '/inspect';
    const answers = await Promise.all([...groups.values()].map((b) => submit(path, b)));
    btn.disabled = false;
    const failed = answers.find((a) => !a.body.ok);
    if (failed) { say(textOf(failed.body), 'error'); return; }
    say('');
    lastResult = answers.map((a) => a.body);
    const graded = current.items.map((i) => ({ no: i.no, sku: i.src.sku, name: i.src.name, grade: i.grade }));
    const defectNos = graded.filter((i) => i.grade === 'defect').map((i) => i.no);
    current = null;
    outcome = null;
    renderDone();
    loadOutcome(id, lastResult, defectNos);
    startPutAway(id, graded, null);
  }

  // --- put-away: item labels pick items, a zone or bin puts the picked ones away ---------

  function startPutAway(id, items, pickNo) {
    putaway = { id, items, picked: new Set() };
    if (pickNo !== null && items.some((i) => i.no === pickNo)) putaway.picked.add(pickNo);
    $('zone-form').hidden = false;
    renderPutAway();
    show('v-done');
  }

  // The items a zone scan moves now: the picked ones, else all (when they share a grade).
  function toMove() {
    if (!putaway) return [];
    const picked = putaway.items.filter((i) => putaway.picked.has(i.no));
    return picked.length ? picked : putaway.items;
  }

  function renderPutAway() {
    const list = $('pa-items');
    const items = putaway ? putaway.items : [];
    $('pa').hidden = !items.length;
    list.replaceChildren(...items.map((i) => {
      const li = document.createElement('li');
      li.dataset.item = String(i.no);
      li.dataset.picked = String(putaway.picked.has(i.no));
      li.dataset.grade = i.grade;
      li.textContent = putaway.id + '.' + i.no + '  ' + (i.sku || '') + ' ' + (i.name || '') + ' — ' + word('grade', i.grade);
      return li;
    }));
    const grades = new Set(toMove().map((i) => i.grade));
    const s = $('suggest');
    if (!items.length) s.textContent = '';
    else if (grades.size > 1) s.textContent = t('hh.scan_item_first');
    else s.textContent = t('hh.suggest_zone', { zone: grades.has('defect') ? 'Z-DEFECT' : 'Z-GOOD' });
  }

  // A scan in the put-away field: an item label (pick or unpick it; another return's label
  // opens that return) or a zone or bin (put away).
  async function zoneScan(code) {
    const item = code.match(ITEM_LABEL);
    if (item) {
      const no = Number(item[2]);
      if (!putaway || item[1] !== putaway.id) { await openReturn(item[1], no); return; }
      if (!putaway.items.some((i) => i.no === no)) { say(t('hh.item_not_waiting', { item: code }), 'error'); return; }
      if (putaway.picked.has(no)) putaway.picked.delete(no); else putaway.picked.add(no);
      say('');
      renderPutAway();
      return;
    }
    if (!ZONE.test(code)) {
      const r = code.match(RETURN_ID);
      if (r && r[0] === code) { await openReturn(code, null); return; }
      say(t('hh.not_a_zone', { code }), 'error');
      return;
    }
    if (!putaway) return;
    const moving = toMove();
    if (new Set(moving.map((i) => i.grade)).size > 1) { say(t('hh.scan_item_first'), 'error'); return; }
    const id = putaway.id;
    const a = await submit('/api/v1/returns/' + encodeURIComponent(id) + '/put-away',
      { zone: code, items: moving.map((i) => i.no) });
    if (!a.body.ok) { say(textOf(a.body), 'error'); return; }
    say('');
    lastResult = (lastResult || []).concat([a.body]);
    renderDone();
    if (!putaway || putaway.id !== id) return;
    const moved = new Set(moving.map((i) => i.no));
    putaway.items = putaway.items.filter((i) => !moved.has(i.no));
    putaway.picked = new Set();
    renderPutAway();
    if (!putaway.items.length) {
      putaway = null;
      $('zone-form').hidden = true;
      $('next').focus();
    }
  }

  function renderDone() {
    $('result').textContent = (lastResult || []).map(textOf).join(' · ');
    const f = outcome && outcome.freight;
    $('freight').hidden = !f;
    $('freight').textContent = f ? t('hh.freight', { fault: word('freight.fault', f.fault),
      outbound: word('freight.party', f.outbound), return_leg: word('freight.party', f.return_leg) }) : '';
    const tags = (outcome && outcome.tags) || [];
    $('tags').hidden = !tags.length;
    if ($('tag-imgs').childElementCount !== tags.length) {
      $('tag-imgs').replaceChildren(...tags.map((job) => {
        const img = document.createElement('img');
        img.alt = '';
        img.dataset.job = String(job);
        img.addEventListener('error', () => { img.hidden = true; });
        img.src = '/api/v1/print-jobs/' + job + '/preview.png';
        return img;
      }));
    }
  }

  // The freight decision (the refund.due event of these commands: the inspection completed
  // the return) and the defect tags printed for the defect items.
  async function loadOutcome(id, answers, defectNos) {
    let d;
    try { d = await getJson('/api/v1/returns/' + encodeURIComponent(id)); } catch (e) { return; }
    if (lastResult !== answers) return; // moved on meanwhile
    const within = (seq) => answers.some((a) => seq >= a.seq_first && seq <= a.seq_last);
    const due = (d.events || []).filter((e) => e.type === 'refund.due' && within(e.seq)).pop();
    const tags = (d.labels || []).filter((j) => j.template === 'defect_tag' && j.reason === 'first'
      && defectNos.includes(j.item_no)).map((j) => j.id);
    outcome = { freight: due ? due.data.freight : null, tags };
    renderDone();
  }

  // --- language and start -------------------------------------------------------------

  async function loadStrings() {
    const body = await common.fetchStrings(lang);
    strings = body.strings || {};
    lang = body.lang;
    document.documentElement.lang = lang;
    translate(document);
    document.title = t('hh.title');
    saveOutbox();
    renderReturn();
    renderPutAway();
    if (lastResult) renderDone();
    if (me && !$('v-queue').hidden) loadQueue();
  }

  async function switchLang() {
    lang = lang === 'en' ? 'zh-CN' : 'en';
    localStorage.setItem(LANG_KEY, lang);
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
    $('retry').addEventListener('click', () => { retryDelay = 2000; flush(); });
    $('login-form').addEventListener('submit', login);
    $('badge').addEventListener('keydown', (e) => {
      // A scanned badge ends with Enter: go on to the PIN instead of submitting half a form.
      if (e.key === 'Enter' && !$('pin').value) { e.preventDefault(); $('pin').focus(); }
    });
    onSubmit($('scan-form'), $('scan'), scanReturn);
    onSubmit($('zone-form'), $('zone'), zoneScan);
    $('refresh').addEventListener('click', loadQueue);
    $('r-back').addEventListener('click', () => { current = null; show('v-queue'); loadQueue(); });
    $('review').addEventListener('click', review);
    $('confirm').addEventListener('click', confirm);
    $('confirm-back').addEventListener('click', () => { $('confirm-box').hidden = true; });
    $('next').addEventListener('click', () => {
      lastResult = null; outcome = null; putaway = null; renderDone(); say(''); show('v-queue'); loadQueue();
    });
    window.addEventListener('online', () => { retryDelay = 2000; flush(); });
    if (!csrf) { toLogin(); return; }
    try { await afterLogin(); } catch (e) { toLogin(); }
  }

  start();
})();
