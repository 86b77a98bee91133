"""SHAP explanations of the tree models (models/explain.py) on real BTC/USDT features: each row's
contributions plus the expected value sum to the model's raw output (the log variance before the
head: what the ONNX graph computes before its head), for LightGBM, XGBoost and HAR-X + trees; the
linear part of har_x_gbm is attributed exactly; a sum that does not hold is refused. No store needed."""
from __future__ import annotations

import numpy as np
import pytest

from feature_fixture import FEATURE_COLUMNS, build_features, load_candles, ms
from models import explain, gbm, onnx_export as ox, residual

H, D = 3_600_000, 86_400_000
TS = ms("2025-11-20")
FITS = {"lightgbm": gbm.fit, "xgboost": gbm.fit_xgboost, "har_x_gbm": residual.fit}


@pytest.fixture(scope="module")
def frame():
    return build_features(load_candles("BTCUSDT", "2025-06-01", "2026-01-01"))


def fit(frame, kind):
    inp = {"model": {"name": kind, "kind": kind, "params": {"num_boost_round": 80}}, "target": "target_rv_24h",
           "featureColumns": FEATURE_COLUMNS, "seed": 7,
           "train": {"startTs": TS - 120 * D - 24 * H, "endTs": TS - 24 * H}, "test": {"startTs": TS, "endTs": TS + 10 * D}}
    keep: dict = {}
    f = FITS[kind](frame, inp, lambda _: None, keep=keep)
    return f, keep


@pytest.mark.parametrize("kind", list(FITS))
def test_contributions_sum_to_the_raw_output(frame, kind):
    f, keep = fit(frame, kind)
    cols = f.input["columns"]
    contrib, raw = explain.contributions(keep, f.test.x, cols)
    assert contrib.shape == (len(f.test.idx), len(cols) + 1)
    np.testing.assert_allclose(contrib.sum(axis=1), raw, rtol=0, atol=explain.SUM_TOL[keep["explain"]])
    # The raw output is what the served volatility is the head of.
    np.testing.assert_allclose(ox.apply_head(raw, f.scaling["head"], double=kind == "har_x_gbm"), f.test_pred, rtol=1e-5)
    s = explain.summary(keep, f.test.x, cols)
    assert s["rows"] == len(f.test.idx) and 0 < len(s["meanAbs"]) <= explain.TOP and s["maxSumGap"] <= explain.SUM_TOL[keep["explain"]]
    assert list(s["meanAbs"].values()) == sorted(s["meanAbs"].values(), reverse=True)


def test_har_x_gbm_attributes_its_linear_part_exactly(frame):
    f, keep = fit(frame, "har_x_gbm")
    cols = f.input["columns"]
    contrib, _ = explain.contributions(keep, f.test.x, cols)
    # rv_d is a log column of HAR-X and may also be a tree column: its linear SHAP is coef·(log x − mean).
    j = cols.index("rv_w")
    t = keep["transforms"][j]
    lin = keep["coef"][j] * (np.log(np.maximum(f.test.x[:, j].astype(np.float64), t["floor"])) - keep["design_mean"][j])
    tree_part = contrib[:, j] - lin
    if j not in keep["tree_columns"]:
        np.testing.assert_allclose(tree_part, 0, atol=1e-12)
    tc = keep["booster"].predict(f.test.x[:, keep["tree_columns"]].astype(np.float64), pred_contrib=True)
    if j in keep["tree_columns"]:
        np.testing.assert_allclose(tree_part, tc[:, keep["tree_columns"].index(j)], atol=1e-12)


def test_a_sum_that_does_not_hold_is_refused(frame):
    f, keep = fit(frame, "lightgbm")
    broken = dict(keep)

    class Off:
        def __init__(self, b):
            self.b = b

        def predict(self, x, pred_contrib=False):
            out = self.b.predict(x, pred_contrib=pred_contrib)
            return out if pred_contrib else out + 1e-3

    broken["booster"] = Off(keep["booster"])
    with pytest.raises(explain.ExplainError, match="do not sum"):
        explain.summary(broken, f.test.x, f.input["columns"])
