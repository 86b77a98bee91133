"""Peak memory and time of one pooled fit over every hourly series of ../shared/data (issue 10 item 1:
"training on 8 years × 25 symbols must fit in 24 GiB").

  .venv/bin/python bench/pooled_memory.py [--kind lightgbm|xgboost] [--rounds 400] [--target target_rv_24h]

The pooled trainer's own code (models/pooled.py: pooled_rows — each series' training rows,
normalised with its own statistics — and fit_booster) on the feature frames of test/trainer's pandas
feature builder (the contract's column names) for all 25 hourly symbols, training window = all
history up to 2026-02-01 minus the target horizon. Prints rows, the peak RSS of this process
(getrusage) after loading the frames and after the fit, and the wall times. No stack, no store.
"""
from __future__ import annotations

import argparse
import glob
import os
import resource
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "test", "trainer"))

from feature_fixture import DATA, FEATURE_COLUMNS, build_features, load_candles, ms  # noqa: E402
from models import pooled  # noqa: E402
from models.frame import HORIZON  # noqa: E402
from models.gbm import DEFAULTS, XGB_DEFAULTS  # noqa: E402


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024  # KiB on Linux


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", default="lightgbm", choices=["lightgbm", "xgboost"])
    ap.add_argument("--rounds", type=int, default=400)
    ap.add_argument("--target", default="target_rv_24h")
    # The fixture builds 14 input columns; the lake's feature set has ~90. --widen K repeats each
    # input column K times (perturbed copies), so memory is measured at the real width.
    ap.add_argument("--widen", type=int, default=1)
    a = ap.parse_args()
    t0 = time.time()
    symbols = sorted(os.path.basename(p).split("_")[1] for p in glob.glob(os.path.join(DATA, "BINANCE_*_1h.csv.gz")))
    cols = list(FEATURE_COLUMNS)
    frames = []
    for s in symbols:
        f = build_features(load_candles(s))
        for k in range(1, a.widen):
            for c in FEATURE_COLUMNS:
                f[f"{c}__{k}"] = f[c] * (1 + 1e-3 * k)
        frames.append((s, f))
    if a.widen > 1:
        cols += [f"{c}__{k}" for k in range(1, a.widen) for c in FEATURE_COLUMNS]
    rows = sum(len(f) for _, f in frames)
    t1 = time.time()
    print(f"{len(frames)} series, {rows:,} feature rows × {len(cols)} input columns, built in {t1 - t0:.0f} s; peak RSS {peak_gib():.2f} GiB")
    h = HORIZON[a.target]
    end = ms("2026-02-01") - h * 3_600_000
    train = {"startTs": 0, "endTs": end}
    parts, excluded = pooled.pooled_rows(frames, cols, a.target, train)
    del frames
    p = {**(DEFAULTS if a.kind == "lightgbm" else XGB_DEFAULTS), "num_boost_round": a.rounds}
    val_start = pooled.validation_start(train if train["startTs"] else {**train, "startTs": int(min(q.ts[0] for q in parts))}, float(p["validFraction"]), 3_600_000)
    t2 = time.time()
    _, meta = pooled.fit_booster(a.kind, parts, p, 7, val_start, h, 3_600_000, lambda _: None)
    t3 = time.time()
    print(f"pooled {a.kind} {a.target}: {meta['fitRows']:,} fitting + {meta['validRows']:,} validation rows over {len(parts)} series "
          f"({len(excluded)} left out), best iteration {meta['bestIteration']}, fit {t3 - t2:.0f} s; peak RSS {peak_gib():.2f} GiB")


if __name__ == "__main__":
    main()
