import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../lib/platform/paths';

/** Runs infra/setup.sh for one part (fast when already installed); exits on failure. */
export function ensureInstalled(part: 'go' | 'python'): void {
  const r = spawnSync('bash', [join(repoRoot, 'infra', 'setup.sh'), part], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
