"""The fit activities' body: `fit_model(store, input, heartbeat)` (docs/model-contract.md).

1. Validate the input; a wrong kind for the activity, an unknown kind/target or a missing column is a
   FitError (a ValueError: the worker turns it into a non-retryable ApplicationError).
2. Idempotent reuse: if `keys.card` exists with the same modelId (and `keys.model` exists), return it
   with `reused: True` and write nothing.
3. Load the feature Parquet (sha256-verified), fit the kind, build its ONNX graph, predict the test rows.
4. Self-check: Python onnxruntime on the test rows equals the trainer's predictions within 1e-5
   relative, and they are finite and >= 0; otherwise nothing is written (ParityError, permanent).
5. Write model.onnx, then card.json (the card marks a finished fit). A re-run after a worker death
   simply fits again: model.onnx is byte-identical for the same input (deterministic fits); the card
   differs only in wallSeconds.
"""
from __future__ import annotations

import inspect
import json
import threading
import time
from collections import OrderedDict
from typing import Any, Callable

import numpy as np

from . import baselines, contract, explain, gbm, lstm, pooled, pooled_lstm, residual, sph_net
from .card import build_card, card_bytes
from .frame import TARGETS, FitError, Fitted, load_frame
from .onnx_export import run_onnx
from .store import ArtifactStore, sha256_of

# Which activity fits which kind is the contract's (contracts/domain.json); the implementations below
# must cover exactly those (check_kinds, run when the trainer starts).
CPU_KINDS = contract.kinds_of("fitModel")
NEURAL_KINDS = contract.kinds_of("fitNeuralModel")
# PyTorch's seed, thread count and determinism flags are process-global: two neural fits running at
# once in threads of one process would draw from one random stream in an order set by timing, and
# a same-seed rerun would no longer give the same model. Neural fits therefore take turns within a
# process; the trainer runs each fit in a process of its own (models/activities.py), in parallel.
_TORCH_LOCK = threading.Lock()
ACTIVITY_KINDS = {"fitModel": CPU_KINDS, "fitNeuralModel": NEURAL_KINDS}
PARITY_RTOL = 1e-5

_CPU_FITS: dict[str, Callable[..., Fitted]] = {
    "persistence": baselines.persistence, "ewma": baselines.ewma, "har_rv": baselines.har_rv,
    "log_har": baselines.log_har, "har_x": baselines.har_x, "garch": baselines.garch, "lightgbm": gbm.fit,
    "xgboost": gbm.fit_xgboost, "har_x_gbm": residual.fit,
}
_NEURAL_FITS: dict[str, Callable[..., Fitted]] = {
    "lstm": lstm.fit, "lstm_jump": lstm.fit, "bilstm_attn": lstm.fit, "sph_net": sph_net.fit,
}


class ParityError(FitError):
    pass


def check_kinds() -> None:
    """The kinds implemented here are exactly the contract's, on the same activities."""
    contract.check_kinds({"fitModel": set(_CPU_FITS), "fitNeuralModel": set(_NEURAL_FITS)})


def check_input(inp: dict[str, Any], activity_name: str | None = None) -> None:
    for k in ("modelId", "model", "target", "features", "featureSetId", "train", "test", "keys"):
        if k not in inp:
            raise FitError(f"fit input has no {k!r}")
    kind = inp["model"].get("kind")
    if kind not in CPU_KINDS + NEURAL_KINDS:
        raise FitError(f"unknown model kind {kind!r}; known: {', '.join(CPU_KINDS + NEURAL_KINDS)}")
    if activity_name is not None and kind not in ACTIVITY_KINDS[activity_name]:
        other = "fitNeuralModel" if activity_name == "fitModel" else "fitModel"
        raise FitError(f"model kind {kind!r} is not fitted by {activity_name}; send it to {other}")
    if inp["target"] not in TARGETS:
        raise FitError(f"unknown target {inp['target']!r}; known: {', '.join(TARGETS)}")
    for w in ("train", "test"):
        if not int(inp[w]["startTs"]) < int(inp[w]["endTs"]):
            raise FitError(f"{w} window is empty: startTs {inp[w]['startTs']} >= endTs {inp[w]['endTs']}")
    if int(inp["train"]["endTs"]) > int(inp["test"]["startTs"]):
        raise FitError("train window ends after the test window starts (look-ahead)")


def _reused(store: ArtifactStore, inp: dict[str, Any]) -> dict[str, Any] | None:
    raw = store.read_key(inp["keys"]["card"])
    if raw is None:
        return None
    try:
        card = json.loads(raw)
    except ValueError:
        return None
    if card.get("modelId") != inp["modelId"]:
        return None
    model = store.read_key(inp["keys"]["model"])
    if model is None:
        return None
    ref = lambda key, data: {"bucket": store.bucket, "key": key, "sha256": sha256_of(data), "size": len(data)}
    return {"modelId": inp["modelId"], "modelRef": ref(inp["keys"]["model"], model),
            "cardRef": ref(inp["keys"]["card"], raw), "reused": True, "trainRows": int(card["train"]["rows"]),
            "testRows": int(card["test"]["rows"]), "wallSeconds": float(card.get("wallSeconds", 0.0))}


def _rel(got: np.ndarray, want: np.ndarray, what: str) -> float:
    if got.shape != want.shape:
        raise ParityError(f"ONNX returned {got.shape} {what} values for {want.shape} test rows")
    rel = np.abs(got - want) / np.maximum(np.abs(want), 1e-30)
    return float(rel.max()) if len(rel) else 0.0


def self_check(f: Fitted) -> dict[str, Any]:
    pred = np.asarray(f.test_pred, dtype=np.float64)
    if not np.all(np.isfinite(pred)) or np.any(pred < 0):
        raise ParityError(f"trainer predictions on the test rows are not finite and >= 0 ({int(np.sum(~np.isfinite(pred)))} non-finite)")
    check: dict[str, Any] = {"runtime": "onnxruntime (Python, CPU)", "rows": int(len(pred)), "tolerance": PARITY_RTOL}
    if f.test_sigma is None:
        worst = _rel(run_onnx(f.onnx, f.test.x), pred, "vol")
    else:
        sig = np.asarray(f.test_sigma, dtype=np.float64)
        if not np.all(np.isfinite(sig)) or np.any(sig <= 0):
            raise ParityError("trainer sigma on the test rows is not finite and > 0")
        vol, osig = run_onnx(f.onnx, f.test.x, ("vol", "sigma"))
        worst = _rel(vol, pred, "vol")
        check["maxRelErrorSigma"] = _rel(osig, sig, "sigma")
        if check["maxRelErrorSigma"] > PARITY_RTOL:
            raise ParityError(f"ONNX sigma differs from the trainer's: max relative error {check['maxRelErrorSigma']:.3g} > {PARITY_RTOL}")
    if worst > PARITY_RTOL:
        raise ParityError(f"ONNX (Python onnxruntime) differs from the trainer's predictions: max relative error {worst:.3g} > {PARITY_RTOL}")
    check["maxRelError"] = worst
    return check


# Plans by content hash: every fit of a run reads the same plan.json (parsed once per trainer).
_PLANS: "OrderedDict[str, dict[str, Any]]" = OrderedDict()
_PLANS_LOCK = threading.Lock()


def _plan(store: ArtifactStore, ref: dict[str, Any]) -> dict[str, Any]:
    sha = str(ref.get("sha256"))
    with _PLANS_LOCK:
        if sha in _PLANS:
            _PLANS.move_to_end(sha)
            return _PLANS[sha]
    with open(store.get_file(ref), encoding="utf-8") as f:
        plan = json.load(f)
    with _PLANS_LOCK:
        _PLANS[sha] = plan
        while len(_PLANS) > 4:
            _PLANS.popitem(last=False)
    return plan


def resolve_fit_input(store: ArtifactStore, inp: dict[str, Any]) -> dict[str, Any]:
    """A fit request {plan, index, name, fold} is one fit of a run's plan (runs/{runId}/plan.json
    fits[index]); anything else is a FitInput already (docs/model-contract.md)."""
    if "plan" not in inp:
        return inp
    plan = _plan(store, inp["plan"])
    fits = plan.get("fits") or []
    i = int(inp.get("index", -1))
    where = f"plan s3://{inp['plan'].get('bucket')}/{inp['plan'].get('key')}"
    if not 0 <= i < len(fits):
        raise FitError(f"fit request index {i} is outside the {len(fits)} fits of {where}")
    fit = fits[i]
    want_purpose = "serving" if inp.get("fold") is None else "fold"
    if fit["model"]["name"] != inp.get("name") or fit.get("purpose", "fold") != want_purpose:
        raise FitError(f"fit {i} of {where} is {fit['model']['name']} ({fit.get('purpose')}), the request names {inp.get('name')} ({want_purpose})")
    return fit


def fit_model(store: ArtifactStore, inp: dict[str, Any], heartbeat: Callable[[Any], None],
              activity_name: str | None = None, device: str | None = None) -> dict[str, Any]:
    t0 = time.perf_counter()
    inp = resolve_fit_input(store, inp)
    check_input(inp, activity_name)
    done = _reused(store, inp)
    if done is not None:
        heartbeat({"stage": "reused"})
        return done
    kind = inp["model"]["kind"]
    heartbeat({"stage": "load", "kind": kind})
    df = load_frame(store, inp["features"])
    heartbeat({"stage": "fit", "kind": kind, "rows": len(df)})
    if kind in NEURAL_KINDS:
        if device is None:
            from .probe import pick_device

            device = pick_device()
        waiting = time.perf_counter()
        while not _TORCH_LOCK.acquire(timeout=5):
            heartbeat({"stage": "waiting for the other neural fit", "kind": kind})
        # The card's wall time is the fit's own, not the turn it waited for.
        t0 += time.perf_counter() - waiting
        try:
            if inp.get("pooled") is not None:
                f = pooled_lstm.fit_pooled_lstm(store, df, inp, heartbeat, device)
            else:
                f = _NEURAL_FITS[kind](df, inp, heartbeat, device)
        finally:
            _TORCH_LOCK.release()
    elif inp.get("pooled") is not None:
        # One booster over the universe's series, cached in the store (models/pooled.py).
        f = pooled.fit_pooled(store, df, inp, heartbeat)
    elif "keep" in inspect.signature(_CPU_FITS[kind]).parameters:
        # A fit that can hand back its booster: its SHAP importance on the test rows goes in the card.
        keep: dict[str, Any] = {}
        f = _CPU_FITS[kind](df, inp, heartbeat, keep=keep)
        if explain.explainable(keep):
            f.fitted["shap"] = explain.summary(keep, f.test.x, f.input["columns"])
    else:
        f = _CPU_FITS[kind](df, inp, heartbeat)
    check = self_check(f)
    heartbeat({"stage": "write", "kind": kind})
    model_ref = store.put_bytes(inp["keys"]["model"], f.onnx, "application/octet-stream")
    wall = time.perf_counter() - t0
    card = build_card(inp, f, model_ref["sha256"], check, wall)
    card_ref = store.put_bytes(inp["keys"]["card"], card_bytes(card), "application/json")
    heartbeat({"stage": "done", "kind": kind})
    return {"modelId": inp["modelId"], "modelRef": model_ref, "cardRef": card_ref, "reused": False,
            "trainRows": f.train_rows, "testRows": len(f.test.idx), "wallSeconds": round(wall, 3)}
