'use strict';

// Connection state recovery with the official client's
// connectionStateRecovery support: the network is cut with
// socket.io.engine.close() while messages are sent, the client reconnects,
// and gets every missed message once, in order, with socket.recovered, its
// rooms kept; and the cases that must not recover give a clean new session.

const assert = require('node:assert/strict');
const { after, before, describe, test } = require('node:test');
const net = require('node:net');
const { io } = require('socket.io-client');

const { emitAck, fixture, sleep, startGateway, token, uniqueSub, waitFor, withTimeout } = require('../lib/gateway');
const { haveRedis, redisServer } = require('../lib/redis');

const SECRET = 'e2e-recovery-secret';

/** A recovering client: reconnects quickly, records every "said" payload. */
function recoveringClient(url, opts = {}) {
  const sub = opts.sub || uniqueSub('rec');
  const socket = io(`${url}/live`, {
    forceNew: true,
    reconnectionDelay: 200,
    reconnectionDelayMax: 200,
    randomizationFactor: 0,
    auth: opts.auth || { token: token({ sub }, { secret: SECRET }) },
    ...opts.io,
  });
  const said = [];
  socket.on('said', (payload, offset) => said.push({ payload, offset }));
  return { socket, said, sub };
}

function connected(socket) {
  if (socket.connected) return Promise.resolve();
  return withTimeout(new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  }), 5000, 'connect');
}

/** Cuts the client's transport and resolves once the socket saw the disconnect. */
async function cut(socket) {
  const gone = waitFor(socket, 'disconnect');
  socket.io.engine.close();
  const [reason] = await gone;
  assert.equal(reason, 'forced close'); // the client's word for its transport closed under it
}

/** Waits until the client reconnected, and returns socket.recovered. */
async function reconnected(socket) {
  await waitFor(socket, 'connect', 10_000);
  return socket.recovered;
}

async function until(check, ms, what) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('connection state recovery, one gateway', () => {
  let gw;
  let sender;
  before(async () => {
    gw = await startGateway({ config: fixture('recovery.yaml'), env: { JWT_SECRET: SECRET } });
    sender = io(`${gw.url}/live`, { forceNew: true, auth: { token: token({ sub: 'sender' }, { secret: SECRET }) } });
    await connected(sender);
  });
  after(async () => {
    sender?.close();
    await gw?.stop();
  });

  test('missed broadcasts arrive once, in order, before new ones, with socket.recovered and rooms kept', async () => {
    const a = recoveringClient(gw.url);
    await connected(a.socket);
    assert.equal(a.socket.recovered, false);
    assert.deepEqual(await emitAck(a.socket, 'join', { room: 'r1' }), { ok: true });
    await emitAck(sender, 'say', 'm1');
    await until(() => a.said.length === 1, 5000, 'm1');
    assert.equal(typeof a.said[0].offset, 'string', 'a recorded packet carries its offset');
    const firstID = a.socket.id;

    a.socket.io.reconnection(false);
    await cut(a.socket);
    for (const m of ['m2', 'm3', 'm4']) await emitAck(sender, 'say', m);
    await emitAck(sender, 'sendToRoom', { room: 'r1', message: 'r1-while-away' });
    await emitAck(sender, 'sendToRoom', { room: 'r2', message: 'r2-not-a-member' });
    a.socket.io.reconnection(true);
    a.socket.connect();
    assert.equal(await reconnected(a.socket), true, 'socket.recovered');
    assert.equal(a.socket.id, firstID, 'the recovered socket keeps its id');

    await emitAck(sender, 'say', 'm5');
    await emitAck(sender, 'sendToRoom', { room: 'r1', message: 'r1-after' });
    await until(() => a.said.length >= 7, 5000, 'seven messages');
    await sleep(200);
    assert.deepEqual(a.said.map((s) => s.payload), ['m1', 'm2', 'm3', 'm4', 'r1-while-away', 'm5', 'r1-after']);
    const offsets = a.said.map((s) => s.offset);
    assert.equal(new Set(offsets).size, offsets.length, 'offsets are distinct');
    a.socket.close();
  });

  test('a client that received nothing before the cut recovers everything sent meanwhile', async () => {
    const a = recoveringClient(gw.url);
    await connected(a.socket);
    a.socket.io.reconnection(false);
    await cut(a.socket);
    await emitAck(sender, 'say', 'only');
    a.socket.io.reconnection(true);
    a.socket.connect();
    assert.equal(await reconnected(a.socket), true);
    await until(() => a.said.length === 1, 5000, 'the missed message');
    await sleep(200);
    assert.deepEqual(a.said.map((s) => s.payload), ['only']);
    a.socket.close();
  });

  test('an emit to the socket itself carries its offset, as it is recorded too', async () => {
    const a = recoveringClient(gw.url);
    await connected(a.socket);
    const pong = waitFor(a.socket, 'pong');
    a.socket.emit('ping', 'first');
    const [payload, offset] = await pong;
    assert.equal(payload, 'first');
    assert.equal(typeof offset, 'string');
    a.socket.close();
  });

  test('a client whose token expired meanwhile gets a new session with its new token', async () => {
    const sub = uniqueSub('expiring');
    let current = token({ sub }, { secret: SECRET, expiresIn: 2 });
    const a = recoveringClient(gw.url, { sub, auth: (cb) => cb({ token: current }) });
    await connected(a.socket);
    await emitAck(sender, 'say', 'before');
    await until(() => a.said.length === 1, 5000, 'before');
    const firstID = a.socket.id;
    a.socket.io.reconnection(false);
    await cut(a.socket);
    await emitAck(sender, 'say', 'during');
    await sleep(2500); // past the old token's exp
    current = token({ sub }, { secret: SECRET });
    a.socket.io.reconnection(true);
    a.socket.connect();
    assert.equal(await reconnected(a.socket), false, 'not recovered past the token');
    assert.notEqual(a.socket.id, firstID);
    await sleep(300);
    assert.deepEqual(a.said.map((s) => s.payload), ['before'], 'no partial replay');
    a.socket.close();
  });

  test('a namespace without recovery sends no offsets and recovers nothing', async () => {
    const plain = io(`${gw.url}/plain`, {
      forceNew: true,
      auth: { token: token({ sub: uniqueSub('plain') }, { secret: SECRET }) },
    });
    await connected(plain);
    const got = waitFor(plain, 'said');
    await emitAck(plain, 'say', 'hello');
    assert.deepEqual(await got, ['hello']);
    plain.io.reconnection(false);
    await cut(plain);
    plain.io.reconnection(true);
    plain.connect();
    assert.ok(!(await reconnected(plain)), 'socket.recovered');
    plain.close();
  });
});

describe('connection state recovery, window passed', () => {
  let gw;
  before(async () => {
    gw = await startGateway({ config: fixture('recovery.yaml'), env: { JWT_SECRET: SECRET, RECOVERY_WINDOW: '1s' } });
  });
  after(async () => {
    await gw?.stop();
  });

  test('a client back after max_disconnection gets a new session and no replay', async () => {
    const a = recoveringClient(gw.url);
    const sender = io(`${gw.url}/live`, { forceNew: true, auth: { token: token({ sub: 's' }, { secret: SECRET }) } });
    await Promise.all([connected(a.socket), connected(sender)]);
    a.socket.io.reconnection(false);
    await cut(a.socket);
    await emitAck(sender, 'say', 'missed-for-good');
    await sleep(1500);
    a.socket.io.reconnection(true);
    a.socket.connect();
    assert.equal(await reconnected(a.socket), false);
    await sleep(300);
    assert.deepEqual(a.said, []);
    a.socket.close();
    sender.close();
  });
});

/**
 * A TCP proxy in front of the gateways whose target can be switched: the
 * client keeps one URL and its reconnection lands on another node.
 */
async function switchableProxy(targetPort) {
  let target = targetPort;
  const open = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    open.add(client);
    open.add(upstream);
    client.pipe(upstream).pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    switchTo(port) {
      target = port;
    },
    close() {
      for (const s of open) s.destroy();
      server.close();
    },
  };
}

describe('connection state recovery across two gateways on redis', { skip: !haveRedis && 'redis-server is not installed' }, () => {
  let redis;
  let gwA;
  let gwB;
  let proxy;
  let sharedEnv;
  before(async () => {
    redis = await redisServer();
    sharedEnv = { JWT_SECRET: SECRET, ADAPTER: 'redis', REDIS_URL: redis.url, REDIS_PREFIX: 'e2e-recovery' };
    [gwA, gwB] = await Promise.all([
      startGateway({ config: fixture('recovery.yaml'), env: sharedEnv }),
      startGateway({ config: fixture('recovery.yaml'), env: sharedEnv }),
    ]);
    proxy = await switchableProxy(gwA.port);
  });
  after(async () => {
    proxy?.close();
    await Promise.all([gwA?.stop(), gwB?.stop()]);
    await redis?.stop();
  });

  async function sender(gw) {
    const s = io(`${gw.url}/live`, { forceNew: true, auth: { token: token({ sub: uniqueSub('sender') }, { secret: SECRET }) } });
    await connected(s);
    return s;
  }

  test('a client cut from one node recovers on the other, missed messages once and in order', async () => {
    const a = recoveringClient(proxy.url, { io: { transports: ['websocket'] } });
    await connected(a.socket);
    await emitAck(a.socket, 'join', { room: 'blue' });
    const fromB = await sender(gwB);
    await emitAck(fromB, 'say', 'x1');
    await until(() => a.said.length === 1, 5000, 'x1 across nodes');
    const firstID = a.socket.id;

    a.socket.io.reconnection(false);
    await cut(a.socket);
    for (const m of ['x2', 'x3']) await emitAck(fromB, 'say', m);
    await emitAck(fromB, 'sendToRoom', { room: 'blue', message: 'blue-away' });
    proxy.switchTo(gwB.port);
    a.socket.io.reconnection(true);
    a.socket.connect();
    assert.equal(await reconnected(a.socket), true, 'recovered on the other node');
    assert.equal(a.socket.id, firstID);
    await emitAck(fromB, 'sendToRoom', { room: 'blue', message: 'blue-after' });
    await until(() => a.said.length >= 5, 5000, 'five messages');
    await sleep(200);
    assert.deepEqual(a.said.map((s) => s.payload), ['x1', 'x2', 'x3', 'blue-away', 'blue-after']);
    a.socket.close();
    fromB.close();
    proxy.switchTo(gwA.port);
  });

  test("a room's history is the cluster's: written on one node, read on the other", async () => {
    const fromA = await sender(gwA);
    await emitAck(fromA, 'sendToRoom', { room: 'lobby', message: 'from-a-1' });
    await emitAck(fromA, 'sendToRoom', { room: 'lobby', message: 'from-a-2' });
    const reader = await sender(gwB);
    const answer = await emitAck(reader, 'history', { room: 'lobby' });
    assert.deepEqual(answer.messages.map((m) => m.args[0]), ['from-a-1', 'from-a-2']);
    const api = await apiHistory(gwB, 'lobby');
    assert.deepEqual(api.body.messages.map((m) => m.args[0]), ['from-a-1', 'from-a-2']);
    fromA.close();
    reader.close();
  });

  test('the clients of a node that drains recover on the other node', async () => {
    const c = await startGateway({ config: fixture('recovery.yaml'), env: sharedEnv });
    proxy.switchTo(c.port);
    const a = recoveringClient(proxy.url, { io: { transports: ['websocket'] } });
    await connected(a.socket);
    const fromB = await sender(gwB);
    await emitAck(fromB, 'say', 'd1');
    await until(() => a.said.length === 1, 5000, 'd1');
    proxy.switchTo(gwB.port);
    const stopped = c.stop(); // SIGTERM: drains, closing its sessions
    await waitFor(a.socket, 'disconnect', 10_000);
    await emitAck(fromB, 'say', 'd2');
    assert.equal(await reconnected(a.socket), true, 'recovered after the drain');
    await until(() => a.said.length >= 2, 5000, 'd2');
    await sleep(200);
    assert.deepEqual(a.said.map((s) => s.payload), ['d1', 'd2']);
    const exit = await stopped;
    assert.equal(exit.code, 0);
    a.socket.close();
    fromB.close();
  });
});

/** GET the server API's history of a room. */
async function apiHistory(gw, room, query = '') {
  const res = await fetch(`${gw.url}/api/v1/namespaces/live/rooms/${encodeURIComponent(room)}/history${query}`, {
    headers: { authorization: 'Bearer e2e-api-key' },
    signal: AbortSignal.timeout(5000),
  });
  return { status: res.status, body: await res.json() };
}

describe('room history', () => {
  let gw;
  before(async () => {
    gw = await startGateway({ config: fixture('recovery.yaml'), env: { JWT_SECRET: SECRET } });
  });
  after(async () => {
    await gw?.stop();
  });

  test('a client that arrives gets the last messages of a room, oldest first, and only the newer ones after an offset', async () => {
    const sender = io(`${gw.url}/live`, { forceNew: true, auth: { token: token({ sub: uniqueSub('s') }, { secret: SECRET }) } });
    await connected(sender);
    for (let i = 1; i <= 7; i++) await emitAck(sender, 'sendToRoom', { room: 'r-hist', message: `h${i}` });
    await emitAck(sender, 'sendToRoom', { room: 'other', message: 'not kept' });

    const late = recoveringClient(gw.url);
    await connected(late.socket);
    const answer = await emitAck(late.socket, 'history', { room: 'r-hist' });
    assert.equal(answer.room, 'r-hist');
    assert.deepEqual(answer.messages.map((m) => m.args[0]), ['h3', 'h4', 'h5', 'h6', 'h7'], 'the last size (5) messages');
    assert.ok(answer.messages.every((m) => m.event === 'said' && typeof m.offset === 'string'));

    const since = answer.messages[2].offset;
    const newer = await emitAck(late.socket, 'history', { room: 'r-hist', since });
    assert.deepEqual(newer.messages.map((m) => m.args[0]), ['h6', 'h7']);

    const refused = await emitAck(late.socket, 'history', { room: 'other' });
    assert.equal(refused.error.code, 'invalid_payload');
    assert.match(refused.error.message, /no history is kept of room "other"/);
    const badOffset = await emitAck(late.socket, 'history', { room: 'r-hist', since: 'nonsense' });
    assert.equal(badOffset.error.code, 'invalid_payload');

    const api = await apiHistory(gw, 'r-hist', '?limit=2');
    assert.equal(api.status, 200);
    assert.deepEqual(api.body.messages.map((m) => m.args[0]), ['h6', 'h7']);
    const none = await apiHistory(gw, 'other');
    assert.equal(none.status, 404);
    assert.equal(none.body.code, 'not_found');
    sender.close();
    late.socket.close();
  });
});
