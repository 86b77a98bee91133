/**
 * Data-quality flags against the real MinIO: a rejected candle blocks the runs whose rows it falls
 * in (and only those), until a valid bar is stored at its time or a person acknowledges it with a
 * reason (`volcast data ack`, run here as the real CLI).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { before, describe, it } from 'node:test';
import type { Series } from '../contracts/types';
import { importCandleFile } from '../lib/candles/import';
import { ackFlags, qualityFlags, unresolvedFlags } from '../lib/candles/quality';
import { layout } from '../lib/platform/layout';
import { repoRoot } from '../lib/platform/paths';
import { ArtifactStore } from '../lib/platform/store';
import { sourceRows } from './dataHelpers';
import { testConfig, uid } from './helpers';

describe('data-quality flags (real MinIO, the real CLI)', () => {
  let store: ArtifactStore;
  let dir: string;
  before(async () => {
    store = new ArtifactStore(testConfig());
    dir = await mkdtemp(join(tmpdir(), 'volcast-quality-'));
  });

  async function importLines(series: Series, lines: string[], name: string) {
    const file = join(dir, name);
    await writeFile(file, gzipSync(`ts,open,high,low,close,volume\n${lines.join('\n')}\n`));
    return importCandleFile(store, file, series);
  }

  it('scoped to the rows a run uses; resolved by a valid bar stored since; acknowledged with a reason', async () => {
    const series: Series = { exchange: uid('q').toLowerCase().replace(/[^a-z0-9]/g, ''), symbol: 'BTC/USDT', timeframe: '1h' };
    const rows = (await sourceRows('BTC/USDT')).filter((r) => r.ts >= Date.UTC(2021, 5, 1) && r.ts < Date.UTC(2021, 6, 1));
    const line = (r: (typeof rows)[number], high = r.high) => [r.ts, r.open, high, r.low, r.close, r.volume].join(',');
    const a = rows[100]!;
    const b = rows[600]!;
    // Two bars whose high is below the low: rejected, flagged.
    await importLines(series, rows.map((r) => (r === a || r === b ? line(r, r.low / 2) : line(r))), 'bad.csv.gz');
    assert.deepEqual((await qualityFlags(store, series)).map((f) => [f.ts, f.status]), [[a.ts, 'open'], [b.ts, 'open']]);

    // A run over rows before the first flag is not blocked; one over both is, and is told what to do.
    assert.deepEqual(await unresolvedFlags(store, series, { from: rows[0]!.ts, to: rows[50]!.ts }), []);
    const blocking = await unresolvedFlags(store, series, { from: rows[0]!.ts, to: rows.at(-1)!.ts });
    assert.equal(blocking.length, 1);
    assert.match(blocking[0]!, /^2 rejected candle row\(s\) of BTC\/USDT 1h in the run's rows \(high < max\(open, close\): 2; first at 2021-06-05T04:00:00.000Z\)/);
    assert.match(blocking[0]!, /volcast data ack --symbol BTC\/USDT --all --reason/);

    // Re-importing the good bar at a's time resolves that flag (a valid candle is stored there now).
    await importLines(series, [line(a)], 'fix.csv.gz');
    assert.deepEqual((await qualityFlags(store, series)).map((f) => f.status), ['resolved', 'open']);

    // The other is acknowledged through the CLI, with its reason recorded.
    const env = { ...process.env, VOLCAST_STATE_DIR: testConfig().stateDir };
    const cli = (args: string[]) => spawnSync(process.execPath, [join(repoRoot, 'cli', 'volcast.js'), ...args], { env, encoding: 'utf8', cwd: repoRoot });
    const noReason = cli(['data', 'ack', '--symbol', 'BTC/USDT', '--exchange', series.exchange, '--ts', new Date(b.ts).toISOString()]);
    assert.notEqual(noReason.status, 0);
    assert.match(noReason.stderr, /required option '--reason <text>'/);
    const wrong = cli(['data', 'ack', '--symbol', 'BTC/USDT', '--exchange', series.exchange, '--ts', new Date(rows[5]!.ts).toISOString(), '--reason', 'x']);
    assert.notEqual(wrong.status, 0);
    assert.match(wrong.stderr, /no open flag of BTC\/USDT 1h at 2021-06-01T05:00:00.000Z/);
    const ok = cli(['data', 'ack', '--symbol', 'BTC/USDT', '--exchange', series.exchange, '--ts', new Date(b.ts).toISOString(), '--reason', 'exchange glitch, checked against another source']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /1 flag\(s\) acknowledged/);
    const flags = await qualityFlags(store, series);
    assert.deepEqual(flags.map((f) => [f.status, f.note ?? null]), [['resolved', null], ['acknowledged', 'exchange glitch, checked against another source']]);
    assert.deepEqual(await unresolvedFlags(store, series, { from: rows[0]!.ts, to: rows.at(-1)!.ts }), []);
    const acks = JSON.parse((await store.readLatest(layout.candlesAcks(series)))!.data.toString());
    assert.equal(acks.acks[0].ts, b.ts);
    const listed = cli(['data', 'flags', '--symbol', 'BTC/USDT', '--exchange', series.exchange]);
    assert.match(listed.stdout, /acknowledged \(exchange glitch/);

    await assert.rejects(ackFlags(store, series, { all: true }, '  ', new Date().toISOString()), /needs a reason/);
    assert.equal(await ackFlags(store, series, { all: true }, 'nothing left', new Date().toISOString()), 0);
  });
});
