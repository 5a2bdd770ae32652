// The playground page: reads the gateway's config (config.json, next to this
// page), lists its namespaces and events, and opens sockets with the official
// socket.io-client, each in a panel of its own, so that what one socket sends
// can be seen arriving on another. Everything a server or another client
// sends is shown as text, never as HTML.
(function () {
  'use strict';

  const MAX_RECEIVED = 200;
  const $ = (selector, root = document) => root.querySelector(selector);

  /** el('div', {class: 'x', dataset: {a: 1}}, child, 'text') builds an element. */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'dataset') Object.assign(node.dataset, value);
      else if (key === 'class') node.className = value;
      else if (key in node && key !== 'list') node[key] = value;
      else node.setAttribute(key, value === true ? '' : value);
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function json(value) {
    return value === undefined ? 'undefined' : JSON.stringify(value);
  }

  // The claims of a JWT, read without checking it: only to show whose token
  // a socket uses.
  function claimsOf(token) {
    try {
      const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      return JSON.parse(atob(part));
    } catch {
      return null;
    }
  }

  function describeClaims(token) {
    if (!token) return 'no token';
    const claims = claimsOf(token);
    if (!claims) return 'a token that is not a readable JWT';
    const parts = Object.entries(claims)
      .filter(([k]) => !['iat', 'nbf'].includes(k))
      .map(([k, v]) => (k === 'exp' ? `exp ${new Date(v * 1000).toLocaleTimeString()}` : `${k}=${json(v)}`));
    return parts.join(', ');
  }

  // ---------------------------------------------------------------------
  // Reading the config

  async function loadConfig() {
    const res = await fetch('config.json', { cache: 'no-store', headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error(`config.json answered ${res.status}`);
    return res.json();
  }

  function guardText(guards) {
    return guards.map((g) => `${g.name} (${g.kind})`).join(', ');
  }

  function renderOverview(cfg) {
    const list = $('#namespaces');
    for (const ns of cfg.namespaces) {
      const events = ns.events.map((ev) =>
        el(
          'li',
          { class: 'overview-event', dataset: { event: ev.name } },
          el('code', {}, ev.name),
          ev.guards.length ? ` guards: ${guardText(ev.guards)}` : '',
          ev.handlers.length ? ` → ${ev.handlers.join(', ')}` : '',
        ),
      );
      list.append(
        el(
          'li',
          { class: 'overview-namespace', dataset: { namespace: ns.name } },
          el('strong', {}, ns.name),
          ` auth: ${ns.auth}`,
          ns.connect_guards.length ? `, connect guards: ${guardText(ns.connect_guards)}` : '',
          el('ul', {}, events),
        ),
      );
      $('#namespace').append(el('option', { value: ns.name }, ns.name));
    }
  }

  function renderIdentity(cfg) {
    $('#auth-key').textContent = `auth.${cfg.auth.auth_key}`;
    const token = $('#token');
    const showClaims = () => {
      $('#token-claims').textContent = describeClaims(token.value.trim());
    };
    token.addEventListener('input', showClaims);
    showClaims();
    if (cfg.auth.mint_tokens) {
      $('#mint').hidden = false;
      $('#mint').addEventListener('submit', (e) => {
        e.preventDefault();
        mint(cfg).catch((err) => showMintResult('error', err.message));
      });
    } else {
      $('#mint-off').hidden = false;
      $('#mint-off').textContent = `Minting tokens here is off: ${cfg.auth.mint_off_reason}`;
    }
  }

  function showMintResult(kind, text, code) {
    const out = $('#mint-result');
    out.className = kind;
    out.dataset.code = code || '';
    out.textContent = text;
  }

  async function mint(cfg) {
    const form = $('#mint');
    let claims;
    try {
      claims = JSON.parse(form.claims.value.trim() || '{}');
    } catch (err) {
      showMintResult('error', `the claims are not JSON: ${err.message}`);
      return;
    }
    const body = { claims: { ...claims, sub: form.sub.value }, expires_in: Number(form.expires_in.value) };
    const res = await fetch(cfg.auth.mint_path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
    });
    const answer = await res.json().catch(() => ({}));
    if (!res.ok || !answer.token) {
      const code = answer.code || String(res.status);
      showMintResult('error', `${code}: ${answer.message || res.statusText}`, code);
      return;
    }
    $('#token').value = answer.token;
    $('#token').dispatchEvent(new Event('input'));
    showMintResult('ok', `minted for ${answer.claims.sub}, expires ${new Date(answer.claims.exp * 1000).toLocaleTimeString()}`);
  }

  // ---------------------------------------------------------------------
  // Sockets

  let socketCount = 0;

  function openSocket(cfg, nsName) {
    const ns = cfg.namespaces.find((n) => n.name === nsName);
    const index = ++socketCount;
    const panel = el('article', { class: 'socket', dataset: { index: String(index), namespace: ns.name } });
    const status = el('span', { class: 'status', dataset: { state: 'connecting' } }, 'connecting…');
    const who = el('p', { class: 'who hint' });
    const received = el('ol', { class: 'received' });
    const session = { socket: null, panel, status, received, results: new Map() };

    const reconnect = el('button', { type: 'button', class: 'reconnect' }, 'Reconnect with the token above');
    const close = el('button', { type: 'button', class: 'close' }, 'Close');
    panel.append(
      el('header', {}, el('h3', {}, `Socket ${index} `, el('code', {}, ns.name)), status, reconnect, close),
      who,
      el('div', { class: 'events' }, ns.events.map((ev) => eventRow(cfg, session, ev)), customEventRow(cfg, session)),
      el('h4', {}, 'Received'),
      received,
    );
    $('#sockets').append(panel);

    const connect = () => {
      if (session.socket) session.socket.close();
      const token = $('#token').value.trim();
      who.textContent = `token: ${describeClaims(token)}`;
      session.socket = createSocket(cfg, ns, token, session);
    };
    reconnect.addEventListener('click', connect);
    close.addEventListener('click', () => {
      if (session.socket) session.socket.close();
      panel.remove();
    });
    connect();
  }

  function createSocket(cfg, ns, token, session) {
    const opts = { path: cfg.engineio_path, forceNew: true, reconnection: false };
    if (token) opts.auth = { [cfg.auth.auth_key]: token };
    const socket = io(location.origin + ns.name, opts);
    const setStatus = (state, text, code) => {
      session.status.dataset.state = state;
      session.status.dataset.code = code || '';
      session.status.textContent = text;
    };
    socket.on('connect', () => {
      setStatus('connected', `connected (${socket.id})`);
      log(session, 'connect', [socket.id]);
    });
    socket.on('connect_error', (err) => {
      const code = err.data && err.data.code;
      setStatus('refused', `connect_error ${code || ''}: ${err.message}`, code);
      log(session, 'connect_error', [{ message: err.message, data: err.data }]);
    });
    socket.on('disconnect', (reason) => {
      setStatus('disconnected', `disconnected: ${reason}`);
      log(session, 'disconnect', [reason]);
    });
    socket.onAny((event, ...args) => {
      log(session, event, args);
      if (event === 'exception' && args[0] && args[0].event) {
        const show = session.results.get(args[0].event);
        if (show) show('error', `${args[0].code}: ${args[0].message}`, args[0].code);
      }
    });
    return socket;
  }

  function log(session, event, args) {
    const item = el(
      'li',
      { dataset: { event } },
      el('time', {}, new Date().toLocaleTimeString()),
      ' ',
      el('code', { class: 'name' }, event),
      ' ',
      el('span', { class: 'args' }, args.map(json).join(', ')),
    );
    session.received.prepend(item);
    while (session.received.children.length > MAX_RECEIVED) session.received.lastChild.remove();
  }

  function initialPayload(ev) {
    if (!ev.schemas.length) return '';
    const value = ev.schemas.reduce((acc, s) => {
      const part = GatehouseSchema.example(s);
      return acc && typeof acc === 'object' && part && typeof part === 'object' ? { ...acc, ...part } : part;
    }, undefined);
    return JSON.stringify(value, null, 2);
  }

  function eventRow(cfg, session, ev) {
    const payload = el('textarea', { class: 'payload', rows: 4, spellcheck: false });
    payload.value = initialPayload(ev);
    const validity = el('div', { class: 'validity' });
    const validateNow = () => showValidity(ev, payload.value, validity);
    payload.addEventListener('input', validateNow);
    validateNow();
    return sendRow(cfg, session, {
      name: () => ev.name,
      key: ev.name,
      payload,
      title: el('h4', {}, el('code', {}, ev.name)),
      details: el(
        'p',
        { class: 'hint' },
        ev.guards.length ? `guards: ${guardText(ev.guards)}` : 'no guards',
        ev.handlers.length ? ` · ${ev.handlers.join(', ')}` : '',
      ),
      validity,
      dataset: { event: ev.name },
    });
  }

  // A row for any event name, to try what the config does not declare.
  function customEventRow(cfg, session) {
    const name = el('input', { class: 'event-name', value: 'anotherEvent', 'aria-label': 'event name' });
    const payload = el('textarea', { class: 'payload', rows: 2, spellcheck: false });
    payload.value = '{}';
    return sendRow(cfg, session, {
      name: () => name.value.trim(),
      key: null,
      payload,
      title: el('h4', {}, 'other event ', name),
      details: el('p', { class: 'hint' }, 'an event the config does not declare: refused with unknown_event'),
      validity: el('div', { class: 'validity' }),
      dataset: { event: '*' },
    });
  }

  function showValidity(ev, text, out) {
    if (!ev.schemas.length) {
      out.textContent = text.trim() ? '' : 'sent without a payload';
      out.dataset.valid = '';
      return;
    }
    const parsed = parsePayload(text);
    if (parsed.error) {
      out.dataset.valid = 'false';
      out.textContent = `not JSON: ${parsed.error}`;
      return;
    }
    const errors = ev.schemas.flatMap((s) => GatehouseSchema.validate(s, parsed.value));
    out.dataset.valid = String(errors.length === 0);
    out.textContent = errors.length ? errors.map(GatehouseSchema.describe).join('; ') : 'matches the schema';
  }

  function parsePayload(text) {
    if (!text.trim()) return { none: true };
    try {
      return { value: JSON.parse(text) };
    } catch (err) {
      return { error: err.message };
    }
  }

  function sendRow(cfg, session, row) {
    const ack = el('input', { type: 'checkbox', class: 'ack', checked: true });
    const send = el('button', { type: 'button', class: 'send' }, 'Send');
    const result = el('output', { class: 'result' });
    const show = (kind, text, code) => {
      result.className = `result ${kind}`;
      result.dataset.code = code || '';
      result.textContent = text;
    };
    if (row.key) session.results.set(row.key, show);
    send.addEventListener('click', () => {
      const parsed = parsePayload(row.payload.value);
      if (parsed.error) {
        show('error', `not sent, the payload is not JSON: ${parsed.error}`);
        return;
      }
      emit(cfg, session, row.name(), parsed, ack.checked, show);
    });
    return el(
      'div',
      { class: 'event', dataset: row.dataset },
      row.title,
      row.details,
      row.payload,
      row.validity,
      el('div', { class: 'actions' }, el('label', {}, ack, ' with ack'), send, result),
    );
  }

  function emit(cfg, session, name, parsed, withAck, show) {
    const socket = session.socket;
    if (!socket || !socket.connected) {
      show('error', 'not sent: the socket is not connected');
      return;
    }
    const args = parsed.none ? [] : [parsed.value];
    if (!withAck) {
      socket.emit(name, ...args);
      show('sent', 'sent without ack');
      return;
    }
    show('pending', 'waiting for the ack…');
    socket.timeout(cfg.ack_timeout_ms).emit(name, ...args, (err, answer) => {
      if (err) show('error', `no ack within ${cfg.ack_timeout_ms} ms`, 'timeout');
      else if (answer && answer.error && answer.error.code) show('error', `${answer.error.code}: ${answer.error.message}`, answer.error.code);
      else show('ok', `ack ${json(answer)}`);
    });
  }

  // ---------------------------------------------------------------------

  async function main() {
    let cfg;
    try {
      cfg = await loadConfig();
    } catch (err) {
      $('#gateway-info').textContent = `Could not read the gateway's config: ${err.message}`;
      return;
    }
    $('#gateway-info').textContent =
      `${cfg.namespaces.length} namespace${cfg.namespaces.length === 1 ? '' : 's'}, Engine.IO at ${cfg.engineio_path}` +
      (cfg.auth.jwt ? ', JWT verified' : ', no JWT configured');
    renderIdentity(cfg);
    renderOverview(cfg);
    $('#open-form').addEventListener('submit', (e) => {
      e.preventDefault();
      openSocket(cfg, $('#namespace').value);
    });
    document.body.dataset.ready = 'true';
  }

  main();
})();
