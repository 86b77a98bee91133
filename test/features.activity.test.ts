/**
 * buildFeatures through a real workflow: real Temporal dev server, real MinIO, the cpu worker as its
 * own process; candle fixtures written in the lake layout from the real CSVs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import type { BuildFeaturesInput, BuildFeaturesResult } from '../contracts/activities';
import type { VolcastConfig } from '../lib/platform/config';
import { emptyManifest, type CandleManifest } from '../lib/candles/lake';
import { impliedInputs } from '../activities/features';
import { buildFeatureFiles } from '../lib/features/build';
import { layout, type Series } from '../lib/platform/layout';
import { ArtifactStore } from '../lib/platform/store';
import { connectClient } from '../lib/platform/temporal';
import { taskQueues } from '../temporal.config';
import { startWorker, stopWorker, type LocalWorker } from '../workers/local';
import { candleInputs, readRows, tempDir } from './featureFixtures';
import { testConfig, uid } from './helpers';
import { buildFeaturesWorkflow } from '../workflows';

const SYMBOLS = ['BTC/USDT', 'ETH/USDT'];

describe('buildFeatures activity (real Temporal + MinIO + cpu worker)', () => {
  let cfg: VolcastConfig;
  let client: Client;
  let store: ArtifactStore;
  let worker: LocalWorker | undefined;
  const exchange = uid('fx').toLowerCase();
  const seriesOf = (symbol: string): Series => ({ exchange, symbol, timeframe: '1h' });

  /** Writes the months of [from, to) of each symbol as lake objects; returns the local inputs too. */
  async function writeCandles(from: string, to: string) {
    const inputs = await candleInputs(tempDir('act-candles'), SYMBOLS, { from, to });
    for (const input of inputs) {
      const series = seriesOf(input.series.symbol);
      const partitions: CandleManifest['partitions'] = {};
      for (const file of input.files) {
        const month = file.split('/').at(-1)!.replace('.parquet', '');
        const ref = await store.putFile(layout.candles(series, month), file);
        partitions[month] = { key: ref.key, sha256: ref.sha256, rows: 0 };
      }
      // The lake's commit point: the builder reads the partitions the manifest names, nothing else.
      await store.putJson(layout.candlesManifest(series), { ...emptyManifest(series), partitions });
    }
    return inputs.map((i) => ({ ...i, series: seriesOf(i.series.symbol) }));
  }

  function run(args: BuildFeaturesInput): Promise<BuildFeaturesResult> {
    return client.workflow.execute(buildFeaturesWorkflow, { taskQueue: taskQueues.cpu, workflowId: uid('test-features'), args: [args] });
  }

  before(async () => {
    cfg = testConfig();
    store = new ArtifactStore(cfg);
    worker = await startWorker(cfg, 'cpu');
    client = await connectClient(cfg);
  });

  after(async () => {
    if (worker) await stopWorker(worker);
    await client?.connection.close();
  });

  it('builds the feature set in the layout and matches a local build; then extends it incrementally', async () => {
    const first = await writeCandles('2021-01-01T00:00:00Z', '2021-03-01T00:00:00Z');
    const r1 = await run({ series: SYMBOLS.map(seriesOf) });
    assert.equal(r1.mode, 'full');
    assert.equal(r1.ref.key, layout.featuresManifest(r1.featureSetId));
    // The activity reads the configured implied-volatility index of BTC/USDT from the lake when
    // another suite has stored one (features.implied is keyed by symbol): the local build gets the
    // same input, so the two builds are the same query on the same rows.
    const implied = await impliedInputs(store, cfg.features.implied, SYMBOLS.map(seriesOf));
    const local1 = await buildFeatureFiles(first, { outDir: join(tempDir('act-local'), 'out'), implied });
    assert.equal(r1.featureSetId, local1.featureSetId);
    assert.equal(r1.rows, local1.rows);
    assert.deepEqual(r1.columns, local1.columns);
    for (const [k, s] of r1.series.entries()) {
      assert.equal(s.ref.key, layout.features(r1.featureSetId, seriesOf(SYMBOLS[k]!)));
      assert.deepEqual(await readRows(await store.getFile(s.ref)), await readRows(local1.series[k]!.path));
    }

    // A month more of candles: only the tail is recomputed, and the rows are a full rebuild's.
    const all = await writeCandles('2021-01-01T00:00:00Z', '2021-04-01T00:00:00Z');
    const r2 = await run({ series: SYMBOLS.map(seriesOf), previous: r1.ref });
    assert.equal(r2.mode, 'incremental');
    assert.notEqual(r2.featureSetId, r1.featureSetId);
    const local2 = await buildFeatureFiles(all, { outDir: join(tempDir('act-local2'), 'out'), implied });
    assert.equal(r2.featureSetId, local2.featureSetId);
    assert.ok(r2.recomputedRows < r2.rows / 2, `recomputed ${r2.recomputedRows} of ${r2.rows}`);
    for (const [k, s] of r2.series.entries()) {
      assert.deepEqual(await readRows(await store.getFile(s.ref)), await readRows(local2.series[k]!.path));
    }
  });

  it('a series without candles fails at once, non-retryable', async () => {
    const err = await run({ series: [seriesOf('XRP/USDT')] }).then(
      () => assert.fail('expected a failure'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError);
    assert.match(String(((err.cause as Error).cause as Error | undefined)?.message), /no candles for/);
  });
});
