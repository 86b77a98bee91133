/** Where things are on disk, relative to the repository (never assumed shared between machines). */
import { join, resolve } from 'node:path';

export const repoRoot = resolve(__dirname, '..', '..');
export const toolsBin = join(repoRoot, '.tools', 'bin');
export const venvPython = join(repoRoot, '.venv', 'bin', 'python');
