'use strict';

// Presence with the official client: two gateway processes on a real
// redis-server. The presence handler answers a room's users across both
// nodes, de-duplicated with their socket count and the claims shown (never
// the token); presence:join and presence:leave reach the room's other
// sockets for a user's first socket and its last; the server API answers the
// same; and a gateway killed with SIGKILL has its members gone from the
// next answer, within the adapter's request timeout (2 s). A user with
// sockets on both gateways is announced once for the cluster.

const assert = require('node:assert/strict');
const { after, before, describe, test } = require('node:test');
const { io } = require('socket.io-client');

const { emitAck, fixture, sleep, startGateway, token, uniqueSub, withTimeout } = require('../lib/gateway');
const { haveRedis, redisServer } = require('../lib/redis');

const SECRET = 'e2e-presence-secret-0123456789abcdef';
const API_KEY = 'e2e-api-key';
const REQUEST_TIMEOUT_S = 2;

function client(gw, sub) {
  const socket = io(`${gw.url}/chat`, {
    forceNew: true,
    reconnection: false,
    auth: { token: token({ sub, name: `Name of ${sub}`, email: `${sub}@example.com` }, { secret: SECRET }) },
  });
  return withTimeout(
    new Promise((resolve, reject) => {
      socket.once('connect', () => resolve(socket));
      socket.once('connect_error', reject);
    }),
    5000,
    `${sub} to connect`,
  );
}

/** Records the presence events a socket receives. */
function recordPresence(socket) {
  const seen = [];
  socket.on('presence:join', (p) => seen.push({ kind: 'join', ...p }));
  socket.on('presence:leave', (p) => seen.push({ kind: 'leave', ...p }));
  return seen;
}

async function until(what, cond, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`no ${what}`);
    await sleep(20);
  }
}

/**
 * Two gateways of the presence fixture on one redis-server, started before
 * the suite's tests and stopped after them with the sockets the tests
 * pushed on `sockets`; `a` and `b` are set once the suite has begun.
 */
function twoGatewaysOnRedis(prefix) {
  const cluster = { a: null, b: null, redis: null, sockets: [] };
  before(async () => {
    cluster.redis = await redisServer();
    const env = { JWT_SECRET: SECRET, ADAPTER: 'redis', REDIS_URL: cluster.redis.url, REDIS_PREFIX: `${prefix}-${process.pid}` };
    [cluster.a, cluster.b] = await Promise.all([
      startGateway({ config: fixture('presence.yaml'), env }),
      startGateway({ config: fixture('presence.yaml'), env }),
    ]);
  });
  after(async () => {
    for (const s of cluster.sockets) s.close();
    await Promise.all([cluster.a?.stop(), cluster.b?.stop()]);
    await cluster.redis?.stop();
  });
  return cluster;
}

describe('presence on two gateways sharing Redis', { skip: !haveRedis && 'redis-server not installed' }, () => {
  const cluster = twoGatewaysOnRedis('e2e-presence');

  test('the handler, the announcements and the API tell the same users; a killed node drops out', async () => {
    const room = uniqueSub('room-');
    const alice = uniqueSub('alice');
    const bob = uniqueSub('bob');
    const a = await client(cluster.a, alice);
    cluster.sockets.push(a);
    const heard = recordPresence(a);
    assert.deepEqual(await emitAck(a, 'join', { room }), { ok: true });

    const b1 = await client(cluster.b, bob);
    const b2 = await client(cluster.b, bob);
    cluster.sockets.push(b1, b2);
    await emitAck(b1, 'join', { room });
    await emitAck(b2, 'join', { room });
    await until('presence:join of bob', () => heard.length >= 1);

    const answer = await emitAck(a, 'who', { room });
    assert.equal(answer.room, room);
    assert.equal(answer.count, 2);
    assert.equal(answer.sockets, 3);
    const byUser = Object.fromEntries(answer.members.map((m) => [m.user, m]));
    assert.deepEqual(byUser[alice], { user: alice, claims: { name: `Name of ${alice}` }, sockets: 1 });
    assert.deepEqual(byUser[bob], { user: bob, claims: { name: `Name of ${bob}` }, sockets: 2 });

    const res = await fetch(`${cluster.b.url}/api/v1/namespaces/${encodeURIComponent('/chat')}/rooms/${encodeURIComponent(room)}/presence`, {
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    assert.equal(res.status, 200);
    const api = await res.json();
    assert.equal(api.count, 2);
    assert.deepEqual(api.members, answer.members);

    await emitAck(b2, 'leave', { room }); // bob is still there with b1: nothing told
    await sleep(200);
    assert.deepEqual(heard.map((e) => `${e.kind} ${e.user}`), [`join ${bob}`], 'one join for two sockets');
    assert.deepEqual(heard[0], { kind: 'join', room, user: bob, claims: { name: `Name of ${bob}` } });

    const refused = await emitAck(a, 'who', { room: 'lobby' });
    assert.equal(refused.error?.code ?? refused.code, 'invalid_payload');

    const killed = Date.now();
    cluster.b.proc.kill('SIGKILL');
    const after = await emitAck(a, 'who', { room }, 10_000);
    const took = (Date.now() - killed) / 1000;
    assert.deepEqual(after.members.map((m) => m.user), [alice]);
    assert.equal(after.count, 1);
    assert.ok(took < REQUEST_TIMEOUT_S + 3, `the answer came ${took}s after the kill; bound ${REQUEST_TIMEOUT_S}s`);
  });
});

describe('presence announced once for the cluster', { skip: !haveRedis && 'redis-server not installed' }, () => {
  const cluster = twoGatewaysOnRedis('e2e-presence-once');

  test("a user with a socket on each gateway is announced joining once and leaving once, on both", async () => {
    const room = uniqueSub('room-');
    const alice = uniqueSub('alice');
    const carol = uniqueSub('carol');
    const bob = uniqueSub('bob');
    const a = await client(cluster.a, alice);
    const c = await client(cluster.b, carol);
    cluster.sockets.push(a, c);
    await emitAck(a, 'join', { room });
    await emitAck(c, 'join', { room });
    await sleep(300); // alice and carol may hear each other: not what is checked
    const heardA = recordPresence(a);
    const heardC = recordPresence(c);
    const told = (heard) => heard.filter((e) => e.user === bob).map((e) => `${e.kind} ${e.user}`);

    const bobA = await client(cluster.a, bob);
    const bobB = await client(cluster.b, bob);
    cluster.sockets.push(bobA, bobB);
    await emitAck(bobA, 'join', { room });
    await emitAck(bobB, 'join', { room });
    await until('presence:join of bob on both gateways', () => told(heardA).length >= 1 && told(heardC).length >= 1);
    await emitAck(bobA, 'leave', { room }); // bob is still in the room through gateway B
    await sleep(500);
    assert.deepEqual(told(heardA), [`join ${bob}`], 'alice, on gateway A: one join for sockets on two gateways');
    assert.deepEqual(told(heardC), [`join ${bob}`], 'carol, on gateway B: one join for sockets on two gateways');
    assert.deepEqual(heardA.find((e) => e.user === bob), { kind: 'join', room, user: bob, claims: { name: `Name of ${bob}` } });

    bobB.close();
    await until('presence:leave of bob on both gateways', () => told(heardA).length >= 2 && told(heardC).length >= 2);
    await sleep(300);
    assert.deepEqual(told(heardA), [`join ${bob}`, `leave ${bob}`]);
    assert.deepEqual(told(heardC), [`join ${bob}`, `leave ${bob}`]);
  });
});
