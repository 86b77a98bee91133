"""The feature frame of one fit: load a feature-set Parquet by reference, select the training and test
rows, and build the model inputs with THE scorable-row rule of docs/model-contract.md.

- Rows are in file order (ascending `ts`); gaps are absent rows, so a sequence window is "the row and
  its W-1 predecessors in file order", whatever their timestamps.
- A row is scorable iff every input value it needs (all W rows for a sequence) is present, non-null
  and finite. Non-scorable rows are neither fitted on nor predicted.
- Training rows: train.startTs <= ts < train.endTs, a non-null target, scorable. Nothing at or after
  train.endTs is ever read by a fit (the test rows only receive predictions).
- Inputs are cast to float32 first (the ONNX input dtype), so the trainer's own predictions see
  exactly the numbers onnxruntime sees.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from . import contract
from .store import ArtifactStore

# The targets and the bars each sums (contracts/domain.json): the models predict per-bar variance,
# scaled by the horizon in the graph.
TARGETS, HORIZON = contract.TARGETS, contract.HORIZON


class FitError(ValueError):
    """A permanent problem with a fit's input (missing column, too few rows, bad parameter)."""


# The fits of one run read the same feature set (every fold, every spec): keep the last few frames
# in memory by content hash instead of re-reading the Parquet per fit. Fits never modify a frame.
_FRAMES: "OrderedDict[str, pd.DataFrame]" = OrderedDict()
_FRAMES_LOCK = threading.Lock()
_FRAMES_KEPT = 3


def load_frame(store: ArtifactStore, ref: dict[str, Any]) -> pd.DataFrame:
    sha = str(ref.get("sha256"))
    with _FRAMES_LOCK:
        hit = _FRAMES.get(sha)
        if hit is not None:
            _FRAMES.move_to_end(sha)
            return hit
    df = pq.read_table(store.get_file(ref)).to_pandas()
    if "ts" not in df.columns:
        raise FitError(f"feature set s3://{ref.get('bucket')}/{ref.get('key')} has no column 'ts'")
    ts = df["ts"].to_numpy()
    if len(ts) > 1 and not np.all(np.diff(ts) > 0):
        raise FitError(f"feature set s3://{ref.get('bucket')}/{ref.get('key')} is not strictly ascending by ts")
    df = df.reset_index(drop=True)
    with _FRAMES_LOCK:
        _FRAMES[sha] = df
        while len(_FRAMES) > _FRAMES_KEPT:
            _FRAMES.popitem(last=False)
    return df


def bar_ms(df: pd.DataFrame, inp: dict[str, Any]) -> int:
    """The bar length: the series' timeframe (contracts/domain.json), else the typical spacing of ts."""
    tf = (inp.get("series") or {}).get("timeframe")
    if tf in contract.BARS_MS:
        return contract.BARS_MS[tf]
    ts = df["ts"].to_numpy(np.int64)
    if len(ts) < 2:
        raise FitError("cannot tell the bar length: the fit input names no series and the frame has one row")
    return int(np.median(np.diff(ts)))


def require_columns(df: pd.DataFrame, columns: list[str], where: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise FitError(f"feature set has no column {', '.join(repr(c) for c in missing)} (needed by {where})")


def values32(df: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """[N, F] float32, NaN where null."""
    out = np.empty((len(df), len(columns)), dtype=np.float32)
    for j, c in enumerate(columns):
        out[:, j] = pd.to_numeric(df[c], errors="coerce").astype("float64").to_numpy(na_value=np.nan)
    return out


def scorable(values: np.ndarray, window: int = 1) -> np.ndarray:
    """Per row: all F values of the row (and of its W-1 predecessors for a sequence) are finite."""
    ok = np.isfinite(values).all(axis=1)
    if window <= 1:
        return ok
    bad = np.concatenate([[0], np.cumsum(~ok)])
    n = len(ok)
    res = np.zeros(n, dtype=bool)
    if n >= window:
        i = np.arange(window - 1, n)
        res[i] = bad[i + 1] - bad[i + 1 - window] == 0
    return res


def in_window(ts: np.ndarray, w: dict[str, Any]) -> np.ndarray:
    return (ts >= int(w["startTs"])) & (ts < int(w["endTs"]))


@dataclass
class Rows:
    """The rows of a fit: indices into the frame (file order), their ts, inputs and targets."""

    idx: np.ndarray
    ts: np.ndarray
    x: np.ndarray  # [n, F] or [n, W, F] float32
    y: np.ndarray  # target (volatility), NaN where unknown (test rows)


def build_rows(df: pd.DataFrame, columns: list[str], window: int, target: str,
               train: dict[str, Any], test: dict[str, Any]) -> tuple[Rows, Rows]:
    """Training and test rows for inputs `columns` (tabular if window == 1, else sequences)."""
    require_columns(df, columns + [target], "the model")
    vals = values32(df, columns)
    ok = scorable(vals, window)
    ts = df["ts"].to_numpy().astype(np.int64)
    y = pd.to_numeric(df[target], errors="coerce").astype("float64").to_numpy(na_value=np.nan)
    tr = np.flatnonzero(in_window(ts, train) & ok & np.isfinite(y))
    te = np.flatnonzero(in_window(ts, test) & ok)

    def take(idx: np.ndarray) -> np.ndarray:
        if window <= 1:
            return vals[idx]
        offs = np.arange(-window + 1, 1)
        return vals[idx[:, None] + offs[None, :]]  # [n, W, F], oldest first

    # Test targets are carried for reporting only; no fit reads them.
    return Rows(tr, ts[tr], take(tr), y[tr]), Rows(te, ts[te], take(te), y[te].copy())


def train_slice(df: pd.DataFrame, train: dict[str, Any]) -> pd.DataFrame:
    """Only the training window of the frame (what fits that read raw columns may look at)."""
    ts = df["ts"].to_numpy()
    return df.loc[in_window(ts, train)]


def var_floor(v: np.ndarray) -> float:
    """A positive floor for variances before a log: 1% quantile of the positive values (training)."""
    pos = v[np.isfinite(v) & (v > 0)]
    if len(pos) == 0:
        raise FitError("no positive variance in the training window")
    return float(np.quantile(pos, 0.01))


def require_rows(n: int, minimum: int, what: str) -> None:
    if n < minimum:
        raise FitError(f"too few training rows for {what}: {n} scorable rows with a known target, need >= {minimum}")


@dataclass
class Fitted:
    """What a model module hands back to fit.py."""

    onnx: bytes
    input: dict[str, Any]        # card.input: kind, columns, window, dtype
    params: dict[str, Any]       # the hyper-parameters used (defaults filled in)
    fitted: dict[str, Any]       # coefficients, tree count, truncation, ...
    scaling: dict[str, Any]      # input transforms / target transform baked into the graph
    train_rows: int
    test: Rows                   # the test rows (inputs for the self-check)
    test_pred: np.ndarray        # the trainer's own predictions on the test rows (float64)
    device: str = "cpu"
    libraries: dict[str, str] | None = None
    test_sigma: np.ndarray | None = None  # std-dev of the predicted log variance (models with `sigma`)
