/**
 * The read API and dashboard (`volcast serve`; docs/api.md): Fastify, HTTP/JSON, OpenAPI at
 * /openapi.json, the dashboard at /. Read-only: everything comes from MinIO through ApiReader.
 * Loopback by default; with VOLCAST_API_TOKEN set (required off loopback) every route but /health
 * needs "Authorization: Bearer <token>" (browsers: Basic auth with the token as the password).
 */
import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { renderSvg } from '../evaluation/plots';
import type { VolcastConfig } from '../platform/config';
import { ArtifactStore } from '../platform/store';
import { renderDashboard, sectionData } from './dashboard';
import { reportConsoleUrl, runLinks, seriesTemporalLinks } from './links';
import { openApiDocument } from './openapi';
import { ApiError, onlyParams, parseCursor, parseFilters, parseLimit, parseRange, parseRunId, parseSeries, parseTarget } from './params';
import { ApiReader } from './reader';
import { apiSettings, apiUrl, type ApiSettings } from './settings';

export interface ApiOptions {
  cfg: VolcastConfig;
  store?: ArtifactStore;
  /** Default: apiSettings(cfg) (config, then VOLCAST_API_*). */
  settings?: ApiSettings;
  /** The clock staleness is judged by (tests pass another). */
  now?: () => number;
  /** Log warnings and errors (JSON lines on stdout); default off. */
  log?: boolean;
}

export interface RunningApi {
  app: FastifyInstance;
  reader: ApiReader;
  settings: ApiSettings;
  routes: string[];
  url: string;
  close: () => Promise<void>;
}

const VERSION = '1.0.0';

type Q = Record<string, unknown>;
type P = Record<string, string>;

function authorized(req: FastifyRequest, token: string): boolean {
  const h = req.headers.authorization ?? '';
  let given: string | null = null;
  const bearer = /^Bearer\s+(.+)$/i.exec(h);
  if (bearer) given = bearer[1]!.trim();
  const basic = /^Basic\s+(.+)$/i.exec(h);
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    given = decoded.slice(decoded.indexOf(':') + 1);
  }
  if (given === null) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function createApi(opts: ApiOptions): { app: FastifyInstance; reader: ApiReader; settings: ApiSettings; routes: string[] } {
  const { cfg } = opts;
  const settings = opts.settings ?? apiSettings(cfg);
  const store = opts.store ?? new ArtifactStore(cfg);
  const now = opts.now ?? Date.now;
  const reader = new ApiReader(store, cfg.scoring.maxDataAgeMinutes, now);
  const app = Fastify({ logger: opts.log ? { level: 'warn' } : false, routerOptions: { ignoreTrailingSlash: true, maxParamLength: 300 } });
  const openapi = openApiDocument(cfg, VERSION);
  // Every route as OpenAPI writes its path (/v1/runs/{runId}): the test checks the document lists them all.
  const routes: string[] = [];
  app.addHook('onRoute', (r) => {
    if (r.method === 'GET' || (Array.isArray(r.method) && r.method.includes('GET'))) routes.push(r.url.replace(/:([A-Za-z]+)/g, '{$1}'));
  });

  app.addHook('onRequest', async (req, reply) => {
    if (!settings.token || req.url === '/health' || req.url.startsWith('/health?')) return;
    if (authorized(req, settings.token)) return;
    const html = (req.headers.accept ?? '').includes('text/html');
    if (html) reply.header('www-authenticate', 'Basic realm="volcast", charset="UTF-8"');
    else reply.header('www-authenticate', 'Bearer realm="volcast"');
    return reply.code(401).send({ error: 'authorization: send "Authorization: Bearer <token>" (the server\'s VOLCAST_API_TOKEN)', parameter: 'authorization' });
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    if (err instanceof ApiError) return reply.code(err.status).send({ error: err.message, parameter: err.parameter });
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return reply.code(err.statusCode).send({ error: err.message, parameter: null });
    const unreachable = ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND'].includes(err.code ?? '');
    req.log.error(err);
    return reply.code(unreachable ? 503 : 500).send({ error: unreachable ? `the object store is unreachable: ${err.message}` : `${err.name}: ${err.message}`, parameter: null });
  });

  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `no route ${req.method} ${req.url.split('?')[0]}: see /openapi.json`, parameter: null }));

  app.addHook('onSend', async (req, reply) => {
    if (req.url.startsWith('/v1/')) reply.header('cache-control', 'no-cache');
  });

  const seriesTargets = (q: Q) => {
    const f = parseFilters(cfg, q);
    return f.series.flatMap((series) => f.targets.map((target) => ({ series, target })));
  };
  const one = (params: P, q: Q) => ({ series: parseSeries(cfg, params.symbol!, q), target: parseTarget(cfg, params.target!) });
  const withLinks = <T extends { champion: { runId: string | null } | null }>(x: T, series: ReturnType<typeof parseSeries>, target: string) => ({
    ...x,
    links: {
      history: `/v1/forecasts/${series.symbol.replace('/', '-')}/${target}`,
      champion: `/v1/champions/${series.symbol.replace('/', '-')}/${target}`,
      run: x.champion?.runId ? runLinks(cfg, x.champion.runId, series, target) : null,
      temporal: seriesTemporalLinks(cfg, series, target),
    },
  });

  app.get('/health', async (_req, reply) => {
    const minio = await reader.ping();
    return reply.code(minio.ok ? 200 : 503).send({
      status: minio.ok ? 'ok' : 'degraded', version: VERSION, now: new Date(now()).toISOString(), minio: { ...minio, bucket: store.bucket },
      cachedDocuments: reader.cachedDocuments, series: cfg.symbols.length * cfg.targets.length, maxDataAgeMinutes: cfg.scoring.maxDataAgeMinutes,
      auth: settings.token ? 'bearer' : 'none',
    });
  });

  app.get('/openapi.json', async () => openapi);

  app.get('/v1/forecasts/latest', async (req) => {
    const q = req.query as Q;
    onlyParams(q, ['symbol', 'target', 'exchange', 'timeframe']);
    const items = await Promise.all(seriesTargets(q).map(async ({ series, target }) => withLinks(await reader.latest(series, target), series, target)));
    return { now: new Date(now()).toISOString(), maxDataAgeMinutes: cfg.scoring.maxDataAgeMinutes, items };
  });

  app.get('/v1/forecasts/:symbol/:target/latest', async (req) => {
    const q = req.query as Q;
    onlyParams(q, ['exchange', 'timeframe']);
    const { series, target } = one(req.params as P, q);
    return withLinks(await reader.latest(series, target), series, target);
  });

  app.get('/v1/forecasts/:symbol/:target', async (req) => {
    const q = req.query as Q;
    onlyParams(q, ['from', 'to', 'limit', 'cursor', 'exchange', 'timeframe']);
    const { series, target } = one(req.params as P, q);
    const range = parseRange(q, now(), settings.dashboardDays);
    const limit = parseLimit(q, 'limit', Math.min(500, settings.maxPageSize), settings.maxPageSize);
    const after = parseCursor(q);
    return reader.history(series, target, { ...range, limit, after });
  });

  app.get('/v1/champions', async (req) => {
    const q = req.query as Q;
    onlyParams(q, ['exchange', 'timeframe']);
    const items = await Promise.all(
      seriesTargets(q).map(async ({ series, target }) => ({ exchange: series.exchange, symbol: series.symbol, timeframe: series.timeframe, target, champion: await reader.champion(series, target) })),
    );
    return { items };
  });

  app.get('/v1/champions/:symbol/:target', async (req) => {
    const q = req.query as Q;
    onlyParams(q, ['exchange', 'timeframe']);
    const { series, target } = one(req.params as P, q);
    const champion = await reader.champion(series, target);
    if (!champion) throw new ApiError(404, `target: no champion for ${series.exchange} ${series.symbol} ${series.timeframe} ${target} yet: run a training (volcast train, or the daily schedule)`, 'target');
    return { champion, links: { history: `/v1/champions/${series.symbol.replace('/', '-')}/${target}/history`, run: champion.runId ? runLinks(cfg, champion.runId, series, target) : null } };
  });

  app.get('/v1/champions/:symbol/:target/history', async (req) => {
    const q = req.query as Q;
    onlyParams(q, ['limit', 'exchange', 'timeframe']);
    const { series, target } = one(req.params as P, q);
    const limit = parseLimit(q, 'limit', 50, 1000);
    const h = await reader.championHistory(series, target, limit);
    return { exchange: series.exchange, symbol: series.symbol, timeframe: series.timeframe, target, total: h.total, items: h.items.map((r) => ({ ...r, links: r.runId ? runLinks(cfg, r.runId, series, target) : null })) };
  });

  app.get('/v1/runs/:runId', async (req) => {
    onlyParams(req.query as Q, []);
    const runId = parseRunId((req.params as P).runId!);
    const run = await reader.run(runId);
    if (!run) throw new ApiError(404, `runId: no run ${runId} (no runs/${runId}/metrics.json)`, 'runId');
    return { ...run, links: runLinks(cfg, runId, run.series, run.target) };
  });

  app.get('/v1/runs/:runId/report', async (req, reply: FastifyReply) => {
    onlyParams(req.query as Q, []);
    const runId = parseRunId((req.params as P).runId!);
    const html = await reader.report(runId);
    if (!html) throw new ApiError(404, `runId: no report for run ${runId} (no runs/${runId}/report/index.html); the MinIO console: ${reportConsoleUrl(cfg, runId)}`, 'runId');
    return reply.type('text/html; charset=utf-8').send(html);
  });

  app.get('/', async (req, reply) => {
    const q = req.query as Q;
    try {
      onlyParams(q, ['symbol', 'target', 'exchange', 'timeframe']);
      const sections = await Promise.all(seriesTargets(q).map(({ series, target }) => sectionData(reader, series, target, settings.dashboardDays)));
      return reply.type('text/html; charset=utf-8').send(await renderDashboard(cfg, sections, now()));
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      return reply.code(err.status).type('text/html; charset=utf-8').send(`<!doctype html><title>volcast</title><p>${err.message.replace(/[<>&]/g, '')}</p><p><a href="/">the dashboard</a></p>`);
    }
  });

  return { app, reader, settings, routes };
}

/** Creates the API and listens (port 0: any free one). */
export async function startApi(opts: ApiOptions): Promise<RunningApi> {
  const { app, reader, settings, routes } = createApi(opts);
  await app.listen({ host: settings.host, port: settings.port });
  // Vega loads in seconds: warm it now rather than on the first dashboard view.
  void renderSvg({ data: { values: [{ x: 1 }] }, mark: 'point', encoding: { x: { field: 'x', type: 'quantitative' } } }).catch(() => undefined);
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : settings.port;
  return { app, reader, settings, routes, url: apiUrl({ host: settings.host, port }), close: () => app.close() };
}
