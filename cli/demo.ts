/**
 * The main job on the embedded stack. Until the pipeline issues land it is the platform round trip:
 * a TypeScript activity on volcast-cpu writes an object to MinIO, a Python activity on volcast-gpu
 * reads it by reference, verifies its sha256 and writes a result.
 */
import { randomUUID } from 'node:crypto';
import type { VolcastConfig } from '../lib/config';
import { connectClient, consoleUrl, webUiUrl } from '../lib/temporal';
import { up } from '../infra/devStack';
import { startWorker, stopWorker, type LocalWorker } from '../workers/local';
import { taskQueues } from '../temporal.config';

export async function runDemo(cfgIn: VolcastConfig): Promise<void> {
  const cfg = await up(cfgIn);
  const workers: LocalWorker[] = [];
  try {
    console.log('starting workers (cpu, train --gpu-on-cpu)…');
    workers.push(await startWorker(cfg, 'cpu'));
    workers.push(await startWorker(cfg, 'train', { gpuOnCpu: true }));
    const client = await connectClient(cfg);
    const runId = `demo-${randomUUID().slice(0, 8)}`;
    const workflowId = `platform-round-trip-${runId}`;
    console.log(`running workflow ${workflowId}…`);
    const result = await client.workflow.execute('platformRoundTrip', {
      taskQueue: taskQueues.cpu,
      workflowId,
      args: [{ runId, message: 'hello from volcast' }],
    });
    console.log(JSON.stringify(result, null, 2));
    console.log(`\nWhere to look:
  Web UI (workflow):  ${webUiUrl(cfg)}/${workflowId}
  temporal CLI:       .tools/bin/temporal workflow list --address ${cfg.temporal.address}
  MinIO console:      ${consoleUrl(cfg)} (user/password in ${cfg.stateDir}/credentials.env)
  objects:            s3://${cfg.minio.bucket}/${result.written.ref.key}
                      s3://${cfg.minio.bucket}/${result.verified.ref.key}
The dev stack keeps running: \`volcast dev status\`, \`volcast dev down\`.`);
  } finally {
    for (const w of workers) await stopWorker(w);
  }
}
