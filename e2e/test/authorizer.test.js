'use strict';

// examples/authorizer with the official client: the gateway asks the example's
// auth service (a real process) about each CONNECT's session cookie, the
// answer's claims drive claims guards and expressions, and a session is
// re-authorized before its lifetime ends. Then the backend slows down and
// stops, under a namespace that fails closed and one that fails open.

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');

const {
  REPO_DIR,
  clientPool,
  emitAck,
  fixture,
  freePort,
  record,
  repoFile,
  sleep,
  startGateway,
  waitFor,
  withTimeout,
} = require('../lib/gateway');

const BACKEND_BIN = process.env.AUTHORIZER_BACKEND_BIN || path.join(REPO_DIR, 'bin', 'authorizer-backend');
const AUTHORIZER_TOKEN = 'e2e-authorizer-token';
// The backend's answers hold this long; the gateway asks again before.
const LIFETIME_S = 2;

async function startAuthBackend(port) {
  const proc = spawn(BACKEND_BIN, ['--listen', `127.0.0.1:${port}`, '--lifetime', `${LIFETIME_S}s`], {
    env: { ...process.env, AUTHORIZER_TOKEN },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  await withTimeout(
    (async () => {
      for (;;) {
        try {
          const res = await fetch(`http://127.0.0.1:${port}/stats`);
          await res.arrayBuffer();
          return;
        } catch {
          await sleep(50);
        }
      }
    })(),
    10_000,
    'the authorizer backend to listen',
  );
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      proc.kill('SIGTERM');
      await withTimeout(exited, 5_000, 'the authorizer backend to exit').catch(() => proc.kill('SIGKILL'));
    },
  };
}

describe('examples/authorizer: cookie sessions decided by an auth service', () => {
  let backend;
  let gw;
  let open;
  let upgrade;
  const pool = clientPool();

  const call = async (method, route, body) => {
    const res = await fetch(backend.url + route, {
      method,
      headers: { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return text ? JSON.parse(text) : null;
  };
  const login = async (user) => (await call('POST', '/sessions', user)).sid;
  const stats = () => call('GET', '/stats');
  const withSession = (sid) => ({ extraHeaders: { Cookie: `theme=dark; session=${sid}` } });

  before(async () => {
    if (!fs.existsSync(BACKEND_BIN)) {
      throw new Error(`${BACKEND_BIN} is missing: run "make examples" (make e2e does) before this suite`);
    }
    backend = await startAuthBackend(await freePort());
    const env = {
      AUTHORIZER_URL: `${backend.url}/authorize`,
      HOOKS_URL: `${backend.url}/hooks`,
      AUTHORIZER_TOKEN,
      AUTHORIZER_TIMEOUT: '500ms',
    };
    gw = await startGateway({ config: repoFile('examples/authorizer/gateway.yaml'), env });
    open = await startGateway({ config: fixture('authorizer-open.yaml'), env });
    upgrade = await startGateway({ config: fixture('authorizer-upgrade.yaml'), env });
  });
  after(async () => {
    pool.closeAll();
    if (gw) await gw.stop();
    if (open) await open.stop();
    if (upgrade) await upgrade.stop();
    if (backend) await backend.stop();
  });

  test('a live session cookie connects, and the socket carries the session user as its claims', async () => {
    const sid = await login({ sub: 'alice', name: 'Alice', role: 'member' });
    const socket = await pool.connect(gw.url, '/app', withSession(sid));
    assert.deepEqual(await emitAck(socket, 'whoami'), { sub: 'alice', name: 'Alice', role: 'member' });
  });

  test('no session, an ended one and a suspended account are refused with the backend code and message', async () => {
    let err = await pool.connectError(gw.url, '/app', {});
    assert.equal(err.data.code, 'unauthorized');
    assert.equal(err.message, 'log in first: no session cookie');

    err = await pool.connectError(gw.url, '/app', withSession('no-such-session'));
    assert.equal(err.data.code, 'unauthorized');
    assert.equal(err.message, 'your session has ended; log in again');

    const banned = await login({ sub: 'mallory', name: 'Mallory', role: 'banned' });
    err = await pool.connectError(gw.url, '/app', withSession(banned));
    assert.equal(err.data.code, 'forbidden');
    assert.equal(err.message, 'this account is suspended');
  });

  test('the authorizer claims drive claims guards and expressions as token claims would', async () => {
    const guest = await login({ sub: 'gus', name: 'Gus', role: 'guest' });
    const refused = await pool.connectError(gw.url, '/app', withSession(guest));
    assert.equal(refused.data.code, 'forbidden', 'the members claims guard lets a guest in');

    const [member, admin] = await Promise.all([
      login({ sub: 'bea', name: 'Bea', role: 'member' }).then((sid) => pool.connect(gw.url, '/app', withSession(sid))),
      login({ sub: 'root', name: 'Root', role: 'admin' }).then((sid) => pool.connect(gw.url, '/app', withSession(sid))),
    ]);
    const denied = await emitAck(member, 'announce', { text: 'hi' });
    assert.equal(denied.error.code, 'forbidden');
    const announcements = record(member, 'announcement');
    assert.deepEqual(await emitAck(admin, 'announce', { text: 'maintenance at noon' }), { ok: true });
    await announcements.waitCount(1);
    assert.deepEqual(announcements.firsts[0], { from: 'Root', text: 'maintenance at noon' });

    assert.deepEqual(await emitAck(member, 'join', { room: 'lobby' }), { ok: true, room: 'lobby' });
    const said = waitFor(member, 'said');
    assert.deepEqual(await emitAck(member, 'say', { room: 'lobby', text: 'hello' }), { ok: true });
    assert.deepEqual((await said)[0], { from: 'Bea', role: 'member', text: 'hello' });
  });

  test('repeated connects with one cookie are answered from the cache', async () => {
    const sid = await login({ sub: 'carol', name: 'Carol', role: 'member' });
    const before = (await stats()).authorize_calls;
    for (let i = 0; i < 5; i++) {
      const socket = await pool.connect(gw.url, '/app', withSession(sid));
      socket.close();
    }
    const calls = (await stats()).authorize_calls - before;
    assert.equal(calls, 1, `5 connects with one cookie made ${calls} backend calls`);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    const hits = metrics.match(/^gatehouse_authorizer_cache_total\{namespace="\/app",result="hit"\} (\d+)/m);
    assert.ok(hits && Number(hits[1]) >= 4, `cache hits in /metrics: ${hits && hits[1]}`);
  });

  test('a session is re-authorized before each lifetime ends, and disconnected once it has ended', async () => {
    const sid = await login({ sub: 'dave', name: 'Dave', role: 'member' });
    const refreshesBefore = (await stats()).refresh_calls;
    const socket = await pool.connect(gw.url, '/app', withSession(sid));
    const exceptions = record(socket, 'exception');
    await sleep(LIFETIME_S * 2500);
    assert.equal(socket.connected, true, 'dropped although its session is live');
    assert.deepEqual(await emitAck(socket, 'whoami'), { sub: 'dave', name: 'Dave', role: 'member' });
    const refreshes = (await stats()).refresh_calls - refreshesBefore;
    assert.ok(refreshes >= 2, `${refreshes} refreshes in 2.5 lifetimes`);

    const gone = waitFor(socket, 'disconnect', LIFETIME_S * 1000 + 5_000);
    await call('DELETE', `/sessions/${sid}`);
    const [reason] = await gone;
    assert.equal(reason, 'io server disconnect');
    assert.equal(exceptions.events.length, 1);
    assert.equal(exceptions.firsts[0].code, 'unauthorized');
    assert.equal(exceptions.firsts[0].message, 'your session has ended; log in again');
  });

  test('at: upgrade refuses the handshake itself, and one answer serves the CONNECT', async () => {
    for (const transports of [['polling'], ['websocket']]) {
      const err = await pool.connectError(upgrade.url, '/up', { transports });
      assert.ok(err.data === undefined, 'a refused handshake carries no connect_error data');
      assert.match(err.message, /poll error|websocket error/);
    }
    const sid = await login({ sub: 'gina', name: 'Gina', role: 'member' });
    const before = (await stats()).authorize_calls;
    const socket = await pool.connect(upgrade.url, '/up', withSession(sid));
    assert.deepEqual(await emitAck(socket, 'whoami'), { sub: 'gina', name: 'Gina', role: 'member' });
    assert.equal((await stats()).authorize_calls - before, 1, 'one call for the handshake and the CONNECT');
  });

  test('a backend slower than the timeout refuses under deny and lets in without claims under allow', async () => {
    const sid = await login({ sub: 'erin', name: 'Erin', role: 'member' });
    await call('POST', '/control', { delay_ms: 1500 });
    try {
      const err = await pool.connectError(gw.url, '/app', withSession(sid));
      assert.equal(err.data.code, 'upstream_timeout');
      const socket = await pool.connect(open.url, '/open', withSession(sid));
      assert.deepEqual(await emitAck(socket, 'whoami'), {});
    } finally {
      await call('POST', '/control', { delay_ms: 0 });
    }
    const socket = await pool.connect(open.url, '/open', withSession(sid));
    assert.equal((await emitAck(socket, 'whoami')).sub, 'erin');
  });

  test('a backend that is down refuses under deny and lets in without claims under allow', async () => {
    const sid = await login({ sub: 'frank', name: 'Frank', role: 'member' });
    await backend.stop();
    const err = await pool.connectError(gw.url, '/app', withSession(sid));
    assert.equal(err.data.code, 'upstream_error');
    const socket = await pool.connect(open.url, '/open', withSession(sid));
    assert.deepEqual(await emitAck(socket, 'whoami'), {});
  });
});
