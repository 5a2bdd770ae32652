'use strict';

// `gatehouse schema` checked with a standard JSON Schema validator (ajv,
// draft 2020-12): every shipped config validates against the schema of the
// binary that runs it, and a misspelt key or a value of the wrong type is
// caught, as an editor pointed at the schema would show it.

const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { describe, test } = require('node:test');
const Ajv2020 = require('ajv/dist/2020');
const YAML = require('yaml');

const { REPO_DIR, gatewayBinary } = require('../lib/gateway');

const BIN_DIR = path.join(REPO_DIR, 'bin');
const PLUGIN_BIN = process.env.GATEHOUSE_PLUGIN_BIN || path.join(BIN_DIR, 'gatehouse-plugin');
const FAULTY_BIN = process.env.GATEHOUSE_FAULTY_BIN || path.join(BIN_DIR, 'gatehouse-faulty');

/** The schema printed by `BIN schema`, compiled by ajv. */
function schemaOf(bin) {
  const out = execFileSync(bin, ['schema'], { encoding: 'utf8', timeout: 10_000 });
  const schema = JSON.parse(out);
  const ajv = new Ajv2020({ allErrors: true, allowUnionTypes: true, strict: true });
  return { schema, validate: ajv.compile(schema) };
}

/** A config file as the JSON value a YAML language server checks. */
function configAt(file) {
  return YAML.parse(fs.readFileSync(file, 'utf8')) ?? {};
}

/** Which binary runs a config: the plugin example and the faults fixture have their own. */
function binaryFor(file) {
  if (file.includes(path.join('examples', 'plugin'))) return PLUGIN_BIN;
  if (path.basename(file) === 'faulty.yaml') return FAULTY_BIN;
  return gatewayBinary();
}

function shippedConfigs() {
  const files = [path.join(REPO_DIR, 'gateway.yaml')];
  for (const dir of fs.readdirSync(path.join(REPO_DIR, 'examples'))) {
    const f = path.join(REPO_DIR, 'examples', dir, 'gateway.yaml');
    if (fs.existsSync(f)) files.push(f);
  }
  const fixtures = path.join(REPO_DIR, 'e2e', 'fixtures');
  for (const f of fs.readdirSync(fixtures)) {
    if (f.endsWith('.yaml')) files.push(path.join(fixtures, f));
  }
  return files;
}

describe('gatehouse schema', () => {
  const schemas = new Map();
  const schemaFor = (bin) => {
    if (!schemas.has(bin)) schemas.set(bin, schemaOf(bin));
    return schemas.get(bin);
  };

  test('is a draft 2020-12 schema naming every guard and handler type of the binary', () => {
    const { schema } = schemaFor(gatewayBinary());
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    const guards = Object.keys(schema.$defs.guard.properties).sort();
    const handlers = Object.keys(schema.$defs.handler.properties).sort();
    assert.deepEqual(guards, ['claims', 'expr', 'max_size', 'rate_limit', 'schema']);
    assert.deepEqual(handlers, ['broadcast', 'emit', 'history', 'join', 'leave', 'presence', 'publish', 'reply', 'webhook']);
    const plugin = schemaFor(PLUGIN_BIN).schema;
    assert.ok(plugin.$defs.guard.properties.blocklist, 'the plugin binary schema has its blocklist guard');
    assert.ok(plugin.$defs.handler.properties.shout, 'the plugin binary schema has its shout handler');
  });

  for (const file of shippedConfigs()) {
    test(`${path.relative(REPO_DIR, file)} validates`, () => {
      const { validate } = schemaFor(binaryFor(file));
      const ok = validate(configAt(file));
      assert.ok(ok, `${file}: ${JSON.stringify(validate.errors, null, 2)}`);
    });
  }

  const refused = [
    ['a misspelt key', 'server:\n  ping_intervall: 25s\n', 'additionalProperty', 'ping_intervall'],
    ['a duration of the wrong type', 'server:\n  ping_interval: [25s]\n', 'type', '/server/ping_interval'],
    ['a guard of an unknown type', 'guards:\n  g:\n    rate_limitt: {}\n', 'additionalProperty', 'rate_limitt'],
    ['a reserved event name', 'namespaces:\n  /chat:\n    events:\n      connect:\n        handler: {reply: ok}\n', 'propertyNames', 'connect'],
  ];
  for (const [what, text, keyword, needle] of refused) {
    test(`refuses ${what}`, () => {
      const { validate } = schemaFor(gatewayBinary());
      assert.equal(validate(YAML.parse(text)), false, `accepted:\n${text}`);
      const report = JSON.stringify(validate.errors);
      assert.ok(validate.errors.some((e) => JSON.stringify(e).includes(keyword)), report);
      assert.ok(report.includes(needle), report);
    });
  }
});
