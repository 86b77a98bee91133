/**
 * The TypeScript worker: serves the volcast-cpu task queue (workflows and every TypeScript activity).
 * Shuts down gracefully on SIGINT/SIGTERM: in-flight activities finish or are handed back.
 */
import { Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { checkImplementations } from '../contracts/activities';
import type { VolcastConfig } from '../lib/platform/config';
import { ArtifactStore } from '../lib/platform/store';
import { connectWorker } from '../lib/platform/temporal';
import { registerSearchAttributes } from '../lib/orchestration/searchAttributes';

export async function createCpuWorker(cfg: VolcastConfig): Promise<Worker> {
  const store = new ArtifactStore(cfg);
  // The workflows set volcast's search attributes: a server that lacks them would fail their tasks.
  try {
    await registerSearchAttributes(cfg);
  } catch (err) {
    throw new Error(`cannot register volcast's search attributes in namespace ${cfg.temporal.namespace} (${(err as Error).message}); register them once by hand (docs/api.md) or give the worker operator permissions`);
  }
  const activities = createActivities(store, cfg);
  checkImplementations('typescript', Object.keys(activities));
  const connection = await connectWorker(cfg);
  return Worker.create({
    connection,
    namespace: cfg.temporal.namespace,
    taskQueue: cfg.taskQueues.cpu,
    workflowsPath: require.resolve('../workflows'),
    activities,
    // Two cores: keep CPU-heavy activities from starving each other.
    maxConcurrentActivityTaskExecutions: 4,
  });
}

export async function runCpuWorker(cfg: VolcastConfig): Promise<void> {
  const worker = await createCpuWorker(cfg);
  console.log(`volcast cpu worker: serving ${cfg.taskQueues.cpu} on ${cfg.temporal.address} (namespace ${cfg.temporal.namespace})`);
  await worker.run();
  console.log('volcast cpu worker: stopped');
}
