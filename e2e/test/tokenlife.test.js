'use strict';

// A long-polling client (the official socket.io-client, polling only) whose
// token travels in the query, which the client repeats on every request:
// refreshed in-band with auth:refresh, the session outlives that first
// token.

const assert = require('node:assert/strict');
const { after, before, describe, test } = require('node:test');

const { clientPool, emitAck, fixture, record, sleep, startGateway, token, uniqueSub } = require('../lib/gateway');

describe('token lifetime over long-polling', () => {
  const EXPIRY_S = 3;
  let gw;
  const pool = clientPool();

  before(async () => {
    gw = await startGateway({ config: fixture('guards.yaml') });
  });

  after(async () => {
    pool.closeAll();
    if (gw) await gw.stop();
  });

  test('a polling client refreshed with auth:refresh stays connected past its query token exp', async () => {
    const sub = uniqueSub();
    const started = Date.now();
    const socket = await pool.connect(gw.url, '/g', {
      transports: ['polling'],
      query: { token: token({ sub }, { expiresIn: EXPIRY_S }) },
    });
    const disconnects = record(socket, 'disconnect');
    const exceptions = record(socket, 'exception');

    const ack = await emitAck(socket, 'auth:refresh', { token: token({ sub, refreshed: true }, { expiresIn: 3600 }) });
    assert.equal(ack?.ok, true, `refresh ack was ${JSON.stringify(ack)}`);

    // Well past the query token's exp: every poll since carried it.
    await sleep(Math.max(0, started + (EXPIRY_S + 2) * 1000 - Date.now()));
    const me = await emitAck(socket, 'whoami');
    assert.equal(me.sub, sub);
    assert.equal(me.refreshed, true, 'claims come from the refreshed token');
    assert.ok(socket.connected);
    assert.equal(socket.io.engine.transport.name, 'polling');
    assert.deepEqual(disconnects.events, []);
    assert.deepEqual(exceptions.events, []);
  });
});
