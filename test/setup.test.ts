/**
 * infra/setup.sh's node part: it installs with `npm ci` (exactly package-lock.json, never rewriting
 * it), and the lock is in sync with package.json (`npm ci --dry-run` in a copy accepts it). npm is
 * replaced on PATH by a recorder for the setup runs, so nothing is downloaded.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../lib/platform/paths';

/** A copy of the files setup's node part reads, with a recording `npm` first on PATH. */
function fakeCheckout(): { root: string; env: NodeJS.ProcessEnv; npmCalls: () => string[] } {
  const root = mkdtempSync(join(tmpdir(), 'volcast-setup-'));
  mkdirSync(join(root, 'infra'));
  copyFileSync(join(repoRoot, 'infra', 'setup.sh'), join(root, 'infra', 'setup.sh'));
  for (const f of ['package.json', 'package-lock.json']) copyFileSync(join(repoRoot, f), join(root, f));
  const bin = join(root, 'fake-bin');
  mkdirSync(bin);
  const log = join(root, 'npm-calls.log');
  writeFileSync(join(bin, 'npm'), `#!/usr/bin/env bash\necho "$*" >> ${JSON.stringify(log)}\nmkdir -p node_modules\n`);
  chmodSync(join(bin, 'npm'), 0o755);
  return {
    root,
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    npmCalls: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []),
  };
}

describe('infra/setup.sh node modules', () => {
  it('installs with npm ci (never `npm install`, which rewrites package-lock.json)', () => {
    const c = fakeCheckout();
    const r = spawnSync('bash', [join(c.root, 'infra', 'setup.sh'), 'node'], { env: c.env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const calls = c.npmCalls();
    assert.equal(calls.length, 1, calls.join('\n'));
    assert.match(calls[0]!, /^ci\b/);
    // The stamp records the lock it installed: a second run installs nothing.
    assert.equal(spawnSync('bash', [join(c.root, 'infra', 'setup.sh'), 'node'], { env: c.env }).status, 0);
    assert.equal(c.npmCalls().length, 1);
  });

  it('does not reinstall through a node_modules link (npm ci would replace what it points to)', () => {
    const c = fakeCheckout();
    const elsewhere = mkdtempSync(join(tmpdir(), 'volcast-shared-modules-'));
    writeFileSync(join(elsewhere, 'keep-me'), 'x');
    symlinkSync(elsewhere, join(c.root, 'node_modules'));
    const r = spawnSync('bash', [join(c.root, 'infra', 'setup.sh'), 'node'], { env: c.env, encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /node_modules is a link .*does not reinstall through it/);
    assert.deepEqual(c.npmCalls(), []);
    assert.deepEqual(readdirSync(elsewhere), ['keep-me']);
  });

  it('package-lock.json is in sync with package.json: `npm ci --dry-run` accepts it and leaves it as it was', () => {
    const dir = mkdtempSync(join(tmpdir(), 'volcast-lock-'));
    for (const f of ['package.json', 'package-lock.json']) copyFileSync(join(repoRoot, f), join(dir, f));
    const before = readFileSync(join(dir, 'package-lock.json'));
    const r = spawnSync('npm', ['ci', '--dry-run', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(readFileSync(join(dir, 'package-lock.json')).equals(before), 'package-lock.json was rewritten');
  });
});
