'use strict';

// A session moves to the gateway of its WebSocket (cluster.any_node): two
// gateways on a real redis-server behind a proxy that sends every polling
// request to gateway A and every WebSocket upgrade to gateway B. The
// official client with its default transports opens its session on A (over
// polling), joins a room, and upgrades through B, which takes the session
// over: the client keeps its socket.id and sees no disconnect, every
// broadcast to the room (sent from A's and from B's side before, during and
// after the upgrade) arrives once and in order, and emits with acks made
// right across the upgrade resolve. B's metrics count the move; A keeps no
// socket.

const assert = require('node:assert/strict');
const { after, before, describe, test } = require('node:test');

const { io } = require('socket.io-client');

const { routingProxy, scrapeMetrics, until } = require('../lib/cluster');
const { connect, fixture, freePort, sleep, startGateway } = require('../lib/gateway');
const { haveRedis, redisServer } = require('../lib/redis');

const SECRET = 'e2e-cluster-secret-0123456789abcdef';
// How long the proxy holds the upgrade: the client joins its room and the
// broadcasts start over polling on A before the session moves.
const UPGRADE_DELAY_MS = 1000;
// How long the broadcasts go on after the upgrade.
const AFTER_UPGRADE_MS = 600;
const ROOM = 'move-room';

/** emitWithAck with a bound. */
function ack(socket, event, data) {
  return socket.timeout(5000).emitWithAck(event, data);
}

/**
 * Has socket shout {room, from, k} to ROOM, k = 0, 1, ..., each after the
 * last one's ack, until stop() is called; stop resolves with the count sent.
 */
function shouter(socket, from) {
  let stopped = false;
  const done = (async () => {
    let k = 0;
    while (!stopped) {
      assert.deepEqual(await ack(socket, 'shout', { room: ROOM, from, k }), { ok: true });
      k++;
      await sleep(10);
    }
    return k;
  })();
  return () => {
    stopped = true;
    return done;
  };
}

/** Sums the samples of name (any labels) in samples. */
function sum(samples, name) {
  let total = 0;
  for (const [series, value] of samples) {
    if (series === name || series.startsWith(`${name}{`)) total += value;
  }
  return total;
}

describe('a session moves to the gateway of its WebSocket', { skip: !haveRedis && 'redis-server is not installed' }, () => {
  let redis;
  let a;
  let b;
  let proxy;

  before(async () => {
    redis = await redisServer();
    [a, b] = await Promise.all(
      [0, 1].map(async () =>
        startGateway({
          config: fixture('move.yaml'),
          env: {
            REDIS_URL: redis.url,
            REDIS_PREFIX: `e2e-move-${process.pid}`,
            CLUSTER_PORT: String(await freePort()),
            GATEHOUSE_CLUSTER_SECRET: SECRET,
          },
        }),
      ),
    );
    // Both nodes announced (their leases are in Redis) before clients come.
    await sleep(500);
    proxy = await routingProxy([a.port, b.port], {
      route: (req, { upgrade }) => (upgrade ? b.port : a.port),
      upgradeDelayMs: UPGRADE_DELAY_MS,
    });
  });

  after(async () => {
    proxy?.close();
    await Promise.all([a, b].filter(Boolean).map((g) => g.stop()));
    if (redis) await redis.stop();
  });

  test('the official client upgrading through another gateway keeps its socket.id, its room, every broadcast once and in order, and its acks', async (t) => {
    // One sender on each gateway, each in a session of its own there.
    const senderA = await connect(a.url, '/chat');
    const senderB = await connect(b.url, '/chat');

    const socket = io(`${proxy.url}/chat`, { forceNew: true, reconnection: false, timeout: 5000 });
    const seen = { connects: 0, disconnects: [], errors: [], messages: [] };
    socket.on('connect', () => seen.connects++);
    socket.on('disconnect', (reason) => seen.disconnects.push(reason));
    socket.on('connect_error', (err) => seen.errors.push(err.message));
    socket.on('message', (m) => seen.messages.push(m));
    // Emits made as the upgrade happens: at 'upgrading' (the probe
    // answered, polling about to pause; sent on the WebSocket after the
    // upgrade packet) and at 'upgrade' (the WebSocket just taken on).
    const acrossUpgrade = [];
    socket.io.engine.on('upgrading', () => acrossUpgrade.push(ack(socket, 'echo', { at: 'upgrading' })));
    socket.io.engine.on('upgrade', () => acrossUpgrade.push(ack(socket, 'echo', { at: 'upgrade' })));

    try {
      await until(() => socket.connected, 'the client to connect');
      const socketId = socket.id;
      const sid = socket.io.engine.id;
      assert.deepEqual(await ack(socket, 'join', { room: ROOM }), { ok: true, room: ROOM });
      assert.equal(socket.io.engine.transport.name, 'polling', 'the client upgraded before it joined its room');

      const stopA = shouter(senderA, 'a');
      const stopB = shouter(senderB, 'b');
      await until(() => socket.io.engine.transport.name === 'websocket', 'the client to upgrade');
      await sleep(AFTER_UPGRADE_MS);
      const sent = { a: await stopA(), b: await stopB() };
      const fromEach = (from) => seen.messages.filter((m) => m.from === from).map((m) => m.k);
      await until(
        () => fromEach('a').length >= sent.a && fromEach('b').length >= sent.b,
        `every broadcast at the client (sent ${JSON.stringify(sent)})`,
      );
      await sleep(300); // for duplicates

      // Once each and in order, from both sides: every k sent, as sent.
      for (const from of ['a', 'b']) {
        assert.deepEqual(fromEach(from), [...Array(sent[from]).keys()], `broadcasts from ${from}`);
      }
      assert.equal(seen.messages.length, sent.a + sent.b);
      t.diagnostic(`broadcasts received once and in order across the move: ${JSON.stringify(sent)}`);
      assert.deepEqual(await Promise.all(acrossUpgrade), [{ at: 'upgrading' }, { at: 'upgrade' }]);
      assert.deepEqual(await ack(socket, 'echo', { at: 'after' }), { at: 'after' });
      assert.equal(socket.id, socketId);
      assert.equal(socket.io.engine.id, sid);
      assert.deepEqual(seen, { connects: 1, disconnects: [], errors: [], messages: seen.messages });
      assert.equal(proxy.served[b.port], 1, 'B got more than the upgrade');

      // The move is B's: counted there, the session and socket there now.
      const moved = 'gatehouse_session_moves_total{result="moved"}';
      const onB = await scrapeMetrics(b.url);
      const onA = await scrapeMetrics(a.url);
      assert.equal(onB.get(moved), 1);
      assert.equal(onA.get(moved) ?? 0, 0);
      assert.equal(sum(onA, 'gatehouse_forwarded_requests_total') + sum(onB, 'gatehouse_forwarded_requests_total'), 0);
      // With the senders gone, A holds nothing; B the moved socket, over
      // its WebSocket.
      senderA.close();
      senderB.close();
      await until(async () => {
        const samples = await scrapeMetrics(a.url);
        return sum(samples, 'gatehouse_connections') === 0 && samples.get('gatehouse_engineio_sessions') === 0;
      }, 'A to hold no socket and no session');
      await until(async () => {
        const samples = await scrapeMetrics(b.url);
        return (
          sum(samples, 'gatehouse_connections') === 1 &&
          samples.get('gatehouse_connections{namespace="/chat",transport="websocket"}') === 1 &&
          samples.get('gatehouse_engineio_sessions') === 1
        );
      }, 'B to hold the moved socket only, over its WebSocket');
    } finally {
      socket.close();
      senderA.close();
      senderB.close();
    }
  });
});
