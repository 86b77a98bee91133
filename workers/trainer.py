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
import contextvars
import signal
import sys
import threading
import time
from typing import Any, Callable

from temporalio import activity
from temporalio.client import Client, TLSConfig
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from models.contract import check_implementations, load_catalog, python_activities
from models.fit import check_kinds, fit_model
from models.probe import pick_device, verify_probe
from models.settings import Settings, SettingsError
from models.store import ArtifactStore, IntegrityError, MissingObjectError

# Permanent failures: retrying cannot help, so they fail at once with what is wrong.
PERMANENT = (IntegrityError, MissingObjectError, ValueError, KeyError)


def permanent_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapped(*args: Any) -> Any:
        try:
            return fn(*args)
        except PERMANENT as err:
            raise ApplicationError(str(err), type=type(err).__name__, non_retryable=True) from err

    wrapped.__name__ = fn.__name__
    return wrapped


#: How often a fit re-sends its latest heartbeat from a background thread, so that a long step
#: (one GARCH optimisation, one epoch of a big net) never outlasts the heartbeat timeout of
#: contracts/activities.json, while a dead trainer is still noticed within it.
HEARTBEAT_EVERY_S = 5.0


def heartbeating(fit: Callable[[dict[str, Any], Callable[[Any], None]], Any]) -> Callable[[dict[str, Any]], Any]:
    def run(inp: dict[str, Any]) -> Any:
        latest: list[Any] = [{"stage": "start"}]
        stop = threading.Event()

        def beat(details: Any) -> None:
            latest[0] = details
            activity.heartbeat(details)

        def tick() -> None:
            while not stop.wait(HEARTBEAT_EVERY_S):
                try:
                    activity.heartbeat(latest[0])
                except Exception:  # the activity ended meanwhile
                    return

        # The activity context lives in contextvars: the ticker runs in a copy of this thread's.
        ticker = threading.Thread(target=contextvars.copy_context().run, args=(tick,), daemon=True, name="fit-heartbeat")
        ticker.start()
        try:
            return fit(inp, beat)
        finally:
            stop.set()

    return run


def build_activities(store: ArtifactStore) -> dict[str, Callable[..., Any]]:
    @activity.defn(name="verifyProbe")
    @permanent_errors
    def verify_probe_activity(inp: dict[str, Any]) -> dict[str, Any]:
        return verify_probe(store, inp, activity.info().attempt, activity.heartbeat, time.sleep)

    # Model fits (models/fit.py): statistical and tree models (incl. xgboost) on the train-cpu queue,
    # neural nets (lstm, lstm_jump, bilstm_attn, sph_net) on the gpu queue. A kind sent to the wrong
    # one, a missing column or too few rows is a FitError (a ValueError), hence non-retryable; a
    # re-run after a worker death simply fits again.
    @activity.defn(name="fitModel")
    @permanent_errors
    def fit_model_activity(inp: dict[str, Any]) -> dict[str, Any]:
        return heartbeating(lambda i, beat: fit_model(store, i, beat, activity_name="fitModel"))(inp)

    @activity.defn(name="fitNeuralModel")
    @permanent_errors
    def fit_neural_model_activity(inp: dict[str, Any]) -> dict[str, Any]:
        return heartbeating(lambda i, beat: fit_model(store, i, beat, activity_name="fitNeuralModel", device=pick_device()))(inp)

    return {"verifyProbe": verify_probe_activity, "fitModel": fit_model_activity,
            "fitNeuralModel": fit_neural_model_activity}


async def run(args: argparse.Namespace) -> None:
    settings = Settings.from_env()
    store = ArtifactStore.from_settings(settings)
    activities = build_activities(store)
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
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=args.concurrency)
    workers = []
    for role in roles:
        names = sorted(n for n, r in by_role.items() if r == role)
        if not names:
            continue
        queue = settings.queue(role)
        workers.append(
            Worker(
                client,
                task_queue=queue,
                activities=[activities[n] for n in names],
                activity_executor=executor,
                max_concurrent_activities=args.concurrency,
                graceful_shutdown_timeout=__import__("datetime").timedelta(seconds=10),
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
    print("volcast trainer: stopped", flush=True)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="volcast worker train")
    p.add_argument("--gpu-on-cpu", action="store_true", help="serve the GPU queue on CPU (development, CI)")
    p.add_argument("--only", choices=["trainCpu", "gpu"], help="serve only this queue role")
    p.add_argument("--concurrency", type=int, default=2, help="activities run at once (default 2)")
    args = p.parse_args(argv)
    try:
        asyncio.run(run(args))
    except SettingsError as err:
        print(f"volcast trainer: {err}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
