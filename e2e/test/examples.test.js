'use strict';

// The examples/ folders, run as their READMEs say: the plugin binary with its
// own guard and handler types, the webhook gateway with its backend, and the
// commented chat config.

const assert = require('node:assert/strict');
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');

const {
  DEFAULT_SECRET,
  REPO_DIR,
  clientPool,
  emitAck,
  freePort,
  record,
  repoFile,
  startGateway,
  token,
  uniqueSub,
  waitFor,
  withTimeout,
} = require('../lib/gateway');

const BIN_DIR = path.join(REPO_DIR, 'bin');
const PLUGIN_BIN = process.env.GATEHOUSE_PLUGIN_BIN || path.join(BIN_DIR, 'gatehouse-plugin');
const BACKEND_BIN = process.env.WEBHOOK_BACKEND_BIN || path.join(BIN_DIR, 'webhook-backend');

function requireBinary(bin) {
  if (!fs.existsSync(bin)) {
    throw new Error(`${bin} is missing: run "make examples" (make e2e does) before this suite`);
  }
}

describe('examples/plugin: a custom binary with its own guard and handler', () => {
  let gw;
  const pool = clientPool();
  before(async () => {
    requireBinary(PLUGIN_BIN);
    gw = await startGateway({ bin: PLUGIN_BIN, config: repoFile('examples/plugin/gateway.yaml') });
  });
  after(async () => {
    pool.closeAll();
    if (gw) await gw.stop();
  });

  test('validate accepts the example config with the plugin types registered', () => {
    const out = execFileSync(PLUGIN_BIN, ['validate', '--config', repoFile('examples/plugin/gateway.yaml')], {
      env: { ...process.env, JWT_SECRET: DEFAULT_SECRET },
      timeout: 10_000,
    });
    assert.equal(out.toString(), 'ok\n');
  });

  test('the stock binary does not know the plugin types and names them with a position', () => {
    let failure;
    try {
      execFileSync(path.join(BIN_DIR, 'gatehouse'), ['validate', '--config', repoFile('examples/plugin/gateway.yaml')], {
        env: { ...process.env, JWT_SECRET: DEFAULT_SECRET },
        timeout: 10_000,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (err) {
      failure = err;
    }
    assert.ok(failure, 'validate should fail');
    assert.equal(failure.status, 1);
    const stderr = failure.stderr.toString();
    assert.match(stderr, /gateway\.yaml:\d+:\d+: .*unknown guard type "blocklist"/);
    assert.match(stderr, /gateway\.yaml:\d+:\d+: .*unknown handler type "shout"/);
  });

  test('the shout handler broadcasts in capitals and acks the length', async () => {
    const sub = uniqueSub('shouter');
    const [sender, listener] = await Promise.all([
      pool.connect(gw.url, '/chat', { auth: { token: token({ sub }) } }),
      pool.connect(gw.url, '/chat', { auth: { token: token({ sub: uniqueSub('listener') }) } }),
    ]);
    const heard = waitFor(listener, 'shout');
    const reply = await emitAck(sender, 'shout', { message: 'hello' });
    assert.deepEqual(reply, { ok: true, length: 6 });
    const [payload] = await heard;
    assert.deepEqual(payload, { user: sub, text: 'HELLO!' });
  });

  test('the blocklist guard refuses with forbidden before the handler runs', async () => {
    const sender = await pool.connect(gw.url, '/chat', { auth: { token: token({ sub: uniqueSub('spammer') }) } });
    const shouts = record(sender, 'shout');
    const reply = await emitAck(sender, 'shout', { message: 'Buy SPAM now' });
    assert.deepEqual(reply, { error: { code: 'forbidden', message: 'message contains a blocked word' } });
    // The schema guard listed first still applies.
    const invalid = await emitAck(sender, 'shout', { message: '' });
    assert.equal(invalid.error.code, 'invalid_payload');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(shouts.events.length, 0);
  });
});

describe('examples/webhook: events forwarded to an HTTP backend', () => {
  let gw;
  let backend;
  const pool = clientPool();
  before(async () => {
    requireBinary(BACKEND_BIN);
    const port = await freePort();
    backend = spawn(BACKEND_BIN, ['--listen', `127.0.0.1:${port}`], {
      env: { ...process.env, BACKEND_TOKEN: 'e2e-backend-token' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    await withTimeout(
      (async () => {
        for (;;) {
          try {
            const res = await fetch(`http://127.0.0.1:${port}/events`);
            await res.arrayBuffer();
            return;
          } catch {
            await new Promise((r) => setTimeout(r, 50));
          }
        }
      })(),
      10_000,
      'the example backend to listen',
    );
    gw = await startGateway({
      config: repoFile('examples/webhook/gateway.yaml'),
      env: { BACKEND_URL: `http://127.0.0.1:${port}/events`, BACKEND_TOKEN: 'e2e-backend-token' },
    });
  });
  after(async () => {
    pool.closeAll();
    if (gw) await gw.stop();
    if (backend) {
      const exited = new Promise((resolve) => backend.once('exit', resolve));
      backend.kill('SIGTERM');
      await withTimeout(exited, 5_000, 'the example backend to exit').catch(() => backend.kill('SIGKILL'));
    }
  });

  test('an order is acked by the backend, which also joins, broadcasts and emits through the gateway', async () => {
    const sub = uniqueSub('diner');
    const [diner, kitchen] = await Promise.all([
      pool.connect(gw.url, '/chat', { auth: { token: token({ sub }) } }),
      pool.connect(gw.url, '/chat', { auth: { token: token({ sub: uniqueSub('cook') }) } }),
    ]);
    // The backend broadcasts each order to the "kitchen" room; this socket never joined it, so it
    // must receive nothing, while the diner gets its own status update.
    const newOrders = record(kitchen, 'order:new');
    const status = waitFor(diner, 'order:status');
    const reply = await emitAck(diner, 'order', { item: 'soup', quantity: 2 });
    assert.equal(reply.ok, true);
    assert.match(reply.order_id, /^ord-\d+$/);
    const [update] = await status;
    assert.deepEqual(update, { order_id: reply.order_id, status: 'received' });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(newOrders.events.length, 0, 'a socket outside the kitchen room got the broadcast');
  });

  test('the gateway refuses a bad order itself: the backend never sees it', async () => {
    const diner = await pool.connect(gw.url, '/chat', { auth: { token: token({ sub: uniqueSub('diner') }) } });
    const reply = await emitAck(diner, 'order', { item: 'soup', quantity: 500 });
    assert.equal(reply.error.code, 'invalid_payload');
    assert.match(reply.error.message, /quantity/);
  });
});

describe('examples/chat: the commented default config', () => {
  let gw;
  const pool = clientPool();
  before(async () => {
    gw = await startGateway({ config: repoFile('examples/chat/gateway.yaml') });
  });
  after(async () => {
    pool.closeAll();
    if (gw) await gw.stop();
  });

  test('sendMessage reaches everyone, sender included, with the sender identity', async () => {
    const sub = uniqueSub('alice');
    const [alice, bob] = await Promise.all([
      pool.connect(gw.url, '/chat', { auth: { token: token({ sub, username: 'Alice' }) } }),
      pool.connect(gw.url, '/chat', { auth: { token: token({ sub: uniqueSub('bob') }) } }),
    ]);
    const atAlice = waitFor(alice, 'message');
    const atBob = waitFor(bob, 'message');
    assert.deepEqual(await emitAck(alice, 'sendMessage', { message: 'hi' }), { ok: true });
    const expected = { user: sub, username: 'Alice', message: 'hi' };
    assert.deepEqual((await atAlice)[0], expected);
    assert.deepEqual((await atBob)[0], expected);
  });
});
