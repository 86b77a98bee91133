/**
 * Diebold-Mariano test of equal predictive accuracy on a loss differential d_t = L(a)_t − L(b)_t
 * (here the QLIKE losses of two models on the same rows; negative mean ⇒ `a` is better).
 *
 *   DM = mean(d) / sqrt(LRV / T)
 *
 * Two long-run variances are reported.
 *
 * Legacy fields (statistic, pValue, pValueOneSided, hlnStatistic, hlnPValue; kept for the metrics
 * document and the report): the Newey-West (Bartlett kernel) LRV
 *   LRV = γ0 + 2 Σ_{k=1..L} (1 − k/(L+1)) γk,   γk = (1/T) Σ_{t=k+1..T} (d_t − d̄)(d_{t−k} − d̄)
 * at L = dmLag(T, h) = max(h − 1, floor(4 (T/100)^(2/9))); normal two- and one-sided p-values, and the
 * Harvey-Leybourne-Newbold (1997) DM* = DM·sqrt((T + 1 − 2h + h(h−1)/T) / T) with a two-sided
 * Student-t(T − 1) p-value. This LRV is too small for overlapping 24-bar targets (below), and nothing
 * in it covers the autocorrelation that persistent volatility (persistent forecast errors) adds
 * beyond h − 1.
 *
 * `robust` (what the promotion gate uses, lib/metrics/gate.ts): DM* = the HLN-corrected statistic
 * from the LRV of GATE_LRV, with a ONE-SIDED Student-t(T − 1) p-value, H1: `a` has the lower expected
 * loss.
 *
 * GATE_LRV = Bartlett kernel at lag L = max(2h, 48, floor(4 (T/100)^(2/9))), chosen by simulation
 * (bench/gate_study.ts; the tables are in docs/gate-statistics.md). Why:
 *  - overlap: an h-bar target makes d (at least) MA(h − 1), with autocovariances falling about
 *    linearly, γk ∝ 1 − k/h. Bartlett weights 1 − k/(L+1) at L = h − 1 keep Σ(1 − k/h)² ≈ 2/3 of
 *    that long-run variance (the legacy rule: a statistic 1/sqrt(2/3) ≈ 1.22 times too large, the
 *    measured ~22%); L = 2h keeps ≈ 5/6.
 *  - persistence: hourly log-vol persistence ~0.98 makes model errors persistent, so d keeps a slowly
 *    decaying autocorrelation tail at h = 1 too (e-folding ~ 1/(1 − 0.98) = 50 bars for the errors,
 *    ~25 for their squares, which is what QLIKE differentials load on). No lag estimated from the same
 *    few hundred rows sees that tail (the Andrews / Newey-West 1994 automatic rules and AR(1)
 *    prewhitening all pick it up only partly), so the lag has a fixed floor of 48 bars (two days).
 *  - in the study the rules with such a persistence floor (Bartlett max(2h, 48) or max(4h, 96),
 *    Parzen max(4h, 96), quadratic spectral max(h, 24)) had the lowest worst-case false-promotion
 *    rate over the null designs at T ≥ 720 (3.0% at p < 0.01, 8.7-9.7% at p < 0.05, against
 *    3.3-6.3% and 9.7-13.7% for the legacy rule, truncated h − 1, Bartlett 2h and the automatic or
 *    prewhitened rules); Bartlett max(2h, 48) keeps power within 5 points of the legacy rule (which
 *    buys its power by under-estimating the variance). Within the group the differences are
 *    simulation noise; Bartlett is the simplest (positive by construction, the legacy kernel,
 *    checkable against statsmodels).
 *    The truncated (rectangular) kernel at h − 1 of the DM/HLN papers is right for a pure MA(h − 1)
 *    differential but misses the persistence: the worst size at h = 1.
 * Even so every kernel under-estimates the long-run variance on short persistent samples, and
 * t(T − 1) critical values ignore the estimation noise of the LRV (fixed-b effects), so nominal
 * levels are not actual ones: the gate's thresholds (DEFAULT_GATE) are calibrated for that.
 */
import { mean, MetricInputError, phi, studentT } from './stats';

export type LrvKernel = 'bartlett' | 'truncated' | 'parzen' | 'quadratic-spectral';

/** w(k / bandwidth): Bartlett with Newey-West lag L has bandwidth L + 1; truncated at lag L has L. */
export interface LrvSpec {
  kernel: LrvKernel;
  bandwidth: number;
  /** AR(1) prewhitening and recolouring (Andrews & Monahan 1992). */
  prewhiten?: boolean;
}

export interface LrvEstimate {
  value: number;
  kernel: LrvKernel;
  bandwidth: number;
  prewhiten: boolean;
  /** AR(1) coefficient used for prewhitening (0 when not prewhitened). */
  ar1: number;
  /** A truncated-kernel estimate was not positive and Bartlett at the same lag was used. */
  psdFallback: boolean;
}

/** A rule choosing the LRV for a differential of `d.length` rows of h-bar targets. */
export type LrvRule = (d: readonly number[], horizonBars: number) => LrvSpec;

export interface DieboldMariano {
  n: number;
  lag: number;
  meanDiff: number;
  longRunVariance: number;
  statistic: number | null;
  pValue: number | null;
  pValueOneSided: number | null;
  hlnStatistic: number | null;
  hlnPValue: number | null;
  /** The gate's version: robust LRV, HLN-corrected, one-sided Student-t(T − 1) (H1: `a` better). */
  robust: {
    kernel: LrvKernel;
    bandwidth: number;
    prewhiten: boolean;
    ar1: number;
    longRunVariance: number;
    statistic: number | null;
    hlnStatistic: number | null;
    hlnPValueOneSided: number | null;
  };
}

/** The Newey-West rule-of-thumb lag floor(4 (T/100)^(2/9)). */
export function nwRuleLag(n: number): number {
  return Math.floor(4 * (n / 100) ** (2 / 9));
}

/** Legacy lag: max(h − 1, floor(4 (T/100)^(2/9))). */
export function dmLag(n: number, horizonBars: number): number {
  return Math.max(horizonBars - 1, nwRuleLag(n));
}

/** Demeaned autocovariances γ0..γ_maxLag with 1/T normalization. */
export function autocovariances(d: readonly number[], maxLag: number): number[] {
  const n = d.length;
  const m = mean(d);
  const u = new Float64Array(n);
  for (let i = 0; i < n; i++) u[i] = d[i]! - m;
  const out: number[] = [];
  for (let k = 0; k <= Math.min(maxLag, n - 1); k++) {
    let s = 0;
    for (let t = k; t < n; t++) s += u[t]! * u[t - k]!;
    out.push(s / n);
  }
  return out;
}

export function kernelWeight(kernel: LrvKernel, x: number): number {
  const a = Math.abs(x);
  switch (kernel) {
    case 'bartlett':
      return a < 1 ? 1 - a : 0;
    case 'truncated':
      return a <= 1 ? 1 : 0;
    case 'parzen':
      return a <= 0.5 ? 1 - 6 * a * a + 6 * a ** 3 : a <= 1 ? 2 * (1 - a) ** 3 : 0;
    case 'quadratic-spectral': {
      if (a === 0) return 1;
      const z = (6 * Math.PI * a) / 5;
      return (25 / (12 * Math.PI * Math.PI * a * a)) * (Math.sin(z) / z - Math.cos(z));
    }
  }
}

function lrvFromGamma(gamma: readonly number[], kernel: LrvKernel, bandwidth: number): number {
  let v = gamma[0]!;
  for (let k = 1; k < gamma.length; k++) {
    const w = kernelWeight(kernel, k / bandwidth);
    if (w !== 0) v += 2 * w * gamma[k]!;
  }
  return v;
}

function maxLagFor(kernel: LrvKernel, bandwidth: number, n: number): number {
  // Compact kernels vanish beyond the bandwidth; the quadratic-spectral kernel uses every lag.
  return kernel === 'quadratic-spectral' ? n - 1 : Math.min(n - 1, Math.floor(bandwidth));
}

/** Newey-West long-run variance of `d` (Bartlett weights 1 − k/(lag+1), 1/T normalization). */
export function neweyWestVariance(d: readonly number[], lag: number): number {
  return lrvFromGamma(autocovariances(d, lag), 'bartlett', lag + 1);
}

const AR1_CAP = 0.97;

/** Kernel long-run variance, optionally AR(1)-prewhitened; a non-positive truncated estimate falls back to Bartlett. */
export function longRunVariance(d: readonly number[], spec: LrvSpec): LrvEstimate {
  const n = d.length;
  let series: readonly number[] = d;
  let ar1 = 0;
  if (spec.prewhiten && n > 3) {
    const m = mean(d);
    let num = 0;
    let den = 0;
    for (let t = 1; t < n; t++) {
      num += (d[t]! - m) * (d[t - 1]! - m);
      den += (d[t - 1]! - m) ** 2;
    }
    ar1 = den > 0 ? Math.max(-AR1_CAP, Math.min(AR1_CAP, num / den)) : 0;
    const u: number[] = [];
    for (let t = 1; t < n; t++) u.push(d[t]! - m - ar1 * (d[t - 1]! - m));
    series = u;
  }
  const gamma = autocovariances(series, maxLagFor(spec.kernel, spec.bandwidth, series.length));
  let value = lrvFromGamma(gamma, spec.kernel, spec.bandwidth);
  let psdFallback = false;
  if (spec.kernel === 'truncated' && !(value > 0)) {
    value = lrvFromGamma(gamma, 'bartlett', Math.floor(spec.bandwidth) + 1);
    psdFallback = true;
  }
  if (spec.prewhiten) value /= (1 - ar1) ** 2;
  return { value, kernel: spec.kernel, bandwidth: spec.bandwidth, prewhiten: !!spec.prewhiten, ar1, psdFallback };
}

/** Andrews (1991) AR(1) plug-in bandwidth S_T (ρ̂ = γ1/γ0 capped at ±0.97). */
export function andrewsBandwidth(d: readonly number[], kernel: 'bartlett' | 'parzen' | 'quadratic-spectral'): number {
  const n = d.length;
  const g = autocovariances(d, 1);
  const rho = g[0]! > 0 && g.length > 1 ? Math.max(-AR1_CAP, Math.min(AR1_CAP, g[1]! / g[0]!)) : 0;
  const a1 = (4 * rho * rho) / ((1 - rho) ** 2 * (1 + rho) ** 2);
  const a2 = (4 * rho * rho) / (1 - rho) ** 4;
  if (kernel === 'bartlett') return 1.1447 * (a1 * n) ** (1 / 3);
  if (kernel === 'parzen') return 2.6614 * (a2 * n) ** (1 / 5);
  return 1.3221 * (a2 * n) ** (1 / 5);
}

/** Newey-West (1994) automatic Bartlett lag (no prewhitening, pilot lag floor(4 (T/100)^(2/9))). */
export function neweyWest1994Lag(d: readonly number[]): number {
  const n = d.length;
  const pilot = nwRuleLag(n);
  const g = autocovariances(d, pilot);
  let s0 = g[0]!;
  let s1 = 0;
  for (let j = 1; j < g.length; j++) {
    s0 += 2 * g[j]!;
    s1 += 2 * j * g[j]!;
  }
  if (!(s0 > 0)) return pilot;
  return Math.min(n - 1, Math.floor(1.1447 * Math.abs(s1 / s0) ** (2 / 3) * n ** (1 / 3)));
}

/** The LRV rules compared in bench/gate_study.ts (docs/gate-statistics.md). */
export const LRV_RULES = {
  /** Legacy (the `longRunVariance` field): Bartlett at L = max(h − 1, NW rule of thumb). */
  'bartlett-h': (d, h) => ({ kernel: 'bartlett', bandwidth: dmLag(d.length, h) + 1 }),
  /** Original DM / HLN: rectangular at L = h − 1 (Bartlett at the same lag when not positive). */
  'truncated-h': (d, h) => ({ kernel: 'truncated', bandwidth: Math.max(h - 1, 0) }),
  /** Bartlett at L = max(2h, NW rule). */
  'bartlett-2h': (d, h) => ({ kernel: 'bartlett', bandwidth: Math.max(2 * h, nwRuleLag(d.length)) + 1 }),
  /** Bartlett at the Newey-West (1994) automatic lag, floor h − 1. */
  'bartlett-nw94': (d, h) => ({ kernel: 'bartlett', bandwidth: Math.max(h - 1, neweyWest1994Lag(d)) + 1 }),
  /** Bartlett at the Andrews (1991) AR(1) bandwidth, floor h. */
  'bartlett-andrews': (d, h) => ({ kernel: 'bartlett', bandwidth: Math.max(h, andrewsBandwidth(d, 'bartlett')) }),
  /** Quadratic spectral at the Andrews (1991) AR(1) bandwidth, floor h. */
  'qs-andrews': (d, h) => ({ kernel: 'quadratic-spectral', bandwidth: Math.max(h, andrewsBandwidth(d, 'quadratic-spectral')) }),
  /** AR(1)-prewhitened (Andrews-Monahan 1992) Bartlett at L = max(2h, NW rule). */
  'pw-bartlett-2h': (d, h) => ({ kernel: 'bartlett', bandwidth: Math.max(2 * h, nwRuleLag(d.length)) + 1, prewhiten: true }),
  /** AR(1)-prewhitened quadratic spectral at the Andrews bandwidth, floor h. */
  'pw-qs-andrews': (d, h) => ({ kernel: 'quadratic-spectral', bandwidth: Math.max(h, andrewsBandwidth(d, 'quadratic-spectral')), prewhiten: true }),
  /** THE GATE'S: Bartlett at L = max(2h, 48, NW rule): the overlap twice over and two days of persistence. */
  'bartlett-2h-48': (d, h) => ({ kernel: 'bartlett', bandwidth: Math.max(2 * h, 48, nwRuleLag(d.length)) + 1 }),
  /** Bartlett at L = max(4h, 96, NW rule). */
  'bartlett-4h-96': (d, h) => ({ kernel: 'bartlett', bandwidth: Math.max(4 * h, 96, nwRuleLag(d.length)) + 1 }),
  /** Parzen with bandwidth max(4h, 96). */
  'parzen-4h-96': (d, h) => ({ kernel: 'parzen', bandwidth: Math.max(4 * h, 96) }),
  /** Quadratic spectral with bandwidth max(h, 24). */
  'qs-h-24': (d, h) => ({ kernel: 'quadratic-spectral', bandwidth: Math.max(h, 24) }),
} satisfies Record<string, LrvRule>;

export type LrvRuleName = keyof typeof LRV_RULES;

/** The gate's LRV (see the header comment). */
export const GATE_LRV: LrvRuleName = 'bartlett-2h-48';

/**
 * HLN small-sample factor sqrt((T + 1 − 2h + h(h−1)/T) / T), floored at 1e-3 so that T < 2h (where
 * the factor is undefined) gives a tiny statistic instead of NaN.
 */
export function hlnFactor(n: number, horizonBars: number): number {
  const h = horizonBars;
  return Math.sqrt(Math.max((n + 1 - 2 * h + (h * (h - 1)) / n) / n, 1e-6));
}

export function dieboldMariano(
  lossA: readonly number[],
  lossB: readonly number[],
  horizonBars: number,
  opts: { lrv?: LrvRuleName | LrvSpec } = {},
): DieboldMariano {
  if (lossA.length !== lossB.length) throw new MetricInputError(`DM needs losses on the same rows: ${lossA.length} vs ${lossB.length}`);
  const d = lossA.map((a, i) => a - lossB[i]!);
  const n = d.length;
  const lag = dmLag(n, horizonBars);
  const meanDiff = mean(d);
  const none = { statistic: null, pValue: null, pValueOneSided: null, hlnStatistic: null, hlnPValue: null };
  const rule = opts.lrv ?? GATE_LRV;
  const spec: LrvSpec = typeof rule === 'string' ? LRV_RULES[rule](d, horizonBars) : rule;
  const robustNone = { kernel: spec.kernel, bandwidth: spec.bandwidth, prewhiten: !!spec.prewhiten, ar1: 0, longRunVariance: Number.NaN, statistic: null, hlnStatistic: null, hlnPValueOneSided: null };
  if (n < 2) return { n, lag, meanDiff, longRunVariance: Number.NaN, ...none, robust: robustNone };

  const r = longRunVariance(d, spec);
  const robust =
    r.value > 0
      ? (() => {
          const statistic = meanDiff / Math.sqrt(r.value / n);
          const hlnStatistic = statistic * hlnFactor(n, horizonBars);
          return { ...robustNone, ar1: r.ar1, longRunVariance: r.value, statistic, hlnStatistic, hlnPValueOneSided: studentT(hlnStatistic, n - 1) };
        })()
      : { ...robustNone, ar1: r.ar1, longRunVariance: r.value };

  const lrv = neweyWestVariance(d, lag);
  // Identical forecasts (d ≡ 0) carry no evidence either way.
  if (!(lrv > 0)) return { n, lag, meanDiff, longRunVariance: lrv, ...none, robust };
  const statistic = meanDiff / Math.sqrt(lrv / n);
  const h = horizonBars;
  const hlnStatistic = statistic * Math.sqrt((n + 1 - 2 * h + (h * (h - 1)) / n) / n);
  return {
    n,
    lag,
    meanDiff,
    longRunVariance: lrv,
    statistic,
    pValue: 2 * phi(-Math.abs(statistic)),
    pValueOneSided: phi(statistic),
    hlnStatistic,
    hlnPValue: 2 * studentT(-Math.abs(hlnStatistic), n - 1),
    robust,
  };
}
