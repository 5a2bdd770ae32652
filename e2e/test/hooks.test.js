'use strict';

// Lifecycle hooks (server.hooks) with the official client: two gateway
// processes on a real redis-server post connects, disconnects and room
// changes to a real HTTP backend, which is restarted mid-run. Every event
// arrives once, each node's in order, one room_occupied and one room_vacated
// per room for the cluster; with a small buffer and the backend down, what
// overflows is counted in the metrics.

const assert = require('node:assert/strict');
const http = require('node:http');
const { after, before, describe, test } = require('node:test');

const { clientPool, emitAck, fixture, freePort, sleep, startGateway, token, uniqueSub } = require('../lib/gateway');
const { haveRedis, redisServer } = require('../lib/redis');

const HOOKS_TOKEN = 'e2e-hooks-token';
const WAIT_MS = 10_000;

/** A hook receiver on a fixed port that can be stopped and started again. */
async function hookBackend() {
  const port = await freePort();
  const events = [];
  let server;
  let authorized = true;
  const backend = {
    url: `http://127.0.0.1:${port}/hooks`,
    events,
    async start() {
      server = http.createServer((req, res) => {
        authorized = authorized && req.headers.authorization === `Bearer ${HOOKS_TOKEN}`;
        let body = '';
        req.on('data', (chunk) => (body += chunk));
        req.on('end', () => {
          events.push(...JSON.parse(body));
          res.writeHead(204).end();
        });
      });
      await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', resolve);
      });
    },
    async stop() {
      if (!server) return;
      const closed = new Promise((resolve) => server.close(resolve));
      server.closeAllConnections();
      await closed;
      server = undefined;
    },
    authorized: () => authorized,
    count: (type) => events.filter((e) => e.type === type).length,
    async until(what, cond) {
      const deadline = Date.now() + WAIT_MS;
      while (!cond()) {
        if (Date.now() > deadline) throw new Error(`hooks: no ${what}; got ${JSON.stringify(events, null, 1)}`);
        await sleep(20);
      }
    },
  };
  await backend.start();
  return backend;
}

/** Reads one sample of the gateway's metrics. */
async function metric(gw, series) {
  const text = await (await fetch(`${gw.url}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/**
 * Two gateways on a real redis-server that post their hooks to one backend,
 * started before the suite's tests and stopped after them, with the
 * clients of the suite's pool; env adds to the gateways' environment.
 */
function twoGatewaysWithHooks(prefix, env = {}) {
  const cluster = { a: null, b: null, backend: null, redis: null, pool: clientPool() };
  before(async () => {
    cluster.redis = await redisServer();
    cluster.backend = await hookBackend();
    const gatewayEnv = {
      REDIS_URL: cluster.redis.url,
      REDIS_PREFIX: `${prefix}-${process.pid}`,
      HOOKS_URL: cluster.backend.url,
      HOOKS_TOKEN,
      ...env,
    };
    [cluster.a, cluster.b] = await Promise.all([
      startGateway({ config: fixture('hooks.yaml'), env: gatewayEnv }),
      startGateway({ config: fixture('hooks.yaml'), env: gatewayEnv }),
    ]);
  });
  after(async () => {
    cluster.pool.closeAll();
    await Promise.all([cluster.a?.stop(), cluster.b?.stop()]);
    await cluster.backend?.stop();
    await cluster.redis?.stop();
  });
  return cluster;
}

describe('lifecycle hooks from two gateways on redis', { skip: !haveRedis && 'redis-server is not installed' }, () => {
  const cluster = twoGatewaysWithHooks('e2e-hooks');

  test('every event arrives once, in order, across a backend restart', async () => {
    const { a: gwA, b: gwB, backend, pool } = cluster;
    const auth = (sub) => ({ auth: { token: token({ sub }) } });
    const alice = uniqueSub('alice');
    const bob = uniqueSub('bob');
    const room = uniqueSub('room');
    const onA = await pool.connect(gwA.url, '/chat', auth(alice));
    const onB = await pool.connect(gwB.url, '/chat', auth(bob));
    assert.deepEqual(await emitAck(onA, 'join', { room }), { ok: true, room });
    await backend.until('room_occupied', () => backend.count('room_occupied') === 1);
    assert.deepEqual(await emitAck(onB, 'join', { room }), { ok: true, room });
    await sleep(200); // B's join is recorded in Redis: the room was occupied already

    await backend.stop(); // what follows waits in the gateways' buffers
    await emitAck(onA, 'leave', { room });
    await sleep(200);
    await emitAck(onB, 'leave', { room }); // the cluster's last member: vacated
    const carol = await pool.connect(gwB.url, '/chat', auth(uniqueSub('carol')));
    await sleep(300); // posts fail and are retried
    await backend.start();

    for (const socket of [onA, onB, carol]) socket.close();
    await backend.until('three disconnects and the vacated room', () => backend.count('disconnect') === 3 && backend.count('room_vacated') === 1);
    await sleep(300); // nothing more, no repeat, comes

    const { events } = backend;
    assert.equal(backend.count('connect'), 3, 'one connect per socket');
    assert.equal(backend.count('disconnect'), 3, 'one disconnect per socket');
    assert.equal(backend.count('room_occupied'), 1, 'one room_occupied for the cluster');
    assert.equal(backend.count('room_vacated'), 1, 'one room_vacated for the cluster');
    assert.equal(new Set(events.map((e) => e.id)).size, events.length, 'no event twice');
    const lastSeq = {};
    for (const e of events) {
      assert.ok(e.seq > (lastSeq[e.node] || 0), `node ${e.node}: seq ${e.seq} after ${lastSeq[e.node]}`);
      lastSeq[e.node] = e.seq;
    }
    assert.equal(Object.keys(lastSeq).length, 2, 'both nodes posted');
    const connectOf = events.find((e) => e.type === 'connect' && e.user === alice);
    const disconnectOf = events.find((e) => e.type === 'disconnect' && e.user === alice);
    assert.equal(connectOf.namespace, '/chat');
    assert.equal(disconnectOf.socket, connectOf.socket);
    assert.equal(disconnectOf.reason, 'client namespace disconnect');
    const [occupied, vacated] = ['room_occupied', 'room_vacated'].map((t) => events.find((e) => e.type === t));
    assert.equal(occupied.room, room);
    assert.ok(Date.parse(vacated.time) > Date.parse(occupied.time), 'vacated after occupied on the shared clock');
    assert.ok(backend.authorized(), 'every post carried the configured Authorization header');
  });
});

describe('lifecycle hooks overflow', { skip: !haveRedis && 'redis-server is not installed' }, () => {
  let redis;
  let backend;
  let gw;
  const pool = clientPool();

  before(async () => {
    redis = await redisServer();
    backend = await hookBackend();
    await backend.stop(); // down from the start
    const env = { REDIS_URL: redis.url, REDIS_PREFIX: `e2e-hooks-o-${process.pid}`, HOOKS_URL: backend.url, HOOKS_TOKEN, HOOKS_BUFFER: '4' };
    gw = await startGateway({ config: fixture('hooks.yaml'), env });
  });
  after(async () => {
    pool.closeAll();
    if (gw) await gw.stop();
    if (backend) await backend.stop();
    if (redis) await redis.stop();
  });

  test('is counted while the backend is down, and the buffer is delivered when it returns', async () => {
    for (let i = 0; i < 10; i++) await pool.connect(gw.url, '/chat', { auth: { token: token({ sub: uniqueSub('u') }) } });
    // The connect hook runs just after the CONNECT is answered: wait for the last one.
    const deadline = Date.now() + WAIT_MS;
    while ((await metric(gw, 'gatehouse_hooks_events_total{result="overflow"}')) < 6 && Date.now() < deadline) await sleep(20);
    assert.equal(await metric(gw, 'gatehouse_hooks_events_total{result="overflow"}'), 6);
    assert.equal(await metric(gw, 'gatehouse_hooks_buffered_events'), 4);
    await backend.start();
    await backend.until('the four buffered connects', () => backend.events.length === 4);
    assert.deepEqual(backend.events.map((e) => e.seq), [1, 2, 3, 4], 'the buffer keeps the oldest');
  });
});

describe('lifecycle hooks when a gateway dies', { skip: !haveRedis && 'redis-server is not installed' }, () => {
  const NODE_TIMEOUT_S = 3;
  const cluster = twoGatewaysWithHooks('e2e-hooks-d', { HOOKS_NODE_TIMEOUT: `${NODE_TIMEOUT_S}s` });

  test("its rooms are vacated by another node once its lease lapses", async () => {
    const { a: gwA, backend, pool } = cluster;
    const room = uniqueSub('room');
    const socket = await pool.connect(gwA.url, '/chat', { auth: { token: token({ sub: uniqueSub('dora') }) } });
    await emitAck(socket, 'join', { room });
    await backend.until('room_occupied', () => backend.count('room_occupied') === 1);
    const nodeA = backend.events.find((e) => e.type === 'room_occupied').node;
    const killed = Date.now();
    gwA.proc.kill('SIGKILL'); // no shutdown: no disconnect, no vacated from A
    await backend.until('room_vacated from the other node', () => backend.count('room_vacated') === 1);
    const took = (Date.now() - killed) / 1000;
    const vacated = backend.events.find((e) => e.type === 'room_vacated');
    assert.equal(vacated.room, room);
    assert.notEqual(vacated.node, nodeA, 'the surviving node sends it');
    assert.ok(took < NODE_TIMEOUT_S * 2 + 2, `vacated ${took}s after the kill, documented bound ~${NODE_TIMEOUT_S * 4 / 3}s`);
  });
});
