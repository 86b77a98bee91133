/**
 * A synthetic hourly-volatility world for calibrating the promotion gate (test/gateCalibration.test.ts,
 * bench/gate_study.ts; see docs/gate-statistics.md). Pure and seeded: not used in production paths.
 *
 * Bars: r_b = σ_b ε_b, log σ_b an AR(1) around ln(0.006) with hourly persistence φ (default 0.98) and a
 * stationary standard deviation of log σ (default 0.5: σ moves within a factor e^±1 most of the time);
 * ε standard normal or a unit-variance Student-t. Row t (bar b = t) has the target
 *   y_t = sqrt(Σ_{j=1..h} r²_{t+j})          (h = 24: target_rv_24h, overlapping rows; h = 1: one bar)
 * and the "true" forecast, the conditional expectation given the latent log-vol at t:
 *   truth_t = sqrt(Σ_{j=1..h} E[σ²_{t+j} | σ_t]),  E[σ²_{t+j} | x_t] = exp(2(μ + φ^j (x_t − μ)) + 2 v_j),
 *   v_j = η² (1 − φ^{2j}) / (1 − φ²),  η the innovation standard deviation,
 * so E[y²/truth² | t] = 1 and a forecast truth·exp(e) with e independent, E e = 0, Var e = s², has
 * expected QLIKE = L0 + exp(2 s²) − 1, L0 the truth's own QLIKE (estimated by `truthLoss`).
 *
 * Forecast errors e_t = a_t + c_t: a persistent AR(1) part (persistence ρ, default φ: a model's error
 * moves with the vol regime) and an i.i.d. part. The persistent part is what makes loss differentials
 * autocorrelated well beyond the h − 1 rows of target overlap.
 */
import { qlikeLosses } from './loss';
import { createRng, type Rng } from './random';

export interface WorldSpec {
  rows: number;
  horizonBars: number;
  /** Hourly persistence of log σ. */
  persistence?: number;
  /** Stationary standard deviation of log σ. */
  logVolSd?: number;
  /** Student-t degrees of freedom of ε (unit variance); omitted = normal. */
  tailDf?: number;
}

export interface World {
  target: number[];
  truth: number[];
}

const MU = Math.log(0.006);

function studentT(rng: Rng, df: number): number {
  let chi = 0;
  for (let i = 0; i < df; i++) chi += rng.normal() ** 2;
  return (rng.normal() / Math.sqrt(chi / df)) * Math.sqrt((df - 2) / df);
}

export function simulateWorld(spec: WorldSpec, rng: Rng): World {
  const h = spec.horizonBars;
  const phi = spec.persistence ?? 0.98;
  const sdX = spec.logVolSd ?? 0.5;
  const eta = sdX * Math.sqrt(1 - phi * phi);
  const bars = spec.rows + h;
  const x = new Float64Array(bars);
  const r2 = new Float64Array(bars);
  x[0] = MU + sdX * rng.normal();
  for (let b = 0; b < bars; b++) {
    if (b > 0) x[b] = MU + phi * (x[b - 1]! - MU) + eta * rng.normal();
    const e = spec.tailDf ? studentT(rng, spec.tailDf) : rng.normal();
    r2[b] = Math.exp(2 * x[b]!) * e * e;
  }
  const phiPow: number[] = [];
  const v: number[] = [];
  for (let j = 1; j <= h; j++) {
    phiPow.push(phi ** j);
    v.push((eta * eta * (1 - phi ** (2 * j))) / (1 - phi * phi));
  }
  const target: number[] = [];
  const truth: number[] = [];
  let window = 0;
  for (let j = 1; j <= h; j++) window += r2[j]!;
  for (let t = 0; t < spec.rows; t++) {
    if (t > 0) window += r2[t + h]! - r2[t]!;
    target.push(Math.sqrt(Math.max(window, 0)));
    let ev = 0;
    for (let j = 0; j < h; j++) ev += Math.exp(2 * (MU + phiPow[j]! * (x[t]! - MU)) + 2 * v[j]!);
    truth.push(Math.sqrt(ev));
  }
  return { target, truth };
}

export interface NoiseSpec {
  /** Total standard deviation s of the log forecast error e. */
  sd: number;
  /** Share of Var(e) in the persistent AR(1) part (0 = i.i.d. errors, 1 = all persistent). */
  persistentShare: number;
  /** Hourly persistence of the persistent part. */
  persistence?: number;
}

/** truth · exp(e), e as in NoiseSpec (mean zero). */
export function noisyForecast(truth: readonly number[], noise: NoiseSpec, rng: Rng): number[] {
  const rho = noise.persistence ?? 0.98;
  const sa = noise.sd * Math.sqrt(noise.persistentShare);
  const sc = noise.sd * Math.sqrt(1 - noise.persistentShare);
  const innov = sa * Math.sqrt(1 - rho * rho);
  let a = sa * rng.normal();
  return truth.map((f, i) => {
    if (i > 0) a = rho * a + innov * rng.normal();
    return f * Math.exp(a + sc * rng.normal());
  });
}

/** Expected excess QLIKE over the truth of truth·exp(e) with Var e = sd². */
export function excessLoss(sd: number): number {
  return Math.exp(2 * sd * sd) - 1;
}

/** The sd whose expected excess QLIKE is `x` (inverse of excessLoss). */
export function sdForExcess(x: number): number {
  return Math.sqrt(Math.log(1 + x) / 2);
}

/** Mean QLIKE of the truth itself (L0), from one long seeded run. */
export function truthLoss(spec: Omit<WorldSpec, 'rows'>, rows = 200_000, seed = 12345): number {
  const w = simulateWorld({ ...spec, rows }, createRng(seed));
  const l = qlikeLosses(w.target, w.truth);
  return l.reduce((s, x) => s + x, 0) / l.length;
}

export type ScenarioKind = 'noisy-copy' | 'equal' | 'best-of' | 'better';

export interface ScenarioSpec {
  /**
   * noisy-copy: reference = truth·exp(e0), challenger = reference·exp(e1) (worse in expectation);
   * equal: reference and challenger independent noisy versions of the truth, equal expected loss;
   * best-of: `candidates` such versions, the challenger the one with the lowest mean loss on the rows;
   * better: challenger with `improvement` (default 10%) lower expected QLIKE than the reference,
   *   plus `candidates − 1` reference-like models (the best-of-N guard sees a real improvement).
   */
  kind: ScenarioKind;
  rows: number;
  horizonBars: number;
  /** Forecast-error noise of the reference and of the null candidates (the sd is replaced for 'better'). */
  noise: NoiseSpec;
  /** Candidate-set size for 'best-of' and 'better' (default 8; 'better' with 1 = no candidate set). */
  candidates?: number;
  improvement?: number;
  /** L0, the truth's expected QLIKE (truthLoss) for 'better'. */
  truthLoss?: number;
  world?: Pick<WorldSpec, 'persistence' | 'logVolSd' | 'tailDf'>;
}

export interface Scenario {
  challenger: number[];
  reference: number[];
  candidates: number[][] | null;
  /** Expected relative improvement 1 − E L(challenger) / E L(reference) by construction (null: unknown). */
  expectedImprovement: number | null;
}

/**
 * The 'better' construction: reference error sd s0, challenger s0/2, s0 solved so that
 * L0 + x(s0/2) = (1 − improvement)(L0 + x(s0)), x(s) = exp(2s²) − 1.
 */
export function betterNoise(truthLossL0: number, improvement = 0.1): { reference: number; challenger: number } {
  let lo = 0;
  let hi = 2;
  for (let i = 0; i < 100; i++) {
    const s = (lo + hi) / 2;
    const gap = (1 - improvement) * (truthLossL0 + excessLoss(s)) - (truthLossL0 + excessLoss(s / 2));
    if (gap < 0) lo = s;
    else hi = s;
  }
  const s0 = (lo + hi) / 2;
  return { reference: s0, challenger: s0 / 2 };
}

const meanOf = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

export function simulateScenario(spec: ScenarioSpec, rng: Rng): Scenario {
  const world = simulateWorld({ rows: spec.rows, horizonBars: spec.horizonBars, ...spec.world }, rng);
  const losses = (f: number[]) => qlikeLosses(world.target, f);
  const noisy = (sd: number) => noisyForecast(world.truth, { ...spec.noise, sd }, rng);
  const n = spec.candidates ?? 8;
  switch (spec.kind) {
    case 'noisy-copy': {
      const ref = noisy(spec.noise.sd);
      const challenger = noisyForecast(ref, spec.noise, rng);
      return { challenger: losses(challenger), reference: losses(ref), candidates: null, expectedImprovement: null };
    }
    case 'equal':
      return { reference: losses(noisy(spec.noise.sd)), challenger: losses(noisy(spec.noise.sd)), candidates: null, expectedImprovement: 0 };
    case 'best-of': {
      const reference = losses(noisy(spec.noise.sd));
      const candidates = Array.from({ length: n }, () => losses(noisy(spec.noise.sd)));
      const means = candidates.map(meanOf);
      const best = means.indexOf(Math.min(...means));
      return { reference, challenger: candidates[best]!, candidates, expectedImprovement: 0 };
    }
    case 'better': {
      if (spec.truthLoss === undefined) throw new Error("scenario 'better' needs truthLoss (L0)");
      const improvement = spec.improvement ?? 0.1;
      const sd = betterNoise(spec.truthLoss, improvement);
      const reference = losses(noisy(sd.reference));
      const challenger = losses(noisy(sd.challenger));
      const others = Array.from({ length: Math.max(n - 1, 0) }, () => losses(noisy(sd.reference)));
      return { reference, challenger, candidates: n > 1 ? [challenger, ...others] : null, expectedImprovement: improvement };
    }
  }
}
