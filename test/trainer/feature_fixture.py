"""A feature Parquet built in pandas from the real Binance candles (shared/data, never copied into the
repo), with the column names of docs/model-contract.md. It stands in for the DuckDB feature set:
the models only rely on the contract's names.

Point in time: the row stamped ts uses candles with open time <= ts; targets look forward
(target_gk_1h = GK vol of the bar at ts + 1h, target_rv_24h = sqrt(sum of the squared log returns of
the bars ts+1h .. ts+24h)), null where a needed bar is missing.
"""
from __future__ import annotations

import io
import math
import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "..", "shared", "data", "candles")
HOUR = 3_600_000
DAY = 24 * HOUR


def ms(date: str) -> int:
    return int(pd.Timestamp(date, tz="UTC").value // 1_000_000)


def load_candles(symbol: str = "BTCUSDT", start: str | None = None, end: str | None = None) -> pd.DataFrame:
    df = pd.read_csv(os.path.join(DATA, f"BINANCE_{symbol}_1h.csv.gz"))
    if start:
        df = df[df.ts >= ms(start)]
    if end:
        df = df[df.ts < ms(end)]
    return df.sort_values("ts").reset_index(drop=True)


def build_features(c: pd.DataFrame) -> pd.DataFrame:
    o, h, l, cl = (c[k].to_numpy(np.float64) for k in ("open", "high", "low", "close"))
    ts = c.ts.to_numpy(np.int64)
    f = pd.DataFrame({"ts": ts})
    ret = np.log(cl / np.roll(cl, 1))
    ret[0] = np.nan
    gk = 0.5 * np.log(h / l) ** 2 - (2 * math.log(2) - 1) * np.log(cl / o) ** 2
    pk = np.log(h / l) ** 2 / (4 * math.log(2))
    f["ret_1"] = ret
    f["r2_1"] = ret ** 2
    f["gk_var_1"] = gk
    s_r2, s_gk, s_pk = pd.Series(ret ** 2), pd.Series(gk), pd.Series(pk)
    f["gk_var_6"] = s_gk.rolling(6).mean().to_numpy()
    f["rv_d"] = s_r2.rolling(24).mean().to_numpy()
    f["rv_w"] = s_r2.rolling(168).mean().to_numpy()
    f["rv_m"] = s_r2.rolling(720).mean().to_numpy()
    # Same hour over the last 7 days: bars at ts, ts-24h, ..., ts-144h (on the time grid).
    by_ts = pd.Series(gk, index=ts)
    lags = np.column_stack([by_ts.reindex(ts - k * DAY).to_numpy() for k in range(7)])
    n_ok = np.isfinite(lags).sum(axis=1)
    f["gk_var_same_hour_7d"] = np.where(n_ok >= 4, np.nansum(lags, axis=1) / np.maximum(n_ok, 1), np.nan)
    f["gk_vol_24"] = np.sqrt(s_gk.rolling(24).mean().to_numpy())
    f["park_vol_24"] = np.sqrt(s_pk.rolling(24).mean().to_numpy())
    f["ret_24"] = pd.Series(ret).rolling(24).sum().to_numpy()
    f["log_volume_ratio"] = np.log(c.volume.to_numpy() / c.volume.rolling(168).mean().to_numpy())
    dt = pd.to_datetime(ts, unit="ms", utc=True)
    # OHLCV-derived price stream (SPH-Net's `priceColumns`) and the Lee-Mykland jump flag.
    f["hl_range"] = np.log(h / l)
    f["oc_range"] = np.log(cl / o)
    vol = c.volume.to_numpy(np.float64)
    f["vol_ratio_24"] = vol / c.volume.rolling(24).mean().to_numpy()
    f["lm_jump"] = lee_mykland_jump(ret)
    f["hour"] = dt.hour.astype(np.int64)
    f["weekday"] = dt.dayofweek.astype(np.int64)  # 0 = Monday (the models take levels from the data)
    # Targets on the time grid: null where a needed future bar is missing.
    by_ts_r2 = pd.Series(ret ** 2, index=ts)
    nxt = by_ts.reindex(ts + HOUR).to_numpy()
    f["target_gk_1h"] = np.sqrt(nxt)
    fut = np.column_stack([by_ts_r2.reindex(ts + k * HOUR).to_numpy() for k in range(1, 25)])
    f["target_rv_24h"] = np.sqrt(np.where(np.isfinite(fut).all(axis=1), fut.sum(axis=1), np.nan))
    return f


def lee_mykland_jump(ret: np.ndarray, k: int = 168, alpha: float = 0.01) -> np.ndarray:
    """Lee-Mykland (2008) jump flag of each bar (0/1, NaN during warm-up): |L| = |r_t| / sigma_t, with
    sigma_t^2 the bipower variation mean(|r_j||r_j-1|) over the previous k bars, against the Gumbel
    critical value at level alpha: (|L| - C_n) / S_n > -log(-log(1 - alpha)), n = k."""
    a = pd.Series(np.abs(ret))
    bp = (a * a.shift(1)).rolling(k - 1).mean().shift(1).to_numpy()  # bars t-k+1 .. t-1, none at t
    stat = np.abs(ret) / np.sqrt(bp)
    c = math.sqrt(2 / math.pi)
    ln = math.sqrt(2 * math.log(k))
    c_n = ln / c - (math.log(math.pi) + math.log(math.log(k))) / (2 * c * ln)
    s_n = 1 / (c * ln)
    beta = -math.log(-math.log(1 - alpha))
    flag = ((stat - c_n) / s_n > beta).astype(np.float64)
    return np.where(np.isfinite(stat), flag, np.nan)


FEATURE_COLUMNS = ["ret_1", "r2_1", "gk_var_1", "gk_var_6", "gk_var_same_hour_7d", "rv_d", "rv_w", "rv_m",
                   "gk_vol_24", "park_vol_24", "ret_24", "log_volume_ratio", "hour", "weekday"]
# The neural models' inputs: the OHLCV-derived price stream, then the engineered stream (with lm_jump).
PRICE_COLUMNS = ["ret_1", "hl_range", "oc_range", "gk_var_1", "r2_1", "vol_ratio_24"]
NEURAL_COLUMNS = PRICE_COLUMNS + [c for c in FEATURE_COLUMNS if c not in PRICE_COLUMNS] + ["lm_jump"]


def parquet_bytes(f: pd.DataFrame) -> bytes:
    table = pa.Table.from_pandas(f, preserve_index=False)  # NaN -> null
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()
