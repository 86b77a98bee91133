/**
 * Runs both workers as child processes on this machine (the main job and the integration tests),
 * each started the way a user starts it: `volcast worker cpu` and `volcast worker train`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { VolcastConfig } from '../lib/platform/config';
import { repoRoot } from '../lib/platform/paths';
import { spawnTrainer } from './trainer';

export type WorkerKind = 'cpu' | 'train';

export interface LocalWorker {
  kind: WorkerKind;
  child: ChildProcess;
  logFile: string;
  exited: Promise<number | null>;
}

const READY: Record<WorkerKind, RegExp> = { cpu: /volcast cpu worker: serving/, train: /volcast trainer: ready/ };

export async function startWorker(
  cfg: VolcastConfig,
  kind: WorkerKind,
  opts: {
    gpuOnCpu?: boolean;
    env?: Record<string, string>;
    timeoutMs?: number;
    /** The trainer under its launcher (`volcast worker train`), which restarts it if it dies. */
    supervised?: boolean;
  } = {},
): Promise<LocalWorker> {
  const logs = join(cfg.stateDir, 'logs');
  mkdirSync(logs, { recursive: true });
  const logFile = join(logs, `worker-${kind}.log`);
  const log = createWriteStream(logFile, { flags: 'a' });
  // The trainer is spawned as the Python process itself (what `volcast worker train` runs), so that
  // a signal sent to the child reaches the worker and not a launcher in between.
  // Unless supervised, that is: then the launcher stands between and forwards the signals.
  const cli = (args: string[]) =>
    spawn(process.execPath, [join(repoRoot, 'cli', 'volcast.js'), 'worker', ...args], {
      cwd: repoRoot,
      env: { ...process.env, ...opts.env, VOLCAST_STATE_DIR: cfg.stateDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  const child =
    kind === 'cpu'
      ? cli(['cpu'])
      : opts.supervised
        ? cli(['train', ...(opts.gpuOnCpu ? ['--gpu-on-cpu'] : [])])
        : spawnTrainer(cfg, { gpuOnCpu: opts.gpuOnCpu }, 'pipe', opts.env);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let seen = '';
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (buf: Buffer) => {
      log.write(buf);
      seen = (seen + buf.toString()).slice(-4000);
      if (READY[kind].test(seen)) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => reject(new Error(`${kind} worker exited with ${code} before it was ready:\n${seen}`)));
    setTimeout(() => reject(new Error(`${kind} worker not ready after ${(opts.timeoutMs ?? 120_000) / 1000}s; see ${logFile}`)), opts.timeoutMs ?? 120_000).unref();
  });
  await ready;
  return { kind, child, logFile, exited };
}

/** Graceful stop (SIGTERM), escalating to SIGKILL if the worker does not exit in time. */
export async function stopWorker(w: LocalWorker, timeoutMs = 20_000): Promise<void> {
  if (w.child.exitCode !== null || w.child.signalCode !== null) return;
  w.child.kill('SIGTERM');
  const timer = setTimeout(() => w.child.kill('SIGKILL'), timeoutMs);
  await w.exited;
  clearTimeout(timer);
}
