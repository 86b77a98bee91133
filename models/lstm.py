"""LSTM models over windows of features (queue role `gpu`): `lstm`, its jump-aware variant `lstm_jump`
and `bilstm_attn`, one module with parameters (models/neural.py holds the shared scaling, training loop
and export).

- Input: sequence [N, W, F] of `params.columns` or the fit's `featureColumns` (the row and its W-1
  predecessors in file order, oldest first); scorable when all W*F values are non-null.
- `lstm`: LSTM -> last step -> linear. Response, scaling, early stopping, smearing: models/neural.py.
- `lstm_jump`: the same, the loss weighting each training row by `jumpWeight` (default 2) when a bar of
  its target span (ts+1 bar .. ts+h bars) carries the Lee-Mykland flag `lm_jump` = 1. Flags are read
  only from rows inside the training window (a target bar at or after train.endTs counts as unflagged,
  so nothing after the window is read); the validation loss stays unweighted. jumpWeight = 1 is exactly
  the plain LSTM.
- `bilstm_attn`: a bidirectional LSTM, attention pooling over the time steps concatenated with the
  last step, a sigma head by default.
- `loss`: "mse" (default) on the standardised log variance, or "qlike" (models/neural.py).
- `sigma` (default off for lstm/lstm_jump, on for bilstm_attn): a second output column trained with
  Gaussian NLL (`nllWeight`), exported as `sigma` = std-dev of the predicted log variance.
- Deterministic on one device (seeded, fixed batch order, deterministic algorithms): a refit on CPU
  gives identical weights and ONNX bytes; CUDA differs from CPU in the last bits.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd

from . import neural as nn_
from .frame import HORIZON, FitError, Fitted, bar_ms, build_rows, require_columns, require_rows, train_slice
from .gbm import feature_columns

DEFAULTS: dict[str, Any] = {
    **nn_.OPTIM_DEFAULTS,
    "window": 24, "hidden": 16, "layers": 1, "epochs": 30, "patience": 5, "lr": 3e-3, "batch": 256,
    "validFraction": 0.2, "threads": 1, "weightDecay": 0.0,
    "bidirectional": False, "attention": False, "sigma": False, "nllWeight": 0.5,
    # mse on the standardised log variance, or qlike (models/neural.py): the evaluation's own loss.
    "loss": "mse",
}
KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    "lstm": {},
    "lstm_jump": {"jumpWeight": 2.0},
    "bilstm_attn": {"bidirectional": True, "attention": True, "sigma": True},
}


def jump_weights(df: pd.DataFrame, inp: dict[str, Any], ts: np.ndarray, h: int,
                 weight: float) -> tuple[np.ndarray, int]:
    """Per training row: `weight` if a bar of its target span is flagged by lm_jump, else 1."""
    require_columns(df, ["lm_jump"], "lstm_jump")
    sl = train_slice(df, inp["train"])  # flags after the training window are never read
    sts = sl["ts"].to_numpy(np.int64)
    flags = pd.Series(pd.to_numeric(sl["lm_jump"], errors="coerce").fillna(0.0).to_numpy() > 0.5, index=sts)
    bar = bar_ms(df, inp)
    hit = np.zeros(len(ts), dtype=bool)
    for k in range(1, h + 1):
        hit |= flags.reindex(ts + k * bar, fill_value=False).to_numpy(dtype=bool)
    return np.where(hit, float(weight), 1.0), int(hit.sum())


def build(n_features: int, p: dict[str, Any], sc: nn_.Scaling) -> Any:
    """The net: scaling -> (Bi)LSTM -> last step (and attention pooling) -> linear (1 or 2 outputs)."""
    import torch
    from torch import nn

    hidden, bi, att, sigma = int(p["hidden"]), bool(p["bidirectional"]), bool(p["attention"]), bool(p["sigma"])
    width = hidden * (2 if bi else 1)
    Pool = nn_.attention_pool()

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = nn_.scaler_module(sc)
            self.lstm = nn.LSTM(n_features, hidden, num_layers=int(p["layers"]), batch_first=True, bidirectional=bi)
            self.pool = Pool(width) if att else None
            self.out = nn.Linear(width * (2 if att else 1), 2 if sigma else 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            o, _ = self.lstm(self.scale(x))
            last = o[:, -1, :]
            return self.out(torch.cat([self.pool(o), last], dim=1) if self.pool is not None else last)

    return Net()


def params_for(kind: str, given: dict[str, Any]) -> dict[str, Any]:
    return {**DEFAULTS, **KIND_DEFAULTS.get(kind, {}), **{k: v for k, v in given.items() if k != "columns"}}


def fit(df: pd.DataFrame, inp: dict[str, Any], beat: Callable[[Any], None], device: str) -> Fitted:
    import torch

    kind = inp["model"]["kind"]
    target = inp["target"]
    h = HORIZON[target]
    p = params_for(kind, inp["model"].get("params", {}))
    cols = feature_columns(inp)
    w, seed = int(p["window"]), int(inp.get("seed", 0))
    tr, te = build_rows(df, cols, w, target, inp["train"], inp["test"])
    require_rows(len(tr.idx), 300, kind)
    nn_.setup_torch(seed, int(p["threads"]))

    sc = nn_.Scaling.fit(tr.x)
    resp = nn_.response(tr.y, h)
    sigma = bool(p["sigma"])
    weights, jump_rows = np.ones(len(tr.idx)), None
    if kind == "lstm_jump":
        weights, jump_rows = jump_weights(df, inp, tr.ts, h, float(p["jumpWeight"]))
    n_fit, n_val = nn_.split(len(resp.yz), float(p["validFraction"]), h, kind)
    net = build(len(cols), p, sc).to(torch.device(device))
    if p["loss"] not in ("mse", "qlike"):
        raise FitError(f"{kind}: params.loss must be 'mse' or 'qlike', got {p['loss']!r}")
    spec = nn_.LossSpec(reg=str(p["loss"]), response_std=resp.std, sigma=sigma, nll_weight=float(p["nllWeight"]))
    fitted = nn_.train(net, tr.x, resp.yz, weights, np.zeros(len(resp.yz)), n_fit, n_val, p, spec, device, seed,
                       beat, kind)
    net = net.cpu().eval()
    model, info = nn_.export_model(net, resp, h, tr.x[-n_val:], sigma)
    pred, psig = nn_.predict(model, te.x, sigma)
    onnx_bytes = nn_.to_onnx(model, tr.x[:2], sigma)
    fitted.update({"purgedRows": h, **info, "parameters": int(sum(t.numel() for t in net.parameters())),
                   "response": f"standardised log(max({target}^2 / {h}, {resp.floor:.3g}))",
                   "responseFloor": resp.floor})
    if jump_rows is not None:
        fitted.update({"jumpRows": jump_rows, "jumpWeight": float(p["jumpWeight"]),
                       "jumpRule": "weight rows whose target span has lm_jump = 1 (flags inside the training window)"})
    scaling = {**sc.card(), "target": {"mean": resp.mean, "std": resp.std, "shift": info["shift"],
                                       "rule": "vol = exp(0.5 * (yhat * std + shift)), shift = mean + smearing + log h"}}
    if sigma:
        scaling["sigma"] = {"rule": "sigma = std * exp(0.5 * clamp(s, -8, 8)) * calibration",
                            "calibration": info["sigmaCalibration"]}
    return Fitted(onnx_bytes, {"kind": "sequence", "columns": cols, "window": w, "dtype": "float32"},
                  {**p, "seed": seed}, fitted, scaling, len(tr.idx), te, pred, device=device,
                  libraries={"torch": torch.__version__}, test_sigma=psig)
