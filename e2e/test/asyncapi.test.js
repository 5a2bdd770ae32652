'use strict';

// `gatehouse asyncapi` checked against the official AsyncAPI 3.0 JSON Schema
// (npm @asyncapi/specs) with ajv: the document of gateway.yaml and of every
// example validates, a broken one is refused, and the document tells the
// truth about a running gateway: what the official client gets back from
// the default config (an ack, a refusal, a broadcast) validates against the
// schemas the document gives for it.

const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');
const Ajv = require('ajv');
const Ajv2020 = require('ajv/dist/2020');
const specs = require('@asyncapi/specs');

const {
  DEFAULT_SECRET, REPO_DIR, connect, emitAck, gatewayBinary, repoFile, startGateway, token, waitFor,
} = require('../lib/gateway');

const PLUGIN_BIN = process.env.GATEHOUSE_PLUGIN_BIN || path.join(REPO_DIR, 'bin', 'gatehouse-plugin');
const ENV = {
  ...process.env,
  JWT_SECRET: DEFAULT_SECRET,
  API_KEY: 'asyncapi-key',
  REDIS_URL: 'redis://127.0.0.1:6379/0',
  BACKEND_TOKEN: 'asyncapi-token',
};

/** The official AsyncAPI 3.0.0 schema compiled by ajv (draft-07, as the spec's schema is written). */
function specValidator() {
  // The spec's schema carries its own copy of the draft-07 meta-schema, so
  // ajv's is left out; formats are not asserted, as in the AsyncAPI parser.
  const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false, meta: false, validateSchema: false });
  return ajv.compile(specs.schemas['3.0.0']);
}

/** The document `bin asyncapi --config file` prints. */
function documentOf(file, bin = gatewayBinary()) {
  const result = spawnSync(bin, ['asyncapi', '--config', file], { env: ENV, encoding: 'utf8', timeout: 30_000 });
  assert.equal(result.status, 0, `asyncapi --config ${file} failed:\n${result.stderr}`);
  return JSON.parse(result.stdout);
}

function shippedConfigs() {
  const files = [{ file: repoFile('gateway.yaml'), bin: gatewayBinary() }];
  for (const dir of fs.readdirSync(path.join(REPO_DIR, 'examples')).sort()) {
    const file = path.join(REPO_DIR, 'examples', dir, 'gateway.yaml');
    if (fs.existsSync(file)) files.push({ file, bin: dir === 'plugin' ? PLUGIN_BIN : gatewayBinary() });
  }
  return files;
}

/** Follows a local $ref of doc. */
function resolve(doc, ref) {
  assert.ok(ref.startsWith('#/'), `a local reference: ${ref}`);
  let v = doc;
  for (const raw of ref.slice(2).split('/')) {
    const token = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    assert.ok(v && Object.hasOwn(v, token), `${ref} resolves`);
    v = v[token];
  }
  return v;
}

/** A draft 2020-12 validator, as the gateway's schema guard uses, of a schema of doc. */
function payloadValidator(doc, schema) {
  const ajv = new Ajv2020({ allErrors: true, strict: false, validateSchema: false });
  ajv.addSchema(doc, 'asyncapi.json');
  return ajv.compile(rebase(schema));
}

/** schema with its "#/..." references pointed at the document added as asyncapi.json. */
function rebase(schema) {
  return JSON.parse(JSON.stringify(schema), (key, value) =>
    key === '$ref' && typeof value === 'string' && value.startsWith('#') ? `asyncapi.json${value}` : value);
}

/** The message of an operation's reply, found by its title's end. */
function replyMessage(doc, operation, suffix) {
  const refs = doc.operations[operation].reply.messages.map((m) => m.$ref);
  const messages = refs.map((ref) => resolve(doc, ref));
  const found = messages.find((m) => m.title.endsWith(suffix));
  assert.ok(found, `${operation} has a reply titled ...${suffix}`);
  return found;
}

describe('gatehouse asyncapi', () => {
  const validate = specValidator();

  for (const { file, bin } of shippedConfigs()) {
    test(`the document of ${path.relative(REPO_DIR, file)} validates against AsyncAPI 3.0`, () => {
      const doc = documentOf(file, bin);
      assert.equal(doc.asyncapi, '3.0.0');
      assert.ok(validate(doc), JSON.stringify(validate.errors, null, 2));
      assert.ok(Object.keys(doc.channels).length > 0, 'a channel per namespace');
    });
  }

  test('a broken document is refused by the same schema', () => {
    const doc = documentOf(repoFile('gateway.yaml'));
    const broken = structuredClone(doc);
    const [first] = Object.keys(broken.operations);
    broken.operations[first].action = 'publish'; // the word of AsyncAPI 2, gone in 3
    delete broken.info.version;
    assert.equal(validate(broken), false, 'the broken document was accepted');
    const report = JSON.stringify(validate.errors);
    assert.ok(validate.errors.some((e) => e.instancePath === `/operations/${first}/action`), report);
    assert.ok(validate.errors.some((e) => e.params?.missingProperty === 'version'), report);
  });

  test('the default config has /chat with its events, their payload schemas, acks and codes', () => {
    const doc = documentOf(repoFile('gateway.yaml'));
    const chat = Object.values(doc.channels).find((c) => c.address === '/chat');
    assert.ok(chat, 'a channel for /chat');
    const names = new Set(Object.values(chat.messages).map((m) => m.name));
    for (const event of ['sendMessage', 'join', 'leave', 'sendToRoom', 'whoami', 'announce', 'auth:refresh', 'message', 'announcement', 'exception', 'connect_error']) {
      assert.ok(names.has(event), `a message named ${event}`);
    }
    const schema = resolve(doc, doc.channels.chat.messages.sendMessage.payload.$ref);
    assert.deepEqual(schema.required, ['message']);
    const refused = replyMessage(doc, 'chat.announce', 'refused');
    const codes = refused.payload.properties.error.properties.code.enum;
    for (const code of ['forbidden', 'invalid_payload', 'rate_limited']) assert.ok(codes.includes(code), `announce may be refused with ${code}`);
    assert.ok(doc.operations['chat.sendMessage'].security.length > 0, '/chat requires a token');
    assert.deepEqual(Object.keys(doc.components.securitySchemes).sort(), ['connect_auth', 'upgrade_header_Authorization', 'upgrade_query_token']);
  });

  describe('against a running gateway', () => {
    let gateway;
    let doc;
    const sockets = [];

    before(async () => {
      doc = documentOf(repoFile('gateway.yaml'));
      gateway = await startGateway({ config: repoFile('gateway.yaml') });
    });

    after(async () => {
      for (const s of sockets) s.close();
      if (gateway) await gateway.stop();
    });

    async function chatSocket(claims) {
      const socket = await connect(gateway.url, '/chat', { auth: { token: token(claims) } });
      sockets.push(socket);
      return socket;
    }

    test('what the client gets validates against the schemas the document gives', async () => {
      const alice = await chatSocket({ sub: 'alice', username: 'Alice' });
      const bob = await chatSocket({ sub: 'bob' });

      const sendMessage = doc.channels.chat.messages.sendMessage;
      const payloadOk = payloadValidator(doc, sendMessage.payload);
      const sent = { message: 'hello from the document' };
      assert.ok(payloadOk(sent), 'the document accepts the payload the gateway accepts');
      assert.equal(payloadOk({}), false, 'and refuses the one it refuses');

      const broadcast = waitFor(bob, 'message');
      const ack = await emitAck(alice, 'sendMessage', sent);
      const ackOk = payloadValidator(doc, replyMessage(doc, 'chat.sendMessage', 'acknowledged').payload);
      assert.ok(ackOk(ack), `ack ${JSON.stringify(ack)}: ${JSON.stringify(ackOk.errors)}`);

      const [received] = [await broadcast].flat();
      const messageOk = payloadValidator(doc, doc.channels.chat.messages.message.payload);
      assert.ok(messageOk(received), `broadcast ${JSON.stringify(received)}: ${JSON.stringify(messageOk.errors)}`);

      const refusal = await emitAck(alice, 'sendMessage', { message: '' });
      const errorOk = payloadValidator(doc, replyMessage(doc, 'chat.sendMessage', 'refused').payload);
      assert.equal(refusal.error?.code, 'invalid_payload');
      assert.ok(errorOk(refusal), `refusal ${JSON.stringify(refusal)}: ${JSON.stringify(errorOk.errors)}`);

      const forbidden = await emitAck(bob, 'announce', { message: 'not an admin' });
      const announceErrorOk = payloadValidator(doc, replyMessage(doc, 'chat.announce', 'refused').payload);
      assert.equal(forbidden.error?.code, 'forbidden');
      assert.ok(announceErrorOk(forbidden), JSON.stringify(announceErrorOk.errors));

      const whoami = await emitAck(alice, 'whoami', null);
      const claimsOk = payloadValidator(doc, replyMessage(doc, 'chat.whoami', 'acknowledged').payload);
      assert.ok(claimsOk(whoami), JSON.stringify(claimsOk.errors));
    });
  });
});
