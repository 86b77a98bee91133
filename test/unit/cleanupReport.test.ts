/** What `volcast data cleanup` prints: deletions per kind with sizes and their first groups, then what is kept and why. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fmtBytes, formatCleanup } from '../../cli/cleanup';
import type { HousekeepingResult } from '../../contracts/types';
import { DELETE, KEEP, planHousekeeping } from '../../lib/housekeeping/plan';
import { layout } from '../../lib/platform/layout';

const HOUR = 3_600_000;
const NOW = Date.UTC(2026, 2, 1);
const OLD = NOW - 100 * HOUR;

describe('volcast data cleanup report', () => {
  const listing = [
    ...Array.from({ length: 7 }, (_, i) => ({ key: layout.featuresManifest(`fs${i}`), size: 1500, lastModified: OLD })),
    { key: layout.model('m-champ', 'model.onnx'), size: 2_000_000, lastModified: OLD },
    { key: layout.predictions({ exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h' }, 'target_gk_1h', '2026-02'), size: 900, lastModified: OLD },
  ];
  const facts = { champions: [{ where: 'c', modelId: 'm-champ', featureSetId: null, runId: null }], history: [], runs: [], manifests: [], ensembles: {}, newestForecasts: [] };
  const plan = planHousekeeping({ planId: 'p', asOf: NOW, policy: { graceMs: 48 * HOUR, keepTrainRuns: 3, historyFeatureSets: false }, listing, facts });
  const ref = { bucket: 'b', key: layout.housekeepingPlan('p'), sha256: 'x', size: 1 };

  it('a dry run: what would be deleted, per kind, with the first groups, and what is kept and why', () => {
    const out = formatCleanup({ dryRun: true, planRef: ref, summary: plan.summary, applied: null }, plan);
    assert.match(out, /^listed 9 objects \(2\.0 MB\) at 2026-03-01T00:00:00\.000Z; plan housekeeping\/p\/plan\.json/);
    assert.match(out, /\nwould delete: 7 object\(s\), 10\.5 kB\n/);
    assert.ok(out.includes(`  feature sets            7 (7 objects)   10.5 kB  ${DELETE.featureSet}`), out);
    assert.match(out, /\n      fs0  1\.5 kB\n/);
    assert.match(out, /… and 2 more/);
    assert.ok(out.includes(`  models                  1 (1 objects)    2.0 MB  ${KEEP.champion}`), out);
    assert.ok(out.includes(KEEP.forever));
  });

  it('an applied run reports what was deleted and what was spared; nothing to do says so', () => {
    const applied: HousekeepingResult['applied'] = { deleted: [{ kind: 'featureSet', tally: { groups: 6, objects: 6, bytes: 9000 } }], spared: [{ kind: 'featureSet', reason: KEEP.newestForecast, objects: 1 }] };
    const out = formatCleanup({ dryRun: false, planRef: ref, summary: plan.summary, applied }, plan);
    assert.match(out, /\ndeleted: 6 object\(s\), 9\.0 kB\n/);
    assert.match(out, /spared at apply .*\n  feature sets            1 objects  the feature set/);
    const none = formatCleanup({ dryRun: false, planRef: ref, summary: { ...plan.summary, delete: [] }, applied: { deleted: [], spared: [] } }, null);
    assert.match(none, /deleted: 0 object\(s\), 0 B \(nothing is unreferenced and older than the grace period\)/);
  });

  it('sizes in powers of 1000', () => {
    assert.deepEqual([0, 999, 1000, 1_250_000, 3e9, 4e12].map(fmtBytes), ['0 B', '999 B', '1.0 kB', '1.3 MB', '3.0 GB', '4.0 TB']);
  });
});
