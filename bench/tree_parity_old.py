"""The tree export models/gbm.py used before models/tree_onnx.py, kept only to show what it did:
onnxmltools' converters (TreeEnsembleRegressor on the float32 input: float32 thresholds, float32 leaf
sums) with the same head, against the trainer's predictions of that time (LightGBM's float64
Booster.predict; XGBoost's own float32 Booster.predict). Used by bench/tree_parity.py --export old and
by test/trainer/test_tree_parity.py (the adversarial case)."""
from __future__ import annotations

from typing import Any

import numpy as np

from models import onnx_export as ox


def old_graph(kind: str, booster: Any, n_features: int, head: dict[str, Any], doc: str) -> bytes:
    import onnxmltools
    from onnxmltools.convert.common.data_types import FloatTensorType

    types = [("x", FloatTensorType([None, n_features]))]
    if kind == "lightgbm":
        onx = onnxmltools.convert_lightgbm(booster, name="volcast_lightgbm", initial_types=types, target_opset=15)
    else:
        onx = onnxmltools.convert_xgboost(booster, name="volcast_xgboost", initial_types=types, target_opset=15)
    return ox.append_head(onx, head, doc)


def old_trainer_prediction(kind: str, keep: dict[str, Any], x: np.ndarray) -> np.ndarray:
    """The trainer's own test predictions as the old gbm.py computed them (`keep` from gbm.fit*)."""
    if len(x) == 0:
        return np.zeros(0)
    if kind == "lightgbm":
        raw = keep["booster"].predict(x.astype(np.float64))
    else:
        import xgboost as xgb

        raw = keep["booster"].predict(xgb.DMatrix(x, feature_names=keep["feature_names"])).astype(np.float64)
    return ox.apply_head(raw, keep["head"])
