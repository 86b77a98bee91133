/** The gates (lib/promotion/gates.ts) and the run's specs (lib/training/plan.ts), as pure functions. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChampionRecord, GateReport, PromotionGates } from '../../contracts/types';
import { decidePromotion } from '../../lib/promotion/gates';
import { incumbentSpec, runSpecs } from '../../lib/training/plan';

const gates: PromotionGates = { primaryLoss: 'qlike', minImprovement: 0.01, dmPValue: 0.05, spaPValue: 0.05 };
type Cand = GateReport['candidates'][number];
const cand = (name: string, kind: string, validation: number, holdout: number, extra: Partial<Cand> = {}): Cand => ({
  name, kind, baseline: ['persistence', 'ewma', 'har_rv', 'log_har', 'har_x', 'garch'].includes(kind), eligible: true, why: null,
  validationQlike: validation, holdoutQlike: holdout, dmVsIncumbent: { statistic: -3, pValue: 0.001 }, dmVsBestBaseline: { statistic: -3, pValue: 0.001 }, ...extra,
});
const report = (candidates: Cand[], extra: Partial<GateReport> = {}): GateReport => ({
  horizonBars: 1, holdoutRows: 240, validationRows: 480, bestBaseline: 'har_x', incumbent: null, incumbentJudged: false, candidates,
  spa: { benchmark: 'har_x', candidates: candidates.length - 1, pLower: 0.001, pConsistent: 0.001, pUpper: 0.001 }, ...extra,
});
const champion = (name: string, kind = name): ChampionRecord => ({
  modelId: `m-${name}`, name, kind, target: 'target_gk_1h', series: { exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h' },
  featureSetId: 'fs', modelRef: { bucket: 'b', key: 'k', sha256: 's' }, cardRef: { bucket: 'b', key: 'c', sha256: 's' },
  runId: 'r0', decidedAt: '2026-01-01T00:00:00.000Z', action: 'bootstrap', reasons: [], loss: 0.3,
});

describe('promotion gates', () => {
  it('no champion: the best baseline serves when no challenger beats it on the holdout', () => {
    const d = decidePromotion({
      gate: report([cand('har_x', 'har_x', 0.30, 0.30), cand('ewma', 'ewma', 0.35, 0.35), cand('lgbm', 'lightgbm', 0.29, 0.2985, { dmVsBestBaseline: { statistic: -0.2, pValue: 0.4 } })]),
      champion: null, gates, unresolvedDataFlags: [],
    });
    assert.deepEqual([d.outcome, d.spec, d.challenger], ['bootstrap', 'har_x', 'lgbm']);
    assert.ok(d.reasons.some((r) => /lgbm: FAIL holdout QLIKE 0.298500 vs har_x 0.300000: 0.50% lower \(needs ≥ 1.0%\)/.test(r)), d.reasons.join('\n'));
    assert.ok(d.reasons.some((r) => /lgbm: FAIL one-sided HLN-DM p vs har_x 0.4000/.test(r)));
  });

  it('no champion: a challenger that passes against the best baseline is the first champion', () => {
    const d = decidePromotion({ gate: report([cand('har_x', 'har_x', 0.30, 0.30), cand('lgbm', 'lightgbm', 0.27, 0.27)]), champion: null, gates, unresolvedDataFlags: [] });
    assert.deepEqual([d.outcome, d.spec], ['promote', 'lgbm']);
  });

  it('the challenger is chosen on the validation folds, not on the holdout', () => {
    // xgb is best on the holdout, lgbm on validation: lgbm is the one judged.
    const d = decidePromotion({
      gate: report([cand('har_x', 'har_x', 0.30, 0.30), cand('lgbm', 'lightgbm', 0.27, 0.29), cand('xgb', 'xgboost', 0.28, 0.20)]),
      champion: null, gates, unresolvedDataFlags: [],
    });
    assert.equal(d.challenger, 'lgbm');
  });

  it('promotes over the incumbent only with the margin, a one-sided DM p below the level and the SPA guard', () => {
    const g = (extra: Partial<Cand>, spa = 0.001) =>
      report([cand('har_x', 'har_x', 0.30, 0.30), cand('lgbm', 'lightgbm', 0.27, 0.27, extra)], { incumbent: 'har_x', incumbentJudged: true, spa: { benchmark: 'har_x', candidates: 1, pLower: spa, pConsistent: spa, pUpper: spa } });
    const ok = decidePromotion({ gate: g({}), champion: champion('har_x'), gates, unresolvedDataFlags: [] });
    assert.deepEqual([ok.outcome, ok.spec], ['promote', 'lgbm']);
    const dm = decidePromotion({ gate: g({ dmVsIncumbent: { statistic: -1, pValue: 0.08 } }), champion: champion('har_x'), gates, unresolvedDataFlags: [] });
    assert.deepEqual([dm.outcome, dm.spec], ['keep', 'har_x']);
    assert.ok(dm.reasons.some((r) => /lgbm: FAIL one-sided HLN-DM p vs har_x 0.0800 \(needs < 0.05\)/.test(r)), dm.reasons.join('\n'));
    const spa = decidePromotion({ gate: g({}, 0.2), champion: champion('har_x'), gates, unresolvedDataFlags: [] });
    assert.equal(spa.outcome, 'keep');
    assert.ok(spa.reasons.some((r) => /FAIL SPA \(best of 1 vs har_x\) consistent p 0.2000/.test(r)));
    const margin = decidePromotion({ gate: report([cand('har_x', 'har_x', 0.30, 0.30), cand('lgbm', 'lightgbm', 0.27, 0.299)], { incumbent: 'har_x', incumbentJudged: true }), champion: champion('har_x'), gates, unresolvedDataFlags: [] });
    assert.equal(margin.outcome, 'keep');
  });

  it('judges against the best baseline too when the incumbent is not one', () => {
    const d = decidePromotion({
      gate: report([cand('har_x', 'har_x', 0.30, 0.25), cand('lstm', 'lstm', 0.29, 0.30), cand('lgbm', 'lightgbm', 0.27, 0.26)], { incumbent: 'lstm', incumbentJudged: true }),
      champion: champion('lstm'), gates, unresolvedDataFlags: [],
    });
    assert.deepEqual([d.outcome, d.spec], ['keep', 'lstm']);
    assert.ok(d.reasons.some((r) => /lgbm: FAIL holdout QLIKE 0.260000 vs har_x 0.250000/.test(r)), d.reasons.join('\n'));
  });

  it('never chooses a spec that failed a fold or parity, and says why', () => {
    const d = decidePromotion({
      gate: report([cand('har_x', 'har_x', 0.30, 0.30), cand('lgbm', 'lightgbm', 0.10, 0.10, { eligible: false, why: 'failed on fold(s) 1 (parity failed: max relative error 1.1e-2 > 1e-5)' })]),
      champion: null, gates, unresolvedDataFlags: [],
    });
    assert.deepEqual([d.outcome, d.spec], ['bootstrap', 'har_x']);
    assert.ok(d.reasons.includes('lgbm: not eligible (failed on fold(s) 1 (parity failed: max relative error 1.1e-2 > 1e-5))'));
  });

  it('an incumbent without a holdout forecast is kept and refreshed: nothing can be judged against it', () => {
    const d = decidePromotion({
      gate: report([cand('har_x', 'har_x', 0.30, 0.30), cand('lstm', 'lstm', 0.31, Number.NaN, { eligible: false, why: 'failed on fold(s) 2 (fit failed: …)', holdoutQlike: null }), cand('lgbm', 'lightgbm', 0.20, 0.20)], { incumbent: 'lstm', incumbentJudged: false }),
      champion: champion('lstm'), gates, unresolvedDataFlags: [],
    });
    assert.deepEqual([d.outcome, d.spec], ['keep', 'lstm']);
    assert.match(d.reasons.at(-1)!, /no holdout forecast .* lstm is kept and refreshed/);
  });

  it('a champion whose spec the run cannot refit keeps serving (no spec to refresh)', () => {
    const d = decidePromotion({ gate: report([cand('har_x', 'har_x', 0.3, 0.3)]), champion: champion('old'), incumbentUnknown: 'champion old was recorded without its spec', gates, unresolvedDataFlags: [] });
    assert.deepEqual([d.outcome, d.spec], ['keep', null]);
    assert.match(d.reasons.at(-1)!, /recorded without its spec; the served artifact m-old stays/);
  });

  it('unresolved data flags block promotion and a first champion, not a refresh', () => {
    const flags = ['3 rejected candle row(s) of BTC/USDT 1h in the run\'s rows'];
    const first = decidePromotion({ gate: report([cand('har_x', 'har_x', 0.3, 0.3)]), champion: null, gates, unresolvedDataFlags: flags });
    assert.deepEqual([first.outcome, first.spec], ['none', null]);
    assert.match(first.reasons.at(-1)!, /unresolved quality flags: 3 rejected candle row/);
    const later = decidePromotion({ gate: report([cand('har_x', 'har_x', 0.3, 0.3), cand('lgbm', 'lightgbm', 0.2, 0.2)], { incumbent: 'har_x', incumbentJudged: true }), champion: champion('har_x'), gates, unresolvedDataFlags: flags });
    assert.deepEqual([later.outcome, later.spec], ['keep', 'har_x']);
  });
});

describe("a run's specs", () => {
  const protocol = {
    models: [{ name: 'har_x', kind: 'har_x', params: {} }, { name: 'lgbm', kind: 'lightgbm', params: { num_leaves: 15 } }],
    ensembles: [{ name: 'ens', method: 'equal' as const, members: ['har_x', 'lgbm'] }],
  };

  it("the champion's spec joins the run when the protocol lacks it (e.g. --models left it out)", () => {
    const r = runSpecs(protocol, { name: 'garch', kind: 'garch', params: {} });
    assert.equal(r.incumbent, 'garch');
    assert.deepEqual(r.specs.map((s) => [s.name, s.origin]), [['har_x', 'protocol'], ['lgbm', 'protocol'], ['garch', 'incumbent']]);
  });

  it('the same spec under the same name is the protocol\'s; the same name with other parameters is <name>@champion', () => {
    assert.equal(runSpecs(protocol, { name: 'lgbm', kind: 'lightgbm', params: { num_leaves: 15 } }).incumbent, 'lgbm');
    const other = runSpecs(protocol, { name: 'lgbm', kind: 'lightgbm', params: { num_leaves: 63 } });
    assert.equal(other.incumbent, 'lgbm@champion');
    assert.deepEqual(other.specs.at(-1)!.params, { num_leaves: 63 });
  });

  it('an ensemble champion brings its members; the same ensemble is the protocol\'s', () => {
    const same = runSpecs(protocol, { name: 'ens', kind: 'ensemble', method: 'equal', members: protocol.models });
    assert.equal(same.incumbent, 'ens');
    assert.equal(same.ensembles.length, 1);
    const other = runSpecs({ models: [protocol.models[0]!], ensembles: [] }, { name: 'ens', kind: 'ensemble', method: 'qlike', members: protocol.models });
    assert.equal(other.incumbent, 'ens');
    assert.deepEqual(other.ensembles, [{ name: 'ens', method: 'qlike', members: ['har_x', 'lgbm'] }]);
    assert.deepEqual(other.specs.map((s) => s.name), ['har_x', 'lgbm']);
  });

  it('a record without its spec (before specs were recorded) is found by name, else the run says it cannot refit it', () => {
    assert.deepEqual(incumbentSpec(champion('har_x'), protocol).spec, protocol.models[0]);
    assert.equal(incumbentSpec(champion('ens', 'ensemble'), protocol).spec?.kind, 'ensemble');
    const unknown = incumbentSpec(champion('sph_net'), protocol);
    assert.equal(unknown.spec, null);
    assert.match(unknown.why!, /champion sph_net \(sph_net\) was recorded without its spec/);
  });
});
