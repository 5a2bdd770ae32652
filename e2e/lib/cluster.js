'use strict';

// Helpers of the cluster.any_node tests: an HTTP proxy without sticky
// sessions in front of several gateways (round-robin, or routing each
// request by a rule of the test), a wait on a condition, and a metrics
// scrape.

const http = require('node:http');
const net = require('node:net');

const { freePort, sleep } = require('./gateway');

const WAIT_MS = 15_000;

/**
 * An HTTP proxy in front of ports, as a load balancer without sticky
 * sessions. Each request, and each WebSocket upgrade, goes to
 * route(req, {upgrade}) when it names one of ports, else to the next of
 * ports in turn (round-robin). A port that refuses connections is taken out
 * of rotation (the balancer's health check) and the request goes to the
 * next one. upgradeDelayMs holds each upgrade that long before passing it
 * on. served counts the requests and upgrades each port got.
 */
async function routingProxy(ports, { route = () => undefined, upgradeDelayMs = 0 } = {}) {
  let next = 0;
  const dead = new Set();
  const served = Object.fromEntries(ports.map((p) => [p, 0]));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const pick = (req, upgrade) => {
    const chosen = route(req, { upgrade });
    if (ports.includes(chosen) && !dead.has(chosen)) return chosen;
    for (let i = 0; i < ports.length; i++) {
      const port = ports[next++ % ports.length];
      if (!dead.has(port)) return port;
    }
    return null;
  };

  const forward = (req, res, body, tries) => {
    const port = pick(req, false);
    if (port === null) {
      res.writeHead(502).end();
      return;
    }
    served[port]++;
    const up = http.request(
      { host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers, agent },
      (upRes) => {
        res.writeHead(upRes.statusCode, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', (err) => {
      if (err.code === 'ECONNREFUSED' && tries > 1) {
        dead.add(port);
        forward(req, res, body, tries - 1);
        return;
      }
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    up.end(body);
  };

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => forward(req, res, Buffer.concat(chunks), ports.length));
  });

  const upgrade = (req, socket, head, tries) => {
    const port = pick(req, true);
    if (port === null) return socket.destroy();
    served[port]++;
    const up = net.connect(port, '127.0.0.1');
    up.once('error', (err) => {
      if (err.code === 'ECONNREFUSED' && tries > 1) {
        dead.add(port);
        upgrade(req, socket, head, tries - 1);
        return;
      }
      socket.destroy();
    });
    up.once('connect', () => {
      let lines = `${req.method} ${req.url} HTTP/1.1\r\n`;
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
      up.write(lines + '\r\n');
      up.write(head);
      socket.pipe(up).pipe(socket);
      up.on('error', () => socket.destroy());
      socket.on('error', () => up.destroy());
      up.on('close', () => socket.destroy());
      socket.on('close', () => up.destroy());
    });
  };
  server.on('upgrade', (req, socket, head) => {
    if (upgradeDelayMs > 0) setTimeout(() => upgrade(req, socket, head, ports.length), upgradeDelayMs);
    else upgrade(req, socket, head, ports.length);
  });

  const port = await freePort();
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    served,
    close: () => {
      server.closeAllConnections();
      server.close();
      agent.destroy();
    },
  };
}

/** A routingProxy that sends each request and upgrade to the next of ports in turn. */
function roundRobinProxy(ports) {
  return routingProxy(ports);
}

/** Waits until cond() holds, or fails naming what after ms. */
async function until(cond, what, ms = WAIT_MS) {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms}ms waiting for ${what}`);
    await sleep(20);
  }
}

/** Fetches url's /metrics and returns its samples keyed by series as written. */
async function scrapeMetrics(url) {
  const res = await fetch(`${url}/metrics`);
  if (res.status !== 200) throw new Error(`GET ${url}/metrics: ${res.status}`);
  const samples = new Map();
  for (const line of (await res.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

module.exports = { WAIT_MS, roundRobinProxy, routingProxy, scrapeMetrics, until };
