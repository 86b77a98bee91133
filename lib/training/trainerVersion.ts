/**
 * The trainer's code version: a hash of the Python model sources. It is part of every modelId, so
 * changing how a kind is fitted (a fix, a new default) refits instead of reusing stale artifacts.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../platform/paths';

let cached: string | null = null;

export function trainerVersion(): string {
  if (cached) return cached;
  const dir = join(repoRoot, 'models');
  const h = createHash('sha256');
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.py')).sort()) {
    h.update(f);
    h.update(readFileSync(join(dir, f)));
  }
  cached = h.digest('hex').slice(0, 16);
  return cached;
}
