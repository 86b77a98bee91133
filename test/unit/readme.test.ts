/** The README's layout table matches the tree: it cannot drift. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../../lib/platform/paths';

function layoutTable(readme: string): string[] {
  const section = readme.slice(readme.indexOf('\n## Layout\n'));
  const end = section.indexOf('\n## ', 5);
  return [...(end > 0 ? section.slice(0, end) : section).matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!.replace(/\/$/, ''));
}

describe('README layout table', () => {
  it('lists every top-level folder and every room of lib/, and nothing that does not exist', () => {
    const listed = layoutTable(readFileSync(join(repoRoot, 'README.md'), 'utf8'));
    assert.ok(listed.length > 10, 'the table was found');
    const tracked = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: repoRoot }).toString().split('\n').filter((f) => f && existsSync(join(repoRoot, f)));
    const top = new Set(tracked.filter((f) => f.includes('/')).map((f) => f.split('/')[0]!));
    const rooms = new Set(tracked.filter((f) => f.startsWith('lib/') && f.split('/').length > 2).map((f) => f.split('/').slice(0, 2).join('/')));
    const missing = [...top, ...rooms].filter((d) => !listed.includes(d) && !(d === 'lib' && [...rooms].every((r) => listed.includes(r))));
    assert.deepEqual(missing, [], 'folders missing from the README layout table');
    assert.deepEqual(listed.filter((p) => !existsSync(join(repoRoot, p))), [], 'listed paths that do not exist');
  });
});
