'use strict';

// A real redis-server for the scale-out tests: started on a free loopback
// port without persistence, restartable on the same port.

const { spawn, spawnSync } = require('node:child_process');
const net = require('node:net');

const { freePort, sleep } = require('./gateway');

const haveRedis = spawnSync('redis-server', ['--version']).status === 0;
if (!haveRedis && process.env.CI) {
  throw new Error('redis-server is not installed; CI must install it (see .ci/run)');
}

/** Resolves true when something answers PING on port with +PONG. */
function ping(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setTimeout(300);
    let reply = '';
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk;
      if (reply.includes('\r\n')) {
        socket.destroy();
        resolve(reply.startsWith('+PONG'));
      }
    });
    socket.on('error', () => resolve(false));
    socket.on('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** A redis-server on a loopback port without persistence; start() again restarts it on the same port. */
async function redisServer() {
  const port = await freePort();
  let proc;
  const server = {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    async start() {
      proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
        stdio: 'ignore',
      });
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline) {
        if (await ping(port)) return;
        await sleep(30);
      }
      throw new Error(`redis-server on port ${port} did not answer PING`);
    },
    async stop() {
      if (!proc || proc.exitCode !== null) return;
      const exited = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill('SIGKILL');
      await exited;
    },
  };
  process.on('exit', () => proc && proc.kill('SIGKILL'));
  await server.start();
  return server;
}

module.exports = { haveRedis, ping, redisServer };
