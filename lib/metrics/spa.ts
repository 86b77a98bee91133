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
 * Default mean block length: b = max(2h, floor(√T)).
 *  - 2h: the differentials of h-bar targets are MA(h − 1) from the overlap alone; blocks averaging 2h
 *    rows keep most overlapping windows inside one block (b = h would cut about half of them).
 *  - √T (arch's default): a block length that grows with the sample covers the persistence of the
 *    forecast errors (hourly vol persistence ~0.98) as far as the sample allows, while keeping about
 *    √T blocks per resample. Longer fixed floors (24, 48, 96 bars) did worse in the study
 *    (bench/gate_study.ts, docs/gate-statistics.md): with few blocks a resample is close to a circular
 *    shift of the data, its mean close to the sample mean, and the bootstrap distribution too narrow.
 * T = 240: 15 at h = 1, 48 at h = 24; T = 2000: 44 and 48.
 */
export function spaBlockLength(rows: number, horizonBars = 1): number {
  return Math.max(2 * horizonBars, Math.floor(Math.sqrt(rows)), 1);
}

/**
 * One stationary-bootstrap replication as blocks [start, length]: starts uniform on [0, T), lengths
 * i.i.d. geometric with mean b (the last one cut so the lengths sum to T), rows wrapping from T − 1
 * to 0. The same distribution as arch's StationaryBootstrap (each row continues the previous block
 * with probability 1 − 1/b, else starts a new one at a uniform row), drawn a block at a time.
 */
export function stationaryBootstrapBlocks(rows: number, blockLength: number, rng: Rng): Int32Array {
  const buf = new Int32Array(2 * rows);
  return buf.slice(0, fillBlocks(rows, blockLength, rng, buf));
}

/** stationaryBootstrapBlocks into a reusable buffer of 2T ints; returns the number of ints written. */
function fillBlocks(rows: number, blockLength: number, rng: Rng, buf: Int32Array): number {
  const p = 1 / blockLength;
  const logQ = Math.log1p(-p);
  let n = 0;
  let filled = 0;
  while (filled < rows) {
    const start = rng.int(rows);
    const u = rng.next();
    // P(len > m) = (1 − p)^m; p = 1 (b = 1) gives length 1.
    let len = p >= 1 ? 1 : 1 + Math.floor(Math.log1p(-u) / logQ);
    if (!(len >= 1)) len = 1;
    if (len > rows - filled) len = rows - filled;
    buf[n++] = start;
    buf[n++] = len;
    filled += len;
  }
  return n;
}

/** The row indices of one replication (see stationaryBootstrapBlocks): what arch's update_indices returns. */
export function stationaryBootstrapIndices(rows: number, blockLength: number, rng: Rng): Int32Array {
  return blocksToIndices(rows, stationaryBootstrapBlocks(rows, blockLength, rng));
}

function blocksToIndices(rows: number, blocks: Int32Array): Int32Array {
  const idx = new Int32Array(rows);
  let i = 0;
  for (let b = 0; b < blocks.length; b += 2) {
    const start = blocks[b]!;
    for (let j = 0; j < blocks[b + 1]!; j++) idx[i++] = (start + j) % rows;
  }
  return idx;
}

/** Runs of consecutive (wrapping) rows in an index set, as blocks [start, length]. */
function indicesToBlocks(rows: number, idx: ArrayLike<number>): Int32Array {
  if (idx.length !== rows) throw new MetricInputError(`bootstrap indices must have ${rows} rows, got ${idx.length}`);
  const out: number[] = [];
  let start = idx[0]!;
  let len = 1;
  for (let i = 1; i < rows; i++) {
    const v = idx[i]!;
    if (!(Number.isInteger(v) && v >= 0 && v < rows)) throw new MetricInputError(`bootstrap index out of range: ${v}`);
    if (v === (idx[i - 1]! + 1) % rows && len < rows) len++;
    else {
      out.push(start, len);
      start = v;
      len = 1;
    }
  }
  out.push(start, len);
  return Int32Array.from(out);
}

/** In-place iterative radix-2 FFT of (re, im), length a power of two; `inverse` without the 1/n. */
function fft(re: Float64Array, im: Float64Array, inverse: boolean): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      const tr = re[i]!;
      re[i] = re[j]!;
      re[j] = tr;
      const ti = im[i]!;
      im[i] = im[j]!;
      im[j] = ti;
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const ang = ((inverse ? 2 : -2) * Math.PI) / len;
    const wr = Math.cos(ang);
    const wi = Math.sin(ang);
    for (let i = 0; i < n; i += len) {
      let cr = 1;
      let ci = 0;
      for (let j = 0; j < len / 2; j++) {
        const a = i + j;
        const b = a + len / 2;
        const xr = re[b]! * cr - im[b]! * ci;
        const xi = re[b]! * ci + im[b]! * cr;
        re[b] = re[a]! - xr;
        im[b] = im[a]! - xi;
        re[a] = re[a]! + xr;
        im[a] = im[a]! + xi;
        const t = cr * wr - ci * wi;
        ci = cr * wi + ci * wr;
        cr = t;
      }
    }
  }
}

/** Σ_{s=0}^{T−1−i} u_s u_{s+i} for every lag i: directly for short series, by FFT (zero-padded) otherwise. */
function laggedProducts(u: Float64Array): Float64Array {
  const t = u.length;
  const out = new Float64Array(t);
  if (t < 256) {
    for (let i = 0; i < t; i++) {
      let g = 0;
      for (let s = 0; s < t - i; s++) g += u[s]! * u[s + i]!;
      out[i] = g;
    }
    return out;
  }
  let n = 1;
  while (n < 2 * t) n <<= 1;
  const re = new Float64Array(n);
  const im = new Float64Array(n);
  re.set(u);
  fft(re, im, false);
  for (let i = 0; i < n; i++) {
    re[i] = re[i]! * re[i]! + im[i]! * im[i]!;
    im[i] = 0;
  }
  fft(re, im, true);
  for (let i = 0; i < t; i++) out[i] = re[i]! / n;
  return out;
}

/** κ_i = (1 − i/T)(1 − 1/b)^i + (i/T)(1 − 1/b)^(T−i), i = 0..T−1: the stationary bootstrap's lag weights. */
export function stationaryBootstrapKernel(rows: number, blockLength: number): Float64Array {
  const q = 1 - 1 / blockLength;
  const kappa = new Float64Array(rows);
  for (let i = 0; i < rows; i++) kappa[i] = (1 - i / rows) * q ** i + (i / rows) * q ** (rows - i);
  return kappa;
}

/**
 * ω² = γ̂0 + 2 Σ_{i ≥ 1} κ_i γ̂_i: the stationary bootstrap's variance of √T·mean (arch SPA,
 * nested=False). `kappa` (stationaryBootstrapKernel) can be passed to share it across series.
 */
export function stationaryBootstrapVariance(d: readonly number[], blockLength: number, kappa?: Float64Array): number {
  const t = d.length;
  const w = kappa ?? stationaryBootstrapKernel(t, blockLength);
  let m = 0;
  for (const x of d) m += x;
  m /= t;
  const u = new Float64Array(t);
  for (let i = 0; i < t; i++) u[i] = d[i]! - m;
  const g = laggedProducts(u);
  let v = g[0]! / t;
  for (let i = 1; i < t; i++) v += (2 * w[i]! * g[i]!) / t;
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
  const kappa = stationaryBootstrapKernel(t, blockLength);
  const variance = d.map((x) => stationaryBootstrapVariance(x, blockLength, kappa));
  const scale = variance.map((v) => (studentize ? Math.sqrt(v) : 1));
  const lnln = Math.log(Math.log(t));
  // Recentring μ̂ per (recentring c, candidate j) at c·k + j: lower, consistent, upper.
  const centers = new Float64Array(3 * k);
  meanDiff.forEach((m, j) => {
    const valid = m >= -Math.sqrt((variance[j]! / t) * 2 * lnln);
    centers[j] = Math.max(m, 0);
    centers[k + j] = valid ? m : 0;
    centers[2 * k + j] = m;
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
  const threshold = statistic - TIE_TOLERANCE * Math.abs(statistic);
  // A constant differential resamples to itself: its centred value is exactly (m − μ̂)/scale.
  const constant = variance.map((v) => !(v > 0));
  const constZ = new Float64Array(3 * k);
  for (let c = 0; c < 3; c++) for (let j = 0; j < k; j++) constZ[c * k + j] = ratio(meanDiff[j]! - centers[c * k + j]!, j);

  const rng = createRng(opts.seed ?? 0);
  const reps = opts.indices ? opts.indices.length : (opts.reps ?? 1000);
  if (!(reps >= 1)) throw new MetricInputError(`SPA needs at least one bootstrap replication, got ${reps}`);
  // Block sums from prefix sums: a replication costs O(blocks · k), not O(T · k).
  const prefix = d.map((x) => {
    const c = new Float64Array(t + 1);
    for (let i = 0; i < t; i++) c[i + 1] = c[i]! + x[i]!;
    return c;
  });
  const exceed = [0, 0, 0];
  const sums = new Float64Array(k);
  const buf = new Int32Array(2 * t);
  for (let r = 0; r < reps; r++) {
    let blocks: Int32Array = buf;
    let nb: number;
    if (opts.indices) {
      blocks = indicesToBlocks(t, opts.indices[r]!);
      nb = blocks.length;
    } else {
      nb = fillBlocks(t, blockLength, rng, buf);
    }
    for (let j = 0; j < k; j++) {
      const c = prefix[j]!;
      const total = c[t]!;
      let s = 0;
      for (let b = 0; b < nb; b += 2) {
        const start = blocks[b]!;
        const end = start + blocks[b + 1]!;
        s += end <= t ? c[end]! - c[start]! : total - c[start]! + c[end - t]!;
      }
      sums[j] = s / t;
    }
    for (let c = 0; c < 3; c++) {
      let mx = -Infinity;
      for (let j = 0; j < k; j++) {
        const z = constant[j] ? constZ[c * k + j]! : ratio(sums[j]! - centers[c * k + j]!, j);
        if (z > mx) mx = z;
      }
      if (mx >= threshold) exceed[c]!++;
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
