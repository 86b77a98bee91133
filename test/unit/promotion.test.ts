/** The gates (lib/promotion/gates.ts) and the run's specs (lib/training/plan.ts), as pure functions. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChampionRecord, GateReport, GateVerdict } from '../../contracts/types';
import { decidePromotion } from '../../lib/promotion/gates';
import { incumbentSpec, runSpecs } from '../../lib/training/plan';

type Cand = GateReport['candidates'][number];
const cand = (name: string, kind: string, validation: number, holdout: number, extra: Partial<Cand> = {}): Cand => ({
  name, kind, baseline: ['persistence', 'ewma', 'har_rv', 'log_har', 'har_x', 'garch'].includes(kind), eligible: true, why: null,
  validationQlike: validation, holdoutQlike: holdout, dmVsIncumbent: null, dmVsBestBaseline: null, ...extra,
});
const verdict = (reference: string, passed: boolean, reasons: string[] = [passed ? 'pass all' : 'FAIL one-sided HLN-DM p 0.2 (needs < 0.01)']): GateVerdict => ({
  reference, passed, relativeImprovement: 0.1, dmPValue: passed ? 0.001 : 0.2, spaPValue: 0.001, reasons,
});
const report = (candidates: Cand[], extra: Partial<GateReport> = {}): GateReport => ({
  horizonBars: 1, holdoutRows: 720, validationRows: 1440, holdoutWindows: 30, bestBaseline: 'har_x', incumbent: null, incumbentJudged: false, candidates,
  challenger: null, verdicts: { vsIncumbent: null, vsBestBaseline: null }, spa: null, ...extra,
});
const champion = (name: string, kind = name): ChampionRecord => ({
  modelId: `m-${name}`, name, kind, target: 'target_gk_1h', series: { exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h' },
  featureSetId: 'fs', modelRef: { bucket: 'b', key: 'k', sha256: 's' }, cardRef: { bucket: 'b', key: 'c', sha256: 's' },
  runId: 'r0', decidedAt: '2026-01-01T00:00:00.000Z', action: 'bootstrap', reasons: [], loss: 0.3,
});
const decide = (gate: GateReport, c: ChampionRecord | null, flags: string[] = [], incumbentUnknown?: string) => decidePromotion({ gate, champion: c, incumbentUnknown, unresolvedDataFlags: flags });

describe('promotion decisions', () => {
  const lgbm = cand('lgbm', 'lightgbm', 0.27, 0.27);
  const harx = cand('har_x', 'har_x', 0.30, 0.30);

  it('no champion: the best baseline serves when the challenger does not pass the gate against it', () => {
    const d = decide(report([harx, lgbm], { challenger: 'lgbm', verdicts: { vsIncumbent: null, vsBestBaseline: verdict('har_x', false) } }), null);
    assert.deepEqual([d.outcome, d.spec, d.challenger], ['bootstrap', 'har_x', 'lgbm']);
    assert.ok(d.reasons.includes('lgbm vs har_x: FAIL one-sided HLN-DM p 0.2 (needs < 0.01)'), d.reasons.join('\n'));
  });

  it('no champion: a challenger that passes against the best baseline is the first champion', () => {
    const d = decide(report([harx, lgbm], { challenger: 'lgbm', verdicts: { vsIncumbent: null, vsBestBaseline: verdict('har_x', true) } }), null);
    assert.deepEqual([d.outcome, d.spec], ['promote', 'lgbm']);
  });

  it('no champion and the best baseline is the best on validation: it serves', () => {
    const d = decide(report([harx, cand('ewma', 'ewma', 0.35, 0.35)], { challenger: 'har_x' }), null);
    assert.deepEqual([d.outcome, d.spec], ['bootstrap', 'har_x']);
  });

  it('promotes over the incumbent only when both verdicts pass (against the incumbent with SPA, and the best baseline)', () => {
    const lstm = cand('lstm', 'lstm', 0.29, 0.29);
    const base = { incumbent: 'lstm', incumbentJudged: true, challenger: 'lgbm' };
    const ok = decide(report([harx, lstm, lgbm], { ...base, verdicts: { vsIncumbent: verdict('lstm', true), vsBestBaseline: verdict('har_x', true) } }), champion('lstm'));
    assert.deepEqual([ok.outcome, ok.spec], ['promote', 'lgbm']);
    const noInc = decide(report([harx, lstm, lgbm], { ...base, verdicts: { vsIncumbent: verdict('lstm', false), vsBestBaseline: verdict('har_x', true) } }), champion('lstm'));
    assert.deepEqual([noInc.outcome, noInc.spec], ['keep', 'lstm']);
    assert.match(noInc.reasons.at(-1)!, /lgbm did not pass every gate; lstm is kept and refreshed/);
    const noBase = decide(report([harx, lstm, lgbm], { ...base, verdicts: { vsIncumbent: verdict('lstm', true), vsBestBaseline: verdict('har_x', false) } }), champion('lstm'));
    assert.equal(noBase.outcome, 'keep');
  });

  it('keeps the incumbent when the challenger is not better on the validation folds', () => {
    const d = decide(report([harx, cand('lgbm', 'lightgbm', 0.31, 0.2)], { incumbent: 'har_x', incumbentJudged: true, challenger: 'lgbm', verdicts: { vsIncumbent: verdict('har_x', true), vsBestBaseline: null } }), champion('har_x'));
    assert.deepEqual([d.outcome, d.spec], ['keep', 'har_x']);
    assert.match(d.reasons.at(-1)!, /not better than the incumbent on the validation folds/);
  });

  it('never chooses a spec that failed a fold or parity, and says why', () => {
    const bad = cand('lgbm', 'lightgbm', 0.10, 0.10, { eligible: false, why: 'failed on fold(s) 1 (parity failed: max relative error 1.1e-2 > 1e-5)' });
    const d = decide(report([harx, bad], { challenger: 'har_x' }), null);
    assert.deepEqual([d.outcome, d.spec], ['bootstrap', 'har_x']);
    assert.ok(d.reasons.includes('lgbm: not eligible (failed on fold(s) 1 (parity failed: max relative error 1.1e-2 > 1e-5))'));
  });

  it('an incumbent without a holdout forecast is kept and refreshed: nothing can be judged against it', () => {
    const lstm = cand('lstm', 'lstm', 0.31, Number.NaN, { eligible: false, why: 'failed on fold(s) 2 (fit failed: …)', holdoutQlike: null });
    const d = decide(report([harx, lstm, lgbm], { incumbent: 'lstm', incumbentJudged: false, challenger: 'lgbm' }), champion('lstm'));
    assert.deepEqual([d.outcome, d.spec], ['keep', 'lstm']);
    assert.match(d.reasons.at(-1)!, /no holdout forecast .* lstm is kept and refreshed/);
  });

  it('a champion whose spec the run cannot refit keeps serving (no spec to refresh)', () => {
    const d = decide(report([harx]), champion('old'), [], 'champion old was recorded without its spec');
    assert.deepEqual([d.outcome, d.spec], ['keep', null]);
    assert.match(d.reasons.at(-1)!, /recorded without its spec; the served artifact m-old stays/);
  });

  it('unresolved data flags block promotion and a first champion, not a refresh', () => {
    const flags = ["3 rejected candle row(s) of BTC/USDT 1h in the run's rows"];
    const first = decide(report([harx]), null, flags);
    assert.deepEqual([first.outcome, first.spec], ['none', null]);
    assert.match(first.reasons.at(-1)!, /unresolved quality flags: 3 rejected candle row/);
    const later = decide(report([harx, lgbm], { incumbent: 'har_x', incumbentJudged: true, challenger: 'lgbm', verdicts: { vsIncumbent: verdict('har_x', true), vsBestBaseline: null } }), champion('har_x'), flags);
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
