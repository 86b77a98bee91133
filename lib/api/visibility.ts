/**
 * What the Temporal Web UI can filter volcast runs by: four custom search attributes, set by the
 * train, trainSeries and score workflows (workflows/train.ts, workflows/score.ts) and registered by
 * `volcast dev up` (infra/devStack.ts), and the one-line summaries runs start with. Pure (only
 * @temporalio/common): workflow code imports it.
 *
 *   VolcastSymbol    KeywordList  the symbols of the run (BTC/USDT)
 *   VolcastTarget    KeywordList  the targets of the run (target_rv_24h)
 *   VolcastProtocol  Keyword      the training protocol (train, trainSeries)
 *   VolcastDecision  KeywordList  what serving did: promote, bootstrap, refresh, keep, hold, none (train, trainSeries)
 *
 * e.g. every train of ETH/USDT target_rv_24h that promoted:
 *   WorkflowType = 'trainSeries' AND VolcastSymbol = 'ETH/USDT' AND VolcastTarget = 'target_rv_24h' AND VolcastDecision = 'promote'
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const searchAttributes = {
  symbol: defineSearchAttributeKey('VolcastSymbol', SearchAttributeType.KEYWORD_LIST),
  target: defineSearchAttributeKey('VolcastTarget', SearchAttributeType.KEYWORD_LIST),
  protocol: defineSearchAttributeKey('VolcastProtocol', SearchAttributeType.KEYWORD),
  decision: defineSearchAttributeKey('VolcastDecision', SearchAttributeType.KEYWORD_LIST),
} as const;

/** Name -> the type as the Temporal CLI and the operator service spell it. */
export const SEARCH_ATTRIBUTE_TYPES: Record<string, 'Keyword' | 'KeywordList'> = Object.fromEntries(
  Object.values(searchAttributes).map((k) => [k.name, k.type === SearchAttributeType.KEYWORD ? 'Keyword' : 'KeywordList']),
);

/** Patch id guarding the upserts: runs started before them replay without them. */
export const SEARCH_ATTRIBUTES_PATCH = 'volcast-search-attributes-v1';

/** A visibility query value: single quotes escaped. */
export function quoteValue(v: string): string {
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** A visibility query over the volcast attributes (and the workflow type), ANDed; undefined fields are left out. */
export function visibilityQuery(f: { workflowType?: string; symbol?: string; target?: string; protocol?: string; decision?: string }): string {
  const parts: string[] = [];
  if (f.workflowType) parts.push(`WorkflowType = ${quoteValue(f.workflowType)}`);
  if (f.symbol) parts.push(`${searchAttributes.symbol.name} = ${quoteValue(f.symbol)}`);
  if (f.target) parts.push(`${searchAttributes.target.name} = ${quoteValue(f.target)}`);
  if (f.protocol) parts.push(`${searchAttributes.protocol.name} = ${quoteValue(f.protocol)}`);
  if (f.decision) parts.push(`${searchAttributes.decision.name} = ${quoteValue(f.decision)}`);
  return parts.join(' AND ');
}

const list = (xs: string[], max = 4) => (xs.length <= max ? xs.join(', ') : `${xs.slice(0, max).join(', ')} +${xs.length - max}`);

/** One line naming what a train does (its start's staticSummary). */
export function trainSummary(i: { symbols: string[]; timeframe: string; protocol: { name: string; targets: string[]; models: unknown[] }; promote?: boolean }): string {
  return `train ${list(i.symbols)} ${i.timeframe} · ${list(i.protocol.targets)} · protocol ${i.protocol.name} (${i.protocol.models.length} models)${i.promote === false ? ' · evaluate only' : ' · promotion gates'}`;
}

/** One line naming what a trainSeries child does. */
export function trainSeriesSummary(i: { series: { symbol: string; timeframe: string }; target: string; protocol: { name: string; models: unknown[] }; promote: boolean }): string {
  return `train ${i.series.symbol} ${i.series.timeframe} ${i.target} · protocol ${i.protocol.name} (${i.protocol.models.length} models)${i.promote ? ' · promotion gates' : ' · evaluate only'}`;
}

/** One line naming what a score does. */
export function scoreSummary(i: { symbols: string[]; timeframe: string; targets: string[] }): string {
  return `score ${list(i.symbols)} ${i.timeframe} · ${list(i.targets)} · the champions' forecasts for the bar that closed last`;
}
