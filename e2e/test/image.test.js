'use strict';

// The container image built by `make image` (GATEHOUSE_IMAGE names it; the
// test is skipped without it, see `make image-test`): its configuration and
// its files as `podman export` lists them (a static binary, the CA bundle, a
// passwd whose user 65532 is not root, nothing else), then the image run
// with a mounted gateway.yaml: /readyz answers 200, the official client's
// event is acknowledged, and SIGTERM drains to exit status 0. Where the OCI
// runtime refuses to start containers, the exported binary is run on the
// host instead and the test says so.

const assert = require('node:assert/strict');
const { execFile, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { after, before, describe, test } = require('node:test');
const { promisify } = require('node:util');

const {
  REPO_DIR, connect, emitAck, freePort, sleep, startGateway, tempDir, token, withTimeout,
} = require('../lib/gateway');

const IMAGE = process.env.GATEHOUSE_IMAGE;
const PODMAN = (process.env.GATEHOUSE_PODMAN || 'podman --storage-driver vfs').split(/\s+/).filter(Boolean);
const SECRET = 'image-test-secret-0123456789abcdef';
const NONROOT_UID = 65532;
const CONFIG_IN_IMAGE = '/etc/gatehouse/gateway.yaml';

const run = promisify(execFile);

/** Runs podman with args; resolves with its stdout. */
async function podman(...args) {
  const { stdout } = await run(PODMAN[0], [...PODMAN.slice(1), ...args], { maxBuffer: 64 << 20, timeout: 60_000 });
  return stdout;
}

/** The entries of a tar listing ("path" → {type, mode, size}), leading "./" dropped. */
function tarEntries(tarFile) {
  const out = execFileSync('tar', ['-tvf', tarFile], { encoding: 'utf8' });
  const entries = new Map();
  for (const line of out.split('\n').filter(Boolean)) {
    const fields = line.trim().split(/\s+/);
    const name = fields.slice(5).join(' ').replace(/^\.\//, '').replace(/\/$/, '');
    entries.set(name, { type: fields[0][0], mode: fields[0], size: Number(fields[2]) });
  }
  return entries;
}

/** Whether an ELF file names a program interpreter (a dynamic loader): a static binary has none. */
function hasInterpreter(file) {
  const elf = fs.readFileSync(file);
  assert.equal(elf.toString('latin1', 1, 4), 'ELF', `${file} is not an ELF file`);
  assert.equal(elf[4], 2, 'expected a 64-bit ELF file');
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  const PT_INTERP = 3;
  for (let i = 0; i < phnum; i++) {
    if (elf.readUInt32LE(phoff + i * phentsize) === PT_INTERP) return true;
  }
  return false;
}

/**
 * Limits for the OCI runtime to set: podman's defaults (and even the host's
 * own hard limits) can be more than a sandbox without CAP_SYS_RESOURCE may
 * set, while lowering a limit is always allowed. The gateway needs file
 * descriptors, one a connection, and few threads.
 */
function lowLimitArgs() {
  const limits = fs.readFileSync('/proc/self/limits', 'utf8');
  const hard = limits.split('\n').find((l) => l.startsWith('Max open files'))?.trim().split(/\s{2,}/)[2];
  const nofile = hard && hard !== 'unlimited' ? Math.min(Number(hard), 65536) : 65536;
  return ['--ulimit', `nofile=${nofile}:${nofile}`, '--ulimit', 'nproc=4096:4096'];
}

function hasCommand(name) {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** GET url; resolves with the status, or 0 when nothing answers. */
async function status(url) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

/** Polls url until it answers want, or fails after ms. */
async function until(url, want, ms) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = await status(url);
    if (last === want) return;
    await sleep(100);
  }
  assert.fail(`${url} answered ${last}, not ${want}, within ${ms} ms`);
}

/**
 * The final stage of a Containerfile: its instructions after the last FROM,
 * each as [INSTRUCTION, arguments], continuation lines joined.
 */
function finalStage(file) {
  const lines = fs.readFileSync(file, 'utf8').replace(/\\\n/g, ' ').split('\n')
    .map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const from = lines.map((l) => l.split(/\s+/)[0].toUpperCase()).lastIndexOf('FROM');
  return lines.slice(from).map((l) => {
    const [instruction, ...rest] = l.split(/\s+/);
    return [instruction.toUpperCase(), rest.join(' ')];
  });
}

/** Where a stage's COPY instructions put files, sorted. */
function copyTargets(stage) {
  return stage.filter(([i]) => i === 'COPY').map(([, args]) => {
    const words = args.split(/\s+/).filter((w) => !w.startsWith('--'));
    const target = words.at(-1);
    // A COPY of several files into a directory puts each under its name.
    return target.endsWith('/') ? words.slice(0, -1).map((w) => target + path.basename(w)) : [target];
  }).flat().sort();
}

describe('the Containerfiles', () => {
  const multiStage = finalStage(path.join(REPO_DIR, 'Containerfile'));
  const prebuilt = finalStage(path.join(REPO_DIR, 'deploy', 'container', 'Containerfile.prebuilt'));

  test('build the same final image: FROM scratch, the same files, user, port and command', () => {
    assert.deepEqual(multiStage[0], ['FROM', 'scratch']);
    assert.deepEqual(prebuilt[0], ['FROM', 'scratch']);
    assert.deepEqual(copyTargets(multiStage), copyTargets(prebuilt));
    const config = (stage) => stage.filter(([i]) => ['USER', 'EXPOSE', 'ENTRYPOINT', 'CMD'].includes(i));
    assert.deepEqual(config(multiStage), config(prebuilt));
    assert.deepEqual(config(prebuilt).find(([i]) => i === 'USER'), ['USER', `${NONROOT_UID}:${NONROOT_UID}`]);
  });

  test('the builder stage compiles a static binary without the build paths', () => {
    const text = fs.readFileSync(path.join(REPO_DIR, 'Containerfile'), 'utf8');
    assert.match(text, /CGO_ENABLED=0 go build -trimpath/);
  });
});

describe('the container image', { skip: IMAGE ? false : 'GATEHOUSE_IMAGE is not set (make image-test builds and tests the image)' }, () => {
  let tmp;
  let cleanup;
  let rootfs;

  before(async () => {
    ({ dir: tmp, cleanup } = tempDir('gatehouse-image-'));
    const id = (await podman('create', IMAGE)).trim();
    try {
      await podman('export', '-o', path.join(tmp, 'rootfs.tar'), id);
    } finally {
      await podman('rm', id);
    }
    rootfs = tarEntries(path.join(tmp, 'rootfs.tar'));
    execFileSync('tar', ['-xf', path.join(tmp, 'rootfs.tar'), '-C', tmp, 'usr/local/bin/gatehouse', 'etc/passwd', 'etc/gatehouse/gateway.yaml']);
  });

  after(() => cleanup?.());

  test('runs the mounted gateway.yaml as user 65532 and exposes 8080', async () => {
    const [image] = JSON.parse(await podman('image', 'inspect', IMAGE));
    const cfg = image.Config;
    assert.equal(cfg.User, `${NONROOT_UID}:${NONROOT_UID}`);
    assert.deepEqual(cfg.Entrypoint, ['/usr/local/bin/gatehouse']);
    assert.deepEqual(cfg.Cmd.slice(0, 3), ['run', '--config', CONFIG_IN_IMAGE]);
    assert.ok(Object.keys(cfg.ExposedPorts).includes('8080/tcp'), JSON.stringify(cfg.ExposedPorts));
  });

  test('holds the static binary, the CA bundle, passwd, group and the default config, and nothing else', () => {
    const files = [...rootfs].filter(([, e]) => e.type !== 'd').map(([name]) => name).sort();
    assert.deepEqual(files, [
      'etc/gatehouse/gateway.yaml', 'etc/group', 'etc/passwd', 'etc/ssl/certs/ca-certificates.crt', 'usr/local/bin/gatehouse',
    ]);
    assert.match(rootfs.get('usr/local/bin/gatehouse').mode, /^-r.x/, 'the binary is executable');
    assert.ok(rootfs.get('etc/ssl/certs/ca-certificates.crt').size > 10_000, 'the CA bundle holds certificates');
    assert.equal(hasInterpreter(path.join(tmp, 'usr/local/bin/gatehouse')), false, 'the binary is static (no ELF interpreter)');
  });

  test('its user 65532 is not root', () => {
    const users = fs.readFileSync(path.join(tmp, 'etc/passwd'), 'utf8').split('\n').filter(Boolean).map((l) => l.split(':'));
    const user = users.find((u) => Number(u[2]) === NONROOT_UID);
    assert.ok(user, 'passwd names uid 65532');
    assert.equal(user[0], 'nonroot');
    assert.equal(Number(user[3]), NONROOT_UID, 'its group is 65532, not root');
  });

  test('serves a client, is ready on /readyz and drains on SIGTERM to exit 0', async (t) => {
    const port = await freePort();
    // The image's own default config, listening where the test can reach it.
    const config = path.join(tmp, 'gateway.yaml');
    const text = fs.readFileSync(path.join(tmp, 'etc/gatehouse/gateway.yaml'), 'utf8').replace('listen: ":8080"', `listen: "127.0.0.1:${port}"`);
    assert.ok(text.includes(`127.0.0.1:${port}`), 'the default config listens on :8080');
    fs.writeFileSync(config, text);
    fs.chmodSync(config, 0o644);
    fs.chmodSync(tmp, 0o755);

    const container = await startContainer(config, `http://127.0.0.1:${port}`, t);
    const { url } = container;
    try {
      await until(`${url}/readyz`, 200, 20_000);
      const socket = await connect(url, '/chat', { auth: { token: token({ sub: 'alice', username: 'Alice' }, { secret: SECRET }) } });
      try {
        assert.deepEqual(await emitAck(socket, 'sendMessage', { message: 'from the image' }), { ok: true });
      } finally {
        socket.close();
      }
      const result = await container.stop();
      assert.equal(result.code, 0, `exit status after SIGTERM; log:\n${result.log}`);
      assert.match(result.log, /shutting down/);
      assert.match(result.log, /"msg":"stopped"/);
    } finally {
      await container.remove();
    }
  });

  /**
   * Runs the image with config mounted where its CMD reads it, on the host's
   * network; falls back to the exported binary on the host when the OCI
   * runtime refuses every way of starting it.
   */
  async function startContainer(config, url, t) {
    const name = `gatehouse-image-test-${process.pid}`;
    const base = ['run', '-d', '--name', name, '--network', 'host', '-e', `JWT_SECRET=${SECRET}`,
      '-v', `${config}:${CONFIG_IN_IMAGE}:ro`];
    const attempts = [[]];
    // Sandboxes without CAP_SYS_RESOURCE refuse podman's default rlimits, and
    // crun may refuse hybrid cgroups there; runc with lower limits runs.
    attempts.push(lowLimitArgs());
    if (hasCommand('runc')) attempts.push(['--runtime', 'runc', ...lowLimitArgs()]);
    const refusals = [];
    for (const extra of attempts) {
      try {
        await podman('rm', '-f', name).catch(() => {});
        await podman(...base, ...extra, IMAGE);
        t.diagnostic(`container started with podman ${[...base, ...extra].join(' ')}`);
        return containerHandle(name, url);
      } catch (err) {
        refusals.push(`${extra.join(' ') || '(defaults)'}: ${String(err.stderr || err.message).trim().split('\n').pop()}`);
      }
    }
    await podman('rm', '-f', name).catch(() => {});
    t.diagnostic(`podman run was refused (${refusals.join('; ')}); running the image's binary on the host`);
    const gw = await startGateway({ config, bin: path.join(tmp, 'usr/local/bin/gatehouse'), env: { JWT_SECRET: SECRET }, args: ['--log-format', 'json'] });
    return {
      url: gw.url,
      stop: async () => {
        const { code } = await gw.stop();
        const { stdout, stderr } = gw.output();
        return { code, log: stdout + stderr };
      },
      remove: async () => {},
    };
  }

  function containerHandle(name, url) {
    return {
      url,
      stop: async () => {
        await podman('kill', '--signal', 'TERM', name);
        const code = Number((await withTimeout(podman('wait', name), 20_000, 'the container to exit')).trim());
        const { stdout, stderr } = await run(PODMAN[0], [...PODMAN.slice(1), 'logs', name], { maxBuffer: 16 << 20 });
        return { code, log: stdout + stderr };
      },
      remove: () => podman('rm', '-f', name).catch(() => {}),
    };
  }
});
