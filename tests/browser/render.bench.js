#!/usr/bin/env node
// The district view's first complete render in headless Chromium: the time from navigation
// until the map says every layer it shows is drawn and every visible tile has loaded.
//
//   node tests/browser/render.bench.js --url http://127.0.0.1:PORT [--runs 5]
//
// Each run is a fresh browser profile (an empty HTTP cache); the server's tile cache is warm
// after the first run, so the first run is reported apart. Two views: the district as it
// opens (towns, estates, corridors, zones), and the same with the grid density and the
// violation tiles on. Prints a table and a JSON line.
'use strict';

const { launch, parseArgs } = require('./lib.js');

const args = parseArgs(process.argv.slice(2));
const BASE = String(args.url || 'http://127.0.0.1:8080').replace(/\/$/, '');
const RUNS = Number(args.runs || 5);

const VIEWS = {
  district: '/',
  'district+grid+violations': '/#layers=towns,estates,corridors,zones,grid,violations&grid=density',
};

// Polls every frame from the first script on: records when the app is complete.
const PROBE = `
(() => {
  const tick = () => {
    const em = window.estatemap;
    if (document.body && document.body.dataset.ready === '1' && em && em.loading().length === 0) {
      requestAnimationFrame(() => requestAnimationFrame(() => {
        if (em.loading().length === 0) {
          window.__complete = performance.now();
          window.__ready = window.__ready || performance.now();
        } else requestAnimationFrame(tick);
      }));
      return;
    }
    if (document.body && document.body.dataset.ready === '1' && !window.__ready) window.__ready = performance.now();
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})();
`;

async function once(path) {
  const { context, close } = await launch({ viewport: { width: 1440, height: 900 } });
  try {
    await context.addInitScript(PROBE);
    const page = context.pages()[0] || (await context.newPage());
    let requests = 0;
    let bytes = 0;
    page.on('requestfinished', async (r) => {
      requests++;
      try {
        const s = await r.sizes();
        bytes += s.responseBodySize;
      } catch (e) {
        /* ignore */
      }
    });
    await page.goto(BASE + path);
    await page.waitForFunction(() => window.__complete, null, { timeout: 120000, polling: 50 });
    const t = await page.evaluate(() => ({
      ready: window.__ready,
      complete: window.__complete,
      counts: window.estatemap.counts(),
      tiles: window.estatemap.tiles,
    }));
    return { ...t, requests, bytes };
  } finally {
    await close();
  }
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

(async () => {
  const out = {};
  for (const [name, path] of Object.entries(VIEWS)) {
    const runs = [];
    for (let i = 0; i < RUNS + 1; i++) runs.push(await once(path));
    const warm = runs.slice(1).map((r) => r.complete);
    out[name] = {
      first_ms: Math.round(runs[0].complete),
      median_ms: Math.round(median(warm)),
      min_ms: Math.round(Math.min(...warm)),
      max_ms: Math.round(Math.max(...warm)),
      ready_ms: Math.round(median(runs.slice(1).map((r) => r.ready))),
      requests: runs[1].requests,
      kbytes: Math.round(runs[1].bytes / 1024),
      tiles: runs[1].tiles,
      counts: runs[1].counts,
    };
    const o = out[name];
    process.stderr.write(`${name.padEnd(26)} first ${String(o.first_ms).padStart(5)} ms  median ${String(o.median_ms).padStart(5)} ms (min ${o.min_ms}, max ${o.max_ms}, ${RUNS} runs)  ${o.requests} requests, ${o.kbytes} kB\n`);
  }
  process.stdout.write(`${JSON.stringify({ runs: RUNS, views: out })}\n`);
})().catch((e) => {
  process.stderr.write(`${e.stack || e}\n`);
  process.exit(1);
});
