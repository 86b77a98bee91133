"""A small PyTorch LSTM over windows of features: the first neural model (queue role `gpu`).

- Input: sequence [N, W, F] of `params.columns` or the fit's `featureColumns` (the row and its W-1
  predecessors in file order, oldest first); scorable when all W*F values are non-null.
- Input scaling, fit on the training rows and baked into the graph: z = (asinh(x / s) - mu) / sd per
  column, s = median |x| (asinh is log-like for heavy-tailed variances, linear near 0 for returns).
- Response: log(max(target^2 / h, floor)) standardised by its training mean/std; output
  vol = exp(0.5 * (yhat * sd_y + mu_y + smearing bias + log h)), all inside the graph.
- Early stopping on a validation span carved from the END of the training rows (h rows purged before
  it), best-epoch weights kept; a heartbeat per epoch through the callback.
- Deterministic: seeded torch/NumPy, fixed-order batches from a seeded generator, deterministic
  algorithms, TF32 off, `threads` CPU threads (default 1). On CPU a refit gives identical weights; on
  CUDA cuDNN's LSTM kernels are deterministic with these settings but may differ from CPU in the last
  bits, so a refit on another device is not bit-identical.
- ONNX via torch.onnx.export (TorchScript exporter, opset 17, dynamic batch); the trainer's own
  predictions come from the same module on CPU in float32.
"""
from __future__ import annotations

import copy
import io
import math
import os
import warnings
from typing import Any, Callable

import numpy as np
import pandas as pd

from .frame import HORIZON, Fitted, build_rows, require_rows, var_floor
from .gbm import feature_columns

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

DEFAULTS: dict[str, Any] = {
    "window": 24, "hidden": 16, "layers": 1, "epochs": 30, "patience": 5, "lr": 3e-3, "batch": 256,
    "validFraction": 0.2, "threads": 1, "weightDecay": 0.0,
}


def fit(df: pd.DataFrame, inp: dict[str, Any], beat: Callable[[Any], None], device: str) -> Fitted:
    import torch
    from torch import nn

    target = inp["target"]
    h = HORIZON[target]
    p = {**DEFAULTS, **{k: v for k, v in inp["model"].get("params", {}).items() if k != "columns"}}
    cols = feature_columns(inp)
    w, seed = int(p["window"]), int(inp.get("seed", 0))
    tr, te = build_rows(df, cols, w, target, inp["train"], inp["test"])
    require_rows(len(tr.idx), 300, "lstm")

    torch.set_num_threads(int(p["threads"]))
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False

    last = tr.x[:, -1, :].astype(np.float64)
    s = np.median(np.abs(last), axis=0)
    s = np.where(s > 0, s, 1.0)
    a = np.arcsinh(last / s)
    mu, sd = a.mean(axis=0), a.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    v = tr.y ** 2 / h
    yfloor = var_floor(v)
    ylog = np.log(np.maximum(v, yfloor))
    mu_y, sd_y = float(ylog.mean()), float(ylog.std() or 1.0)
    yz = (ylog - mu_y) / sd_y

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("s", torch.tensor(s, dtype=torch.float32))
            self.register_buffer("mu", torch.tensor(mu, dtype=torch.float32))
            self.register_buffer("sd", torch.tensor(sd, dtype=torch.float32))
            self.lstm = nn.LSTM(len(cols), int(p["hidden"]), num_layers=int(p["layers"]), batch_first=True)
            self.out = nn.Linear(int(p["hidden"]), 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            u = x / self.s
            # asinh(u), written with ops the TorchScript ONNX exporter knows (it has no aten::asinh)
            a = torch.sign(u) * torch.log(torch.abs(u) + torch.sqrt(u * u + 1.0))
            z = (a - self.mu) / self.sd
            o, _ = self.lstm(z)
            return self.out(o[:, -1, :])

    class Vol(nn.Module):
        def __init__(self, net: nn.Module, shift: float) -> None:
            super().__init__()
            self.net = net
            self.scale, self.shift = sd_y, shift

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.exp(0.5 * (self.net(x) * self.scale + self.shift))

    n_val = max(50, int(round(float(p["validFraction"]) * len(yz))))
    n_fit = len(yz) - n_val - h
    require_rows(n_fit, 200, "lstm (after carving the validation span)")
    dev = torch.device(device)
    X = torch.tensor(tr.x, dtype=torch.float32)
    Y = torch.tensor(yz, dtype=torch.float32).unsqueeze(1)
    xf, yf = X[:n_fit].to(dev), Y[:n_fit].to(dev)
    xv, yv = X[-n_val:].to(dev), Y[-n_val:].to(dev)
    net = Net().to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=float(p["lr"]), weight_decay=float(p["weightDecay"]))
    gen = torch.Generator().manual_seed(seed)
    loss_fn = nn.MSELoss()
    best, best_state, best_epoch, bad, history = math.inf, copy.deepcopy(net.state_dict()), 0, 0, []
    bs = int(p["batch"])
    for epoch in range(1, int(p["epochs"]) + 1):
        net.train()
        perm = torch.randperm(n_fit, generator=gen).to(dev)
        total = 0.0
        for i in range(0, n_fit, bs):
            b = perm[i:i + bs]
            opt.zero_grad()
            loss = loss_fn(net(xf[b]), yf[b])
            loss.backward()
            opt.step()
            total += float(loss.item()) * len(b)
        net.eval()
        with torch.no_grad():
            vl = float(loss_fn(net(xv), yv).item())
        history.append({"epoch": epoch, "train": total / n_fit, "valid": vl})
        beat({"stage": "lstm", "epoch": epoch, "trainLoss": total / n_fit, "validLoss": vl})
        if vl < best - 1e-9:
            best, best_state, best_epoch, bad = vl, copy.deepcopy(net.state_dict()), epoch, 0
        else:
            bad += 1
            if bad >= int(p["patience"]):
                break

    net.load_state_dict(best_state)
    net = net.cpu().eval()
    with torch.no_grad():
        pv = net(X[-n_val:]).numpy().reshape(-1).astype(np.float64) * sd_y + mu_y
    resid = ylog[-n_val:] - pv
    smear = float(np.log(np.mean(np.exp(resid))))
    shift = mu_y + smear + math.log(h)
    model = Vol(net, shift).eval()
    with torch.no_grad():
        pred = (model(torch.tensor(te.x, dtype=torch.float32)).numpy().reshape(-1).astype(np.float64)
                if len(te.idx) else np.zeros(0))
    buf = io.BytesIO()
    dummy = torch.tensor(tr.x[:2], dtype=torch.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (dummy,), buf, input_names=["x"], output_names=["vol"],
                          dynamic_axes={"x": {0: "N"}, "vol": {0: "N"}}, opset_version=17, dynamo=False,
                          do_constant_folding=True)
    fitted = {"bestEpoch": best_epoch, "epochsRun": len(history), "bestValidLoss": best, "history": history,
              "fitRows": n_fit, "validRows": n_val, "purgedRows": h, "smearingBias": smear,
              "parameters": int(sum(t.numel() for t in net.parameters())),
              "response": f"standardised log(max({target}^2 / {h}, {yfloor:.3g}))", "responseFloor": yfloor}
    scaling = {"inputs": "z = (asinh(x / s) - mu) / sd", "s": s.tolist(), "mu": mu.tolist(), "sd": sd.tolist(),
               "target": {"mean": mu_y, "std": sd_y, "shift": shift,
                          "rule": "vol = exp(0.5 * (yhat * std + shift)), shift = mean + smearing + log h"}}
    return Fitted(buf.getvalue(), {"kind": "sequence", "columns": cols, "window": w, "dtype": "float32"},
                  {**p, "seed": seed}, fitted, scaling, len(tr.idx), te, pred, device=device,
                  libraries={"torch": torch.__version__})
