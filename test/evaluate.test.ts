/**
 * The evaluate activity end to end: fixture models and features in the real MinIO, the activity run
 * by the real TypeScript worker through a Temporal workflow, and the written oos.parquet,
 * metrics.json, report and rewritten cards checked (metrics re-derived from oos.parquet in SQL).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { queryRows, sqlString, withDuck } from '../lib/platform/duckdb';
import { evaluateRun, type EvaluateInput, type EvaluateResult, type MetricsDocument } from '../lib/evaluation';
import { layout } from '../lib/platform/layout';
import { ArtifactStore, type ObjectRef } from '../lib/platform/store';
import { connectClient } from '../lib/platform/temporal';
import { taskQueues } from '../temporal.config';
import { startWorker, stopWorker, type LocalWorker } from '../workers/local';
import { fixtureModels, fixtureSeries, uploadFixtures, type FixtureManifest, type UploadedModel } from './fixtures/models';
import { testConfig, uid } from './helpers';
import { evaluateWorkflow } from '../workflows';

describe('evaluate (real MinIO, DuckDB, onnxruntime-node, Temporal worker)', () => {
  let store: ArtifactStore;
  let fx: FixtureManifest;
  let client: Client;
  let worker: LocalWorker | undefined;

  before(async () => {
    const cfg = testConfig();
    fx = fixtureModels();
    store = new ArtifactStore(cfg, { cacheDir: mkdtempSync(join(tmpdir(), 'volcast-eval-')) });
    await store.ensureBucket();
    [worker, client] = await Promise.all([startWorker(cfg, 'cpu'), connectClient(cfg)]);
  });
  after(async () => {
    if (worker) await stopWorker(worker);
    await client?.connection.close();
  });

  async function setup(prefix: string): Promise<{ input: EvaluateInput; models: UploadedModel[] }> {
    const { featuresRef, models } = await uploadFixtures(store, fx, prefix, `fs-${prefix}`);
    const input: EvaluateInput = {
      runId: uid('run'),
      series: fixtureSeries,
      target: fx.target,
      featuresRef,
      folds: fx.folds,
      models: models.map((m) => ({ name: m.name, kind: m.kind, fold: m.fold, modelId: m.modelId, modelRef: m.modelRef, cardRef: m.cardRef })),
      champion: { name: 'log_har' },
      regimeThresholds: { q1: 0.0045, q2: 0.0075 },
    };
    return { input, models };
  }

  async function oosRows(ref: ObjectRef) {
    const path = await store.getFile(ref);
    return withDuck((db) => queryRows<{ ts: bigint; fold: number; model: string; actual: number | null; forecast: number; sigma: number | null }>(db, `SELECT * FROM read_parquet(${sqlString(path)})`));
  }

  it('through a workflow: parity into the cards, oos.parquet, metrics.json and the HTML report', async () => {
    const { input, models } = await setup(uid('ev'));
    const handle = await client.workflow.start(evaluateWorkflow, { taskQueue: taskQueues.cpu, workflowId: `test-${input.runId}`, args: [input] });
    const r = (await handle.result());
    assert.equal(r.oosRef.key, layout.run(input.runId, 'oos.parquet'));
    assert.equal(r.metricsRef.key, layout.run(input.runId, 'metrics.json'));
    assert.equal(r.reportRef.key, layout.run(input.runId, 'report/index.html'));
    assert.ok(JSON.stringify(r).length < 20_000, 'the result is small metadata');

    // Leaderboard: every model once, sorted by QLIKE, all parity passed.
    assert.deepEqual(r.leaderboard.map((x) => x.model).sort(), ['har_rv', 'log_har', 'lstm', 'persistence']);
    assert.ok(r.leaderboard.every((x, i) => i === 0 || r.leaderboard[i - 1]!.qlike <= x.qlike));
    assert.ok(r.leaderboard.every((x) => x.parityPassed));
    const baselines = r.leaderboard.filter((x) => x.kind !== 'lstm');
    assert.equal(r.bestBaseline!.model, baselines[0]!.model);

    // Cards now carry parity, every other field as the trainer wrote it.
    assert.equal(r.parity.length, models.length);
    for (const p of r.parity) {
      const card = await store.getJson<Record<string, any>>(p.cardRef);
      const original = JSON.parse(readFileSync(models.find((m) => m.modelId === p.modelId)!.card, 'utf8'));
      assert.deepEqual({ ...card, parity: null }, original);
      assert.equal(card.parity.passed, true);
      assert.ok(card.parity.maxRelError <= 1e-5);
    }

    // oos.parquet: each model's rows equal the trainer's own predictions (float32) and the target.
    const rows = await oosRows(r.oosRef);
    for (const m of models) {
      const card = JSON.parse(readFileSync(m.card, 'utf8'));
      const mine = rows.filter((x) => x.model === m.name && x.fold === m.fold);
      assert.deepEqual(mine.map((x) => Number(x.ts)), card.trainerPredictions.ts);
      mine.forEach((x, i) => assert.ok(Math.abs(x.forecast - card.trainerPredictions.vol[i]) <= 1e-5 * card.trainerPredictions.vol[i]));
      assert.equal(mine.every((x) => (x.sigma !== null) === (m.name === 'log_har')), true);
    }

    // metrics.json: QLIKE re-derived from oos.parquet in SQL on the common rows.
    const doc = await store.getJson<MetricsDocument>(r.metricsRef);
    const path = await store.getFile(r.oosRef);
    const sql = await withDuck((db) =>
      queryRows<{ model: string; n: bigint; qlike: number }>(
        db,
        `WITH o AS (SELECT * FROM read_parquet(${sqlString(path)})),
              c AS (SELECT ts FROM o WHERE actual IS NOT NULL GROUP BY ts HAVING count(*) = 4)
         SELECT model, count(*) AS n,
                avg(greatest(actual*actual, 1e-12)/greatest(forecast*forecast, 1e-12) - ln(greatest(actual*actual, 1e-12)/greatest(forecast*forecast, 1e-12)) - 1) AS qlike
         FROM o JOIN c USING (ts) GROUP BY model`,
      ),
    );
    for (const s of sql) {
      const m = doc.models.find((x) => x.name === s.model)!;
      assert.equal(m.overall.rows, Number(s.n));
      assert.ok(Math.abs(m.overall.qlike - s.qlike) <= 1e-9 * s.qlike, `${s.model}: ${m.overall.qlike} vs ${s.qlike}`);
    }
    assert.equal(doc.commonRows.overall, Number(sql[0]!.n));
    assert.equal(doc.commonRows.perFold.reduce((a, b) => a + b.rows, 0), doc.commonRows.overall);
    for (const m of doc.models) {
      assert.equal(m.perFold.length, 2);
      assert.equal(m.dm.vsHarRv === null, m.name === 'har_rv');
      assert.equal(m.dm.vsChampion === null, m.name === 'log_har');
      assert.ok(m.overall.regime && m.overall.regime.confusion.flat().reduce((a, b) => a + b, 0) === m.overall.rows);
      assert.ok(m.overall.direction.rows > 0 && m.overall.direction.rows <= m.overall.rows);
      assert.equal(m.overall.intervals !== null, m.name === 'log_har');
    }
    assert.equal(doc.harRv, 'har_rv');
    assert.equal(doc.champion, 'log_har');
    assert.ok(doc.models.find((x) => x.name === 'lstm')!.dm.vsHarRv!.lag >= 1);

    // The report: self-contained, the leaderboard and the plots as inline SVG.
    const html = (await store.getBuffer(r.reportRef)).toString();
    assert.match(html, /<table class="board">/);
    for (const m of r.leaderboard) assert.ok(html.includes(`<td>${m.model}`), m.model);
    assert.ok((html.match(/<svg/g) ?? []).length >= 5, 'lines, scatter, histogram, rolling, intervals');
    assert.doesNotMatch(html, /<script|src="http/);
  });

  it('a model failing parity is flagged; the champion given by its own artifacts; a re-run writes identical objects', async () => {
    const { input, models } = await setup(uid('ev2'));
    // Tamper with the LSTM fold-1 card: its trainer predictions no longer match the graph.
    const victim = models.find((m) => m.name === 'lstm' && m.fold === 1)!;
    const card = JSON.parse(readFileSync(victim.card, 'utf8'));
    card.trainerPredictions.vol = card.trainerPredictions.vol.map((v: number) => v * 1.01);
    const tamperedRef = await store.putJson(victim.cardRef.key, card);
    const har = models.filter((m) => m.name === 'har_rv');
    const run: EvaluateInput = {
      ...input,
      models: input.models.map((m) => (m.modelId === victim.modelId ? { ...m, cardRef: tamperedRef } : m)),
      champion: { name: 'har_rv', models: har.map((m) => ({ kind: m.kind, fold: m.fold, modelId: m.modelId, modelRef: m.modelRef, cardRef: m.cardRef })) },
    };
    const r1 = await evaluateRun(store, run);
    const lstm = r1.leaderboard.find((x) => x.model === 'lstm')!;
    assert.equal(lstm.parityPassed, false);
    const doc = await store.getJson<MetricsDocument>(r1.metricsRef);
    const p = doc.models.find((m) => m.name === 'lstm')!.parity;
    assert.deepEqual(p.map((x) => x.passed), [true, false]);
    assert.match(p[1]!.reason!, /max relative error/);
    const champ = r1.leaderboard.find((x) => x.model === 'champion:har_rv')!;
    assert.equal(champ.role, 'champion');
    // The champion's artifacts are HAR-RV's own: identical losses, so no DM evidence either way.
    assert.equal(doc.models.find((m) => m.name === 'har_rv')!.dm.vsChampion!.statistic, null);
    assert.equal(doc.bestBaseline!.model === 'champion:har_rv', false);

    // Same input again (the cards were rewritten meanwhile): the same bytes everywhere.
    const r2 = await evaluateRun(store, run);
    assert.equal(r2.metricsRef.sha256, r1.metricsRef.sha256);
    assert.equal(r2.reportRef.sha256, r1.reportRef.sha256);
    assert.deepEqual(r2.parity.map((x) => x.cardRef.sha256), r1.parity.map((x) => x.cardRef.sha256));
  });
});
