/**
 * The lineage of a forecast's inputs, recorded in its prediction record (inputsSha256): which
 * candles, which feature definitions and which feature values it was made from, in one sha256, so
 * two forecasts of the same bar and model agree iff their inputs did. Replaces the featureSetId
 * (scoring stores no feature set any more).
 */
import { createHash } from 'node:crypto';

export interface ForecastInputs {
  /** sha256 of the feature definitions (lib/features/build.ts definitionsSha). */
  definitionsSha: string;
  /** Every candle partition read to compute the rows (all series of the universe: cross-asset columns read them). */
  partitions: { key: string; sha256: string }[];
  /** The rows the model read, oldest first (1 for a tabular model, its window for a sequence one). */
  ts: number[];
  /** Every output column of those rows (not only the model's), by name. */
  values: Record<string, (number | null)[]>;
}

/** sha256 (hex) over a canonical JSON of the inputs: partitions sorted by key, columns by name; numbers as JSON writes them (round-trip exact). */
export function inputsSha256(inputs: ForecastInputs): string {
  const columns = Object.keys(inputs.values).sort();
  const doc = {
    definitionsSha: inputs.definitionsSha,
    partitions: [...inputs.partitions].sort((a, b) => a.key.localeCompare(b.key)).map((p) => [p.key, p.sha256]),
    ts: inputs.ts,
    columns,
    rows: inputs.ts.map((_, i) => columns.map((c) => inputs.values[c]![i] ?? null)),
  };
  return createHash('sha256').update(JSON.stringify(doc)).digest('hex');
}
