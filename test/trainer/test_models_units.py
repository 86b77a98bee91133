"""Unit checks of the model pieces that need no MinIO: the scorable-row rule, the graph twins, and
GARCH's ARCH(inf) export against arch's own multi-step forecast."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pandas as pd

from feature_fixture import DAY, HOUR, build_features, load_candles, ms
from models import baselines
from models import onnx_export as ox
from models.frame import scorable


def run(model: bytes, x: np.ndarray) -> np.ndarray:
    return ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(["vol"], {"x": x})[0][:, 0]


def test_scorable_rule_tabular_and_sequence():
    v = np.array([[1, 2], [np.nan, 2], [1, 2], [1, 2], [1, np.inf], [1, 2], [1, 2], [1, 2]], dtype=np.float32)
    assert scorable(v).tolist() == [True, False, True, True, False, True, True, True]
    # W = 3: the row and its two predecessors in file order must all be present
    assert scorable(v, 3).tolist() == [False, False, False, False, False, False, False, True]
    assert scorable(v[:2], 3).tolist() == [False, False]


def test_linear_graph_matches_its_numpy_twin_with_unseen_levels():
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.lognormal(-10, 1, 50), rng.integers(0, 7, 50)]).astype(np.float32)
    x[0, 0] = 0.0  # below the log floor
    transforms = [{"column": "v", "op": "log", "floor": 1e-6}, {"column": "d", "op": "onehot", "levels": [1, 2, 3]}]
    coef, b0 = np.array([0.9, 0.1, -0.2, 0.3]), -1.0
    for head in ({"kind": "logvar", "scale": 1.0, "shift": 0.3 + np.log(24)}, {"kind": "var", "floor": 1e-8, "mult": 24.0}):
        want = ox.apply_head(ox.linear_numpy(x, transforms, coef, b0), head)
        got = run(ox.linear_graph(transforms, coef, b0, head, "t"), x)
        np.testing.assert_allclose(got, want, rtol=1e-5)
    # levels 0, 4, 5, 6 (reference / unseen) get no dummy
    z = ox.design(x, transforms)
    assert np.all(z[np.isin(x[:, 1], [0, 4, 5, 6]), 1:] == 0)


def test_garch_export_equals_arch_multi_step_forecast():
    import arch

    f = build_features(load_candles("BTCUSDT", "2025-08-01", "2025-12-01"))
    end = ms("2025-11-20")
    for target, h in (("target_gk_1h", 1), ("target_rv_24h", 24)):
        inp = {"target": target, "model": {"params": {}},
               "train": {"startTs": end - 60 * DAY, "endTs": end},
               "test": {"startTs": end - HOUR, "endTs": end}}  # the last training row
        # the last rows' targets are unknown at train end in real use; here they are, so the ML fit
        # sees exactly the returns below
        fitted = baselines.garch(f, inp, lambda _: None)
        sl = f[(f.ts >= end - 60 * DAY) & (f.ts < end)]
        r = sl["ret_1"].to_numpy()
        r = r[np.isfinite(r) & np.isfinite(sl[target].to_numpy())]
        res = arch.arch_model(100 * r, mean="Zero", vol="GARCH", p=1, q=1, rescale=False).fit(disp="off")
        want = res.forecast(horizon=h).variance.to_numpy()[-1].sum() / 1e4
        got = fitted.test_pred[0] ** 2
        assert abs(got / want - 1) < 1e-4, (target, got, want)
        t = fitted.fitted["truncation"]
        assert t["tailWeight"] < 1e-6 and t["maxRelDiffVsArchOnTraining"] < 1e-4
        np.testing.assert_allclose(run(fitted.onnx, fitted.test.x), fitted.test_pred, rtol=1e-5)


def test_fixture_targets_look_forward():
    f = build_features(load_candles("BTCUSDT", "2025-10-01", "2025-10-10"))
    s = f.set_index("ts")
    t = ms("2025-10-05")
    assert np.isclose(s.loc[t, "target_gk_1h"] ** 2, s.loc[t + HOUR, "gk_var_1"])
    assert np.isclose(s.loc[t, "target_rv_24h"] ** 2, s.loc[t + HOUR:t + 24 * HOUR, "r2_1"].sum())
    assert pd.isna(s["target_rv_24h"].iloc[-1])


def test_linear_and_lag_sum_graphs_match_their_twins_to_float32_rounding_on_short_windows():
    """The baselines' graphs compute in double: on 7-day windows (ill-conditioned log-HAR fits, which
    missed the 1e-5 parity tolerance as float32 graphs) ONNX equals the trainer's predictions up to
    the final float32 rounding of `vol`."""
    from models.fit import self_check

    f = build_features(load_candles("DOTUSDT", "2025-06-01", "2025-09-01")).reset_index(drop=True)
    for kind in ("persistence", "ewma", "har_rv", "log_har"):
        for k in range(8):
            t0 = ms("2025-07-01") + 3 * k * DAY
            inp = {"model": {"name": kind, "kind": kind, "params": {}}, "target": "target_gk_1h", "seed": 1, "featureColumns": [],
                   "train": {"startTs": t0, "endTs": t0 + 7 * DAY - HOUR}, "test": {"startTs": t0 + 7 * DAY, "endTs": t0 + 8 * DAY}}
            fitted = getattr(baselines, kind)(f, inp, lambda _: None)
            assert self_check(fitted)["maxRelError"] < 1e-7, (kind, k)


def test_a_fit_request_reads_its_fit_input_from_the_plan_by_reference(tmp_path):
    """Fit activities receive {plan, index, name, fold}: the FitInput is plan.fits[index] (parsed once
    per plan); a request that does not match its fit fails as a FitError (non-retryable)."""
    import json

    import pytest

    from models.fit import resolve_fit_input
    from models.frame import FitError

    plan = {"fits": [{"modelId": "m0", "model": {"name": "har_x"}, "purpose": "fold"},
                     {"modelId": "m1", "model": {"name": "har_x"}, "purpose": "serving"}]}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))

    class Store:
        def get_file(self, ref):
            return str(path)

    ref = {"bucket": "volcast", "key": "runs/r/plan.json", "sha256": "a" * 64}
    assert resolve_fit_input(Store(), {"plan": ref, "index": 1, "name": "har_x", "fold": None})["modelId"] == "m1"
    assert resolve_fit_input(Store(), {"plan": ref, "index": 0, "name": "har_x", "fold": 0})["modelId"] == "m0"
    with pytest.raises(FitError, match=r"index 5 is outside the 2 fits of plan s3://volcast/runs/r/plan.json"):
        resolve_fit_input(Store(), {"plan": ref, "index": 5, "name": "har_x", "fold": 0})
    with pytest.raises(FitError, match=r"is har_x \(fold\), the request names har_x \(serving\)"):
        resolve_fit_input(Store(), {"plan": ref, "index": 0, "name": "har_x", "fold": None})
    bare = {"modelId": "x", "model": {"name": "y"}}
    assert resolve_fit_input(Store(), bare) is bare


def test_har_x_takes_the_implied_variance_only_where_the_plan_keeps_it():
    """HAR-X-IV (params extraLogColumns/extraColumns): log(iv_var_1) and dvol_chg_24 join the HAR-X
    regression when the fold's featureColumns hold them, exported to ONNX with parity; a fold whose
    plan left them out (>1% NULL on its training rows) fits plain HAR-X, and the fit says so."""
    import os

    from feature_fixture import DATA
    from models.fit import self_check

    f = build_features(load_candles("BTCUSDT", "2021-04-01", "2021-08-01")).reset_index(drop=True)
    dvol = pd.read_csv(os.path.join(DATA, "..", "dvol", "DERIBIT_BTC_DVOL_1h.csv.gz"))
    f = f.merge(dvol.rename(columns={"close": "dvol"}), on="ts", how="left")
    f["iv_var_1"] = (f["dvol"] / 100) ** 2 / (365 * 24)
    f["dvol_chg_24"] = np.log(f["dvol"] / f["dvol"].shift(24))
    t0 = ms("2021-05-01")
    base = {"target": "target_rv_24h", "seed": 1, "train": {"startTs": t0, "endTs": t0 + 60 * DAY},
            "test": {"startTs": t0 + 61 * DAY, "endTs": t0 + 75 * DAY}}
    params = {"extraLogColumns": ["iv_var_1"], "extraColumns": ["dvol_chg_24"]}
    iv = baselines.har_x(f, {**base, "model": {"name": "har_x_iv", "kind": "har_x", "params": params},
                             "featureColumns": ["rv_d", "iv_var_1", "dvol_chg_24"]}, lambda _: None)
    assert iv.input["columns"][-4:-2] == ["iv_var_1", "dvol_chg_24"]
    assert iv.fitted["extraColumnsUsed"] == ["iv_var_1", "dvol_chg_24"] and iv.fitted["extraColumnsLeftOut"] == []
    assert "log(iv_var_1)" in iv.fitted["coef"] and "dvol_chg_24" in iv.fitted["coef"]
    assert self_check(iv)["maxRelError"] < 1e-6
    plain = baselines.har_x(f, {**base, "model": {"name": "har_x", "kind": "har_x", "params": {}}, "featureColumns": []}, lambda _: None)
    left = baselines.har_x(f, {**base, "model": {"name": "har_x_iv", "kind": "har_x", "params": params},
                               "featureColumns": ["rv_d"]}, lambda _: None)
    assert left.fitted["extraColumnsUsed"] == [] and left.fitted["extraColumnsLeftOut"] == ["iv_var_1", "dvol_chg_24"]
    np.testing.assert_array_equal(left.test_pred, plain.test_pred)
    assert not np.allclose(iv.test_pred, plain.test_pred)
