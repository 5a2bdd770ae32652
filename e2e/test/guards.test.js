'use strict';

// Built-in guards from YAML (claims, expr, rate_limit, schema, max_size),
// namespace connect guards, auth modes, token expiry and in-band refresh,
// and RS256 tokens verified with a public key file.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');

const {
  clientPool,
  connectError,
  emitAck,
  fixture,
  record,
  rsaKeyPair,
  sleep,
  startGateway,
  tempDir,
  token,
  uniqueSub,
  waitFor,
} = require('../lib/gateway');

function assertOk(reply) {
  assert.ok(reply && reply.ok === true, `expected {ok: true}, got ${JSON.stringify(reply)}`);
}

function assertCodedError(reply, code, messagePattern) {
  assert.ok(reply && typeof reply === 'object' && reply.error, `expected an error ack, got ${JSON.stringify(reply)}`);
  assert.equal(reply.error.code, code, `ack was ${JSON.stringify(reply)}`);
  assert.equal(typeof reply.error.message, 'string');
  if (messagePattern) assert.match(reply.error.message, messagePattern, `ack was ${JSON.stringify(reply)}`);
  return reply.error;
}

describe('guards', () => {
  let gw;
  const pool = clientPool();

  before(async () => {
    gw = await startGateway({ config: fixture('guards.yaml') });
  });

  after(async () => {
    pool.closeAll();
    if (gw) await gw.stop();
  });

  async function client(claims = {}, ns = '/g', extraAuth = {}) {
    const sub = claims.sub || uniqueSub();
    return pool.connect(gw.url, ns, { auth: { token: token({ sub, ...claims }), ...extraAuth } });
  }

  describe('claims', () => {
    test('equality: role admin passes, another role or none is forbidden naming the claim', async () => {
      assertOk(await emitAck(await client({ role: 'admin' }), 'admin_only', {}));
      assertCodedError(await emitAck(await client({ role: 'member' }), 'admin_only', {}), 'forbidden', /role/);
      assertCodedError(await emitAck(await client({}), 'admin_only', {}), 'forbidden', /role/);
    });

    test('one_of: red and blue pass, green and a missing team are forbidden', async () => {
      assertOk(await emitAck(await client({ team: 'red' }), 'team', {}));
      assertOk(await emitAck(await client({ team: 'blue' }), 'team', {}));
      assertCodedError(await emitAck(await client({ team: 'green' }), 'team', {}), 'forbidden', /team/);
      assertCodedError(await emitAck(await client({}), 'team', {}), 'forbidden');
    });

    test('contains on a space-separated scope string', async () => {
      assertOk(await emitAck(await client({ scope: 'read write' }), 'write', {}));
      assertOk(await emitAck(await client({ scope: 'write' }), 'write', {}));
      assertCodedError(await emitAck(await client({ scope: 'read' }), 'write', {}), 'forbidden', /scope/);
      assertCodedError(await emitAck(await client({ scope: 'read rewrite' }), 'write', {}), 'forbidden');
    });

    test('contains on an array claim', async () => {
      assertOk(await emitAck(await client({ perms: ['build', 'deploy'] }), 'deploy', {}));
      assertCodedError(await emitAck(await client({ perms: ['build'] }), 'deploy', {}), 'forbidden', /perms/);
      assertCodedError(await emitAck(await client({ perms: [] }), 'deploy', {}), 'forbidden');
      assertCodedError(await emitAck(await client({}), 'deploy', {}), 'forbidden');
    });
  });

  describe('expr', () => {
    test('a custom code and message', async () => {
      const socket = await client();
      assertOk(await emitAck(socket, 'polite', { word: 'please' }));
      const err = assertCodedError(await emitAck(socket, 'polite', { word: 'now' }), 'invalid_payload');
      assert.equal(err.message, 'say please');
      assertCodedError(await emitAck(socket, 'polite', {}), 'invalid_payload');
    });

    test('a payload the expression cannot evaluate is denied with the guard code', async () => {
      const socket = await client();
      assertCodedError(await emitAck(socket, 'polite', 'please'), 'invalid_payload');
      assertCodedError(await emitAck(socket, 'polite', 7), 'invalid_payload');
      assertCodedError(await emitAck(socket, 'polite'), 'invalid_payload');
    });

    test('the shorthand form denies with forbidden and "denied by guard NAME"', async () => {
      assertOk(await emitAck(await client({}), 'not_banned', {}));
      assertOk(await emitAck(await client({ banned: false }), 'not_banned', {}));
      const err = assertCodedError(await emitAck(await client({ banned: true }), 'not_banned', {}), 'forbidden');
      assert.equal(err.message, 'denied by guard not_banned');
    });

    test('a guard chain stops at the first denial, in order', async () => {
      const member = await client({ role: 'member' });
      const admin = await client({ role: 'admin' });
      assertCodedError(await emitAck(member, 'chain', { word: 'now' }), 'forbidden');
      assertCodedError(await emitAck(admin, 'chain', { word: 'now' }), 'invalid_payload');
      assertOk(await emitAck(admin, 'chain', { word: 'please' }));
    });
  });

  describe('rate_limit', () => {
    function assertLimited(reply) {
      const err = assertCodedError(reply, 'rate_limited');
      assert.equal(typeof err.retry_after_ms, 'number', JSON.stringify(reply));
      assert.ok(Number.isInteger(err.retry_after_ms), JSON.stringify(reply));
      assert.ok(err.retry_after_ms > 0 && err.retry_after_ms <= 60_000, JSON.stringify(reply));
    }

    test('key socket: each connection has its own bucket', async () => {
      const sub = uniqueSub();
      const first = await client({ sub });
      const second = await client({ sub });
      assertOk(await emitAck(first, 'by_socket', {}));
      assertOk(await emitAck(first, 'by_socket', {}));
      assertLimited(await emitAck(first, 'by_socket', {}));
      assertOk(await emitAck(second, 'by_socket', {}));
      assertOk(await emitAck(second, 'by_socket', {}));
      assertLimited(await emitAck(second, 'by_socket', {}));
    });

    test('key user: connections of one user share a bucket, other users do not', async () => {
      const sub = uniqueSub();
      const first = await client({ sub });
      const second = await client({ sub });
      const stranger = await client();
      assertOk(await emitAck(first, 'by_user', {}));
      assertOk(await emitAck(second, 'by_user', {}));
      assertLimited(await emitAck(first, 'by_user', {}));
      assertLimited(await emitAck(second, 'by_user', {}));
      assertOk(await emitAck(stranger, 'by_user', {}));
    });

    test('key ip: every client from 127.0.0.1 shares one bucket', async () => {
      const a = await client();
      const b = await client();
      assertOk(await emitAck(a, 'by_ip', {}));
      assertOk(await emitAck(b, 'by_ip', {}));
      assertLimited(await emitAck(a, 'by_ip', {}));
      assertLimited(await emitAck(b, 'by_ip', {}));
    });

    test('key claim:team: members of one team share a bucket', async () => {
      const team = uniqueSub('team');
      const other = uniqueSub('team');
      const a = await client({ team });
      const b = await client({ team });
      const c = await client({ team: other });
      assertOk(await emitAck(a, 'by_team', {}));
      assertOk(await emitAck(b, 'by_team', {}));
      assertLimited(await emitAck(b, 'by_team', {}));
      assertOk(await emitAck(c, 'by_team', {}));
    });
  });

  describe('schema', () => {
    for (const event of ['profile_inline', 'profile_file']) {
      test(`${event}: valid payloads pass, invalid ones are invalid_payload naming the field`, async () => {
        const socket = await client();
        assert.deepEqual(await emitAck(socket, event, { name: 'ann', age: 3 }), { ok: true, name: 'ann' });
        assertCodedError(await emitAck(socket, event, { name: 'toolong', age: 3 }), 'invalid_payload', /\/name/);
        assertCodedError(await emitAck(socket, event, { name: 'ann', age: -1 }), 'invalid_payload', /\/age/);
        assertCodedError(await emitAck(socket, event, { name: 'ann', age: 1.5 }), 'invalid_payload', /\/age/);
        assertCodedError(await emitAck(socket, event, { name: 'ann' }), 'invalid_payload', /age/);
        assertCodedError(await emitAck(socket, event, { name: 'ann', age: 3, extra: true }), 'invalid_payload', /extra/);
        assertCodedError(await emitAck(socket, event, 'ann'), 'invalid_payload');
        assertCodedError(await emitAck(socket, event), 'invalid_payload');
      });
    }
  });

  describe('max_size', () => {
    for (const event of ['small', 'small_long_form']) {
      test(`${event}: payloads over 100 bytes are payload_too_large`, async () => {
        const socket = await client();
        assertOk(await emitAck(socket, event, { text: 'x'.repeat(50) }));
        const err = assertCodedError(await emitAck(socket, event, { text: 'x'.repeat(200) }), 'payload_too_large');
        assert.match(err.message, /100/, 'the message gives the limit');
      });
    }

    test('without an ack the refusal is an exception event', async () => {
      const socket = await client();
      const got = waitFor(socket, 'exception');
      socket.emit('small', { text: 'x'.repeat(200) });
      const [e] = await got;
      assert.equal(e.status, 'error');
      assert.equal(e.code, 'payload_too_large');
      assert.equal(e.event, 'small');
      assert.equal(typeof e.message, 'string');
    });
  });

  describe('namespace connect guards and auth modes', () => {
    test('a namespace with auth required refuses a client without a token', async () => {
      const err = await connectError(gw.url, '/g');
      assert.equal(err.data?.code, 'unauthorized', `${err.message} ${JSON.stringify(err.data)}`);
    });

    test('claims guard at connect: admins in, others get connect_error forbidden', async () => {
      const admin = await client({ role: 'admin' }, '/admin');
      assert.equal((await emitAck(admin, 'whoami')).role, 'admin');
      const err = await connectError(gw.url, '/admin', { auth: { token: token({ sub: uniqueSub(), role: 'member' }) } });
      assert.equal(err.data?.code, 'forbidden', `${err.message} ${JSON.stringify(err.data)}`);
      assert.match(err.message, /role/);
    });

    test('one_of guard at connect', async () => {
      await client({ team: 'red' }, '/teams');
      for (const claims of [{ team: 'green' }, {}]) {
        const err = await connectError(gw.url, '/teams', { auth: { token: token({ sub: uniqueSub(), ...claims }) } });
        assert.equal(err.data?.code, 'forbidden', `${JSON.stringify(claims)}: ${err.message} ${JSON.stringify(err.data)}`);
      }
    });

    test('expr guard at connect sees the auth payload as data, with its custom message', async () => {
      await client({}, '/lobby', { room: 'lobby' });
      const err = await connectError(gw.url, '/lobby', { auth: { token: token({ sub: uniqueSub() }), room: 'vip' } });
      assert.equal(err.data?.code, 'forbidden', `${err.message} ${JSON.stringify(err.data)}`);
      assert.equal(err.message, 'only the lobby is open');
    });

    test('auth optional: no token connects with no claims; a token gives claims', async () => {
      const anonymous = await pool.connect(gw.url, '/optional');
      assert.deepEqual(await emitAck(anonymous, 'whoami'), {});
      assertCodedError(await emitAck(anonymous, 'admin_only', {}), 'unauthorized');

      const sub = uniqueSub();
      const known = await client({ sub, role: 'admin' }, '/optional');
      assert.equal((await emitAck(known, 'whoami')).sub, sub);
      assertOk(await emitAck(known, 'admin_only', {}));
    });

    test('auth optional: a present but invalid token is still refused', async () => {
      const err = await connectError(gw.url, '/optional', { auth: { token: token({ sub: 'x' }, { secret: 'wrong' }) } });
      assert.equal(err.data?.code, 'unauthorized', `${err.message} ${JSON.stringify(err.data)}`);
    });

    test('auth none: connects without a token; claims guards answer unauthorized', async () => {
      const socket = await pool.connect(gw.url, '/open');
      assert.equal(await emitAck(socket, 'ping', {}), 'pong');
      assertCodedError(await emitAck(socket, 'admin_only', {}), 'unauthorized');
    });
  });

  describe('token expiry and refresh', { concurrency: true }, () => {
    const EXPIRY_S = 4;

    function shortToken(sub, extra = {}) {
      return token({ sub, ...extra }, { expiresIn: EXPIRY_S });
    }

    test('auth:expiring, then auth:refresh with the same sub keeps the socket past exp', async () => {
      const sub = uniqueSub();
      const started = Date.now();
      const socket = await pool.connect(gw.url, '/g', { auth: { token: shortToken(sub) } });
      const exceptions = record(socket, 'exception');
      const disconnects = record(socket, 'disconnect');
      const [warning] = await waitFor(socket, 'auth:expiring', EXPIRY_S * 1000);
      assert.equal(typeof warning?.expires_in, 'number', `auth:expiring was ${JSON.stringify(warning)}`);
      assert.ok(warning.expires_in > 0, JSON.stringify(warning));

      const fresh = token({ sub, refreshed: true }, { expiresIn: 3600 });
      const ack = await emitAck(socket, 'auth:refresh', { token: fresh });
      assert.equal(ack?.ok, true, `refresh ack was ${JSON.stringify(ack)}`);
      assert.ok(ack.expires_at !== undefined && ack.expires_at !== null, JSON.stringify(ack));

      // Wait until well past the first token's exp.
      await sleep(Math.max(0, started + (EXPIRY_S + 1.5) * 1000 - Date.now()));
      assert.deepEqual(disconnects.events, []);
      assert.deepEqual(exceptions.events, []);
      assert.ok(socket.connected);
      const me = await emitAck(socket, 'whoami');
      assert.equal(me.sub, sub);
      assert.equal(me.refreshed, true, 'claims come from the refreshed token');
    });

    test('auth:refresh with another sub or a bad token is refused and does not extend the session', async () => {
      const sub = uniqueSub();
      const socket = await pool.connect(gw.url, '/g', { auth: { token: shortToken(sub) } });
      const exceptions = record(socket, 'exception');
      const disconnected = waitFor(socket, 'disconnect', (EXPIRY_S + 3) * 1000);

      const other = await emitAck(socket, 'auth:refresh', { token: token({ sub: uniqueSub() }) });
      assert.ok(other?.error, `refresh with another sub acked ${JSON.stringify(other)}`);
      assert.ok(['unauthorized', 'forbidden'].includes(other.error.code), JSON.stringify(other));
      const garbage = await emitAck(socket, 'auth:refresh', { token: 'garbage' });
      assert.ok(garbage?.error, `refresh with garbage acked ${JSON.stringify(garbage)}`);
      assert.equal(garbage.error.code, 'unauthorized', JSON.stringify(garbage));

      const [reason] = await disconnected;
      assert.equal(reason, 'io server disconnect');
      assert.ok(
        exceptions.firsts.some((e) => e.code === 'token_expired'),
        `exceptions: ${JSON.stringify(exceptions.firsts)}`,
      );
    });

    test('without a refresh: exception token_expired, then disconnect', async () => {
      const socket = await pool.connect(gw.url, '/g', { auth: { token: shortToken(uniqueSub()) } });
      const order = [];
      socket.on('exception', (e) => order.push(['exception', e]));
      socket.on('disconnect', (reason) => order.push(['disconnect', reason]));
      const [e] = await waitFor(socket, 'exception', (EXPIRY_S + 2) * 1000);
      assert.equal(e.status, 'error');
      assert.equal(e.code, 'token_expired');
      assert.equal(typeof e.message, 'string');
      await waitFor(socket, 'disconnect', 2000).catch((err) => {
        if (socket.connected) throw err;
      });
      assert.deepEqual(
        order.map(([kind, v]) => (kind === 'exception' ? `exception:${v.code}` : `disconnect:${v}`)),
        ['exception:token_expired', 'disconnect:io server disconnect'],
      );
    });
  });
});

describe('RS256 tokens verified with a public key file', () => {
  let gw;
  let tmp;
  const pool = clientPool();
  const keys = rsaKeyPair();
  const otherKeys = rsaKeyPair();

  before(async () => {
    tmp = tempDir();
    const keyFile = path.join(tmp.dir, 'jwt-public.pem');
    fs.writeFileSync(keyFile, keys.publicKeyPem);
    gw = await startGateway({ config: fixture('rs256.yaml'), env: { JWT_PUBLIC_KEY_FILE: keyFile } });
  });

  after(async () => {
    pool.closeAll();
    if (gw) await gw.stop();
    if (tmp) tmp.cleanup();
  });

  test('a token signed with the private key connects', async () => {
    const sub = uniqueSub();
    const socket = await pool.connect(gw.url, '/rs', {
      auth: { token: token({ sub }, { alg: 'RS256', privateKey: keys.privateKey }) },
    });
    assert.equal((await emitAck(socket, 'whoami')).sub, sub);
  });

  test('a token signed with another key, or HS256 with the public key as secret, is unauthorized', async () => {
    for (const bad of [
      token({ sub: 'x' }, { alg: 'RS256', privateKey: otherKeys.privateKey }),
      token({ sub: 'x' }, { alg: 'HS256', secret: keys.publicKeyPem }),
    ]) {
      const err = await connectError(gw.url, '/rs', { auth: { token: bad } });
      assert.equal(err.data?.code, 'unauthorized', `${err.message} ${JSON.stringify(err.data)}`);
    }
  });
});
