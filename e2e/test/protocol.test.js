'use strict';

// Engine.IO v4 and Socket.IO v5 as the official client speaks them:
// transports and upgrade, multiplexing, acks, binary, maxPayload, Origin,
// reconnection, heartbeat, protocol version and namespace checks.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { after, before, describe, test } = require('node:test');
const { io, Manager } = require('socket.io-client');

const {
  awaitConnect,
  clientPool,
  connectError,
  emitAck,
  fixture,
  freePort,
  record,
  sleep,
  startGateway,
  waitFor,
  withTimeout,
} = require('../lib/gateway');

const CONFIG = fixture('protocol.yaml');

function toBuffer(value) {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof ArrayBuffer) return Buffer.from(value);
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  throw new assert.AssertionError({ message: `expected binary data, got ${typeof value}: ${JSON.stringify(value)}` });
}

describe('Engine.IO v4 and Socket.IO v5', () => {
  let gw;
  const pool = clientPool();

  before(async () => {
    gw = await startGateway({ config: CONFIG });
  });

  after(async () => {
    pool.closeAll();
    if (gw) await gw.stop();
  });

  test('the polling handshake announces sid, websocket upgrade and the configured timings', async () => {
    const res = await fetch(`${gw.url}/socket.io/?EIO=4&transport=polling`, { signal: AbortSignal.timeout(2000) });
    assert.equal(res.status, 200);
    const body = await res.text();
    assert.equal(body[0], '0', `an OPEN packet starts with 0, got ${body}`);
    const open = JSON.parse(body.slice(1));
    assert.equal(typeof open.sid, 'string');
    assert.ok(open.sid.length > 0);
    assert.deepEqual(open.upgrades, ['websocket']);
    assert.equal(open.pingInterval, 500);
    assert.equal(open.pingTimeout, 2000);
    assert.equal(open.maxPayload, 1024);
  });

  test('default transports: polling first, then upgrade to websocket', async () => {
    const socket = pool.add(io(`${gw.url}/chat`, { forceNew: true, reconnection: false }));
    assert.equal(socket.io.engine.transport.name, 'polling');
    const upgraded = waitFor(socket.io.engine, 'upgrade', 5000);
    await awaitConnect(socket);
    const [transport] = await upgraded;
    assert.equal(transport.name, 'websocket');
    assert.equal(socket.io.engine.transport.name, 'websocket');
    const reply = await emitAck(socket, 'whoami', {});
    assert.equal(reply.id, socket.id);
    assert.equal(reply.namespace, '/chat');
    assert.equal(reply.transport, 'websocket');
  });

  test('websocket only', async () => {
    const socket = await pool.connect(gw.url, '/chat', { transports: ['websocket'] });
    assert.equal(socket.io.engine.transport.name, 'websocket');
    const reply = await emitAck(socket, 'whoami', {});
    assert.equal(reply.id, socket.id);
    assert.equal(reply.transport, 'websocket');
  });

  test('polling only', async () => {
    const socket = await pool.connect(gw.url, '/chat', { transports: ['polling'] });
    assert.equal(socket.io.engine.transport.name, 'polling');
    const reply = await emitAck(socket, 'whoami', {});
    assert.equal(reply.id, socket.id);
    assert.equal(reply.transport, 'polling');
    await sleep(300);
    assert.equal(socket.io.engine.transport.name, 'polling');
    assert.ok(socket.connected);
  });

  for (const transport of ['polling', 'websocket']) {
    test(`the server drives the heartbeat (${transport}): pings arrive and the session stays up`, async () => {
      const socket = await pool.connect(gw.url, '/chat', { transports: [transport] });
      const pings = record(socket.io.engine, 'ping');
      const disconnects = record(socket, 'disconnect');
      // pingInterval is 500ms: at least 4 pings in 2.5s, and no ping timeout.
      await pings.waitCount(4, 4000);
      assert.deepEqual(disconnects.events, []);
      assert.ok(socket.connected);
      const reply = await emitAck(socket, 'whoami', {});
      assert.equal(reply.id, socket.id);
    });
  }

  test('two namespaces multiplexed over one Manager (one Engine.IO session)', async () => {
    const manager = new Manager(gw.url, { reconnection: false, autoConnect: true });
    const chat = pool.add(manager.socket('/chat'));
    const admin = pool.add(manager.socket('/admin'));
    await Promise.all([awaitConnect(chat), awaitConnect(admin)]);
    assert.equal(chat.io, admin.io);
    assert.notEqual(chat.id, admin.id);

    const [fromChat, fromAdmin] = await Promise.all([emitAck(chat, 'whoami', {}), emitAck(admin, 'whoami', {})]);
    assert.equal(fromChat.namespace, '/chat');
    assert.equal(fromChat.id, chat.id);
    assert.equal(fromAdmin.namespace, '/admin');
    assert.equal(fromAdmin.id, admin.id);

    // Leaving one namespace keeps the session and the other namespace.
    chat.disconnect();
    const again = await emitAck(admin, 'whoami', {});
    assert.equal(again.id, admin.id);
    assert.ok(admin.connected);
  });

  test('ack client -> server: the reply handler answers the ack', async () => {
    const socket = await pool.connect(gw.url, '/admin');
    const replies = await Promise.all([1, 2, 3].map(() => emitAck(socket, 'whoami', {})));
    for (const reply of replies) {
      assert.deepEqual(reply, { namespace: '/admin', id: socket.id, transport: reply.transport });
    }
  });

  test('ack server -> client: emit with await_ack waits for the client and relays its answer', async () => {
    const socket = await pool.connect(gw.url, '/chat');
    const asked = [];
    socket.on('confirm', (data, ack) => {
      asked.push(data);
      ack({ accepted: true, seen: data.n });
    });
    const reply = await emitAck(socket, 'confirm', { n: 7 });
    assert.deepEqual(asked, [{ n: 7 }]);
    assert.deepEqual(reply, { accepted: true, seen: 7 });
  });

  test('ack server -> client: a client that never acknowledges gets upstream_timeout after ack_timeout', async () => {
    const socket = await pool.connect(gw.url, '/chat');
    let asked = 0;
    socket.on('confirm', () => { asked += 1; }); // no ack
    const reply = await emitAck(socket, 'confirm', { n: 1 }, 5000);
    assert.equal(asked, 1);
    assert.equal(reply.error.code, 'upstream_timeout');
    // The socket is still usable afterwards.
    const again = await emitAck(socket, 'whoami', {});
    assert.equal(again.id, socket.id);
  });

  for (const transport of ['websocket', 'polling']) {
    test(`binary payload round trip (${transport}): nested Buffer and a second binary argument`, async () => {
      const socket = await pool.connect(gw.url, '/chat', { transports: [transport] });
      const file = crypto.randomBytes(300);
      const head = crypto.randomBytes(16);
      const second = Buffer.from([0, 1, 2, 127, 128, 254, 255]);
      const echoed = waitFor(socket, 'echo', 3000);
      socket.emit('echo', { name: 'photo.bin', file, parts: [{ head }], count: 3 }, second);
      const args = await echoed;
      assert.equal(args.length, 2, `expected 2 arguments back, got ${args.length}`);
      const [obj, bin] = args;
      assert.equal(obj.name, 'photo.bin');
      assert.equal(obj.count, 3);
      assert.ok(toBuffer(obj.file).equals(file), 'nested Buffer differs');
      assert.ok(toBuffer(obj.parts[0].head).equals(head), 'deeply nested Buffer differs');
      assert.ok(toBuffer(bin).equals(second), 'second binary argument differs');
    });
  }

  for (const transport of ['websocket', 'polling']) {
    test(`a message over maxPayload is refused (${transport}) and other clients keep being served`, async () => {
      const bystander = await pool.connect(gw.url, '/chat', { transports: ['websocket'] });
      const victim = await pool.connect(gw.url, '/chat', { transports: [transport] });
      const disconnected = waitFor(victim, 'disconnect', 5000);
      const echoes = record(victim, 'echo');
      victim.emit('echo', { blob: 'x'.repeat(10 * 1024) });
      const [reason] = await disconnected;
      assert.match(reason, /transport (close|error)|ping timeout/);
      assert.equal(echoes.events.length, 0, 'the oversized message must not be handled');

      const reply = await emitAck(bystander, 'whoami', {});
      assert.equal(reply.id, bystander.id);
      const fresh = await pool.connect(gw.url, '/chat', { transports: [transport] });
      assert.equal((await emitAck(fresh, 'whoami', {})).id, fresh.id);
    });
  }

  test('a foreign Origin is refused on the polling handshake', async () => {
    const res = await fetch(`${gw.url}/socket.io/?EIO=4&transport=polling`, {
      headers: { Origin: 'http://evil.example' },
      signal: AbortSignal.timeout(2000),
    });
    await res.arrayBuffer();
    assert.ok(res.status >= 400 && res.status < 500, `expected a 4xx, got ${res.status}`);

    const err = await connectError(gw.url, '/chat', {
      transports: ['polling'],
      extraHeaders: { Origin: 'http://evil.example' },
    });
    assert.match(err.message, /xhr poll error/);
    assert.ok(err.description >= 400 && err.description < 500, `expected a 4xx status, got ${err.description}`);
  });

  test('a foreign Origin is refused on the websocket upgrade', async () => {
    const err = await connectError(gw.url, '/chat', {
      transports: ['websocket'],
      extraHeaders: { Origin: 'http://evil.example' },
    });
    assert.match(err.message, /websocket error/);
  });

  test('the allowed Origin connects on both transports and gets CORS headers', async () => {
    const res = await fetch(`${gw.url}/socket.io/?EIO=4&transport=polling`, {
      headers: { Origin: 'http://good.example' },
      signal: AbortSignal.timeout(2000),
    });
    await res.arrayBuffer();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), 'http://good.example');

    for (const transport of ['polling', 'websocket']) {
      const socket = await pool.connect(gw.url, '/chat', {
        transports: [transport],
        extraHeaders: { Origin: 'http://good.example' },
      });
      assert.equal((await emitAck(socket, 'whoami', {})).id, socket.id);
    }
  });

  test('EIO=3 is refused with 400', async () => {
    const res = await fetch(`${gw.url}/socket.io/?EIO=3&transport=polling`, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    assert.equal(res.status, 400);
  });

  test('an unknown transport is refused with 400', async () => {
    const res = await fetch(`${gw.url}/socket.io/?EIO=4&transport=flashsocket`, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    assert.equal(res.status, 400);
  });

  test('an unknown namespace gets connect_error "Invalid namespace"', async () => {
    const err = await connectError(gw.url, '/nope');
    assert.equal(err.message, 'Invalid namespace');
  });
});

describe('gateway restarts', () => {
  const pool = clientPool();
  const gateways = [];

  after(async () => {
    pool.closeAll();
    await Promise.all(gateways.map((g) => g.stop()));
  });

  test('SIGTERM disconnects clients on both transports and the process exits 0', async () => {
    const gw = await startGateway({ config: CONFIG });
    gateways.push(gw);
    const sockets = [
      await pool.connect(gw.url, '/chat', { transports: ['websocket'] }),
      await pool.connect(gw.url, '/chat', { transports: ['polling'] }),
      await pool.connect(gw.url, '/admin'),
    ];
    const disconnected = sockets.map((socket) => waitFor(socket, 'disconnect', 6000));
    const { code, signal } = await withTimeout(gw.stop(), 8000, 'gateway exit');
    await Promise.all(disconnected);
    assert.equal(signal, null, `gateway was killed by ${signal}; stderr:\n${gw.output().stderr}`);
    assert.equal(code, 0, `gateway exited ${code}; stderr:\n${gw.output().stderr}`);
  });

  test('a client with reconnection enabled reconnects after the gateway restarts on the same port', async () => {
    const port = await freePort();
    const first = await startGateway({ config: CONFIG, port });
    gateways.push(first);
    const socket = pool.add(
      io(`${first.url}/chat`, {
        forceNew: true,
        reconnection: true,
        reconnectionDelay: 100,
        reconnectionDelayMax: 300,
        randomizationFactor: 0,
        timeout: 2000,
      }),
    );
    await awaitConnect(socket);
    const firstId = socket.id;

    const disconnected = waitFor(socket, 'disconnect', 8000);
    await first.stop();
    const [reason] = await disconnected;
    assert.notEqual(
      reason,
      'io server disconnect',
      'a server shutdown must look like a transport close, or the client will not reconnect',
    );

    const reconnected = waitFor(socket, 'connect', 10_000);
    const second = await startGateway({ config: CONFIG, port });
    gateways.push(second);
    await reconnected;
    assert.ok(socket.connected);
    assert.notEqual(socket.id, firstId);
    const reply = await emitAck(socket, 'whoami', {});
    assert.equal(reply.id, socket.id);
  });
});
