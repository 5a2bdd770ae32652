'use strict';

// The playground of the repository's own gateway.yaml, driven in a real
// headless Chromium (Debian's chromium through puppeteer-core): the page
// lists /chat and its events, sends them from two sockets side by side, mints
// tokens, and shows acks, refusals and broadcasts. Screenshots go to
// e2e/screenshots/. With the playground off, its paths answer 404.

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const { DEFAULT_SECRET, E2E_DIR, connect, emitAck, fixture, repoFile, startGateway, tempDir, token, uniqueSub } = require('../lib/gateway');
const { browserSkipReason, launchBrowser, screenshot, watchPage } = require('../lib/browser');

const WAIT_MS = 5_000;
const CHAT_EVENTS = ['sendMessage', 'join', 'leave', 'sendToRoom', 'whoami', 'announce'];

// Node 20 skips a suite whose options hold a skip key at all, even null.
const skipReason = browserSkipReason();
const suite = skipReason ? { skip: skipReason } : {};

// What the suites use is started at once, in parallel, and shared: one
// browser (each suite opens its own pages), the gateway of gateway.yaml with
// its playground on, and one with it off.
const browserReady = skipReason ? null : launchBrowser();
const playgroundOn = startGateway({ config: repoFile('gateway.yaml'), env: { GATEHOUSE_PLAYGROUND: 'true' } });
const playgroundOff = skipReason ? null : startGateway({ config: repoFile('gateway.yaml') });
// Awaited, and so reported, by the suites' hooks.
for (const ready of [browserReady, playgroundOn, playgroundOff]) ready?.catch(() => {});
after(async () => {
  const [browser, ...gateways] = await Promise.all(
    [browserReady, playgroundOn, playgroundOff].map((ready) => ready?.catch(() => null)),
  );
  await browser?.close();
  await Promise.all(gateways.map((gateway) => gateway?.stop()));
});

/** The selector of the panel of the index-th socket the page opened (from 1). */
function panel(index) {
  return `.socket[data-index="${index}"]`;
}

describe('the playground of gateway.yaml', suite, () => {
  let gateway;
  let browser;
  let page;
  let pageLog;
  // Every answer the page received, with its body: none may hold the secret.
  const answers = [];
  const foreignRequests = [];

  before(async () => {
    gateway = await playgroundOn;
    browser = await browserReady;
    page = await browser.newPage();
    page.setDefaultTimeout(WAIT_MS);
    pageLog = watchPage(page);
    page.on('request', (req) => {
      if (!req.url().startsWith(gateway.url) && !req.url().startsWith('data:')) foreignRequests.push(req.url());
    });
    page.on('response', async (res) => {
      // Engine.IO polling answers are the chat itself, not the playground's.
      if (res.url().includes('/socket.io/')) return;
      const body = await res.buffer().catch(() => Buffer.alloc(0));
      answers.push({ url: res.url(), headers: JSON.stringify(res.headers()), body: body.toString('latin1') });
    });
  });

  after(async () => {
    if (page) {
      // The last state shows every answer above: invalid_payload, forbidden, the acks and what arrived.
      await screenshot(page, 'playground-final');
      await page.close();
    }
  });

  /** Sends event from the index-th socket; resolves with {text, code} of the answer shown. */
  async function send(index, event, payload, { ack = true } = {}) {
    const row = `${panel(index)} .event[data-event="${event}"]`;
    await page.$eval(
      row,
      (el, { payload, ack }) => {
        const editor = el.querySelector('.payload');
        editor.value = payload;
        editor.dispatchEvent(new Event('input'));
        el.querySelector('.ack').checked = ack;
        el.querySelector('.result').className = 'result';
        el.querySelector('.result').textContent = '';
      },
      { payload, ack },
    );
    await page.click(`${row} .send`);
    await page.waitForFunction(
      (sel, ack) => {
        const out = document.querySelector(sel);
        return out.classList.contains('ok') || out.classList.contains('error') || (!ack && out.dataset.code);
      },
      { timeout: WAIT_MS },
      `${row} .result`,
      ack,
    );
    return page.$eval(`${row} .result`, (out) => ({ text: out.textContent, code: out.dataset.code }));
  }

  async function mint(sub, claims) {
    await page.$eval('#mint', (form, { sub, claims }) => {
      form.sub.value = sub;
      form.claims.value = claims;
      document.querySelector('#token').value = '';
    }, { sub, claims });
    await page.click('#mint-button');
    await page.waitForFunction(() => document.querySelector('#token').value.split('.').length === 3);
    return page.$eval('#token', (t) => t.value);
  }

  async function openSocket() {
    const before = await page.$$eval('.socket', (panels) => panels.length);
    await page.click('#open-socket');
    const index = before + 1;
    await page.waitForFunction((sel) => document.querySelector(sel)?.dataset.state !== 'connecting', {}, `${panel(index)} .status`);
    const status = await page.$eval(`${panel(index)} .status`, (s) => ({ state: s.dataset.state, text: s.textContent }));
    assert.equal(status.state, 'connected', `socket ${index}: ${status.text}\n${pageLog.text()}`);
    return index;
  }

  test('run prints the playground URL', () => {
    assert.match(gateway.output().stdout, new RegExp(`^Playground: ${gateway.url}/playground/$`, 'm'));
  });

  test('the page loads and lists /chat with its events', async () => {
    const res = await page.goto(`${gateway.url}/playground/`);
    assert.equal(res.status(), 200);
    await page.waitForSelector('body[data-ready="true"]');
    const listed = await page.$$eval('.overview-namespace[data-namespace="/chat"] .overview-event', (items) =>
      items.map((li) => li.dataset.event),
    );
    assert.deepEqual(listed, CHAT_EVENTS);
    const mintable = await page.$eval('#mint', (form) => !form.hidden);
    assert.ok(mintable, 'the mint form is shown for a config with its own HS256 secret and mint_tokens: true');
    await screenshot(page, 'playground-loaded');
  });

  test('sendMessage is acked {ok: true} and its broadcast reaches a second socket of the page', async () => {
    await mint('alice', '{"username": "Alice"}');
    const first = await openSocket();
    const second = await openSocket();
    // The editor starts with an example built from the message_body schema,
    // which the page itself finds valid.
    const prefilled = await page.$eval(`${panel(first)} .event[data-event="sendMessage"]`, (el) => ({
      payload: JSON.parse(el.querySelector('.payload').value),
      valid: el.querySelector('.validity').dataset.valid,
    }));
    assert.equal(typeof prefilled.payload.message, 'string');
    assert.equal(prefilled.valid, 'true');

    const answer = await send(first, 'sendMessage', JSON.stringify({ message: 'hello from the playground' }));
    assert.equal(answer.text, 'ack {"ok":true}');
    await page.waitForFunction(
      (sel) => [...document.querySelectorAll(sel)].some((li) => li.textContent.includes('hello from the playground')),
      {},
      `${panel(second)} .received li[data-event="message"]`,
    );
    const received = await page.$eval(`${panel(second)} .received li[data-event="message"] .args`, (a) => JSON.parse(a.textContent));
    assert.deepEqual(received, { user: 'alice', username: 'Alice', message: 'hello from the playground' });
    await screenshot(page, 'playground-broadcast');
  });

  test('a room send is refused to a socket outside the room and reaches the members', async () => {
    assert.equal((await send(2, 'join', '{"room": "lobby"}')).text, 'ack {"ok":true,"room":"lobby"}');
    const outsider = await send(1, 'sendToRoom', '{"room": "lobby", "message": "let me in"}');
    assert.equal(outsider.code, 'forbidden', outsider.text);
    const member = await send(2, 'sendToRoom', '{"room": "lobby", "message": "members only"}');
    assert.equal(member.text, 'ack {"ok":true}');
    await page.waitForFunction(
      (sel) => [...document.querySelectorAll(sel)].some((li) => li.textContent.includes('members only')),
      {},
      `${panel(2)} .received li[data-event="message"] .args`,
    );
    const heardOutside = await page.$$eval(`${panel(1)} .received li[data-event="message"] .args`, (items) =>
      items.some((a) => a.textContent.includes('members only')),
    );
    assert.equal(heardOutside, false, 'the socket outside the room heard the room send');
  });

  test('an invalid sendMessage is flagged by the page and refused with invalid_payload', async () => {
    const validity = await page.$eval(`${panel(1)} .event[data-event="sendMessage"]`, (el) => {
      const editor = el.querySelector('.payload');
      editor.value = '{"message": ""}';
      editor.dispatchEvent(new Event('input'));
      return { valid: el.querySelector('.validity').dataset.valid, text: el.querySelector('.validity').textContent };
    });
    assert.deepEqual(validity, { valid: 'false', text: '/message: must be at least 1 characters, got 0' });
    const answer = await send(1, 'sendMessage', '{"message": ""}');
    assert.equal(answer.code, 'invalid_payload');
    assert.match(answer.text, /^invalid_payload: \/message: must be at least 1 characters/);
  });

  test('announce with a minted non-admin token is forbidden, with and without an ack', async () => {
    const withAck = await send(1, 'announce', '{"message": "hear me"}');
    assert.equal(withAck.code, 'forbidden', withAck.text);
    // Without an ack the refusal comes as an exception event, shown next to
    // the event and in the socket's list.
    const withoutAck = await send(1, 'announce', '{"message": "hear me"}', { ack: false });
    assert.equal(withoutAck.code, 'forbidden', withoutAck.text);
    const exception = await page.$eval(`${panel(1)} .received li[data-event="exception"] .args`, (a) => JSON.parse(a.textContent));
    assert.equal(exception.code, 'forbidden');
    assert.equal(exception.event, 'announce');
  });

  test('a token minted with role admin may announce, and the other sockets hear it', async () => {
    await mint('root', '{"role": "admin"}');
    const admin = await openSocket();
    const answer = await send(admin, 'announce', '{"message": "maintenance at noon"}');
    assert.equal(answer.text, 'ack {"ok":true}');
    await page.waitForFunction(
      (sel) => document.querySelector(sel)?.textContent.includes('maintenance at noon'),
      {},
      `${panel(1)} .received li[data-event="announcement"] .args`,
    );
  });

  test('the page loads nothing from elsewhere and embeds the npm socket.io-client bundle', async () => {
    assert.deepEqual(foreignRequests, []);
    const served = Buffer.from(await (await fetch(`${gateway.url}/playground/assets/socket.io.min.js`)).arrayBuffer());
    const npm = fs.readFileSync(path.join(E2E_DIR, 'node_modules/socket.io-client/dist/socket.io.min.js'));
    assert.ok(served.equals(npm), 'the embedded bundle differs from node_modules/socket.io-client: make playground-assets');
    assert.equal(pageLog.errors.filter((e) => !e.includes('.map')).length, 0, pageLog.text());
  });

  test('no answer the page received holds the JWT secret', async () => {
    const urls = new Set(answers.map((a) => new URL(a.url).pathname));
    for (const path of ['/playground/', '/playground/config.json', '/playground/api/token']) {
      assert.ok(urls.has(path), `the page did not request ${path}: ${[...urls].join(', ')}`);
    }
    const forms = [DEFAULT_SECRET, Buffer.from(DEFAULT_SECRET).toString('base64'), Buffer.from(DEFAULT_SECRET).toString('base64url')];
    for (const answer of answers) {
      for (const form of forms) {
        assert.ok(!answer.body.includes(form) && !answer.headers.includes(form), `${answer.url} answers the JWT secret`);
      }
    }
  });
});

describe('the playground when it is off', suite, () => {
  let gateway;
  let browser;

  before(async () => {
    gateway = await playgroundOff;
    browser = await browserReady;
  });

  test('its paths answer 404 and run prints no URL', async () => {
    for (const [method, path] of [
      ['GET', '/playground'],
      ['GET', '/playground/'],
      ['GET', '/playground/config.json'],
      ['GET', '/playground/assets/socket.io.min.js'],
      ['POST', '/playground/api/token'],
    ]) {
      const res = await fetch(gateway.url + path, {
        method,
        headers: { 'content-type': 'application/json' },
        body: method === 'POST' ? '{"claims":{"sub":"alice"}}' : undefined,
        redirect: 'manual',
      });
      await res.arrayBuffer();
      assert.equal(res.status, 404, `${method} ${path}`);
    }
    const page = await browser.newPage();
    const res = await page.goto(`${gateway.url}/playground/`);
    assert.equal(res.status(), 404);
    await screenshot(page, 'playground-off');
    await page.close();
    assert.doesNotMatch(gateway.output().stdout, /Playground:/);
  });
});

// A config without allowed_origins: the page is served by the gateway, so
// its sockets are of the gateway's own origin (a browser sends it as
// Origin) and are accepted, as they would be beside a list of other
// origins.
describe('a playground on a gateway without server.allowed_origins', suite, () => {
  let gateway;
  let dir;

  before(async () => {
    dir = tempDir();
    const config = path.join(dir.dir, 'gateway.yaml');
    fs.writeFileSync(
      config,
      'server:\n  playground: {enabled: true}\nnamespaces:\n  /chat:\n    events:\n      ping: {handler: {reply: {value: \'"pong"\'}}}\n',
    );
    gateway = await startGateway({ config });
  });

  after(async () => {
    await gateway?.stop();
    dir?.cleanup();
  });

  test("the page's own sockets connect: it is of the gateway's origin", async () => {
    const page = await (await browserReady).newPage();
    try {
      await page.goto(`${gateway.url}/playground/`);
      await page.waitForSelector('body[data-ready="true"]');
      await page.click('#open-socket');
      await page.waitForFunction(() => document.querySelector('.socket .status').dataset.state !== 'connecting');
      const state = await page.$eval('.socket .status', (s) => s.dataset.state);
      assert.equal(state, 'connected');
      assert.equal(await page.$$eval('.socket .received li[data-event="connect"]', (items) => items.length), 1);
    } finally {
      await page.close();
    }
  });
});

// The page's validator (assets/schema.js, loaded here as in the page) and
// the gateway's schema guard judge the same payloads alike, with the same
// words: what the page says before sending is what the gateway answers.
describe("the page's schema validator", () => {
  const GatehouseSchema = require('../../internal/playground/assets/schema.js');
  let gateway;
  let socket;
  let schema;

  before(async () => {
    gateway = await playgroundOn;
    const view = await (await fetch(`${gateway.url}/playground/config.json`)).json();
    schema = view.namespaces[0].events.find((e) => e.name === 'sendMessage').schemas[0];
    socket = await connect(gateway.url, '/chat', { auth: { token: token({ sub: uniqueSub('validator') }) } });
  });

  after(async () => {
    socket?.close();
  });

  /**
   * Sends each payload as event on socket and asserts that the page's
   * validator finds it valid exactly when the gateway acks it, and that its
   * first message is the gateway's invalid_payload message.
   */
  async function agree(socket, event, schema, payloads) {
    for (const payload of payloads) {
      const errors = GatehouseSchema.validate(schema, payload);
      const ack = await emitAck(socket, event, payload);
      const what = JSON.stringify(payload).slice(0, 60);
      if (errors.length === 0) {
        assert.deepEqual(ack, { ok: true }, `the page finds ${what} valid`);
      } else {
        assert.equal(ack.error?.code, 'invalid_payload', `the page finds ${what} invalid: ${GatehouseSchema.describe(errors[0])}`);
        assert.equal(GatehouseSchema.describe(errors[0]), ack.error.message, what);
      }
    }
  }

  test('agrees with the gateway on sendMessage payloads, message for message', async () => {
    const payloads = [
      { message: 'hello' },
      { message: 'hello', extra: true },
      { message: '' },
      {},
      { message: 5 },
      { message: null },
      { message: 'x'.repeat(2000) },
      { message: 'x'.repeat(2001) },
      // 1000 emoji are 2000 UTF-16 units but 1000 characters, as the
      // gateway counts them; 2001 of them are too many.
      { message: '😀'.repeat(1000) },
      { message: '😀'.repeat(2001) },
      'just a string',
      [1, 2],
      GatehouseSchema.example(schema),
    ];
    await agree(socket, 'sendMessage', schema, payloads);
  });

  test('agrees with the gateway on every keyword it checks, and pre-fills a valid example', async () => {
    const shop = await startGateway({ config: fixture('playground-schemas.yaml') });
    const client = await connect(shop.url, '/shop');
    try {
      const view = await (await fetch(`${shop.url}/playground/config.json`)).json();
      const order = view.namespaces[0].events[0].schemas[0];
      const base = { id: 1, kind: 'pickup', items: [{ sku: 'ab', qty: 1 }] };
      const example = GatehouseSchema.example(order);
      assert.deepEqual(GatehouseSchema.validate(order, example), [], JSON.stringify(example));
      await agree(client, 'order', order, [
        example,
        base,
        { ...base, id: 0 }, // minimum
        { ...base, id: 1.5 }, // type integer
        { ...base, kind: 'other' }, // enum
        { ...base, items: [] }, // minItems
        { ...base, items: [1, 2, 3, 4].map((n) => ({ sku: `s${n}`, qty: n })) }, // maxItems
        { ...base, items: [base.items[0], base.items[0]] }, // uniqueItems
        { ...base, items: [{ sku: 'a', qty: 1 }] }, // $ref, minLength
        { ...base, items: [{ sku: 'ab', qty: 0 }] }, // exclusiveMinimum
        { ...base, items: [{ sku: 'ab' }] }, // required in a $ref
        { ...base, extra: 1 }, // additionalProperties: false
        { ...base, note: null }, // type [string, null]
        { ...base, note: 'x'.repeat(21) }, // maxLength
        { ...base, code: 'ABC-12' },
        { ...base, code: 'abc-12' }, // pattern
        { ...base, kind: 'delivery' }, // if/then
        { ...base, kind: 'delivery', address: 'Main street 1' },
        { ...base, kind: 'delivery', address: { city: 'Oslo' } },
        { ...base, kind: 'delivery', address: 'Main' }, // oneOf, none matching
        { ...base, kind: 'delivery', address: 5 },
      ]);
    } finally {
      client.close();
      await shop.stop();
    }
  });
});
