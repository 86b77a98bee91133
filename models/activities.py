"""The trainer's activities (verifyProbe, fitModel, fitNeuralModel), defined at module level.

Why module level: the trainer runs them in a process pool (workers/trainer.py), one fit per process,
so that fits use every core. PyTorch's seed and determinism flags are process-global and the GIL
serialises Python-heavy loops, so threads gave no parallelism (models/fit.py: neural fits take
turns within a process). A process pool sends each activity by reference (its module and name),
hence functions importable here, each reaching the object store through `store()`, one per process.
"""
from __future__ import annotations

import contextvars
import functools
import threading
import time
from typing import Any, Callable

from temporalio import activity
from temporalio.exceptions import ApplicationError

from .fit import fit_model
from .probe import pick_device, verify_probe
from .settings import Settings
from .store import ArtifactStore, IntegrityError, MissingObjectError

# Permanent failures: retrying cannot help, so they fail at once with what is wrong.
PERMANENT = (IntegrityError, MissingObjectError, ValueError, KeyError)

#: How often a fit re-sends its latest heartbeat from a background thread, so that a long step
#: (one GARCH optimisation, one epoch of a big net) never outlasts the heartbeat timeout of
#: contracts/activities.json, while a dead trainer is still noticed within it.
HEARTBEAT_EVERY_S = 5.0

_STORE: ArtifactStore | None = None
_STORE_LOCK = threading.Lock()


def use_store(store: ArtifactStore) -> None:
    """Sets this process's store (tests; the worker's pool processes build theirs from the environment)."""
    global _STORE
    _STORE = store


def store() -> ArtifactStore:
    global _STORE
    with _STORE_LOCK:
        if _STORE is None:
            _STORE = ArtifactStore.from_settings(Settings.from_env())
        return _STORE


def permanent_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    # functools.wraps keeps the name and qualified name, so the wrapper pickles as this module's function.
    @functools.wraps(fn)
    def wrapped(*args: Any) -> Any:
        try:
            return fn(*args)
        except PERMANENT as err:
            raise ApplicationError(str(err), type=type(err).__name__, non_retryable=True) from err

    return wrapped


def heartbeating(fit: Callable[[dict[str, Any], Callable[[Any], None]], Any], inp: dict[str, Any]) -> Any:
    """Runs fit(inp, beat), re-sending the latest heartbeat every HEARTBEAT_EVERY_S meanwhile."""
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


@activity.defn(name="verifyProbe")
@permanent_errors
def verify_probe_activity(inp: dict[str, Any]) -> dict[str, Any]:
    return verify_probe(store(), inp, activity.info().attempt, activity.heartbeat, time.sleep)


# Model fits (models/fit.py): statistical and tree models (incl. xgboost) on the train-cpu queue,
# neural nets (lstm, lstm_jump, bilstm_attn, sph_net) on the gpu queue. A kind sent to the wrong
# one, a missing column or too few rows is a FitError (a ValueError), hence non-retryable; a
# re-run after a worker death simply fits again.
@activity.defn(name="fitModel")
@permanent_errors
def fit_model_activity(inp: dict[str, Any]) -> dict[str, Any]:
    return heartbeating(lambda i, beat: fit_model(store(), i, beat, activity_name="fitModel"), inp)


@activity.defn(name="fitNeuralModel")
@permanent_errors
def fit_neural_model_activity(inp: dict[str, Any]) -> dict[str, Any]:
    return heartbeating(lambda i, beat: fit_model(store(), i, beat, activity_name="fitNeuralModel", device=pick_device()), inp)


ACTIVITIES: dict[str, Callable[..., Any]] = {
    "verifyProbe": verify_probe_activity, "fitModel": fit_model_activity, "fitNeuralModel": fit_neural_model_activity,
}


def build_activities(s: ArtifactStore) -> dict[str, Callable[..., Any]]:
    """The activities, reaching `s` (in this process)."""
    use_store(s)
    return dict(ACTIVITIES)
