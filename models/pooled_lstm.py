"""Pooled (panel) LSTM-family fits (lstm, lstm_jump, bilstm_attn): one net per kind × target × fold,
trained on the training-window sequences of every series of a universe, scored per series — the
nets' side of models/pooled.py (same pool input, window, validation span, cache and card record).

- Per series, from its own training rows only: the nets' input scaling (models/neural.py Scaling:
  z = (asinh(x / s) - mu) / sd) and the standardised log-variance response (mean, std). The net
  is trained on the scaled inputs of every series (its own scaling layer left out), with each
  series' standardised response; lstm_jump weights each series' rows by that series' jump flags
  (inside the pool window only).
- Cached as its state dict (torch.save, base64) at `pooled.boosterKey`: the first fit of a fold
  trains it, every other series' fit reads it.
- The series S scored: the net with S's scaling layer put back (so the ONNX of S takes S's raw
  inputs), its head with S's response mean and std and S's smearing bias (models/neural.py
  export_model, on S's rows in the pool's validation span, at least its last 50 training rows).
"""
from __future__ import annotations

import base64
import io
import json
from typing import Any, Callable

import numpy as np
import pandas as pd

from . import contract
from . import neural as nn_
from .frame import HORIZON, FitError, Fitted, bar_ms, build_rows, load_frame
from .gbm import feature_columns
from .lstm import build, jump_weights, params_for
from .pooled import POOL_MIN_ROWS, SCALE_MIN_ROWS, SMEAR_MIN_ROWS, cached_pool, pooled_input, validation_start
from .store import ArtifactStore

# The net kinds among contracts/domain.json's `poolable` ones (those models/lstm.py fits).
POOLED_NET_KINDS = tuple(k for k in contract.POOLABLE_KINDS if contract.KIND_ACTIVITY[k] == "fitNeuralModel")


def scale_inputs(x: np.ndarray, sc: nn_.Scaling) -> np.ndarray:
    """The nets' scaling layer applied by torch itself (the same float32 ops as in the graph)."""
    import torch

    with torch.no_grad():
        return nn_.scaler_module(sc)(torch.tensor(x, dtype=torch.float32)).numpy()


def _member(df: pd.DataFrame, inp: dict[str, Any], cols: list[str], w: int, target: str, train: dict[str, Any],
            p: dict[str, Any], kind: str) -> dict[str, Any] | None:
    tr, _ = build_rows(df, cols, w, target, train, train)
    if len(tr.idx) < POOL_MIN_ROWS:
        return None
    sc = nn_.Scaling.fit(tr.x)
    resp = nn_.response(tr.y, HORIZON[target])
    weights = np.ones(len(tr.idx))
    if kind == "lstm_jump":
        weights, _ = jump_weights(df, {**inp, "train": train}, tr.ts, HORIZON[target], float(p["jumpWeight"]))
    return {"ts": tr.ts, "z": scale_inputs(tr.x, sc), "yz": resp.yz, "w": weights}


def fit_pooled_lstm(store: ArtifactStore, df: pd.DataFrame, inp: dict[str, Any], beat: Callable[[Any], None], device: str) -> Fitted:
    import torch

    kind = inp["model"]["kind"]
    pooled, pool_train = pooled_input(inp, POOLED_NET_KINDS, "pooled nets")
    target = inp["target"]
    h = HORIZON[target]
    p = params_for(kind, {k: v for k, v in inp["model"].get("params", {}).items() if k != "pooled"})
    cols = feature_columns(inp)
    w, seed = int(p["window"]), int(inp.get("seed", 0))
    bar = bar_ms(df, inp)
    train = inp["train"]
    symbol = (inp.get("series") or {}).get("symbol", "?")
    tr, te = build_rows(df, cols, w, target, train, inp["test"])
    if len(tr.idx) < SCALE_MIN_ROWS:
        raise FitError(f"too few training rows for the pooled {kind} of {symbol}: {len(tr.idx)} scorable rows with a known target, need >= {SCALE_MIN_ROWS} for its scaling")
    sigma = bool(p["sigma"])

    doc = cached_pool(store, pooled, "net")
    reused = doc is not None
    if doc is None:
        members, universe, excluded = [], [], []
        for m in pooled["universe"]:
            sym = m["series"]["symbol"]
            beat({"stage": "load pool", "symbol": sym})
            part = _member(load_frame(store, m["features"]), {**inp, "series": m["series"]}, cols, w, target, pool_train, p, kind)
            if part is None:
                excluded.append({"symbol": sym, "why": f"fewer than {POOL_MIN_ROWS} scorable training rows"})
                continue
            members.append(part)
            universe.append(sym)
        if not members:
            raise FitError(f"pooled fit: no series of the universe has {POOL_MIN_ROWS} scorable training rows in the window")
        first = min(int(q["ts"].min()) for q in members)
        val_start = validation_start({"startTs": max(int(pool_train["startTs"]), first), "endTs": pool_train["endTs"]}, float(p["validFraction"]), bar)
        fit_end = val_start - h * bar
        take = lambda key, sel: np.concatenate([q[key][sel(q["ts"])] for q in members])
        before, after = (lambda t: t < fit_end), (lambda t: t >= val_start)
        z = np.concatenate([take("z", before), take("z", after)]).astype(np.float32)
        yz = np.concatenate([take("yz", before), take("yz", after)])
        wt = np.concatenate([take("w", before), take("w", after)])
        n_fit, n_val = int(sum(before(q["ts"]).sum() for q in members)), int(sum(after(q["ts"]).sum() for q in members))
        if n_fit < 200 or n_val < SMEAR_MIN_ROWS:
            raise FitError(f"pooled {kind}: too few rows ({n_fit} fitting, {n_val} validation) in the training window")
        nn_.setup_torch(seed, int(p["threads"]))
        net = build(len(cols), p, nn_.Scaling(np.ones(len(cols)), np.zeros(len(cols)), np.ones(len(cols))))
        net.scale = torch.nn.Identity()  # each series' inputs arrive scaled by its own statistics
        net = net.to(torch.device(device))
        spec = nn_.LossSpec(reg="mse", sigma=sigma, nll_weight=float(p["nllWeight"]))
        fitted0 = nn_.train(net, z, yz, wt, np.zeros(len(yz)), n_fit, n_val, p, spec, device, seed, beat, f"pooled {kind}")
        buf = io.BytesIO()
        torch.save({k: v.cpu() for k, v in net.state_dict().items()}, buf)
        meta = {"bestEpoch": fitted0["bestEpoch"], "epochsRun": fitted0["epochsRun"], "bestValidLoss": fitted0["bestValidLoss"],
                "fitRows": n_fit, "validRows": n_val, "validStartTs": val_start, "excluded": excluded,
                "universe": [{"symbol": s, "trainRows": int(len(q["ts"])), "fitRows": int(before(q["ts"]).sum()),
                              "validRows": int(after(q["ts"]).sum())} for s, q in zip(universe, members)],
                "trainRows": int(sum(len(q["ts"]) for q in members))}
        doc = {"poolId": pooled["poolId"], "kind": kind, "target": target, "columns": cols, "train": pool_train, "meta": meta,
               "state": base64.b64encode(buf.getvalue()).decode("ascii")}
        store.put_bytes(pooled["boosterKey"], json.dumps(doc, sort_keys=True).encode("utf-8"), "application/json")
    if doc.get("columns") != cols:
        raise FitError(f"cached pooled net {pooled['boosterKey']} has other input columns than this fit")
    meta = doc["meta"]

    # This series: its scaling layer and response around the pool's net.
    sc = nn_.Scaling.fit(tr.x)
    resp = nn_.response(tr.y, h)
    nn_.setup_torch(seed, int(p["threads"]))
    net = build(len(cols), p, sc)
    state = torch.load(io.BytesIO(base64.b64decode(doc["state"])), map_location="cpu")
    missing, unexpected = net.load_state_dict(state, strict=False)
    if unexpected or any(not k.startswith("scale.") for k in missing):
        raise FitError(f"cached pooled net {pooled['boosterKey']} does not fit {kind} {p}: missing {missing}, unexpected {unexpected}")
    net = net.eval()
    n_val = int(np.sum(tr.ts >= int(meta["validStartTs"])))
    n_val = min(len(tr.idx), max(n_val, SMEAR_MIN_ROWS))
    model, info = nn_.export_model(net, resp, h, tr.x[-n_val:], sigma)
    pred, psig = nn_.predict(model, te.x, sigma)
    onnx_bytes = nn_.to_onnx(model, tr.x[:2], sigma)
    members = [u["symbol"] for u in meta["universe"]]
    fitted = {"bestEpoch": meta["bestEpoch"], "epochsRun": meta["epochsRun"], **info,
              "parameters": int(sum(t.numel() for t in net.parameters())),
              "pooled": {"poolId": pooled["poolId"], "boosterKey": pooled["boosterKey"], "boosterReused": reused,
                         "universe": meta["universe"], "excluded": meta["excluded"], "inPool": symbol in members,
                         "fitRows": meta["fitRows"], "validRows": meta["validRows"], "validStartTs": meta["validStartTs"],
                         "train": doc["train"], "seriesTrainRows": int(len(tr.idx)), "seriesSmearRows": n_val}}
    scaling = {**sc.card(), "from": "this series' training rows",
               "target": {"mean": resp.mean, "std": resp.std, "shift": info["shift"],
                          "rule": "vol = exp(0.5 * (yhat * std + shift)), shift = mean + smearing + log h (this series')"}}
    if sigma:
        scaling["sigma"] = {"rule": "sigma = std * exp(0.5 * clamp(s, -8, 8)) * calibration", "calibration": info["sigmaCalibration"]}
    return Fitted(onnx_bytes, {"kind": "sequence", "columns": cols, "window": w, "dtype": "float32"},
                  {**p, "seed": seed, "pooled": inp["model"]["params"].get("pooled")}, fitted, scaling,
                  int(meta["trainRows"]), te, pred, device=device, libraries={"torch": torch.__version__}, test_sigma=psig)
