/**
 * The `ingest` activity (volcast-cpu): OHLCV from the exchange through ccxt `fetchOHLCV` into the
 * Parquet candle lake. Incremental from the manifest's coverage, paginated, throttled by ccxt's rate
 * limiter, heartbeating per page. It merges into the lake every `flushRows` candles, so a crashed
 * attempt resumes after what it stored (the merge is by unique ts: no gap, no duplicate row).
 * The candle still open at "now" (ts + 1 bar > now) is never stored; "now" is an input or the
 * exchange's clock.
 *
 * A fresh fetch from the exchange is the one source allowed to change a stored bar (the exchange
 * revised it): such bars are counted in `changed`. Ingest may run while an import or another worker
 * writes the same series: the lake's merge is safe with concurrent writers (lib/candles/lake.ts).
 */
import { Context } from '@temporalio/activity';
import { barMsOf } from '../contracts/domain';
import { validateCandles, type RawCandle } from '../lib/candles/candle';
import { mergeIntoLake, readManifest } from '../lib/candles/lake';
import type { VolcastConfig } from '../lib/platform/config';
import { exchangeSettings, fetchOHLCVPage, getExchange, outOfOrderTimes, toActivityError, unknownSymbol } from '../lib/candles/exchange';
import type { Series } from '../lib/platform/layout';
import type { ArtifactStore } from '../lib/platform/store';
import type { IngestInput, IngestResult } from '../contracts/activities';
import type { IngestImplied } from '../contracts/types';
import { DVOL_FIRST_TS, ingestIndex } from '../lib/candles/indexSeries';

export type { IngestInput, IngestResult };

const MAX_REPORTED_ROWS = 50;

/**
 * The implied-volatility index configured for the symbol (features.implied), brought up to date after
 * its candles, so that features and scoring read it as fresh as the candles (lib/features/implied.ts:
 * a value older than 2 index bars is NULL). Only when the index's exchange is configured (exchanges in
 * temporal.config.ts). Never fails the candle ingest: an index that cannot be fetched is reported in
 * the result (`implied.error`), and its features go NULL once stale.
 */
async function refreshImplied(store: ArtifactStore, cfg: VolcastConfig, input: IngestInput, windowFrom: number, now: number, beat: (d: unknown) => void): Promise<IngestImplied | undefined> {
  const index = cfg.features.implied[input.symbol];
  if (!index) return undefined;
  const name = `${index.exchange}:${index.symbol}:${index.timeframe}`;
  if (!cfg.exchanges.some((e) => e.id === index.exchange)) return { index: name, skipped: `exchange ${index.exchange} is not configured (exchanges in temporal.config.ts)` };
  try {
    const settings = exchangeSettings(cfg, index.exchange);
    const { manifest } = await readManifest(store, index);
    // A first fetch starts with the candles' window (and never before the index exists); later ones after its coverage.
    const since = manifest.covered ? undefined : Math.max(windowFrom, DVOL_FIRST_TS);
    const r = await ingestIndex(store, getExchange(settings), settings, { currency: index.symbol.split('/')[0]!, timeframe: index.timeframe, now, ...(since !== undefined ? { since } : {}) }, beat);
    return { index: name, fetchedRows: r.fetchedRows, storedRows: r.storedRows, watermark: r.watermark };
  } catch (err) {
    return { index: name, error: (err as Error).message.slice(0, 500) };
  }
}

export function ingestActivities(store: ArtifactStore, cfg: VolcastConfig) {
  return {
    async ingest(input: IngestInput): Promise<IngestResult & { implied?: IngestImplied }> {
      const ctx = Context.current();
      const settings = exchangeSettings(cfg, input.exchange);
      const ex = getExchange(settings);
      const series: Series = { exchange: settings.id, symbol: input.symbol, timeframe: input.timeframe };
      const barMs = barMsOf(input.timeframe);
      const limit = Math.min(input.pageLimit ?? cfg.ingest.pageLimit, 1000);
      const flushRows = input.flushRows ?? limit * 10;
      const errCtx = { symbol: input.symbol, exchange: settings.id, ex };
      try {
        await ex.loadMarkets();
        if (!ex.markets?.[input.symbol]) throw unknownSymbol(input.symbol, settings.id);
        const now = input.now ?? (await ex.fetchTime());
        if (now === undefined) throw new Error(`${settings.id} did not return its time`);
        // Open times < end are closed candles (ts + 1 bar <= now) inside the window.
        const closedEnd = Math.floor(now / barMs) * barMs;
        const end = Math.min(input.until ?? closedEnd, closedEnd);
        const { manifest } = await readManifest(store, series);
        let start = input.since ?? (manifest.covered ? manifest.covered.to + barMs : 0);
        if (!input.refetch && manifest.covered && start >= manifest.covered.from && start <= manifest.covered.to) start = manifest.covered.to + barMs;

        const result: IngestResult = {
          exchange: settings.id,
          symbol: input.symbol,
          timeframe: input.timeframe,
          window: start < end ? { from: start, to: end } : null,
          pages: 0,
          fetchedRows: 0,
          storedRows: manifest.rows,
          skippedOpen: 0,
          rejected: {},
          rejectedRows: [],
          duplicates: [],
          outOfOrder: [],
          changed: [],
          gaps: [],
          gapsTotal: manifest.gaps.length,
          end,
          watermark: manifest.watermark,
          objectsWritten: 0,
          partitionsWritten: [],
          manifest: null,
          attempt: ctx.info.attempt,
        };

        let pending: RawCandle[] = [];
        let pendingOutOfOrder: number[] = [];
        let flushFrom = start;
        const flush = async (coveredTo: number) => {
          const batch = validateCandles(pending, input.timeframe);
          batch.outOfOrder = [...new Set([...batch.outOfOrder, ...pendingOutOfOrder])].sort((a, b) => a - b);
          const merged = await mergeIntoLake(store, series, batch, { source: `ccxt:${settings.id}`, fetched: { from: flushFrom, to: coveredTo }, differing: 'replace' });
          for (const r of batch.rejected) result.rejected[r.reason] = (result.rejected[r.reason] ?? 0) + 1;
          result.rejectedRows.push(...batch.rejected.slice(0, MAX_REPORTED_ROWS - result.rejectedRows.length));
          result.duplicates.push(...batch.duplicates);
          result.outOfOrder.push(...batch.outOfOrder);
          result.changed.push(...merged.changed);
          result.objectsWritten += merged.objectsWritten;
          result.partitionsWritten.push(...merged.partitionsWritten.filter((m) => !result.partitionsWritten.includes(m)));
          result.storedRows = merged.manifest.rows;
          result.watermark = merged.manifest.watermark;
          result.gaps = merged.manifest.gaps.filter((g) => g.to >= start && g.from < end);
          result.gapsTotal = merged.manifest.gaps.length;
          result.manifest = merged.manifestRef;
          pending = [];
          pendingOutOfOrder = [];
          flushFrom = coveredTo + barMs;
        };

        let cursor = start;
        let exhausted = false; // the exchange has nothing more before `end`
        // Bounded: every page moves the cursor forward; a short-paging exchange gets 4x the pages.
        const maxPages = 4 * Math.ceil((end - start) / barMs / limit) + 2;
        while (cursor < end && result.pages < maxPages) {
          const { candles: page, rawOpenTimes } = await fetchOHLCVPage(ex, input.symbol, input.timeframe, cursor, limit, { until: end - 1 });
          pendingOutOfOrder.push(...outOfOrderTimes(rawOpenTimes));
          result.pages += 1;
          let maxTs = -Infinity;
          for (const c of page) {
            const ts = c[0];
            if (typeof ts === 'number' && ts >= end) {
              if (ts + barMs > now) result.skippedOpen += 1;
              continue;
            }
            if (typeof ts === 'number') maxTs = Math.max(maxTs, ts);
            pending.push({ ts, open: c[1], high: c[2], low: c[3], close: c[4], volume: c[5] });
          }
          result.fetchedRows += page.length;
          ctx.heartbeat({ cursor, pages: result.pages, fetched: result.fetchedRows });
          if (page.length === 0 || !Number.isFinite(maxTs)) {
            exhausted = true;
            break;
          }
          const next = Math.floor(maxTs / barMs) * barMs + barMs;
          if (next <= cursor) break;
          cursor = next;
          if (pending.length >= flushRows && cursor < end) await flush(cursor - barMs);
        }
        // Covered up to the last bar asked for: the whole window when the exchange had no more.
        const coveredTo = exhausted || cursor >= end ? end - barMs : cursor - barMs;
        if (pending.length > 0 || start < end) await flush(coveredTo);
        if (!result.manifest) result.manifest = (await readManifest(store, series)).ref;
        const implied = await refreshImplied(store, cfg, input, start, now, (d) => ctx.heartbeat(d));
        return implied ? { ...result, implied } : result;
      } catch (err) {
        throw toActivityError(err, errCtx);
      }
    },
  };
}
