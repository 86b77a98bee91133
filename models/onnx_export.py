"""ONNX graphs of the models, and their exact float64 NumPy twins (the trainer's own predictions).

Every graph has one float32 input `x` and one float32 output `vol` [N, 1] (docs/model-contract.md).

- Linear / HAR models (persistence, HAR-RV, log-HAR, HAR-X): `x` [N, F] -> per-column transform
  (identity | log(max(x, floor)) | one-hot of integer levels) -> MatMul + Add -> head.
- Weighted sums over a window (EWMA, GARCH(1,1) as ARCH(inf)): `x` [N, W, 1] (oldest first) ->
  Flatten -> MatMul with the lag weights + Add -> head.
- LightGBM, XGBoost: models/tree_onnx.py's double-precision TreeEnsemble graph (prediction of log
  variance), head appended.
- Heads, turning the raw prediction yhat into volatility over the target horizon:
    "var":    vol = sqrt(max(yhat, floor) * mult)        (yhat is a per-bar variance)
    "logvar": vol = exp(0.5 * (scale * yhat + shift))   (yhat is a log variance; shift holds the
              bias correction and log(horizon))
"""
from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8  # readable by onnxruntime-node 1.30 and Python onnxruntime 1.31

Transform = dict[str, Any]  # {"column", "op": identity|log|onehot, "floor"?, "levels"?}
Head = dict[str, Any]


# ---------- NumPy twins (float64 arithmetic on the float32 inputs) ----------
#
# The linear and lag-sum graphs compute in double: the float32 input is cast to double, every
# constant is a double, the head runs in double and only `vol` is cast back to float32. Their twins
# below use the same double constants, so the trainer's predictions and onnxruntime's differ by the
# final rounding to float32 alone (≤ 6e-8 relative): parity by construction, however ill-conditioned
# a fit (a float32 graph missed the 1e-5 tolerance on short windows, e.g. log-HAR on 7 days).

def design(x: np.ndarray, transforms: list[Transform]) -> np.ndarray:
    x = x.astype(np.float64)
    cols = []
    for j, t in enumerate(transforms):
        c = x[:, j:j + 1]
        if t["op"] == "identity":
            cols.append(c)
        elif t["op"] == "log":
            cols.append(np.log(np.maximum(c, np.float64(t["floor"]))))
        elif t["op"] == "onehot":
            cols.append((c == np.asarray(t["levels"], dtype=np.float64)[None, :]).astype(np.float64))
        else:
            raise ValueError(f"unknown transform {t['op']}")
    return np.concatenate(cols, axis=1) if cols else np.zeros((len(x), 0))


def apply_head(yhat: np.ndarray, head: Head, double: bool = False) -> np.ndarray:
    """The head's twin; `double`: the graph's head runs in double (linear and lag-sum graphs), else
    its constants are float32 (the head appended to a converted graph: trees)."""
    yhat = np.asarray(yhat, dtype=np.float64).reshape(-1)
    c = (lambda v: np.float64(v)) if double else (lambda v: np.float64(np.float32(v)))
    if head["kind"] == "var":
        return np.sqrt(np.maximum(yhat, c(head["floor"])) * c(head["mult"]))
    if head["kind"] == "logvar":
        return np.exp(0.5 * (c(head.get("scale", 1.0)) * yhat + c(head["shift"])))
    raise ValueError(f"unknown head {head['kind']}")


def f32(v: Any) -> np.ndarray:
    return np.asarray(v, dtype=np.float32)


# ---------- graph building ----------

class _G:
    def __init__(self, double: bool = False) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.n = 0
        # The dtype of real-valued constants (fl()): float64 in the double graphs.
        self.real = np.float64 if double else np.float32

    def fl(self, v: Any) -> np.ndarray:
        return np.asarray(v, dtype=self.real)

    def name(self, p: str) -> str:
        self.n += 1
        return f"{p}_{self.n}"

    def const(self, p: str, value: np.ndarray) -> str:
        nm = self.name(p)
        self.inits.append(numpy_helper.from_array(np.asarray(value), nm))
        return nm

    def op(self, op_type: str, inputs: list[str], p: str | None = None, out: str | None = None, **attrs: Any) -> str:
        o = out or self.name(p or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [o], **attrs))
        return o


def _head(g: _G, yhat: str, head: Head, out: str = "vol") -> str:
    if head["kind"] == "var":
        v = g.op("Max", [yhat, g.const("floor", g.fl([head["floor"]]))])
        v = g.op("Mul", [v, g.const("mult", g.fl([head["mult"]]))])
        return g.op("Sqrt", [v], out=out)
    if head["kind"] == "logvar":
        v = yhat
        if head.get("scale", 1.0) != 1.0:
            v = g.op("Mul", [v, g.const("scale", g.fl([head["scale"]]))])
        v = g.op("Add", [v, g.const("shift", g.fl([head["shift"]]))])
        v = g.op("Mul", [v, g.const("half", g.fl([0.5]))])
        return g.op("Exp", [v], out=out)
    raise ValueError(f"unknown head {head['kind']}")


def _model(g: _G, x_shape: list[Any], doc: str, ml: bool = False) -> bytes:
    graph = helper.make_graph(
        g.nodes, "volcast",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
        [helper.make_tensor_value_info("vol", TensorProto.FLOAT, ["N", 1])],
        initializer=g.inits,
    )
    # The ai.onnx.ml domain (opset 3: TreeEnsembleRegressor) when the graph holds trees.
    opsets = [helper.make_opsetid("", OPSET)] + ([helper.make_opsetid("ai.onnx.ml", 3)] if ml else [])
    m = helper.make_model(graph, opset_imports=opsets, producer_name="volcast", doc_string=doc)
    m.ir_version = IR_VERSION
    onnx.checker.check_model(m, full_check=True)
    return m.SerializeToString()


def _double_head(g: _G, yhat: str, head: Head) -> None:
    """The head in double, then `vol` as float32 (the contract's output type)."""
    v = _head(g, yhat, head, out=g.name("vol64"))
    g.op("Cast", [v], out="vol", to=TensorProto.FLOAT)


def linear_graph(transforms: list[Transform], coef: np.ndarray, intercept: float, head: Head, doc: str) -> bytes:
    """x [N, F] -> double -> transforms -> design @ coef + intercept -> head -> float32 vol."""
    g = _G(double=True)
    x = g.op("Cast", ["x"], "x64", to=TensorProto.DOUBLE)
    _double_head(g, _linear_part(g, x, transforms, coef, intercept), head)
    return _model(g, ["N", len(transforms)], doc)


def _linear_part(g: _G, x: str, transforms: list[Transform], coef: np.ndarray, intercept: float) -> str:
    """design(x[:, :len(transforms)]) @ coef + intercept on the double input x: the double yhat [N, 1]."""
    parts = []
    for j, t in enumerate(transforms):
        c = g.op("Slice", [x, g.const("s", np.array([j], np.int64)), g.const("e", np.array([j + 1], np.int64)),
                           g.const("a", np.array([1], np.int64))], "col")
        if t["op"] == "log":
            c = g.op("Log", [g.op("Max", [c, g.const("floor", g.fl([t["floor"]]))])])
        elif t["op"] == "onehot":
            eq = g.op("Equal", [c, g.const("levels", g.fl([t["levels"]]))])
            c = g.op("Cast", [eq], to=TensorProto.DOUBLE)
        parts.append(c)
    z = parts[0] if len(parts) == 1 else g.op("Concat", parts, axis=1)
    yhat = g.op("MatMul", [z, g.const("coef", g.fl(coef).reshape(-1, 1))])
    return g.op("Add", [yhat, g.const("intercept", g.fl([intercept]))])


def linear_plus_trees_graph(transforms: list[Transform], coef: np.ndarray, intercept: float, tree_columns: list[int],
                            trees: tuple[list[onnx.NodeProto], list[onnx.TensorProto]], head: Head, doc: str,
                            n_inputs: int) -> bytes:
    """x [N, n_inputs] -> double -> (design(x[:, :len(transforms)]) @ coef + intercept) + trees(x[:, tree_columns])
    -> head -> float32 vol. `trees`: tree_onnx.tree_nodes reading "x_trees" and writing "yhat_trees"
    (float32: one rounding of the double sum, as in the tree-only graphs)."""
    g = _G(double=True)
    x = g.op("Cast", ["x"], "x64", to=TensorProto.DOUBLE)
    linear = _linear_part(g, x, transforms, coef, intercept)
    g.op("Gather", [x, g.const("tree_columns", np.asarray(tree_columns, np.int64))], out="x_trees", axis=1)
    nodes, inits = trees
    g.nodes.extend(nodes)
    g.inits.extend(inits)
    t64 = g.op("Cast", ["yhat_trees"], "trees64", to=TensorProto.DOUBLE)
    _double_head(g, g.op("Add", [linear, t64]), head)
    return _model(g, ["N", n_inputs], doc, ml=True)


def lag_sum_graph(window: int, weights: np.ndarray, const: float, head: Head, doc: str,
                  square: bool = False) -> bytes:
    """x [N, W, 1] (oldest first) -> double -> sum_p weights[p] * x[:, p, 0]^(2 if square) + const -> head -> float32 vol."""
    g = _G(double=True)
    flat = g.op("Flatten", [g.op("Cast", ["x"], "x64", to=TensorProto.DOUBLE)], axis=1)
    if square:
        flat = g.op("Mul", [flat, flat], "sq")
    yhat = g.op("MatMul", [flat, g.const("w", g.fl(weights).reshape(-1, 1))])
    yhat = g.op("Add", [yhat, g.const("c", g.fl([const]))])
    _double_head(g, yhat, head)
    return _model(g, ["N", window, 1], doc)


def lag_sum_numpy(x: np.ndarray, weights: np.ndarray, const: float, square: bool = False) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    v = x[:, :, 0].astype(np.float64)
    return (v * v if square else v) @ w + np.float64(const)


def append_head(model: onnx.ModelProto, head: Head, doc: str) -> bytes:
    """Rename the single input to `x`, take the single output as yhat [N, 1] and append the head."""
    graph = model.graph
    old_in = graph.input[0].name
    if old_in != "x":
        for node in graph.node:
            node.input[:] = ["x" if i == old_in else i for i in node.input]
        graph.input[0].name = "x"
    if not any(o.domain in ("", "ai.onnx") for o in model.opset_import):
        model.opset_import.extend([helper.make_opsetid("", 15)])  # a tree-only graph (XGBoost) has none
    yhat = graph.output[0].name
    g = _G()
    g.n = 1000
    _head(g, yhat, head)
    graph.node.extend(g.nodes)
    graph.initializer.extend(g.inits)
    del graph.output[:]
    graph.output.extend([helper.make_tensor_value_info("vol", TensorProto.FLOAT, ["N", 1])])
    model.doc_string = doc
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()


def run_onnx(model_bytes: bytes, x: np.ndarray, outputs: tuple[str, ...] = ("vol",)) -> Any:
    """Python onnxruntime on CPU, one thread: the trainer's self-check. One output name: its values
    [N] (float64); several: a tuple of them."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(model_bytes, so, providers=["CPUExecutionProvider"])
    if len(x) == 0:
        res = [np.zeros(0) for _ in outputs]
    else:
        res = [np.asarray(o, dtype=np.float64).reshape(-1)
               for o in sess.run(list(outputs), {"x": np.ascontiguousarray(x, dtype=np.float32)})]
    return res[0] if len(outputs) == 1 else tuple(res)


def linear_numpy(x: np.ndarray, transforms: list[Transform], coef: np.ndarray, intercept: float) -> np.ndarray:
    return design(x, transforms) @ np.asarray(coef, dtype=np.float64) + np.float64(intercept)
