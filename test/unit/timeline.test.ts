import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { wallSplit, type ActivitySpan } from '../../bench/timeline';

const span = (type: string, started: number, closed: number): ActivitySpan => ({ type, workflowId: 'w', scheduled: started, started, closed, completed: true });

describe('bench:train wall split', () => {
  it('splits the wall time into fit activities, other activities and orchestration, overlaps counted once', () => {
    const spans = [
      span('buildFeatures', 0, 10),
      span('fitModel', 12, 30),
      span('fitNeuralModel', 20, 40), // overlaps the first fit: 28 s of fits at once over 12..40
      span('evaluate', 35, 50), // 35..40 under the fits, 40..50 alone
    ];
    const s = wallSplit(spans, 0, 60, (t) => t.startsWith('fit'));
    assert.deepEqual(s, { wallMs: 60, fitActivityMs: 28, otherActivityMs: 20, orchestrationMs: 12, meanFitsInFlight: 38 / 28 });
  });

  it('clips spans to the window and copes with no fits', () => {
    const s = wallSplit([span('evaluate', -5, 5), span('plan', 8, 20)], 0, 10, () => false);
    assert.deepEqual(s, { wallMs: 10, fitActivityMs: 0, otherActivityMs: 7, orchestrationMs: 3, meanFitsInFlight: 0 });
  });
});
