'use strict';

// deploy/kubernetes/ checked with Kubernetes' own schemas (npm
// kubernetes-models, generated from the API's OpenAPI document): every
// manifest validates as its kind, a broken one is refused, the kustomization
// lists them all, and what the manifests promise of the gateway holds: the
// ConfigMap's gateway.yaml passes `gatehouse validate`, the probes name
// /readyz and /healthz, the grace period outlasts the preStop sleep plus the
// config's shutdown_grace, the pod runs as the image's non-root user on a
// read-only root, and the Service and PodDisruptionBudget select the pods.

const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { before, describe, test } = require('node:test');
const YAML = require('yaml');

const { REPO_DIR, gatewayBinary, tempDir } = require('../lib/gateway');

const DIR = path.join(REPO_DIR, 'deploy', 'kubernetes');
const NONROOT_UID = 65532;

/** The manifests of deploy/kubernetes (not the kustomization), with the file each comes from. */
function manifests() {
  const out = [];
  for (const file of fs.readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort()) {
    for (const doc of YAML.parseAllDocuments(fs.readFileSync(path.join(DIR, file), 'utf8'))) {
      assert.deepEqual(doc.errors, [], `${file} parses as YAML`);
      if (doc.contents) out.push({ file, object: doc.toJS() });
    }
  }
  return out;
}

/** The kubernetes-models class of an object's apiVersion and kind. */
async function modelOf(object) {
  const mod = await import(`kubernetes-models/${object.apiVersion}/${object.kind}`);
  return mod[object.kind];
}

/** Validates object against its kind's schema; resolves with the refusal's message, or null. */
async function refusal(object) {
  const Model = await modelOf(object);
  try {
    new Model(object).validate();
    return null;
  } catch (err) {
    return err.message;
  }
}

/** A duration such as "10s" or "1m30s" in seconds. */
function seconds(duration) {
  let total = 0;
  for (const [, n, unit] of duration.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(n) * { ms: 0.001, s: 1, m: 60, h: 3600 }[unit];
  }
  return total;
}

describe('deploy/kubernetes', () => {
  let all;
  const byKind = (kind) => {
    const found = all.filter((m) => m.object.kind === kind);
    assert.equal(found.length, 1, `one ${kind}`);
    return found[0].object;
  };

  before(() => {
    all = manifests();
  });

  test('holds a Deployment, Service, PodDisruptionBudget, ConfigMap and Ingress', () => {
    assert.deepEqual(all.map((m) => m.object.kind).sort(), ['ConfigMap', 'Deployment', 'Ingress', 'PodDisruptionBudget', 'Service']);
  });

  test('every manifest validates against the schema of its kind', async () => {
    for (const { file, object } of all) {
      assert.equal(await refusal(object), null, `${file} (${object.kind})`);
    }
  });

  test('a broken Deployment is refused by the same schemas', async () => {
    const deployment = structuredClone(byKind('Deployment'));
    deployment.spec.replicas = 'two';
    delete deployment.spec.template.spec.containers[0].name;
    const message = await refusal(deployment);
    assert.ok(message, 'the broken Deployment was accepted');
    assert.match(message, /replicas must be integer/);
    assert.match(message, /containers\/0 must have required property '?name'?/);
  });

  test('the kustomization lists every manifest', () => {
    const kustomization = YAML.parse(fs.readFileSync(path.join(DIR, 'kustomization.yaml'), 'utf8'));
    assert.deepEqual([...kustomization.resources].sort(), [...new Set(all.map((m) => m.file))].sort());
  });

  test("the ConfigMap's gateway.yaml is one the gateway runs", () => {
    const config = byKind('ConfigMap').data['gateway.yaml'];
    const { dir, cleanup } = tempDir('gatehouse-k8s-');
    try {
      const file = path.join(dir, 'gateway.yaml');
      fs.writeFileSync(file, config);
      const env = { ...process.env, JWT_SECRET: 'k8s-test-secret', API_KEY: 'k8s-test-key', REDIS_URL: 'redis://127.0.0.1:6379/0' };
      execFileSync(gatewayBinary(), ['validate', '--config', file], { env, encoding: 'utf8', timeout: 10_000 });
    } finally {
      cleanup();
    }
  });

  test('the pod is probed on /readyz and /healthz, mounts the config where the image reads it and runs it', () => {
    const pod = byKind('Deployment').spec.template.spec;
    const [container] = pod.containers;
    assert.equal(container.readinessProbe.httpGet.path, '/readyz');
    assert.equal(container.livenessProbe.httpGet.path, '/healthz');
    const port = container.ports.find((p) => p.name === container.readinessProbe.httpGet.port);
    assert.equal(port?.containerPort, 8080, 'the probes use the gateway port the config listens on');
    const mount = container.volumeMounts.find((m) => m.mountPath === '/etc/gatehouse');
    assert.ok(mount, 'the config volume is mounted at /etc/gatehouse');
    const volume = pod.volumes.find((v) => v.name === mount.name);
    assert.equal(volume.configMap.name, byKind('ConfigMap').metadata.name);
    assert.deepEqual(container.args.slice(0, 3), ['run', '--config', '/etc/gatehouse/gateway.yaml']);
  });

  test('the grace period outlasts the preStop sleep plus shutdown_grace', () => {
    const pod = byKind('Deployment').spec.template.spec;
    const config = YAML.parse(byKind('ConfigMap').data['gateway.yaml']);
    const grace = seconds(config.server.shutdown_grace ?? '10s');
    const preStop = pod.containers[0].lifecycle.preStop.sleep.seconds;
    assert.ok(preStop > 0, 'a preStop sleep lets the endpoint go before the drain starts');
    assert.ok(pod.terminationGracePeriodSeconds > preStop + grace + 1,
      `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} > preStop ${preStop} + shutdown_grace ${grace} + 1`);
  });

  test('the pod runs as the image user 65532, not root, on a read-only root without privileges', () => {
    const pod = byKind('Deployment').spec.template.spec;
    const [container] = pod.containers;
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.runAsUser, NONROOT_UID);
    const passwd = fs.readFileSync(path.join(REPO_DIR, 'deploy', 'container', 'passwd'), 'utf8');
    assert.match(passwd, new RegExp(`^nonroot:x:${NONROOT_UID}:${NONROOT_UID}:`, 'm'), "the image's passwd has that user");
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(container.securityContext.capabilities.drop, ['ALL']);
  });

  test('the Service, the PodDisruptionBudget and the Ingress reach the pods, the Service sticky by client address', () => {
    const deployment = byKind('Deployment');
    const labels = deployment.spec.template.metadata.labels;
    const selects = (selector) => Object.entries(selector).every(([k, v]) => labels[k] === v);
    const service = byKind('Service');
    assert.ok(selects(service.spec.selector), 'the Service selects the pods');
    assert.equal(service.spec.sessionAffinity, 'ClientIP', 'long-polling sessions stay on one pod');
    assert.equal(service.spec.ports[0].targetPort, 'http');
    const pdb = byKind('PodDisruptionBudget');
    assert.ok(selects(pdb.spec.selector.matchLabels), 'the PodDisruptionBudget selects the pods');
    assert.ok(pdb.spec.maxUnavailable < deployment.spec.replicas, 'a disruption leaves a gateway serving');
    const ingress = byKind('Ingress');
    const backend = ingress.spec.rules[0].http.paths[0].backend.service;
    assert.equal(backend.name, service.metadata.name);
    assert.equal(ingress.metadata.annotations['nginx.ingress.kubernetes.io/affinity'], 'cookie');
    assert.ok(Number(ingress.metadata.annotations['nginx.ingress.kubernetes.io/proxy-read-timeout']) > 45,
      'the read timeout is above ping_interval + ping_timeout');
  });
});
