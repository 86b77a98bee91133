/**
 * The contracts hold: every domain fact (target horizons, bar lengths, model kinds) is declared in
 * contracts/ only, the code that depends on them agrees with them, and the layers point one way.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, it } from 'node:test';
import { ACTIVITY_NAMES, activitiesFor, catalog, retryPolicies } from '../../contracts/activities';
import { BASELINE_KINDS, barMsOf, fitActivityFor, horizonBarsOf, MODEL_KIND_NAMES, TARGET_NAMES, TIMEFRAMES, TRAINABLE_TARGETS } from '../../contracts/domain';
import * as errors from '../../lib/platform/errors';
import { configSchema } from '../../lib/platform/configSchema';
import { repoRoot } from '../../lib/platform/paths';
import { OUTPUT_DEFINITIONS } from '../../lib/features/definitions';

const SOURCE_ROOTS = ['lib', 'activities', 'workflows', 'workers', 'cli', 'models', 'infra'];
/**
 * Lines that bind contract names to code rather than declare them: the trainer's registry of fit
 * functions per kind, which models.fit.check_kinds() holds equal to the contract at trainer start.
 */
const BINDINGS: RegExp[] = [/^models\/fit\.py:\d+: lists model kinds/];

function trackedSources(): string[] {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', ...SOURCE_ROOTS], { cwd: repoRoot }).toString();
  return out.split('\n').filter((f) => /\.(ts|py)$/.test(f) && existsSync(join(repoRoot, f)));
}

/** Code only: comments, docstrings and the text of descriptions say what things are, they declare nothing. */
function codeLines(file: string, text: string): string[] {
  let s = text;
  if (file.endsWith('.py')) {
    s = s.replace(/("""|''')[\s\S]*?\1/g, (m) => m.replace(/[^\n]/g, ' ')).replace(/#.*$/gm, '');
  } else {
    s = s.replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, ' ')).replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  }
  return s.split('\n');
}

function distinct(line: string, names: readonly string[]): string[] {
  return names.filter((n) => new RegExp(`(['"\`]|\\b)${n}(['"\`]|\\b)`).test(line));
}

/** Lines that declare a target, kind or timeframe fact outside contracts/ (file:line: why). */
export function declarationsOutsideContract(files: { file: string; text: string }[]): string[] {
  const found: string[] = [];
  for (const { file, text } of files) {
    codeLines(file, text).forEach((line, i) => {
      const at = `${file}:${i + 1}`;
      const targets = distinct(line, TARGET_NAMES);
      if (targets.length >= 2) found.push(`${at}: lists targets ${targets.join(', ')}`);
      for (const t of TARGET_NAMES) if (new RegExp(`['"]?${t}['"]?\\s*[:=]\\s*[0-9]`).test(line)) found.push(`${at}: gives ${t} a number`);
      const kinds = distinct(line, MODEL_KIND_NAMES);
      if (kinds.length >= 3) found.push(`${at}: lists model kinds ${kinds.join(', ')}`);
      for (const tf of TIMEFRAMES) if (new RegExp(`['"]${tf}['"]\\s*:\\s*[0-9A-Z_]`).test(line)) found.push(`${at}: gives timeframe ${tf} a length`);
      const tfs = TIMEFRAMES.filter((tf) => new RegExp(`['"]${tf}['"]`).test(line));
      if (tfs.length >= 3) found.push(`${at}: lists timeframes ${tfs.join(', ')}`);
    });
  }
  return found;
}

describe('the domain contract (contracts/domain.json)', () => {
  it('no target, model kind or timeframe is declared outside contracts/', () => {
    const files = trackedSources().map((file) => ({ file, text: readFileSync(join(repoRoot, file), 'utf8') }));
    assert.deepEqual(declarationsOutsideContract(files).filter((f) => !BINDINGS.some((b) => b.test(f))), []);
  });

  it('the scan catches the copies it is there to catch', () => {
    const copies = [
      { file: 'lib/a.ts', text: "export const H: Record<string, number> = { target_gk_1h: 1, target_rv_24h: 24 };" },
      { file: 'lib/b.ts', text: "const MS = { '1h': 3_600_000 };" },
      { file: 'models/c.py', text: 'CPU_KINDS = ("persistence", "ewma", "har_rv")\nHORIZON = {"target_rv_24h": 24}' },
      { file: 'lib/d.ts', text: "// a comment naming target_gk_1h and target_rv_24h is not a declaration" },
    ];
    const found = declarationsOutsideContract(copies);
    assert.ok(found.some((f) => f.startsWith('lib/a.ts:1: lists targets')), found.join('\n'));
    assert.ok(found.some((f) => f.startsWith('lib/a.ts:1: gives target_gk_1h a number')));
    assert.ok(found.some((f) => f.startsWith('lib/b.ts:1: gives timeframe 1h a length')));
    assert.ok(found.some((f) => f.startsWith('models/c.py:1: lists model kinds')));
    assert.ok(found.some((f) => f.startsWith('models/c.py:2: gives target_rv_24h a number')));
    assert.ok(!found.some((f) => f.startsWith('lib/d.ts')));
  });

  it('reads the facts the stages rely on', () => {
    assert.equal(horizonBarsOf('target_gk_1h'), 1);
    assert.equal(horizonBarsOf('target_rv_24h'), 24);
    assert.equal(barMsOf('1h'), 3_600_000);
    assert.equal(barMsOf('1d'), 86_400_000);
    assert.equal(fitActivityFor('sph_net'), 'fitNeuralModel');
    assert.equal(fitActivityFor('har_x'), 'fitModel');
    assert.deepEqual(BASELINE_KINDS, ['persistence', 'ewma', 'har_rv', 'log_har', 'har_x', 'garch']);
    assert.throws(() => horizonBarsOf('target_rv_7d'), /unknown target "target_rv_7d": contracts\/domain.json declares/);
    assert.throws(() => barMsOf('2h'), (e: unknown) => e instanceof errors.UnknownDomainNameError && /unknown timeframe "2h"/.test(e.message));
  });

  it('config validates against the contract: trainable targets, kinds and timeframes only', () => {
    const shape = configSchema.shape;
    assert.deepEqual([...shape.targets.element.options], TRAINABLE_TARGETS);
    assert.deepEqual([...shape.timeframes.element.options], TIMEFRAMES);
  });

  it('every target column the features define is a contract target, and every contract target is defined', () => {
    const defined = OUTPUT_DEFINITIONS.filter((d) => d.kind === 'target').map((d) => d.name).sort();
    assert.deepEqual(defined, [...TARGET_NAMES].sort());
  });
});

describe('the activity contract (contracts/activities.json)', () => {
  it('declares timeouts and a known retry policy for every activity', () => {
    for (const name of ACTIVITY_NAMES) {
      const e = catalog[name];
      assert.match(e.startToClose, /^\d+ (seconds?|minutes?|hours?)$/, `${name}.startToClose`);
      if (e.heartbeat !== null) assert.match(e.heartbeat, /^\d+ (seconds?|minutes?)$/, `${name}.heartbeat`);
      assert.ok(e.retry in retryPolicies, `${name}.retry: ${e.retry}`);
    }
    assert.ok(activitiesFor('python').includes('fitModel'));
  });
});

describe('the errors module', () => {
  it('gives every error class its own name, and every permanent one is non-retryable', () => {
    const classes = Object.entries(errors).filter(([, v]) => typeof v === 'function' && (v as { prototype?: unknown }).prototype instanceof Error) as [string, new (...a: never[]) => Error][];
    const permanent = classes.filter(([n, c]) => c.prototype instanceof errors.PermanentError || n === 'UnknownDomainNameError').map(([n]) => n).sort();
    assert.deepEqual([...errors.NON_RETRYABLE_ERROR_TYPES].sort(), permanent);
    assert.equal(new errors.StaleDataError('x').name, 'StaleDataError');
    assert.equal(new errors.ConfigError([{ path: 'a.b', message: 'bad' }]).name, 'ConfigError');
  });
});

describe('the layers', () => {
  const importsOf = (file: string): string[] => {
    const text = readFileSync(join(repoRoot, file), 'utf8');
    return [...text.matchAll(/(?:from\s+|import\s*\(\s*|require\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => normalize(join(dirname(file), m[1]!)));
  };
  const files = () => execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', 'lib', 'contracts'], { cwd: repoRoot }).toString().split('\n').filter((f) => f.endsWith('.ts') && existsSync(join(repoRoot, f)));

  it('lib/ imports nothing from activities/, workflows/, workers/ or cli/', () => {
    const up = files().filter((f) => f.startsWith('lib/')).flatMap((f) => importsOf(f).filter((t) => /^(activities|workflows|workers|cli)\//.test(t)).map((t) => `${f} -> ${t}`));
    assert.deepEqual(up, []);
  });

  it('contracts/ imports nothing but contracts/ and the config it names queues from', () => {
    const up = files().filter((f) => f.startsWith('contracts/')).flatMap((f) => importsOf(f).filter((t) => !t.startsWith('contracts/') && t !== 'temporal.config').map((t) => `${f} -> ${relative('.', t)}`));
    assert.deepEqual(up, []);
  });
});
