"""SPH-Net (kind `sph_net`, queue role `gpu`): a two-stream network over a window of bars.

- Inputs: one sequence `x` [N, W, F], columns = `priceColumns` (the OHLCV-derived price stream: by
  default those of ret_1, hl_range, oc_range, gk_var_1, r2_1, vol_ratio_24 present in the features)
  then the rest of `featureColumns` (the engineered stream, e.g. lm_jump, HAR terms, calendar). The
  graph scales x (asinh scaling of models/neural.py, log-like for gk_var_1/r2_1) and splits it.
- Price stream: linear embedding + learned positions -> Transformer encoder (`layers` layers).
- Engineered stream: a per-step MLP encoder + learned positions.
- Fusion: co-attention (price attends to engineered and engineered to price, nn.MultiheadAttention,
  residual + LayerNorm), concatenated and projected, a further Transformer encoder layer, then
  attention pooling over time concatenated with the last token.
- Heads: (0) standardised log variance (Huber loss, `huberWeight`), (1) log variance of that prediction
  (Gaussian NLL, `nllWeight`) -> exported `sigma`, (2) direction of volatility (BCE, `bceWeight`,
  auxiliary, not exported): does the target's per-bar variance exceed the last bar's realized one
  (`directionColumn`, default gk_var_1 for target_gk_1h, rv_d for target_rv_24h when an input).
- Training (models/neural.py): AdamW, linear warm-up + cosine decay, gradient clipping, early stopping
  on the validation span at the end of the training rows, autocast bf16/fp16 on CUDA only.
- Export: vol [N, 1] and sigma [N, 1], ONNX opset 17 (TorchScript exporter), attention fast path off.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd

from . import neural as nn_
from .frame import HORIZON, FitError, Fitted, build_rows, require_rows
from .gbm import feature_columns

PRICE_DEFAULT = ["ret_1", "hl_range", "oc_range", "gk_var_1", "r2_1", "vol_ratio_24"]

DEFAULTS: dict[str, Any] = {
    **nn_.OPTIM_DEFAULTS,
    "window": 72, "dModel": 128, "heads": 8, "layers": 4, "dropout": 0.15, "ffMult": 2,
    "epochs": 30, "patience": 5, "batch": 256, "validFraction": 0.2, "threads": 1,
    "optimizer": "adamw", "lr": 1e-3, "weightDecay": 0.01, "warmupFraction": 0.05, "cosine": True,
    "clip": 1.0, "amp": True,
    "huberWeight": 1.0, "huberDelta": 1.0, "bceWeight": 0.2, "nllWeight": 0.5,
}


def columns(inp: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(price columns, engineered columns); the model input is their concatenation."""
    feats = feature_columns(inp)
    given = inp["model"].get("params", {}).get("priceColumns")
    price = list(given) if given else [c for c in PRICE_DEFAULT if c in feats]
    if not price:
        raise FitError("sph_net: no price columns (params.priceColumns, or one of "
                       f"{', '.join(PRICE_DEFAULT)} among featureColumns)")
    eng = [c for c in feats if c not in price]
    if not eng:
        raise FitError("sph_net: no engineered columns besides the price columns")
    return price, eng


def build(n_price: int, n_eng: int, p: dict[str, Any], sc: nn_.Scaling) -> Any:
    import torch
    from torch import nn

    d, heads, drop, w = int(p["dModel"]), int(p["heads"]), float(p["dropout"]), int(p["window"])
    if d % heads:
        raise FitError(f"sph_net: dModel {d} is not a multiple of heads {heads}")
    ff = int(p["ffMult"]) * d
    Pool = nn_.attention_pool()

    def encoder_layer() -> nn.Module:
        return nn.TransformerEncoderLayer(d, heads, ff, drop, activation="gelu", batch_first=True, norm_first=True)

    class CoAttention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.p2e = nn.MultiheadAttention(d, heads, dropout=drop, batch_first=True)
            self.e2p = nn.MultiheadAttention(d, heads, dropout=drop, batch_first=True)
            self.np, self.ne = nn.LayerNorm(d), nn.LayerNorm(d)
            self.fuse = nn.Sequential(nn.Linear(2 * d, d), nn.GELU(), nn.LayerNorm(d))

        def forward(self, hp: torch.Tensor, he: torch.Tensor) -> torch.Tensor:
            ap, _ = self.p2e(hp, he, he, need_weights=False)
            ae, _ = self.e2p(he, hp, hp, need_weights=False)
            return self.fuse(torch.cat([self.np(hp + ap), self.ne(he + ae)], dim=-1))

    class SPHNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = nn_.scaler_module(sc)
            self.n_price = n_price
            self.price_in = nn.Linear(n_price, d)
            self.price_pos = nn.Parameter(torch.zeros(1, w, d))
            self.price_enc = nn.TransformerEncoder(encoder_layer(), int(p["layers"]), enable_nested_tensor=False)
            self.eng_mlp = nn.Sequential(nn.Linear(n_eng, d), nn.GELU(), nn.Dropout(drop), nn.Linear(d, d))
            self.eng_pos = nn.Parameter(torch.zeros(1, w, d))
            self.co = CoAttention()
            self.mix = nn.TransformerEncoder(encoder_layer(), 1, enable_nested_tensor=False)
            self.pool = Pool(d)
            self.norm = nn.LayerNorm(2 * d)
            self.trunk = nn.Sequential(nn.Linear(2 * d, d), nn.GELU(), nn.Dropout(drop))
            self.heads = nn.Linear(d, 3)  # log variance, log variance of the prediction, direction logit
            nn.init.normal_(self.price_pos, std=0.02)
            nn.init.normal_(self.eng_pos, std=0.02)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            z = self.scale(x)
            hp = self.price_enc(self.price_in(z[:, :, :self.n_price]) + self.price_pos)
            he = self.eng_mlp(z[:, :, self.n_price:]) + self.eng_pos
            h = self.mix(self.co(hp, he))
            feat = self.norm(torch.cat([self.pool(h), h[:, -1, :]], dim=-1))
            return self.heads(self.trunk(feat))

    return SPHNet()


def loss_spec(p: dict[str, Any]) -> nn_.LossSpec:
    return nn_.LossSpec(reg="huber", reg_weight=float(p["huberWeight"]), huber_delta=float(p["huberDelta"]),
                        sigma=True, nll_weight=float(p["nllWeight"]), direction=True, bce_weight=float(p["bceWeight"]))


def direction_labels(tr_x: np.ndarray, ylog: np.ndarray, cols: list[str], target: str, floor: float) -> tuple[np.ndarray, str]:
    """1 where the target's per-bar log variance exceeds the last bar's realized one, else 0."""
    ref = "rv_d" if target == "target_rv_24h" and "rv_d" in cols else "gk_var_1"
    if ref not in cols:
        ref = next((c for c in ("gk_var_1", "r2_1", "rv_d") if c in cols), "")
    if not ref:
        return np.full(len(ylog), 0.5), "none (no realized-variance input: BCE target 0.5)"
    last = tr_x[:, -1, cols.index(ref)].astype(np.float64)
    return (ylog > np.log(np.maximum(last, floor))).astype(np.float64), ref


def fit(df: pd.DataFrame, inp: dict[str, Any], beat: Callable[[Any], None], device: str) -> Fitted:
    import torch

    target = inp["target"]
    h = HORIZON[target]
    p = {**DEFAULTS, **{k: v for k, v in inp["model"].get("params", {}).items() if k != "columns"}}
    price, eng = columns(inp)
    cols = price + eng
    p["priceColumns"] = price
    w, seed = int(p["window"]), int(inp.get("seed", 0))
    tr, te = build_rows(df, cols, w, target, inp["train"], inp["test"])
    require_rows(len(tr.idx), 300, "sph_net")
    nn_.setup_torch(seed, int(p["threads"]))

    sc = nn_.Scaling.fit(tr.x)
    resp = nn_.response(tr.y, h)
    d, dref = direction_labels(tr.x, resp.ylog, cols, target, resp.floor)
    n_fit, n_val = nn_.split(len(resp.yz), float(p["validFraction"]), h, "sph_net")
    net = build(len(price), len(eng), p, sc).to(torch.device(device))
    spec = loss_spec(p)
    fitted = nn_.train(net, tr.x, resp.yz, np.ones(len(resp.yz)), d, n_fit, n_val, p, spec, device, seed,
                       beat, "sph_net")
    net = net.cpu().eval()
    raw_val = nn_.predict_raw(net, tr.x[-n_val:])
    model, info = nn_.export_model(net, resp, h, tr.x[-n_val:], True)
    pred, psig = nn_.predict(model, te.x, True)
    onnx_bytes = nn_.to_onnx(model, tr.x[:2], True)
    dir_acc = float(np.mean((raw_val[:, 2] > 0) == (d[-n_val:] > 0.5)))
    fitted.update({"purgedRows": h, **info, "parameters": int(sum(t.numel() for t in net.parameters())),
                   "response": f"standardised log(max({target}^2 / {h}, {resp.floor:.3g}))",
                   "responseFloor": resp.floor, "directionReference": dref,
                   "directionUpShare": float(d[:n_fit].mean()), "validDirectionAccuracy": dir_acc})
    scaling = {**sc.card(), "priceColumns": price, "engineeredColumns": eng,
               "target": {"mean": resp.mean, "std": resp.std, "shift": info["shift"],
                          "rule": "vol = exp(0.5 * (yhat * std + shift)), shift = mean + smearing + log h"},
               "sigma": {"rule": "sigma = std * exp(0.5 * clamp(s, -8, 8)) * calibration",
                         "calibration": info["sigmaCalibration"]}}
    return Fitted(onnx_bytes, {"kind": "sequence", "columns": cols, "window": w, "dtype": "float32"},
                  {**p, "seed": seed}, fitted, scaling, len(tr.idx), te, pred, device=device,
                  libraries={"torch": torch.__version__}, test_sigma=psig)
