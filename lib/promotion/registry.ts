/**
 * The model registry in MinIO: one champion per series and target (champion.json: the record of
 * the artifact serving now) and an append-only history (history/{time}.json) of every decision that
 * concerned it: promote, bootstrap, refresh, manual, rollback, and hold (a serving fit that failed:
 * champion.json unchanged). Rollback walks back through the records that served.
 *
 * Write mechanics (safe with concurrent writers): champion.json is the commit point, replaced only
 * with If-Match on the version the decision was based on; a writer that loses re-reads and decides
 * again (a rollback recomputes what to restore). History entries are create-only (If-None-Match):
 * never overwritten; the same decision again is a no-op, another decision at the same time is an
 * error. The entry of a champion is written right after champion.json, and any writer that replaces
 * a champion first makes sure the entry of the one it replaces exists, so a crash in between loses
 * no decision and the history never holds one that did not take effect.
 */
import type { ChampionRecord } from '../../contracts/types';
import { CorruptDocumentError, RegistryError } from '../platform/errors';
import { layout, type Series } from '../platform/layout';
import type { ArtifactStore, CurrentObject } from '../platform/store';

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

const recordBody = (r: ChampionRecord) => `${JSON.stringify(r, null, 2)}\n`;
const sameDecision = (a: ChampionRecord, b: ChampionRecord) => a.modelId === b.modelId && a.decidedAt === b.decidedAt && a.action === b.action;

function currentRecord(store: ArtifactStore, current: CurrentObject | null): ChampionRecord | null {
  return current ? parseRecord(current.data, `s3://${store.bucket}/${current.ref.key}`) : null;
}

/**
 * Creates the history entry of a decision (create-only). The same decision recorded already is a
 * no-op (a re-run); another decision at the same time is a RegistryError unless `lenient`.
 */
async function recordHistory(store: ArtifactStore, record: ChampionRecord, lenient = false): Promise<void> {
  const key = historyKey(record);
  if (await store.putBufferIf(key, recordBody(record), { ifNoneMatch: '*' }, 'application/json')) return;
  if (!lenient) await refuseOtherDecisionAt(store, record);
}

const historyKey = (r: ChampionRecord) => layout.championHistory(r.series, r.target, historyStamp(r.decidedAt));

/** RegistryError when the history holds another decision at the record's time (entries are never overwritten). */
async function refuseOtherDecisionAt(store: ArtifactStore, record: ChampionRecord): Promise<void> {
  const key = historyKey(record);
  const existing = await readRecord(store, key);
  if (existing && !sameDecision(existing, record)) {
    throw new RegistryError(`another decision is recorded at ${record.decidedAt} already (${key}: ${existing.action} ${existing.modelId}, not ${record.action} ${record.modelId}); history entries are never overwritten`);
  }
}

/**
 * Replaces champion.json with what `decide` makes of the current record, conditionally on that
 * version (re-read and decided again on a conflict); then records the decision in the history.
 * `decide` returns null when nothing is to be written.
 */
async function commitChampion(
  store: ArtifactStore,
  series: Series,
  target: string,
  decide: (current: ChampionRecord | null) => Promise<ChampionRecord | null> | ChampionRecord | null,
): Promise<{ record: ChampionRecord | null; written: boolean }> {
  const up = await store.updateObject(layout.champion(series, target), async (current) => {
    const cur = currentRecord(store, current);
    const next = await decide(cur);
    if (!next) return { body: null, result: cur };
    await refuseOtherDecisionAt(store, next); // before committing: its entry must be creatable
    if (cur && !sameDecision(cur, next)) await recordHistory(store, cur, true); // the one replaced is in the history (heals a crash)
    return { body: recordBody(next), contentType: 'application/json', result: next };
  });
  if (up.result) await recordHistory(store, up.result);
  return { record: up.result, written: up.written };
}

/** Writes champion.json (conditionally), then the history entry. Re-running the same decision writes nothing new. */
export async function setChampion(store: ArtifactStore, record: ChampionRecord): Promise<{ written: boolean }> {
  if (record.action === 'hold') throw new RegistryError('a hold changes no champion: use recordHold');
  const { written } = await commitChampion(store, record.series, record.target, (current) => (current && sameDecision(current, record) ? null : record));
  return { written };
}

/** A hold: the serving fit failed, the current champion keeps serving; recorded in the history only. */
export async function recordHold(store: ArtifactStore, current: ChampionRecord, hold: { decidedAt: string; runId: string; reasons: string[] }): Promise<void> {
  const entry: ChampionRecord = { ...current, action: 'hold', decidedAt: hold.decidedAt, runId: hold.runId, reasons: hold.reasons };
  await recordHistory(store, entry);
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
  const { record } = await commitChampion(store, series, target, async (current) => {
    // Decided on the champion read (again after a concurrent change): two rollbacks at once go two steps back.
    if (!current) throw new RegistryError(`no champion for ${series.symbol} ${series.timeframe} ${target}: nothing to roll back`);
    const history = await championHistory(store, series, target);
    const retired = new Set<string>([current.modelId]);
    // The current record's own retirements count too: its history entry may not be written yet.
    for (const h of [...history, current]) if (h.action === 'rollback') for (const r of h.reasons) if (r.startsWith('retired ')) retired.add(r.slice(8));
    const previous = [...history].reverse().find((h) => !retired.has(h.modelId) && h.action !== 'rollback' && h.action !== 'hold');
    if (!previous) throw new RegistryError(`no earlier champion for ${series.symbol} ${series.timeframe} ${target} to roll back to`);
    return { ...previous, decidedAt, action: 'rollback', reasons: [reason, `retired ${current.modelId}`], runId: previous.runId };
  });
  return record!;
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
