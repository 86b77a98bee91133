/**
 * The model registry in MinIO: one champion per series and target (champion.json) and an
 * append-only history (history/{time}.json) that rollback walks back through.
 */
import { layout, type Series } from '../platform/layout';
import type { ArtifactStore, ObjectRef } from '../platform/store';
import type { ChampionRecord } from '../../contracts/types';
export type { ChampionRecord };

/** 2026-11-21T08:15:00.000Z -> 20261121T081500000Z: sortable and a valid key segment. */
export function historyStamp(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) throw new Error(`invalid decision time ${JSON.stringify(iso)}`);
  return d.toISOString().replace(/[-:.]/g, '');
}

export async function readChampion(store: ArtifactStore, series: Series, target: string): Promise<ChampionRecord | null> {
  const got = await store.readLatest(layout.champion(series, target));
  return got ? (JSON.parse(got.data.toString('utf8')) as ChampionRecord) : null;
}

/** Writes the history entry, then champion.json. Re-running the same decision writes nothing new. */
export async function setChampion(store: ArtifactStore, record: ChampionRecord): Promise<{ written: boolean }> {
  const current = await readChampion(store, record.series, record.target);
  if (current && current.modelId === record.modelId && current.decidedAt === record.decidedAt && current.action === record.action) {
    return { written: false };
  }
  await store.putJson(layout.championHistory(record.series, record.target, historyStamp(record.decidedAt)), record);
  await store.putJson(layout.champion(record.series, record.target), record);
  return { written: true };
}

export async function championHistory(store: ArtifactStore, series: Series, target: string): Promise<ChampionRecord[]> {
  const keys = (await store.list(layout.championHistoryPrefix(series, target))).map((o) => o.key).sort();
  const out: ChampionRecord[] = [];
  for (const key of keys) {
    const got = await store.readLatest(key);
    if (got) out.push(JSON.parse(got.data.toString('utf8')) as ChampionRecord);
  }
  return out;
}

/**
 * Restores the champion that served before the current one. The rollback is itself recorded in
 * the history, so a second rollback goes one step further back, never in a loop.
 */
export async function rollbackChampion(store: ArtifactStore, series: Series, target: string, decidedAt: string, reason: string): Promise<ChampionRecord> {
  const history = await championHistory(store, series, target);
  const current = await readChampion(store, series, target);
  if (!current) throw new Error(`no champion for ${series.symbol} ${series.timeframe} ${target}: nothing to roll back`);
  // Walk back over the history, skipping entries that were rolled back from.
  const retired = new Set<string>([current.modelId]);
  for (const h of history) if (h.action === 'rollback') for (const r of h.reasons) if (r.startsWith('retired ')) retired.add(r.slice(8));
  const previous = [...history].reverse().find((h) => !retired.has(h.modelId) && h.action !== 'rollback');
  if (!previous) throw new Error(`no earlier champion for ${series.symbol} ${series.timeframe} ${target} to roll back to`);
  const record: ChampionRecord = { ...previous, decidedAt, action: 'rollback', reasons: [reason, `retired ${current.modelId}`], runId: previous.runId };
  await setChampion(store, record);
  return record;
}

export async function listChampions(store: ArtifactStore): Promise<ChampionRecord[]> {
  const keys = (await store.list(layout.registryPrefix())).map((o) => o.key).filter((k) => k.endsWith('/champion.json'));
  const out: ChampionRecord[] = [];
  for (const key of keys) {
    const got = await store.readLatest(key);
    if (got) out.push(JSON.parse(got.data.toString('utf8')) as ChampionRecord);
  }
  return out;
}
