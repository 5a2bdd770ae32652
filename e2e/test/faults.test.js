'use strict';

// The C2 code "internal": a panicking handler or a guard failing without a
// code is answered as internal, without its details, and the connection, the
// other clients and the process carry on.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');

const { REPO_DIR, clientPool, emitAck, fixture, record, startGateway, waitFor } = require('../lib/gateway');

const FAULTY_BIN = process.env.GATEHOUSE_FAULTY_BIN || path.join(REPO_DIR, 'bin', 'gatehouse-faulty');

describe('faults inside plugins are answered as internal', () => {
  let gw;
  const pool = clientPool();
  before(async () => {
    if (!fs.existsSync(FAULTY_BIN)) {
      throw new Error(`${FAULTY_BIN} is missing: run "make examples" (make e2e does) before this suite`);
    }
    gw = await startGateway({ bin: FAULTY_BIN, config: fixture('faulty.yaml') });
  });
  after(async () => {
    pool.closeAll();
    if (gw) await gw.stop();
  });

  test('a panicking handler acks internal and the connection stays usable', async () => {
    const socket = await pool.connect(gw.url, '/chat');
    const reply = await emitAck(socket, 'explode', {});
    assert.deepEqual(reply, { error: { code: 'internal', message: 'internal error' } });
    assert.equal(await emitAck(socket, 'ping', {}), 'pong');
    assert.ok(socket.connected);
  });

  test('without an ack, the panic is an exception event naming the event', async () => {
    const socket = await pool.connect(gw.url, '/chat');
    const exception = waitFor(socket, 'exception');
    socket.emit('explode', {});
    const [payload] = await exception;
    assert.deepEqual(payload, { status: 'error', code: 'internal', message: 'internal error', event: 'explode' });
  });

  test('a guard failing without a code is internal and its error text stays in the server', async () => {
    const socket = await pool.connect(gw.url, '/chat');
    const reply = await emitAck(socket, 'guarded', {});
    assert.equal(reply.error.code, 'internal');
    assert.doesNotMatch(JSON.stringify(reply), /hunter2/);
  });

  test('other clients and the process are unaffected by a burst of faults', async () => {
    const [faulty, bystander] = await Promise.all([pool.connect(gw.url, '/chat'), pool.connect(gw.url, '/chat')]);
    const disconnects = record(bystander, 'disconnect');
    await Promise.all(Array.from({ length: 20 }, () => emitAck(faulty, 'explode', {})));
    assert.equal(await emitAck(bystander, 'ping', {}), 'pong');
    assert.equal(disconnects.events.length, 0);
    assert.equal(gw.proc.exitCode, null, 'the gateway process exited');
    const health = await fetch(`${gw.url}/healthz`);
    assert.equal(health.status, 200);
  });
});
