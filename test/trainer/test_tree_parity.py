"""Tree-model ONNX parity by construction (models/tree_onnx.py), without the MinIO/Temporal stack:
both runtimes evaluate double-precision trees in double; an adversarial LightGBM fit that the old
onnxmltools export (float32 thresholds) gets wrong; and a small real-data walk-forward on BTC/USDT,
both targets, both tree kinds, where trainer and onnxruntime agree to <= 1e-6 on every fold."""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import tempfile
from typing import Any

import numpy as np
import onnx
import pandas as pd
import pytest
from onnx import TensorProto, helper

from bench.tree_parity_old import old_graph, old_trainer_prediction
from feature_fixture import DAY, FEATURE_COLUMNS, HOUR, build_features, load_candles, ms
from models import gbm, tree_onnx
from models import onnx_export as ox
from models.fit import ParityError, self_check

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NODE_HELPER = os.path.join(ROOT, "bench", "tree_parity_node.ts")
HAS_NODE = shutil.which("node") is not None and os.path.isdir(os.path.join(ROOT, "node_modules", "onnxruntime-node"))
FITS = {"lightgbm": gbm.fit, "xgboost": gbm.fit_xgboost}


def adjacent_pair(near: float) -> tuple[np.float32, np.float32]:
    """Adjacent float32 values a < b whose float64 midpoint rounds (ties to even) to b in float32."""
    a = np.float32(near)
    if int(a.view(np.uint32)) & 1 == 0:
        a = np.nextafter(a, np.float32(np.inf))
    b = np.nextafter(a, np.float32(np.inf))
    mid = (float(a) + float(b)) / 2
    assert float(a) < mid < float(b) and np.float32(mid) == b
    return a, b


def ort_run(model: bytes, x: np.ndarray, out: str) -> np.ndarray:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"]).run([out], {"x": x})[0][:, 0]


def node_score(models: list[tuple[bytes, np.ndarray]]) -> list[np.ndarray]:
    """`vol` of each (model, x) by onnxruntime-node, all in one node process (bench/tree_parity_node.ts)."""
    work = tempfile.mkdtemp(prefix="volcast-tree-test-")
    try:
        manifest = []
        for i, (m, x) in enumerate(models):
            open(os.path.join(work, f"m{i}.onnx"), "wb").write(m)
            np.ascontiguousarray(x, dtype="<f4").tofile(os.path.join(work, f"m{i}.x.f32"))
            manifest.append({"id": f"m{i}", "model": f"m{i}.onnx", "x": f"m{i}.x.f32", "rows": len(x), "cols": x.shape[1]})
        json.dump(manifest, open(os.path.join(work, "manifest.json"), "w"))
        p = subprocess.run(["node", "--import", "tsx", NODE_HELPER, "score", work], cwd=ROOT, capture_output=True,
                           text=True, timeout=120)
        assert p.returncode == 0, p.stderr[-3000:]
        assert "onnxruntime-node 1.30" in p.stdout
        return [np.fromfile(os.path.join(work, f"m{i}.vol.f32"), dtype="<f4") for i in range(len(models))]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def rel(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(got, np.float64) - want) / np.abs(want)))


# ---------- the runtimes: double thresholds and a double sum ----------

E = 2.0 ** -25  # lost when added to 1.0 or 2.0 in float32


def tiny() -> tuple[tree_onnx.Ensemble, np.ndarray, float]:
    """Tree 0: x <= mid(a, b) ? 1 : 2, NaN left; trees 1-3: a single leaf 2^-25 each. Rows a, b, NaN."""
    a, b = adjacent_pair(0.1)
    t = (float(a) + float(b)) / 2
    ens = tree_onnx.Ensemble(
        mode="BRANCH_LEQ", base=0.0, n_features=1, zero_snap=False, offsets=np.array([0, 3, 4, 5, 6]),
        feature=np.zeros(6, np.int64), threshold=np.array([t, 0, 0, 0, 0, 0.0]), left=np.array([1, 1, 2, 3, 4, 5]),
        right=np.array([2, 1, 2, 3, 4, 5]), nan_left=np.array([True] + [False] * 5),
        leaf=np.array([False] + [True] * 5), value=np.array([0, 1.0, 2.0, E, E, E]), depth=1)
    return ens, np.array([[a], [b], [np.nan]], dtype=np.float32), t


def as_vol(m: onnx.ModelProto) -> bytes:
    """The raw score as the graph's output, renamed `vol` (what the node helper reads)."""
    for n in m.graph.node:
        n.output[:] = ["vol" if o == "yhat" else o for o in n.output]
    m.graph.output[0].name = "vol"
    return m.SerializeToString()


def float32_graph(ens: tree_onnx.Ensemble, t: float) -> bytes:
    """The same tree as a float32-input graph (what onnxmltools writes): float thresholds and sum."""
    node = helper.make_node(
        "TreeEnsembleRegressor", ["x"], ["vol"], domain="ai.onnx.ml", n_targets=1,
        nodes_treeids=[0, 0, 0, 1, 2, 3], nodes_nodeids=[0, 1, 2, 0, 0, 0], nodes_featureids=[0] * 6,
        nodes_modes=["BRANCH_LEQ"] + ["LEAF"] * 5, nodes_truenodeids=[1, 0, 0, 0, 0, 0],
        nodes_falsenodeids=[2, 0, 0, 0, 0, 0], nodes_missing_value_tracks_true=[1, 0, 0, 0, 0, 0],
        nodes_values=[t, 0, 0, 0, 0, 0], target_treeids=[0, 0, 1, 2, 3], target_nodeids=[1, 2, 0, 0, 0],
        target_ids=[0] * 5, target_weights=[1.0, 2.0, E, E, E])
    g = helper.make_graph([node], "f32", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1])],
                          [helper.make_tensor_value_info("vol", TensorProto.FLOAT, ["N", 1])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)])
    m.ir_version = 8
    return m.SerializeToString()


def test_python_onnxruntime_evaluates_double_trees_in_double():
    ens, x, t = tiny()
    exact = tree_onnx.predict(ens, x)
    assert exact.tolist() == [1 + 3 * E, 2 + 3 * E, 1 + 3 * E]
    got = ort_run(as_vol(tree_onnx.graph(ens, "tiny")), x, "vol")
    # b goes right (b > t in double), and the 2^-25 leaves survive the sum: float32(1 + 3 * 2^-25) = 1 + 2^-23
    assert got.tolist() == np.float32(exact).tolist() == [1 + 2.0 ** -23, 2.0, 1 + 2.0 ** -23]
    # the float32 graph flips b to the left leaf and loses the small leaves
    assert ort_run(float32_graph(ens, t), x, "vol").tolist() == [1.0, 1.0, 1.0]


@pytest.mark.skipif(not HAS_NODE, reason="node or node_modules/onnxruntime-node missing")
def test_onnxruntime_node_evaluates_double_trees_in_double():
    ens, x, t = tiny()
    double, single = node_score([(as_vol(tree_onnx.graph(ens, "tiny")), x), (float32_graph(ens, t), x)])
    assert double.tolist() == [1 + 2.0 ** -23, 2.0, 1 + 2.0 ** -23]
    assert single.tolist() == [1.0, 1.0, 1.0]


# ---------- the exporter on small boosters: missing values, LightGBM's zero rule ----------

def check_exact(ens: tree_onnx.Ensemble, x: np.ndarray, library: np.ndarray, tol: float) -> None:
    exact = tree_onnx.predict(ens, x)
    assert np.max(np.abs(exact - library)) <= tol
    raw = ort_run(tree_onnx.graph(ens, "t").SerializeToString(), x, "yhat")
    assert np.max(np.abs(raw - np.float32(exact)) / np.spacing(np.abs(np.float32(exact)))) <= 1


def test_missing_values_follow_each_booster():
    """NaN inputs (never scorable in volcast, handled anyway): LightGBM's missing_type None (NaN -> 0)
    and NaN (default child), XGBoost's default_left; the twin equals the boosters, the graph the twin."""
    import lightgbm as lgb
    import xgboost as xgb

    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 3)).astype(np.float32)
    y = 2 * x[:, 0] + np.sin(3 * x[:, 1]) + rng.normal(size=4000)
    x_nan = x.copy()
    x_nan[rng.uniform(size=x.shape) < 0.1] = np.nan
    test = x_nan[:500].copy()
    test[:50] = np.nan
    for train in (x, x_nan):  # missing_type None (no NaN while training), then NaN
        b = lgb.train({"objective": "regression", "verbosity": -1, "num_leaves": 15, "num_threads": 1},
                      lgb.Dataset(train.astype(np.float64), y), num_boost_round=50)
        check_exact(tree_onnx.from_lightgbm(b, 3), test, b.predict(test.astype(np.float64)), 0.0)
        bx = xgb.train({"max_depth": 4, "nthread": 1, "base_score": 0.1}, xgb.DMatrix(train, y), num_boost_round=50)
        ex = tree_onnx.from_xgboost(bx, 3)
        if train is x_nan:  # both directions learnt for missing values
            assert ex.nan_left[~ex.leaf].any() and not ex.nan_left[~ex.leaf].all()
        check_exact(ex, test, bx.predict(xgb.DMatrix(test)), 1e-5)


def test_lightgbm_zero_rule():
    """LightGBM's predictor counts |x| <= kZeroThreshold (1e-35f) as 0: x = -1e-35f must not take the
    `x <= -kZeroThreshold` branch. The graph maps such inputs to 0 as well."""
    import lightgbm as lgb

    rng = np.random.default_rng(0)
    x = rng.choice([-1.0, 0.0, 1.0], size=3000).astype(np.float32)[:, None]
    y = -5 * x[:, 0] + rng.normal(0, 0.1, 3000)
    b = lgb.train({"objective": "regression", "verbosity": -1, "num_leaves": 4, "min_data_in_leaf": 20,
                   "num_threads": 1}, lgb.Dataset(x.astype(np.float64), y), num_boost_round=3)
    ens = tree_onnx.from_lightgbm(b, 1)
    assert -tree_onnx.LGB_ZERO in ens.threshold.tolist()
    tiny = np.array([[-1e-35], [-1.2e-35], [0], [1e-35], [1.2e-35], [-1], [1]], dtype=np.float32)
    lib = b.predict(tiny.astype(np.float64))
    assert lib[0] == lib[2] != lib[1]  # -1e-35f counts as 0, -1.2e-35f does not
    check_exact(ens, tiny, lib, 0.0)


# ---------- adversarial: a LightGBM threshold that float32 rounds onto an input value ----------

def adversarial_frame() -> tuple[pd.DataFrame, dict[str, Any]]:
    """`adv` takes two adjacent float32 values a < b; the volatility is 10x higher at b. LightGBM splits
    between them at a float64 threshold that rounds to b in float32, so a float32 graph sends every
    b row to a's leaf."""
    a, b = adjacent_pair(0.0123)
    rng = np.random.default_rng(3)
    n = 3000
    adv = np.where(rng.uniform(size=n) < 0.5, a, b).astype(np.float32)
    vol = np.where(adv == b, 0.02, 0.002) * np.exp(rng.normal(0, 0.2, n))
    t0 = ms("2024-01-01")
    df = pd.DataFrame({"ts": t0 + HOUR * np.arange(n, dtype=np.int64), "adv": adv.astype(np.float64),
                       "noise": rng.normal(size=n), "target_gk_1h": vol, "target_rv_24h": vol * np.sqrt(24)})
    test_start = t0 + 2600 * HOUR
    inp = {"model": {"name": "lightgbm", "kind": "lightgbm", "params": {}}, "target": "target_gk_1h",
           "featureColumns": ["adv", "noise"], "train": {"startTs": t0, "endTs": test_start - HOUR},
           "test": {"startTs": test_start, "endTs": t0 + n * HOUR}, "seed": 7}
    return df, inp


def test_adversarial_lightgbm_split_fails_the_old_export_and_passes_the_new():
    df, inp = adversarial_frame()
    keep: dict[str, Any] = {}
    f = gbm.fit(df, inp, lambda _: None, keep)
    a, b = adjacent_pair(0.0123)
    # the data really is adversarial: the first split sits between a and b and rounds to b in float32
    ens = keep["ensemble"]
    root = ens.offsets[0]
    assert ens.feature[root] == 0 and float(a) < ens.threshold[root] < float(b) and np.float32(ens.threshold[root]) == b
    x = f.test.x
    assert (x[:, 0] == b).sum() > 50 and (x[:, 0] == a).sum() > 50
    # new export: the trainer's self-check passes, with float32-head-level error only
    check = self_check(f)
    assert check["maxRelError"] <= 1e-6
    # old export of the same booster: the b rows get a's prediction (~10x off) -> ParityError
    old = old_graph("lightgbm", keep["booster"], 2, keep["head"], "old")
    want = old_trainer_prediction("lightgbm", keep, x)
    np.testing.assert_array_equal(want, f.test_pred)  # same trainer predictions: LightGBM's own
    got = ort_run(old, x, "vol").astype(np.float64)
    wrong = np.abs(got - want) / want > 1e-5
    assert wrong.any() and np.all(x[wrong, 0] == b) and rel(got, want) > 0.5
    with pytest.raises(ParityError, match="max relative error"):
        self_check(dataclasses.replace(f, onnx=old))


# ---------- real data: several folds on BTC/USDT ----------

TEST_STARTS = ("2021-08-01", "2021-09-15", "2021-11-01", "2021-12-15", "2022-02-01", "2022-03-15")


@pytest.fixture(scope="module")
def btc() -> pd.DataFrame:
    return build_features(load_candles("BTCUSDT", "2021-01-01", "2022-04-20"))


def fold_input(kind: str, target: str, df: pd.DataFrame, start: str) -> dict[str, Any]:
    t = ms(start)
    return {"model": {"name": kind, "kind": kind, "params": {}}, "target": target, "featureColumns": FEATURE_COLUMNS,
            "train": {"startTs": int(df.ts.iloc[0]), "endTs": t - 24 * HOUR},  # expanding, embargo 24 bars
            "test": {"startTs": t, "endTs": t + 30 * DAY}, "seed": 7}


@pytest.mark.parametrize("target", ("target_gk_1h", "target_rv_24h"))
@pytest.mark.parametrize("kind", ("lightgbm", "xgboost"))
def test_real_folds_trainer_equals_onnxruntime(btc, kind, target):
    scored = []
    for k, start in enumerate(TEST_STARTS):
        keep: dict[str, Any] = {}
        inp = fold_input(kind, target, btc, start)
        f = FITS[kind](btc, inp, lambda _: None, keep)
        x = f.test.x
        assert len(x) > 600
        # card fields the platform relies on are kept; onnxmltools is gone
        assert {"bestIteration", "trees", "featureImportanceGain"} <= set(f.fitted) and "onnxmltools" not in f.libraries
        # the graph's raw score is the exact float64 sum rounded once to float32 (at most 1 ulp apart)
        ens = keep["ensemble"]
        exact32 = np.float32(tree_onnx.predict(ens, x))
        raw = ort_run(tree_onnx.graph(ens, "raw").SerializeToString(), x, "yhat")
        assert np.max(np.abs(raw - exact32) / np.spacing(np.abs(exact32))) <= 1
        if kind == "xgboost":  # xgboost.predict sums in float32: close to the exact sum, not equal
            assert 0 < f.fitted["xgboostPredictMaxAbsDiff"] <= 1e-4
        # the trainer's self-check, tightened: <= 1e-6 relative on vol
        assert self_check(f)["maxRelError"] <= 1e-6, (kind, target, start)
        if k == 0:  # deterministic: the same input gives the same bytes
            assert FITS[kind](btc, inp, lambda _: None).onnx == f.onnx
        scored.append((f.onnx, x, f.test_pred))
    if HAS_NODE:
        for (_, _, want), got in zip(scored, node_score([(m, x) for m, x, _ in scored])):
            assert rel(got, want) <= 1e-6
