"""The trainer worker (Python): serves volcast-train-cpu and, with CUDA or --gpu-on-cpu, volcast-gpu.

Started by `volcast worker train [--gpu-on-cpu] [--only trainCpu|gpu]`, which passes the
configuration in the environment. Activities are registered from contracts/activities.json; the worker
refuses to start if its implementations (activities, model kinds) differ from contracts/. SIGINT/SIGTERM shut it down gracefully.
"""
from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import datetime
import multiprocessing
import multiprocessing.managers
import os
import signal
import sys
from typing import Any

from temporalio.client import Client, TLSConfig
from temporalio.worker import SharedStateManager, Worker

from models.contract import check_implementations, load_catalog, python_activities
from models.settings import Settings, SettingsError

# The model code (torch, LightGBM, XGBoost: seconds to import) is imported in run() and in the fit
# processes, not here: every process the trainer spawns imports this module again (multiprocessing's
# spawn re-imports the main script), and the manager process needs none of it.


def _child_of_trainer(trainer_pid: int) -> None:
    """A process the trainer starts (fit processes, the heartbeat manager): dies with the trainer,
    and leaves signals to it.

    The trainer coordinates shutdown (its workers finish or cancel their activities), so Ctrl-C on
    the terminal's process group must not interrupt a fit mid-write. PR_SET_PDEATHSIG (Linux) kills
    the process when the trainer dies, even by SIGKILL, so no orphan keeps fitting for nobody.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    # A trainer that died while this process was starting (before prctl) sends no signal: exit now,
    # or this process would wait forever for work from nobody (and hold the trainer's stdout).
    if os.getppid() != trainer_pid:
        os._exit(0)


def _pool_process_init(trainer_pid: int) -> None:
    _child_of_trainer(trainer_pid)
    # The activities with everything they import (torch, LightGBM, XGBoost: seconds), before the first
    # activity: a probe with a 5 s heartbeat timeout must not wait for torch to load.
    import models.activities  # noqa: F401


def _started(barrier: Any) -> int:
    """A warm-up task: returns once every pool process is up (one task per process, by the barrier)."""
    barrier.wait(timeout=600)
    return os.getpid()


def start_pool(mp: Any, manager: multiprocessing.managers.SyncManager, n: int) -> concurrent.futures.ProcessPoolExecutor:
    """The fit processes, started and their imports done before the trainer polls: a process still
    importing torch when its first activity arrives would miss a short heartbeat timeout (5 s)."""
    executor = concurrent.futures.ProcessPoolExecutor(max_workers=n, mp_context=mp, initializer=_pool_process_init,
                                                      initargs=(os.getpid(),))
    barrier = manager.Barrier(n)  # type: ignore[attr-defined]
    pids = {f.result() for f in [executor.submit(_started, barrier) for _ in range(n)]}
    assert len(pids) == n, f"warm-up ran on {len(pids)} of {n} fit processes"
    return executor


async def run(args: argparse.Namespace) -> None:
    from models.activities import ACTIVITIES
    from models.fit import check_kinds
    from models.probe import pick_device

    settings = Settings.from_env()
    activities = ACTIVITIES
    catalog = load_catalog()
    check_implementations(catalog, set(activities))
    check_kinds()

    device = pick_device()
    roles = ["trainCpu", "gpu"] if args.only is None else [args.only]
    if "gpu" in roles and device != "cuda" and not args.gpu_on_cpu:
        print("volcast trainer: no CUDA device; not serving the GPU queue (pass --gpu-on-cpu to serve it on CPU)")
        roles.remove("gpu")

    tls: TLSConfig | bool = False
    if settings.tls_cert and settings.tls_key:
        tls = TLSConfig(
            client_cert=open(settings.tls_cert, "rb").read(),
            client_private_key=open(settings.tls_key, "rb").read(),
            server_root_ca_cert=open(settings.tls_ca, "rb").read() if settings.tls_ca else None,
        )
    client = await Client.connect(settings.temporal_address, namespace=settings.namespace, tls=tls)

    by_role = python_activities(catalog)
    served = [(role, sorted(n for n, r in by_role.items() if r == role)) for role in roles]
    served = [(role, names) for role, names in served if names]
    # One process per activity slot over all queues served: a task a worker accepts starts at once
    # (a task queued behind others in the executor would send no heartbeat and time out), and fits
    # run in parallel, one per process (models/activities.py says why not threads). `spawn`, not
    # fork: the trainer's own threads (Temporal's core, the event loop) must not be copied.
    mp = multiprocessing.get_context("spawn")
    # Heartbeats and cancellation cross to the fit processes through a manager process.
    manager = multiprocessing.managers.SyncManager(ctx=mp)
    manager.start(initializer=_child_of_trainer, initargs=(os.getpid(),))
    n = max(1, args.concurrency * len(served))
    executor = await asyncio.get_running_loop().run_in_executor(None, start_pool, mp, manager, n)
    print(f"volcast trainer: {n} fit processes", flush=True)
    shared_state = SharedStateManager.create_from_multiprocessing(manager)
    workers = []
    for role, names in served:
        queue = settings.queue(role)
        workers.append(
            Worker(
                client,
                task_queue=queue,
                activities=[activities[n] for n in names],
                activity_executor=executor,
                shared_state_manager=shared_state,
                max_concurrent_activities=args.concurrency,
                graceful_shutdown_timeout=datetime.timedelta(seconds=10),
            )
        )
        print(f"volcast trainer: serving {queue} ({', '.join(names)}) on {device}", flush=True)
    if not workers:
        raise SystemExit("volcast trainer: nothing to serve with these flags")

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with contextlib.AsyncExitStack() as stack:
        for w in workers:
            await stack.enter_async_context(w)
        print("volcast trainer: ready", flush=True)
        await stop.wait()
        print("volcast trainer: shutting down", flush=True)
    executor.shutdown(wait=False, cancel_futures=True)
    manager.shutdown()
    print("volcast trainer: stopped", flush=True)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="volcast worker train")
    p.add_argument("--gpu-on-cpu", action="store_true", help="serve the GPU queue on CPU (development, CI)")
    p.add_argument("--only", choices=["trainCpu", "gpu"], help="serve only this queue role")
    p.add_argument("--concurrency", type=int, default=2, help="activities run at once per queue served, each in its own process (default 2)")
    args = p.parse_args(argv)
    try:
        asyncio.run(run(args))
    except SettingsError as err:
        print(f"volcast trainer: {err}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
