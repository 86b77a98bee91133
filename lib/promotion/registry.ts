/**
 * The model registry in MinIO: one champion per series and target (champion.json: the record of
 * the artifact serving now) and an append-only history (history/{time}.json) of every decision that
 * concerned it: promote, bootstrap, refresh, manual, rollback, and hold (a serving fit that failed:
 * champion.json unchanged). Rollback walks back through the records that served.
 */
import type { ChampionRecord } from '../../contracts/types';
import { CorruptDocumentError, RegistryError } from '../platform/errors';
import { layout, type Series } from '../platform/layout';
import type { ArtifactStore } from '../platform/store';

export type { ChampionRecord };

/** 2026-11-21T08:15:00.000Z -> 20261121T081500000Z: sortable and a valid key segment. */
export function historyStamp(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) throw new RegistryError(`invalid decision time ${JSON.stringify(iso)}`);
  return d.toISOString().replace(/[-:.]/g, '');
}

/** A stored record, parsed and checked enough that no caller trips over it later; names the object otherwise. */
export function parseRecord(data: Buffer, where: string): ChampionRecord {
  let v: unknown;
  try {
    v = JSON.parse(data.toString('utf8'));
  } catch (err) {
    throw new CorruptDocumentError(`champion record ${where} is not valid JSON (${(err as Error).message}); restore it from the history (volcast models rollback) or promote by hand`);
  }
  const r = v as Partial<ChampionRecord>;
  const missing = (['modelId', 'name', 'kind', 'target', 'series', 'modelRef', 'cardRef', 'decidedAt', 'action'] as const).filter((k) => r?.[k] === undefined || r[k] === null);
  if (typeof v !== 'object' || v === null || missing.length) {
    throw new CorruptDocumentError(`champion record ${where} lacks ${missing.join(', ') || 'an object'}; restore it from the history (volcast models rollback) or promote by hand`);
  }
  return r as ChampionRecord;
}

async function readRecord(store: ArtifactStore, key: string): Promise<ChampionRecord | null> {
  const got = await store.readLatest(key);
  return got ? parseRecord(got.data, `s3://${store.bucket}/${key}`) : null;
}

export async function readChampion(store: ArtifactStore, series: Series, target: string): Promise<ChampionRecord | null> {
  return readRecord(store, layout.champion(series, target));
}

/** Writes the history entry, then champion.json. Re-running the same decision writes nothing new. */
export async function setChampion(store: ArtifactStore, record: ChampionRecord): Promise<{ written: boolean }> {
  if (record.action === 'hold') throw new RegistryError('a hold changes no champion: use recordHold');
  const current = await readChampion(store, record.series, record.target);
  if (current && current.modelId === record.modelId && current.decidedAt === record.decidedAt && current.action === record.action) {
    return { written: false };
  }
  await store.putJson(layout.championHistory(record.series, record.target, historyStamp(record.decidedAt)), record);
  await store.putJson(layout.champion(record.series, record.target), record);
  return { written: true };
}

/** A hold: the serving fit failed, the current champion keeps serving; recorded in the history only. */
export async function recordHold(store: ArtifactStore, current: ChampionRecord, hold: { decidedAt: string; runId: string; reasons: string[] }): Promise<void> {
  const entry: ChampionRecord = { ...current, action: 'hold', decidedAt: hold.decidedAt, runId: hold.runId, reasons: hold.reasons };
  await store.putJson(layout.championHistory(current.series, current.target, historyStamp(hold.decidedAt)), entry);
}

export async function championHistory(store: ArtifactStore, series: Series, target: string): Promise<ChampionRecord[]> {
  const keys = (await store.list(layout.championHistoryPrefix(series, target))).map((o) => o.key).sort();
  const out: ChampionRecord[] = [];
  for (const key of keys) {
    const r = await readRecord(store, key);
    if (r) out.push(r);
  }
  return out;
}

/**
 * Restores the champion that served before the current one. The rollback is itself recorded in
 * the history, so a second rollback goes one step further back, never in a loop. Holds changed
 * nothing and are skipped.
 */
export async function rollbackChampion(store: ArtifactStore, series: Series, target: string, decidedAt: string, reason: string): Promise<ChampionRecord> {
  const history = await championHistory(store, series, target);
  const current = await readChampion(store, series, target);
  if (!current) throw new RegistryError(`no champion for ${series.symbol} ${series.timeframe} ${target}: nothing to roll back`);
  const retired = new Set<string>([current.modelId]);
  for (const h of history) if (h.action === 'rollback') for (const r of h.reasons) if (r.startsWith('retired ')) retired.add(r.slice(8));
  const previous = [...history].reverse().find((h) => !retired.has(h.modelId) && h.action !== 'rollback' && h.action !== 'hold');
  if (!previous) throw new RegistryError(`no earlier champion for ${series.symbol} ${series.timeframe} ${target} to roll back to`);
  const record: ChampionRecord = { ...previous, decidedAt, action: 'rollback', reasons: [reason, `retired ${current.modelId}`], runId: previous.runId };
  await setChampion(store, record);
  return record;
}

/** Every champion; a record that cannot be read is reported with its key instead of ending the listing. */
export async function listChampions(store: ArtifactStore): Promise<({ ok: true; record: ChampionRecord; key: string } | { ok: false; key: string; error: string })[]> {
  const keys = (await store.list(layout.registryPrefix())).map((o) => o.key).filter((k) => k.endsWith('/champion.json'));
  const out: ({ ok: true; record: ChampionRecord; key: string } | { ok: false; key: string; error: string })[] = [];
  for (const key of keys) {
    try {
      const r = await readRecord(store, key);
      if (r) out.push({ ok: true, record: r, key });
    } catch (err) {
      if (!(err instanceof CorruptDocumentError)) throw err;
      out.push({ ok: false, key, error: err.message });
    }
  }
  return out;
}
