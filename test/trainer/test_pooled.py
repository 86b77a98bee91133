"""Pooled tree fits (models/pooled.py) on real hourly candles of four symbols, against the real MinIO
of the test stack: per-series normalisation from training rows only, no look-ahead across series,
one booster per pool (cached, reused by every series), ONNX parity from the card alone, a symbol
outside the pool scored by it, and the errors a bad pooled input gets."""
from __future__ import annotations

import json
import tempfile
import uuid
from typing import Any

import numpy as np
import pandas as pd
import pytest

from feature_fixture import DAY, FEATURE_COLUMNS, HOUR, build_features, load_candles, ms, parquet_bytes
from models import pooled
from models.fit import fit_model
from models.frame import FitError
from models.settings import Settings
from models.store import ArtifactStore
from test_models_fit import load_card, onnx_on_frame, qlike

RUN = uuid.uuid4().hex[:8]
POOL = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
HELD_OUT = "XRPUSDT"
TEST_START = ms("2025-11-20")
TARGET = "target_rv_24h"
H = 24
TRAIN = {"startTs": TEST_START - 60 * DAY - H * HOUR, "endTs": TEST_START - H * HOUR}
TEST = {"startTs": TEST_START, "endTs": TEST_START + 10 * DAY}
# Small boosters: the suite runs on 2 shared cores.
PARAMS = {"num_boost_round": 120, "pooled": True}


def sym(s: str) -> str:
    return f"{s[:-4]}/USDT"


@pytest.fixture(scope="module")
def store() -> ArtifactStore:
    s = Settings.from_env()
    return ArtifactStore(s.s3_endpoint, s.access_key, s.secret_key, s.bucket,
                         tempfile.mkdtemp(prefix="volcast-pooled-"), s.s3_secure, s.s3_region)


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return {s: build_features(load_candles(s, "2025-07-01", "2026-01-01")) for s in POOL + (HELD_OUT,)}


def put(store: ArtifactStore, f: pd.DataFrame, symbol: str, tag: str) -> dict[str, Any]:
    return store.put_bytes(f"features/test-pooled-{RUN}-{tag}/binance/{symbol[:-4]}-USDT/1h.parquet", parquet_bytes(f))


def fit_input(kind: str, symbol: str, refs: dict[str, dict[str, Any]], universe: tuple[str, ...], pool_id: str,
              tag: str = "", **over: Any) -> dict[str, Any]:
    model_id = f"test-pooled-{RUN}-{kind}-{symbol}-{pool_id}{tag}"
    inp = {
        "modelId": model_id,
        "model": {"name": f"{kind}_pooled", "kind": kind, "params": dict(PARAMS)},
        "target": TARGET,
        "series": {"exchange": "binance", "symbol": sym(symbol), "timeframe": "1h"},
        "features": refs[symbol],
        "featureSetId": f"fs-pooled-{RUN}",
        "featureColumns": FEATURE_COLUMNS,
        "train": TRAIN,
        "test": TEST,
        "seed": 7,
        "keys": {"model": f"models/{model_id}/model.onnx", "card": f"models/{model_id}/card.json"},
        "pooled": {"poolId": pool_id, "boosterKey": f"pooled/test-{RUN}-{pool_id}/booster.json",
                   "universe": [{"series": {"exchange": "binance", "symbol": sym(s), "timeframe": "1h"}, "features": refs[s]} for s in universe]},
    }
    inp.update(over)
    return inp


@pytest.fixture(scope="module")
def refs(store, frames) -> dict[str, dict[str, Any]]:
    return {s: put(store, f, s, "base") for s, f in frames.items()}


def test_scaling_uses_the_series_training_rows_only(frames):
    f = frames["BTCUSDT"]
    ts, x, y = pooled.series_rows(f, "BTC/USDT", FEATURE_COLUMNS, TARGET, TRAIN)
    assert len(ts) > 1000 and ts.min() >= TRAIN["startTs"] and ts.max() < TRAIN["endTs"]
    s, resp = pooled.fit_scaling(x, y, H)
    np.testing.assert_allclose(s.mean, x.astype(np.float64).mean(axis=0))
    np.testing.assert_allclose(s.std, x.astype(np.float64).std(axis=0))
    z = pooled.normalise(x, s).astype(np.float64)
    assert np.all(np.abs(z.mean(axis=0)) < 1e-4) and np.all(np.abs(z.std(axis=0) - 1) < 1e-4)
    assert abs(float(np.mean(resp - s.mu))) < 1e-9
    # Rows outside the window (the test window, later rows) change nothing.
    g = f.copy()
    late = g.ts >= TRAIN["endTs"]
    g.loc[late, FEATURE_COLUMNS + [TARGET]] = g.loc[late, FEATURE_COLUMNS + [TARGET]] * 7.0
    ts2, x2, y2 = pooled.series_rows(g, "BTC/USDT", FEATURE_COLUMNS, TARGET, TRAIN)
    s2, _ = pooled.fit_scaling(x2, y2, H)
    assert np.array_equal(s.mean, s2.mean) and np.array_equal(s.std, s2.std) and s.mu == s2.mu


def test_a_constant_column_keeps_unit_std():
    x = np.column_stack([np.ones(50, np.float32), np.arange(50, dtype=np.float32)])
    s, _ = pooled.fit_scaling(x, np.full(50, 0.01), 1)
    assert s.std[0] == 1.0 and np.all(np.isfinite(pooled.normalise(x, s)))


@pytest.mark.parametrize("kind", pooled.POOLED_KINDS)
def test_no_look_ahead_across_series(frames, kind):
    """Any series' rows at or after train.endTs (test-window targets and inputs, later rows) changed
    or deleted: the pooled booster is the same, byte for byte."""
    p = {**(pooled.DEFAULTS if kind == "lightgbm" else pooled.XGB_DEFAULTS), "num_boost_round": 60}
    val = pooled.validation_start(TRAIN, 0.2, HOUR)

    def booster(fs: dict[str, pd.DataFrame]) -> str:
        parts, _ = pooled.pooled_rows([(s, fs[s]) for s in POOL], FEATURE_COLUMNS, TARGET, TRAIN)
        return pooled.fit_booster(kind, parts, p, 7, val, H, HOUR, lambda _: None)[0]

    base = booster(frames)
    rng = np.random.default_rng(3)
    for victim in POOL:
        g = dict(frames)
        f = frames[victim].copy()
        late = f.ts >= TRAIN["endTs"]
        for t in ("target_rv_24h", "target_gk_1h"):
            f.loc[late, t] = f.loc[late, t] * rng.uniform(0.2, 5.0, int(late.sum()))
        f.loc[late, "rv_d"] = f.loc[late, "rv_d"] * 10
        g[victim] = f[f.ts < TEST["endTs"]]
        assert booster(g) == base, f"a change to {victim}'s rows after the training window changed the booster"
    # A series whose targets inside the window change does change it (the test can fail).
    g = dict(frames)
    f = frames["ETHUSDT"].copy()
    inside = (f.ts >= TRAIN["startTs"]) & (f.ts < TRAIN["endTs"])
    f.loc[inside, TARGET] = f.loc[inside, TARGET] * rng.uniform(0.5, 2.0, int(inside.sum()))
    g["ETHUSDT"] = f
    assert booster(g) != base


@pytest.mark.parametrize("kind", pooled.POOLED_KINDS)
def test_pooled_fit_parity_cache_and_held_out(store, frames, refs, kind):
    pool_id = f"{kind}-{uuid.uuid4().hex[:6]}"
    results = {}
    for s in POOL + (HELD_OUT,):
        res = fit_model(store, fit_input(kind, s, refs, POOL, pool_id), lambda _: None, activity_name="fitModel")
        card = load_card(store, res)
        results[s] = (res, card)
        # ONNX on inputs rebuilt from the card alone (the scorer's view) = the trainer's predictions.
        ts, vol = onnx_on_frame(store, res, card, frames[s])
        assert ts.tolist() == card["trainerPredictions"]["ts"] and len(ts) == 240
        np.testing.assert_allclose(vol, card["trainerPredictions"]["vol"], rtol=1e-5, atol=0)
        realized = frames[s].set_index("ts").loc[ts, TARGET].to_numpy()
        known = np.isfinite(realized)
        assert np.all(vol > 0) and qlike(vol[known], realized[known]) < 1.5, s
        pc = card["fitted"]["pooled"]
        assert [u["symbol"] for u in pc["universe"]] == [sym(x) for x in POOL]
        assert all(u["trainRows"] > 1000 for u in pc["universe"]) and pc["inPool"] == (s in POOL)
        assert card["train"]["rows"] == sum(u["trainRows"] for u in pc["universe"])
        assert set(card["scaling"]["mean"]) == set(FEATURE_COLUMNS) and card["scaling"]["responseMean"] < 0
    # One booster for the pool: fitted by the first series, read by the others.
    assert [results[s][1]["fitted"]["pooled"]["boosterReused"] for s in POOL + (HELD_OUT,)] == [False, True, True, True]
    assert len({results[s][1]["fitted"]["bestIteration"] for s in results}) == 1
    # Each series' graph carries its own scaling: different models over the same trees.
    assert len({results[s][0]["modelRef"]["sha256"] for s in results}) == 4
    doc = json.loads(store.read_key(f"pooled/test-{RUN}-{pool_id}/booster.json"))
    assert doc["poolId"] == pool_id and doc["columns"] == FEATURE_COLUMNS


def test_a_cached_booster_of_another_pool_is_refused(store, refs):
    a = fit_input("lightgbm", "BTCUSDT", refs, POOL[:2], "pool-a")
    fit_model(store, a, lambda _: None)
    b = fit_input("lightgbm", "ETHUSDT", refs, POOL[:2], "pool-b", tag="x")
    b["pooled"]["boosterKey"] = a["pooled"]["boosterKey"]
    with pytest.raises(FitError, match="holds pool pool-a, not pool-b"):
        fit_model(store, b, lambda _: None)


def test_bad_pooled_inputs(store, frames, refs):
    with pytest.raises(FitError, match="cannot be pooled"):
        fit_model(store, fit_input("har_rv", "BTCUSDT", refs, POOL, "bad-kind"), lambda _: None)
    inp = fit_input("lightgbm", "BTCUSDT", refs, POOL, "bad-missing")
    del inp["pooled"]["universe"]
    with pytest.raises(FitError, match="pooled.universe"):
        fit_model(store, inp, lambda _: None)
    # A pool window that ends after the fit's training rows would read other series' later rows.
    inp = fit_input("lightgbm", "BTCUSDT", refs, POOL, "bad-window")
    inp["pooled"]["train"] = {"startTs": 0, "endTs": TEST["startTs"]}
    with pytest.raises(FitError, match="must end with the fit's train window"):
        fit_model(store, inp, lambda _: None)
    # A series with too few training rows for its own scaling.
    short = frames[HELD_OUT][frames[HELD_OUT].ts >= TRAIN["endTs"] - 10 * HOUR]
    r = dict(refs, **{HELD_OUT: put(store, short, HELD_OUT, "short")})
    with pytest.raises(FitError, match="need >= 24 for its scaling"):
        fit_model(store, fit_input("lightgbm", HELD_OUT, r, POOL, "bad-short"), lambda _: None)


@pytest.mark.parametrize("kind", ["lstm", "bilstm_attn"])
def test_pooled_nets_parity_cache_and_held_out(store, frames, refs, kind):
    """The LSTM family pooled the same way (models/pooled_lstm.py): one net per pool, each series'
    ONNX with its own scaling layer and head; parity from the card alone; a held-out symbol scored."""
    pool_id = f"{kind}-{uuid.uuid4().hex[:6]}"
    params = {"window": 12, "hidden": 4, "epochs": 2, "patience": 2, "pooled": True}
    cols = ["ret_1", "gk_var_1", "rv_d", "rv_w", "hour"]
    cards = {}
    for s in POOL + (HELD_OUT,):
        inp = fit_input(kind, s, refs, POOL, pool_id, featureColumns=cols)
        inp["model"]["params"] = dict(params)
        res = fit_model(store, inp, lambda _: None, activity_name="fitNeuralModel", device="cpu")
        card = load_card(store, res)
        cards[s] = card
        ts, vol = onnx_on_frame(store, res, card, frames[s])
        assert ts.tolist() == card["trainerPredictions"]["ts"] and len(ts) == 240
        np.testing.assert_allclose(vol, card["trainerPredictions"]["vol"], rtol=1e-5, atol=0)
        realized = frames[s].set_index("ts").loc[ts, TARGET].to_numpy()
        known = np.isfinite(realized)
        assert np.all(vol > 0) and qlike(vol[known], realized[known]) < 2.0, s
        assert card["fitted"]["pooled"]["inPool"] == (s in POOL)
        assert [u["symbol"] for u in card["fitted"]["pooled"]["universe"]] == [sym(x) for x in POOL]
    assert [cards[s]["fitted"]["pooled"]["boosterReused"] for s in POOL + (HELD_OUT,)] == [False, True, True, True]
    assert len({json.dumps(cards[s]["scaling"]["mu"]) for s in cards}) == 4, "each series' own input scaling"


def test_sph_net_cannot_be_pooled(store, refs):
    inp = fit_input("sph_net", "BTCUSDT", refs, POOL, "bad-sph")
    with pytest.raises(FitError, match="cannot be pooled; pooled nets: lstm, lstm_jump, bilstm_attn"):
        fit_model(store, inp, lambda _: None, activity_name="fitNeuralModel", device="cpu")
