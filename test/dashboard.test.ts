/**
 * The dashboard in a real browser: Debian's chromium driven by puppeteer-core (npm downloads no
 * browser; `bash infra/setup.sh chromium` installs it). The rendered page must show the numbers the
 * JSON API returns for the same records: latest forecast, intervals, regime, bar, model, staleness,
 * the champion, its decision history, the leaderboard, the chart's rows and the links. A screenshot
 * is written to the state folder's reports/ (VOLCAST_UPDATE_SCREENSHOT=1: to docs/dashboard.png too).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { fmtLoss, fmtTime, fmtVol } from '../lib/api/format';
import { startApi, type RunningApi } from '../lib/api/server';
import { repoRoot } from '../lib/platform/paths';
import { ArtifactStore } from '../lib/platform/store';
import { writeApiFixture, type ApiFixture } from './apiFixtures';
import { testConfig } from './helpers';

/** Debian's chromium (or VOLCAST_CHROMIUM); a clear failure when there is none. */
export function chromiumPath(env: Record<string, string | undefined> = process.env, fallbacks = ['/usr/bin/chromium']): string {
  const fromPath = (name: string) => {
    try {
      return execFileSync('/bin/sh', ['-c', `command -v ${name}`], { encoding: 'utf8', env: { PATH: env.PATH ?? '' } }).trim() || null;
    } catch {
      return null;
    }
  };
  const found = [env.VOLCAST_CHROMIUM, fromPath('chromium'), fromPath('chromium-browser'), ...fallbacks].find((p) => p && existsSync(p));
  if (!found) {
    throw new Error(
      'chromium is not installed: the dashboard test drives a real browser (Debian\'s chromium, through puppeteer-core; npm downloads none). ' +
        'Install it with `bash infra/setup.sh chromium` (apt-get install chromium), or set VOLCAST_CHROMIUM to a Chromium binary.',
    );
  }
  return found;
}

describe('the browser test needs chromium', () => {
  it('without one it fails saying how to install it', () => {
    assert.throws(() => chromiumPath({ PATH: '/nonexistent' }, []), /chromium is not installed: .* Install it with `bash infra\/setup.sh chromium` \(apt-get install chromium\), or set VOLCAST_CHROMIUM/);
  });
});

describe('the dashboard in chromium shows the numbers of the API (real MinIO)', () => {
  let fx: ApiFixture;
  let api: RunningApi;
  let browser: Browser;
  let page: Page;
  let loadMs = 0;
  const json = async (path: string) => (await fetch(`${api.url}${path}`)).json() as Promise<any>;

  before(async () => {
    const executablePath = chromiumPath();
    const cfg = testConfig();
    fx = await writeApiFixture(new ArtifactStore(cfg), cfg);
    api = await startApi({ cfg: fx.cfg, settings: { host: '127.0.0.1', port: 0, dashboardDays: 7, maxPageSize: 5000, token: null, loopback: true } });
    browser = await puppeteer.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
    page = await browser.newPage();
    await page.setViewport({ width: 1200, height: 900 });
    const t0 = performance.now();
    const res = await page.goto(`${api.url}/`, { waitUntil: 'load' });
    loadMs = performance.now() - t0;
    assert.equal(res?.status(), 200);
  });

  after(async () => {
    await browser?.close();
    await api?.close();
  });

  const text = (sel: string) => page.$eval(sel, (e) => (e.textContent ?? '').trim()).catch(() => null);
  const texts = (sel: string) => page.$$eval(sel, (es) => es.map((e) => (e.textContent ?? '').trim()));
  const sec = (symbol: string, target: string) => `section.series[data-symbol="${symbol}"][data-target="${target}"]`;

  it('one section per series × target, with the status the API reports', async () => {
    const latest = await json('/v1/forecasts/latest');
    const shown = await page.$$eval('section.series', (es) => es.map((e) => `${e.getAttribute('data-symbol')} ${e.getAttribute('data-target')} ${e.getAttribute('data-status')}`));
    assert.deepEqual(shown, latest.items.map((i: any) => `${i.symbol} ${i.target} ${i.status}`));
    assert.deepEqual(shown.map((s) => s.split(' ')[2]), ['current', 'current', 'stale', 'none']);
  });

  it('the latest forecast: value, intervals, regime, bar, as-of, model, watermark; stale shown as stale, none as none', async () => {
    const latest = await json('/v1/forecasts/latest');
    for (const item of latest.items) {
      const s = sec(item.symbol, item.target);
      if (item.status === 'none') {
        assert.match((await text(`${s} .latest`))!, /No forecast yet\. No champion: run a training first/);
        continue;
      }
      const f = item.newest;
      assert.equal(await text(`${s} [data-field=value]`), fmtVol(f.value), `${item.symbol} ${item.target} value`);
      assert.ok(Math.abs(Number(await text(`${s} [data-field=value]`)) - f.value) / f.value < 5e-4, 'the shown number is the API value');
      assert.equal(await text(`${s} [data-field=lower80]`), fmtVol(f.interval80.lower));
      assert.equal(await text(`${s} [data-field=upper80]`), fmtVol(f.interval80.upper));
      assert.equal(await text(`${s} [data-field=lower95]`), fmtVol(f.interval95.lower));
      assert.equal(await text(`${s} [data-field=upper95]`), fmtVol(f.interval95.upper));
      assert.equal(await text(`${s} [data-field=regime]`), f.regime);
      assert.equal(await text(`${s} [data-field=barTime]`), fmtTime(f.barTs));
      assert.equal(await text(`${s} [data-field=asOf]`), fmtTime(f.asOf));
      assert.equal(await text(`${s} [data-field=dataWatermark]`), fmtTime(f.dataWatermark));
      assert.equal(await text(`${s} [data-field=modelId]`), f.modelId);
      assert.equal(await text(`${s} [data-field=modelName]`), f.modelName);
      const banner = await text(`${s} [data-field=stale]`);
      if (item.status === 'stale') assert.match(banner!, new RegExp(`^STALE: the newest forecast is from data .* old \\(limit ${item.maxDataAgeMinutes} min\\); it is shown, not served as current`));
      else assert.equal(banner, null);
      // The overview table agrees.
      assert.equal(await text(`table.overview tr[data-symbol="${item.symbol}"][data-target="${item.target}"] [data-field=value]`), fmtVol(f.value));
    }
  });

  it('the champion, its decision history (promote, hold, refresh, rollback with reasons) and the latest leaderboard', async () => {
    for (const f of [fx.btcGk, fx.btcRv, fx.ethGk]) {
      const s = sec(f.series.symbol, f.target);
      const seg = `${f.series.symbol.replace('/', '-')}/${f.target}`;
      const { champion } = await json(`/v1/champions/${seg}`);
      assert.equal(await text(`${s} [data-field=championName]`), champion.name);
      assert.equal(await text(`${s} [data-field=championModelId]`), champion.modelId);
      assert.equal(await text(`${s} [data-field=championAction]`), champion.action);
      assert.equal(await text(`${s} [data-field=championDecidedAt]`), fmtTime(champion.decidedAt));
      const history = await json(`/v1/champions/${seg}/history`);
      assert.deepEqual(await page.$$eval(`${s} table.history tbody tr`, (es) => es.map((e) => e.getAttribute('data-action'))), history.items.map((h: any) => h.action));
      assert.deepEqual(await texts(`${s} table.history [data-field=decidedAt]`), history.items.map((h: any) => fmtTime(h.decidedAt)));
      const reasons = await texts(`${s} table.history td.reasons`);
      history.items.forEach((h: any, i: number) => assert.equal(reasons[i], h.reasons.join('')));
      const runId = history.items.find((h: any) => h.runId).runId;
      const run = await json(`/v1/runs/${runId}`);
      assert.equal(await text(`${s} [data-field=runId]`), runId);
      assert.deepEqual(await page.$$eval(`${s} table.leaderboard tbody tr`, (es) => es.map((e) => e.getAttribute('data-model'))), run.leaderboard.map((r: any) => r.model));
      assert.deepEqual(await texts(`${s} table.leaderboard [data-field=holdoutQlike]`), run.leaderboard.map((r: any) => fmtLoss(r.holdoutQlike)));
      assert.deepEqual(await texts(`${s} table.leaderboard [data-field=validationQlike]`), run.leaderboard.map((r: any) => fmtLoss(r.validationQlike)));
    }
    assert.deepEqual(await page.$$eval(`${sec('BTC/USDT', 'target_gk_1h')} table.history tbody tr`, (es) => es.map((e) => e.getAttribute('data-action'))), ['refresh', 'hold', 'promote', 'bootstrap']);
    assert.deepEqual(await page.$$eval(`${sec('BTC/USDT', 'target_rv_24h')} table.history tbody tr`, (es) => es.map((e) => e.getAttribute('data-action'))), ['rollback', 'promote', 'bootstrap']);
  });

  it('the chart plots the last days of forecasts against realized values; the links lead to the report and the Web UI', async () => {
    const s = sec('BTC/USDT', 'target_gk_1h');
    const latest = await json('/v1/forecasts/BTC-USDT/target_gk_1h/latest');
    const from = latest.newest.barTs + 1 - 7 * 86_400_000;
    const history = await json(`/v1/forecasts/BTC-USDT/target_gk_1h?from=${from}&to=${latest.newest.barTs + 1}&limit=5000`);
    const withRealized = history.items.filter((i: any) => i.realized !== null).length;
    assert.ok(history.items.length > 100 && withRealized === history.items.length - 1);
    assert.match((await text(`${s} .chart + p`))!, new RegExp(`^${history.items.length} forecasts, ${withRealized} with a realized value`));
    const svg = await page.$eval(`${s} .chart svg`, (e) => ({ w: e.getBoundingClientRect().width, h: e.getBoundingClientRect().height, marks: e.querySelectorAll('path').length, text: e.textContent ?? '' }));
    assert.ok(svg.w > 600 && svg.h > 200, JSON.stringify(svg));
    assert.ok(svg.marks > history.items.length, 'a mark per forecast point and realized value');
    assert.match(svg.text, /realized/);
    assert.match(svg.text, /low.*medium.*high/);
    // Links: the report on this server (opens), in the MinIO console, the runs in the Temporal Web UI.
    const hrefs = await page.$$eval(`${s} a`, (es) => es.map((e) => [(e.textContent ?? '').trim(), e.getAttribute('href') ?? ''] as [string, string]));
    const report = hrefs.find(([t]) => t === 'report')![1];
    assert.equal(report, `/v1/runs/${fx.btcGk.champion!.runId}/report`);
    assert.equal(await page.evaluate(async (u: string) => (await fetch(u)).status, report), 200);
    assert.ok(hrefs.some(([t, h]) => t === 'in the MinIO console' && h.includes(`/browser/${fx.cfg.minio.bucket}/`)));
    const trains = hrefs.find(([t]) => t === 'trains of this series')![1];
    assert.equal(trains, latest.links.temporal.trains);
    assert.ok(hrefs.some(([t, h]) => t === 'its promotions' && decodeURIComponent(h).includes("VolcastDecision = 'promote'")));
  });

  it('renders fast enough, and writes a screenshot for review', async () => {
    console.log(`dashboard: loaded in ${loadMs.toFixed(0)} ms (4 sections, cold caches)`);
    assert.ok(loadMs < 15_000);
    const dir = join(process.env.VOLCAST_STATE_DIR ?? join(repoRoot, '.state', 'test'), 'reports');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'dashboard.png');
    await page.screenshot({ path: file as `${string}.png`, fullPage: true });
    assert.ok(existsSync(file));
    console.log(`dashboard screenshot: ${file}`);
    // docs/dashboard.png: the overview and the first section (the full page is long).
    if (process.env.VOLCAST_UPDATE_SCREENSHOT === '1') {
      const top = join(dir, 'dashboard-top.png');
      await page.screenshot({ path: top as `${string}.png`, clip: { x: 0, y: 0, width: 1200, height: 1620 } });
      copyFileSync(top, join(repoRoot, 'docs', 'dashboard.png'));
    }
  });
});
