'use strict';

// Graceful drain with the official client: on SIGTERM under load, every event
// the gateway accepted is run and acknowledged, later ones are refused with
// `unavailable`, clients see `transport close` (so they reconnect by
// themselves), and the process exits 0 within server.shutdown_grace.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { after, before, test } = require('node:test');
const { io } = require('socket.io-client');

const { awaitConnect, backendDelay, sleep, startBackend, startGateway, tempDir, withTimeout } = require('../lib/gateway');

const GRACE_MS = 4_000;
const CLIENTS = 10;
const IN_FLIGHT_PER_CLIENT = 3;
const HANDLER_MS = 300;

let backend;
let tmp;

before(async () => {
  backend = await startBackend({
    '/work': async (_req, body, pending) => {
      await backendDelay(pending, HANDLER_MS);
      return { body: { reply: { ok: true, id: body.data.id } } };
    },
  });
  tmp = tempDir();
});

after(async () => {
  if (backend) await backend.close();
  if (tmp) tmp.cleanup();
});

test('SIGTERM under load acknowledges every accepted event and closes clients so that they reconnect', async () => {
  const configPath = path.join(tmp.dir, 'gateway.yaml');
  fs.writeFileSync(
    configPath,
    `server:
  shutdown_grace: ${GRACE_MS / 1000}s
namespaces:
  /work:
    auth: none
    events:
      work:
        handler:
          webhook: {url: "${backend.url}/work", timeout: 5s}
`,
  );
  const gw = await startGateway({ config: configPath });
  const sockets = [];
  const reasons = [];
  const outcomes = new Map(); // id -> 'acked' | 'refused' | 'timeout'
  let nextId = 0;
  let stopping = false;
  try {
    for (let i = 0; i < CLIENTS; i++) {
      const socket = io(`${gw.url}/work`, { forceNew: true, reconnection: false, transports: ['websocket'] });
      socket.on('disconnect', (reason) => reasons.push(reason));
      sockets.push(await awaitConnect(socket));
    }
    const loops = [];
    for (const socket of sockets) {
      for (let j = 0; j < IN_FLIGHT_PER_CLIENT; j++) {
        loops.push(
          (async () => {
            while (socket.connected) {
              const id = nextId++;
              try {
                const ack = await socket.timeout(GRACE_MS + 2_000).emitWithAck('work', { id });
                if (ack && ack.ok === true && ack.id === id) outcomes.set(id, 'acked');
                else if (ack && ack.error && ack.error.code === 'unavailable') outcomes.set(id, 'refused');
                else outcomes.set(id, `unexpected ${JSON.stringify(ack)}`);
              } catch {
                outcomes.set(id, 'timeout');
              }
              if (stopping && outcomes.get(id) !== 'acked') return;
            }
          })(),
        );
      }
    }
    await sleep(700);
    stopping = true;
    const started = Date.now();
    const { code, signal } = await gw.stop();
    const took = Date.now() - started;
    await withTimeout(Promise.all(loops), GRACE_MS + 3_000, 'the clients to finish');

    assert.equal(code, 0, `exit code ${code} (signal ${signal})`);
    assert.ok(took < GRACE_MS, `the gateway took ${took}ms to stop, over its ${GRACE_MS}ms grace`);

    const ran = new Set(backend.requests.filter((r) => r.path === '/work').map((r) => r.body.data.id));
    for (const [id, outcome] of outcomes) {
      assert.ok(!outcome.startsWith('unexpected'), `event ${id}: ${outcome}`);
      if (outcome === 'acked') assert.ok(ran.has(id), `event ${id} was acknowledged but never ran`);
      if (outcome === 'refused') assert.ok(!ran.has(id), `event ${id} was refused but ran`);
    }
    for (const id of ran) {
      assert.equal(outcomes.get(id), 'acked', `event ${id} ran but its acknowledgement was lost`);
    }
    const acked = [...outcomes.values()].filter((o) => o === 'acked').length;
    assert.ok(acked >= CLIENTS * IN_FLIGHT_PER_CLIENT, `only ${acked} events acknowledged: the load did not run`);
    // A client's loop may end on a refusal before its socket has processed
    // the close that follows it: wait for every disconnect to be seen.
    await withTimeout(
      (async () => {
        while (reasons.length < CLIENTS) await sleep(20);
      })(),
      3_000,
      `${CLIENTS} disconnects (got ${JSON.stringify(reasons)})`,
    ).catch(() => {});
    assert.equal(reasons.length, CLIENTS, `disconnects: ${JSON.stringify(reasons)}`);
    for (const reason of reasons) {
      // "transport close" is a reason socket.io-client reconnects after
      // (unlike "io server disconnect").
      assert.equal(reason, 'transport close');
    }
  } finally {
    for (const s of sockets) s.close();
    await gw.stop();
  }
});
