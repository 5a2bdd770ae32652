'use strict';

// Any node serves any session (cluster.any_node): three gateways on a real
// redis-server behind a round-robin HTTP proxy written for the test, which
// sends each request, and each upgrade, to the next gateway. The official
// client with its default transports (polling, then the upgrade) and
// polling-only clients connect, emit with acks, upgrade and receive
// broadcasts, with the same counts as through a sticky setup (upgrades that
// reached another gateway than the session's moved it there); a gateway
// killed mid-session leaves its clients to open new sessions; the internal
// listener refuses what the cluster secret did not sign.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { after, before, describe, test } = require('node:test');

const { io } = require('socket.io-client');

const { roundRobinProxy, scrapeMetrics, until } = require('../lib/cluster');
const { fixture, freePort, sleep, startGateway } = require('../lib/gateway');
const { haveRedis, redisServer } = require('../lib/redis');

const SECRET = 'e2e-cluster-secret-0123456789abcdef';
const NODES = 3;
const CLIENTS = 12; // half with the default transports, half polling only
const EMITS = 3;
const SHOUTS = 4;

/** emitWithAck with a bound. */
function ack(socket, event, data) {
  return socket.timeout(5000).emitWithAck(event, data);
}

/**
 * One client: the official client, with the default transports or polling
 * only, recording its messages, its sessions and any error it saw.
 */
function client(url, i, { polling = false, reconnection = false } = {}) {
  const opts = { forceNew: true, reconnection, reconnectionDelay: 100, reconnectionDelayMax: 500, timeout: 5000 };
  if (polling) opts.transports = ['polling'];
  const socket = io(`${url}/chat`, opts);
  const c = { i, polling, socket, messages: [], sessions: [], errors: [], disconnects: 0 };
  socket.on('message', (m) => c.messages.push(m));
  socket.on('connect', () => c.sessions.push(socket.io.engine.id));
  socket.on('connect_error', (err) => c.errors.push(err.message));
  socket.on('disconnect', () => c.disconnects++);
  return c;
}

/**
 * Connects CLIENTS clients (client i to urlOf(i)), has each emit EMITS
 * events with acks (polling-only ones over polling), waits for the others
 * to upgrade, then has client 0 shout SHOUTS times. Returns the counts.
 */
async function scenario(urlOf) {
  const clients = Array.from({ length: CLIENTS }, (_, i) => client(urlOf(i), i, { polling: i % 2 === 1 }));
  try {
    await until(() => clients.every((c) => c.socket.connected), 'every client to connect');
    let acks = 0;
    let pollingAcks = 0;
    await Promise.all(
      clients.map(async (c) => {
        for (let k = 0; k < EMITS; k++) {
          const transport = c.socket.io.engine.transport.name;
          const answer = await ack(c.socket, 'echo', { i: c.i, k });
          assert.deepEqual(answer, { i: c.i, k });
          acks++;
          if (transport === 'polling') pollingAcks++;
        }
      }),
    );
    await until(
      () => clients.every((c) => c.polling || c.socket.io.engine.transport.name === 'websocket'),
      'the default clients to upgrade',
    );
    for (let k = 0; k < SHOUTS; k++) {
      assert.deepEqual(await ack(clients[0].socket, 'shout', { k }), { ok: true });
    }
    await until(() => clients.every((c) => c.messages.length >= SHOUTS), 'every shout at every client');
    await sleep(300); // for duplicates
    const upgraded = clients.filter((c) => c.socket.io.engine.transport.name === 'websocket').length;
    const received = clients.reduce((n, c) => n + c.messages.length, 0);
    const inOrder = clients.every((c) => c.messages.every((m, k) => m.k === k));
    const errors = clients.flatMap((c) => c.errors);
    return { connected: clients.length, acks, pollingAcksAtLeast: pollingAcks >= (CLIENTS / 2) * EMITS, upgraded, received, inOrder, errors };
  } finally {
    for (const c of clients) c.socket.close();
  }
}

/** The signature headers of a forwarded request (internal/cluster/sign.go). */
function signed(secret, method, pathQuery, body, time = Date.now()) {
  const nonce = crypto.randomBytes(16).toString('hex');
  const bodyHash = crypto.createHash('sha256').update(body).digest('hex');
  const mac = crypto
    .createHmac('sha256', secret)
    .update(`gatehouse-forward-v1\n${method}\n${pathQuery}\n${time}\n${nonce}\n${bodyHash}`)
    .digest('hex');
  return { 'x-gatehouse-node-time': String(time), 'x-gatehouse-node-nonce': nonce, 'x-gatehouse-node-signature': mac };
}

describe('any node serves any session', { skip: !haveRedis && 'redis-server is not installed' }, () => {
  let redis;
  let gateways = [];
  let clusterPorts = [];
  let proxy;

  before(async () => {
    redis = await redisServer();
    clusterPorts = await Promise.all(Array.from({ length: NODES }, () => freePort()));
    gateways = await Promise.all(
      clusterPorts.map((port) =>
        startGateway({
          config: fixture('anynode.yaml'),
          env: {
            REDIS_URL: redis.url,
            REDIS_PREFIX: `e2e-anynode-${process.pid}`,
            CLUSTER_PORT: String(port),
            GATEHOUSE_CLUSTER_SECRET: SECRET,
          },
        }),
      ),
    );
    // Every node announced (its lease is in Redis) before clients come.
    await sleep(500);
    proxy = await roundRobinProxy(gateways.map((g) => g.port));
  });

  after(async () => {
    proxy?.close();
    await Promise.all(gateways.map((g) => g.stop()));
    if (redis) await redis.stop();
  });

  test('through a round-robin proxy, clients connect, emit with acks, upgrade and receive broadcasts as through sticky nodes', async () => {
    const roundRobin = await scenario(() => proxy.url);
    const sticky = await scenario((i) => gateways[i % NODES].url);
    const want = {
      connected: CLIENTS,
      acks: CLIENTS * EMITS,
      pollingAcksAtLeast: true,
      upgraded: CLIENTS / 2,
      received: CLIENTS * SHOUTS,
      inOrder: true,
      errors: [],
    };
    assert.deepEqual(roundRobin, want);
    assert.deepEqual(sticky, want);
    // The proxy did spread the requests: every node served some.
    for (const [port, n] of Object.entries(proxy.served)) assert.ok(n > 0, `node ${port} got no request`);
    // Upgrades that reached another node than the session's moved it there.
    let moved = 0;
    for (const g of gateways) moved += (await scrapeMetrics(g.url)).get('gatehouse_session_moves_total{result="moved"}') ?? 0;
    assert.ok(moved > 0, 'no session moved to the node of its WebSocket');
  });

  test('the internal listener refuses unsigned, wrongly signed, stale and replayed requests', async () => {
    const gw = gateways[0];
    const internal = `http://127.0.0.1:${clusterPorts[0]}`;
    const open = await (await fetch(`${gw.url}/socket.io/?EIO=4&transport=polling`)).text();
    const sid = JSON.parse(open.slice(1)).sid;
    const path = `/socket.io/?EIO=4&transport=polling&sid=${sid}`;
    const post = (headers, body = '40') =>
      fetch(internal + path, { method: 'POST', headers: { 'content-type': 'text/plain;charset=UTF-8', ...headers }, body });

    for (const [what, headers, why] of [
      ['unsigned', {}, 'not signed'],
      ['another secret', signed('another-secret-0123456789abcdef0123', 'POST', path, '40'), 'wrong signature'],
      ['stale', signed(SECRET, 'POST', path, '40', Date.now() - 60_000), 'outside the window'],
      ['another body', signed(SECRET, 'POST', path, '41'), 'wrong signature'],
    ]) {
      const res = await post(headers);
      const body = await res.json();
      assert.equal(res.status, 401, what);
      assert.equal(body.code, 'unauthorized', what);
      assert.match(body.message, new RegExp(why), what);
    }
    const headers = signed(SECRET, 'POST', path, '40');
    const first = await post(headers);
    assert.equal(first.status, 200);
    assert.equal(await first.text(), 'ok');
    const replay = await post(headers);
    assert.equal(replay.status, 401);
    assert.match((await replay.json()).message, /replayed/);
  });

  test('a node killed mid-session: its clients open new sessions through the proxy and miss nothing after', async () => {
    const clients = Array.from({ length: CLIENTS }, (_, i) =>
      client(proxy.url, i, { polling: i % 2 === 1, reconnection: true }),
    );
    try {
      await until(() => clients.every((c) => c.socket.connected), 'every client to connect');
      await until(
        () => clients.every((c) => c.polling || c.socket.io.engine.transport.name === 'websocket'),
        'the default clients to upgrade',
      );
      const victim = gateways[NODES - 1];
      victim.proc.kill('SIGKILL');
      await victim.stop();
      // Clients whose session or connection was on the victim notice and
      // open a new session on a live node; the others keep theirs.
      await sleep(1000);
      await until(() => clients.every((c) => c.socket.connected), 'every client to be connected again');
      const affected = clients.filter((c) => c.sessions.length > 1);
      assert.ok(affected.length > 0, 'no client was on the killed node');
      for (const c of affected) assert.notEqual(c.sessions.at(-1), c.sessions[0]);
      // No client gave up with an error it could not recover from.
      for (const c of clients) assert.ok(c.socket.connected, `client ${c.i} is not connected`);

      for (const c of clients) c.messages.length = 0;
      for (let k = 0; k < SHOUTS; k++) {
        assert.deepEqual(await ack(clients[0].socket, 'shout', { k }), { ok: true });
      }
      await until(() => clients.every((c) => c.messages.length >= SHOUTS), 'every shout at every client');
      await sleep(300);
      for (const c of clients) assert.deepEqual(c.messages.map((m) => m.k), [0, 1, 2, 3], `client ${c.i}`);
      const answers = await Promise.all(clients.map((c) => ack(c.socket, 'echo', { i: c.i })));
      assert.deepEqual(answers, clients.map((c) => ({ i: c.i })));
    } finally {
      for (const c of clients) c.socket.close();
    }
  });
});
