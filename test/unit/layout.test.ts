import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LayoutError, layout, objectKey, symbolFromSegment, symbolSegment } from '../../lib/platform/layout';

const btc = { exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h' };

describe('object layout', () => {
  it('builds the keys of docs/design.md', () => {
    assert.equal(layout.candles(btc, '2024-03'), 'candles/binance/BTC-USDT/1h/2024-03.parquet');
    assert.equal(layout.candlesManifest(btc), 'candles/binance/BTC-USDT/1h/_manifest.json');
    assert.equal(layout.features('fs123', btc), 'features/fs123/binance/BTC-USDT/1h.parquet');
    assert.equal(layout.model('m1', 'card.json'), 'models/m1/card.json');
    assert.equal(layout.run('r1', 'report/index.html'), 'runs/r1/report/index.html');
    assert.equal(layout.champion(btc, 'target_gk_1h'), 'registry/binance/BTC-USDT/1h/target_gk_1h/champion.json');
    assert.equal(layout.predictions(btc, 'target_rv_24h', '2026-02'), 'predictions/binance/BTC-USDT/1h/target_rv_24h/2026-02.parquet');
  });

  it('writes symbols without the slash and reads them back', () => {
    assert.equal(symbolSegment('ETH/USDT'), 'ETH-USDT');
    assert.equal(symbolFromSegment('ETH-USDT'), 'ETH/USDT');
  });

  it('rejects names that could escape the layout', () => {
    const bad: [string, () => unknown][] = [
      ['dot-dot exchange', () => layout.candles({ ...btc, exchange: '..' }, '2024-01')],
      ['dot-dot inside', () => objectKey(['x', 'a..b'])],
      ['slash in a segment', () => objectKey(['x', 'a/b'])],
      ['symbol with two slashes', () => symbolSegment('BTC/USDT/X')],
      ['symbol without slash', () => symbolSegment('BTCUSDT')],
      ['symbol with a path', () => symbolSegment('../USDT')],
      ['empty segment', () => objectKey(['x', ''])],
      ['leading dot', () => objectKey(['x', '.hidden'])],
      ['backslash', () => objectKey(['x', 'a\\b'])],
      ['newline', () => objectKey(['x', 'a\nb'])],
      ['bad month', () => layout.candles(btc, '2024-13')],
      ['model id with slash', () => layout.model('a/../../b', 'model.onnx')],
    ];
    for (const [what, fn] of bad) assert.throws(fn, LayoutError, what);
  });
});
