/** The OpenAPI 3.1 document of the read API (served at /openapi.json; test/api.test.ts checks it lists every route). */
import type { VolcastConfig } from '../platform/config';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const nullable = (schema: Record<string, unknown>) => ({ oneOf: [schema, { type: 'null' }] });
const num = { type: 'number' };
const str = { type: 'string' };
const int = { type: 'integer' };
const time = { type: 'string', format: 'date-time' };

const errors = (...codes: number[]) =>
  Object.fromEntries(
    codes.map((c) => [
      String(c),
      {
        description: { 400: 'a malformed parameter (named in `parameter`)', 401: 'missing or wrong bearer token', 404: 'not served here or not found (the parameter is named)', 503: 'MinIO unreachable' }[c] ?? 'error',
        content: { 'application/json': { schema: ref('Error') } },
      },
    ]),
  );

const json = (schema: unknown, description: string) => ({ description, content: { 'application/json': { schema } } });

export function openApiDocument(cfg: VolcastConfig, version: string) {
  const symbolPath = {
    name: 'symbol', in: 'path', required: true, description: 'BASE-QUOTE (BTC-USDT) or BASE/QUOTE URL-encoded (BTC%2FUSDT)',
    schema: { type: 'string', examples: cfg.symbols.map((s) => s.replace('/', '-')) },
  };
  const targetPath = { name: 'target', in: 'path', required: true, schema: { type: 'string', enum: [...cfg.targets] } };
  const exchange = { name: 'exchange', in: 'query', required: false, description: `default ${cfg.exchanges[0]!.id}`, schema: { type: 'string', enum: cfg.exchanges.map((e) => e.id) } };
  const timeframe = { name: 'timeframe', in: 'query', required: false, description: `default ${cfg.timeframes[0]}`, schema: { type: 'string', enum: [...cfg.timeframes] } };
  const timeParam = (name: string, description: string) => ({ name, in: 'query', required: false, description: `${description}; ISO-8601 or epoch milliseconds`, schema: { type: 'string' } });

  return {
    openapi: '3.1.0',
    info: {
      title: 'volcast read API',
      version,
      description:
        "The champions' volatility forecasts, their history against realized values, the champion of each series and target with its decision history, and each training run's leaderboard. A forecast whose data is older than scoring.maxDataAgeMinutes " +
        `(${cfg.scoring.maxDataAgeMinutes} min here) is stale: it is never returned as the current forecast. Times are UTC; ts fields are epoch milliseconds (bar open time).`,
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'required when the server was started with VOLCAST_API_TOKEN (always off loopback)' } },
      schemas: {
        Error: { type: 'object', required: ['error', 'parameter'], properties: { error: str, parameter: nullable(str) } },
        Interval: { type: 'object', required: ['lower', 'upper'], properties: { lower: num, upper: num } },
        Forecast: {
          type: 'object',
          required: ['barTs', 'barTime', 'asOf', 'horizonBars', 'value', 'interval80', 'interval95', 'regime', 'modelId', 'modelName', 'dataWatermark', 'ageMinutes', 'stale'],
          properties: {
            barTs: { ...int, description: 'open time of the bar the forecast was made at (ms)' },
            barTime: time,
            asOf: { ...time, description: "the forecast's origin: the close of that bar; it covers the next horizonBars bars" },
            madeAt: { ...nullable(time), description: 'when the predictions object holding it was written (latest routes only)' },
            horizonBars: int,
            units: str,
            value: { ...num, description: "predicted volatility in the target's units" },
            interval80: nullable(ref('Interval')),
            interval95: nullable(ref('Interval')),
            regime: { enum: ['low', 'medium', 'high', null] },
            modelId: str,
            modelName: str,
            featureSetId: { ...nullable(str), description: 'the stored feature set the row came from; null for forecasts scored from the candle tail' },
            inputsSha256: { ...nullable(str), description: 'sha256 over the candle partitions read, the feature definitions and the feature values (null on records written before it)' },
            dataWatermark: { ...int, description: 'the newest candle the features used (open time, ms)' },
            dataWatermarkTime: time,
            ageMinutes: { ...num, description: "minutes from the close of the watermark's bar to the server's clock" },
            stale: { type: 'boolean', description: 'ageMinutes > maxDataAgeMinutes' },
          },
        },
        HistoryItem: { allOf: [ref('Forecast'), { type: 'object', properties: { realized: { ...nullable(num), description: 'the realized target value, once known' } } }] },
        ChampionSummary: {
          type: 'object',
          properties: { modelId: str, name: str, kind: str, spec: {}, action: str, decidedAt: time, runId: nullable(str), trainEndTs: nullable(int), dataWatermark: nullable(int), loss: nullable(num) },
        },
        LatestForecast: {
          type: 'object',
          required: ['exchange', 'symbol', 'timeframe', 'target', 'status', 'forecast', 'newest', 'maxDataAgeMinutes', 'champion'],
          properties: {
            exchange: str, symbol: str, timeframe: str, target: str,
            status: { enum: ['current', 'stale', 'none'], description: 'current: `forecast` is fresh; stale: only `newest` is set, and stale; none: no forecast yet' },
            forecast: { ...nullable(ref('Forecast')), description: 'the current forecast; null unless status is current' },
            newest: { ...nullable(ref('Forecast')), description: 'the newest stored forecast, whatever its age' },
            maxDataAgeMinutes: int,
            champion: nullable(ref('ChampionSummary')),
            links: { type: 'object' },
          },
        },
        LatestList: { type: 'object', required: ['now', 'maxDataAgeMinutes', 'items'], properties: { now: time, maxDataAgeMinutes: int, items: { type: 'array', items: ref('LatestForecast') } } },
        HistoryPage: {
          type: 'object',
          required: ['items', 'nextCursor'],
          properties: {
            exchange: str, symbol: str, timeframe: str, target: str, from: int, to: int,
            items: { type: 'array', items: ref('HistoryItem') },
            nextCursor: { ...nullable(str), description: 'pass as cursor for the next page; null on the last page' },
          },
        },
        ChampionRecord: { type: 'object', description: 'registry/…/champion.json as stored (contracts/types.ts ChampionRecord)', properties: { modelId: str, name: str, kind: str, action: str, decidedAt: time, reasons: { type: 'array', items: str }, runId: nullable(str), spec: {} } },
        ChampionResponse: { type: 'object', properties: { champion: ref('ChampionRecord'), links: { type: 'object' } } },
        ChampionList: { type: 'object', properties: { items: { type: 'array', items: { type: 'object', properties: { exchange: str, symbol: str, timeframe: str, target: str, champion: nullable(ref('ChampionRecord')) } } } } },
        ChampionHistory: {
          type: 'object',
          properties: { total: int, items: { type: 'array', description: 'newest first: promote, bootstrap, refresh, manual, rollback, hold, each with its reasons', items: { allOf: [ref('ChampionRecord'), { type: 'object', properties: { links: { type: 'object' } } }] } } },
        },
        LeaderboardRow: {
          type: 'object',
          properties: {
            rank: int, model: str, kind: str, role: { enum: ['baseline', 'challenger', 'incumbent', 'served'] }, complete: { type: 'boolean' },
            validationQlike: nullable(num), holdoutQlike: nullable(num), qlike: nullable(num), rmse: nullable(num), r2: nullable(num), rows: int, holdoutRows: int, parityPassed: { type: 'boolean' },
          },
        },
        Run: {
          type: 'object',
          properties: {
            runId: str, series: { type: 'object' }, target: str, horizonBars: int, folds: { type: 'array' },
            leaderboard: { type: 'array', items: ref('LeaderboardRow') }, bestBaseline: {}, incumbent: nullable(str), decision: {},
            links: { type: 'object', properties: { report: str, reportConsole: str, temporal: nullable(str) } },
          },
        },
        Health: { type: 'object', properties: { status: { enum: ['ok', 'degraded'] }, now: time, minio: { type: 'object' }, cachedDocuments: int, series: int } },
      },
    },
    security: [{}, { bearer: [] }],
    paths: {
      '/health': { get: { summary: 'liveness and MinIO reachability (never needs a token)', security: [], responses: { 200: json(ref('Health'), 'ok'), 503: json(ref('Health'), 'MinIO unreachable') } } },
      '/openapi.json': { get: { summary: 'this document', responses: { 200: json({ type: 'object' }, 'OpenAPI 3.1') } } },
      '/v1/forecasts/latest': {
        get: {
          summary: 'the latest forecast of every served series × target (optionally one symbol / target)',
          parameters: [{ name: 'symbol', in: 'query', required: false, schema: str }, { name: 'target', in: 'query', required: false, schema: str }, exchange, timeframe],
          responses: { 200: json(ref('LatestList'), 'one item per series × target'), ...errors(400, 401, 404) },
        },
      },
      '/v1/forecasts/{symbol}/{target}/latest': {
        get: {
          summary: 'the latest forecast of one series × target: value, intervals, regime, bar ts, asOf, modelId, champion, data watermark, staleness',
          parameters: [symbolPath, targetPath, exchange, timeframe],
          responses: { 200: json(ref('LatestForecast'), 'status current, stale or none'), ...errors(400, 401, 404) },
        },
      },
      '/v1/forecasts/{symbol}/{target}': {
        get: {
          summary: 'forecast history over [from, to), oldest first, paged, with realized values where known',
          parameters: [
            symbolPath, targetPath,
            timeParam('from', `first bar (inclusive); default to − ${cfg.api.dashboardDays} days`),
            timeParam('to', 'end (exclusive); default now'),
            { name: 'limit', in: 'query', required: false, description: `rows per page, 1..${cfg.api.maxPageSize} (default 500)`, schema: int },
            { name: 'cursor', in: 'query', required: false, description: "the previous page's nextCursor", schema: str },
            exchange, timeframe,
          ],
          responses: { 200: json(ref('HistoryPage'), 'a page of forecasts'), ...errors(400, 401, 404) },
        },
      },
      '/v1/champions': { get: { summary: 'the champion of every served series × target', parameters: [exchange, timeframe], responses: { 200: json(ref('ChampionList'), 'champions'), ...errors(400, 401, 404) } } },
      '/v1/champions/{symbol}/{target}': {
        get: { summary: 'the champion record (spec, serving modelId, runId, trainEndTs, dataWatermark, action, reasons)', parameters: [symbolPath, targetPath, exchange, timeframe], responses: { 200: json(ref('ChampionResponse'), 'the record'), ...errors(400, 401, 404) } },
      },
      '/v1/champions/{symbol}/{target}/history': {
        get: {
          summary: "the champion's decision history, newest first",
          parameters: [symbolPath, targetPath, { name: 'limit', in: 'query', required: false, description: '1..1000 (default 50)', schema: int }, exchange, timeframe],
          responses: { 200: json(ref('ChampionHistory'), 'decisions'), ...errors(400, 401, 404) },
        },
      },
      '/v1/runs/{runId}': {
        get: { summary: "a training run's leaderboard, decision and report links", parameters: [{ name: 'runId', in: 'path', required: true, schema: str }], responses: { 200: json(ref('Run'), 'the run'), ...errors(400, 401, 404) } },
      },
      '/v1/runs/{runId}/report': {
        get: { summary: "the run's HTML report (runs/{runId}/report/index.html)", parameters: [{ name: 'runId', in: 'path', required: true, schema: str }], responses: { 200: { description: 'HTML', content: { 'text/html': {} } }, ...errors(400, 401, 404) } },
      },
      '/': { get: { summary: 'the dashboard (HTML): every series × target, or one with ?symbol=&target=', responses: { 200: { description: 'HTML', content: { 'text/html': {} } } } } },
    },
  };
}
