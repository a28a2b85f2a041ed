// What the handheld and supervisor pages share: words from GET /api/v1/i18n (t, textOf,
// translate), the message line, request headers with the CSRF token, GET with the
// session check, Idempotency-Key values, loading the strings, following the event stream,
// logging in and ending the session.
// Loaded before the page's own script; each page keeps its state (language, strings,
// CSRF token) and hands this file getters for it, so nothing here is page state.
'use strict';

window.Returnsd = Object.freeze({
  // page: { lang(), strings(), csrf(), setCsrf(token), csrfKey, onUnauthorized() }
  page(page) {
    const $ = (id) => document.getElementById(id);

    function t(key, params) {
      const strings = page.strings();
      let s = Object.prototype.hasOwnProperty.call(strings, key) ? strings[key] : key;
      for (const [k, v] of Object.entries(params || {})) s = s.split('{' + k + '}').join(String(v));
      return s;
    }

    // A command's or an error's text from its code and params, in the page's language;
    // the server's message when the code is unknown here.
    function textOf(body) {
      if (!body) return '';
      const strings = page.strings();
      const code = body.ok ? body.code : body.error;
      const params = {};
      for (const [k, v] of Object.entries(body.params || {})) {
        const e = ['kind', 'grade', 'visual', 'stage', 'role', 'action'].includes(k) ? k + '.' + v : null;
        params[k] = k === 'zone' ? zoneNames(v) : e && strings[e] ? strings[e] : v;
      }
      for (const key of [code, 'api.' + code]) {
        if (key && strings[key]) {
          const s = t(key, params);
          if (!/\{[a-z_]+\}/.test(s)) return s;
        }
      }
      return body.message || code || '';
    }

    // Ledger zone names (`good`, `defect/D01`, several joined by commas) as the station's
    // own messages say them: the zone's name, then its bin (as `i18n::zone_names`).
    function zoneNames(v) {
      const strings = page.strings();
      return String(v).split(',').map((z) => {
        const i = z.indexOf('/');
        const cls = i < 0 ? z : z.slice(0, i);
        const name = strings['zone.' + cls] || cls;
        return i < 0 ? name : name + ' ' + z.slice(i + 1);
      }).join(page.lang() === 'en' ? ', ' : '、');
    }

    function translate(root) {
      root.querySelectorAll('[data-i18n]').forEach((el) => { el.textContent = t(el.dataset.i18n); });
    }

    function say(text, kind) {
      const m = $('msg');
      m.textContent = text;
      m.dataset.kind = kind || 'info';
      m.hidden = !text;
    }

    function headers(extra) {
      const h = Object.assign({ 'Accept-Language': page.lang() || '' }, extra || {});
      const csrf = page.csrf();
      if (csrf) h['X-CSRF-Token'] = csrf;
      return h;
    }

    async function getJson(path) {
      const r = await fetch(path, { cache: 'no-store', headers: headers() });
      const body = await r.json().catch(() => ({}));
      if (r.status === 401) { page.onUnauthorized(); throw new Error(textOf(body)); }
      if (!r.ok) throw new Error(textOf(body) || t('hh.error', { status: r.status }));
      return body;
    }

    // A fresh Idempotency-Key: the prefix and 128 random bits in hex.
    function newKey(prefix) {
      const a = new Uint8Array(16);
      crypto.getRandomValues(a);
      return prefix + Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');
    }

    // The strings of `lang` (null: the station's default): {lang, strings}.
    async function fetchStrings(lang) {
      const q = lang ? '?lang=' + encodeURIComponent(lang) : '';
      const r = await fetch('/api/v1/i18n' + q, { cache: 'no-store' });
      return r.json();
    }

    // Follow the station's event stream (GET /api/v1/events, the session cookie): call
    // `changed` once a burst of journal events of one of `types` has arrived (a command
    // writes several), and when the stream says this page fell behind. EventSource
    // reconnects by itself after a network drop. Answers the EventSource (close it on
    // logout).
    function follow(types, changed) {
      const source = new EventSource('/api/v1/events?' + new URLSearchParams({ lang: page.lang() || '' }));
      let timer = null;
      const soon = () => { clearTimeout(timer); timer = setTimeout(changed, 300); };
      source.addEventListener('journal', (e) => {
        let ev = null;
        try { ev = JSON.parse(e.data); } catch (err) { return; }
        if (types.includes(ev.type)) soon();
      });
      source.addEventListener('lagged', soon);
      source.addEventListener('session_expired', () => source.close());
      return source;
    }

    // The session as both pages keep it: the CSRF token in this tab's sessionStorage (kept
    // over a reload), and who is logged in beside the logout button.
    function keepSession(token) {
      page.setCsrf(token);
      sessionStorage.setItem(page.csrfKey, token);
    }

    function dropSession() {
      page.setCsrf('');
      sessionStorage.removeItem(page.csrfKey);
      $('who').textContent = '';
      $('logout').hidden = true;
    }

    // GET /api/v1/me, shown beside the logout button.
    async function whoAmI() {
      const me = await getJson('/api/v1/me');
      $('who').textContent = me.badge;
      $('logout').hidden = false;
      return me;
    }

    // The login form's submit: the badge (a scanned `OP-` prefix dropped) and the PIN to
    // POST /api/v1/session; on success the session is kept and `loggedIn()` awaited, else
    // the error in the message line and the PIN cleared for the next try. One submit at a
    // time.
    async function login(e, loggedIn) {
      e.preventDefault();
      const btn = $('login-btn');
      if (btn.disabled) return;
      const badge = $('badge').value.trim().replace(/^OP-/i, '');
      const pin = $('pin').value;
      if (!badge) return;
      if (!pin) { $('pin').focus(); return; }
      btn.disabled = true;
      const lang = page.lang();
      try {
        const r = await fetch('/api/v1/session', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'Accept-Language': lang || '' },
          body: JSON.stringify({ badge, pin, lang }),
        });
        const body = await r.json().catch(() => ({}));
        if (!r.ok) { say(textOf(body), 'error'); $('pin').value = ''; $('pin').focus(); return; }
        $('pin').value = '';
        $('badge').value = '';
        say('');
        keepSession(body.csrf_token);
        await loggedIn();
      } catch (err) {
        say(t('hh.offline'), 'error');
      } finally {
        btn.disabled = false;
      }
    }

    // Load the page's words, trying again (1 s doubling to 15 s) while the network is away:
    // a page opened from the cache has no station to ask yet.
    async function untilLoaded(load) {
      for (let wait = 1000; ; wait = Math.min(wait * 2, 15000)) {
        try { await load(); return; } catch (e) { await new Promise((r) => setTimeout(r, wait)); }
      }
    }

    async function endSession() {
      try { await fetch('/api/v1/session', { method: 'DELETE', headers: headers() }); } catch (e) { /* offline */ }
    }

    return {
      $, t, textOf, translate, say, headers, getJson, newKey, fetchStrings, follow, login,
      endSession, dropSession, whoAmI, untilLoaded,
    };
  },
});
