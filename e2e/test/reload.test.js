'use strict';

// Reload without dropping anyone: SIGHUP and --watch re-read the config; a
// valid one applies to new events and connections while open connections stay
// up, an invalid one changes nothing and its errors are logged with positions.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');

const { clientPool, emitAck, record, sleep, startGateway, tempDir, withTimeout } = require('../lib/gateway');

const BASE = `server:
  shutdown_grace: 2s
namespaces:
  /chat:
    auth: none
    events:
      ping:
        handler:
          reply: {value: '"pong-v1"'}
`;

const V2 = `server:
  shutdown_grace: 2s
guards:
  small:
    max_size: 1KB
namespaces:
  /chat:
    auth: none
    events:
      ping:
        handler:
          reply: {value: '"pong-v2"'}
      big:
        guards: [small]
        handler:
          reply: {value: '"fits"'}
  /extra:
    auth: none
    events:
      ping:
        handler:
          reply: {value: '"extra"'}
`;

// A broken config: an unknown handler type on line 9.
const BROKEN = `server:
  shutdown_grace: 2s
namespaces:
  /chat:
    auth: none
    events:
      ping:
        handler:
          replyy: {value: '"never"'}
`;

/** Waits until the gateway's stderr matches re. */
async function logged(gw, re, ms = 5_000) {
  await withTimeout(
    (async () => {
      while (!re.test(gw.output().stderr)) await sleep(25);
    })(),
    ms,
    `a log line matching ${re}`,
  );
}

/** Polls emitAck until it answers want. */
async function eventually(socket, event, want, ms = 5_000) {
  let last;
  await withTimeout(
    (async () => {
      for (;;) {
        last = await emitAck(socket, event, {});
        if (JSON.stringify(last) === JSON.stringify(want)) return;
        await sleep(50);
      }
    })(),
    ms,
    `${event} to answer ${JSON.stringify(want)} (last: ${JSON.stringify(last)})`,
  );
}

for (const mode of ['SIGHUP', '--watch']) {
  describe(`reload by ${mode}`, () => {
    let gw;
    let tmp;
    let configPath;
    const pool = clientPool();
    before(async () => {
      tmp = tempDir();
      configPath = path.join(tmp.dir, 'gateway.yaml');
      fs.writeFileSync(configPath, BASE);
      gw = await startGateway({ config: configPath, args: mode === '--watch' ? ['--watch'] : [] });
    });
    after(async () => {
      pool.closeAll();
      if (gw) await gw.stop();
      if (tmp) tmp.cleanup();
    });

    function apply(text) {
      fs.writeFileSync(configPath, text);
      if (mode === 'SIGHUP') gw.proc.kill('SIGHUP');
    }

    test('a valid config applies to open connections and new namespaces without dropping anyone', async () => {
      const socket = await pool.connect(gw.url, '/chat');
      const disconnects = record(socket, 'disconnect');
      assert.equal(await emitAck(socket, 'ping', {}), 'pong-v1');
      assert.equal((await emitAck(socket, 'big', {})).error.code, 'unknown_event');

      apply(V2);
      await eventually(socket, 'ping', 'pong-v2');
      // The new event and its guard apply on the same connection.
      assert.equal(await emitAck(socket, 'big', { pad: 'x' }), 'fits');
      assert.equal((await emitAck(socket, 'big', { pad: 'x'.repeat(2000) })).error.code, 'payload_too_large');
      // A namespace added by the reload accepts connections.
      const extra = await pool.connect(gw.url, '/extra');
      assert.equal(await emitAck(extra, 'ping', {}), 'extra');
      assert.equal(disconnects.events.length, 0);
      assert.ok(socket.connected);
    });

    test('an invalid config changes nothing and its errors are logged with positions', async () => {
      const socket = await pool.connect(gw.url, '/chat');
      const before = await emitAck(socket, 'ping', {});
      apply(BROKEN);
      await logged(gw, /reload refused.*gateway\.yaml:9:\d+: .*unknown handler type \\?"replyy\\?"/);
      assert.equal(await emitAck(socket, 'ping', {}), before);
      assert.ok(socket.connected);
      // Fixing the file applies again.
      apply(BASE);
      await eventually(socket, 'ping', 'pong-v1');

      // Each outcome is counted.
      const metrics = await (await fetch(`${gw.url}/metrics`)).text();
      const count = (result) => {
        const m = metrics.match(new RegExp(`^gatehouse_config_reloads_total\\{result="${result}"\\} (\\d+)$`, 'm'));
        return m ? Number(m[1]) : 0;
      };
      assert.ok(count('applied') >= 2, `applied reloads: ${count('applied')}`);
      assert.ok(count('refused') >= 1, `refused reloads: ${count('refused')}`);
    });
  });
}
