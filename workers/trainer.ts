/**
 * Launches the Python trainer worker (workers/trainer.py) with the configuration in its
 * environment, so temporal.config.ts stays the one home of settings for both languages.
 * `volcast worker train` runs it under superviseTrainer: a trainer that dies is restarted with
 * backoff, and the launcher logs why (exit code or signal, restarts, its last stderr lines).
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
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
  stdio: StdioOptions = 'inherit',
  extraEnv: Record<string, string> = {},
): ChildProcess {
  return spawn(venvPython, trainerArgs(opts), { env: { ...process.env, ...extraEnv, ...trainerEnv(cfg) }, stdio, cwd: repoRoot });
}

export interface SupervisorOptions {
  /** First restart delay; it doubles on each quick death up to maxDelayMs. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** A trainer that ran this long before dying restarts after the initial delay again. */
  healthyAfterMs?: number;
  /** How many of its last stderr lines a death report quotes. */
  stderrLines?: number;
  log?: (line: string) => void;
}

export interface SupervisedTrainer {
  /** Current child (replaced on each restart). */
  child(): ChildProcess | null;
  restarts(): number;
  /** Graceful stop: the signal goes to the trainer; a second call kills it. */
  stop(signal?: NodeJS.Signals): void;
  /** The launcher's exit code: the trainer's on a requested stop, 2 for a settings error, 1 if it cannot start. */
  done: Promise<number>;
}

/** Exit code of the trainer for bad settings or arguments (workers/trainer.py): a restart cannot help. */
const TRAINER_USAGE_EXIT = 2;

function hintFor(stderr: string, cfg: VolcastConfig): string | null {
  if (/Failed client connect|Connection refused|tcp connect error|transport error/i.test(stderr)) {
    return `the trainer could not reach Temporal at ${cfg.temporal.address}: is it running? (\`volcast dev up\` starts the dev stack)`;
  }
  if (/S3Error|MaxRetryError|urllib3|EndpointConnectionError/.test(stderr) && stderr.includes(String(cfg.minio.port))) {
    return `the trainer could not reach MinIO at ${cfg.minio.endPoint}:${cfg.minio.port}: is it running? (\`volcast dev up\`)`;
  }
  return null;
}

/**
 * Runs the trainer and keeps it running: a trainer that exits (crash, OOM kill, SIGKILL) is
 * restarted after a backoff (1 s, doubling to 30 s; back to 1 s after a run of a minute or more),
 * each death logged with its exit code or signal, the restart count and its last stderr lines.
 * Its activities in flight are retried by Temporal once their heartbeat times out.
 */
export function superviseTrainer(cfg: VolcastConfig, opts: TrainerOptions, sup: SupervisorOptions = {}): SupervisedTrainer {
  const log = sup.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const initial = sup.initialDelayMs ?? 1000;
  const max = sup.maxDelayMs ?? 30_000;
  const healthyAfter = sup.healthyAfterMs ?? 60_000;
  const keep = sup.stderrLines ?? 20;
  let current: ChildProcess | null = null;
  let restarts = 0;
  let delay = initial;
  let stopping = false;
  let stopRequests = 0;
  let timer: NodeJS.Timeout | null = null;
  let finish!: (code: number) => void;
  const done = new Promise<number>((resolve) => (finish = resolve));

  const start = () => {
    timer = null;
    const tail: string[] = [];
    let partial = '';
    const startedAt = Date.now();
    const child = spawnTrainer(cfg, opts, ['inherit', 'inherit', 'pipe']);
    current = child;
    child.stderr!.on('data', (buf: Buffer) => {
      process.stderr.write(buf);
      const lines = (partial + buf.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) if (l.trim()) tail.push(l);
      if (tail.length > keep) tail.splice(0, tail.length - keep);
    });
    child.once('spawn', () => log(`volcast worker train: trainer started (pid ${child.pid})${restarts ? `, restart ${restarts}` : ''}`));
    child.once('error', (err) => {
      log(`volcast worker train: cannot start the trainer (${venvPython}): ${err.message}; run \`bash infra/setup.sh python\``);
      current = null;
      finish(1);
    });
    child.once('exit', (code, signal) => {
      if (partial.trim()) tail.push(partial);
      current = null;
      const ran = Date.now() - startedAt;
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      if (stopping) {
        log(`volcast worker train: trainer (pid ${child.pid}) ${how}; stopped`);
        finish(signal ? 0 : (code ?? 0));
        return;
      }
      const last = tail.length ? `\n  its last stderr lines:\n${tail.map((l) => `    | ${l}`).join('\n')}` : '\n  (nothing on its stderr)';
      const hint = hintFor(tail.join('\n'), cfg);
      if (code === TRAINER_USAGE_EXIT) {
        log(`volcast worker train: trainer (pid ${child.pid}) ${how} (bad settings or arguments): not restarting${last}`);
        finish(TRAINER_USAGE_EXIT);
        return;
      }
      delay = ran >= healthyAfter ? initial : restarts === 0 ? initial : Math.min(max, delay * 2);
      restarts++;
      log(
        `volcast worker train: trainer (pid ${child.pid}) ${how} after ${(ran / 1000).toFixed(1)}s; restarting in ${(delay / 1000).toFixed(delay < 1000 ? 1 : 0)}s (restart ${restarts})${hint ? `\n  ${hint}` : ''}${last}`,
      );
      timer = setTimeout(start, delay);
    });
  };
  start();

  return {
    child: () => current,
    restarts: () => restarts,
    stop(signal: NodeJS.Signals = 'SIGTERM') {
      stopping = true;
      stopRequests++;
      if (timer) {
        clearTimeout(timer);
        timer = null;
        log('volcast worker train: stopped (no trainer was running)');
        finish(0);
        return;
      }
      if (!current) return;
      if (stopRequests > 1) {
        log(`volcast worker train: second stop request: killing the trainer (pid ${current.pid})`);
        current.kill('SIGKILL');
      } else {
        log(`volcast worker train: ${signal}: stopping the trainer (pid ${current.pid}) gracefully (again to kill it)`);
        current.kill(signal);
      }
    },
    done,
  };
}
