/**
 * Simulation study behind the promotion gate's statistics (docs/gate-statistics.md): false-promotion
 * and power rates of the one-sided HLN-DM test for each long-run-variance rule, of the SPA guard for
 * each mean block length, of the whole gate (lib/metrics/gate.ts, DEFAULT_GATE), and the gate's power
 * against how persistent the challenger's improvement is.
 *
 *   node --import tsx bench/gate_study.ts [--trials 300] [--section dm,spa,gate,power]
 *
 * Worlds and scenarios: lib/metrics/gateSimulation.ts (hourly log-vol AR(1), persistence 0.98; QLIKE
 * losses of forecasts truth·exp(e)). Null designs: forecast-error sd 0.2 with half of its variance in
 * an AR(1) of persistence 0.98 (share 0.5) or all of it (share 1). Seeds are fixed: a re-run prints the
 * same tables. Single-threaded; the default run takes about 10 minutes on one core.
 */
import { dieboldMariano, LRV_RULES, type LrvRuleName } from '../lib/metrics/dieboldMariano';
import { judgeChallenger, type GateSettings } from '../lib/metrics/gate';
import { simulateScenario, truthLoss, type Scenario, type ScenarioSpec } from '../lib/metrics/gateSimulation';
import { createRng, deriveSeed } from '../lib/metrics/random';
import { spaBlockLength, spaTest } from '../lib/metrics/spa';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const trials = Number(arg('trials', '300'));
const sections = new Set(arg('section', 'dm,spa,gate,power').split(','));

const L0: Record<number, number> = { 1: truthLoss({ horizonBars: 1 }), 24: truthLoss({ horizonBars: 24 }) };

interface Cell {
  label: string;
  spec: ScenarioSpec;
}
const noise = (share: number) => ({ sd: 0.2, persistentShare: share });
const equal = (h: number, T: number, share = 0.5): Cell => ({ label: `equal h=${h} T=${T}${share === 0.5 ? '' : ` s=${share}`}`, spec: { kind: 'equal', rows: T, horizonBars: h, noise: noise(share) } });
const bestOf = (h: number, T: number, share = 0.5): Cell => ({ label: `best-of-8 h=${h} T=${T}${share === 0.5 ? '' : ` s=${share}`}`, spec: { kind: 'best-of', rows: T, horizonBars: h, noise: noise(share) } });
const better = (h: number, T: number, share = 0, candidates = 8): Cell => ({
  label: `10% better${candidates > 1 ? ` (of ${candidates})` : ''} h=${h} T=${T}${share === 0 ? '' : ` s=${share}`}`,
  spec: { kind: 'better', rows: T, horizonBars: h, noise: noise(share), truthLoss: L0[h], candidates },
});

/** The seeded scenarios of a cell (the same for every rule in a table). */
function* trialsOf(cell: Cell, seedBase: number): Generator<Scenario> {
  for (let k = 0; k < trials; k++) yield simulateScenario(cell.spec, createRng(deriveSeed(seedBase, k)));
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const row = (cols: string[]) => console.log(`| ${cols.join(' | ')} |`);
const header = (first: string, cells: Cell[]) => {
  row([first, ...cells.map((c) => c.label)]);
  row(['---', ...cells.map(() => '---:')]);
};
const rateBelow = (ps: number[], a: number) => ps.filter((p) => p < a).length / ps.length;

function dmSection(): void {
  const cells = [equal(24, 240), equal(1, 240), equal(24, 720), equal(1, 720), equal(24, 2000), equal(1, 2000), equal(24, 2000, 1), equal(1, 2000, 1), better(24, 2000, 0, 1), better(24, 2000, 0.25, 1), better(1, 2000, 0.5, 1)];
  const rules = Object.keys(LRV_RULES) as LrvRuleName[];
  const ps = new Map<LrvRuleName, number[][]>(rules.map((r) => [r, cells.map(() => [])]));
  cells.forEach((c, i) => {
    for (const s of trialsOf(c, 7000 + i)) {
      for (const r of rules) ps.get(r)![i]!.push(dieboldMariano(s.challenger, s.reference, c.spec.horizonBars, { lrv: r }).robust.hlnPValueOneSided ?? 1);
    }
  });
  for (const a of [0.05, 0.01]) {
    console.log(`\n### DM alone: share of trials with one-sided HLN p < ${a} (${trials} trials per cell)\n`);
    header('LRV rule', cells);
    for (const r of rules) row([r === 'bartlett-2h-48' ? `**${r}** (gate)` : r, ...ps.get(r)!.map((x) => pct(rateBelow(x, a)))]);
  }
}

function spaSection(): void {
  const cells = [bestOf(1, 240), bestOf(24, 720), bestOf(1, 720), bestOf(24, 2000), bestOf(1, 2000), bestOf(1, 2000, 1), better(24, 2000), better(1, 2000)];
  const rules: [string, (t: number, h: number) => number][] = [
    ['2h', (t, h) => 2 * h],
    ['floor(√T) (arch default)', (t) => Math.floor(Math.sqrt(t))],
    ['**max(2h, floor(√T))** (gate)', (t, h) => spaBlockLength(t, h)],
    ['max(2h, 24, T^(1/3))', (t, h) => Math.max(2 * h, 24, Math.ceil(t ** (1 / 3)))],
    ['max(2h, 48)', (t, h) => Math.max(2 * h, 48)],
    ['max(4h, 96)', (t, h) => Math.max(4 * h, 96)],
  ];
  const reps = 1000;
  const ps = rules.map(() => cells.map(() => [] as number[]));
  cells.forEach((c, i) => {
    let k = 0;
    for (const s of trialsOf(c, 8000 + i)) {
      rules.forEach(([, b], j) => ps[j]![i]!.push(spaTest(s.reference, s.candidates!, { blockLength: b(c.spec.rows, c.spec.horizonBars), reps, seed: k }).pConsistent));
      k++;
    }
  });
  for (const a of [0.05, 0.005]) {
    console.log(`\n### SPA alone: share of trials with consistent p < ${a} (studentized, ${reps} reps, ${trials} trials per cell)\n`);
    header('mean block length b', cells);
    rules.forEach(([label], j) => row([label, ...ps[j]!.map((x) => pct(rateBelow(x, a)))]));
  }
}

function gateSection(): void {
  const cells: Cell[] = [
    { label: 'noisy copy h=24 T=240', spec: { kind: 'noisy-copy', rows: 240, horizonBars: 24, noise: noise(0.5) } },
    equal(24, 240),
    bestOf(24, 240),
    equal(1, 240),
    bestOf(1, 240),
    equal(24, 720),
    bestOf(24, 720),
    equal(1, 720),
    bestOf(1, 720),
    bestOf(24, 2000),
    bestOf(1, 2000),
    bestOf(24, 720, 1),
    bestOf(1, 720, 1),
    bestOf(1, 2000, 1),
    better(24, 2000),
    better(1, 2000),
  ];
  const variants: [string, Partial<GateSettings>][] = [
    ['DEFAULT_GATE', {}],
    ['without the evidence floor (minWindows 0)', { minWindows: 0 }],
    ['floor, DM and SPA at 5%', { dmPValue: 0.05, spaPValue: 0.05 }],
  ];
  const hits = variants.map(() => cells.map(() => 0));
  cells.forEach((c, i) => {
    for (const s of trialsOf(c, 9000 + i)) {
      variants.forEach(([, settings], j) => {
        const r = judgeChallenger({ challenger: s.challenger, reference: s.reference, candidates: s.candidates, horizonBars: c.spec.horizonBars, lazy: true, ...settings });
        if (r.passed) hits[j]![i]!++;
      });
    }
  });
  console.log(`\n### The gate: share of trials promoted (${trials} trials per cell)\n`);
  // Transposed: one row per scenario reads better with three variants.
  row(['scenario', ...variants.map(([l]) => l)]);
  row(['---', ...variants.map(() => '---:')]);
  cells.forEach((c, i) => row([c.label, ...variants.map((_, j) => pct(hits[j]![i]! / trials))]));
}

function powerSection(): void {
  const shares = [0, 0.25, 0.5, 1];
  const cells = [24, 1].flatMap((h) => [2000, 2160].flatMap((T) => shares.map((s) => better(h, T, s))));
  console.log(`\n### DEFAULT_GATE power against the persistence of the improvement (${trials} trials per cell)\n`);
  console.log('share = fraction of the forecast-error variance in the AR(1) part (persistence 0.98); 0 = the challenger removes row-level noise.\n');
  row(['scenario', 'promoted', 'mean realized improvement']);
  row(['---', '---:', '---:']);
  cells.forEach((c, i) => {
    let n = 0;
    let rel = 0;
    for (const s of trialsOf(c, 9500 + i)) {
      const r = judgeChallenger({ challenger: s.challenger, reference: s.reference, candidates: s.candidates, horizonBars: c.spec.horizonBars, lazy: true });
      if (r.passed) n++;
      rel += r.relativeImprovement;
    }
    row([c.label, pct(n / trials), pct(rel / trials)]);
  });
}

const t0 = Date.now();
console.log(`L0 (the truth's own QLIKE): h=1 ${L0[1]!.toFixed(4)}, h=24 ${L0[24]!.toFixed(4)}`);
if (sections.has('dm')) dmSection();
if (sections.has('spa')) spaSection();
if (sections.has('gate')) gateSection();
if (sections.has('power')) powerSection();
console.log(`\n(${((Date.now() - t0) / 1000).toFixed(0)} s)`);
