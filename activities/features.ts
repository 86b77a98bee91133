/**
 * buildFeatures (volcast-cpu): candle Parquet from the lake -> one feature Parquet per series under
 * features/{featureSetId}/, plus a manifest. Wraps the local builder (lib/features/build.ts) with
 * downloads (sha256-verified, cached) and uploads. Same candles, same featureSetId, same keys: a
 * retried attempt rewrites the same objects.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { BuildFeaturesInput, BuildFeaturesResult, FeatureSetManifest } from '../contracts/activities';
import type { FeatureSetImplied } from '../contracts/types';
import { impliedFor, type ImpliedInput } from '../lib/features/implied';
import type { VolcastConfig } from '../lib/platform/config';
import { buildFeatureFiles, definitionsSha, FeatureInputError, seriesKey, type PreviousFeatures, type SeriesInput } from '../lib/features/build';
import { readManifest } from '../lib/candles/lake';
import { layout, LayoutError, type Series } from '../lib/platform/layout';
import type { ArtifactStore } from '../lib/platform/store';

/** Heartbeats inside an activity; a no-op when the same code runs in the CLI. */
function beat(details: unknown): void {
  try {
    Context.current().heartbeat(details);
  } catch {
    /* not in an activity */
  }
}

/**
 * Local, sha256-verified copies of the candle partitions the series' manifest names (the last
 * `recentMonths` months when given), in month order. The manifest is the lake's commit point: objects
 * it does not name (a crashed or losing writer's, or months replaced since) are never read.
 */
export async function downloadCandles(store: ArtifactStore, series: Series, recentMonths?: number): Promise<string[]> {
  const { manifest, ref } = await readManifest(store, series);
  const months = Object.keys(manifest.partitions).sort();
  const keep = recentMonths ? months.slice(-recentMonths) : months;
  if (!keep.length) throw new FeatureInputError(`no candles for ${seriesKey(series)}: ${ref ? 'its manifest names no partition' : 'no manifest'} at ${layout.candlesManifest(series)}`);
  const files: string[] = [];
  for (const month of keep) {
    const p = manifest.partitions[month]!;
    files.push(await store.getFile({ bucket: store.bucket, key: p.key, sha256: p.sha256 }));
    beat({ downloaded: p.key });
  }
  return files;
}

async function previousSet(store: ArtifactStore, ref: BuildFeaturesInput['previous']): Promise<PreviousFeatures | undefined> {
  if (!ref) return undefined;
  const m = await store.getJson<FeatureSetManifest & FeatureSetImplied>(ref);
  const files: Record<string, string> = {};
  for (const s of m.series) files[s.key] = await store.getFile(s.ref);
  const impliedWatermark = Object.fromEntries(Object.entries(m.implied ?? {}).map(([k, v]) => [k, v.watermark]));
  return { featureSetId: m.featureSetId, definitionsSha: m.definitionsSha, files, watermark: m.watermark, impliedWatermark };
}

/**
 * The implied-volatility index of each series configured with one (features.implied), as local
 * copies of its lake partitions. An index the lake does not hold (never imported or ingested) is left
 * out: that series' implied features are NULL, as before the index starts, and the plan leaves them out.
 */
export async function impliedInputs(store: ArtifactStore, implied: Record<string, Series>, universe: Series[]): Promise<ImpliedInput[]> {
  const out: ImpliedInput[] = [];
  for (const { series, index } of impliedFor(implied, universe)) {
    const { manifest } = await readManifest(store, index);
    if (!Object.keys(manifest.partitions).length) continue;
    out.push({ series, index, files: await downloadCandles(store, index) });
  }
  return out;
}

export type BuildFeatures = (input: BuildFeaturesInput) => Promise<BuildFeaturesResult>;

export function featureActivities(store: ArtifactStore, cfg?: VolcastConfig) {
  return {
    async buildFeatures(input: BuildFeaturesInput): Promise<BuildFeaturesResult> {
      const work = await mkdtemp(join(tmpdir(), 'volcast-features-'));
      try {
        const inputs: SeriesInput[] = [];
        for (const series of input.series) inputs.push({ series, files: await downloadCandles(store, series, input.recentMonths) });
        const previous = await previousSet(store, input.previous);
        const implied = await impliedInputs(store, cfg?.features.implied ?? {}, input.series);
        beat({ building: input.series.length });
        const built = await buildFeatureFiles(inputs, { outDir: join(work, 'out'), previous, implied });
        const outputs = [];
        for (const s of built.series) {
          const ref = await store.putFile(layout.features(built.featureSetId, s.series), s.path, 'application/vnd.apache.parquet');
          outputs.push({ key: s.key, series: s.series, ref, rows: s.rows, watermark: s.watermark });
          beat({ uploaded: ref.key });
        }
        const manifest: FeatureSetManifest & FeatureSetImplied = {
          featureSetId: built.featureSetId,
          definitionsSha: definitionsSha(),
          columns: built.columns,
          rows: built.rows,
          watermark: built.watermark,
          series: outputs,
          ...(implied.length
            ? { implied: Object.fromEntries(implied.map((i) => [seriesKey(i.series), { index: `${i.index.exchange}:${i.index.symbol}:${i.index.timeframe}`, watermark: built.impliedWatermark[seriesKey(i.series)]! }])) }
            : {}),
        };
        // The manifest last: its presence means every series object is in place.
        const ref = await store.putJson(layout.featuresManifest(built.featureSetId), manifest);
        return {
          ref,
          featureSetId: built.featureSetId,
          rows: built.rows,
          columns: built.columns,
          watermark: built.watermark,
          series: outputs.map(({ series, ref: r, rows, watermark }) => ({ series, ref: r, rows, watermark })),
          definitionsSha: manifest.definitionsSha,
          mode: built.mode.kind,
          recomputedRows: built.mode.kind === 'incremental' ? built.mode.recomputed : built.rows,
        };
      } catch (err) {
        // Bad input (missing candles, duplicates, bad symbol) is permanent: fail at once.
        if (err instanceof FeatureInputError || err instanceof LayoutError) {
          throw ApplicationFailure.nonRetryable(err.message, err.name);
        }
        throw err;
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    },
  };
}
