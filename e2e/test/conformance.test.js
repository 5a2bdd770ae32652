'use strict';

// examples/conformance: the server of the official Socket.IO protocol test
// suite (socketio/socket.io-protocol, test-suite/), driven by the official
// client and, for the byte-exact packets the suite checks, by a raw
// WebSocket speaking Engine.IO v4.

const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const { after, before, describe, test } = require('node:test');
const { io } = require('socket.io-client');
const WebSocket = require('ws');

const {
  awaitConnect,
  clientPool,
  emitAckArgs,
  gatewayBinary,
  repoFile,
  startGateway,
  waitFor,
  withTimeout,
} = require('../lib/gateway');

const CONFIG = repoFile('examples/conformance/gateway.yaml');
const WAIT_MS = 5000;

/** Connects to ns with the given auth payload and resolves with the socket and its "auth" event's arguments. */
async function connectForAuth(pool, url, ns, auth) {
  const socket = pool.add(io(url + ns, { forceNew: true, reconnection: false, autoConnect: false, auth }));
  const authEvent = waitFor(socket, 'auth', WAIT_MS);
  socket.connect();
  await awaitConnect(socket);
  return { socket, args: await authEvent };
}

/**
 * A raw Engine.IO v4 WebSocket session: resolves once the open packet came,
 * with next() giving the following messages (text as strings, binary as
 * Buffers), pings answered.
 */
async function rawSession(url) {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`);
  const queue = [];
  const waiters = [];
  ws.on('message', (data, isBinary) => {
    const msg = isBinary ? Buffer.from(data) : data.toString();
    if (msg === '2') {
      ws.send('3');
      return;
    }
    const waiter = waiters.shift();
    if (waiter) waiter(msg);
    else queue.push(msg);
  });
  const next = () =>
    withTimeout(
      new Promise((resolve) => (queue.length > 0 ? resolve(queue.shift()) : waiters.push(resolve))),
      WAIT_MS,
      'a message from the gateway',
    );
  await withTimeout(new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject)), WAIT_MS, 'open');
  const open = await next();
  return { ws, next, open: JSON.parse(open.slice(1)) };
}

describe('examples/conformance: the server of the official protocol test suite', () => {
  let gw;
  const pool = clientPool();
  const raws = [];

  before(async () => {
    gw = await startGateway({ config: CONFIG });
  });
  after(async () => {
    pool.closeAll();
    for (const ws of raws) ws.terminate();
    if (gw) await gw.stop();
  });

  async function raw() {
    const session = await rawSession(gw.url);
    raws.push(session.ws);
    return session;
  }

  test('gatehouse validate accepts the example', () => {
    const out = execFileSync(gatewayBinary(), ['validate', '--config', CONFIG], { encoding: 'utf8' });
    assert.match(out, /ok/);
  });

  test('the Engine.IO handshake carries the timings and payload bound the suite expects', async () => {
    const { open } = await raw();
    assert.equal(open.pingInterval, 300);
    assert.equal(open.pingTimeout, 200);
    assert.equal(open.maxPayload, 1000000);
  });

  for (const ns of ['/', '/custom']) {
    test(`"auth" on ${ns} carries the CONNECT auth payload`, async () => {
      const withPayload = await connectForAuth(pool, gw.url, ns, { token: '123', room: 'r1' });
      assert.deepEqual(withPayload.args, [{ token: '123', room: 'r1' }]);
      const without = await connectForAuth(pool, gw.url, ns, undefined);
      assert.deepEqual(without.args, [{}]);
    });

    test(`"message" on ${ns} comes back as "message-back" with every argument, a Buffer included`, async () => {
      const socket = await pool.connect(gw.url, ns);
      const back = waitFor(socket, 'message-back', WAIT_MS);
      socket.emit('message', 1, '2', { 3: [true] }, Buffer.from([1, 2, 3]));
      const args = await back;
      assert.equal(args.length, 4);
      assert.deepEqual(args.slice(0, 3), [1, '2', { 3: [true] }]);
      assert.deepEqual(Buffer.from(args[3]), Buffer.from([1, 2, 3]));
    });

    test(`"message-with-ack" on ${ns} is acknowledged with every argument, Buffers included`, async () => {
      const socket = await pool.connect(gw.url, ns);
      const ackArgs = await withTimeout(
        new Promise((resolve) => socket.emit('message-with-ack', 'a', Buffer.from([4, 5, 6]), { n: 1 }, (...args) => resolve(args))),
        WAIT_MS,
        'the ack',
      );
      assert.equal(ackArgs.length, 3);
      assert.equal(ackArgs[0], 'a');
      assert.deepEqual(Buffer.from(ackArgs[1]), Buffer.from([4, 5, 6]));
      assert.deepEqual(ackArgs[2], { n: 1 });
      // emitWithAck resolves with the first argument.
      assert.equal(await emitAckArgs(socket, 'message-with-ack', ['first', 'second']), 'first');
    });
  }

  test('reply {value: data} over a binary payload gives the bytes back, not a placeholder', async () => {
    const socket = await pool.connect(gw.url, '/');
    const whole = await emitAckArgs(socket, 'data-with-ack', [Buffer.from([7, 8, 9])]);
    assert.deepEqual(Buffer.from(whole), Buffer.from([7, 8, 9]));
    const nested = await emitAckArgs(socket, 'data-with-ack', [{ name: 'f.bin', file: Buffer.from([1, 2]) }]);
    assert.equal(nested.name, 'f.bin');
    assert.deepEqual(Buffer.from(nested.file), Buffer.from([1, 2]));
  });

  describe('the packets of the suite, byte for byte', () => {
    test('CONNECT with a payload on / and /custom, then the auth event', async () => {
      const { ws, next } = await raw();
      ws.send('40{"token":"123"}');
      assert.match(await next(), /^40\{"sid":"[^"]+"\}$/);
      assert.equal(await next(), '42["auth",{"token":"123"}]');
      ws.send('40/custom,');
      assert.match(await next(), /^40\/custom,\{"sid":"[^"]+"\}$/);
      assert.equal(await next(), '42/custom,["auth",{}]');
    });

    test('a plain-text message and its ack', async () => {
      const { ws, next } = await raw();
      ws.send('40');
      await next();
      await next();
      ws.send('42["message",1,"2",{"3":[true]}]');
      assert.equal(await next(), '42["message-back",1,"2",{"3":[true]}]');
      ws.send('42456["message-with-ack",1,"2",{"3":[false]}]');
      assert.equal(await next(), '43456[1,"2",{"3":[false]}]');
    });

    test('binary attachments echoed and acknowledged', async () => {
      const { ws, next } = await raw();
      ws.send('40');
      await next();
      await next();
      ws.send('452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
      ws.send(Uint8Array.from([1, 2, 3]));
      ws.send(Uint8Array.from([4, 5, 6]));
      assert.equal(await next(), '452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
      assert.deepEqual(await next(), Buffer.from([1, 2, 3]));
      assert.deepEqual(await next(), Buffer.from([4, 5, 6]));
      ws.send('452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
      ws.send(Uint8Array.from([1, 2, 3]));
      ws.send(Uint8Array.from([4, 5, 6]));
      assert.equal(await next(), '462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
      assert.deepEqual(await next(), Buffer.from([1, 2, 3]));
      assert.deepEqual(await next(), Buffer.from([4, 5, 6]));
    });
  });
});
