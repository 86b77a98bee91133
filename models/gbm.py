"""LightGBM (and XGBoost: `fit_xgboost`) regression of the log per-bar variance on whatever feature
columns are given.

- Inputs: tabular, `params.columns` if given, else the fit input's `featureColumns` (target columns are
  refused: they are the future). Rows are scorable when every column is non-null.
- Response: log(max(target^2 / h, floor)), h = 1 (target_gk_1h) or 24 (target_rv_24h), floor = the 1%
  quantile of the positive training values. Output vol = sqrt(h * exp(pred + smearing bias)), the bias
  being log(mean(exp(residual))) on the validation span.
- Early stopping on a validation span carved from the END of the training rows (`validFraction`,
  default 0.2); the h rows before it are purged from the fitting part so no fitting target overlaps
  the validation span. The model keeps the trees up to the best iteration.
- Deterministic: `deterministic`, `force_col_wise`, one thread and the fit's seed; the same input gives
  the same trees and the same ONNX bytes.
- ONNX: models/tree_onnx.py builds a double-precision TreeEnsembleRegressor from the booster's own
  dump (the float32 input cast to double, double thresholds and leaf sums) and the head is appended,
  so the graph's splits and sums are the booster's by construction. The trainer's own predictions:
  LightGBM's on the float32-cast inputs (float64 thresholds and sums, checked equal to the dumped
  trees); for XGBoost, which sums in float32, the exact float64 sum of its trees (tree_onnx.predict),
  with max |xgboost.predict - exact| on the test rows in `fitted.xgboostPredictMaxAbsDiff`.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pandas as pd

from . import onnx_export as ox
from . import tree_onnx
from .frame import HORIZON, TARGETS, FitError, Fitted, build_rows, require_rows, var_floor

DEFAULTS: dict[str, Any] = {
    "num_leaves": 15,
    "learning_rate": 0.05,
    "num_boost_round": 400,
    "min_data_in_leaf": 40,
    "feature_fraction": 0.9,
    "lambda_l2": 1.0,
    "early_stopping_rounds": 30,
    "validFraction": 0.2,
    "num_threads": 1,
}


def feature_columns(inp: dict[str, Any]) -> list[str]:
    cols = list(inp["model"].get("params", {}).get("columns") or inp.get("featureColumns") or [])
    if not cols:
        raise FitError(f"{inp['model']['kind']}: no feature columns (featureColumns is empty)")
    leaks = [c for c in cols if c in TARGETS or c.startswith("target_")]
    if leaks:
        raise FitError(f"{inp['model']['kind']}: feature columns include target columns {leaks} (look-ahead)")
    return cols



def _tree_rows(df: pd.DataFrame, inp: dict[str, Any], defaults: dict[str, Any], kind: str) -> tuple[Any, ...]:
    """What both tree models fit on: the tabular rows, the log-variance response, and the validation
    span carved from the end of the training window (separated from the fitting rows by the horizon)."""
    target = inp["target"]
    h = HORIZON[target]
    p = {**defaults, **{k: v for k, v in inp["model"].get("params", {}).items() if k != "columns"}}
    cols = feature_columns(inp)
    tr, te = build_rows(df, cols, 1, target, inp["train"], inp["test"])
    require_rows(len(tr.idx), 300, kind)
    v = tr.y ** 2 / h
    yfloor = var_floor(v)
    y = np.log(np.maximum(v, yfloor))
    n_val = max(50, int(round(float(p["validFraction"]) * len(y))))
    n_fit = len(y) - n_val - h
    require_rows(n_fit, 200, f"{kind} (after carving the validation span)")
    return target, h, p, cols, tr, te, yfloor, y, n_val, n_fit


# Bounds of the conversion checks (a larger difference means the graph does not describe the booster).
LGB_TWIN_TOL = 1e-9   # LightGBM's own float64 prediction vs the dumped trees (observed: 0)
XGB_TWIN_TOL = 1e-4   # XGBoost's float32 accumulation vs the exact float64 sum (observed: ~1e-5)


def train_lightgbm(x: np.ndarray, y: np.ndarray, n_fit: int, n_val: int, cols: list[str], p: dict[str, Any], seed: int,
                   beat: Callable[[Any], None], stage: str, init: np.ndarray | None = None) -> tuple[Any, int, dict[str, Any]]:
    """LightGBM on the first n_fit rows, early-stopped on the last n_val (deterministic, one thread
    unless p says otherwise), cut to its best iteration. `init`: a per-row init score (the trees then
    fit the residual of it: models/residual.py). Returns (booster, best iteration, booster params)."""
    import lightgbm as lgb

    booster_params = {
        "objective": "regression", "verbosity": -1, "deterministic": True, "force_col_wise": True,
        "seed": seed, "num_threads": int(p["num_threads"]),
        **{k: p[k] for k in ("num_leaves", "learning_rate", "min_data_in_leaf", "feature_fraction", "lambda_l2")},
    }
    dfit = lgb.Dataset(x[:n_fit], y[:n_fit], init_score=None if init is None else init[:n_fit], feature_name=cols,
                       free_raw_data=False)
    dval = lgb.Dataset(x[-n_val:], y[-n_val:], init_score=None if init is None else init[-n_val:], reference=dfit)

    def heartbeat(env: Any) -> None:
        if env.iteration % 25 == 0:
            beat({"stage": stage, "iteration": env.iteration})

    booster = lgb.train(booster_params, dfit, num_boost_round=int(p["num_boost_round"]), valid_sets=[dval],
                        valid_names=["valid"],
                        callbacks=[lgb.early_stopping(int(p["early_stopping_rounds"]), verbose=False), heartbeat])
    best = int(booster.best_iteration or booster.current_iteration())
    return lgb.Booster(model_str=booster.model_to_string(num_iteration=best)), best, booster_params


def fit(df: pd.DataFrame, inp: dict[str, Any], beat: Callable[[Any], None],
        keep: dict[str, Any] | None = None) -> Fitted:
    """`keep`, if given, receives the booster, the exported ensemble and the head (tests, benchmarks)."""
    import lightgbm as lgb

    target, h, p, cols, tr, te, yfloor, y, n_val, n_fit = _tree_rows(df, inp, DEFAULTS, "lightgbm")
    x = tr.x.astype(np.float64)
    booster, best, booster_params = train_lightgbm(x, y, n_fit, n_val, cols, p, int(inp.get("seed", 0)), beat, "lightgbm")
    pv = booster.predict(x[-n_val:])
    resid = y[-n_val:] - pv
    smear = float(np.log(np.mean(np.exp(resid))))
    head = {"kind": "logvar", "scale": 1.0, "shift": smear + math.log(h)}

    ens = tree_onnx.from_lightgbm(booster, len(cols))
    model = ox.append_head(tree_onnx.graph(ens, "volcast_lightgbm"), head, f"lightgbm {target}")
    raw = booster.predict(te.x.astype(np.float64)) if len(te.idx) else np.zeros(0)
    tree_onnx.check_twin(ens, tr.x[-n_val:], pv, LGB_TWIN_TOL, f"lightgbm {target} (validation rows)")
    tree_onnx.check_twin(ens, te.x, raw, LGB_TWIN_TOL, f"lightgbm {target}")
    pred = ox.apply_head(raw, head) if len(te.idx) else np.zeros(0)
    if keep is not None:
        keep.update(explain="lightgbm", booster=booster, ensemble=ens, head=head)
    fitted = {"bestIteration": best, "trees": booster.num_trees(), "validRows": n_val, "fitRows": n_fit,
              "purgedRows": h, "validRmseLog": float(np.sqrt(np.mean(resid ** 2))), "smearingBias": smear,
              "response": f"log(max({target}^2 / {h}, {yfloor:.3g}))", "responseFloor": yfloor,
              "featureImportanceGain": dict(zip(cols, booster.feature_importance("gain").round(6).tolist()))}
    return Fitted(model, {"kind": "tabular", "columns": cols, "window": 1, "dtype": "float32"},
                  {**p, "seed": booster_params["seed"]}, fitted, {"head": head, "inputs": "raw (trees)"},
                  len(tr.idx), te, pred, libraries={"lightgbm": lgb.__version__})


XGB_DEFAULTS: dict[str, Any] = {
    "max_depth": 4,
    "learning_rate": 0.05,
    "num_boost_round": 400,
    "min_child_weight": 20.0,
    "subsample": 1.0,
    "colsample_bytree": 0.9,
    "reg_lambda": 1.0,
    "early_stopping_rounds": 30,
    "validFraction": 0.2,
    "nthread": 1,
}


def fit_xgboost(df: pd.DataFrame, inp: dict[str, Any], beat: Callable[[Any], None],
                keep: dict[str, Any] | None = None) -> Fitted:
    """XGBoost (hist trees) on the same response, validation span, smearing and head as LightGBM;
    deterministic with one thread and the fit's seed. ONNX: tree_onnx's double-precision trees; the
    trainer's predictions (validation residuals and test rows) are the exact float64 sum of the trees.
    `keep` as in `fit`."""
    import xgboost as xgb

    target, h, p, cols, tr, te, yfloor, y, n_val, n_fit = _tree_rows(df, inp, XGB_DEFAULTS, "xgboost")
    seed = int(inp.get("seed", 0))
    # Fitted on the float32 inputs (what the graph sees); base_score fixed to the mean of the fitting
    # response so it is recorded, not estimated.
    base = float(np.mean(y[:n_fit]))
    params = {"objective": "reg:squarederror", "tree_method": "hist", "seed": seed, "nthread": int(p["nthread"]),
              "base_score": base, "eval_metric": "rmse",
              **{k: p[k] for k in ("max_depth", "learning_rate", "min_child_weight", "subsample",
                                   "colsample_bytree", "reg_lambda")}}
    fnames = [f"f{i}" for i in range(len(cols))]
    dfit = xgb.DMatrix(tr.x[:n_fit], y[:n_fit], feature_names=fnames)
    dval = xgb.DMatrix(tr.x[-n_val:], y[-n_val:], feature_names=fnames)

    class Beat(xgb.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            if epoch % 25 == 0:
                beat({"stage": "xgboost", "iteration": epoch})
            return False

    booster = xgb.train(params, dfit, num_boost_round=int(p["num_boost_round"]), evals=[(dval, "valid")],
                        early_stopping_rounds=int(p["early_stopping_rounds"]), verbose_eval=False,
                        callbacks=[Beat()])
    best = int(booster.best_iteration) + 1
    booster = booster[:best]
    ens = tree_onnx.from_xgboost(booster, len(cols))
    pv = tree_onnx.predict(ens, tr.x[-n_val:])
    tree_onnx.check_twin(ens, tr.x[-n_val:], booster.predict(xgb.DMatrix(tr.x[-n_val:], feature_names=fnames)),
                         XGB_TWIN_TOL, f"xgboost {target} (validation rows)")
    resid = y[-n_val:] - pv
    smear = float(np.log(np.mean(np.exp(resid))))
    head = {"kind": "logvar", "scale": 1.0, "shift": smear + math.log(h)}
    model = ox.append_head(tree_onnx.graph(ens, "volcast_xgboost"), head, f"xgboost {target}")
    raw = tree_onnx.predict(ens, te.x) if len(te.idx) else np.zeros(0)
    lib_diff = (tree_onnx.check_twin(ens, te.x, booster.predict(xgb.DMatrix(te.x, feature_names=fnames)),
                                     XGB_TWIN_TOL, f"xgboost {target}") if len(te.idx) else 0.0)
    pred = ox.apply_head(raw, head) if len(te.idx) else np.zeros(0)
    if keep is not None:
        keep.update(explain="xgboost", booster=booster, ensemble=ens, head=head, feature_names=fnames)
    gain = booster.get_score(importance_type="gain")
    fitted = {"bestIteration": best, "trees": best, "baseScore": base, "validRows": n_val, "fitRows": n_fit,
              "purgedRows": h, "validRmseLog": float(np.sqrt(np.mean(resid ** 2))), "smearingBias": smear,
              "response": f"log(max({target}^2 / {h}, {yfloor:.3g}))", "responseFloor": yfloor,
              "featureImportanceGain": {c: round(float(gain.get(f, 0.0)), 6) for c, f in zip(cols, fnames)},
              "xgboostPredictMaxAbsDiff": lib_diff}
    return Fitted(model, {"kind": "tabular", "columns": cols, "window": 1, "dtype": "float32"},
                  {**p, "seed": seed}, fitted, {"head": head, "inputs": "raw (trees)"},
                  len(tr.idx), te, pred, libraries={"xgboost": xgb.__version__})
