"""HAR-X with LightGBM on its residual (`har_x_gbm`): a well-fitted HAR is hard to beat, so the trees
start from it instead of from a constant and only learn what it misses.

- Inputs: HAR-X's columns first (models/baselines.py: log rv_d, rv_w, rv_m, gk_var_1, gk_var_6,
  gk_var_same_hour_7d; hour and weekday one-hot), then the tree's columns (`params.columns`, else
  the fit input's featureColumns) not among them. Rows are scorable when every column is non-null.
- Response: the trees' (models/gbm.py): log(max(target^2 / h, floor)).
- HAR-X: OLS on the fitting rows only (the training rows before the validation span), the same
  design as the baseline's. LightGBM then fits the response with HAR-X's prediction as its init
  score (a tree on the residual), early-stopped on the validation span carved from the end of the
  training rows (h rows purged before it, as for the trees). The smearing bias comes from the
  validation span's residuals of the sum.
- ONNX (onnx_export.linear_plus_trees_graph): the HAR-X design in double plus the double-precision
  trees (tree_onnx) on their columns, the logvar head in double. The trainer's predictions are the
  exact twin: linear_numpy + the float32 rounding of the exact tree sum, the head in double.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pandas as pd

from . import onnx_export as ox
from . import tree_onnx
from .baselines import HAR_X_DUMMIES, HAR_X_LOGS, log_linear_transforms
from .frame import HORIZON, Fitted, build_rows, require_rows, var_floor
from .gbm import DEFAULTS as LGB_DEFAULTS, LGB_TWIN_TOL, feature_columns, train_lightgbm

DEFAULTS: dict[str, Any] = {**LGB_DEFAULTS, "num_leaves": 7, "learning_rate": 0.03, "min_data_in_leaf": 200}


def fit(df: pd.DataFrame, inp: dict[str, Any], beat: Callable[[Any], None],
        keep: dict[str, Any] | None = None) -> Fitted:
    import lightgbm as lgb

    target = inp["target"]
    h = HORIZON[target]
    p = {**DEFAULTS, **{k: v for k, v in inp["model"].get("params", {}).items() if k != "columns"}}
    har_cols = HAR_X_LOGS + HAR_X_DUMMIES
    tree_cols = feature_columns(inp)
    cols = har_cols + [c for c in tree_cols if c not in har_cols]
    tree_idx = [cols.index(c) for c in tree_cols]
    tr, te = build_rows(df, cols, 1, target, inp["train"], inp["test"])
    require_rows(len(tr.idx), 500, "har_x_gbm")
    v = tr.y ** 2 / h
    yfloor = var_floor(v)
    y = np.log(np.maximum(v, yfloor))
    n_val = max(50, int(round(float(p["validFraction"]) * len(y))))
    n_fit = len(y) - n_val - h
    require_rows(n_fit, 300, "har_x_gbm (after carving the validation span)")

    # HAR-X on the fitting rows only: its prediction on the validation span is out of sample, as
    # the trees' is.
    x_har = tr.x[:, :len(har_cols)]
    transforms = log_linear_transforms(x_har[:n_fit], HAR_X_LOGS, HAR_X_DUMMIES)
    z = ox.design(x_har, transforms)
    a = np.column_stack([np.ones(n_fit), z[:n_fit]])
    beta, *_ = np.linalg.lstsq(a, y[:n_fit], rcond=None)
    coef, b0 = beta[1:], float(beta[0])
    base = ox.linear_numpy(x_har, transforms, coef, b0)

    x_tree = tr.x[:, tree_idx].astype(np.float64)
    booster, best, booster_params = train_lightgbm(x_tree, y, n_fit, n_val, tree_cols, p, int(inp.get("seed", 0)), beat,
                                                   "har_x_gbm", init=base)
    ens = tree_onnx.from_lightgbm(booster, len(tree_cols))

    def raw(x: np.ndarray) -> np.ndarray:
        """The graph's sum: HAR-X in double + the trees' exact sum rounded once to float32."""
        trees = tree_onnx.predict(ens, x[:, tree_idx]).astype(np.float32).astype(np.float64)
        return ox.linear_numpy(x[:, :len(har_cols)], transforms, coef, b0) + trees

    tree_onnx.check_twin(ens, tr.x[-n_val:, tree_idx], booster.predict(x_tree[-n_val:]), LGB_TWIN_TOL,
                         f"har_x_gbm {target} (validation rows)")
    pv = raw(tr.x[-n_val:])
    resid = y[-n_val:] - pv
    resid_har = y[-n_val:] - base[-n_val:]
    smear = float(np.log(np.mean(np.exp(resid))))
    head = {"kind": "logvar", "scale": 1.0, "shift": smear + math.log(h)}
    model = ox.linear_plus_trees_graph(transforms, coef, b0, tree_idx, tree_onnx.tree_nodes(ens, "x_trees", "yhat_trees"),
                                       head, f"har_x_gbm {target}", len(cols))
    pred = ox.apply_head(raw(te.x), head, double=True) if len(te.idx) else np.zeros(0)
    if keep is not None:
        keep.update(explain="linear+lightgbm", booster=booster, ensemble=ens, head=head, transforms=transforms, coef=coef, intercept=b0,
                    tree_columns=tree_idx, design_mean=z[:n_fit].mean(axis=0))
    names = []
    for t in transforms:
        names += [f"log({t['column']})"] if t["op"] == "log" else [f"{t['column']}=={lv:g}" for lv in t["levels"]]
    fitted = {"harX": {"intercept": b0, "coef": dict(zip(names, coef.tolist()))},
              "bestIteration": best, "trees": booster.num_trees(), "validRows": n_val, "fitRows": n_fit, "purgedRows": h,
              "validRmseLog": float(np.sqrt(np.mean(resid ** 2))), "validRmseLogHarX": float(np.sqrt(np.mean(resid_har ** 2))),
              "smearingBias": smear, "response": f"log(max({target}^2 / {h}, {yfloor:.3g}))", "responseFloor": yfloor,
              "featureImportanceGain": dict(zip(tree_cols, booster.feature_importance("gain").round(6).tolist()))}
    return Fitted(model, {"kind": "tabular", "columns": cols, "window": 1, "dtype": "float32"},
                  {**p, "seed": booster_params["seed"]}, fitted,
                  {"head": head, "transforms": transforms, "inputs": "HAR-X columns first (transforms), trees on the rest raw"},
                  len(tr.idx), te, pred, libraries={"lightgbm": lgb.__version__})
