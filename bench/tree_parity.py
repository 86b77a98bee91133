"""Tree-model ONNX parity over a long walk-forward, without Temporal or MinIO.

Protocol: expanding training window from the first row of the feature set, 30-day test windows
stepping 30 days from 2020-01-01 (the last ending where the target is still known), embargo 24 bars;
BTC/USDT and ETH/USDT hourly, both targets (target_gk_1h, target_rv_24h), both tree kinds (lightgbm,
xgboost) with their default parameters (num_boost_round 400, early stopping 30). Features: the
project's own builder (lib/features/build.ts, via bench/tree_parity_node.ts) on ../shared/data,
cached in .cache/tree-parity; inputs: every FEATURE column except prev_close/prev_ts with <= 1%
nulls on the fold's training rows (as lib/training/plan.ts selects them).

Per fold: fit (models.gbm), export, and the max relative error of `vol` between the trainer's own
predictions and onnxruntime on the test rows: Python onnxruntime (models.onnx_export.run_onnx, the
trainer's self-check) and onnxruntime-node (every model of the run scored in one node process).
`--export old` evaluates the old onnxmltools export of the same boosters instead (bench/tree_parity_old.py).

    .venv/bin/python bench/tree_parity.py [--export new|old] [--series BTC/USDT,ETH/USDT]
        [--targets target_gk_1h,target_rv_24h] [--kinds lightgbm,xgboost] [--max-folds N] [--no-node]

Prints one line per series x target x kind (folds, worst error per runtime, failures); exits 1 if
any fold fails (error > 1e-5, the pipeline's tolerance, or a fit/export error).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from bench.tree_parity_old import old_graph, old_trainer_prediction  # noqa: E402
from models import gbm  # noqa: E402
from models.fit import PARITY_RTOL  # noqa: E402
from models.frame import HORIZON  # noqa: E402
from models.onnx_export import run_onnx  # noqa: E402

HOUR = 3_600_000
DAY = 24 * HOUR
CACHE = os.path.join(ROOT, ".cache", "tree-parity")
NODE_HELPER = os.path.join(ROOT, "bench", "tree_parity_node.ts")
NOT_INPUTS = {"prev_close", "prev_ts"}
MAX_NULL_SHARE = 0.01
EMBARGO_BARS = 24
FITS = {"lightgbm": gbm.fit, "xgboost": gbm.fit_xgboost}


def ms(date: str) -> int:
    return int(pd.Timestamp(date, tz="UTC").value // 1_000_000)


def node(*args: str) -> dict[str, Any]:
    p = subprocess.run(["node", "--import", "tsx", NODE_HELPER, *args], cwd=ROOT, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"node {' '.join(args)} failed ({p.returncode}):\n{p.stderr[-4000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def features() -> tuple[dict[str, str], list[str]]:
    """The BTC/USDT and ETH/USDT feature Parquets (built once into .cache/tree-parity) and FEATURE_COLUMNS."""
    meta = os.path.join(CACHE, "features.json")
    if os.path.exists(meta):
        m = json.load(open(meta))
        if all(os.path.exists(f) for f in m["files"].values()):
            return m["files"], m["featureColumns"]
    m = node("features", CACHE)
    with open(meta, "w") as fh:
        json.dump(m, fh)
    return m["files"], m["featureColumns"]


def folds(ts: np.ndarray, target: str, start: str, test_days: int, step_days: int) -> list[tuple[dict[str, int], dict[str, int]]]:
    """lib/walkForward.ts planFolds, expanding, with the first test window at `start`."""
    first, last, h = int(ts[0]), int(ts[-1]), HORIZON[target]
    last_known_end = last - h * HOUR + HOUR
    embargo = max(EMBARGO_BARS, h) * HOUR
    out = []
    t = ms(start)
    while t + test_days * DAY <= last_known_end:
        out.append(({"startTs": first, "endTs": t - embargo}, {"startTs": t, "endTs": t + test_days * DAY}))
        t += step_days * DAY
    return out


def input_columns(df: pd.DataFrame, candidates: list[str], train: dict[str, int]) -> list[str]:
    ts = df["ts"].to_numpy()
    rows = df.loc[(ts >= train["startTs"]) & (ts < train["endTs"]), candidates]
    share = rows.isna().mean()
    return [c for c in candidates if share[c] <= MAX_NULL_SHARE]


def rel_error(got: np.ndarray, want: np.ndarray) -> float:
    """models/fit.py `_rel`: max |got - want| / max(|want|, 1e-30)."""
    if got.shape != want.shape:
        return float("inf")
    if not len(want):
        return 0.0
    r = np.abs(got - want) / np.maximum(np.abs(want), 1e-30)
    return float(np.max(np.where(np.isfinite(r), r, np.inf)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--export", choices=("new", "old"), default="new")
    ap.add_argument("--series", default="BTC/USDT,ETH/USDT")
    ap.add_argument("--targets", default="target_gk_1h,target_rv_24h")
    ap.add_argument("--kinds", default="lightgbm,xgboost")
    ap.add_argument("--start", default="2020-01-01")
    ap.add_argument("--test-days", type=int, default=30)
    ap.add_argument("--step-days", type=int, default=30)
    ap.add_argument("--max-folds", type=int, default=0, help="only the first N folds (quick runs)")
    ap.add_argument("--no-node", action="store_true", help="skip onnxruntime-node")
    a = ap.parse_args()
    t_start = time.perf_counter()
    files, feature_columns = features()
    work = tempfile.mkdtemp(prefix="volcast-tree-parity-")
    manifest: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []   # one per fold
    try:
        for series in a.series.split(","):
            df = pq.read_table(files[series]).to_pandas()
            candidates = [c for c in feature_columns if c in df.columns and c not in NOT_INPUTS]
            ts = df["ts"].to_numpy()
            for target in a.targets.split(","):
                plan = folds(ts, target, a.start, a.test_days, a.step_days)
                if a.max_folds:
                    plan = plan[:a.max_folds]
                for kind in a.kinds.split(","):
                    t0 = time.perf_counter()
                    for k, (train, test) in enumerate(plan):
                        cols = input_columns(df, candidates, train)
                        inp = {"model": {"name": kind, "kind": kind, "params": {}}, "target": target,
                               "featureColumns": cols, "train": train, "test": test, "seed": 0}
                        r: dict[str, Any] = {"series": series, "target": target, "kind": kind, "fold": k,
                                             "columns": len(cols), "error": None, "py": None, "node": None}
                        results.append(r)
                        keep: dict[str, Any] = {}
                        try:
                            f = FITS[kind](df, inp, lambda _: None, keep)
                            x = f.test.x
                            if a.export == "new":
                                model, want = f.onnx, np.asarray(f.test_pred, np.float64)
                            else:
                                model = old_graph(kind, keep["booster"], len(cols), keep["head"], f"old {kind} {target}")
                                want = old_trainer_prediction(kind, keep, x)
                            r["py"] = rel_error(run_onnx(model, x), want)
                            r["libDiff"] = f.fitted.get("xgboostPredictMaxAbsDiff")
                        except Exception as e:  # a fit or export that fails is a failed fold
                            r["error"] = f"{type(e).__name__}: {e}"
                            continue
                        if not a.no_node and len(x):
                            ident = f"m{len(manifest):04d}"
                            with open(os.path.join(work, f"{ident}.onnx"), "wb") as fh:
                                fh.write(model)
                            np.ascontiguousarray(x, dtype="<f4").tofile(os.path.join(work, f"{ident}.x.f32"))
                            manifest.append({"id": ident, "model": f"{ident}.onnx", "x": f"{ident}.x.f32",
                                             "rows": int(x.shape[0]), "cols": int(x.shape[1])})
                            r["nodeId"], r["want"] = ident, want
                    done = [r for r in results if (r["series"], r["target"], r["kind"]) == (series, target, kind)]
                    worst = max((r["py"] or 0.0) for r in done)
                    print(f"  {series} {target} {kind}: {len(done)} folds fitted in {time.perf_counter() - t0:.0f} s, "
                          f"worst Python {worst:.2e}", file=sys.stderr, flush=True)
        runtime = "onnxruntime-node skipped"
        if manifest:
            with open(os.path.join(work, "manifest.json"), "w") as fh:
                json.dump(manifest, fh)
            runtime = node("score", work)["runtime"]
            for r in results:
                if "nodeId" in r:
                    got = np.fromfile(os.path.join(work, f"{r['nodeId']}.vol.f32"), dtype="<f4").astype(np.float64)
                    r["node"] = rel_error(got, r.pop("want"))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    import onnxruntime

    print(f"\ntree parity, export={a.export}: max relative error of vol, trainer vs onnxruntime "
          f"(Python {onnxruntime.__version__}; {runtime}); failure = error > {PARITY_RTOL:g} or a fit/export error")
    print(f"{'series':<9} {'target':<14} {'kind':<8} {'folds':>5} {'worst Python':>13} {'fold':>4} "
          f"{'worst node':>11} {'fold':>4} {'>1e-6':>5} {'failures':>8}  {'xgb.predict-exact':>17}")
    failures = 0
    for series in a.series.split(","):
        for target in a.targets.split(","):
            for kind in a.kinds.split(","):
                rs = [r for r in results if (r["series"], r["target"], r["kind"]) == (series, target, kind)]
                if not rs:
                    continue

                def worst(key: str) -> tuple[float, int]:
                    vals = [(r[key], r["fold"]) for r in rs if r[key] is not None]
                    return max(vals) if vals else (float("nan"), -1)

                (wp, fp), (wn, fn) = worst("py"), worst("node")
                bad = [r for r in rs if r["error"] or max(r["py"] or 0.0, r["node"] or 0.0) > PARITY_RTOL]
                over = sum(1 for r in rs if max(r["py"] or 0.0, r["node"] or 0.0) > 1e-6)
                lib = [r["libDiff"] for r in rs if r.get("libDiff") is not None]
                failures += len(bad)
                print(f"{series:<9} {target:<14} {kind:<8} {len(rs):>5} {wp:>13.3e} {fp:>4} {wn:>11.3e} {fn:>4} "
                      f"{over:>5} {len(bad):>8}  {(f'{max(lib):.2e}' if lib else '-'):>17}")
                for r in bad:
                    why = r["error"] or f"Python {r['py']:.3e}, node {r['node'] if r['node'] is None else format(r['node'], '.3e')}"
                    print(f"    fold {r['fold']}: {why}")
    print(f"{failures} failed folds; {time.perf_counter() - t_start:.0f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
