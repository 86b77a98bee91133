"""What the PyTorch models share (lstm, lstm_jump, bilstm_attn, sph_net): seeding, the input scaling
and the response transform baked into the graph, the training loop, sigma calibration and ONNX export.

- Input scaling, fit on the last step of the training windows: z = (asinh(x / s) - mu) / sd per column,
  s = median |x| (asinh is log-like for heavy-tailed variances, linear near 0 for returns).
- Response: log(max(target^2 / h, floor)) standardised by its training mean/std (yz).
- A net maps x [N, W, F] to raw outputs [N, K]: column 0 the standardised log variance, column 1 (with a
  sigma head) the log of the variance of that prediction in standardised units, further columns
  auxiliary (SPH-Net's direction logit, never exported).
- Loss: a regression term (MSE, Huber, or QLIKE on the log variance: exp(d) - d - 1, d = the
  log-variance error in original units, the loss whose minimiser is the conditional mean of the
  variance, i.e. what the evaluation's QLIKE rewards; Patton 2011) on column 0, plus `nllWeight` x Gaussian NLL of yz given
  (column 0 detached, exp(column 1)) for the sigma head, plus `bceWeight` x BCE of the direction logit;
  each term is a mean weighted by the per-row weights (1 unless a model sets them, e.g. jumps).
- Training: Adam or AdamW, optional linear warm-up + cosine decay per step, optional gradient clipping,
  autocast (bf16, else fp16 with a gradient scaler) only when the device is CUDA and `amp` is set.
  Early stopping on the validation span carved from the END of the training rows (h rows purged
  before it), best-epoch weights kept, a heartbeat per epoch. The validation loss is unweighted.
- Export wrapper: vol = exp(0.5 * (yhat * sd_y + shift)), shift = mean + smearing + log h;
  sigma = sd_y * exp(0.5 * clamp(s)) * calibration, the calibration making the standardised
  residuals of the validation span (around the exported centre) have unit RMS.
- Deterministic: seeded torch/NumPy, fixed-order batches from a seeded generator, deterministic
  algorithms, TF32 off, `threads` CPU threads. The attention fast path (a fused kernel in eval mode) is
  turned off for prediction and export so PyTorch and the exported graph run the same math.
"""
from __future__ import annotations

import contextlib
import copy
import io
import math
import os
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from .frame import require_rows, var_floor

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

LOGVAR_CLAMP = 8.0  # bounds of the sigma head's log variance (standardised units)


def setup_torch(seed: int, threads: int) -> None:
    import torch

    torch.set_num_threads(max(1, int(threads)))
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


@contextlib.contextmanager
def no_attention_fastpath() -> Iterator[None]:
    import torch

    before = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(before)


@dataclass
class Scaling:
    s: np.ndarray
    mu: np.ndarray
    sd: np.ndarray

    @staticmethod
    def fit(x: np.ndarray) -> "Scaling":
        last = x[:, -1, :].astype(np.float64)
        s = np.median(np.abs(last), axis=0)
        s = np.where(s > 0, s, 1.0)
        a = np.arcsinh(last / s)
        mu, sd = a.mean(axis=0), a.std(axis=0)
        return Scaling(s, mu, np.where(sd > 0, sd, 1.0))

    def card(self) -> dict[str, Any]:
        return {"inputs": "z = (asinh(x / s) - mu) / sd", "s": self.s.tolist(), "mu": self.mu.tolist(),
                "sd": self.sd.tolist()}


def scaler_module(sc: Scaling) -> Any:
    import torch
    from torch import nn

    class Scale(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("s", torch.tensor(sc.s, dtype=torch.float32))
            self.register_buffer("mu", torch.tensor(sc.mu, dtype=torch.float32))
            self.register_buffer("sd", torch.tensor(sc.sd, dtype=torch.float32))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            u = x / self.s
            # asinh(u), written with ops the TorchScript ONNX exporter knows (it has no aten::asinh)
            a = torch.sign(u) * torch.log(torch.abs(u) + torch.sqrt(u * u + 1.0))
            return (a - self.mu) / self.sd

    return Scale()


def attention_pool() -> Any:
    """Softmax attention over time steps: [N, W, d] -> [N, d]."""
    from torch import nn

    class Pool(nn.Module):
        def __init__(self, d: int) -> None:
            super().__init__()
            self.score = nn.Linear(d, 1)

        def forward(self, h: Any) -> Any:
            a = self.score(h).softmax(dim=1)
            return (a * h).sum(dim=1)

    return Pool


@dataclass
class Response:
    ylog: np.ndarray
    yz: np.ndarray
    mean: float
    std: float
    floor: float


def response(y: np.ndarray, h: int) -> Response:
    v = y ** 2 / h
    floor = var_floor(v)
    ylog = np.log(np.maximum(v, floor))
    mean, std = float(ylog.mean()), float(ylog.std() or 1.0)
    return Response(ylog, (ylog - mean) / std, mean, std, floor)


def split(n: int, valid_fraction: float, h: int, what: str) -> tuple[int, int]:
    n_val = max(50, int(round(float(valid_fraction) * n)))
    n_fit = n - n_val - h
    require_rows(n_fit, 200, f"{what} (after carving the validation span)")
    return n_fit, n_val


@dataclass
class LossSpec:
    reg: str = "mse"            # mse | huber | qlike
    reg_weight: float = 1.0
    # qlike: the response's std (yz is standardised; QLIKE needs the error in log-variance units).
    response_std: float = 1.0
    huber_delta: float = 1.0
    sigma: bool = False         # column 1: log variance, Gaussian NLL
    nll_weight: float = 0.0
    direction: bool = False     # column 2: direction logit, BCE
    bce_weight: float = 0.0


def loss_fn(spec: LossSpec) -> Callable[..., Any]:
    import torch
    import torch.nn.functional as F

    def wmean(v: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return (v * w).sum() / w.sum()

    def loss(out: torch.Tensor, y: torch.Tensor, w: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        out = out.float()
        m = out[:, 0]
        if spec.reg == "huber":
            r = F.huber_loss(m, y, reduction="none", delta=spec.huber_delta)
        elif spec.reg == "qlike":
            # Clamped so one wild early prediction cannot overflow exp (e^30: a variance 1e13 × off).
            d = ((y - m) * spec.response_std).clamp(-30.0, 30.0)
            r = torch.exp(d) - d - 1.0
        else:
            r = (m - y) ** 2
        total = spec.reg_weight * wmean(r, w)
        if spec.sigma:
            s = out[:, 1].clamp(-LOGVAR_CLAMP, LOGVAR_CLAMP)
            total = total + spec.nll_weight * wmean(
                F.gaussian_nll_loss(m.detach(), y, s.exp(), reduction="none"), w)
        if spec.direction:
            total = total + spec.bce_weight * wmean(
                F.binary_cross_entropy_with_logits(out[:, 2], d, reduction="none"), w)
        return total

    return loss


OPTIM_DEFAULTS: dict[str, Any] = {
    "optimizer": "adam", "lr": 3e-3, "weightDecay": 0.0, "warmupFraction": 0.0, "cosine": False,
    "clip": 0.0, "amp": False,
}


class Trainer:
    """Optimizer, schedule, clipping and mixed precision of one net; `step` is one optimisation step."""

    def __init__(self, net: Any, p: dict[str, Any], spec: LossSpec, device: str, total_steps: int) -> None:
        import torch

        self.net, self.p, self.device = net, p, torch.device(device)
        self.loss = loss_fn(spec)
        opt = torch.optim.AdamW if p["optimizer"] == "adamw" else torch.optim.Adam
        self.opt = opt(net.parameters(), lr=float(p["lr"]), weight_decay=float(p["weightDecay"]))
        warm = int(round(float(p["warmupFraction"]) * total_steps))
        cosine = bool(p["cosine"])

        def factor(step: int) -> float:
            if warm > 0 and step < warm:
                return (step + 1) / warm
            if not cosine:
                return 1.0
            t = min(1.0, (step - warm) / max(1, total_steps - warm))
            return 0.5 * (1.0 + math.cos(math.pi * t))

        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, factor)
        self.amp_dtype = None
        if bool(p["amp"]) and self.device.type == "cuda":
            self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)

    def autocast(self) -> Any:
        import torch

        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type="cuda", dtype=self.amp_dtype)

    def step(self, x: Any, y: Any, w: Any, d: Any) -> float:
        self.opt.zero_grad()
        with self.autocast():
            out = self.net(x)
        loss = self.loss(out, y, w, d)
        self.scaler.scale(loss).backward()
        if float(self.p["clip"]) > 0:
            import torch

            self.scaler.unscale_(self.opt)
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), float(self.p["clip"]))
        self.scaler.step(self.opt)
        self.scaler.update()
        self.sched.step()
        return float(loss.item())

    def evaluate(self, x: Any, y: Any, d: Any, batch: int) -> float:
        import torch

        self.net.eval()
        total = 0.0
        with torch.no_grad(), self.autocast():
            for i in range(0, len(y), batch):
                yb = y[i:i + batch]
                total += float(self.loss(self.net(x[i:i + batch]), yb, torch.ones_like(yb), d[i:i + batch]).item()) * len(yb)
        return total / max(1, len(y))


def train(net: Any, x: np.ndarray, yz: np.ndarray, w: np.ndarray, d: np.ndarray, n_fit: int, n_val: int,
          p: dict[str, Any], spec: LossSpec, device: str, seed: int, beat: Callable[[Any], None],
          stage: str) -> dict[str, Any]:
    """Epochs over the fitting rows (seeded permutation), early stopping on the last n_val rows; the net
    ends with its best-epoch weights. Returns what the card records."""
    import torch

    dev = torch.device(device)
    X = torch.tensor(x, dtype=torch.float32)
    Y = torch.tensor(yz, dtype=torch.float32)
    W = torch.tensor(w, dtype=torch.float32)
    D = torch.tensor(d, dtype=torch.float32)
    xf, yf, wf, df = X[:n_fit].to(dev), Y[:n_fit].to(dev), W[:n_fit].to(dev), D[:n_fit].to(dev)
    xv, yv, dv = X[-n_val:].to(dev), Y[-n_val:].to(dev), D[-n_val:].to(dev)
    bs, epochs = int(p["batch"]), int(p["epochs"])
    tr = Trainer(net, p, spec, device, epochs * math.ceil(n_fit / bs))
    gen = torch.Generator().manual_seed(seed)
    best, best_state, best_epoch, bad, history = math.inf, copy.deepcopy(net.state_dict()), 0, 0, []
    for epoch in range(1, epochs + 1):
        net.train()
        perm = torch.randperm(n_fit, generator=gen).to(dev)
        total = 0.0
        for i in range(0, n_fit, bs):
            b = perm[i:i + bs]
            total += tr.step(xf[b], yf[b], wf[b], df[b]) * len(b)
        vl = tr.evaluate(xv, yv, dv, max(bs, 1024))
        history.append({"epoch": epoch, "train": total / n_fit, "valid": vl})
        beat({"stage": stage, "epoch": epoch, "trainLoss": total / n_fit, "validLoss": vl})
        if vl < best - 1e-9:
            best, best_state, best_epoch, bad = vl, copy.deepcopy(net.state_dict()), epoch, 0
        else:
            bad += 1
            if bad >= int(p["patience"]):
                break
    net.load_state_dict(best_state)
    return {"bestEpoch": best_epoch, "epochsRun": len(history), "bestValidLoss": best, "history": history,
            "fitRows": n_fit, "validRows": n_val, "amp": str(tr.amp_dtype).replace("torch.", "") if tr.amp_dtype else None}


def predict_raw(net: Any, x: np.ndarray, batch: int = 2048) -> np.ndarray:
    """Raw outputs [N, K] of the net on CPU, float32 math (what the exported graph computes)."""
    import torch

    outs = []
    with torch.no_grad(), no_attention_fastpath():
        for i in range(0, len(x), batch):
            outs.append(net(torch.tensor(x[i:i + batch], dtype=torch.float32)).numpy())
    return np.concatenate(outs).astype(np.float64) if outs else np.zeros((0, 1))


def export_model(net: Any, resp: Response, h: int, x_val: np.ndarray, sigma: bool) -> tuple[Any, dict[str, Any]]:
    """The exported module (vol, and sigma if the net has a sigma head) with the smearing bias and the
    sigma calibration measured on the validation span."""
    import torch
    from torch import nn

    raw = predict_raw(net, x_val)
    n_val = len(x_val)
    centre = raw[:, 0] * resp.std + resp.mean
    resid = resp.ylog[-n_val:] - centre
    smear = float(np.log(np.mean(np.exp(resid))))
    shift = resp.mean + smear + math.log(h)
    info: dict[str, Any] = {"smearingBias": smear, "shift": shift}
    calib = 1.0
    if sigma:
        sig = resp.std * np.exp(0.5 * np.clip(raw[:, 1], -LOGVAR_CLAMP, LOGVAR_CLAMP))
        calib = float(np.sqrt(np.mean(((resid - smear) / sig) ** 2)))
        info["sigmaCalibration"] = calib
        info["validSigmaMedian"] = float(np.median(sig * calib))
    scale = resp.std

    class Export(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: torch.Tensor) -> Any:
            out = self.net(x)
            vol = torch.exp(0.5 * (out[:, 0:1] * scale + shift))
            if not sigma:
                return vol
            s = out[:, 1:2].clamp(-LOGVAR_CLAMP, LOGVAR_CLAMP)
            return vol, torch.exp(0.5 * s) * (scale * calib)

    return Export().eval(), info


def predict(model: Any, x: np.ndarray, sigma: bool) -> tuple[np.ndarray, np.ndarray | None]:
    import torch

    if len(x) == 0:
        return np.zeros(0), (np.zeros(0) if sigma else None)
    with torch.no_grad(), no_attention_fastpath():
        out = model(torch.tensor(x, dtype=torch.float32))
    if sigma:
        return out[0].numpy().reshape(-1).astype(np.float64), out[1].numpy().reshape(-1).astype(np.float64)
    return out.numpy().reshape(-1).astype(np.float64), None


def to_onnx(model: Any, dummy: np.ndarray, sigma: bool) -> bytes:
    import torch

    names = ["vol", "sigma"] if sigma else ["vol"]
    buf = io.BytesIO()
    with warnings.catch_warnings(), no_attention_fastpath():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.tensor(dummy, dtype=torch.float32),), buf, input_names=["x"],
                          output_names=names, dynamic_axes={"x": {0: "N"}, **{n: {0: "N"} for n in names}},
                          opset_version=17, dynamo=False, do_constant_folding=True)
    return buf.getvalue()

