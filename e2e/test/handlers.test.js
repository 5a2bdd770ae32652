'use strict';

// Built-in handlers from YAML: reply, emit, broadcast (namespace, room,
// include_sender), join, leave, webhook (reply, whole body, actions, slow,
// failing and garbage backends) and the on_connect / on_disconnect lists.

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { after, before, describe, test } = require('node:test');

const {
  backendDelay,
  clientPool,
  emitAck,
  expectNone,
  fixture,
  record,
  startBackend,
  startGateway,
  token,
  uniqueSub,
  waitFor,
} = require('../lib/gateway');

const QUIET_MS = 300;

function assertCodedError(reply, code) {
  assert.ok(reply && typeof reply === 'object' && reply.error, `expected an error ack, got ${JSON.stringify(reply)}`);
  assert.equal(reply.error.code, code, `ack was ${JSON.stringify(reply)}`);
  assert.equal(typeof reply.error.message, 'string');
}

describe('handlers', () => {
  let gw;
  let backend;
  const pool = clientPool();

  before(async () => {
    backend = await startBackend({
      '/lifecycle': async () => ({ body: {} }),
      '/normal': async (req, body) => ({ body: { reply: { echo: body?.data, sub: body?.claims?.sub }, ignored: true } }),
      '/whole': async () => ({ body: { a: 1, b: [2, 3] } }),
      '/actions': async () => ({
        body: {
          reply: { done: true },
          actions: [
            { type: 'emit', event: 'act', data: { x: 1 } },
            { type: 'join', room: 'act-room' },
            { type: 'broadcast', event: 'act_b', data: { y: 2 }, room: 'act-room' },
          ],
        },
      }),
      '/leave': async () => ({ body: { reply: { left: true }, actions: [{ type: 'leave', room: 'act-room' }] } }),
      '/slow': async (req, body, pending) => {
        await backendDelay(pending, 2000);
        return { body: { late: true } };
      },
      '/fail': async () => ({ status: 500, body: { error: 'boom' } }),
      '/garbage': async () => ({ status: 200, body: 'this is {not json', headers: { 'content-type': 'application/json' } }),
    });
    gw = await startGateway({ config: fixture('handlers.yaml'), env: { WEBHOOK_URL: backend.url } });
  });

  after(async () => {
    pool.closeAll();
    if (gw) await gw.stop();
    if (backend) await backend.close();
  });

  async function client(claims = {}, opts = {}) {
    const sub = claims.sub || uniqueSub();
    const socket = await pool.connect(gw.url, '/h', { auth: { token: token({ sub, ...claims }) }, ...opts });
    return { socket, sub };
  }

  async function rooms(socket) {
    const list = await emitAck(socket, 'rooms', {});
    assert.ok(Array.isArray(list), `socket.rooms was ${JSON.stringify(list)}`);
    return [...list].sort();
  }

  test('reply: the CEL value is the ack, with user, namespace and event in scope', async () => {
    const { socket, sub } = await client();
    assert.deepEqual(await emitAck(socket, 'ask', { question: 'why' }), {
      answer: 'why!',
      sub,
      namespace: '/h',
      event: 'ask',
    });
  });

  test('emit: a computed event to the caller only, with its reply as the ack', async () => {
    const alice = await client();
    const bob = await client();
    const atAlice = record(alice.socket, 'computed');
    const atBob = record(bob.socket, 'computed');
    assert.deepEqual(await emitAck(alice.socket, 'emit_computed', { a: [1, 'two'] }), { sent: true });
    await atAlice.waitCount(1);
    assert.deepEqual(atAlice.firsts, [{ got: { a: [1, 'two'] }, by: alice.sub }]);
    await expectNone(atBob, QUIET_MS, 'emit to another socket');
  });

  test('emit without data sends the arguments back intact, binary included', async () => {
    const { socket } = await client({}, { transports: ['websocket'] });
    const blob = crypto.randomBytes(64);
    const got = waitFor(socket, 'echo');
    socket.emit('echo', { text: 'hi', blob }, 'second', 3);
    const [obj, second, third] = await got;
    assert.equal(obj.text, 'hi');
    assert.ok(Buffer.from(obj.blob).equals(blob));
    assert.equal(second, 'second');
    assert.equal(third, 3);
  });

  test('broadcast with include_sender false reaches everyone but the sender; default ack {ok: true}', async () => {
    const alice = await client();
    const bob = await client();
    const carol = await client();
    const atAlice = record(alice.socket, 'shout');
    const atBob = record(bob.socket, 'shout');
    const atCarol = record(carol.socket, 'shout');
    assert.deepEqual(await emitAck(alice.socket, 'shout', { text: 'hey' }), { ok: true });
    const expected = { from: alice.sub, text: 'hey' };
    await atBob.waitCount(1);
    await atCarol.waitCount(1);
    assert.deepEqual(atBob.firsts, [expected]);
    assert.deepEqual(atCarol.firsts, [expected]);
    await expectNone(atAlice, QUIET_MS, 'shout at its sender');
  });

  test('broadcast to the namespace with the payload as data and a custom reply', async () => {
    const alice = await client();
    const bob = await client();
    const atAlice = record(alice.socket, 'said');
    const atBob = record(bob.socket, 'said');
    assert.deepEqual(await emitAck(alice.socket, 'say_all', { x: 1, y: 'z' }), { delivered: true });
    await atAlice.waitCount(1);
    await atBob.waitCount(1);
    assert.deepEqual(atAlice.firsts, [{ x: 1, y: 'z' }]);
    assert.deepEqual(atBob.firsts, [{ x: 1, y: 'z' }]);
  });

  test('broadcast with the payload as data keeps binary attachments for every recipient', async () => {
    const alice = await client({}, { transports: ['websocket'] });
    const bob = await client({}, { transports: ['polling'] });
    const blob = crypto.randomBytes(2048);
    const atAlice = waitFor(alice.socket, 'said');
    const atBob = waitFor(bob.socket, 'said');
    assert.deepEqual(await emitAck(alice.socket, 'say_all', { name: 'file', blob }), { delivered: true });
    for (const [who, got] of [['sender (websocket)', atAlice], ['bob (polling)', atBob]]) {
      const [msg] = await got;
      assert.equal(msg.name, 'file', who);
      assert.ok(Buffer.from(msg.blob).equals(blob), `${who}: binary differs`);
    }
  });

  test('broadcast to a room: members only, sender included unless include_sender is false', async () => {
    const room = uniqueSub('room');
    const alice = await client();
    const bob = await client();
    const carol = await client();
    assert.deepEqual(await emitAck(alice.socket, 'enter', { room }), { ok: true, room });
    assert.deepEqual(await emitAck(bob.socket, 'enter', { room }), { ok: true, room });
    const atAlice = record(alice.socket, 'room_said');
    const atBob = record(bob.socket, 'room_said');
    const atCarol = record(carol.socket, 'room_said');

    assert.deepEqual(await emitAck(alice.socket, 'say_room', { room, text: 'one' }), { ok: true });
    await atAlice.waitCount(1);
    await atBob.waitCount(1);
    assert.deepEqual(atBob.firsts, [{ from: alice.sub, text: 'one' }]);

    assert.deepEqual(await emitAck(alice.socket, 'say_room_quiet', { room, text: 'two' }), { ok: true });
    await atBob.waitCount(2);
    assert.deepEqual(atBob.firsts[1], { from: alice.sub, text: 'two' });
    await expectNone(atCarol, QUIET_MS, 'room broadcast at a non-member');
    assert.equal(atAlice.events.length, 1, `sender got ${JSON.stringify(atAlice.events)} with include_sender false`);
  });

  test('join and leave change socket.rooms and ack {ok: true, room}; a custom reply replaces it', async () => {
    const { socket, sub } = await client();
    const room = uniqueSub('room');
    assert.deepEqual(await rooms(socket), [`user:${sub}`]);
    assert.deepEqual(await emitAck(socket, 'enter', { room }), { ok: true, room });
    assert.deepEqual(await rooms(socket), [room, `user:${sub}`].sort());
    assert.deepEqual(await emitAck(socket, 'exit', { room }), { ok: true, room });
    assert.deepEqual(await rooms(socket), [`user:${sub}`]);
    assert.deepEqual(await emitAck(socket, 'enter_custom', { room: 'x' }), { joined: 'custom:x' });
    assert.ok((await rooms(socket)).includes('custom:x'));
  });

  test('on_connect joins "user:" + sub: a broadcast to that room reaches that user only', async () => {
    const alice = await client();
    const bob = await client();
    const bobAgain = await client({ sub: bob.sub });
    const carol = await client();
    const atBob = record(bob.socket, 'notice');
    const atBobAgain = record(bobAgain.socket, 'notice');
    const atCarol = record(carol.socket, 'notice');
    const atAlice = record(alice.socket, 'notice');
    assert.deepEqual(await emitAck(alice.socket, 'notify', { to: bob.sub, text: 'hi bob' }), { ok: true });
    await atBob.waitCount(1);
    await atBobAgain.waitCount(1);
    assert.deepEqual(atBob.firsts, [{ from: alice.sub, text: 'hi bob' }]);
    await expectNone(atCarol, QUIET_MS, 'notice at another user');
    assert.deepEqual(atAlice.events, []);
  });

  test('on_connect and on_disconnect webhooks are called with the socket and its claims', async () => {
    const { socket, sub } = await client({ username: 'Lifecycle' });
    const id = socket.id;
    const connected = await backend.waitForRequest((r) => r.path === '/lifecycle' && r.body?.event === 'connect' && r.body?.socket_id === id);
    assert.equal(connected.method, 'POST');
    assert.equal(connected.body.namespace, '/h');
    assert.equal(connected.body.claims.sub, sub);
    assert.equal(connected.body.claims.username, 'Lifecycle');

    socket.disconnect();
    const gone = await backend.waitForRequest((r) => r.path === '/lifecycle' && r.body?.event === 'disconnect' && r.body?.socket_id === id);
    assert.equal(gone.body.namespace, '/h');
    assert.equal(gone.body.claims.sub, sub);
  });

  describe('webhook', () => {
    test('POSTs {namespace, event, data, claims, socket_id} with the configured headers; reply field is the ack', async () => {
      const { socket, sub } = await client({ role: 'tester' });
      const data = { q: 1, list: ['a', { b: true }] };
      assert.deepEqual(await emitAck(socket, 'hook', data), { echo: data, sub });
      const req = await backend.waitForRequest((r) => r.path === '/normal' && r.body?.socket_id === socket.id);
      assert.equal(req.method, 'POST');
      assert.match(req.headers['content-type'] || '', /application\/json/);
      assert.equal(req.headers['x-gatehouse-test'], 'e2e-header');
      assert.equal(req.body.namespace, '/h');
      assert.equal(req.body.event, 'hook');
      assert.deepEqual(req.body.data, data);
      assert.equal(req.body.claims.sub, sub);
      assert.equal(req.body.claims.role, 'tester');
    });

    test('an answer without a reply field is the ack as a whole', async () => {
      const { socket } = await client();
      assert.deepEqual(await emitAck(socket, 'hook_whole', {}), { a: 1, b: [2, 3] });
    });

    test('actions: emit to the caller, join, then broadcast to the joined room; leave', async () => {
      const caller = await client();
      const member = await client();
      assert.deepEqual(await emitAck(member.socket, 'enter', { room: 'act-room' }), { ok: true, room: 'act-room' });
      const emitted = waitFor(caller.socket, 'act');
      const atCaller = record(caller.socket, 'act_b');
      const atMember = record(member.socket, 'act_b');

      assert.deepEqual(await emitAck(caller.socket, 'hook_actions', {}), { done: true });
      assert.deepEqual(await emitted, [{ x: 1 }]);
      await atMember.waitCount(1);
      await atCaller.waitCount(1);
      assert.deepEqual(atMember.firsts, [{ y: 2 }]);
      assert.deepEqual(atCaller.firsts, [{ y: 2 }]);
      assert.ok((await rooms(caller.socket)).includes('act-room'));

      assert.deepEqual(await emitAck(caller.socket, 'hook_leave', {}), { left: true });
      assert.ok(!(await rooms(caller.socket)).includes('act-room'));
      await emitAck(member.socket, 'exit', { room: 'act-room' });
    });

    test('a backend slower than the timeout: upstream_timeout', async () => {
      const { socket } = await client();
      assertCodedError(await emitAck(socket, 'hook_slow', {}, 1800), 'upstream_timeout');
    });

    test('a 500 answer: upstream_error', async () => {
      const { socket } = await client();
      assertCodedError(await emitAck(socket, 'hook_fail', {}), 'upstream_error');
    });

    test('an unparsable answer: upstream_error', async () => {
      const { socket } = await client();
      assertCodedError(await emitAck(socket, 'hook_garbage', {}), 'upstream_error');
    });

    test('a failing webhook without an ack sends an exception event', async () => {
      const { socket } = await client();
      const got = waitFor(socket, 'exception');
      socket.emit('hook_fail', {});
      const [e] = await got;
      assert.deepEqual(
        { status: e.status, code: e.code, event: e.event },
        { status: 'error', code: 'upstream_error', event: 'hook_fail' },
      );
    });
  });
});
