'use strict';

// Issue 6: /metrics in the Prometheus text format, moving as the official
// client's events flow through the default gateway.yaml.

const assert = require('node:assert/strict');
const { after, before, describe, test } = require('node:test');

const {
  DEFAULT_SECRET,
  clientPool,
  emitAck,
  repoFile,
  sleep,
  startGateway,
  token,
  uniqueSub,
} = require('../lib/gateway');

const CONFIG = repoFile('gateway.yaml');
const SETTLE_MS = 5000;

/** Fetches /metrics and returns its samples keyed by series as written. */
async function scrape(url) {
  const res = await fetch(`${url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') || '', /^text\/plain/);
  const samples = new Map();
  for (const line of (await res.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

/** Scrapes until predicate(value of series) holds, then returns the value. */
async function awaitSample(url, series, predicate) {
  const deadline = Date.now() + SETTLE_MS;
  for (;;) {
    const value = (await scrape(url)).get(series) ?? 0;
    if (predicate(value)) return value;
    if (Date.now() > deadline) assert.fail(`${series} = ${value} did not reach the expected value`);
    await sleep(50);
  }
}

describe('metrics on the default gateway.yaml', () => {
  let gw;
  const pool = clientPool();

  before(async () => {
    gw = await startGateway({ config: CONFIG, env: { JWT_SECRET: DEFAULT_SECRET } });
  });

  after(async () => {
    pool.closeAll();
    if (gw) await gw.stop();
  });

  test('sendMessage moves gatehouse_events_total{event="sendMessage",code="ok"}', async () => {
    const series = 'gatehouse_events_total{code="ok",event="sendMessage",namespace="/chat"}';
    const before = (await scrape(gw.url)).get(series) ?? 0;

    const sub = uniqueSub();
    const socket = await pool.connect(gw.url, '/chat', { auth: { token: token({ sub, username: sub }) } });
    assert.deepEqual(await emitAck(socket, 'sendMessage', { message: 'counted' }), { ok: true });

    const samples = await scrape(gw.url);
    assert.equal(samples.get(series), before + 1, `${series} did not move by one`);
    assert.ok((samples.get('gatehouse_broadcast_deliveries_total{namespace="/chat"}') ?? 0) >= 1,
      'the broadcast to the sender was not counted as a delivery');
  });

  test('a socket that upgraded to WebSocket is counted under websocket', async () => {
    const series = 'gatehouse_connections{namespace="/chat",transport="websocket"}';
    pool.closeAll();
    await awaitSample(gw.url, series, (v) => v === 0);
    const socket = await pool.connect(gw.url, '/chat', { auth: { token: token({ sub: uniqueSub() }) } });
    // The official client starts on polling and upgrades; the socket then
    // counts under websocket only.
    await awaitSample(gw.url, series, (v) => v === 1 && socket.io.engine.transport.name === 'websocket');
    const polling = (await scrape(gw.url)).get('gatehouse_connections{namespace="/chat",transport="polling"}') ?? 0;
    assert.equal(polling, 0, 'the upgraded socket is still counted under polling');
  });

  test('a refused CONNECT is counted by its code', async () => {
    const series = 'gatehouse_connects_refused_total{code="unauthorized",namespace="/chat"}';
    const before = (await scrape(gw.url)).get(series) ?? 0;
    const err = await pool.connectError(gw.url, '/chat', { auth: { token: token({ sub: 'x' }, { secret: 'wrong' }) } });
    assert.equal(err.data && err.data.code, 'unauthorized');
    assert.equal((await scrape(gw.url)).get(series), before + 1);
  });
});
