"""Training throughput of the neural trainer: SPH-Net and the LSTM, a fixed number of optimisation
steps on the full BTC/USDT hourly history (the test fixture's features from shared/data), the same
model, batch and loss as a fit, on CPU and, when CUDA is available, on the GPU with AMP.

    .venv/bin/python bench/train_neural.py [--steps 8] [--lstm-steps 40] [--gpu-steps 100] [--threads 2]

Prints samples/second per model and device, and the GPU/CPU ratio (or "no CUDA device").
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "test", "trainer")]

import numpy as np  # noqa: E402
import torch  # noqa: E402

from feature_fixture import NEURAL_COLUMNS, build_features, load_candles  # noqa: E402
from models import lstm, neural, sph_net  # noqa: E402
from models.frame import build_rows  # noqa: E402


def model_and_data(name: str, frame: Any) -> tuple[Any, dict[str, Any], neural.LossSpec, dict[str, np.ndarray]]:
    target = "target_gk_1h"
    if name == "sph_net":
        inp = {"model": {"kind": "sph_net", "params": {}}, "featureColumns": NEURAL_COLUMNS}
        price, eng = sph_net.columns(inp)
        cols = price + eng
        p = dict(sph_net.DEFAULTS)
    else:
        cols = NEURAL_COLUMNS
        p = lstm.params_for("lstm", {})
    ts = frame["ts"].to_numpy()
    everything = {"startTs": int(ts[0]), "endTs": int(ts[-1]) + 1}
    tr, _ = build_rows(frame, cols, int(p["window"]), target, everything, {"startTs": 0, "endTs": 0})
    sc = neural.Scaling.fit(tr.x)
    resp = neural.response(tr.y, 1)
    if name == "sph_net":
        net = sph_net.build(len(price), len(eng), p, sc)
        spec = sph_net.loss_spec(p)
    else:
        net = lstm.build(len(cols), p, sc)
        spec = neural.LossSpec(reg="mse")
    data = {"x": tr.x, "y": resp.yz.astype(np.float32), "w": np.ones(len(tr.x), np.float32),
            "d": (resp.yz > 0).astype(np.float32)}
    return net, p, spec, data


def bench(name: str, frame: Any, device: str, steps: int, warmup: int = 2) -> float:
    torch.manual_seed(0)
    net, p, spec, data = model_and_data(name, frame)
    p = {**p, "amp": device == "cuda"}  # AMP on the GPU only (as in a fit)
    dev = torch.device(device)
    net = net.to(dev).train()
    tensors = {k: torch.tensor(v).to(dev) for k, v in data.items()}
    n, bs = len(data["y"]), int(p["batch"])
    trainer = neural.Trainer(net, p, spec, device, steps + warmup)
    gen = torch.Generator().manual_seed(0)
    batches = [torch.randint(0, n, (bs,), generator=gen).to(dev) for _ in range(steps + warmup)]

    def run(b: Any) -> None:
        trainer.step(tensors["x"][b], tensors["y"][b], tensors["w"][b], tensors["d"][b])

    for b in batches[:warmup]:
        run(b)
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for b in batches[warmup:]:
        run(b)
    if device == "cuda":
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    params = sum(t.numel() for t in net.parameters())
    amp = trainer.amp_dtype and str(trainer.amp_dtype).replace("torch.", "")
    print(f"  {name:8s} {device:4s} window={p['window']} batch={bs} params={params:,} amp={amp or 'off'}: "
          f"{steps} steps in {dt:.2f}s -> {steps * bs / dt:,.0f} samples/s", flush=True)
    return steps * bs / dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=8, help="SPH-Net optimisation steps on CPU (default 8)")
    ap.add_argument("--lstm-steps", type=int, default=40, help="LSTM optimisation steps on CPU (default 40)")
    ap.add_argument("--gpu-steps", type=int, default=100, help="steps per model on the GPU (default 100)")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    ap.add_argument("--models", default="sph_net,lstm")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    t0 = time.perf_counter()
    with warnings.catch_warnings(), np.errstate(all="ignore"):  # log(0) volume ratios early in the history
        warnings.simplefilter("ignore", RuntimeWarning)
        frame = build_features(load_candles("BTCUSDT"))
    print(f"BTC/USDT 1h: {len(frame):,} bars, features in {time.perf_counter() - t0:.1f}s; torch {torch.__version__}, "
          f"{args.threads} CPU threads on {platform.processor() or platform.machine()} ({os.cpu_count()} cores)")
    cuda = torch.cuda.is_available()
    gpu_name = torch.cuda.get_device_name(0) if cuda else None
    for name in args.models.split(","):
        cpu = bench(name, frame, "cpu", args.steps if name == "sph_net" else args.lstm_steps)
        if cuda:
            gpu = bench(name, frame, "cuda", args.gpu_steps)
            print(f"  {name:8s} GPU ({gpu_name}) / CPU: {gpu / cpu:.1f}x")
        else:
            print(f"  {name:8s} GPU: no CUDA device (torch.cuda.is_available() is False); CPU figure only")
    print(f"total {time.perf_counter() - t0:.0f}s")


if __name__ == "__main__":
    main()
