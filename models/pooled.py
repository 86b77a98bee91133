"""Pooled (panel) tree fits: one LightGBM / XGBoost booster per kind × target × fold, fitted on the
training-window rows of every series of a universe, scored per series (docs/model-contract.md,
"Pooled tree fits").

Why: per-asset trees see one series' history; pooled across assets they see every regime any asset
went through (Zhang, Zhang, Cucuringu & Qian, JFEC 2023: panel training beats per-asset models on
RV), and a series the pool never saw can still be scored (only its own scaling is needed).

- The fit input names the universe (`pooled.universe`: series and feature-set refs; the plan builds
  it) and where the booster is cached (`pooled.boosterKey`, content-addressed by `pooled.poolId`, a
  hash of everything the booster depends on). Every series of a fold shares that booster: the first
  fit stores it, the others read it. Concurrent fits of the same pool write the same bytes
  (deterministic boosters), so a race costs time, never correctness.
- Rows: every series' rows in the pool's window (`pooled.train`: the fold's training window, or
  for an expanding window over all history, everything before its end), a known target and every
  input non-null (the scorable-row rule). The window ends with the fit's own train.endTs for every
  series, so every series' rows end the same embargo before the test window: nothing at or after
  train.endTs is read from any series (test_pooled.py proves a change to any series' test-window
  rows changes no booster).
- Normalisation per series, from that series' training rows only: inputs z-scored with its
  mean/std (a column constant there keeps std 1), the log-variance response centred on its mean.
  The normalised inputs are rounded to float32 (what both boosters and the graph then see).
- Validation span for early stopping: the last `validFraction` of the pool's window in time (from
  its first row), for every series; the h bars before it are purged from the fitting rows (no fitting target overlaps it).
- The series S scored: its graph bakes in S's scaling (Cast to double, Sub mean, Div std, Cast to
  float32, then the trees) and a head whose shift adds back S's response mean and S's smearing bias
  (from S's validation rows; the pool's when S has fewer than 50). Scoring S needs nothing else, so
  S need not be in the pool (a held-out symbol): it needs only SCALE_MIN_ROWS training rows.
- No series identity among the inputs: a symbol must be scorable without having been in the pool.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from . import contract
from . import onnx_export as ox
from . import tree_onnx
from .frame import HORIZON, FitError, Fitted, bar_ms, build_rows, in_window, load_frame, require_columns, scorable, values32, var_floor
from .gbm import DEFAULTS, LGB_TWIN_TOL, XGB_DEFAULTS, XGB_TWIN_TOL, feature_columns
from .store import ArtifactStore

#: A universe member with fewer scorable training rows is left out of the pool (recorded in the card).
POOL_MIN_ROWS = 300
#: The series scored needs this many training rows for its own scaling: one day of hourly bars.
SCALE_MIN_ROWS = 24
#: Fewer validation rows of S than this: the smearing bias is the pool's.
SMEAR_MIN_ROWS = 50
# The tree kinds among contracts/domain.json's `poolable` ones (the nets: models/pooled_lstm.py).
POOLED_KINDS = tuple(k for k in contract.POOLABLE_KINDS if contract.KIND_ACTIVITY[k] == "fitModel")


@dataclass
class Scaling:
    mean: np.ndarray   # [F] float64
    std: np.ndarray    # [F] float64, > 0
    mu: float          # mean of the log-variance response
    floor: float       # the response floor (1% quantile of the positive training variances)


@dataclass
class SeriesRows:
    symbol: str
    ts: np.ndarray     # training rows' ts
    x: np.ndarray      # [n, F] float32, normalised with the series' own scaling
    y: np.ndarray      # centred log-variance response
    scaling: Scaling


def fit_scaling(x32: np.ndarray, target: np.ndarray, h: int) -> tuple[Scaling, np.ndarray]:
    """The series' scaling from its training rows (inputs float32 [n, F], target volatility), and its
    uncentred log-variance response."""
    x = x32.astype(np.float64)
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std = np.where(np.isfinite(std) & (std > 0), std, 1.0)
    v = target ** 2 / h
    floor = var_floor(v)
    resp = np.log(np.maximum(v, floor))
    return Scaling(mean, std, float(resp.mean()), floor), resp


def normalise(x32: np.ndarray, s: Scaling) -> np.ndarray:
    """(x - mean) / std in double, rounded once to float32: the graph's Sub, Div and Cast exactly."""
    return ((np.asarray(x32, np.float32).astype(np.float64) - s.mean) / s.std).astype(np.float32)


def series_rows(df: pd.DataFrame, symbol: str, cols: list[str], target: str, train: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A series' training rows (ts, float32 inputs, target): only train.startTs <= ts < train.endTs is read."""
    require_columns(df, cols + [target], f"the pooled model ({symbol})")
    ts = df["ts"].to_numpy().astype(np.int64)
    w = in_window(ts, train)
    sub = df.loc[w]
    vals = values32(sub, cols)
    y = pd.to_numeric(sub[target], errors="coerce").astype("float64").to_numpy(na_value=np.nan)
    ok = scorable(vals) & np.isfinite(y)
    return ts[w][ok], vals[ok], y[ok]


def pooled_rows(frames: list[tuple[str, pd.DataFrame]], cols: list[str], target: str, train: dict[str, Any]) -> tuple[list[SeriesRows], list[dict[str, Any]]]:
    """Every universe member's normalised training rows; members with too few rows are left out."""
    h = HORIZON[target]
    parts: list[SeriesRows] = []
    excluded: list[dict[str, Any]] = []
    for symbol, df in frames:
        ts, x, y = series_rows(df, symbol, cols, target, train)
        if len(ts) < POOL_MIN_ROWS:
            excluded.append({"symbol": symbol, "trainRows": int(len(ts)), "why": f"fewer than {POOL_MIN_ROWS} scorable training rows"})
            continue
        s, resp = fit_scaling(x, y, h)
        parts.append(SeriesRows(symbol, ts, normalise(x, s), resp - s.mu, s))
    if not parts:
        raise FitError(f"pooled fit: no series of the universe has {POOL_MIN_ROWS} scorable training rows in the window")
    return parts, excluded


def validation_start(train: dict[str, Any], valid_fraction: float, bar: int) -> int:
    """The validation span: the last valid_fraction of the training window, on the bar grid."""
    bars = (int(train["endTs"]) - int(train["startTs"])) // bar
    return int(train["endTs"]) - max(1, int(round(valid_fraction * bars))) * bar


def _split(parts: list[SeriesRows], val_start: int, h: int, bar: int) -> tuple[np.ndarray, ...]:
    fit_end = val_start - h * bar  # the fitting rows' targets end before the validation span
    xf = np.concatenate([p.x[p.ts < fit_end] for p in parts])
    yf = np.concatenate([p.y[p.ts < fit_end] for p in parts])
    xv = np.concatenate([p.x[p.ts >= val_start] for p in parts])
    yv = np.concatenate([p.y[p.ts >= val_start] for p in parts])
    return xf, yf, xv, yv


def fit_booster(kind: str, parts: list[SeriesRows], p: dict[str, Any], seed: int, val_start: int, h: int, bar: int,
                beat: Callable[[Any], None]) -> tuple[str, dict[str, Any]]:
    """The pooled booster, serialised (LightGBM model string / XGBoost JSON), and its metadata."""
    xf, yf, xv, yv = _split(parts, val_start, h, bar)
    if len(yf) < 200 or len(yv) < SMEAR_MIN_ROWS:
        raise FitError(f"pooled {kind}: too few rows ({len(yf)} fitting, {len(yv)} validation) in the training window")
    if kind == "lightgbm":
        import lightgbm as lgb

        params = {"objective": "regression", "verbosity": -1, "deterministic": True, "force_col_wise": True,
                  "seed": seed, "num_threads": int(p["num_threads"]),
                  **{k: p[k] for k in ("num_leaves", "learning_rate", "min_data_in_leaf", "feature_fraction", "lambda_l2")}}
        dfit = lgb.Dataset(xf.astype(np.float64), yf, free_raw_data=False)
        dval = lgb.Dataset(xv.astype(np.float64), yv, reference=dfit)

        def hb(env: Any) -> None:
            if env.iteration % 25 == 0:
                beat({"stage": "pooled lightgbm", "iteration": env.iteration})

        b = lgb.train(params, dfit, num_boost_round=int(p["num_boost_round"]), valid_sets=[dval], valid_names=["valid"],
                      callbacks=[lgb.early_stopping(int(p["early_stopping_rounds"]), verbose=False), hb])
        best = int(b.best_iteration or b.current_iteration())
        model = b.model_to_string(num_iteration=best)
    else:
        import xgboost as xgb

        base = float(np.mean(yf))
        params = {"objective": "reg:squarederror", "tree_method": "hist", "seed": seed, "nthread": int(p["nthread"]),
                  "base_score": base, "eval_metric": "rmse",
                  **{k: p[k] for k in ("max_depth", "learning_rate", "min_child_weight", "subsample", "colsample_bytree", "reg_lambda")}}

        class Beat(xgb.callback.TrainingCallback):
            def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
                if epoch % 25 == 0:
                    beat({"stage": "pooled xgboost", "iteration": epoch})
                return False

        b = xgb.train(params, xgb.DMatrix(xf, yf), num_boost_round=int(p["num_boost_round"]),
                      evals=[(xgb.DMatrix(xv, yv), "valid")], early_stopping_rounds=int(p["early_stopping_rounds"]),
                      verbose_eval=False, callbacks=[Beat()])
        best = int(b.best_iteration) + 1
        model = bytes(b[:best].save_raw("json")).decode("utf-8")
    meta = {"bestIteration": best, "fitRows": int(len(yf)), "validRows": int(len(yv)), "validStartTs": val_start,
            "universe": [{"symbol": q.symbol, "trainRows": int(len(q.ts)), "fitRows": int(np.sum(q.ts < val_start - h * bar)),
                          "validRows": int(np.sum(q.ts >= val_start))} for q in parts]}
    return model, meta


def load_booster(kind: str, model: str) -> Any:
    if kind == "lightgbm":
        import lightgbm as lgb

        return lgb.Booster(model_str=model)
    import xgboost as xgb

    b = xgb.Booster()
    b.load_model(bytearray(model.encode("utf-8")))
    return b


def booster_predict(kind: str, booster: Any, xs32: np.ndarray) -> np.ndarray:
    """The library's own prediction on normalised float32 inputs (for the conversion check)."""
    if kind == "lightgbm":
        return booster.predict(xs32.astype(np.float64))
    import xgboost as xgb

    return booster.predict(xgb.DMatrix(xs32))


def pooled_input(inp: dict[str, Any], kinds: tuple[str, ...] | list[str], what: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fit input's `pooled` block, checked (the kind poolable here, the fields present), and the
    pool's window. That window (the plan's: for an expanding window over all history it starts at 0)
    must end where this fit's training does: the same embargo before the test window for every series."""
    kind = inp["model"]["kind"]
    if kind not in kinds:
        raise FitError(f"model kind {kind!r} cannot be pooled; {what}: {', '.join(kinds)}")
    pooled = inp.get("pooled") or {}
    for k in ("poolId", "boosterKey", "universe"):
        if k not in pooled:
            raise FitError(f"pooled fit input has no pooled.{k}")
    train = inp["train"]
    pool_train = pooled.get("train") or train
    if int(pool_train["endTs"]) != int(train["endTs"]) or int(pool_train["startTs"]) > int(train["startTs"]):
        raise FitError(f"pooled.train {pool_train} must end with the fit's train window {train} and not start after it")
    return pooled, pool_train


def cached_pool(store: ArtifactStore, pooled: dict[str, Any], what: str) -> dict[str, Any] | None:
    """The pool's fitted model from the store (written by the first series of the fold), or None;
    a cached object of another pool (a poolId mismatch) is an error, never used."""
    raw = store.read_key(pooled["boosterKey"])
    if raw is None:
        return None
    doc = json.loads(raw)
    if doc.get("poolId") != pooled["poolId"]:
        raise FitError(f"cached pooled {what} {pooled['boosterKey']} holds pool {doc.get('poolId')}, not {pooled['poolId']}")
    return doc


def fit_pooled(store: ArtifactStore, df: pd.DataFrame, inp: dict[str, Any], beat: Callable[[Any], None]) -> Fitted:
    """The pooled fit for the series of `df` (inp.series): the fold's pooled booster (cached or
    fitted now), with this series' scaling and head around it."""
    kind = inp["model"]["kind"]
    pooled, pool_train = pooled_input(inp, POOLED_KINDS, "pooled kinds")
    target = inp["target"]
    h = HORIZON[target]
    p = {**(DEFAULTS if kind == "lightgbm" else XGB_DEFAULTS),
         **{k: v for k, v in inp["model"].get("params", {}).items() if k not in ("columns", "pooled")}}
    cols = feature_columns(inp)
    bar = bar_ms(df, inp)
    seed = int(inp.get("seed", 0))
    train = inp["train"]

    # This series: its scaling from its own training rows, its test rows.
    symbol = (inp.get("series") or {}).get("symbol", "?")
    tr, te = build_rows(df, cols, 1, target, train, inp["test"])
    if len(tr.idx) < SCALE_MIN_ROWS:
        raise FitError(f"too few training rows for the pooled {kind} of {symbol}: {len(tr.idx)} scorable rows with a known target, need >= {SCALE_MIN_ROWS} for its scaling")
    s, resp = fit_scaling(tr.x, tr.y, h)

    doc = cached_pool(store, pooled, "booster")
    reused = doc is not None
    if doc is None:
        frames = []
        for m in pooled["universe"]:
            beat({"stage": "load pool", "symbol": m["series"]["symbol"]})
            frames.append((m["series"]["symbol"], load_frame(store, m["features"])))
        parts, excluded = pooled_rows(frames, cols, target, pool_train)
        first = min(int(q.ts.min()) for q in parts)
        val_start = validation_start({"startTs": max(int(pool_train["startTs"]), first), "endTs": pool_train["endTs"]}, float(p["validFraction"]), bar)
        beat({"stage": "fit pool", "kind": kind, "series": len(parts)})
        model, meta = fit_booster(kind, parts, p, seed, val_start, h, bar, beat)
        # The pool's own smearing bias (the fallback for a series with few validation rows).
        b = load_booster(kind, model)
        ens = tree_onnx.from_lightgbm(b, len(cols)) if kind == "lightgbm" else tree_onnx.from_xgboost(b, len(cols))
        xv = np.concatenate([q.x[q.ts >= val_start] for q in parts])
        yv = np.concatenate([q.y[q.ts >= val_start] for q in parts])
        resid = yv - tree_onnx.predict(ens, xv)
        meta.update(excluded=excluded, smearingBias=float(np.log(np.mean(np.exp(resid)))),
                    validRmseLog=float(np.sqrt(np.mean(resid ** 2))), trainRows=int(sum(len(q.ts) for q in parts)))
        doc = {"poolId": pooled["poolId"], "kind": kind, "target": target, "columns": cols, "train": pool_train, "meta": meta, "model": model}
        store.put_bytes(pooled["boosterKey"], json.dumps(doc, sort_keys=True).encode("utf-8"), "application/json")
    if doc.get("columns") != cols:
        raise FitError(f"cached pooled booster {pooled['boosterKey']} has other input columns than this fit")
    meta = doc["meta"]
    booster = load_booster(kind, doc["model"])
    ens = tree_onnx.from_lightgbm(booster, len(cols)) if kind == "lightgbm" else tree_onnx.from_xgboost(booster, len(cols))

    # This series' smearing bias, on its rows in the pool's validation span.
    val_start = int(meta["validStartTs"])
    val = tr.ts >= val_start
    xs_tr = normalise(tr.x, s)
    if int(val.sum()) >= SMEAR_MIN_ROWS:
        resid = (resp[val] - s.mu) - tree_onnx.predict(ens, xs_tr[val])
        smear, smear_from = float(np.log(np.mean(np.exp(resid)))), "series validation rows"
    else:
        smear, smear_from = float(meta["smearingBias"]), "pool validation rows"
    head = {"kind": "logvar", "scale": 1.0, "shift": smear + math.log(h) + s.mu}
    model = ox.append_head(tree_onnx.graph(ens, f"volcast_{kind}_pooled", scaling=(s.mean, s.std)), head, f"pooled {kind} {target}")
    xs_te = normalise(te.x, s)
    raw_te = tree_onnx.predict(ens, xs_te) if len(te.idx) else np.zeros(0)
    tol = LGB_TWIN_TOL if kind == "lightgbm" else XGB_TWIN_TOL
    lib_diff = tree_onnx.check_twin(ens, xs_te, booster_predict(kind, booster, xs_te), tol, f"pooled {kind} {target}") if len(te.idx) else 0.0
    pred = ox.apply_head(raw_te, head) if len(te.idx) else np.zeros(0)
    members = [u["symbol"] for u in meta["universe"]]
    fitted = {"bestIteration": meta["bestIteration"], "trees": ens.n_trees, "smearingBias": smear, "smearingFrom": smear_from,
              "libraryMaxAbsDiff": lib_diff,
              "pooled": {"poolId": pooled["poolId"], "boosterKey": pooled["boosterKey"], "boosterReused": reused,
                         "universe": meta["universe"], "excluded": meta["excluded"], "inPool": symbol in members,
                         "fitRows": meta["fitRows"], "validRows": meta["validRows"], "validStartTs": meta["validStartTs"],
                         "poolSmearingBias": meta["smearingBias"], "poolValidRmseLog": meta["validRmseLog"],
                         "train": doc["train"], "seriesTrainRows": int(len(tr.idx))}}
    scaling = {"head": head, "inputs": "per-series z-score from this series' training rows, rounded to float32 (in the graph)",
               "mean": dict(zip(cols, s.mean.tolist())), "std": dict(zip(cols, s.std.tolist())),
               "responseMean": s.mu, "responseFloor": s.floor,
               "response": f"log(max({target}^2 / {h}, floor)) - responseMean"}
    lib = {"lightgbm": __import__("lightgbm").__version__} if kind == "lightgbm" else {"xgboost": __import__("xgboost").__version__}
    return Fitted(model, {"kind": "tabular", "columns": cols, "window": 1, "dtype": "float32"},
                  {**p, "seed": seed, "pooled": inp["model"]["params"].get("pooled")}, fitted, scaling,
                  int(meta["trainRows"]), te, pred, libraries=lib)
