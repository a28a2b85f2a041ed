// The keeper's kiosk: shows the bench's state from GET /api/v1/kiosk/state and follows the
// live stream GET /api/v1/events (server-sent events). Every word comes from
// GET /api/v1/i18n; texts are set with textContent only (scanned codes are untrusted).
'use strict';

(() => {
  const LANG_KEY = 'returnsd.kiosk.lang';
  const query = new URLSearchParams(location.search);
  const bench = query.get('bench') || '';
  let lang = null;           // chosen language, or null until the station's default is known
  let strings = {};
  let source = null;         // the EventSource
  let reloadTimer = null;
  let audio = null;
  let lastBannerSeq = 0;

  const $ = (id) => document.getElementById(id);

  // A page string with {name} placeholders filled; unknown keys show as the key itself.
  function t(key, params) {
    let s = Object.prototype.hasOwnProperty.call(strings, key) ? strings[key] : key;
    for (const [k, v] of Object.entries(params || {})) s = s.split('{' + k + '}').join(String(v));
    return s;
  }

  function setText(id, value) {
    const el = $(id);
    if (el) el.textContent = value == null || value === '' ? '—' : String(value);
  }

  function api(path, params) {
    const q = new URLSearchParams(params);
    return fetch(path + '?' + q.toString(), { cache: 'no-store' }).then((r) => {
      if (!r.ok) throw new Error(path + ': ' + r.status);
      return r.json();
    });
  }

  async function loadStrings() {
    const body = await api('/api/v1/i18n', { lang });
    strings = body.strings || {};
    document.documentElement.lang = body.lang;
    document.querySelectorAll('[data-i18n]').forEach((el) => { el.textContent = t(el.dataset.i18n); });
    document.title = t('kiosk.title') + ' · ' + bench;
  }

  function localTime(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString(lang === 'en' ? 'en-GB' : 'zh-CN', { dateStyle: 'short', timeStyle: 'short' });
  }

  function renderBanner(scan, flash) {
    const b = $('banner');
    if (!scan) {
      b.dataset.state = 'idle';
      setText('banner-mark', '');
      $('banner-text').textContent = t('kiosk.waiting');
      return;
    }
    b.dataset.state = scan.ok ? 'ok' : 'refused';
    $('banner-mark').textContent = (scan.ok ? '✔ ' : '✘ ') + t(scan.ok ? 'kiosk.ok' : 'kiosk.refused');
    $('banner-text').textContent = scan.message || scan.code || '';
    // A refusal shows the code that was scanned (cleaned by the station), so the keeper
    // sees which label or barcode was wrong.
    const code = $('banner-code');
    code.hidden = scan.ok || !scan.shown_code;
    code.textContent = code.hidden ? '' : t('kiosk.scanned_code', { code: scan.shown_code });
    if (flash) {
      b.classList.remove('flash');
      void b.offsetWidth; // restart the animation
      b.classList.add('flash');
    }
  }

  function renderReturn(s) {
    const r = s.return;
    const card = document.querySelector('.ret');
    card.dataset.current = String(!!s.return_is_current);
    const title = $('return-title');
    title.dataset.i18n = r && !s.return_is_current ? 'kiosk.last_return' : 'kiosk.return';
    title.textContent = t(title.dataset.i18n);
    $('return-id').textContent = r ? r.id : t('kiosk.no_return');
    $('return-facts').hidden = !r;
    const rows = r ? r.rows : [];
    if (r) {
      setText('r-kind', r.kind_text);
      setText('r-customer', r.customer);
      setText('r-order', r.order_no);
      setText('r-waybill', r.waybill);
      setText('r-stage', r.stage_text);
      setText('r-visual', r.visual_text);
      setText('r-due', localTime(r.refund_due_by));
    }
    const body = $('items');
    body.replaceChildren(...rows.map((row) => {
      const tr = document.createElement('tr');
      tr.dataset.status = row.status;
      tr.dataset.sku = row.sku;
      const cells = [
        [row.sku, ''], [row.name, ''], [row.expected, 'num expected'],
        [row.scanned, 'num scanned'], [row.status_text, 'st'],
      ];
      for (const [v, cls] of cells) {
        const td = document.createElement('td');
        td.textContent = String(v);
        if (cls) td.className = cls;
        tr.appendChild(td);
      }
      return tr;
    }));
    $('no-items').hidden = !r || rows.length > 0;
  }

  function renderSide(s) {
    const alarms = s.alarms || [];
    $('alarms').replaceChildren(...alarms.map((a) => {
      const li = document.createElement('li');
      li.textContent = a.text;
      li.dataset.code = a.code;
      return li;
    }));
    $('no-alarms').hidden = alarms.length > 0;
    $('devices').replaceChildren(...(s.devices || []).map((d) => {
      const li = document.createElement('li');
      li.dataset.alarm = String(!!d.alarm);
      li.dataset.kind = d.kind;
      li.dataset.state = d.state;
      const name = document.createElement('span');
      name.textContent = d.kind_text + ' ';
      const path = document.createElement('span');
      path.className = 'dpath';
      path.textContent = d.path;
      name.appendChild(path);
      const st = document.createElement('span');
      st.className = 'dstate';
      st.textContent = d.state_text;
      li.append(name, st);
      return li;
    }));
    const c = s.counters || {};
    setText('count-received', c.received);
    setText('count-first-checks', c.first_checks);
    setText('count-labels', c.labels_printed);
    setText('count-scans', c.scans);
  }

  function render(s) {
    setText('station', s.station.id);
    // The certificate fingerprint, for pairing a handheld (absent on plain HTTP).
    $('tls').hidden = !s.station.tls_fingerprint;
    setText('tls-fingerprint', s.station.tls_fingerprint);
    setText('bench', s.bench);
    setText('operator', s.operator ? s.operator.badge + ' · ' + s.operator.role_text : t('kiosk.no_operator'));
    $('next-step').textContent = s.next_step.text;
    $('next-step').dataset.code = s.next_step.code;
    renderReturn(s);
    renderSide(s);
    if (!s.last_scan) renderBanner(null, false);
    else if (s.last_scan.seq >= lastBannerSeq) {
      lastBannerSeq = s.last_scan.seq;
      renderBanner(s.last_scan, false);
    }
    document.body.dataset.lastSeq = String(s.last_seq);
  }

  async function loadState() {
    try {
      render(await api('/api/v1/kiosk/state', { bench, lang }));
    } catch (e) {
      setLive(false);
    }
  }

  // Several events arrive per scan: reload the snapshot once they have settled.
  function scheduleReload() {
    if (reloadTimer) return;
    reloadTimer = setTimeout(() => { reloadTimer = null; loadState(); }, 60);
  }

  function setLive(up) {
    const el = $('live');
    el.dataset.live = String(up);
    el.textContent = t(up ? 'kiosk.live' : 'kiosk.disconnected');
  }

  // A short beep: high for OK, two low tones for a refusal. No audio files.
  function beep(ok) {
    try {
      if (!audio) audio = new AudioContext();
      if (audio.state === 'suspended') {
        audio.resume();
        $('sound').hidden = false;
      }
      const tones = ok ? [[1046, 0, 0.12]] : [[220, 0, 0.18], [196, 0.24, 0.3]];
      for (const [freq, at, len] of tones) {
        const osc = audio.createOscillator();
        const gain = audio.createGain();
        osc.type = ok ? 'sine' : 'square';
        osc.frequency.value = freq;
        gain.gain.setValueAtTime(0.25, audio.currentTime + at);
        gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + at + len);
        osc.connect(gain).connect(audio.destination);
        osc.start(audio.currentTime + at);
        osc.stop(audio.currentTime + at + len);
      }
    } catch (e) { /* no sound available: the banner still shows */ }
  }

  function connect() {
    if (source) source.close();
    const q = new URLSearchParams({ lang });
    source = new EventSource('/api/v1/events?' + q.toString());
    source.onopen = () => setLive(true);
    source.onerror = () => setLive(false);
    source.addEventListener('hello', () => { setLive(true); loadState(); });
    source.addEventListener('journal', (e) => {
      const ev = JSON.parse(e.data);
      if (ev.scan && ev.scan.bench === bench && ev.seq > lastBannerSeq) {
        lastBannerSeq = ev.seq;
        renderBanner(ev.scan, true);
        beep(ev.scan.ok);
      }
      scheduleReload();
    });
    source.addEventListener('devices', scheduleReload);
    source.addEventListener('alarms', scheduleReload);
    source.addEventListener('lagged', () => loadState());
  }

  async function switchLang() {
    lang = lang === 'en' ? 'zh-CN' : 'en';
    localStorage.setItem(LANG_KEY, lang);
    await loadStrings();
    connect();
  }

  async function start() {
    $('lang').addEventListener('click', switchLang);
    $('sound').addEventListener('click', () => {
      if (audio) audio.resume();
      $('sound').hidden = true;
    });
    lang = localStorage.getItem(LANG_KEY);
    if (!lang) {
      try {
        const s = await api('/api/v1/kiosk/state', { bench });
        lang = s.station.language;
      } catch (e) {
        lang = 'zh-CN';
      }
    }
    await loadStrings();
    setLive(false);
    connect();
  }

  start();
})();
