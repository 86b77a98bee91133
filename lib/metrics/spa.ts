/**
 * Hansen's (2005) test for Superior Predictive Ability: does any of k candidates beat a benchmark,
 * allowing for the search over the k (the best-of-N guard of the promotion gate, lib/metrics/gate.ts)?
 *
 * Loss differentials d_{t,k} = benchmark_t − candidate_{k,t} (positive = candidate better), T rows.
 *   statistic  T_SPA = max_k  d̄_k / ω_k                      (studentized; the common √T is dropped)
 *   bootstrap  Z*_k = (d̄*_k − μ̂_k) / ω_k, d̄*_k the mean of d_k over a stationary-bootstrap resample
 *              (Politis & Romano 1994: blocks start at a uniform row and continue, wrapping around, with
 *              probability 1 − 1/b per row, b the mean block length), the SAME row indices for every k
 *   p-value    share of replications with max_k Z*_k ≥ T_SPA
 * with three recentrings μ̂_k (Hansen 2005, §2.3):
 *   lower       μ̂_k = max(d̄_k, 0)                     (worse candidates keep their negative mean: liberal)
 *   consistent  μ̂_k = d̄_k · 1{d̄_k ≥ −ω_k √(2 ln ln T / T)}   (only clearly-worse candidates keep it)
 *   upper       μ̂_k = d̄_k                             (every candidate treated as equally good: White's RC)
 * and ω²_k the (non-nested) stationary-bootstrap variance of √T d̄_k (Politis & Romano 1994, eq. in §3;
 * Hansen's "ω̂²"): ω² = γ̂0 + 2 Σ_{i=1}^{T−1} κ_i γ̂_i, κ_i = (1 − i/T)(1 − 1/b)^i + (i/T)(1 − 1/b)^{T−i},
 * γ̂_i the 1/T-normalized autocovariances of d_k.
 *
 * This reproduces arch.bootstrap.SPA (arch 8.0.0, nested=False) step for step — the variance above
 * is its `_compute_variance`, the recentrings and the p-value count its `_simulate_values`/`compute` — with
 * two deliberate differences. Ties count as exceedances (arch counts max Z* > T strictly, so its
 * ties are decided by rounding): they happen with degenerate differentials (a candidate identical to
 * the benchmark resamples to exactly 0 = its statistic, which arch scores p = 0 and this scores
 * p = 1, "no evidence") and for resamples that are permutations of the rows (see TIE_TOLERANCE).
 * And arch computes its p-values from the raw means d̄_k and d̄*_k − μ̂_k
 * whatever `studentize` says (its `studentize=True` only feeds ω_k into the consistent threshold), so
 * arch's SPA is White's non-studentized statistic. Hansen shows studentizing matters when the
 * candidates' differentials have different variances (a noisy bad model can otherwise dominate the
 * max), so `studentize` defaults to true here; `studentize: false` is exactly arch's computation.
 * test/spa.test.ts checks both against arch with the same bootstrap indices (the studentized version
 * through arch run on d_k / ω_k, which is the same test).
 *
 * Hansen's T_SPA is max(0, ·); with the arch convention (no floor) p-values differ only when every
 * candidate is worse than the benchmark, where both are large.
 */
import { MetricInputError } from './stats';
import { createRng, type Rng } from './random';

/**
 * Relative tolerance for ties between a replication's max and the statistic. A resample that is a
 * permutation of the rows (a single block wrapping around: probability (1 − 1/b)^(T−1), 0.65% of
 * replications at T = 240, b = 48) has d̄* = d̄ up to summation-order rounding; with the "lower"
 * recentring of a worse-than-benchmark candidate that is an exact tie in exact arithmetic, so it
 * must not depend on rounding.
 */
const TIE_TOLERANCE = 1e-10;

export interface SpaOptions {
  /** Mean block length b of the stationary bootstrap; default spaBlockLength(T, horizonBars). */
  blockLength?: number;
  /** Bars per target row (h); sets the default block length. Default 1. */
  horizonBars?: number;
  /** Bootstrap replications. Default 1000. */
  reps?: number;
  /** PRNG seed (lib/metrics/random.ts): equal seeds give equal p-values. Default 0. */
  seed?: number;
  /** Studentize by ω_k (Hansen). Default true; false = arch's raw-mean statistic. */
  studentize?: boolean;
  /** Pre-drawn bootstrap row indices (reps arrays of T indices in [0, T)); overrides seed/reps. For tests. */
  indices?: readonly (readonly number[] | Int32Array)[];
}

export interface SpaResult {
  pLower: number;
  pConsistent: number;
  pUpper: number;
  /** max_k √T d̄_k / ω_k (studentized) or max_k d̄_k (raw). */
  statistic: number;
  /** Index of the candidate attaining the statistic. */
  best: number;
  /** d̄_k (benchmark − candidate; positive = candidate better). */
  meanDiff: number[];
  /** ω²_k, the stationary-bootstrap variance of √T d̄_k. */
  variance: number[];
  blockLength: number;
  reps: number;
  rows: number;
}

/**
 * Default mean block length: b = max(2h, 24, ⌈T^{1/3}⌉). The blocks must keep whole target windows
 * together (the differentials are MA(h − 1) from the overlap alone, so b ≥ 2h keeps most of each
 * window's dependence inside a block) and span the volatility persistence that makes even h = 1
 * differentials autocorrelated (hourly log-vol persistence 0.97-0.99: shocks last about a day, hence
 * the 24-bar floor); T^{1/3} is the usual rate for the mean's variance (Politis & White 2004), which
 * only binds for T > 13,824 rows at h = 1. Chosen with bench/gate_study.ts (docs/gate-statistics.md).
 */
export function spaBlockLength(rows: number, horizonBars = 1): number {
  return Math.max(2 * horizonBars, 24, Math.ceil(rows ** (1 / 3)));
}

/** Stationary-bootstrap row indices for one replication (arch's StationaryBootstrap.update_indices rule). */
export function stationaryBootstrapIndices(rows: number, blockLength: number, rng: Rng): Int32Array {
  const p = 1 / blockLength;
  const idx = new Int32Array(rows);
  idx[0] = rng.int(rows);
  for (let i = 1; i < rows; i++) {
    if (rng.next() > p) {
      const j = idx[i - 1]! + 1;
      idx[i] = j === rows ? 0 : j;
    } else {
      idx[i] = rng.int(rows);
    }
  }
  return idx;
}

/** ω² = γ̂0 + 2 Σ κ_i γ̂_i: the stationary bootstrap's variance of √T·mean (arch SPA, nested=False). */
export function stationaryBootstrapVariance(d: readonly number[], blockLength: number): number {
  const t = d.length;
  let m = 0;
  for (const x of d) m += x;
  m /= t;
  const u = new Float64Array(t);
  for (let i = 0; i < t; i++) u[i] = d[i]! - m;
  const q = 1 - 1 / blockLength;
  let v = 0;
  for (let s = 0; s < t; s++) v += u[s]! * u[s]!;
  v /= t;
  for (let i = 1; i < t; i++) {
    const kappa = (1 - i / t) * q ** i + (i / t) * q ** (t - i);
    let g = 0;
    for (let s = 0; s < t - i; s++) g += u[s]! * u[s + i]!;
    v += (2 * kappa * g) / t;
  }
  return v;
}

export function spaTest(benchmark: readonly number[], candidates: readonly (readonly number[])[], opts: SpaOptions = {}): SpaResult {
  const t = benchmark.length;
  const k = candidates.length;
  if (k === 0) throw new MetricInputError('SPA needs at least one candidate');
  if (t < 3) throw new MetricInputError(`SPA needs at least 3 rows, got ${t}`);
  for (const c of candidates) if (c.length !== t) throw new MetricInputError(`SPA needs losses on the same rows: ${c.length} vs ${t}`);
  const blockLength = opts.blockLength ?? spaBlockLength(t, opts.horizonBars ?? 1);
  if (!(blockLength >= 1)) throw new MetricInputError(`SPA block length must be ≥ 1, got ${blockLength}`);
  const studentize = opts.studentize ?? true;

  const d = candidates.map((c) => benchmark.map((b, i) => b - c[i]!));
  const meanDiff = d.map((x) => x.reduce((s, v) => s + v, 0) / t);
  const variance = d.map((x) => stationaryBootstrapVariance(x, blockLength));
  const scale = variance.map((v) => (studentize ? Math.sqrt(v) : 1));
  const lnln = Math.log(Math.log(t));
  const centers = meanDiff.map((m, j) => {
    const valid = m >= -Math.sqrt((variance[j]! / t) * 2 * lnln);
    return [Math.max(m, 0), valid ? m : 0, m] as const; // lower, consistent, upper
  });
  // (x − μ) / scale with a zero-variance (constant) differential kept finite where x − μ is 0.
  const ratio = (num: number, j: number) => (num === 0 ? 0 : num / scale[j]!);
  let statistic = -Infinity;
  let best = 0;
  meanDiff.forEach((m, j) => {
    const s = ratio(m, j);
    if (s > statistic) {
      statistic = s;
      best = j;
    }
  });

  const rng = createRng(opts.seed ?? 0);
  const reps = opts.indices ? opts.indices.length : (opts.reps ?? 1000);
  if (!(reps >= 1)) throw new MetricInputError(`SPA needs at least one bootstrap replication, got ${reps}`);
  const exceed = [0, 0, 0];
  const sums = new Float64Array(k);
  for (let r = 0; r < reps; r++) {
    const idx = opts.indices ? opts.indices[r]! : stationaryBootstrapIndices(t, blockLength, rng);
    if (idx.length !== t) throw new MetricInputError(`bootstrap indices must have ${t} rows, got ${idx.length}`);
    sums.fill(0);
    for (let j = 0; j < k; j++) {
      const dj = d[j]!;
      let s = 0;
      for (let i = 0; i < t; i++) s += dj[idx[i]!]!;
      sums[j] = s / t;
    }
    for (let c = 0; c < 3; c++) {
      let mx = -Infinity;
      for (let j = 0; j < k; j++) {
        // A constant differential resamples to itself: its centred value is exactly m − μ.
        const num = variance[j]! > 0 ? sums[j]! - centers[j]![c]! : meanDiff[j]! - centers[j]![c]!;
        const z = ratio(num, j);
        if (z > mx) mx = z;
      }
      if (mx >= statistic - TIE_TOLERANCE * Math.abs(statistic)) exceed[c]!++;
    }
  }
  return {
    pLower: exceed[0]! / reps,
    pConsistent: exceed[1]! / reps,
    pUpper: exceed[2]! / reps,
    statistic: studentize ? statistic * Math.sqrt(t) : statistic,
    best,
    meanDiff,
    variance,
    blockLength,
    reps,
    rows: t,
  };
}
