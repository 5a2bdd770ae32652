'use strict';

// gatehouse types --lang ts: the types generated from gateway.yaml let a
// client that sends what the config accepts compile with tsc --strict, and
// turn a payload the schema guard would refuse at run time
// (invalid_payload) into a compile error.

const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');

const { DEFAULT_SECRET, E2E_DIR, REPO_DIR, gatewayBinary, repoFile } = require('../lib/gateway');

const TSC = path.join(E2E_DIR, 'node_modules', '.bin', 'tsc');
const TYPES_ENV = {
  ...process.env,
  JWT_SECRET: DEFAULT_SECRET,
  API_KEY: 'types-key',
  REDIS_URL: 'redis://127.0.0.1:6379/0',
  BACKEND_TOKEN: 'types-token',
};

const PLUGIN_BIN = process.env.GATEHOUSE_PLUGIN_BIN || path.join(REPO_DIR, 'bin', 'gatehouse-plugin');

/** Runs gatehouse types (of bin, by default the gateway's) for config and writes the result to out. */
function generateTypes(config, out, bin = gatewayBinary()) {
  const result = spawnSync(bin, ['types', '--lang', 'ts', '--config', config, '-o', out], {
    env: TYPES_ENV,
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(result.status, 0, `gatehouse types --config ${config} failed:\n${result.stderr}`);
}

/** Compiles files in dir with tsc --noEmit --strict; returns status and output. */
function tsc(dir, ...files) {
  const result = spawnSync(
    TSC,
    ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022',
      '--lib', 'es2022,dom', '--types', '', ...files],
    { cwd: dir, encoding: 'utf8', timeout: 60_000 },
  );
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

// A client as a front-end developer writes it against the chat of
// gateway.yaml: every event with the payload its schema guard asks for, acks
// that are either the reply or the C2 refusal, and the events the gateway
// sends with their data.
const GOOD_CLIENT = `
import { io } from "socket.io-client";
import type { ChatAcks, ChatSocket, ErrorCode } from "./gateway-types.js";

const socket: ChatSocket = io("http://localhost:8080/chat", { auth: { token: "t" } });

socket.emit("sendMessage", { message: "hello" }, (reply) => {
  if ("error" in reply) {
    const code: ErrorCode = reply.error.code;
    const text: string = reply.error.message;
    void code; void text;
  } else {
    const ok: true = reply.ok;
    void ok;
  }
});
socket.emit("sendMessage", { message: "fire and forget" });
socket.emit("join", { room: "lobby" }, (reply) => {
  if (!("error" in reply)) {
    const room: string = reply.room;
    void room;
  }
});
socket.emit("sendToRoom", { room: "lobby", message: "hi room" });
async function joinWithAck(): Promise<string> {
  // socket.io-client does not type emitWithAck's answer when the ack is optional; ChatAcks does.
  const reply: ChatAcks["join"] = await socket.emitWithAck("join", { room: "lobby" });
  return "error" in reply ? reply.error.code : reply.room;
}
void joinWithAck;
socket.emit("whoami", {}, (reply) => { void reply; });
socket.emit("auth:refresh", { token: "fresh" });
socket.on("message", (m) => {
  const user: string = m.user;
  const text: string = m.message;
  void user; void text;
});
socket.on("announcement", (a) => { const text: string = a.message; void text; });
socket.on("exception", (e) => { const code: ErrorCode = e.code; const event: string = e.event; void code; void event; });
socket.on("auth:expiring", (info) => { const seconds: number = info.expires_in; void seconds; });
`;

// Clients that would be refused at run time, each with the error tsc must
// give for it.
const BAD_CLIENTS = [
  {
    name: 'a payload without the required field',
    call: 'socket.emit("sendMessage", { text: "hello" });',
    error: /error TS(2345|2741):.*Property 'message' is missing/s,
  },
  {
    name: 'a field of the wrong type',
    call: 'socket.emit("sendMessage", { message: 42 });',
    error: /error TS2322: Type 'number' is not assignable to type 'string'/,
  },
  {
    name: 'an event the namespace does not declare',
    call: 'socket.emit("sendMesage", { message: "hello" });',
    error: /error TS2345: Argument of type '"sendMesage"' is not assignable/,
  },
  {
    name: 'an ack read as what the reply is not',
    call: 'socket.emit("join", { room: "lobby" }, (reply) => { const n: number = reply.room; void n; });',
    error: /error TS2339: Property 'room' does not exist on type .*ErrorReply/s,
  },
];

describe('gatehouse types --lang ts', () => {
  let dir;

  before(() => {
    assert.ok(fs.existsSync(TSC), `${TSC} is missing: run npm ci in e2e/`);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-types-'));
    // tsc resolves socket.io-client's types from node_modules next to the client.
    fs.symlinkSync(path.join(E2E_DIR, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    generateTypes(repoFile('gateway.yaml'), path.join(dir, 'gateway-types.ts'));
  });

  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a client that sends what gateway.yaml accepts compiles with tsc --strict', () => {
    fs.writeFileSync(path.join(dir, 'good.ts'), GOOD_CLIENT);
    const { status, output } = tsc(dir, 'good.ts');
    assert.equal(status, 0, `tsc refused the good client:\n${output}`);
  });

  for (const bad of BAD_CLIENTS) {
    test(`a client that sends ${bad.name} does not compile`, () => {
      const file = `bad-${BAD_CLIENTS.indexOf(bad)}.ts`;
      const lines = GOOD_CLIENT.split('\n');
      lines.push(bad.call, '');
      fs.writeFileSync(path.join(dir, file), lines.join('\n'));
      const { status, output } = tsc(dir, file);
      assert.notEqual(status, 0, `tsc accepted ${bad.call}`);
      assert.match(output, bad.error);
      // The error is on the wrong call, not anywhere in the good part.
      const errors = output.split('\n').filter((l) => /error TS/.test(l));
      const badLine = lines.length - 1;
      for (const line of errors) {
        assert.match(line, new RegExp(`^${file.replace('.', '\\.')}\\(${badLine},`), `unexpected error: ${line}`);
      }
    });
  }

  test('the types of every example compile', () => {
    const examples = fs.readdirSync(path.join(REPO_DIR, 'examples'))
      .filter((name) => fs.existsSync(path.join(REPO_DIR, 'examples', name, 'gateway.yaml')));
    assert.ok(examples.length > 0);
    const files = examples.map((name) => {
      const file = `example-${name}.ts`;
      // The plugin example's guard and handler types exist in its own binary only.
      const bin = name === 'plugin' ? PLUGIN_BIN : gatewayBinary();
      generateTypes(path.join(REPO_DIR, 'examples', name, 'gateway.yaml'), path.join(dir, file), bin);
      return file;
    });
    const { status, output } = tsc(dir, ...files);
    assert.equal(status, 0, `tsc refused the examples' types:\n${output}`);
  });
});
