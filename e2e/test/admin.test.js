'use strict';

// The operator's view (server.admin) in a real headless Chromium (Debian's
// chromium through puppeteer-core): with an API key typed in, the page shows
// the official client's two connections, their room and the refusal one of
// them met, and its Disconnect button disconnects one. Screenshots go to
// e2e/screenshots/. Without server.admin the paths answer 404, and no answer
// holds a secret of the config.

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { DEFAULT_SECRET, clientPool, emitAck, fixture, repoFile, startGateway, token, waitFor } = require('../lib/gateway');
const { browserSkipReason, launchBrowser, screenshot, watchPage } = require('../lib/browser');

const WAIT_MS = 8_000;
const API_KEY = 'e2e-admin-key-7c0ffee';
const PARTS = ['connections', 'refusals', 'events'];

// false, not null, when Chromium is there: Node 20's test runner skips a
// suite whose skip option is null.
const skip = browserSkipReason() ?? false;

/** GET path with the API key (or none), resolved with {status, text}. */
async function get(url, path, key = API_KEY) {
  const headers = key ? { Authorization: `Bearer ${key}` } : {};
  const res = await fetch(url + path, { headers });
  return { status: res.status, text: await res.text() };
}

describe('the operator\'s view', { skip }, () => {
  let gateway;
  let browser;
  let page;
  let pageLog;
  const pool = clientPool();
  const foreignRequests = [];

  before(async () => {
    gateway = await startGateway({ config: fixture('admin.yaml'), env: { ADMIN_API_KEY: API_KEY } });
    browser = await launchBrowser();
    page = await browser.newPage();
    page.setDefaultTimeout(WAIT_MS);
    pageLog = watchPage(page);
    page.on('request', (req) => {
      if (!req.url().startsWith(gateway.url) && !req.url().startsWith('data:')) foreignRequests.push(req.url());
    });
  });

  after(async () => {
    pool.closeAll();
    if (page) await screenshot(page, 'admin-final');
    if (browser) await browser.close();
    if (gateway) await gateway.stop();
  });

  test('its JSON endpoints refuse a request without the key', async () => {
    for (const part of PARTS) {
      for (const key of ['', 'not-the-key']) {
        const { status, text } = await get(gateway.url, `/admin/api/${part}`, key);
        assert.equal(status, 401, `${part} with key "${key}": ${text}`);
        assert.equal(JSON.parse(text).code, 'unauthorized');
      }
    }
  });

  test('shows two connections, their room and a refusal, and disconnects one', async () => {
    const alice = await pool.connect(gateway.url, '/chat', { auth: { token: token({ sub: 'alice' }) } });
    const bob = await pool.connect(gateway.url, '/chat', { auth: { token: token({ sub: 'bob', role: 'member' }) } });
    assert.deepEqual(await emitAck(alice, 'join', { room: 'lobby' }), { ok: true, room: 'lobby' });
    assert.deepEqual(await emitAck(bob, 'join', { room: 'lobby' }), { ok: true, room: 'lobby' });
    const refused = await emitAck(bob, 'announce', { message: 'hello all' });
    assert.equal(refused.error.code, 'forbidden');

    await page.goto(`${gateway.url}/admin?refresh_ms=500`);
    await page.type('#key', API_KEY);
    await page.click('#key-form button[type=submit]');
    await page.waitForFunction(
      (ids) => ids.every((id) => document.querySelector(`#sockets button[data-socket="${id}"]`)),
      { timeout: WAIT_MS },
      [alice.id, bob.id],
    );
    await page.waitForFunction(
      () => [...document.querySelectorAll('#refusals tbody tr')].some((row) => row.textContent.includes('forbidden')),
      { timeout: WAIT_MS },
    );
    const seen = await page.evaluate(() => ({
      sockets: [...document.querySelectorAll('#sockets tbody tr')].map((row) => row.textContent),
      rooms: [...document.querySelectorAll('#rooms tbody tr')].map((row) => [...row.cells].map((c) => c.textContent)),
      refusal: [...document.querySelectorAll('#refusals tbody tr')].map((row) => [...row.cells].map((c) => c.textContent))
        .find((cells) => cells.includes('forbidden')),
      nodes: document.querySelector('#nodes tbody').textContent,
    }));
    await screenshot(page, 'admin-two-connections');
    assert.equal(seen.sockets.length, 2, seen.sockets.join('\n'));
    assert.ok(seen.sockets.some((row) => row.includes('alice')) && seen.sockets.some((row) => row.includes('bob')));
    assert.deepEqual(seen.rooms, [['/chat', 'lobby', '2']]);
    const [, stage, namespace, event, code, reason, address] = seen.refusal;
    assert.deepEqual([stage, namespace, event, code, address], ['event', '/chat', 'announce', 'forbidden', '127.0.0.1']);
    assert.match(reason, /admin_only/);
    assert.match(seen.nodes, /this one/);

    const gone = waitFor(bob, 'disconnect', WAIT_MS);
    await page.$eval(`#sockets button[data-socket="${bob.id}"]`, (button) => button.click());
    const [reasonSeen] = await gone;
    assert.equal(reasonSeen, 'io server disconnect');
    await page.waitForFunction(
      (id) => !document.querySelector(`#sockets button[data-socket="${id}"]`) && document.querySelectorAll('#sockets tbody tr').length === 1,
      { timeout: WAIT_MS },
      bob.id,
    );
    await screenshot(page, 'admin-after-disconnect');
    assert.ok(alice.connected, 'the other socket stays connected');
    assert.deepEqual(foreignRequests, [], 'the page fetched something from elsewhere');
    assert.equal(pageLog.errors.length, 0, pageLog.text());
  });

  test('no answer holds a secret', async () => {
    const answers = [await get(gateway.url, '/admin', '')];
    for (const part of PARTS) answers.push(await get(gateway.url, `/admin/api/${part}`));
    for (const { status, text } of answers) {
      assert.equal(status, 200);
      for (const secret of [DEFAULT_SECRET, API_KEY]) {
        assert.ok(!text.includes(secret), `an answer holds the secret ${secret}`);
      }
      assert.ok(!/eyJ[\w-]+\.[\w-]+\./.test(text), 'an answer holds a token');
    }
  });
});

describe('without server.admin', () => {
  let gateway;

  before(async () => {
    gateway = await startGateway({ config: repoFile('gateway.yaml') });
  });

  after(async () => {
    if (gateway) await gateway.stop();
  });

  test('its paths answer 404', async () => {
    for (const path of ['/admin', '/admin/', ...PARTS.map((part) => `/admin/api/${part}`)]) {
      const { status } = await get(gateway.url, path);
      assert.equal(status, 404, path);
    }
  });
});
