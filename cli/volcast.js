#!/usr/bin/env node
// The `volcast` command. Installs the node modules on first use, then runs cli/main.ts with tsx.
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const { spawnSync } = require('node:child_process');

const root = join(__dirname, '..');
if (!existsSync(join(root, 'node_modules', 'tsx'))) {
  const r = spawnSync('bash', [join(root, 'infra', 'setup.sh'), 'node'], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
require('tsx/cjs');
require('./main.ts');
