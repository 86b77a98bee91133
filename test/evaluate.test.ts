/**
 * The evaluate stage end to end: fixture models and features in the real MinIO, the activity run by
 * the real TypeScript worker through a Temporal workflow from a plan by reference, and the written
 * oos.parquet, metrics.json, report and rewritten cards checked (metrics re-derived from
 * oos.parquet in SQL). Fold 0 is the validation fold, fold 1 the holdout.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import type { FitInput, PlanDocument } from '../contracts/types';
import { fitQlikeWeights } from '../lib/evaluation/ensemble';
import { qlike } from '../lib/metrics/loss';
import { queryRows, sqlString, withDuck } from '../lib/platform/duckdb';
import { evaluateRun, type EvaluateInput, type MetricsDocument } from '../lib/evaluation';
import { layout } from '../lib/platform/layout';
import { ArtifactStore, type ObjectRef } from '../lib/platform/store';
import { connectClient } from '../lib/platform/temporal';
import { taskQueues, volcastConfig } from '../temporal.config';
import { startWorker, stopWorker, type LocalWorker } from '../workers/local';
import { fixtureModels, fixtureSeries, uploadFixtures, type FixtureManifest, type UploadedModel } from './fixtures/models';
import { testConfig, uid } from './helpers';
import { evaluateWorkflow } from '../workflows';

const REGIME = { q1: 0.0045, q2: 0.0075, n: 100 };
const SPECS = ['persistence', 'har_rv', 'log_har', 'lstm'];

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
      folds: fx.folds.map((f, i) => ({ ...f, holdout: i === fx.folds.length - 1, regime: REGIME })),
      models: models.map((m) => ({ name: m.name, kind: m.kind, fold: m.fold, modelId: m.modelId, modelRef: m.modelRef, cardRef: m.cardRef })),
      incumbent: 'log_har',
      gates: { ...volcastConfig.promotion, minHoldoutWindows: 0 },
    };
    return { input, models };
  }

  /** The fixture as a plan (what planTraining writes): every fold fit's keys, in fitIndex order. */
  async function planOf(input: EvaluateInput): Promise<ObjectRef> {
    const fits = fx.folds.flatMap((f) =>
      SPECS.map((name) => {
        const m = input.models.find((x) => x.name === name && x.fold === f.fold)!;
        return { modelId: m.modelId, model: { name, kind: m.kind, params: {} }, keys: { model: m.modelRef.key, card: m.cardRef.key } } as unknown as FitInput;
      }),
    );
    const plan = {
      version: 2, runId: input.runId, series: input.series, target: input.target, featuresRef: input.featuresRef, featureSetId: 'fs-fixture',
      specs: SPECS.map((name) => ({ name, kind: name, params: {} })), ensembles: [], incumbent: 'log_har',
      folds: input.folds.map((f) => ({ ...f, train: { startTs: 0, endTs: f.test.startTs } })), fits,
    } as unknown as PlanDocument;
    return store.putJson(layout.run(input.runId, 'plan.json'), plan);
  }

  async function oosRows(ref: ObjectRef) {
    const path = await store.getFile(ref);
    return withDuck((db) => queryRows<{ ts: bigint; fold: number; model: string; actual: number | null; forecast: number; sigma: number | null }>(db, `SELECT * FROM read_parquet(${sqlString(path)})`));
  }

  it('through a workflow, from a plan: parity into the cards, oos.parquet, metrics.json (segments, gate report) and the HTML report', async () => {
    const { input, models } = await setup(uid('ev'));
    const planRef = await planOf(input);
    const handle = await client.workflow.start(evaluateWorkflow, { taskQueue: taskQueues.cpu, workflowId: `test-${input.runId}`, args: [{ runId: input.runId, planRef, failures: [], served: null, gates: input.gates }] });
    const r = await handle.result();
    assert.equal(r.oosRef.key, layout.run(input.runId, 'oos.parquet'));
    assert.equal(r.metricsRef.key, layout.run(input.runId, 'metrics.json'));
    assert.equal(r.reportRef.key, layout.run(input.runId, 'report/index.html'));
    assert.ok(JSON.stringify(r).length < 20_000, 'the result is small metadata');

    // Leaderboard: every model once, ranked by validation QLIKE (the selection), all complete.
    assert.deepEqual(r.leaderboard.map((x) => x.model).sort(), ['har_rv', 'log_har', 'lstm', 'persistence']);
    assert.ok(r.leaderboard.every((x, i) => i === 0 || r.leaderboard[i - 1]!.validationQlike! <= x.validationQlike!));
    assert.ok(r.leaderboard.every((x) => x.parityPassed && x.complete && x.failedFolds.length === 0));
    assert.equal(r.leaderboard.find((x) => x.model === 'log_har')!.role, 'incumbent');
    const baselines = r.leaderboard.filter((x) => x.kind !== 'lstm');
    assert.equal(r.bestBaseline!.model, baselines[0]!.model, 'the best baseline is chosen on the validation fold');

    // Cards now carry parity, every other field as the trainer wrote it.
    const doc = await store.getJson<MetricsDocument>(r.metricsRef);
    const parity = doc.models.flatMap((m) => m.parity);
    assert.equal(parity.length, models.length);
    for (const p of parity) {
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

    // metrics.json: validation (fold 0) and holdout (fold 1) QLIKE re-derived from oos.parquet in SQL on each segment's common rows.
    const path = await store.getFile(r.oosRef);
    const sql = await withDuck((db) =>
      queryRows<{ model: string; fold: number; n: bigint; qlike: number }>(
        db,
        `WITH o AS (SELECT * FROM read_parquet(${sqlString(path)})),
              c AS (SELECT ts FROM o WHERE actual IS NOT NULL GROUP BY ts HAVING count(*) = 4)
         SELECT model, fold, count(*) AS n,
                avg(greatest(actual*actual, 1e-12)/greatest(forecast*forecast, 1e-12) - ln(greatest(actual*actual, 1e-12)/greatest(forecast*forecast, 1e-12)) - 1) AS qlike
         FROM o JOIN c USING (ts) GROUP BY model, fold`,
      ),
    );
    for (const s of sql) {
      const m = doc.models.find((x) => x.name === s.model)!;
      const seg = s.fold === 1 ? m.holdout! : m.validation!;
      assert.equal(seg.rows, Number(s.n));
      assert.ok(Math.abs(seg.qlike - s.qlike) <= 1e-9 * s.qlike, `${s.model} fold ${s.fold}: ${seg.qlike} vs ${s.qlike}`);
    }
    assert.equal(doc.commonRows.validation + doc.commonRows.holdout, doc.commonRows.overall);
    for (const m of doc.models) {
      assert.equal(m.perFold.length, 2);
      assert.equal(m.dm.vsHarRv === null, m.name === 'har_rv');
      assert.equal(m.dm.vsIncumbent === null, m.name === 'log_har');
      assert.ok(m.overall!.regime && m.overall!.regime.confusion.flat().reduce((a, b) => a + b, 0) === m.overall!.rows);
      assert.ok(m.overall!.direction.rows > 0 && m.overall!.direction.rows <= m.overall!.rows);
      assert.equal(m.overall!.intervals !== null, m.name === 'log_har');
    }
    assert.equal(doc.harRv, 'har_rv');
    assert.equal(doc.incumbent, 'log_har');
    // The gates' report: holdout statistics, SPA of the other eligible specs against the incumbent.
    assert.equal(doc.gate.holdoutRows, doc.commonRows.holdout);
    assert.equal(doc.gate.incumbentJudged, true);
    assert.equal(doc.gate.spa!.benchmark, 'log_har');
    assert.equal(doc.gate.spa!.candidates, 3);
    assert.ok(doc.gate.spa!.pConsistent >= 0 && doc.gate.spa!.pConsistent <= 1);
    assert.ok(doc.gate.candidates.every((c) => c.eligible));
    const lstmDm = doc.models.find((x) => x.name === 'lstm')!.dm.vsIncumbent!;
    assert.equal(lstmDm.n, doc.commonRows.holdout, 'DM on the holdout rows only');

    // The report: self-contained, the leaderboard and the plots as inline SVG.
    const html = (await store.getBuffer(r.reportRef)).toString();
    assert.match(html, /<table class="board">/);
    for (const m of r.leaderboard) assert.ok(html.includes(`<td>${m.model}`), m.model);
    assert.ok((html.match(/<svg/g) ?? []).length >= 5, 'lines, scatter, histogram, rolling, intervals');
    assert.doesNotMatch(html, /<script|src="http/);
  });

  it('a fold that fails parity or its fit is shown as such, not dropped; the served artifact is scored beside its refit; re-runs write identical objects', async () => {
    const { input, models } = await setup(uid('ev2'));
    // Tamper with the LSTM fold-1 card: its trainer predictions no longer match the graph.
    const victim = models.find((m) => m.name === 'lstm' && m.fold === 1)!;
    const card = JSON.parse(readFileSync(victim.card, 'utf8'));
    card.trainerPredictions.vol = card.trainerPredictions.vol.map((v: number) => v * 1.01);
    const tamperedRef = await store.putJson(victim.cardRef.key, card);
    const harFold0 = models.find((m) => m.name === 'har_rv' && m.fold === 0)!;
    const run: EvaluateInput = {
      ...input,
      // persistence's fold-0 fit failed: no artifact, only the failure.
      models: input.models.filter((m) => !(m.name === 'persistence' && m.fold === 0)).map((m) => (m.modelId === victim.modelId ? { ...m, cardRef: tamperedRef } : m)),
      failures: [{ name: 'persistence', fold: 0, error: 'FitError: too few training rows' }],
      served: { name: 'har_rv', kind: 'har_rv', modelId: harFold0.modelId, modelRef: harFold0.modelRef, cardRef: harFold0.cardRef, trainEndTs: fx.folds[1]!.test.startTs + 24 * 3_600_000 },
      ensembles: [{ name: 'ens_qlike', method: 'qlike', members: ['har_rv', 'log_har'] }, { name: 'ens_select', method: 'select', members: ['har_rv', 'log_har'] }],
    };
    const r1 = await evaluateRun(store, run);
    const lstm = r1.leaderboard.find((x) => x.model === 'lstm')!;
    assert.deepEqual([lstm.complete, lstm.parityPassed, lstm.holdoutQlike], [false, false, null]);
    assert.equal(lstm.failedFolds[0]!.fold, 1);
    assert.match(lstm.failedFolds[0]!.reason, /^parity failed: .*max relative error/);
    assert.ok(lstm.validationQlike !== null, 'its validation fold still counts');
    const persistence = r1.leaderboard.find((x) => x.model === 'persistence')!;
    assert.deepEqual(persistence.failedFolds, [{ fold: 0, reason: 'fit failed: FitError: too few training rows' }]);
    assert.equal(persistence.validationQlike, null);
    const doc = await store.getJson<MetricsDocument>(r1.metricsRef);
    assert.match(doc.gate.candidates.find((c) => c.name === 'lstm')!.why!, /failed on fold\(s\) 1 \(parity failed/);
    assert.equal(doc.gate.candidates.find((c) => c.name === 'lstm')!.eligible, false);
    // Common rows: every model that completed the segment (lstm still counts on validation).
    assert.equal(doc.models.find((m) => m.name === 'lstm')!.validation!.rows, doc.commonRows.validation);

    // The served artifact on the holdout: all rows, and those after its training end.
    assert.equal(doc.served!.name, 'har_rv');
    assert.ok(doc.served!.holdout!.rows > doc.served!.outOfSample!.rows && doc.served!.outOfSample!.rows > 0);
    assert.equal(r1.leaderboard.some((x) => x.model.startsWith('served')), false, 'never in the leaderboard');

    // Ensemble weights: fold 0 equal (nothing earlier), fold 1 fit on fold 0's out-of-sample rows only.
    const ens = doc.ensembles!.find((e) => e.name === 'ens_qlike')!;
    assert.deepEqual(ens.folds[0]!.weights, { har_rv: 0.5, log_har: 0.5 });
    assert.equal(ens.folds[0]!.weightsFitOn, null);
    assert.deepEqual(ens.folds[1]!.weightsFitOn!.folds, [0]);
    const oos = await oosRows(r1.oosRef);
    const h = fx.folds[1]!.test.startTs;
    const ts = oos.filter((x) => x.model === 'har_rv' && x.fold === 0 && x.actual !== null && Number(x.ts) + 3_600_000 < h).map((x) => Number(x.ts));
    const at = (m: string) => new Map(oos.filter((x) => x.model === m && x.fold === 0).map((x) => [Number(x.ts), x]));
    const hr = at('har_rv');
    const lh = at('log_har');
    const common = ts.filter((t) => lh.has(t));
    const w = fitQlikeWeights(common.map((t) => hr.get(t)!.actual!), [common.map((t) => hr.get(t)!.forecast), common.map((t) => lh.get(t)!.forecast)]);
    assert.ok(Math.abs(ens.folds[1]!.weights.har_rv! - w[0]!) < 1e-12, `${ens.folds[1]!.weights.har_rv} vs ${w[0]}`);
    // select: fold 0 takes the first member; fold 1 the member with the lower QLIKE on the same earlier rows.
    const sel = doc.ensembles!.find((e) => e.name === 'ens_select')!;
    assert.deepEqual(sel.folds[0]!.weights, { har_rv: 1, log_har: 0 });
    const q = (m: Map<number, { actual: number | null; forecast: number }>) => qlike(common.map((t) => m.get(t)!.actual!), common.map((t) => m.get(t)!.forecast));
    const pick = q(hr) <= q(lh) ? 'har_rv' : 'log_har';
    assert.deepEqual(sel.folds[1]!.weights, { har_rv: pick === 'har_rv' ? 1 : 0, log_har: pick === 'log_har' ? 1 : 0 });
    const chosen = new Map(oos.filter((x) => x.model === pick && x.fold === 1).map((x) => [Number(x.ts), x.forecast]));
    for (const r of oos.filter((x) => x.model === 'ens_select' && x.fold === 1)) assert.ok(Math.abs(r.forecast - chosen.get(Number(r.ts))!) <= 1e-12 * r.forecast);

    // Same input again (the cards were rewritten meanwhile): the same bytes everywhere.
    const r2 = await evaluateRun(store, run);
    assert.equal(r2.metricsRef.sha256, r1.metricsRef.sha256);
    assert.equal(r2.reportRef.sha256, r1.reportRef.sha256);
  });
});
