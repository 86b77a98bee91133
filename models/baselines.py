"""The baselines of docs/design.md, each exported as a small hand-written ONNX graph (onnx_export.py).

All models predict the conditional mean of the per-bar variance and output
vol = sqrt(horizon * variance) (horizon 1 for target_gk_1h, 24 for target_rv_24h), i.e. the square
root of the predicted target variance; log models add a smearing bias correction (Duan 1983) so that
exp(log-prediction) estimates the mean, not the median, of the variance.

kind         input (card.input)                          per-bar proxy / target transform
-----------  ------------------------------------------  ---------------------------------------------
persistence  tabular [gk_var_1] (gk) | [rv_d] (rv 24h)    vol = sqrt(h * last value): the last bar's GK
                                                          vol / the realized vol of the last 24 bars
ewma         sequence [N, W, 1] of gk_var_1 (gk target)   RiskMetrics sigma2 = sum (1-l) l^k proxy_{t-k},
             or r2_1 (rv 24h target), l = 0.94            truncated where l^W < 1e-6, weights renormalised;
                                                          vol = sqrt(h * sigma2) (RiskMetrics h-step)
har_rv       tabular [rv_d, rv_w, rv_m]                   OLS on variance: target^2/h = b0 + b.x;
                                                          vol = sqrt(h * max(pred, floor))
log_har      tabular [rv_d, rv_w, rv_m]                   OLS of log(target^2/h) on log x; smearing bias
har_x        log_har + gk_var_1, gk_var_6,                as log_har; hour/weekday one-hot (levels seen in
             gk_var_same_hour_7d (log), hour, weekday     training, first level the reference)
             [+ params.extraLogColumns (log),             e.g. the implied variance iv_var_1 (HAR-X-IV), if
              params.extraColumns (as is)]                the plan kept them for the fold (featureColumns)
garch        sequence [N, W, 1] of ret_1                  GARCH(1,1), zero mean, normal ML with `arch` on
                                                          100*ret_1 of the training rows; exported as
                                                          ARCH(inf) truncated at W (beta^W < 1e-6, max
                                                          1000) with the tail replaced by the unconditional
                                                          variance; 24-bar target: closed-form sum of the
                                                          1..24-step forecasts, A + B sigma2_{t+1}
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Callable

import numpy as np
import pandas as pd

from . import onnx_export as ox
from .frame import HORIZON, FitError, Fitted, build_rows, require_rows, train_slice, var_floor

Beat = Callable[[Any], None]


def _linear(df: pd.DataFrame, inp: dict[str, Any], transforms: list[ox.Transform], coef: np.ndarray,
            intercept: float, head: ox.Head, params: dict[str, Any], fitted: dict[str, Any],
            scaling: dict[str, Any], doc: str, train_rows: int, test: Any) -> Fitted:
    model = ox.linear_graph(transforms, coef, intercept, head, doc)
    pred = ox.apply_head(ox.linear_numpy(test.x, transforms, coef, intercept), head, double=True)
    return Fitted(model, {"kind": "tabular", "columns": [t["column"] for t in transforms], "window": 1,
                          "dtype": "float32"}, params, fitted, {**scaling, "transforms": transforms, "head": head},
                  train_rows, test, pred)


def persistence(df: pd.DataFrame, inp: dict[str, Any], beat: Beat) -> Fitted:
    target = inp["target"]
    h = HORIZON[target]
    col = "gk_var_1" if target == "target_gk_1h" else "rv_d"
    tr, te = build_rows(df, [col], 1, target, inp["train"], inp["test"])
    transforms = [{"column": col, "op": "identity"}]
    head = {"kind": "var", "floor": 0.0, "mult": float(h)}
    return _linear(df, inp, transforms, np.array([1.0]), 0.0, head, {}, {"rule": f"vol = sqrt({h} * {col})"},
                   {}, f"persistence {target}", len(tr.idx), te)


def _ols(z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    a = np.column_stack([np.ones(len(z)), z])
    beta, *_ = np.linalg.lstsq(a, y, rcond=None)
    return beta[1:], float(beta[0]), y - a @ beta


def har_rv(df: pd.DataFrame, inp: dict[str, Any], beat: Beat) -> Fitted:
    target = inp["target"]
    h = HORIZON[target]
    cols = list(inp["model"].get("params", {}).get("columns") or ["rv_d", "rv_w", "rv_m"])
    tr, te = build_rows(df, cols, 1, target, inp["train"], inp["test"])
    require_rows(len(tr.idx), 10 * (len(cols) + 1), "har_rv")
    transforms = [{"column": c, "op": "identity"} for c in cols]
    y = tr.y ** 2 / h
    coef, b0, resid = _ols(ox.design(tr.x, transforms), y)
    floor = var_floor(y)
    head = {"kind": "var", "floor": floor, "mult": float(h)}
    fitted = {"intercept": b0, "coef": dict(zip(cols, coef.tolist())), "residualStd": float(resid.std()),
              "response": f"{target}^2 / {h} (per-bar variance)", "varianceFloor": floor}
    return _linear(df, inp, transforms, coef, b0, head, {"columns": cols}, fitted, {}, f"har_rv {target}",
                   len(tr.idx), te)


def log_linear_transforms(x: np.ndarray, log_cols: list[str], dummy_cols: list[str],
                          lin_cols: list[str] | None = None) -> list[ox.Transform]:
    """The log-HAR design of training rows x (columns: log_cols, then lin_cols, then dummy_cols):
    log(max(x, the 1% floor of the training values)), lin_cols as they are, one-hot of the levels seen
    in training (the first the reference)."""
    lin_cols = lin_cols or []
    transforms: list[ox.Transform] = []
    for j, c in enumerate(log_cols + lin_cols + dummy_cols):
        if c in log_cols:
            transforms.append({"column": c, "op": "log", "floor": var_floor(x[:, j].astype(np.float64))})
        elif c in lin_cols:
            transforms.append({"column": c, "op": "identity"})
        else:
            levels = sorted(set(np.unique(x[:, j]).tolist()))
            transforms.append({"column": c, "op": "onehot", "levels": levels[1:], "reference": levels[0]})
    return transforms


def _log_linear(df: pd.DataFrame, inp: dict[str, Any], kind: str, log_cols: list[str],
                dummy_cols: list[str], lin_cols: list[str] | None = None,
                extra_fitted: dict[str, Any] | None = None) -> Fitted:
    target = inp["target"]
    h = HORIZON[target]
    lin_cols = lin_cols or []
    cols = log_cols + lin_cols + dummy_cols
    tr, te = build_rows(df, cols, 1, target, inp["train"], inp["test"])
    transforms = log_linear_transforms(tr.x, log_cols, dummy_cols, lin_cols)
    z = ox.design(tr.x, transforms)
    require_rows(len(tr.idx), max(100, 5 * (z.shape[1] + 1)), kind)
    v = tr.y ** 2 / h
    yfloor = var_floor(v)
    y = np.log(np.maximum(v, yfloor))
    coef, b0, resid = _ols(z, y)
    smear = float(np.log(np.mean(np.exp(resid))))
    head = {"kind": "logvar", "scale": 1.0, "shift": smear + math.log(h)}
    names = []
    for t in transforms:
        names += ([f"log({t['column']})"] if t["op"] == "log" else [t["column"]] if t["op"] == "identity"
                  else [f"{t['column']}=={lv:g}" for lv in t["levels"]])
    fitted = {"intercept": b0, "coef": dict(zip(names, coef.tolist())), "residualStd": float(resid.std()),
              "smearingBias": smear, "response": f"log(max({target}^2 / {h}, {yfloor:.3g}))",
              "responseFloor": yfloor}
    params = {"logColumns": log_cols, "dummyColumns": dummy_cols, **({"linearColumns": lin_cols} if lin_cols else {})}
    fitted.update(extra_fitted or {})
    return _linear(df, inp, transforms, coef, b0, head, params, fitted, {}, f"{kind} {target}", len(tr.idx), te)


def log_har(df: pd.DataFrame, inp: dict[str, Any], beat: Beat) -> Fitted:
    cols = list(inp["model"].get("params", {}).get("columns") or ["rv_d", "rv_w", "rv_m"])
    return _log_linear(df, inp, "log_har", cols, [])


# HAR-X's inputs (also the linear part of models/residual.py's har_x_gbm).
HAR_X_LOGS = ["rv_d", "rv_w", "rv_m", "gk_var_1", "gk_var_6", "gk_var_same_hour_7d"]
HAR_X_DUMMIES = ["hour", "weekday"]


def har_x(df: pd.DataFrame, inp: dict[str, Any], beat: Beat) -> Fitted:
    p = inp["model"].get("params", {})
    dummies = HAR_X_DUMMIES if p.get("dummies", True) else []
    # Optional exogenous inputs (the implied-volatility features: extraLogColumns ["iv_var_1"], a
    # variance, enters as a log like the HAR terms; extraColumns ["dvol_chg_24"], a log change, as is).
    # Only those the plan kept for this fold (featureColumns: at most 1% NULL on its training rows) are
    # used: a fold whose training rows mostly predate the index fits plain HAR-X, and says so.
    offered = set(inp.get("featureColumns") or [])
    want_log = list(p.get("extraLogColumns") or [])
    want_lin = list(p.get("extraColumns") or [])
    use_log = [c for c in want_log if c in offered]
    use_lin = [c for c in want_lin if c in offered]
    left_out = [c for c in want_log + want_lin if c not in offered]
    extra = {"extraColumnsUsed": use_log + use_lin, "extraColumnsLeftOut": left_out} if want_log or want_lin else {}
    return _log_linear(df, inp, "har_x", HAR_X_LOGS + use_log, dummies, use_lin, extra)


def _window(decay: float, tol: float, max_window: int) -> int:
    if not 0 < decay < 1:
        return max_window
    return int(min(max_window, max(1, math.ceil(math.log(tol) / math.log(decay)))))


def ewma(df: pd.DataFrame, inp: dict[str, Any], beat: Beat) -> Fitted:
    target = inp["target"]
    h = HORIZON[target]
    p = inp["model"].get("params", {})
    lam = float(p.get("lambda", 0.94))
    if not 0 < lam < 1:
        raise FitError(f"ewma: lambda must be in (0, 1), got {lam}")
    proxy = str(p.get("proxy") or ("gk_var_1" if target == "target_gk_1h" else "r2_1"))
    tol = float(p.get("tolerance", 1e-6))
    w = _window(lam, tol, int(p.get("maxWindow", 1000)))
    tr, te = build_rows(df, [proxy], w, target, inp["train"], inp["test"])
    k = np.arange(w)[::-1]  # lag of each position, oldest first
    weights = (1 - lam) * lam ** k
    tail = float(lam ** w)
    weights = weights / weights.sum()
    head = {"kind": "var", "floor": 0.0, "mult": float(h)}
    model = ox.lag_sum_graph(w, weights, 0.0, head, f"ewma {target}")
    pred = ox.apply_head(ox.lag_sum_numpy(te.x, weights, 0.0), head, double=True)
    return Fitted(model, {"kind": "sequence", "columns": [proxy], "window": w, "dtype": "float32"},
                  {"lambda": lam, "proxy": proxy, "tolerance": tol},
                  {"window": w, "truncatedWeight": tail, "renormalised": True,
                   "rule": f"sigma2 = sum_k (1-l) l^k {proxy}_(t-k) / (1 - l^W); vol = sqrt({h} sigma2)"},
                  {"head": head}, len(tr.idx), te, pred)


def garch(df: pd.DataFrame, inp: dict[str, Any], beat: Beat) -> Fitted:
    import arch

    target = inp["target"]
    h = HORIZON[target]
    p = inp["model"].get("params", {})
    tol = float(p.get("tolerance", 1e-6))
    max_window = int(p.get("maxWindow", 1000))
    # The returns the ML fit sees: training rows with a known target and a return.
    sl = train_slice(df, inp["train"])
    for c in ("ret_1", target):
        if c not in df.columns:
            raise FitError(f"feature set has no column {c!r} (needed by garch)")
    r = pd.to_numeric(sl["ret_1"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    known = np.isfinite(pd.to_numeric(sl[target], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan))
    r = r[np.isfinite(r) & known]
    require_rows(len(r), 500, "garch")
    beat({"stage": "garch-ml"})
    am = arch.arch_model(100.0 * r, mean="Zero", vol="GARCH", p=1, q=1, dist="normal", rescale=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = am.fit(disp="off", options={"maxiter": 500})
    omega, alpha, beta = float(res.params["omega"]) / 1e4, float(res.params["alpha[1]"]), float(res.params["beta[1]"])
    phi = alpha + beta
    # Near-integrated fits (alpha + beta -> 1) make omega / (1 - phi) explode; with beta near 1 the
    # truncated tail also keeps a large weight, so such a tail would dominate every forecast (seen on
    # protocol (b) BTC folds). Past this persistence the tail is the training sample's variance.
    uncond = omega / (1 - phi) if phi < 0.999 else float(np.mean(r ** 2))
    w = _window(beta, tol, max_window)
    tail = beta ** w
    k = np.arange(w)[::-1]
    weights1 = alpha * beta ** k  # sigma2_{t+1} = c1 + sum weights1 * r^2, oldest first
    c1 = omega * (1 - tail) / (1 - beta) + tail * uncond
    # h-step sum: sum_{j=1..h} E[sigma2_{t+j}] = A + B sigma2_{t+1}
    a_sum = sum(omega * sum(phi ** i for i in range(j - 1)) for j in range(1, h + 1))
    b_sum = sum(phi ** (j - 1) for j in range(1, h + 1))
    weights, const = b_sum * weights1, a_sum + b_sum * c1
    # The truncated recursion against arch's own conditional variance on the training rows.
    cv = (np.asarray(res.conditional_volatility) / 100.0) ** 2
    check = np.nan
    if len(r) > w + 1:
        win = np.lib.stride_tricks.sliding_window_view(r ** 2, w)[:-1]  # rows t-W..t-1 -> sigma2_t
        mine = win @ weights1 + c1
        check = float(np.max(np.abs(mine - cv[w:]) / cv[w:]))
    tr, te = build_rows(df, ["ret_1"], w, target, inp["train"], inp["test"])
    head = {"kind": "var", "floor": 0.0, "mult": 1.0}
    model = ox.lag_sum_graph(w, weights, const, head, f"garch {target}", square=True)
    pred = ox.apply_head(ox.lag_sum_numpy(te.x, weights, const, square=True), head, double=True)
    fitted = {"omega": omega, "alpha": alpha, "beta": beta, "persistence": phi, "unconditionalVariance": uncond,
              "logLikelihood": float(res.loglikelihood), "converged": int(res.convergence_flag) == 0,
              "fitRows": int(len(r)), "returnScale": 100.0,
              "truncation": {"window": w, "tailWeight": tail, "tail": "replaced by the unconditional variance",
                             "maxRelDiffVsArchOnTraining": check},
              "horizon": {"bars": h, "A": a_sum, "B": b_sum, "rule": "vol = sqrt(A + B sigma2_{t+1})"}}
    return Fitted(model, {"kind": "sequence", "columns": ["ret_1"], "window": w, "dtype": "float32"},
                  {"mean": "zero", "dist": "normal", "tolerance": tol, "maxWindow": max_window}, fitted,
                  {"head": head, "input": "ret_1 squared inside the graph"}, len(tr.idx), te, pred)
