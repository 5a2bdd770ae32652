'use strict';

// Connection caps across a cluster and a secret rotation: two gateway
// processes sharing a real redis-server, the official client on each.
// server.limits.max_connections_per_user and a namespace's max_connections
// hold for the cluster as a whole; auth.jwt.previous_secrets accepts tokens
// of the previous secret until its window ends, and not after.

const assert = require('node:assert/strict');
const { after, before, describe, test } = require('node:test');

const { clientPool, connectError, fixture, sleep, startGateway, token, uniqueSub } = require('../lib/gateway');
const { haveRedis, redisServer } = require('../lib/redis');

const PREVIOUS_SECRET = 'e2e-previous-secret-that-is-long-enough';
// Long enough for both gateways to start and the first test to connect
// with the previous secret; the rotation test waits for the rest.
const ROTATION_WINDOW_MS = 8000;
const SETTLE_MS = 5000;

/** The value of one Prometheus series on gw's /metrics (0 when absent). */
async function sample(gw, series) {
  const res = await fetch(`${gw.url}/metrics`, { signal: AbortSignal.timeout(2000) });
  for (const line of (await res.text()).split('\n')) {
    const space = line.lastIndexOf(' ');
    if (line.slice(0, space) === series) return Number(line.slice(space + 1));
  }
  return 0;
}

/** Retries connect until it succeeds or SETTLE_MS pass: a place given back on one node is seen by the other shortly after. */
async function eventuallyConnect(pool, url, ns, opts) {
  const deadline = Date.now() + SETTLE_MS;
  for (;;) {
    try {
      return await pool.connect(url, ns, opts);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(50);
    }
  }
}

describe('connection caps and secret rotation on two gateways and redis', { skip: !haveRedis && 'redis-server is not installed' }, () => {
  let redis;
  let gwA;
  let gwB;
  let previousUntil;
  const pool = clientPool();
  const auth = (sub, opts) => ({ auth: { token: token({ sub }, opts) } });

  before(async () => {
    redis = await redisServer();
    previousUntil = new Date(Date.now() + ROTATION_WINDOW_MS);
    const env = {
      REDIS_URL: redis.url,
      REDIS_PREFIX: `e2e-caps-${process.pid}`,
      JWT_PREVIOUS_SECRET: PREVIOUS_SECRET,
      JWT_PREVIOUS_UNTIL: previousUntil.toISOString(),
    };
    [gwA, gwB] = await Promise.all([
      startGateway({ config: fixture('caps.yaml'), env }),
      startGateway({ config: fixture('caps.yaml'), env }),
    ]);
  });

  after(async () => {
    pool.closeAll();
    await Promise.all([gwA && gwA.stop(), gwB && gwB.stop()]);
    if (redis) await redis.stop();
  });

  test('a token of the previous secret connects until the window ends, and is refused after', async () => {
    const sub = uniqueSub('rotating');
    const old = { secret: PREVIOUS_SECRET };
    assert.ok(Date.now() < previousUntil.getTime() - 1000, 'the gateways took too long to start for the rotation window');
    const early = await pool.connect(gwA.url, '/chat', auth(sub, old));
    assert.equal((await early.timeout(2000).emitWithAck('whoami')).sub, sub);
    early.close();

    await sleep(previousUntil.getTime() - Date.now() + 200);
    const err = await connectError(gwB.url, '/chat', auth(sub, old));
    assert.equal(err.data.code, 'unauthorized');
    assert.equal(err.message, 'token signature is invalid');
    // The current secret is accepted throughout.
    (await pool.connect(gwB.url, '/chat', auth(sub))).close();
  });

  test('a user holds at most max_connections_per_user sockets of a namespace across both nodes', async () => {
    const alice = uniqueSub('alice');
    const onA = await pool.connect(gwA.url, '/chat', auth(alice));
    await pool.connect(gwB.url, '/chat', auth(alice));
    const before = await sample(gwA, 'gatehouse_limit_refusals_total{limit="max_connections_per_user"}');

    for (const gw of [gwA, gwB]) {
      const err = await connectError(gw.url, '/chat', auth(alice));
      assert.equal(err.message, 'this user already holds 2 connections to /chat, the most allowed; close one first');
      assert.deepEqual(err.data, { code: 'limit_exceeded', limit: 'max_connections_per_user' });
    }
    assert.equal(await sample(gwA, 'gatehouse_limit_refusals_total{limit="max_connections_per_user"}'), before + 1);
    // Another user is not held back by alice's sockets.
    await pool.connect(gwA.url, '/chat', auth(uniqueSub('bob')));

    // A socket closed on A gives its place back, to be taken on B.
    onA.close();
    await eventuallyConnect(pool, gwB.url, '/chat', auth(alice));
    const err = await connectError(gwA.url, '/chat', auth(alice));
    assert.equal(err.data.code, 'limit_exceeded');
  });

  test('a namespace with max_connections takes that many sockets across both nodes', async () => {
    const lobby = [];
    lobby.push(await pool.connect(gwA.url, '/lobby'));
    lobby.push(await pool.connect(gwB.url, '/lobby'));
    lobby.push(await pool.connect(gwA.url, '/lobby', auth(uniqueSub('carol'))));
    for (const gw of [gwA, gwB]) {
      const err = await connectError(gw.url, '/lobby');
      assert.equal(err.message, '/lobby holds 3 connections, the most it takes; retry later');
      assert.deepEqual(err.data, { code: 'unavailable', limit: 'namespace_max_connections' });
    }
    lobby[1].close();
    await eventuallyConnect(pool, gwA.url, '/lobby');
  });
});
