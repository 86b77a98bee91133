"""The kinds of issue 6 (xgboost, lstm_jump, bilstm_attn, sph_net) fitted on ~60 days of real BTC/USDT
hourly data (the fixture's price + engineered columns, lm_jump included) against the real MinIO of the
test stack: ONNX parity of `vol` and `sigma`, sane predictions and intervals, no look-ahead, seeds,
jump weighting, routing. Tiny sizes so the suite stays fast on 2 shared cores."""
from __future__ import annotations

from typing import Any

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
from temporalio.exceptions import ApplicationError

from feature_fixture import NEURAL_COLUMNS, PRICE_COLUMNS
from models.fit import CPU_KINDS, NEURAL_KINDS, fit_model
from test_models_fit import (DAY, HOUR, H, TEST_START, TARGETS, card_inputs, features, fit_input,  # noqa: F401
                             frame, load_card, put_frame, qlike, run_activity, store)
from models.activities import ACTIVITIES, build_activities

NEW_KINDS = ("xgboost", "lstm_jump", "bilstm_attn", "sph_net")
SIGMA_KINDS = ("bilstm_attn", "sph_net")
TINY_LSTM = {"epochs": 4, "hidden": 8, "window": 12, "patience": 3}
PARAMS: dict[str, dict[str, Any]] = {
    "xgboost": {},
    "lstm": TINY_LSTM,
    "lstm_jump": TINY_LSTM,
    "bilstm_attn": TINY_LSTM,
    "sph_net": {"window": 24, "dModel": 16, "heads": 2, "layers": 1, "epochs": 3, "patience": 2, "batch": 128},
}


def neural_input(kind: str, target: str, features: dict[str, Any], tag: str = "", seed: int = 7,
                 params: dict[str, Any] | None = None) -> dict[str, Any]:
    inp = fit_input(kind, target, features, "-n" + tag, seed, featureColumns=NEURAL_COLUMNS)
    inp["model"] = {"name": kind, "kind": kind, "params": PARAMS[kind] if params is None else params}
    return inp


def outputs(store, res: dict[str, Any], card: dict[str, Any], f: pd.DataFrame) -> dict[str, np.ndarray]:
    """ts, vol (and sigma) of the scorable test rows, by Python onnxruntime on inputs built from the card."""
    rows, x = card_inputs(card, f)
    sess = ort.InferenceSession(store.get_bytes(res["modelRef"]), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    assert [i.name for i in sess.get_inputs()] == ["x"] and names[0] == "vol"
    assert names == (["vol", "sigma"] if card["output"]["sigma"] else ["vol"])
    out = {"ts": f["ts"].to_numpy()[rows]}
    if len(rows):
        for n, v in zip(names, sess.run(names, {"x": x})):
            assert v.shape == (len(rows), 1) and v.dtype == np.float32
            out[n] = v[:, 0].astype(np.float64)
    return out


FITS: dict[tuple[str, str], tuple[dict[str, Any], dict[str, Any]]] = {}


def fitted(store, features, kind: str, target: str) -> tuple[dict[str, Any], dict[str, Any]]:
    if (kind, target) not in FITS:
        inp = neural_input(kind, target, features)
        FITS[(kind, target)] = (inp, fit_model(store, inp, lambda _: None, device="cpu"))
    return FITS[(kind, target)]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("kind", NEW_KINDS)
def test_fit_parity_sane_predictions_and_intervals(store, frame, features, kind, target):
    inp = neural_input(kind, target, features)
    beats: list[Any] = []
    res = fit_model(store, inp, beats.append, device="cpu")
    FITS[(kind, target)] = (inp, res)
    card = load_card(store, res)
    assert beats[0]["stage"] == "load" and beats[-1]["stage"] == "done"
    if kind in NEURAL_KINDS:
        assert sum(1 for b in beats if b.get("stage") == kind) == card["fitted"]["epochsRun"] >= 1
        assert card["input"]["kind"] == "sequence" and card["input"]["window"] == PARAMS[kind]["window"]
    else:
        assert card["input"] == {"kind": "tabular", "columns": NEURAL_COLUMNS, "window": 1, "dtype": "float32"}
    if kind == "sph_net":  # price stream first, then the engineered stream
        assert card["input"]["columns"][:len(PRICE_COLUMNS)] == PRICE_COLUMNS
        assert sorted(card["input"]["columns"]) == sorted(NEURAL_COLUMNS)
        assert card["params"]["priceColumns"] == PRICE_COLUMNS
    assert card["kind"] == kind and card["target"] == target and card["parity"] is None
    assert card["train"]["rows"] == res["trainRows"] > 1000 and card["test"]["rows"] == res["testRows"] == 240
    assert card["seed"] == 7 and card["device"] == "cpu" and card["wallSeconds"] > 0
    assert {"torch" if kind in NEURAL_KINDS else "xgboost", "onnxruntime", "numpy"} <= set(card["libraries"])
    sigma = kind in SIGMA_KINDS
    assert card["output"]["sigma"] is sigma and ("sigma" in card["trainerPredictions"]) is sigma
    # ONNX on inputs rebuilt from the card equals the trainer's own predictions (1e-5 relative)
    out = outputs(store, res, card, frame)
    pred = card["trainerPredictions"]
    assert out["ts"].tolist() == pred["ts"]
    np.testing.assert_allclose(out["vol"], pred["vol"], rtol=1e-5, atol=0)
    assert card["trainerSelfCheck"]["maxRelError"] <= 1e-5
    vol = out["vol"]
    assert np.all(np.isfinite(vol)) and np.all(vol > 0)
    realized = frame.set_index("ts").loc[out["ts"], target].to_numpy()
    known = np.isfinite(realized) & (realized > 0)
    ratio = np.median(vol[known] / realized[known])
    assert 0.3 < ratio < 3.0, f"{kind} {target}: median prediction/realized {ratio:.2f}"
    assert qlike(vol[known], realized[known]) < 1.5
    if sigma:
        np.testing.assert_allclose(out["sigma"], pred["sigma"], rtol=1e-5, atol=0)
        assert card["trainerSelfCheck"]["maxRelErrorSigma"] <= 1e-5
        s = out["sigma"]
        assert np.all(np.isfinite(s)) and np.all(s > 0) and np.all(s < 10)
        # intervals vol*exp(+-z*sigma/2): the 95% one is wider and covers a fair share of the outcomes
        dev = np.abs(np.log(realized[known] ** 2) - np.log(vol[known] ** 2))
        cov80, cov95 = np.mean(dev <= 1.2816 * s[known]), np.mean(dev <= 1.96 * s[known])
        assert 0.4 < cov80 <= cov95 and cov95 > 0.6, (cov80, cov95)


@pytest.mark.parametrize("kind", NEW_KINDS)
def test_no_look_ahead(store, frame, features, kind):
    """Targets from the end of the training window on change or vanish, rows after the test window are
    deleted: the model bytes and test predictions stay the same (and so do lstm_jump's bytes when the
    jump flags from train.endTs on change)."""
    target = "target_rv_24h"
    inp0, res0 = fitted(store, features, kind, target)
    base = load_card(store, res0)
    rng = np.random.default_rng(1)
    f = frame[frame.ts < inp0["test"]["endTs"]].copy()
    late = f.ts >= inp0["train"]["endTs"]
    for t in TARGETS:
        f.loc[late, t] = f.loc[late, t] * rng.uniform(0.2, 5.0, late.sum())
        f.loc[late & (rng.uniform(size=len(f)) < 0.3), t] = np.nan
    res1 = fit_model(store, neural_input(kind, target, put_frame(store, f, f"nla-{kind}"), "-la1"),
                     lambda _: None, device="cpu")
    card1 = load_card(store, res1)
    assert res1["modelRef"]["sha256"] == res0["modelRef"]["sha256"]
    assert card1["trainerPredictions"] == base["trainerPredictions"] and card1["fitted"] == base["fitted"]
    if kind == "lstm_jump":  # jump flags from train.endTs on (inputs of the test rows too) are not read by the fit
        g = frame.copy()
        late = g.ts >= inp0["train"]["endTs"]
        g.loc[late, "lm_jump"] = (rng.uniform(size=late.sum()) < 0.5).astype(float)
        res3 = fit_model(store, neural_input(kind, target, put_frame(store, g, f"nla-flags-{kind}"), "-la3"),
                         lambda _: None, device="cpu")
        assert res3["modelRef"]["sha256"] == res0["modelRef"]["sha256"]
        assert load_card(store, res3)["fitted"] == base["fitted"]
    cut = frame[frame.ts < inp0["train"]["endTs"]]
    res2 = fit_model(store, neural_input(kind, target, put_frame(store, cut, f"ncut-{kind}"), "-la2"),
                     lambda _: None, device="cpu")
    assert res2["modelRef"]["sha256"] == res0["modelRef"]["sha256"] and res2["testRows"] == 0


@pytest.mark.parametrize("kind", NEW_KINDS)
def test_refit_with_the_same_seed_gives_the_same_outputs(store, frame, features, kind):
    target = "target_gk_1h"
    _, a = fitted(store, features, kind, target)
    b = fit_model(store, neural_input(kind, target, features, "-seed-b"), lambda _: None, device="cpu")
    ca, cb = load_card(store, a), load_card(store, b)
    oa, ob = outputs(store, a, ca, frame), outputs(store, b, cb, frame)
    for k in ("vol", "sigma"):
        if k in oa:
            np.testing.assert_allclose(oa[k], ob[k], rtol=1e-6, atol=0)
    assert a["modelRef"]["sha256"] == b["modelRef"]["sha256"] and ca["seed"] == cb["seed"] == 7
    c = fit_model(store, neural_input(kind, target, features, "-seed-c", seed=8), lambda _: None, device="cpu")
    assert load_card(store, c)["seed"] == 8
    if kind in NEURAL_KINDS:  # the seed matters (XGBoost without subsampling is seed-free)
        assert c["modelRef"]["sha256"] != a["modelRef"]["sha256"]


def test_jump_weighting_changes_the_lstm_fit_and_weight_one_is_a_no_op(store, frame, features):
    target = "target_gk_1h"
    _, jump = fitted(store, features, "lstm_jump", target)
    plain = fit_model(store, neural_input("lstm", target, features, "-plain"), lambda _: None, device="cpu")
    one = fit_model(store, neural_input("lstm_jump", target, features, "-w1", params={**TINY_LSTM, "jumpWeight": 1}),
                    lambda _: None, device="cpu")
    cj, cp, c1 = (load_card(store, r) for r in (jump, plain, one))
    assert cj["fitted"]["jumpRows"] > 0 and cj["fitted"]["jumpWeight"] == 2.0  # flags exist in the window
    assert c1["fitted"]["jumpRows"] == cj["fitted"]["jumpRows"]
    assert one["modelRef"]["sha256"] == plain["modelRef"]["sha256"]  # weight 1 is the plain LSTM
    assert c1["trainerPredictions"] == cp["trainerPredictions"]
    assert jump["modelRef"]["sha256"] != plain["modelRef"]["sha256"]  # weight 2 changes the fit
    assert cj["trainerPredictions"]["vol"] != cp["trainerPredictions"]["vol"]


def test_lstm_sigma_head_option(store, frame, features):
    inp = neural_input("lstm_jump", "target_gk_1h", features, "-sig", params={**TINY_LSTM, "sigma": True})
    res = fit_model(store, inp, lambda _: None, device="cpu")
    card = load_card(store, res)
    out = outputs(store, res, card, frame)
    assert card["output"]["sigma"] is True and np.all(out["sigma"] > 0)
    np.testing.assert_allclose(out["sigma"], card["trainerPredictions"]["sigma"], rtol=1e-5, atol=0)


def test_lstm_qlike_loss_option(store, frame, features):
    """params.loss = "qlike": the training loss is QLIKE on the log variance (checked against the
    formula), the fit differs from the MSE one, passes parity, and an unknown loss is refused."""
    import torch

    from models import neural as nn_
    y, m = torch.tensor([0.3, -1.0, 2.0]), torch.tensor([0.0, 0.5, 2.5])
    got = nn_.loss_fn(nn_.LossSpec(reg="qlike", response_std=2.0))(m[:, None], y, torch.ones(3), torch.zeros(3))
    d = (y - m) * 2.0
    assert abs(float(got) - float(torch.mean(torch.exp(d) - d - 1))) < 1e-6
    target = "target_rv_24h"
    q = fit_model(store, neural_input("lstm", target, features, "-qlike", params={**TINY_LSTM, "loss": "qlike"}),
                  lambda _: None, device="cpu")
    plain = fit_model(store, neural_input("lstm", target, features, "-mse", params=TINY_LSTM), lambda _: None, device="cpu")
    cq, cp = load_card(store, q), load_card(store, plain)
    assert q["modelRef"]["sha256"] != plain["modelRef"]["sha256"] and cq["params"]["loss"] == "qlike"
    out = outputs(store, q, cq, frame)
    np.testing.assert_allclose(out["vol"], cq["trainerPredictions"]["vol"], rtol=1e-5, atol=0)
    assert np.all(np.isfinite(out["vol"]) & (out["vol"] > 0))
    with pytest.raises(ValueError, match="params.loss"):
        fit_model(store, neural_input("lstm", target, features, "-badloss", params={**TINY_LSTM, "loss": "mae"}),
                  lambda _: None, device="cpu")


def test_activities_route_new_kinds_and_fail_permanently(store, frame, features):
    acts = build_activities(store)
    assert set(NEW_KINDS) <= set(CPU_KINDS + NEURAL_KINDS) and "xgboost" in CPU_KINDS
    res, beats = run_activity(acts, "fitNeuralModel", neural_input("bilstm_attn", "target_gk_1h", features, "-act"))
    assert res["reused"] is False and sum(1 for b in beats if b and b.get("stage") == "bilstm_attn") >= 1
    res, _ = run_activity(acts, "fitModel", neural_input("xgboost", "target_gk_1h", features, "-act"))
    assert res["reused"] is False
    errors = []
    for name, kind, right in (("fitModel", "sph_net", "fitNeuralModel"), ("fitModel", "lstm_jump", "fitNeuralModel"),
                              ("fitModel", "bilstm_attn", "fitNeuralModel"), ("fitNeuralModel", "xgboost", "fitModel")):
        with pytest.raises(ApplicationError, match=f"not fitted by {name}; send it to {right}") as e:
            run_activity(acts, name, neural_input(kind, "target_gk_1h", features, "-wrong"))
        errors.append(e)
    no_jump = put_frame(store, frame.drop(columns=["lm_jump"]), "no-lm_jump")
    inp = neural_input("lstm_jump", "target_gk_1h", no_jump, "-nojump")
    inp["featureColumns"] = [c for c in NEURAL_COLUMNS if c != "lm_jump"]
    with pytest.raises(ApplicationError, match="no column 'lm_jump'") as e:
        run_activity(acts, "fitNeuralModel", inp)
    errors.append(e)
    with pytest.raises(ApplicationError, match="not a multiple of heads") as e:
        run_activity(acts, "fitNeuralModel", neural_input("sph_net", "target_gk_1h", features, "-heads",
                                                          params={**PARAMS["sph_net"], "heads": 3}))
    errors.append(e)
    assert all(e.value.non_retryable for e in errors)
    assert store.read_key(inp["keys"]["card"]) is None and store.read_key(inp["keys"]["model"]) is None


def test_concurrent_neural_fits_in_one_worker_give_the_sequential_models(store, frame, features):
    """Fits in threads of one process (build_activities, the CLI's local runs); PyTorch's RNG is
    process-global, so neural fits take turns. Two seeds fitted at once must give exactly the models
    they give one at a time."""
    import concurrent.futures

    target = "target_gk_1h"
    inputs = [neural_input("lstm", target, features, f"-conc-{s}", seed=s) for s in (11, 12)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        together = list(pool.map(lambda i: fit_model(store, i, lambda _: None, device="cpu"), inputs))
    alone = [fit_model(store, neural_input("lstm", target, features, f"-seq-{s}", seed=s), lambda _: None, device="cpu")
             for s in (11, 12)]
    assert [r["modelRef"]["sha256"] for r in together] == [r["modelRef"]["sha256"] for r in alone]
    assert together[0]["modelRef"]["sha256"] != together[1]["modelRef"]["sha256"]


def _in_activity(fn: Any, inp: dict[str, Any]) -> dict[str, Any]:
    """Runs in a pool process: the activity function as the trainer's process pool receives it."""
    from temporalio.testing import ActivityEnvironment
    return ActivityEnvironment().run(fn, inp)


def test_fits_in_worker_processes_give_the_sequential_models(store, frame, features):
    """The trainer runs each fit in its own process (workers/trainer.py, a spawn pool): the activity
    functions travel to the pool by reference, build their store from the environment, and two
    seeds fitted at once in two processes give exactly the models one process gives one at a time."""
    import concurrent.futures
    import multiprocessing

    target = "target_gk_1h"
    inputs = [neural_input("lstm", target, features, f"-proc-{s}", seed=s) for s in (21, 22)]
    fn = ACTIVITIES["fitNeuralModel"]
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        together = list(pool.map(_in_activity, [fn, fn], inputs))
    alone = [fit_model(store, neural_input("lstm", target, features, f"-seq-{s}", seed=s), lambda _: None, device="cpu")
             for s in (21, 22)]
    assert [r["reused"] for r in together] == [False, False]
    assert [r["modelRef"]["sha256"] for r in together] == [r["modelRef"]["sha256"] for r in alone]
    assert together[0]["modelRef"]["sha256"] != together[1]["modelRef"]["sha256"]
