/** The dev stack's failure messages: a taken port, a failed install step. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { up } from '../../infra/devStack';
import { loadConfig } from '../../lib/platform/config';
import { repoRoot } from '../../lib/platform/paths';

function listen(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer(() => undefined).listen(0, '127.0.0.1', () => {
      resolve({ server, port: (server.address() as { port: number }).port });
    });
  });
}

describe('dev stack errors', () => {
  it('a port held by another process is reported with the config field, and nothing is started', async () => {
    const { server, port } = await listen();
    try {
      const cfg = loadConfig({ VOLCAST_STATE_DIR: mkdtempSync(join(tmpdir(), 'volcast-port-')), VOLCAST_TEMPORAL_ADDRESS: `127.0.0.1:${port}` });
      await assert.rejects(up(cfg, { only: ['temporal'], log: () => {} }), new RegExp(`port 127.0.0.1:${port} \\(Temporal frontend \\(temporal.address\\)\\) is taken by another process`));
    } finally {
      server.close();
    }
  });

  it('a failed install step names the step and what to do', () => {
    const r = spawnSync('bash', [join(repoRoot, 'infra', 'setup.sh'), 'go'], {
      env: { PATH: '/usr/bin:/bin', HOME: mkdtempSync(join(tmpdir(), 'volcast-home-')), VOLCAST_CACHE: mkdtempSync(join(tmpdir(), 'volcast-cache-')) },
      encoding: 'utf8',
    });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /step "temporal" failed/);
    assert.match(r.stderr, /go is not installed\. Install Go >= 1\.24/);
  });
});
