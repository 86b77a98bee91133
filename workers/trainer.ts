/**
 * Launches the Python trainer worker (workers/trainer.py) with the configuration in its
 * environment, so temporal.config.ts stays the one home of settings for both languages.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { requireCredentials, type VolcastConfig } from '../lib/platform/config';
import { repoRoot, venvPython } from '../lib/platform/paths';

export interface TrainerOptions {
  gpuOnCpu?: boolean;
  only?: 'trainCpu' | 'gpu';
  concurrency?: number;
}

export function trainerEnv(cfg: VolcastConfig): Record<string, string> {
  const { accessKey, secretKey } = requireCredentials(cfg);
  const env: Record<string, string> = {
    PYTHONPATH: repoRoot,
    PYTHONUNBUFFERED: '1',
    VOLCAST_TEMPORAL_ADDRESS: cfg.temporal.address,
    VOLCAST_TEMPORAL_NAMESPACE: cfg.temporal.namespace,
    VOLCAST_QUEUE_TRAIN_CPU: cfg.taskQueues.trainCpu,
    VOLCAST_QUEUE_GPU: cfg.taskQueues.gpu,
    VOLCAST_S3_ADDRESS: `${cfg.minio.endPoint}:${cfg.minio.port}`,
    VOLCAST_S3_USE_SSL: String(cfg.minio.useSSL),
    VOLCAST_S3_REGION: cfg.minio.region,
    VOLCAST_BUCKET: cfg.minio.bucket,
    VOLCAST_S3_ACCESS_KEY: accessKey,
    VOLCAST_S3_SECRET_KEY: secretKey,
    VOLCAST_CACHE_DIR: join(cfg.stateDir, 'cache', 'objects-py'),
  };
  if (cfg.temporal.tls) {
    env.VOLCAST_TEMPORAL_TLS_CERT = cfg.temporal.tls.certPath;
    env.VOLCAST_TEMPORAL_TLS_KEY = cfg.temporal.tls.keyPath;
    if (cfg.temporal.tls.caPath) env.VOLCAST_TEMPORAL_TLS_CA = cfg.temporal.tls.caPath;
  }
  return env;
}

export function trainerArgs(opts: TrainerOptions): string[] {
  const args = [join(repoRoot, 'workers', 'trainer.py')];
  if (opts.gpuOnCpu) args.push('--gpu-on-cpu');
  if (opts.only) args.push('--only', opts.only);
  if (opts.concurrency) args.push('--concurrency', String(opts.concurrency));
  return args;
}

export function spawnTrainer(
  cfg: VolcastConfig,
  opts: TrainerOptions,
  stdio: 'inherit' | 'pipe' = 'inherit',
  extraEnv: Record<string, string> = {},
): ChildProcess {
  return spawn(venvPython, trainerArgs(opts), { env: { ...process.env, ...extraEnv, ...trainerEnv(cfg) }, stdio, cwd: repoRoot });
}
