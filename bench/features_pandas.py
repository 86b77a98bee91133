"""The pandas side of bench/features: the same feature list as lib/features/definitions.ts, written
the way a typical `engineer_features` function is (per-symbol rolling windows in pandas), same gap
rule (time-based windows over the bars present: rolling('24h') is (t-24h, t] = [t-23h, t] on an
hourly grid). Reports its own wall time and peak RSS; checks a few columns against DuckDB's output.

usage: features_pandas.py spec.json result.json duckdb_out_dir
"""
import json
import math
import os
import resource
import sys
import time

import numpy as np
import pandas as pd

H = pd.Timedelta(hours=1)
SESSIONS = {"sydney": (21, 6), "tokyo": (0, 9), "london": (8, 17), "newyork": (13, 22)}
OVERLAPS = {"sydney_tokyo": (0, 6), "tokyo_london": (8, 9), "london_newyork": (13, 17)}
LM_N = 168
c = math.sqrt(2 / math.pi)
CN = math.sqrt(2 * math.log(LM_N)) / c - (math.log(math.pi) + math.log(math.log(LM_N))) / (2 * c * math.sqrt(2 * math.log(LM_N)))
SN = 1 / (c * math.sqrt(2 * math.log(LM_N)))
BETA = -math.log(-math.log(1 - 0.01))


def in_hours(h, w):
    s, e = w
    return ((h >= s) & (h < e)) if s < e else ((h >= s) | (h < e))


def engineer_features(df: pd.DataFrame) -> pd.DataFrame:
    """One symbol; df indexed by a UTC DatetimeIndex with open/high/low/close/volume."""
    o, h, l, cl, v = df["open"], df["high"], df["low"], df["close"], df["volume"]
    f = pd.DataFrame(index=df.index)
    roll = lambda s, n: s.rolling(f"{n}h")  # noqa: E731
    prev_close = cl.shift(1)
    prev_ts = pd.Series(df.index, index=df.index).shift(1)
    f["hour"] = df.index.hour
    f["weekday"] = df.index.weekday
    gk = 0.5 * np.log(h / l) ** 2 - (2 * np.log(2) - 1) * np.log(cl / o) ** 2
    pk = np.log(h / l) ** 2 / (4 * np.log(2))
    rs = np.log(h / cl) * np.log(h / o) + np.log(l / cl) * np.log(l / o)
    f["gk_var_1"] = gk
    f["hl_range"] = np.log(h / l)
    f["oc_range"] = np.log(cl / o)
    f["gap_before"] = (pd.Series(df.index, index=df.index) - prev_ts) / H - 1
    ret = np.log(cl / prev_close)
    f["ret_1"] = ret
    on = np.log(o / prev_close)
    tr = np.maximum(h, prev_close.fillna(h)) - np.minimum(l, prev_close.fillna(l))
    up = (cl - prev_close).clip(lower=0)
    dn = (prev_close - cl).clip(lower=0)
    f["gk_vol_1"], f["pk_vol_1"], f["rs_vol_1"] = np.sqrt(gk), np.sqrt(pk), np.sqrt(rs)
    f["hour_sin"] = np.sin(2 * np.pi * f["hour"] / 24)
    f["hour_cos"] = np.cos(2 * np.pi * f["hour"] / 24)
    f["weekday_sin"] = np.sin(2 * np.pi * f["weekday"] / 7)
    f["weekday_cos"] = np.cos(2 * np.pi * f["weekday"] / 7)
    for name, w in {**SESSIONS, **OVERLAPS}.items():
        f[f"sess_{name}"] = in_hours(f["hour"], w).astype(int)
    r2 = ret**2
    f["r2_1"] = r2
    f["rv_1"] = ret.abs()
    bp = ret.abs() * ret.abs().shift(1)
    obv = np.sign(ret) * v
    for n in (6, 24, 168, 720):
        f[f"n_bars_{n}"] = roll(cl, n).count()
    for n in (6, 24, 168):
        f[f"gk_vol_{n}"] = np.sqrt(roll(gk, n).mean())
        f[f"pk_vol_{n}"] = np.sqrt(roll(pk, n).mean())
        f[f"rs_vol_{n}"] = np.sqrt(roll(rs, n).mean())
        m = roll(cl, n).count()
        k = 0.34 / (1.34 + (m + 1) / (m - 1))
        f[f"yz_vol_{n}"] = np.sqrt(roll(on, n).var() + k * roll(f["oc_range"], n).var() + (1 - k) * roll(rs, n).mean())
        f[f"rv_{n}"] = np.sqrt(roll(r2, n).sum())
    f["gk_var_6"] = roll(gk, 6).mean()
    by_hour = gk.groupby(df.index.hour)
    f["gk_var_same_hour_7d"] = by_hour.transform(lambda s: s.rolling("145h").mean())
    f["n_same_hour_7d"] = by_hour.transform(lambda s: s.rolling("145h").count())
    f["rv_d"], f["rv_w"], f["rv_m"] = roll(r2, 24).mean(), roll(r2, 168).mean(), roll(r2, 720).mean()
    f["volvol_24"], f["volvol_168"] = roll(f["gk_vol_1"], 24).std(), roll(f["gk_vol_1"], 168).std()
    rv24, bv24 = roll(r2, 24).sum(), roll(bp, 24).sum()
    f["bv_24"] = np.pi / 2 * bv24
    f["rel_jump_24"] = (rv24 - f["bv_24"]).clip(lower=0) / rv24
    f["lm_stat"] = ret / np.sqrt(bp.rolling("168h", closed="left").mean())
    sma = lambda n: roll(cl, n).mean()  # noqa: E731
    f["macd"] = (sma(12) - sma(26)) / cl
    for n in (6, 24, 168):
        f[f"logret_{n}"] = roll(ret, n).sum()
    f["mom_24"], f["mom_168"] = np.log(cl / sma(24)), np.log(cl / sma(168))
    su, sd = roll(up, 14).sum(), roll(dn, 14).sum()
    f["rsi_14"] = 100 * su / (su + sd)
    std20 = roll(cl, 20).std(ddof=0)
    f["bb_width_20"] = 4 * std20 / sma(20)
    f["bb_pos_20"] = (cl - (sma(20) - 2 * std20)) / (4 * std20)
    f["atr_14"] = roll(tr, 14).mean() / cl
    vs24 = roll(v, 24).sum()
    f["obv_mom_24"] = roll(obv, 24).sum() / vs24
    f["vwap_dev_24"] = np.log(cl / (roll((h + l + cl) / 3 * v, 24).sum() / vs24))
    f["vol_ratio_24"] = v / roll(v, 24).mean()
    f["vol_ratio_168"] = roll(v, 24).mean() / roll(v, 168).mean()
    for name, w in SESSIONS.items():
        f[f"sess_vol_{name}_168"] = np.sqrt(roll(gk.where(in_hours(f["hour"], w)), 168).mean())
    f["macd_hist"] = f["macd"] - roll(f["macd"], 9).mean()
    f["lm_jump"] = ((f["lm_stat"].abs() - CN) / SN > BETA).astype(float).where(np.isfinite(f["lm_stat"]))
    # targets
    nxt_ok = pd.Series(df.index, index=df.index).shift(-1) == df.index + H
    f["target_gk_1h"] = np.sqrt(gk.shift(-1)).where(nxt_ok)
    f["target_atr_1h"] = ((np.maximum(h.shift(-1), cl) - np.minimum(l.shift(-1), cl)) / cl).where(nxt_ok)
    # forward 24-bar window (ts+1h … ts+24h): a backward window evaluated 24 bars later, on the full grid
    grid = pd.date_range(df.index[0], df.index[-1] + 24 * H, freq="h")
    g_r2 = r2.reindex(grid)
    fwd_sum = g_r2.rolling(24, min_periods=1).sum().shift(-24)
    first_present = pd.Series(1, index=df.index).reindex(grid).notna()
    fwd_cnt = first_present.astype(int).rolling(24).sum().shift(-24)
    f["target_rv_24h"] = np.sqrt(fwd_sum.reindex(df.index)).where(fwd_cnt.reindex(df.index) == 24)
    f["target_vol_up_24h"] = (f["target_rv_24h"] > f["rv_24"]).astype(float).where(f["target_rv_24h"].notna() & (f["n_bars_24"] == 24))
    return f


def main() -> None:
    spec_path, out_path, duck_dir = sys.argv[1:4]
    spec = json.load(open(spec_path))
    out_dir = os.path.join(os.path.dirname(out_path), "out-pandas")
    os.makedirs(out_dir, exist_ok=True)
    t0 = time.perf_counter()
    c0 = time.process_time()
    frames = {}
    for s in spec["series"]:
        df = pd.read_parquet(s["file"])
        df.index = pd.to_datetime(df.pop("ts"), unit="ms", utc=True)
        frames[s["symbol"]] = (df, engineer_features(df))
    # cross-asset: correlation and beta to BTC, market volatility across the symbols
    btc_ret = frames["BTC/USDT"][1]["ret_1"] if "BTC/USDT" in frames else None
    mkt = pd.concat([f["gk_vol_24"] for _, f in frames.values()], axis=1).mean(axis=1)
    rows = 0
    for sym, (df, f) in frames.items():
        if btc_ret is not None:
            b = btc_ret.reindex(f.index)
            pair = f["ret_1"].where(b.notna())
            bb = b.where(f["ret_1"].notna())
            f["corr_btc_168"] = pair.rolling("168h").corr(bb)
            f["beta_btc_168"] = pair.rolling("168h").cov(bb, ddof=0) / bb.rolling("168h").var(ddof=0)
        f["mkt_gk_vol_24"] = mkt.reindex(f.index)
        f["mkt_spread_24"] = f["gk_vol_24"] - f["mkt_gk_vol_24"]
        f = f.replace([np.inf, -np.inf], np.nan)
        f.insert(0, "ts", (f.index.asi8 // 1_000_000))
        f.reset_index(drop=True).to_parquet(os.path.join(out_dir, f"{sym.replace('/', '-')}.parquet"))
        rows += len(f)
        frames[sym] = (df, f)
    seconds = time.perf_counter() - t0
    cpu_seconds = time.process_time() - c0
    cols = len(next(iter(frames.values()))[1].columns)
    maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    json.dump({"seconds": seconds, "cpuSeconds": cpu_seconds, "rows": rows, "columns": cols, "maxRssMb": maxrss_mb}, open(out_path, "w"))
    # sanity: the two implementations compute the same numbers (first symbol, a few columns)
    sym = spec["series"][0]["symbol"]
    duck = pd.read_parquet(os.path.join(duck_dir, f"binance_{sym.replace('/', '-')}_1h.parquet"))
    mine = frames[sym][1].reset_index(drop=True)
    worst = {}
    for col in ["gk_vol_24", "yz_vol_168", "rv_m", "rsi_14", "bb_pos_20", "lm_stat", "corr_btc_168", "gk_var_same_hour_7d", "target_rv_24h", "target_vol_up_24h"]:
        a, b = duck[col].to_numpy(dtype=float), mine[col].to_numpy(dtype=float)
        both = ~np.isnan(a) & ~np.isnan(b)
        rel = np.abs(a[both] - b[both]) / np.maximum(np.maximum(np.abs(a[both]), np.abs(b[both])), 1e-12)
        worst[col] = f"max rel diff {rel.max() if rel.size else float('nan'):.1e}, null mismatches {int((np.isnan(a) != np.isnan(b)).sum())}"
    print(f"pandas vs duckdb on {sym}: " + "; ".join(f"{k} {v}" for k, v in worst.items()))


if __name__ == "__main__":
    main()
