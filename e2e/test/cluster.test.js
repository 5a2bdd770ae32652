'use strict';

// Scale-out (contract C5) and the server API (contract C4): two gateway
// processes sharing a real redis-server, the official client on each; then
// the API on one process with the in-memory adapter.

const assert = require('node:assert/strict');
const { after, before, describe, test } = require('node:test');

const {
  clientPool,
  emitAck,
  expectNone,
  fixture,
  record,
  sleep,
  startGateway,
  token,
  uniqueSub,
  waitFor,
} = require('../lib/gateway');
const { haveRedis, redisServer } = require('../lib/redis');

const API_KEY = 'e2e-api-key';
const QUIET_MS = 300;
const READY_TIMEOUT_MS = 10_000;

/** GET /readyz: {status, body}. */
async function readyz(gw) {
  const res = await fetch(`${gw.url}/readyz`, { signal: AbortSignal.timeout(1000) });
  return { status: res.status, body: await res.json() };
}

/** Polls /readyz until its status is want. */
async function waitReady(gw, want = 200) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last;
  while (Date.now() < deadline) {
    last = await readyz(gw).catch((err) => ({ status: 0, body: String(err) }));
    if (last.status === want) return last;
    await sleep(50);
  }
  throw new Error(`${gw.url}/readyz stayed ${last.status} ${JSON.stringify(last.body)}, want ${want}`);
}

/** One server API call: {status, body}. */
async function api(gw, method, path, body, key = API_KEY) {
  const headers = { 'content-type': 'application/json' };
  if (key) headers.authorization = `Bearer ${key}`;
  const res = await fetch(`${gw.url}/api/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  return { status: res.status, body: await res.json() };
}

describe('cluster of two gateways on redis', { skip: !haveRedis && 'redis-server is not installed' }, () => {
  let redis;
  let gwA;
  let gwB;
  const pool = clientPool();
  // alice has a socket on each node, bob one on B.
  const alice = uniqueSub('alice');
  const bob = uniqueSub('bob');
  let aliceA;
  let aliceB;
  let bobB;
  let messages;

  before(async () => {
    redis = await redisServer();
    const env = { REDIS_URL: redis.url, REDIS_PREFIX: `e2e-${process.pid}` };
    [gwA, gwB] = await Promise.all([
      startGateway({ config: fixture('cluster.yaml'), env }),
      startGateway({ config: fixture('cluster.yaml'), env }),
    ]);
    await Promise.all([waitReady(gwA), waitReady(gwB)]);
    const auth = (sub) => ({ auth: { token: token({ sub }) } });
    [aliceA, aliceB, bobB] = await Promise.all([
      pool.connect(gwA.url, '/chat', auth(alice)),
      pool.connect(gwB.url, '/chat', auth(alice)),
      pool.connect(gwB.url, '/chat', auth(bob)),
    ]);
    messages = { aliceA: record(aliceA, 'message'), aliceB: record(aliceB, 'message'), bobB: record(bobB, 'message') };
  });

  after(async () => {
    pool.closeAll();
    await Promise.all([gwA && gwA.stop(), gwB && gwB.stop()]);
    if (redis) await redis.stop();
  });

  /** Waits until each named recorder holds want events and the others hold none, then a quiet period for duplicates. */
  async function expectDelivered(want, match) {
    const counts = () =>
      Object.fromEntries(Object.entries(messages).map(([name, r]) => [name, r.firsts.filter(match).length]));
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline && !Object.entries(want).every(([name, n]) => counts()[name] >= n)) {
      await sleep(20);
    }
    await sleep(QUIET_MS);
    const expected = Object.fromEntries(Object.keys(messages).map((name) => [name, want[name] || 0]));
    assert.deepEqual(counts(), expected);
  }

  test('a broadcast reaches every socket on both nodes exactly once', async () => {
    const ack = await emitAck(aliceA, 'sendMessage', { message: 'hello all' });
    assert.deepEqual(ack, { ok: true });
    await expectDelivered({ aliceA: 1, aliceB: 1, bobB: 1 }, (m) => m.message === 'hello all');
    assert.deepEqual(messages.bobB.firsts.find((m) => m.message === 'hello all'), { user: alice, message: 'hello all' });
  });

  test('a room send reaches the members on both nodes only', async () => {
    assert.deepEqual(await emitAck(aliceA, 'join', { room: 'r1' }), { ok: true, room: 'r1' });
    assert.deepEqual(await emitAck(bobB, 'join', { room: 'r1' }), { ok: true, room: 'r1' });
    await emitAck(aliceA, 'sendToRoom', { room: 'r1', message: 'to r1' });
    await expectDelivered({ aliceA: 1, bobB: 1 }, (m) => m.message === 'to r1');

    const size = await api(gwB, 'GET', '/namespaces/chat/rooms/r1');
    assert.deepEqual(size, { status: 200, body: { namespace: '/chat', room: 'r1', sockets: 2 } });
    const empty = await api(gwA, 'GET', '/namespaces/%2Fchat/rooms/nobody-here');
    assert.deepEqual(empty.body, { namespace: '/chat', room: 'nobody-here', sockets: 0 });
  });

  test('a server-API emit reaches every socket of a user, on both nodes', async () => {
    const note = { text: `for ${alice}` };
    const received = Promise.all([waitFor(aliceA, 'note'), waitFor(aliceB, 'note')]);
    const none = record(bobB, 'note');
    const res = await api(gwB, 'POST', '/emit', { namespace: '/chat', user: alice, event: 'note', data: note });
    assert.deepEqual(res, { status: 200, body: { ok: true } });
    assert.deepEqual(await received, [[note], [note]]);
    await expectNone(none, QUIET_MS, 'note for bob');
  });

  test('server-API emits to a namespace and to a room reach both nodes once', async () => {
    const all = [aliceA, aliceB, bobB].map((s) => record(s, 'news'));
    assert.equal((await api(gwA, 'POST', '/emit', { namespace: 'chat', event: 'news', data: 1 })).status, 200);
    assert.equal((await api(gwA, 'POST', '/emit', { namespace: '/chat', room: 'r1', event: 'news', data: 2 })).status, 200);
    await Promise.all([all[0].waitCount(2), all[1].waitCount(1), all[2].waitCount(2)]);
    await sleep(QUIET_MS);
    assert.deepEqual(all.map((r) => r.firsts), [[1, 2], [1], [1, 2]]);
  });

  test('a rate limit with store: redis is shared by both nodes', async () => {
    const dave = uniqueSub('dave');
    const [daveA, daveB] = await Promise.all([
      pool.connect(gwA.url, '/chat', { auth: { token: token({ sub: dave }) } }),
      pool.connect(gwB.url, '/chat', { auth: { token: token({ sub: dave }) } }),
    ]);
    assert.deepEqual(await emitAck(daveA, 'limited'), { ok: true });
    assert.deepEqual(await emitAck(daveB, 'limited'), { ok: true });
    const third = await emitAck(daveA, 'limited');
    assert.equal(third.error && third.error.code, 'rate_limited', JSON.stringify(third));
  });

  test('the API refuses a missing or wrong key and bad requests', async () => {
    for (const key of [null, 'wrong-key']) {
      const res = await api(gwA, 'POST', '/emit', { namespace: '/chat', event: 'x' }, key);
      assert.equal(res.status, 401);
      assert.equal(res.body.code, 'unauthorized');
    }
    const both = await api(gwA, 'POST', '/emit', { namespace: '/chat', room: 'r', user: 'u', event: 'x' });
    assert.equal(both.status, 400);
    assert.equal(both.body.code, 'invalid_request');
    assert.match(both.body.message, /^room:/);
    const unknown = await api(gwA, 'GET', '/namespaces/nope/rooms/r');
    assert.equal(unknown.status, 404);
  });

  test('a server-API disconnect of a user reaches the other node', async () => {
    const reason = waitFor(bobB, 'disconnect', 3000);
    const res = await api(gwA, 'POST', '/disconnect', { namespace: '/chat', user: bob });
    assert.deepEqual(res, { status: 200, body: { ok: true } });
    assert.equal((await reason)[0], 'io server disconnect');
    assert.equal(aliceA.connected && aliceB.connected, true);
  });

  test('with redis stopped, local delivery goes on; after its restart, cross-node delivery resumes', async () => {
    await redis.stop();
    const down = await waitReady(gwA, 503);
    assert.match(down.body.reason, /redis/);
    await waitReady(gwB, 503);

    assert.deepEqual(await emitAck(aliceA, 'sendMessage', { message: 'during outage' }), { ok: true });
    await expectDelivered({ aliceA: 1 }, (m) => m.message === 'during outage');
    const local = await api(gwA, 'POST', '/emit', { namespace: '/chat', event: 'message', data: { message: 'api during outage' } });
    assert.equal(local.status, 200);
    assert.equal(local.body.local_only, true);
    await expectDelivered({ aliceA: 1 }, (m) => m.message === 'api during outage');

    await redis.start();
    await Promise.all([waitReady(gwA), waitReady(gwB)]);
    await emitAck(aliceB, 'sendMessage', { message: 'after restart' });
    await expectDelivered({ aliceA: 1, aliceB: 1 }, (m) => m.message === 'after restart');
    assert.equal(gwA.proc.exitCode, null);
    assert.equal(gwB.proc.exitCode, null);
  });
});

describe('server API on one process (memory adapter)', () => {
  let gw;
  const pool = clientPool();

  before(async () => {
    gw = await startGateway({ config: fixture('cluster-memory.yaml') });
  });

  after(async () => {
    pool.closeAll();
    if (gw) await gw.stop();
  });

  test('emits to a namespace, a room and a user, and counts a room', async () => {
    const carol = uniqueSub('carol');
    const socket = await pool.connect(gw.url, '/chat', { auth: { token: token({ sub: carol }) } });
    const other = await pool.connect(gw.url, '/chat', { auth: { token: token({ sub: uniqueSub('dan') }) } });
    await emitAck(socket, 'join', { room: 'lobby' });
    const got = record(socket, 'ping');
    const otherGot = record(other, 'ping');
    for (const target of [{}, { room: 'lobby' }, { user: carol }]) {
      const res = await api(gw, 'POST', '/emit', { namespace: '/chat', event: 'ping', data: target, ...target });
      assert.deepEqual(res, { status: 200, body: { ok: true } });
    }
    await got.waitCount(3);
    await otherGot.waitCount(1);
    await sleep(QUIET_MS);
    assert.deepEqual(got.firsts, [{}, { room: 'lobby' }, { user: carol }]);
    assert.deepEqual(otherGot.firsts, [{}]);
    const size = await api(gw, 'GET', '/namespaces/chat/rooms/lobby');
    assert.deepEqual(size.body, { namespace: '/chat', room: 'lobby', sockets: 1 });
    assert.equal((await readyz(gw)).status, 200);
  });

  test('disconnects one socket by id', async () => {
    const socket = await pool.connect(gw.url, '/chat', { auth: { token: token({ sub: uniqueSub('erin') }) } });
    const reason = waitFor(socket, 'disconnect', 3000);
    const res = await api(gw, 'POST', '/disconnect', { socket: socket.id });
    assert.deepEqual(res, { status: 200, body: { ok: true } });
    assert.equal((await reason)[0], 'io server disconnect');
  });

  test('refuses bad requests with the field and unknown namespaces with 404', async () => {
    const cases = [
      ['POST', '/emit', '{"namespace": "/chat"', 400, /^body:/],
      ['POST', '/emit', { namespace: '/chat' }, 400, /^event:/],
      ['POST', '/emit', { namespace: '/chat', event: 'connect' }, 400, /^event:/],
      ['POST', '/emit', { namespace: '/chat', event: 'x', extra: 1 }, 400, /^extra:/],
      ['POST', '/disconnect', {}, 400, /^user:/],
      ['POST', '/emit', { namespace: '/missing', event: 'x' }, 404, /missing/],
      ['GET', '/nothing-here', undefined, 404, /nothing-here/],
    ];
    for (const [method, path, body, status, message] of cases) {
      const res = await api(gw, method, path, body);
      assert.equal(res.status, status, `${method} ${path} ${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
      assert.match(res.body.message, message);
      assert.equal(typeof res.body.code, 'string');
    }
    const unauthorized = await api(gw, 'GET', '/namespaces/chat/rooms/lobby', undefined, null);
    assert.deepEqual(unauthorized.status, 401);
  });
});
