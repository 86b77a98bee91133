"""Double-precision ONNX tree ensembles built from the boosters' own dumps, and their exact float64
NumPy twin (docs/model-contract.md, "Tree graphs").

Graph: float32 input `x` [N, F] -> Cast to double (exact) -> ai.onnx.ml TreeEnsembleRegressor (opset 3)
with DOUBLE `nodes_values_as_tensor`, `target_weights_as_tensor` and `base_values_as_tensor` -> yhat
float32 [N, 1] (one rounding of the double sum); the head is appended by onnx_export.append_head.

Why the Cast: onnxruntime's TreeEnsembleRegressor picks its threshold and accumulation type from the
INPUT type (kernel `TreeEnsembleRegressor<float>` = float thresholds and sums; it cannot even unpack
a DOUBLE `*_as_tensor` attribute; `<double>` = double thresholds and a double sum). Checked on
Python onnxruntime 1.31.1 and onnxruntime-node 1.30.0 with a split that float32 would flip and leaves
that a float32 sum would lose (test/trainer/test_tree_parity.py).

So each split compares the float32 input value (widened to double) with the booster's own threshold:
- LightGBM: float64 thresholds, left iff x <= t (BRANCH_LEQ), leaves summed in float64: the same
  arithmetic as `Booster.predict` on float64 inputs. As in LightGBM's predictor, an input with
  |x| <= kZeroThreshold (1e-35f) counts as 0 (the graph maps it to 0 before the trees), and a NaN goes
  where LightGBM sends it: the default child for missing_type NaN, the side of 0 for missing_type None.
  missing_type Zero and categorical splits are refused (volcast never asks for them).
- XGBoost: float32 thresholds and leaves (exact in double), left iff x < t (BRANCH_LT), NaN to the
  default child. XGBoost itself accumulates in float32; the exact model is the float64 sum, which is
  what the graph and `predict` below compute (gbm.py records how far xgboost.predict is from it).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .frame import FitError
from .onnx_export import IR_VERSION, OPSET

ML_OPSET = 3
# LightGBM's kZeroThreshold (`const double kZeroThreshold = 1e-35f;`, a float literal).
LGB_ZERO = float(np.float32(1e-35))
# Objectives whose raw score is the prediction (no output transform).
_LGB_IDENTITY = {"regression", "regression_l1", "huber", "fair", "quantile", "mape"}
_XGB_IDENTITY = {"reg:squarederror", "reg:absoluteerror", "reg:pseudohubererror", "reg:quantileerror"}


class ConversionError(FitError):
    """A booster the exporter cannot represent exactly, or a graph that does not match its booster."""


@dataclass
class Ensemble:
    """Trees flattened into one node table; each tree's nodes are contiguous, in pre-order (root
    first), so a node's id inside its tree is its index minus the tree's offset."""

    mode: str               # "BRANCH_LEQ": left iff x <= t; "BRANCH_LT": left iff x < t
    base: float             # added to the sum of the trees
    n_features: int
    zero_snap: bool         # inputs with |x| <= LGB_ZERO count as 0 (LightGBM)
    offsets: np.ndarray     # [T + 1] first node of each tree
    feature: np.ndarray     # [M] split feature (0 on leaves)
    threshold: np.ndarray   # [M] float64 (0 on leaves)
    left: np.ndarray        # [M] node index (global) of the left child (self on leaves)
    right: np.ndarray       # [M] node index (global) of the right child (self on leaves)
    nan_left: np.ndarray    # [M] bool: a NaN input goes left
    leaf: np.ndarray        # [M] bool
    value: np.ndarray       # [M] float64 leaf value (0 on internal nodes)
    depth: int              # the deepest leaf's depth (root = 0)

    @property
    def n_trees(self) -> int:
        return len(self.offsets) - 1


class _Builder:
    def __init__(self) -> None:
        self.cols: dict[str, list[Any]] = {k: [] for k in ("feature", "threshold", "left", "right", "nan_left", "leaf", "value")}
        self.offsets = [0]
        self.depth = 0

    def tree(self, root: Any, split: Any, children: Any) -> None:
        """Add one tree in pre-order. split(node) -> ("leaf", value) or ("split", feature, threshold,
        nan_left); children(node) -> (left, right) of a split node."""
        start = self.offsets[-1]
        c = self.cols
        stack = [(root, 0, -1, False)]  # node, depth, parent index, is the right child
        while stack:
            node, d, parent, is_right = stack.pop()
            i = len(c["leaf"])
            if parent >= 0:
                c["right" if is_right else "left"][parent] = i
            s = split(node)
            self.depth = max(self.depth, d)
            if s[0] == "leaf":
                for k, v in (("feature", 0), ("threshold", 0.0), ("left", i), ("right", i), ("nan_left", False),
                             ("leaf", True), ("value", float(s[1]))):
                    c[k].append(v)
                continue
            _, f, t, nl = s
            for k, v in (("feature", int(f)), ("threshold", float(t)), ("left", -1), ("right", -1),
                         ("nan_left", bool(nl)), ("leaf", False), ("value", 0.0)):
                c[k].append(v)
            lo, hi = children(node)
            stack.append((hi, d + 1, i, True))   # popped after the whole left subtree: pre-order
            stack.append((lo, d + 1, i, False))
        self.offsets.append(len(c["leaf"]))
        assert start < self.offsets[-1]

    def build(self, mode: str, base: float, n_features: int, zero_snap: bool) -> Ensemble:
        c = self.cols
        if not c["leaf"]:
            raise ConversionError("the booster has no trees")
        feature = np.asarray(c["feature"], np.int64)
        if np.any(feature < 0) or np.any(feature >= n_features):
            raise ConversionError(f"a split uses a feature index outside 0..{n_features - 1}")
        return Ensemble(mode, float(base), int(n_features), zero_snap, np.asarray(self.offsets, np.int64), feature,
                        np.asarray(c["threshold"], np.float64), np.asarray(c["left"], np.int64),
                        np.asarray(c["right"], np.int64), np.asarray(c["nan_left"], bool), np.asarray(c["leaf"], bool),
                        np.asarray(c["value"], np.float64), self.depth)


# ---------- from the boosters' dumps ----------

def from_lightgbm(booster: Any, n_features: int) -> Ensemble:
    """`booster.dump_model()` (every tree: the booster is expected to hold only the kept ones)."""
    d = booster.dump_model(num_iteration=-1)
    obj = str(d.get("objective", "")).split()
    if not obj or obj[0] not in _LGB_IDENTITY or "sqrt" in obj:
        raise ConversionError(f"lightgbm objective {d.get('objective')!r} has an output transform; not exported")
    if d.get("average_output") or int(d.get("num_tree_per_iteration", 1)) != 1:
        raise ConversionError("lightgbm: only single-output boosted (summed) trees are exported")
    if int(d.get("max_feature_idx", n_features - 1)) != n_features - 1:
        raise ConversionError(f"lightgbm model has {d.get('max_feature_idx', -1) + 1} features, the input {n_features}")

    def split(n: dict[str, Any]) -> tuple[Any, ...]:
        if "leaf_value" in n:
            if "leaf_coeff" in n:
                raise ConversionError("lightgbm linear trees are not exported")
            return ("leaf", n["leaf_value"])
        if n.get("decision_type") != "<=":
            raise ConversionError(f"lightgbm split {n.get('decision_type')!r} (categorical) is not exported")
        t = float(n["threshold"])
        mt = n.get("missing_type", "None")
        if mt == "NaN":
            nan_left = bool(n["default_left"])
        elif mt == "None":
            nan_left = 0.0 <= t  # LightGBM turns NaN into 0 before comparing
        else:
            raise ConversionError(f"lightgbm missing_type {mt!r} is not exported")
        return ("split", n["split_feature"], t, nan_left)

    b = _Builder()
    for ti in d["tree_info"]:
        b.tree(ti["tree_structure"], split, lambda n: (n["left_child"], n["right_child"]))
    if len(b.offsets) - 1 != booster.num_trees():
        raise ConversionError(f"lightgbm dump has {len(b.offsets) - 1} trees, the booster {booster.num_trees()}")
    return b.build("BRANCH_LEQ", 0.0, n_features, zero_snap=True)


def _f32(v: Any) -> float:
    """The float32 a JSON number denotes, exactly: XGBoost writes float32 values as shortest
    round-trip decimals; the nearest float32 to the decimal (checked with exact arithmetic, so no
    double rounding through float64) is the value XGBoost holds."""
    s = str(v)
    f = np.float32(float(s))
    if not np.isfinite(f):
        raise ConversionError(f"xgboost dump holds a non-finite value {s}")
    d = Decimal(s)
    cands = (np.nextafter(f, np.float32(-np.inf)), f, np.nextafter(f, np.float32(np.inf)))
    return float(min(cands, key=lambda c: abs(Decimal(float(c)) - d)))


def from_xgboost(booster: Any, n_features: int) -> Ensemble:
    """`booster.save_raw("json")`: every tree of the booster (slice it to the kept ones first)."""
    m = json.loads(bytes(booster.save_raw("json")), parse_float=str)  # numbers kept as written
    learner = m["learner"]
    obj = learner["objective"]["name"]
    if obj not in _XGB_IDENTITY:
        raise ConversionError(f"xgboost objective {obj!r} has an output transform; not exported")
    gb = learner["gradient_booster"]
    if gb.get("name") != "gbtree":
        raise ConversionError(f"xgboost booster {gb.get('name')!r} is not exported (gbtree only)")
    model = gb["model"]
    base = str(learner["learner_model_param"]["base_score"]).strip("[]").split(",")
    if len(base) != 1 or int(learner["learner_model_param"].get("num_target", "1")) != 1 or any(model["tree_info"]):
        raise ConversionError("xgboost: only single-output models are exported")
    if int(learner["learner_model_param"]["num_feature"]) != n_features:
        raise ConversionError(f"xgboost model has {learner['learner_model_param']['num_feature']} features, the input {n_features}")

    b = _Builder()
    for t in model["trees"]:
        if int(t["tree_param"].get("size_leaf_vector", "1")) > 1 or any(t["split_type"]):
            raise ConversionError("xgboost: vector-leaf or categorical trees are not exported")
        lc, rc, si, sc, dl = t["left_children"], t["right_children"], t["split_indices"], t["split_conditions"], t["default_left"]

        def split(i: int) -> tuple[Any, ...]:
            if lc[i] == -1:
                return ("leaf", _f32(sc[i]))
            return ("split", si[i], _f32(sc[i]), bool(dl[i]))

        b.tree(0, split, lambda i: (lc[i], rc[i]))
    if len(b.offsets) - 1 != booster.num_boosted_rounds():
        raise ConversionError(f"xgboost dump has {len(b.offsets) - 1} trees, the booster {booster.num_boosted_rounds()} rounds")
    return b.build("BRANCH_LT", _f32(base[0]), n_features, zero_snap=False)


# ---------- the exact twin ----------

def predict(ens: Ensemble, x: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """The ensemble's raw score in float64 on float32 inputs [N, F]: what the graph computes before
    its single rounding of the sum to float32. Trees are added in order, then the base."""
    x = np.asarray(x, dtype=np.float32).astype(np.float64)
    if x.ndim != 2 or x.shape[1] != ens.n_features:
        raise ValueError(f"expected inputs [N, {ens.n_features}], got {list(x.shape)}")
    if ens.zero_snap:
        x = np.where(np.abs(x) <= LGB_ZERO, 0.0, x)
    out = np.empty(len(x))
    roots = ens.offsets[:-1]
    for s in range(0, len(x), chunk):
        xs = x[s:s + chunk]
        rows = np.arange(len(xs))[:, None]
        cur = np.broadcast_to(roots, (len(xs), len(roots))).copy()
        for _ in range(ens.depth):
            v = xs[rows, ens.feature[cur]]
            t = ens.threshold[cur]
            go_left = (v <= t) if ens.mode == "BRANCH_LEQ" else (v < t)
            go_left = np.where(np.isnan(v), ens.nan_left[cur], go_left)
            cur = np.where(go_left, ens.left[cur], ens.right[cur])  # a leaf points to itself
        vals = ens.value[cur]
        acc = np.zeros(len(xs))
        for j in range(vals.shape[1]):
            acc += vals[:, j]
        out[s:s + chunk] = acc + ens.base
    return out


# ---------- the graph ----------

def tree_nodes(ens: Ensemble, x64: str, out: str) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    """The TreeEnsembleRegressor reading the double input `x64` [N, F] and writing float32 `out`
    [N, 1] (one rounding of the double sum), with LightGBM's zero snap before it: for `graph` and
    for graphs that add the trees to another part (models/residual.py)."""
    tree = np.searchsorted(ens.offsets, np.arange(len(ens.leaf)), side="right") - 1
    local = np.arange(len(ens.leaf)) - ens.offsets[tree]
    inner = ~ens.leaf
    lo = np.where(inner, ens.left - ens.offsets[tree], 0)
    hi = np.where(inner, ens.right - ens.offsets[tree], 0)
    modes = np.where(inner, ens.mode, "LEAF").tolist()
    dbl = lambda nm, a: numpy_helper.from_array(np.asarray(a, dtype=np.float64), nm)
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []
    xin = x64
    if ens.zero_snap:
        inits += [dbl("zero_threshold", [LGB_ZERO]), dbl("zero", [0.0])]
        nodes += [helper.make_node("Abs", [xin], ["x_abs"]),
                  helper.make_node("LessOrEqual", ["x_abs", "zero_threshold"], ["x_is_zero"]),
                  helper.make_node("Where", ["x_is_zero", "zero", xin], ["x_snapped"])]
        xin = "x_snapped"
    lf = np.flatnonzero(ens.leaf)
    nodes.append(helper.make_node(
        "TreeEnsembleRegressor", [xin], [out], domain="ai.onnx.ml", name="trees",
        n_targets=1, aggregate_function="SUM", post_transform="NONE",
        nodes_treeids=tree.tolist(), nodes_nodeids=local.tolist(),
        nodes_featureids=np.where(inner, ens.feature, 0).tolist(), nodes_modes=modes,
        nodes_truenodeids=lo.tolist(), nodes_falsenodeids=hi.tolist(),
        nodes_missing_value_tracks_true=(inner & ens.nan_left).astype(np.int64).tolist(),
        nodes_values_as_tensor=dbl("nodes_values", np.where(inner, ens.threshold, 0.0)),
        target_treeids=tree[lf].tolist(), target_nodeids=local[lf].tolist(), target_ids=[0] * len(lf),
        target_weights_as_tensor=dbl("target_weights", ens.value[lf]),
        base_values_as_tensor=dbl("base_values", [ens.base])))
    return nodes, inits


def graph(ens: Ensemble, name: str, scaling: tuple[np.ndarray, np.ndarray] | None = None) -> onnx.ModelProto:
    """x float32 [N, F] -> double -> TreeEnsembleRegressor (double thresholds, leaves, base) -> yhat
    float32 [N, 1]. Deterministic: the same ensemble gives the same bytes.

    `scaling` (mean, std), for pooled trees (models/pooled.py): the trees split on
    float32((double(x) - mean) / std), so the graph first computes exactly that (Cast, Sub, Div in
    double, Cast to float32: models.pooled.normalise is its twin) and then proceeds as usual."""
    dbl = lambda nm, a: numpy_helper.from_array(np.asarray(a, dtype=np.float64), nm)
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []
    xin32 = "x"
    if scaling is not None:
        inits += [dbl("input_mean", np.asarray(scaling[0], np.float64).reshape(1, -1)),
                  dbl("input_std", np.asarray(scaling[1], np.float64).reshape(1, -1))]
        nodes += [helper.make_node("Cast", ["x"], ["x_raw_f64"], to=TensorProto.DOUBLE),
                  helper.make_node("Sub", ["x_raw_f64", "input_mean"], ["x_centred"]),
                  helper.make_node("Div", ["x_centred", "input_std"], ["x_scaled_f64"]),
                  helper.make_node("Cast", ["x_scaled_f64"], ["x_scaled"], to=TensorProto.FLOAT)]
        xin32 = "x_scaled"
    trees, tree_inits = tree_nodes(ens, "x_f64", "yhat")
    nodes += [helper.make_node("Cast", [xin32], ["x_f64"], to=TensorProto.DOUBLE), *trees]
    inits += tree_inits
    g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", ens.n_features])],
                          [helper.make_tensor_value_info("yhat", TensorProto.FLOAT, ["N", 1])], initializer=inits)
    m = helper.make_model(g, producer_name="volcast",
                          opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("ai.onnx.ml", ML_OPSET)])
    m.ir_version = IR_VERSION
    onnx.checker.check_model(m, full_check=True)
    return m


def check_twin(ens: Ensemble, x: np.ndarray, library: np.ndarray, tol: float, what: str) -> float:
    """max |library's own prediction - exact twin| on x; a ConversionError beyond `tol` (a graph
    that does not describe the booster)."""
    if len(x) == 0:
        return 0.0
    d = float(np.max(np.abs(np.asarray(library, np.float64) - predict(ens, x))))
    if not d <= tol:
        raise ConversionError(f"{what}: the exported trees differ from the booster's own predictions by {d:.3g} > {tol:g}")
    return d
