import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decidePromotion, type Contender } from '../../lib/promotion/gates';

const gates = { minImprovement: 0.01, dmPValue: 0.1 };
const c = (name: string, kind: string, loss: number, extra: Partial<Contender> = {}): Contender => ({
  name, kind, modelId: `m-${name}`, loss, parityPassed: true, dmPValueVsBestBaseline: 0.01, dmPValueVsChampion: 0.01, ...extra,
});

describe('promotion gates', () => {
  it('bootstraps the best baseline when there is no champion and no challenger beats it', () => {
    const d = decidePromotion({ contenders: [c('har_rv', 'har_rv', 0.30), c('ewma', 'ewma', 0.35), c('lgbm', 'lightgbm', 0.299)], champion: null, unresolvedDataFlags: [], gates });
    assert.equal(d.promote, true);
    assert.equal(d.bootstrap, true);
    assert.equal(d.candidate, 'har_rv');
    assert.ok(d.reasons.some((r) => /lgbm: FAIL loss/.test(r)), d.reasons.join('\n'));
  });

  it('promotes a challenger that beats the best baseline and the champion by the margin with significant DM', () => {
    const d = decidePromotion({
      contenders: [c('har_rv', 'har_rv', 0.30), c('lgbm', 'lightgbm', 0.27)],
      champion: { modelId: 'm-old', name: 'har_rv', loss: 0.30 },
      unresolvedDataFlags: [],
      gates,
    });
    assert.deepEqual([d.promote, d.candidate, d.bootstrap], [true, 'lgbm', false]);
    assert.equal(d.reasons.filter((r) => r.startsWith('lgbm: pass')).length, 4);
  });

  it('refuses when the DM p-value is not below the level, naming the gate', () => {
    const d = decidePromotion({
      contenders: [c('har_rv', 'har_rv', 0.30), c('lgbm', 'lightgbm', 0.27, { dmPValueVsBestBaseline: 0.4 })],
      champion: { modelId: 'm-old', name: 'har_rv', loss: 0.30 },
      unresolvedDataFlags: [],
      gates,
    });
    assert.equal(d.promote, false);
    assert.ok(d.reasons.some((r) => /FAIL DM p-value vs best baseline 0.4/.test(r)));
  });

  it('refuses a challenger within the margin of the champion', () => {
    const d = decidePromotion({
      contenders: [c('har_rv', 'har_rv', 0.30), c('lgbm', 'lightgbm', 0.27)],
      champion: { modelId: 'm-lstm', name: 'lstm', loss: 0.2705 },
      unresolvedDataFlags: [],
      gates,
    });
    assert.equal(d.promote, false);
    assert.ok(d.reasons.some((r) => /FAIL loss vs champion lstm/.test(r)));
  });

  it('never promotes a model that failed parity, even the best', () => {
    const d = decidePromotion({
      contenders: [c('har_rv', 'har_rv', 0.30), c('lgbm', 'lightgbm', 0.10, { parityPassed: false })],
      champion: { modelId: 'm-old', name: 'har_rv', loss: 0.30 },
      unresolvedDataFlags: [],
      gates,
    });
    assert.equal(d.promote, false);
    assert.ok(d.reasons.includes('lgbm: excluded, ONNX parity failed'));
  });

  it('refuses everything while the data has unresolved quality flags', () => {
    const d = decidePromotion({ contenders: [c('har_rv', 'har_rv', 0.3)], champion: null, unresolvedDataFlags: ['3 rejected rows in 2024-03'], gates });
    assert.equal(d.promote, false);
    assert.match(d.reasons.at(-1)!, /unresolved quality flags: 3 rejected rows/);
  });
});
