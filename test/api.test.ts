/**
 * The read API against the real MinIO: every route, its 4xx cases (each naming the parameter),
 * staleness at the limit, paging, caching by sha256, the bearer token, and the latency of the main
 * routes. Records are written with the library functions (test/apiFixtures.ts); test/visibility.test.ts
 * reads a real train and score through the API.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startApi, type RunningApi } from '../lib/api/server';
import { apiSettings, type ApiSettings } from '../lib/api/settings';
import { layout } from '../lib/platform/layout';
import { repoRoot } from '../lib/platform/paths';
import { ArtifactStore } from '../lib/platform/store';
import { consoleUrl } from '../lib/platform/temporal';
import { H, writeApiFixture, type ApiFixture, type SeriesFixture } from './apiFixtures';
import { testConfig } from './helpers';

const loopback = (extra: Partial<ApiSettings> = {}): ApiSettings => ({ host: '127.0.0.1', port: 0, dashboardDays: 7, maxPageSize: 5000, token: null, loopback: true, ...extra });

describe('read API (real MinIO)', () => {
  let store: ArtifactStore;
  let fx: ApiFixture;
  let api: RunningApi;
  const get = async (path: string, init: RequestInit = {}, on: RunningApi = api) => {
    const res = await fetch(`${on.url}${path}`, init);
    const text = await res.text();
    let body: any = text;
    try {
      body = JSON.parse(text);
    } catch {
      /* HTML */
    }
    return { status: res.status, body, headers: res.headers };
  };
  const seg = (f: SeriesFixture) => `${f.series.symbol.replace('/', '-')}/${f.target}`;
  const q = (f: SeriesFixture) => `exchange=${f.series.exchange}`;

  before(async () => {
    const cfg = testConfig();
    store = new ArtifactStore(cfg);
    fx = await writeApiFixture(store, cfg);
    api = await startApi({ cfg: fx.cfg, settings: loopback() });
  });
  after(async () => {
    await api?.close();
  });

  it('GET /health: ok with MinIO reachable, no token needed', async () => {
    const r = await get('/health');
    assert.equal(r.status, 200);
    assert.equal(r.body.status, 'ok');
    assert.equal(r.body.minio.ok, true);
    assert.equal(r.body.maxDataAgeMinutes, fx.cfg.scoring.maxDataAgeMinutes);
  });

  it('GET /openapi.json documents every route', async () => {
    const r = await get('/openapi.json');
    assert.equal(r.status, 200);
    assert.equal(r.body.openapi, '3.1.0');
    assert.deepEqual(Object.keys(r.body.paths).sort(), [...new Set(api.routes)].sort());
    assert.ok(api.routes.includes('/v1/forecasts/{symbol}/{target}/latest'));
  });

  it('GET /v1/forecasts/latest: every series × target, current, stale and none', async () => {
    const r = await get('/v1/forecasts/latest');
    assert.equal(r.status, 200);
    assert.equal(r.body.maxDataAgeMinutes, 120);
    const by = Object.fromEntries(r.body.items.map((i: any) => [`${i.symbol} ${i.target}`, i]));
    assert.deepEqual(Object.keys(by).sort(), ['BTC/USDT target_gk_1h', 'BTC/USDT target_rv_24h', 'ETH/USDT target_gk_1h', 'ETH/USDT target_rv_24h']);
    assert.deepEqual(
      ['BTC/USDT target_gk_1h', 'BTC/USDT target_rv_24h', 'ETH/USDT target_gk_1h', 'ETH/USDT target_rv_24h'].map((k) => by[k].status),
      ['current', 'current', 'stale', 'none'],
    );
    const filtered = await get('/v1/forecasts/latest?symbol=ETH-USDT&target=target_gk_1h');
    assert.deepEqual(filtered.body.items.map((i: any) => `${i.symbol} ${i.target} ${i.status}`), ['ETH/USDT target_gk_1h stale']);
  });

  it('GET /v1/forecasts/{symbol}/{target}/latest: value, intervals, regime, bar, asOf, madeAt, model, champion spec, watermark, age', async () => {
    const f = fx.btcGk;
    const newest = f.records.at(-1)!;
    const r = await get(`/v1/forecasts/${seg(f)}/latest`);
    assert.equal(r.status, 200);
    const b = r.body;
    assert.equal(b.status, 'current');
    assert.deepEqual(b.forecast, b.newest);
    const fc = b.forecast;
    assert.equal(fc.value, newest.value);
    assert.deepEqual(fc.interval80, { lower: newest.lower80, upper: newest.upper80 });
    assert.deepEqual(fc.interval95, { lower: newest.lower95, upper: newest.upper95 });
    assert.equal(fc.regime, newest.regime);
    assert.equal(fc.barTs, Math.floor(fx.now / H) * H - H, 'the bar that closed last');
    assert.equal(fc.barTime, new Date(newest.barTs).toISOString());
    assert.equal(fc.asOf, new Date(newest.barTs + H).toISOString());
    assert.equal(fc.horizonBars, 1);
    assert.match(fc.units, /Garman-Klass/);
    assert.equal(fc.modelId, f.champion!.modelId);
    assert.equal(fc.modelName, 'har_x');
    assert.equal(fc.dataWatermark, newest.dataWatermark);
    assert.ok(fc.ageMinutes >= 0 && fc.ageMinutes < 120 && fc.stale === false);
    assert.ok(Date.parse(fc.madeAt) >= fx.now - 60_000, 'when the predictions object was written');
    assert.deepEqual(b.champion.spec, f.champion!.spec);
    assert.equal(b.champion.modelId, f.champion!.modelId);
    assert.equal(b.champion.action, 'refresh');
    assert.equal(b.champion.dataWatermark, f.champion!.dataWatermark);
    assert.equal(b.links.run.report, `/v1/runs/${f.champion!.runId}/report`);
    assert.match(b.links.temporal.trains, /query=WorkflowType%20%3D%20'trainSeries'%20AND%20VolcastSymbol%20%3D%20'BTC%2FUSDT'/);
    // The symbol as BASE/QUOTE, URL-encoded, and lower case: the same series.
    const again = await get(`/v1/forecasts/btc%2Fusdt/${f.target}/latest?${q(f)}`);
    assert.deepEqual(again.body.forecast, fc);
    // rv_24h: the rolled-back champion (ewma) and its forecasts.
    const rv = await get(`/v1/forecasts/${seg(fx.btcRv)}/latest`);
    assert.equal(rv.body.champion.action, 'rollback');
    assert.equal(rv.body.forecast.modelName, 'ewma');
    assert.equal(rv.body.forecast.horizonBars, 24);
  });

  it('a forecast older than scoring.maxDataAgeMinutes is stale: never served as the current one', async () => {
    const f = fx.ethGk;
    const r = await get(`/v1/forecasts/${seg(f)}/latest`);
    assert.equal(r.status, 200);
    assert.equal(r.body.status, 'stale');
    assert.equal(r.body.forecast, null);
    assert.equal(r.body.newest.stale, true);
    assert.equal(r.body.newest.value, f.records.at(-1)!.value);
    assert.ok(r.body.newest.ageMinutes > 120);
    // At the limit exactly it is current; a second later it is stale (the API's clock, injected).
    const close = f.records.at(-1)!.dataWatermark + H;
    for (const [offset, status] of [[120 * 60_000, 'current'], [120 * 60_000 + 1000, 'stale']] as const) {
      const clocked = await startApi({ cfg: fx.cfg, settings: loopback(), store, now: () => close + offset });
      try {
        const c = await get(`/v1/forecasts/${seg(f)}/latest`, {}, clocked);
        assert.equal(c.body.status, status, `at ${offset / 60_000} min`);
        assert.equal(c.body.forecast === null, status === 'stale');
      } finally {
        await clocked.close();
      }
    }
    const none = await get(`/v1/forecasts/${seg(fx.ethRv)}/latest`);
    assert.deepEqual([none.status, none.body.status, none.body.forecast, none.body.newest, none.body.champion], [200, 'none', null, null, null]);
  });

  it('GET /v1/forecasts/{symbol}/{target}: history over [from, to), paged, with realized values', async () => {
    const f = fx.btcGk;
    const all = await get(`/v1/forecasts/${seg(f)}?from=${f.records[0]!.barTs}&limit=5000`);
    assert.equal(all.status, 200);
    assert.equal(all.body.nextCursor, null);
    assert.deepEqual(all.body.items.map((i: any) => [i.barTs, i.value, i.modelId]), f.records.map((r) => [r.barTs, r.value, r.modelId]));
    for (const it of all.body.items) assert.equal(it.realized, f.realized.get(it.barTs) ?? null);
    assert.equal(all.body.items.at(-1).realized, null, 'the newest target is not known yet');
    assert.ok(all.body.items.filter((i: any) => i.realized !== null).length >= f.records.length - 1);
    // Pages of 50 concatenate to the whole.
    const pages: any[] = [];
    let cursor: string | null = '';
    let n = 0;
    while (cursor !== null) {
      const page = await get(`/v1/forecasts/${seg(f)}?from=${f.records[0]!.barTs}&limit=50${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(page.status, 200);
      assert.ok(page.body.items.length <= 50);
      pages.push(...page.body.items);
      cursor = page.body.nextCursor;
      assert.ok(++n < 20);
    }
    assert.equal(n, Math.ceil(f.records.length / 50));
    // ageMinutes follows the server's clock between the requests (0.1-minute steps): compared apart.
    const clockFree = (items: any[]) => items.map(({ ageMinutes, ...rest }: any) => (assert.ok(Number.isFinite(ageMinutes)), rest));
    assert.deepEqual(clockFree(pages), clockFree(all.body.items));
    // ISO times; `to` is exclusive.
    const from = new Date(f.records[10]!.barTs).toISOString();
    const to = new Date(f.records[20]!.barTs).toISOString();
    const slice = await get(`/v1/forecasts/${seg(f)}?from=${from}&to=${to}`);
    assert.deepEqual(slice.body.items.map((i: any) => i.barTs), f.records.slice(10, 20).map((r) => r.barTs));
    // The default window: the last 7 days up to now.
    const def = await get(`/v1/forecasts/${seg(f)}`);
    assert.ok(def.body.items.length > 0 && def.body.items.every((i: any) => i.barTs >= fx.now - 7 * 24 * H));
  });

  it('GET /v1/champions, /v1/champions/{symbol}/{target} and its history (promote, hold, refresh, rollback with reasons)', async () => {
    const list = await get('/v1/champions');
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.items.map((i: any) => `${i.symbol} ${i.target} ${i.champion?.name ?? '-'}`), ['BTC/USDT target_gk_1h har_x', 'BTC/USDT target_rv_24h ewma', 'ETH/USDT target_gk_1h har_rv', 'ETH/USDT target_rv_24h -']);
    const c = await get(`/v1/champions/${seg(fx.btcGk)}`);
    assert.equal(c.status, 200);
    assert.deepEqual(c.body.champion, fx.btcGk.champion);
    assert.equal(c.body.links.run.reportConsole, consoleUrl(fx.cfg, layout.run(fx.btcGk.champion!.runId!, 'report/index.html')));
    const h = await get(`/v1/champions/${seg(fx.btcGk)}/history`);
    assert.equal(h.body.total, 4);
    assert.deepEqual(h.body.items.map((x: any) => x.action), ['refresh', 'hold', 'promote', 'bootstrap']);
    assert.deepEqual(h.body.items.map(({ links, ...x }: any) => x), fx.btcGk.history);
    assert.match(h.body.items[1].reasons.join(' '), /serving fit of har_x failed/);
    const two = await get(`/v1/champions/${seg(fx.btcGk)}/history?limit=2`);
    assert.deepEqual([two.body.total, two.body.items.length], [4, 2]);
    const rb = await get(`/v1/champions/${seg(fx.btcRv)}/history`);
    assert.deepEqual(rb.body.items.map((x: any) => x.action), ['rollback', 'promote', 'bootstrap']);
    assert.ok(rb.body.items[0].reasons.some((r: string) => r.startsWith('retired lightgbm')));
  });

  it("GET /v1/runs/{runId} and its report: the leaderboard, the decision, links", async () => {
    const runId = fx.btcGk.champion!.runId!;
    const r = await get(`/v1/runs/${runId}`);
    assert.equal(r.status, 200);
    const metrics = JSON.parse((await store.readLatest(layout.run(runId, 'metrics.json')))!.data.toString());
    assert.deepEqual(r.body.leaderboard, metrics.leaderboard);
    assert.equal(r.body.decision.serving.action, 'refresh');
    assert.equal(r.body.folds.length, 3);
    assert.equal(r.body.links.report, `/v1/runs/${runId}/report`);
    assert.equal(r.body.links.reportConsole, consoleUrl(fx.cfg, layout.run(runId, 'report/index.html')));
    assert.ok(r.body.links.temporal.endsWith(encodeURIComponent(`${runId.replace(/-BTC-USDT-target_gk_1h$/, '')}/BTC-USDT/target_gk_1h`)));
    const report = await get(r.body.links.report);
    assert.equal(report.status, 200);
    assert.match(report.headers.get('content-type')!, /^text\/html/);
    assert.match(report.body, new RegExp(`Run ${runId}`));
  });

  it('bad requests get a 4xx naming the parameter', async () => {
    const f = seg(fx.btcGk);
    const cases: [string, number, string, RegExp][] = [
      ['/v1/forecasts/XRP-USDT/target_gk_1h/latest', 404, 'symbol', /unknown symbol XRP\/USDT: this API serves BTC\/USDT, ETH\/USDT/],
      ['/v1/forecasts/BTCUSDT/target_gk_1h/latest', 400, 'symbol', /"BTCUSDT" is not a symbol: expected BASE\/QUOTE or BASE-QUOTE/],
      ['/v1/forecasts/BTC-USDT/target_xyz/latest', 404, 'target', /unknown target target_xyz: this API serves target_gk_1h, target_rv_24h/],
      ['/v1/forecasts/BTC-USDT/Target!/latest', 400, 'target', /is not a target name/],
      ['/v1/forecasts/latest?symbol=DOGE/USDT', 404, 'symbol', /unknown symbol DOGE\/USDT/],
      [`/v1/forecasts/${f}?from=yesterday`, 400, 'from', /invalid time "yesterday": expected ISO-8601/],
      [`/v1/forecasts/${f}?to=2026-13-45T99:00:00Z`, 400, 'to', /invalid time/],
      [`/v1/forecasts/${f}?from=2026-02-01&to=2026-01-01`, 400, 'from', /the range is empty: from \(2026-02-01T00:00:00.000Z\) must be before to/],
      [`/v1/forecasts/${f}?limit=0`, 400, 'limit', /expected an integer from 1 to 5000/],
      [`/v1/forecasts/${f}?limit=abc`, 400, 'limit', /invalid limit "abc"/],
      [`/v1/forecasts/${f}?cursor=bm9wZQ`, 400, 'cursor', /not a cursor this API issued/],
      [`/v1/forecasts/${f}?from=1&from=2`, 400, 'from', /given more than once/],
      [`/v1/forecasts/${f}?frm=2026-01-01`, 400, 'frm', /unknown parameter; this route takes from, to, limit, cursor, exchange, timeframe/],
      [`/v1/forecasts/${f}/latest?exchange=kraken`, 404, 'exchange', /unknown exchange "kraken"/],
      [`/v1/forecasts/${f}/latest?timeframe=1m`, 404, 'timeframe', /unknown timeframe "1m"/],
      [`/v1/champions/${seg(fx.ethRv)}`, 404, 'target', /no champion for .* ETH\/USDT 1h target_rv_24h yet/],
      [`/v1/champions/${f}/history?limit=100000`, 400, 'limit', /from 1 to 1000/],
      ['/v1/runs/no-such-run', 404, 'runId', /no run no-such-run/],
      ['/v1/runs/bad%20id', 400, 'runId', /"bad id" is not a run id/],
      ['/v1/runs/no-such-run/report', 404, 'runId', /no report for run no-such-run/],
    ];
    for (const [path, status, parameter, message] of cases) {
      const r = await get(path);
      assert.equal(r.status, status, `${path}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.parameter, parameter, path);
      assert.match(r.body.error, message, path);
      assert.ok(r.body.error.startsWith(`${parameter}: `), `${path}: the message names the parameter: ${r.body.error}`);
    }
    const unknownRoute = await get('/v1/nothing');
    assert.equal(unknownRoute.status, 404);
    assert.match(unknownRoute.body.error, /no route GET \/v1\/nothing: see \/openapi.json/);
    const html = await get('/?symbol=XRP-USDT');
    assert.equal(html.status, 404);
    assert.match(html.body, /unknown symbol XRP\/USDT/);
  });

  it('reads each object once per sha256: a rewritten object is read anew, an unchanged one from memory', async () => {
    const f = fx.btcGk;
    await get(`/v1/forecasts/${seg(f)}/latest`);
    const before = api.reader.cachedDocuments;
    await get(`/v1/forecasts/${seg(f)}/latest`);
    assert.equal(api.reader.cachedDocuments, before, 'nothing new parsed');
    // A new forecast for the next bar: a new object, read on the next request.
    const { appendPredictions } = await import('../lib/scoring/predictions');
    const next = { ...f.records.at(-1)!, barTs: f.records.at(-1)!.barTs + H, dataWatermark: f.records.at(-1)!.barTs + H, value: 0.0123 };
    const clocked = await startApi({ cfg: fx.cfg, settings: loopback(), store, now: () => next.barTs + H + 60_000 });
    try {
      await appendPredictions(store, [next]);
      const r = await get(`/v1/forecasts/${seg(f)}/latest`, {}, clocked);
      assert.equal(r.body.forecast.value, 0.0123);
      assert.equal(r.body.forecast.barTs, next.barTs);
    } finally {
      await clocked.close();
    }
  });

  it('a bearer token from the environment guards every route but /health; off loopback one is required', async () => {
    const token = 'test-token-0123456789abcdef';
    const guarded = await startApi({ cfg: fx.cfg, settings: loopback({ token }), store });
    try {
      const path = `/v1/forecasts/${seg(fx.btcGk)}/latest`;
      const none = await get(path, {}, guarded);
      assert.equal(none.status, 401);
      assert.equal(none.body.parameter, 'authorization');
      assert.equal((await get(path, { headers: { authorization: 'Bearer wrong-token-0123456789abcd' } }, guarded)).status, 401);
      assert.equal((await get(path, { headers: { authorization: `Bearer ${token}` } }, guarded)).status, 200);
      // Browsers: Basic auth with the token as the password (the dashboard asks for it).
      const page = await get('/', { headers: { accept: 'text/html' } }, guarded);
      assert.equal(page.status, 401);
      assert.match(page.headers.get('www-authenticate')!, /^Basic/);
      assert.equal((await get('/', { headers: { authorization: `Basic ${Buffer.from(`volcast:${token}`).toString('base64')}` } }, guarded)).status, 200);
      assert.equal((await get('/health', {}, guarded)).status, 200);
    } finally {
      await guarded.close();
    }
    assert.throws(() => apiSettings(fx.cfg, { VOLCAST_API_HOST: '0.0.0.0' }), /api.host \(or VOLCAST_API_HOST\): 0.0.0.0 is not a loopback address: set VOLCAST_API_TOKEN/);
    assert.deepEqual(
      (({ host, port, token: t, loopback: l }) => ({ host, port, t, l }))(apiSettings(fx.cfg, { VOLCAST_API_HOST: '0.0.0.0', VOLCAST_API_PORT: '8399', VOLCAST_API_TOKEN: token })),
      { host: '0.0.0.0', port: 8399, t: token, l: false },
    );
    assert.equal(apiSettings(fx.cfg, {}).host, '127.0.0.1', 'loopback by default');
    assert.throws(() => apiSettings(fx.cfg, { VOLCAST_API_PORT: 'http' }), /api.port/);
    assert.throws(() => apiSettings(fx.cfg, { VOLCAST_API_TOKEN: 'short' }), /VOLCAST_API_TOKEN: too short/);
  });

  it('`volcast serve` serves on the configured port and stops on SIGTERM; off loopback without a token it refuses to start', async () => {
    const cli = join(repoRoot, 'cli', 'volcast.js');
    const refused = spawnSync(process.execPath, [cli, 'serve', '--host', '0.0.0.0'], { encoding: 'utf8', env: { ...process.env, VOLCAST_API_TOKEN: '' } });
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /0\.0\.0\.0 is not a loopback address: set VOLCAST_API_TOKEN/);
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const child = spawn(process.execPath, [cli, 'serve'], { env: { ...process.env, VOLCAST_API_PORT: String(port), VOLCAST_API_TOKEN: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const t0 = Date.now();
      while (!/volcast api: serving/.test(out)) {
        assert.ok(Date.now() - t0 < 60_000, `volcast serve did not start: ${out}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.match(out, new RegExp(`volcast api: serving http://127\\.0\\.0\\.1:${port}/ \\(dashboard\\)`));
      const health = await fetch(`http://127.0.0.1:${port}/health`);
      assert.equal(health.status, 200);
      assert.equal(((await health.json()) as { status: string }).status, 'ok');
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0);
  });

  it('latency of the main routes (warm, sequential; printed for docs/api.md)', async () => {
    const routes = [
      ['latest (one series)', `/v1/forecasts/${seg(fx.btcGk)}/latest`],
      ['latest (all)', '/v1/forecasts/latest'],
      ['history (7 days)', `/v1/forecasts/${seg(fx.btcGk)}`],
      ['champion history', `/v1/champions/${seg(fx.btcGk)}/history`],
      ['run', `/v1/runs/${fx.btcGk.champion!.runId}`],
      ['dashboard', '/'],
    ];
    const lines: string[] = [];
    for (const [name, path] of routes) {
      const t0 = performance.now();
      assert.equal((await get(path!)).status, 200);
      const cold = performance.now() - t0;
      const ms: number[] = [];
      for (let i = 0; i < 20; i++) {
        const t = performance.now();
        assert.equal((await get(path!)).status, 200);
        ms.push(performance.now() - t);
      }
      ms.sort((a, b) => a - b);
      const p50 = ms[10]!;
      const p95 = ms[18]!;
      lines.push(`${name!.padEnd(20)} first ${cold.toFixed(1).padStart(7)} ms   p50 ${p50.toFixed(1).padStart(6)} ms   p95 ${p95.toFixed(1).padStart(6)} ms`);
      assert.ok(p50 < 1000, `${name}: p50 ${p50} ms`);
    }
    console.log(`read API latency (loopback, MinIO on loopback, 2 shared cores):\n  ${lines.join('\n  ')}`);
  });
});
