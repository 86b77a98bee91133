/** Bar length of a timeframe and the forecast horizon of a target, in bars. */
export class EvaluationInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ValidationError';
  }
}

const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

export function barMs(timeframe: string): number {
  const m = /^(\d+)([mhd])$/.exec(timeframe);
  if (!m) throw new EvaluationInputError(`unsupported timeframe ${JSON.stringify(timeframe)}`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

/** target_gk_1h -> 1 bar of 1h, target_rv_24h -> 24: the span the target looks forward. */
export function horizonBars(target: string, timeframe: string): number {
  const m = /_(\d+)([mhd])$/.exec(target);
  if (!m) throw new EvaluationInputError(`cannot read the horizon of target ${JSON.stringify(target)} (expected a suffix like _1h or _24h)`);
  const ms = Number(m[1]) * UNIT_MS[m[2]!]!;
  const bar = barMs(timeframe);
  if (ms % bar !== 0) throw new EvaluationInputError(`target ${target} is not a whole number of ${timeframe} bars`);
  return ms / bar;
}

export const BASELINE_KINDS = ['persistence', 'ewma', 'har_rv', 'log_har', 'har_x', 'garch'] as const;

export function isBaselineKind(kind: string): boolean {
  return (BASELINE_KINDS as readonly string[]).includes(kind);
}
