// Shared helpers of the browser tests and the render benchmark: Debian's Chromium driven by
// playwright-core (from the repository's node_modules), a fresh profile each time.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');

function playwright() {
  try {
    return require(path.join(ROOT, 'node_modules', 'playwright-core'));
  } catch (e) {
    throw new Error(`playwright-core is not installed (npm ci in ${ROOT}): ${e.message}`);
  }
}

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

// A browser context on a fresh --user-data-dir (launchPersistentContext is how Playwright
// takes one); close() removes the profile.
async function launch(contextOptions = {}) {
  const { chromium } = playwright();
  const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'estatemap-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    acceptDownloads: true,
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
    viewport: { width: 1440, height: 900 },
    ...contextOptions,
  });
  const close = async () => {
    try {
      await context.close();
    } finally {
      fs.rmSync(userDataDir, { recursive: true, force: true });
    }
  };
  return { context, close };
}

// Console errors, page errors and failed responses of a page.
function watch(page) {
  const log = { errors: [], warnings: [], failed: [], inflight: 0, requests: [] };
  page.on('console', (m) => {
    if (m.type() === 'error') log.errors.push(m.text());
    else if (m.type() === 'warning') log.warnings.push(m.text());
  });
  page.on('pageerror', (e) => log.errors.push(`pageerror: ${e.message}`));
  page.on('request', (r) => {
    log.inflight++;
    log.requests.push(r.url());
  });
  const done = () => {
    log.inflight = Math.max(0, log.inflight - 1);
  };
  page.on('requestfinished', done);
  page.on('requestfailed', (r) => {
    done();
    const f = r.failure();
    if (!f || !/ERR_ABORTED/.test(f.errorText)) log.failed.push(`${r.url()}: ${f && f.errorText}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) log.failed.push(`${r.status()} ${r.request().method()} ${r.url()}`);
  });
  return log;
}

// Until the app says it is ready, nothing is loading, and no request is in flight for quietMs.
async function settle(page, log, { timeout = 60000, quietMs = 300 } = {}) {
  const start = Date.now();
  await page.waitForFunction(() => document.body.dataset.ready === '1', null, { timeout });
  let quietSince = null;
  while (Date.now() - start < timeout) {
    const busy = await page.evaluate(() => (window.estatemap ? window.estatemap.loading().length : 1));
    if (busy === 0 && log.inflight === 0) {
      if (quietSince === null) quietSince = Date.now();
      if (Date.now() - quietSince >= quietMs) return Date.now() - start;
    } else quietSince = null;
    await page.waitForTimeout(50);
  }
  throw new Error(`the page did not settle in ${timeout} ms`);
}

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) continue;
    const key = a.slice(2);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) out[key] = true;
    else {
      out[key] = next;
      i++;
    }
  }
  return out;
}

module.exports = { ROOT, launch, watch, settle, parseArgs, CHROMIUM_ARGS };
