'use strict';

// A real headless Chromium for the browser tests: Debian's `chromium` package
// driven by puppeteer-core (which downloads no browser of its own), started
// with a fresh empty profile and without anything that talks to the network
// on its own, so that a test sees only the pages it opens.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { E2E_DIR } = require('./gateway');

/** Where the browser tests save their screenshots (gitignored). */
const SCREENSHOTS_DIR = path.join(E2E_DIR, 'screenshots');

const LAUNCH_TIMEOUT_MS = 15_000;

// The flags every launch gets: headless, no sandbox (CI runs as root), no GPU,
// and no background traffic (component updates, sync, QUIC probes) that could
// slow a test or reach the internet.
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Path of the Chromium binary: $CHROMIUM_BIN, else the first of Debian's
 * /usr/bin/chromium and chromium-browser that exists, else null.
 */
function chromiumPath() {
  if (process.env.CHROMIUM_BIN) return process.env.CHROMIUM_BIN;
  for (const candidate of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (fs.existsSync(candidate)) return candidate;
  }
  return null;
}

/**
 * Why the browser tests cannot run here, or null when they can: for
 * `test(name, {skip: browserSkipReason()}, ...)`. With CI set, a missing
 * Chromium is a failure rather than a skip (.ci/run installs it).
 */
function browserSkipReason() {
  if (chromiumPath()) return null;
  const why = 'chromium is not installed (apt-get install chromium, or set CHROMIUM_BIN)';
  if (process.env.CI) throw new Error(why);
  return why;
}

/**
 * Launches headless Chromium with a new empty profile. Returns the puppeteer
 * Browser; its close() also removes the profile directory.
 *
 * options.viewport: {width, height} of new pages (default 1280×900).
 * options.args: extra Chromium flags.
 */
async function launchBrowser({ viewport = { width: 1280, height: 900 }, args = [] } = {}) {
  const puppeteer = require('puppeteer-core');
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error('launchBrowser: ' + browserSkipReason());
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-chromium-'));
  let browser;
  try {
    browser = await puppeteer.launch({
      executablePath,
      headless: true,
      args: [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, ...args],
      defaultViewport: viewport,
      timeout: LAUNCH_TIMEOUT_MS,
      // Ours are the whole list: puppeteer's defaults would add their own.
      ignoreDefaultArgs: true,
    });
  } catch (err) {
    fs.rmSync(profile, { recursive: true, force: true });
    throw new Error(`launching ${executablePath}: ${err.message}`);
  }
  const close = browser.close.bind(browser);
  browser.close = async () => {
    try {
      await close();
    } finally {
      fs.rmSync(profile, { recursive: true, force: true });
    }
  };
  return browser;
}

/**
 * Records what a page logs and throws (console errors, uncaught exceptions,
 * failed requests), so that a failing test can say what the page saw.
 * Returns {errors, text()}.
 */
function watchPage(page) {
  const errors = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('requestfailed', (req) => errors.push(`requestfailed: ${req.url()} ${req.failure()?.errorText}`));
  return { errors, text: () => errors.join('\n') };
}

/**
 * Saves a full-page PNG of page as screenshots/<name>.png and returns its
 * path. A failed screenshot is reported, never thrown: it must not hide the
 * test's own outcome.
 */
async function screenshot(page, name) {
  fs.mkdirSync(SCREENSHOTS_DIR, { recursive: true });
  const file = path.join(SCREENSHOTS_DIR, `${name.replace(/[^\w.-]+/g, '-')}.png`);
  try {
    // optimizeForSpeed: a faster PNG encoder, bigger files; the run is what matters here.
    await page.screenshot({ path: file, fullPage: true, optimizeForSpeed: true });
  } catch (err) {
    process.stderr.write(`[e2e] screenshot ${file}: ${err.message}\n`);
  }
  return file;
}

module.exports = {
  CHROMIUM_FLAGS,
  SCREENSHOTS_DIR,
  browserSkipReason,
  chromiumPath,
  launchBrowser,
  screenshot,
  watchPage,
};
