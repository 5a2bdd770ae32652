'use strict';

// Harness for the end-to-end tests: starts a real gatehouse process on a free
// loopback port, signs tokens, and drives the official socket.io-client with a
// timeout on every wait, so that no test can hang or leave a process behind.

const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { io } = require('socket.io-client');

const E2E_DIR = path.resolve(__dirname, '..');
const REPO_DIR = path.resolve(E2E_DIR, '..');
const FIXTURES_DIR = path.join(E2E_DIR, 'fixtures');

// The JWT secret every gateway started here gets, unless a test overrides it.
const DEFAULT_SECRET = 'e2e-secret-0123456789abcdef';

const STARTUP_TIMEOUT_MS = 10_000;
const HEALTH_POLL_MS = 50;
const STOP_GRACE_MS = 5_000;
const OUTPUT_LIMIT = 64 * 1024;

// Processes still running; killed when the test file's process exits, so a
// failing hook can never leave a gateway behind.
const running = new Set();
process.on('exit', () => {
  for (const child of running) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** Path of the gateway binary: $GATEHOUSE_BIN or <repo>/bin/gatehouse. */
function gatewayBinary() {
  return process.env.GATEHOUSE_BIN || path.join(REPO_DIR, 'bin', 'gatehouse');
}

/** Absolute path of a file under e2e/fixtures. */
function fixture(name) {
  return path.join(FIXTURES_DIR, name);
}

/** Absolute path of a file relative to the repository root (e.g. "gateway.yaml"). */
function repoFile(name) {
  return path.join(REPO_DIR, name);
}

/**
 * Resolves or rejects like promise, or rejects with an error naming what was
 * awaited when ms pass first.
 */
function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms}ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves after ms. */
function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A port on 127.0.0.1 that was free a moment ago. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function appendCapped(buffer, chunk) {
  const next = buffer + chunk;
  return next.length > OUTPUT_LIMIT ? next.slice(next.length - OUTPUT_LIMIT) : next;
}

/** GET url with a per-request timeout; resolves with the status or 0 on a network error. */
async function probe(url, ms) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(ms) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

/**
 * Starts `gatehouse run --config <config> --listen 127.0.0.1:<port>` and waits
 * until GET /healthz answers 200.
 *
 * options.config: path of the YAML file (required).
 * options.env: extra environment (JWT_SECRET defaults to DEFAULT_SECRET).
 * options.args: extra command-line arguments, appended.
 * options.port: a fixed port (to restart a gateway where clients reconnect).
 *
 * Returns {url, port, proc, output(), stop()}; stop() sends SIGTERM, waits
 * for the exit (SIGKILL after 5s) and resolves with {code, signal, crashed},
 * code and signal also kept as gateway.exitCode and gateway.exitSignal;
 * crashed means the process had exited by itself before stop(), in which
 * case its stderr is printed.
 */
async function startGateway(options = {}) {
  const attempts = options.port ? 1 : 3;
  let lastError;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      return await startOnce(options);
    } catch (err) {
      lastError = err;
      // Another process may have taken the free port between the probe and the
      // gateway's listen; only that case is worth another try.
      if (!/address already in use/i.test(err.message)) throw err;
    }
  }
  throw lastError;
}

async function startOnce({ config, env = {}, args = [], port, bin: binary } = {}) {
  if (!config) throw new Error('startGateway: options.config (a YAML file path) is required');
  if (!fs.existsSync(config)) throw new Error(`startGateway: config file ${config} does not exist`);
  const bin = binary || gatewayBinary();
  if (!fs.existsSync(bin)) {
    throw new Error(
      `gatehouse binary not found at ${bin}: build it (go build -o bin/gatehouse ./cmd/gatehouse) or set GATEHOUSE_BIN`,
    );
  }
  const listenPort = port || (await freePort());
  const argv = ['run', '--config', config, '--listen', `127.0.0.1:${listenPort}`, ...args];
  const proc = spawn(bin, argv, {
    cwd: REPO_DIR,
    env: { ...process.env, JWT_SECRET: DEFAULT_SECRET, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(proc);

  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stdout.on('data', (chunk) => {
    stdout = appendCapped(stdout, chunk);
  });
  proc.stderr.on('data', (chunk) => {
    stderr = appendCapped(stderr, chunk);
  });

  const gateway = {
    url: `http://127.0.0.1:${listenPort}`,
    port: listenPort,
    proc,
    exitCode: undefined,
    exitSignal: undefined,
    output: () => ({ stdout, stderr }),
    stop: undefined,
  };

  let spawnError;
  const exited = new Promise((resolve) => {
    proc.on('error', (err) => {
      spawnError = err;
      running.delete(proc);
      resolve({ code: null, signal: null });
    });
    proc.on('exit', (code, signal) => {
      running.delete(proc);
      gateway.exitCode = code;
      gateway.exitSignal = signal;
      resolve({ code, signal });
    });
  });
  let hasExited = false;
  exited.then(() => {
    hasExited = true;
  });

  let stopping;
  let healthy = false;
  gateway.stop = () => {
    if (!stopping) {
      stopping = (async () => {
        const crashed = hasExited && healthy;
        if (crashed) {
          // The gateway died while tests used it: every later failure in the
          // file follows from this, so show why.
          process.stderr.write(
            `\n[e2e] gatehouse on port ${listenPort} exited by itself (code ${gateway.exitCode}, ` +
              `signal ${gateway.exitSignal}) before stop(); its stderr:\n${stderr}\n`,
          );
        }
        if (!hasExited) {
          proc.kill('SIGTERM');
          const killer = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS);
          await exited;
          clearTimeout(killer);
        }
        return { code: gateway.exitCode, signal: gateway.exitSignal, crashed };
      })();
    }
    return stopping;
  };

  const describeFailure = (why) => {
    const err = new Error(
      `gatehouse ${argv.join(' ')}: ${why}\n--- stderr ---\n${stderr}\n--- stdout ---\n${stdout}`,
    );
    err.gateway = gateway;
    return err;
  };

  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (hasExited || spawnError) {
      const reason = spawnError
        ? `could not start: ${spawnError.message}`
        : `exited before it was healthy (code ${gateway.exitCode}, signal ${gateway.exitSignal})`;
      throw describeFailure(reason);
    }
    const status = await probe(`${gateway.url}/healthz`, 500);
    if (status === 200) {
      healthy = true;
      return gateway;
    }
    await sleep(HEALTH_POLL_MS);
  }
  await gateway.stop();
  throw describeFailure(`GET /healthz did not answer 200 within ${STARTUP_TIMEOUT_MS}ms`);
}

// ---------------------------------------------------------------------------
// Tokens

function base64url(data) {
  return Buffer.from(data).toString('base64url');
}

/**
 * A signed JWT with the given claims. iat is now and exp is now + expiresIn
 * seconds (default one hour) unless claims set them; noExp leaves exp out.
 * alg: HS256/HS384/HS512 (with secret), RS256 (with privateKey), or "none".
 */
function token(claims = {}, { secret = DEFAULT_SECRET, alg = 'HS256', expiresIn = 3600, noExp = false, privateKey, kid } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const payload = { iat: now, ...claims };
  if (noExp) delete payload.exp;
  else if (payload.exp === undefined) payload.exp = now + expiresIn;
  const header = { alg, typ: 'JWT' };
  if (kid) header.kid = kid;
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
  let signature;
  if (/^HS(256|384|512)$/.test(alg)) {
    signature = crypto.createHmac(`sha${alg.slice(2)}`, secret).update(signingInput).digest();
  } else if (/^RS(256|384|512)$/.test(alg)) {
    if (!privateKey) throw new Error(`token: ${alg} needs options.privateKey`);
    signature = crypto.sign(`sha${alg.slice(2)}`, Buffer.from(signingInput), privateKey);
  } else if (alg === 'none') {
    signature = Buffer.alloc(0);
  } else {
    throw new Error(`token: unsupported alg ${alg}`);
  }
  return `${signingInput}.${base64url(signature)}`;
}

/** A fresh RSA key pair: {privateKey (KeyObject), publicKeyPem (string)}. */
function rsaKeyPair() {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { privateKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) };
}

/** A new temporary directory, removed by the returned cleanup function. */
function tempDir(prefix = 'gatehouse-e2e-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

// ---------------------------------------------------------------------------
// Clients

const CONNECT_TIMEOUT_MS = 5_000;
const ACK_TIMEOUT_MS = 2_000;

/**
 * Waits for a socket's `connect`; rejects with the `connect_error` error
 * (with .message and .data) after closing the socket.
 */
function awaitConnect(socket, ms = CONNECT_TIMEOUT_MS) {
  const outcome = new Promise((resolve, reject) => {
    if (socket.connected) {
      resolve(socket);
      return;
    }
    const onConnect = () => {
      socket.off('connect_error', onError);
      resolve(socket);
    };
    const onError = (err) => {
      socket.off('connect', onConnect);
      socket.close();
      reject(err);
    };
    socket.once('connect', onConnect);
    socket.once('connect_error', onError);
  });
  return withTimeout(outcome, ms, `connect of ${socket.nsp}`).catch((err) => {
    socket.close();
    throw err;
  });
}

/**
 * io(url + ns, {forceNew: true, reconnection: false, ...opts}), resolved on
 * `connect`, rejected with the connect_error's error.
 */
function connect(url, ns = '/', opts = {}) {
  const socket = io(url + ns, { forceNew: true, reconnection: false, timeout: CONNECT_TIMEOUT_MS, ...opts });
  return awaitConnect(socket, opts.connectTimeoutMs || CONNECT_TIMEOUT_MS + 1000);
}

/**
 * Expects the connection to be refused and resolves with the connect_error's
 * error; rejects if the socket connects.
 */
async function connectError(url, ns = '/', opts = {}) {
  let socket;
  try {
    socket = await connect(url, ns, opts);
  } catch (err) {
    return err;
  }
  socket.close();
  throw new Error(`expected connect_error on ${ns}, but the socket connected`);
}

/** socket.timeout(ms).emitWithAck(event, ...args). With no args, none are sent. */
function emitAck(socket, event, data, ms = ACK_TIMEOUT_MS) {
  const args = data === undefined ? [] : [data];
  return socket.timeout(ms).emitWithAck(event, ...args);
}

/** Like emitAck with several arguments. */
function emitAckArgs(socket, event, args, ms = ACK_TIMEOUT_MS) {
  return socket.timeout(ms).emitWithAck(event, ...args);
}

/** Resolves with the argument list of the next `event` on emitter. */
function waitFor(emitter, event, ms = ACK_TIMEOUT_MS) {
  let handler;
  const next = new Promise((resolve) => {
    handler = (...args) => resolve(args);
    emitter.once(event, handler);
  });
  return withTimeout(next, ms, `event "${event}"`).finally(() => emitter.off(event, handler));
}

/**
 * Records every `event` received by socket: recorder.events is the list of
 * argument lists; waitCount(n, ms) waits until n were received.
 */
function record(socket, event) {
  const events = [];
  const waiters = [];
  socket.on(event, (...args) => {
    events.push(args);
    for (const w of [...waiters]) {
      if (events.length >= w.n) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(events);
      }
    }
  });
  return {
    events,
    /** The first argument of each received event. */
    get firsts() {
      return events.map((args) => args[0]);
    },
    waitCount(n, ms = ACK_TIMEOUT_MS) {
      if (events.length >= n) return Promise.resolve(events);
      const p = new Promise((resolve) => waiters.push({ n, resolve }));
      return withTimeout(p, ms, `${n} "${event}" events (got ${events.length})`);
    },
  };
}

/**
 * Keeps track of client sockets to close them all in an after() hook (a
 * Manager closes itself when its last socket is closed).
 */
function clientPool() {
  const closables = new Set();
  return {
    /** connect() whose socket is closed by closeAll(). */
    async connect(url, ns, opts) {
      const socket = io(url + ns, {
        forceNew: true,
        reconnection: false,
        timeout: CONNECT_TIMEOUT_MS,
        ...opts,
      });
      closables.add(socket);
      return awaitConnect(socket);
    },
    /** connectError() whose socket is closed either way. */
    async connectError(url, ns, opts) {
      return connectError(url, ns, opts);
    },
    /** Tracks a socket created elsewhere. */
    add(closable) {
      closables.add(closable);
      return closable;
    },
    closeAll() {
      for (const c of closables) {
        try {
          c.close();
        } catch {
          // closing twice is fine
        }
      }
      closables.clear();
    },
  };
}

/** A unique user id, so that per-user rate limits of one test do not touch another. */
function uniqueSub(prefix = 'user') {
  return `${prefix}-${crypto.randomBytes(4).toString('hex')}`;
}

/** Asserts (by rejecting) that recorder got no event during ms. */
async function expectNone(recorder, ms, what) {
  await sleep(ms);
  if (recorder.events.length !== 0) {
    throw new Error(`expected no ${what}, got ${JSON.stringify(recorder.events)}`);
  }
}

// ---------------------------------------------------------------------------
// A small HTTP backend for webhook tests

/**
 * Starts an HTTP server on 127.0.0.1:0 whose routes map a path to
 * async (req, body) => {status, headers, body} (body: object -> JSON,
 * string -> as is). Every request is recorded in server.requests as
 * {method, path, headers, body (parsed JSON or raw string)}.
 */
async function startBackend(routes) {
  const requests = [];
  const waiters = [];
  const pending = new Set();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body = raw;
      try {
        body = JSON.parse(raw);
      } catch {
        // keep the raw text
      }
      const entry = { method: req.method, path: req.url, headers: req.headers, body };
      requests.push(entry);
      for (const w of [...waiters]) {
        if (w.match(entry)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(entry);
        }
      }
      const route = routes[req.url.split('?')[0]];
      if (!route) {
        res.writeHead(404).end('no route');
        return;
      }
      try {
        const answer = await route(req, body, pending);
        if (res.destroyed) return;
        const payload = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body ?? {});
        res.writeHead(answer.status ?? 200, {
          'content-type': typeof answer.body === 'string' ? 'text/plain' : 'application/json',
          ...(answer.headers || {}),
        });
        res.end(payload);
      } catch (err) {
        if (!res.destroyed) res.writeHead(599).end(String(err));
      }
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    /** Resolves with the first recorded (or next) request that match(entry) accepts. */
    waitForRequest(match, ms = ACK_TIMEOUT_MS) {
      const found = requests.find(match);
      if (found) return Promise.resolve(found);
      const p = new Promise((resolve) => waiters.push({ match, resolve }));
      return withTimeout(p, ms, 'a webhook request');
    },
    close() {
      for (const t of pending) clearTimeout(t);
      server.closeAllConnections();
      return withTimeout(new Promise((resolve) => server.close(() => resolve())), 2000, 'backend close');
    },
  };
}

/** A delay for slow backend routes that close() can cancel. */
function backendDelay(pending, ms) {
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      pending.delete(t);
      resolve();
    }, ms);
    pending.add(t);
  });
}

module.exports = {
  DEFAULT_SECRET,
  E2E_DIR,
  REPO_DIR,
  awaitConnect,
  backendDelay,
  clientPool,
  connect,
  connectError,
  emitAck,
  emitAckArgs,
  expectNone,
  fixture,
  freePort,
  gatewayBinary,
  record,
  repoFile,
  rsaKeyPair,
  sleep,
  startBackend,
  startGateway,
  tempDir,
  token,
  uniqueSub,
  waitFor,
  withTimeout,
};
