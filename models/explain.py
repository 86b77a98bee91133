"""SHAP explanations of the tree models on their test rows, from the boosters' own TreeSHAP
(LightGBM `pred_contrib`, XGBoost `pred_contribs`; no extra library): per row, one contribution
per input column plus the expected value, summing to the model's raw output (the log variance
before the head). Recorded in the card (`fitted.shap`): the mean |contribution| per column over the
fold's test rows (a global importance per fold; test inputs are features, known at forecast time),
and the largest gap between the sum and the raw output, which must be float rounding only.

har_x_gbm: the trees' TreeSHAP on their columns plus the exact SHAP values of the linear HAR-X
part, coef · (design(x) − its mean over the fitting rows' design), its expected value moved into
the base, so the sum is again the raw output.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import onnx_export as ox

TOP = 15  # columns kept per fold in the card (the rest are summed as "other")
# By the booster the fit hands back (keep["explain"]): |sum of contributions − raw output| on log
# variances (~−10); LightGBM sums in float64, XGBoost in float32.
SUM_TOL = {"lightgbm": 1e-8, "linear+lightgbm": 1e-8, "xgboost": 1e-4}


class ExplainError(ValueError):
    pass


def explainable(keep: dict[str, Any]) -> bool:
    """Whether a fit handed back a booster this module explains."""
    return keep.get("explain") in SUM_TOL


def contributions(keep: dict[str, Any], x: np.ndarray, columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(contributions [N, F + 1], the last column the expected value; raw output [N]) of the
    booster kept by the fit (`keep` as gbm.fit / fit_xgboost / residual.fit fill it)."""
    booster, kind = keep["booster"], keep.get("explain")
    if kind == "lightgbm":
        xx = x.astype(np.float64)
        return np.asarray(booster.predict(xx, pred_contrib=True), np.float64), np.asarray(booster.predict(xx), np.float64)
    if kind == "xgboost":
        import xgboost as xgb

        d = xgb.DMatrix(x, feature_names=keep["feature_names"])
        return (np.asarray(booster.predict(d, pred_contribs=True), np.float64),
                np.asarray(booster.predict(d, output_margin=True), np.float64))
    if kind == "linear+lightgbm":
        tree_idx, n_har = keep["tree_columns"], len(keep["transforms"])
        xt = x[:, tree_idx].astype(np.float64)
        tc = np.asarray(booster.predict(xt, pred_contrib=True), np.float64)
        z = ox.design(x[:, :n_har], keep["transforms"])
        lin = (z - keep["design_mean"]) * keep["coef"]  # per design column
        # Design columns back to input columns (a one-hot's columns belong to its input).
        per_col = np.zeros((len(x), len(columns)))
        j = 0
        for i, t in enumerate(keep["transforms"]):
            width = 1 if t["op"] != "onehot" else len(t["levels"])
            per_col[:, i] = lin[:, j:j + width].sum(axis=1)
            j += width
        for k, c in enumerate(tree_idx):
            per_col[:, c] += tc[:, k]
        base = float(keep["intercept"] + keep["design_mean"] @ keep["coef"]) + tc[:, -1]
        contrib = np.column_stack([per_col, base])
        raw = ox.linear_numpy(x[:, :n_har], keep["transforms"], keep["coef"], keep["intercept"]) + booster.predict(xt)
        return contrib, np.asarray(raw, np.float64)
    raise ExplainError(f"no SHAP explanation for a {kind!r} booster")


def summary(keep: dict[str, Any], x: np.ndarray, columns: list[str]) -> dict[str, Any]:
    """card.fitted.shap for the fold's test rows (x: the model's inputs, in card.input order)."""
    if len(x) == 0:
        return {"rows": 0, "meanAbs": {}, "method": "TreeSHAP (booster)"}
    kind = keep["explain"]
    contrib, raw = contributions(keep, x, columns)
    gap = float(np.max(np.abs(contrib.sum(axis=1) - raw)))
    if not gap <= SUM_TOL[kind]:
        raise ExplainError(f"{kind}: SHAP contributions do not sum to the raw output (max gap {gap:.3g})")
    mean_abs = np.mean(np.abs(contrib[:, :-1]), axis=0)
    order = np.argsort(-mean_abs, kind="stable")
    top = {columns[i]: round(float(mean_abs[i]), 8) for i in order[:TOP]}
    rest = float(mean_abs[order[TOP:]].sum()) if len(order) > TOP else 0.0
    return {"method": "TreeSHAP (LightGBM pred_contrib / XGBoost pred_contribs) on the fold's test rows, log-variance units",
            "rows": int(len(x)), "expectedValue": round(float(np.mean(contrib[:, -1])), 8), "meanAbs": top,
            "otherColumnsMeanAbs": round(rest, 8), "maxSumGap": gap}
