'use strict';

// Contract C1: the repository's gateway.yaml, used as is, with the official
// client written the way a front-end developer writes it.

const assert = require('node:assert/strict');
const { after, before, describe, test } = require('node:test');

const {
  DEFAULT_SECRET,
  clientPool,
  connectError,
  emitAck,
  expectNone,
  record,
  repoFile,
  sleep,
  startGateway,
  token,
  uniqueSub,
  waitFor,
} = require('../lib/gateway');

const CONFIG = repoFile('gateway.yaml');
const QUIET_MS = 300;

function assertCodedError(reply, code) {
  assert.ok(reply && typeof reply === 'object' && reply.error, `expected an error ack, got ${JSON.stringify(reply)}`);
  assert.equal(reply.error.code, code, `ack was ${JSON.stringify(reply)}`);
  assert.equal(typeof reply.error.message, 'string');
  assert.ok(reply.error.message.length > 0, 'error message is empty');
}

describe('contract C1: the default gateway.yaml', () => {
  let gw;
  const pool = clientPool();

  before(async () => {
    gw = await startGateway({ config: CONFIG, env: { JWT_SECRET: DEFAULT_SECRET } });
  });

  after(async () => {
    pool.closeAll();
    if (gw) await gw.stop();
  });

  /** A connected /chat client with a fresh user id (so rate limits are its own). */
  async function user(claims = {}, opts = {}) {
    const sub = claims.sub || uniqueSub();
    const fullClaims = { sub, username: `name-${sub}`, ...claims };
    const socket = await pool.connect(gw.url, '/chat', { auth: { token: token(fullClaims) }, ...opts });
    return { socket, sub, claims: fullClaims };
  }

  describe('connection and tokens', () => {
    test('token in the CONNECT auth payload: io(url + "/chat", {auth: {token}})', async () => {
      const { socket, sub } = await user({ role: 'member' });
      const me = await emitAck(socket, 'whoami');
      assert.equal(me.sub, sub);
    });

    test('token in the Authorization: Bearer header (polling)', async () => {
      const sub = uniqueSub();
      const socket = await pool.connect(gw.url, '/chat', {
        transports: ['polling'],
        extraHeaders: { Authorization: `Bearer ${token({ sub, username: 'Header' })}` },
      });
      const me = await emitAck(socket, 'whoami');
      assert.equal(me.sub, sub);
      assert.equal(me.username, 'Header');
    });

    for (const transports of [undefined, ['websocket']]) {
      test(`token in the ?token= query parameter (${transports ? transports.join() : 'default transports'})`, async () => {
        const sub = uniqueSub();
        const socket = await pool.connect(gw.url, '/chat', { query: { token: token({ sub }) }, transports });
        const me = await emitAck(socket, 'whoami');
        assert.equal(me.sub, sub);
      });
    }

    test('no token: connect_error with data.code unauthorized', async () => {
      const err = await connectError(gw.url, '/chat');
      assert.equal(err.data?.code, 'unauthorized', `connect_error was ${err.message} ${JSON.stringify(err.data)}`);
      assert.equal(typeof err.message, 'string');
      assert.ok(err.message.length > 0);
    });

    test('bad token in the auth payload: connect_error unauthorized', async () => {
      for (const bad of [
        token({ sub: 'mallory' }, { secret: 'not-the-secret' }),
        'not.a.jwt',
        token({ sub: 'mallory' }, { alg: 'HS512' }),
        token({ sub: 'mallory' }, { alg: 'none' }),
      ]) {
        const err = await connectError(gw.url, '/chat', { auth: { token: bad } });
        assert.equal(err.data?.code, 'unauthorized', `token ${bad}: ${err.message} ${JSON.stringify(err.data)}`);
      }
    });

    test('a token without exp is refused (exp is required)', async () => {
      const err = await connectError(gw.url, '/chat', { auth: { token: token({ sub: 'noexp' }, { noExp: true }) } });
      assert.equal(err.data?.code, 'unauthorized', `${err.message} ${JSON.stringify(err.data)}`);
    });

    test('bad token in the Authorization header: 401 at the upgrade request', async () => {
      const bad = token({ sub: 'mallory' }, { secret: 'not-the-secret' });
      const res = await fetch(`${gw.url}/socket.io/?EIO=4&transport=polling`, {
        headers: { Authorization: `Bearer ${bad}` },
        signal: AbortSignal.timeout(2000),
      });
      await res.arrayBuffer();
      assert.equal(res.status, 401);

      const err = await connectError(gw.url, '/chat', {
        transports: ['polling'],
        extraHeaders: { Authorization: `Bearer ${bad}` },
      });
      assert.equal(err.description, 401, `connect_error: ${err.message} (${err.description})`);

      const wsErr = await connectError(gw.url, '/chat', {
        transports: ['websocket'],
        extraHeaders: { Authorization: `Bearer ${bad}` },
      });
      assert.match(wsErr.message, /websocket error/);
    });

    test('bad token in the ?token= query: 401 at the upgrade request', async () => {
      const res = await fetch(`${gw.url}/socket.io/?EIO=4&transport=polling&token=garbage`, {
        signal: AbortSignal.timeout(2000),
      });
      await res.arrayBuffer();
      assert.equal(res.status, 401);
    });

    test('expired token: connect_error with data.code token_expired', async () => {
      const expired = token({ sub: 'late', exp: Math.floor(Date.now() / 1000) - 60 });
      const err = await connectError(gw.url, '/chat', { auth: { token: expired } });
      assert.equal(err.data?.code, 'token_expired', `${err.message} ${JSON.stringify(err.data)}`);
    });

    test('whoami acks the claims: sub, username, role and the rest', async () => {
      const { socket, sub } = await user({ username: 'Alice', role: 'member', team: 'red' });
      const me = await emitAck(socket, 'whoami');
      assert.equal(me.sub, sub);
      assert.equal(me.username, 'Alice');
      assert.equal(me.role, 'member');
      assert.equal(me.team, 'red');
      assert.equal(typeof me.exp, 'number');
    });
  });

  describe('sendMessage', () => {
    test('broadcasts {user, username, message} to everyone, sender included, and acks {ok: true}', async () => {
      const alice = await user({ username: 'Alice' });
      const bob = await user({ username: 'Bob' });
      const atAlice = record(alice.socket, 'message');
      const atBob = record(bob.socket, 'message');
      const ack = await emitAck(alice.socket, 'sendMessage', { message: 'hello' });
      assert.deepEqual(ack, { ok: true });
      const expected = { user: alice.sub, username: 'Alice', message: 'hello' };
      await atBob.waitCount(1);
      await atAlice.waitCount(1);
      assert.deepEqual(atBob.firsts, [expected]);
      assert.deepEqual(atAlice.firsts, [expected]);
    });

    test('username is "" when the token has none', async () => {
      const sub = uniqueSub();
      const socket = await pool.connect(gw.url, '/chat', { auth: { token: token({ sub }) } });
      const got = waitFor(socket, 'message');
      assert.deepEqual(await emitAck(socket, 'sendMessage', { message: 'anon' }), { ok: true });
      const [msg] = await got;
      assert.deepEqual(msg, { user: sub, username: '', message: 'anon' });
    });

    test('2000 characters are accepted, counted as characters rather than bytes', async () => {
      const { socket } = await user();
      assert.deepEqual(await emitAck(socket, 'sendMessage', { message: 'x'.repeat(2000) }), { ok: true });
      assert.deepEqual(await emitAck(socket, 'sendMessage', { message: '\u20ac'.repeat(2000) }), { ok: true });
      assert.deepEqual(await emitAck(socket, 'sendMessage', { message: '\u{1F600}'.repeat(2000) }), { ok: true });
      assertCodedError(await emitAck(socket, 'sendMessage', { message: '\u20ac'.repeat(2001) }), 'invalid_payload');
    });

    test('invalid payloads are refused with invalid_payload and not broadcast', async () => {
      const { socket } = await user();
      const bystander = await user();
      const seen = record(bystander.socket, 'message');
      const cases = [
        ['missing message', {}],
        ['empty message', { message: '' }],
        ['too long message', { message: 'x'.repeat(2001) }],
        ['message not a string', { message: 42 }],
        ['a string payload', 'hello'],
        ['an array payload', [{ message: 'hi' }]],
        ['a null payload', null],
      ];
      for (const [name, payload] of cases) {
        const reply = await emitAck(socket, 'sendMessage', payload);
        assert.ok(reply?.error, `${name}: expected an error, got ${JSON.stringify(reply)}`);
        assert.equal(reply.error.code, 'invalid_payload', `${name}: ${JSON.stringify(reply)}`);
        assert.equal(typeof reply.error.message, 'string');
      }
      const none = await emitAck(socket, 'sendMessage');
      assertCodedError(none, 'invalid_payload');
      await expectNone(seen, QUIET_MS, 'broadcast of an invalid message');
    });

    test('rate limit: 25 rapid messages from one user, some refused with rate_limited and retry_after_ms', async () => {
      const { socket } = await user();
      const other = await user();
      const replies = await Promise.all(
        Array.from({ length: 25 }, (_, i) => emitAck(socket, 'sendMessage', { message: `m${i}` }, 5000)),
      );
      const ok = replies.filter((r) => r && r.ok === true);
      const limited = replies.filter((r) => r?.error?.code === 'rate_limited');
      assert.equal(ok.length + limited.length, 25, `unexpected replies: ${JSON.stringify(replies)}`);
      assert.ok(ok.length >= 20, `burst is 20, only ${ok.length} accepted`);
      assert.ok(limited.length >= 2, `rate 10/s, burst 20: ${ok.length} of 25 accepted at once`);
      for (const r of limited) {
        assert.equal(typeof r.error.retry_after_ms, 'number', JSON.stringify(r));
        assert.ok(r.error.retry_after_ms > 0 && r.error.retry_after_ms <= 1000, JSON.stringify(r));
        assert.equal(typeof r.error.message, 'string');
      }
      // The limit is per user: another user is not affected.
      assert.deepEqual(await emitAck(other.socket, 'sendMessage', { message: 'still fine' }), { ok: true });
      // retry_after_ms is honest: after waiting that long, a message goes through.
      const wait = Math.max(...limited.map((r) => r.error.retry_after_ms));
      await sleep(wait + 50);
      assert.deepEqual(await emitAck(socket, 'sendMessage', { message: 'after the wait' }), { ok: true });
    });

    test('rate limit is per user, shared by the same user on two connections', async () => {
      const sub = uniqueSub();
      const first = await user({ sub });
      const second = await user({ sub });
      const replies = await Promise.all(
        Array.from({ length: 24 }, (_, i) => emitAck(i % 2 ? first.socket : second.socket, 'sendMessage', { message: `m${i}` }, 5000)),
      );
      const limited = replies.filter((r) => r?.error?.code === 'rate_limited');
      assert.ok(limited.length >= 2, `24 messages from one user on two sockets, ${limited.length} refused`);
    });
  });

  describe('rooms', () => {
    test('join and leave ack {ok: true, room}', async () => {
      const { socket } = await user();
      assert.deepEqual(await emitAck(socket, 'join', { room: 'lobby' }), { ok: true, room: 'lobby' });
      assert.deepEqual(await emitAck(socket, 'leave', { room: 'lobby' }), { ok: true, room: 'lobby' });
    });

    test('join and leave refuse payloads without a valid room', async () => {
      const { socket } = await user();
      for (const payload of [{}, { room: '' }, { room: 'r'.repeat(201) }, 'lobby']) {
        assertCodedError(await emitAck(socket, 'join', payload), 'invalid_payload');
        assertCodedError(await emitAck(socket, 'leave', payload), 'invalid_payload');
      }
    });

    test('sendToRoom reaches members only, sender included', async () => {
      const room = `room-${uniqueSub('r')}`;
      const alice = await user({ username: 'Alice' });
      const bob = await user({ username: 'Bob' });
      const carol = await user({ username: 'Carol' });
      await emitAck(alice.socket, 'join', { room });
      await emitAck(bob.socket, 'join', { room });
      const atAlice = record(alice.socket, 'message');
      const atBob = record(bob.socket, 'message');
      const atCarol = record(carol.socket, 'message');

      assert.deepEqual(await emitAck(alice.socket, 'sendToRoom', { room, message: 'psst' }), { ok: true });
      const expected = { user: alice.sub, username: 'Alice', room, message: 'psst' };
      await atBob.waitCount(1);
      await atAlice.waitCount(1);
      assert.deepEqual(atBob.firsts, [expected]);
      assert.deepEqual(atAlice.firsts, [expected]);
      await expectNone(atCarol, QUIET_MS, 'room message at a non-member');

      // After leaving, bob no longer receives the room's messages.
      await emitAck(bob.socket, 'leave', { room });
      assert.deepEqual(await emitAck(alice.socket, 'sendToRoom', { room, message: 'again' }), { ok: true });
      await atAlice.waitCount(2);
      await new Promise((r) => setTimeout(r, QUIET_MS));
      assert.equal(atBob.events.length, 1, `bob got ${JSON.stringify(atBob.events)} after leaving`);
    });

    test('sendToRoom from a non-member is forbidden and delivers nothing', async () => {
      const room = `room-${uniqueSub('r')}`;
      const member = await user();
      const outsider = await user();
      await emitAck(member.socket, 'join', { room });
      const atMember = record(member.socket, 'message');
      assertCodedError(await emitAck(outsider.socket, 'sendToRoom', { room, message: 'let me in' }), 'forbidden');
      await expectNone(atMember, QUIET_MS, 'message from a non-member');
    });

    test('sendToRoom validates its payload', async () => {
      const { socket } = await user();
      await emitAck(socket, 'join', { room: 'v' });
      assertCodedError(await emitAck(socket, 'sendToRoom', { room: 'v' }), 'invalid_payload');
      assertCodedError(await emitAck(socket, 'sendToRoom', { room: 'v', message: '' }), 'invalid_payload');
      assertCodedError(await emitAck(socket, 'sendToRoom', { message: 'no room' }), 'invalid_payload');
    });
  });

  describe('announce', () => {
    test('an admin announces: ack {ok: true}, everyone gets announcement {message}', async () => {
      const admin = await user({ role: 'admin' });
      const listener = await user();
      const heard = record(listener.socket, 'announcement');
      assert.deepEqual(await emitAck(admin.socket, 'announce', { message: 'maintenance at 5' }), { ok: true });
      await heard.waitCount(1);
      assert.deepEqual(heard.firsts, [{ message: 'maintenance at 5' }]);
    });

    test('a non-admin is forbidden and nothing is announced', async () => {
      const member = await user({ role: 'member' });
      const nobody = await user();
      const listener = await user();
      const heard = record(listener.socket, 'announcement');
      assertCodedError(await emitAck(member.socket, 'announce', { message: 'fake' }), 'forbidden');
      assertCodedError(await emitAck(nobody.socket, 'announce', { message: 'fake' }), 'forbidden');
      await expectNone(heard, QUIET_MS, 'announcement by a non-admin');
    });
  });

  describe('errors (C2)', () => {
    test('an unknown event acks unknown_event', async () => {
      const { socket } = await user();
      assertCodedError(await emitAck(socket, 'launchRockets', { now: true }), 'unknown_event');
    });

    test('a refused event without ack gets an exception event {status, code, message, event}', async () => {
      const { socket } = await user();
      const exceptions = record(socket, 'exception');
      socket.emit('sendMessage', { message: '' });
      socket.emit('launchRockets', {});
      await exceptions.waitCount(2);
      const byEvent = Object.fromEntries(exceptions.firsts.map((e) => [e.event, e]));
      for (const [event, code] of [
        ['sendMessage', 'invalid_payload'],
        ['launchRockets', 'unknown_event'],
      ]) {
        const e = byEvent[event];
        assert.ok(e, `no exception for ${event}: ${JSON.stringify(exceptions.firsts)}`);
        assert.equal(e.status, 'error');
        assert.equal(e.code, code);
        assert.equal(typeof e.message, 'string');
        assert.ok(e.message.length > 0);
      }
    });

    test('an accepted event without ack sends no exception', async () => {
      const { socket } = await user();
      const exceptions = record(socket, 'exception');
      const got = waitFor(socket, 'message');
      socket.emit('sendMessage', { message: 'fire and forget' });
      await got;
      await expectNone(exceptions, QUIET_MS, 'exception for an accepted event');
    });
  });
});
