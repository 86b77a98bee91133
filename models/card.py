"""card.json of a fitted model (docs/model-contract.md): what the model is, its ordered inputs, the
scaling and target transform baked into the graph, the fitted values, the windows, the trainer's own
test predictions, library versions, device and wall time. `parity` stays null: evaluation fills it."""
from __future__ import annotations

import json
import platform
from typing import Any

import numpy as np

from .frame import Fitted

from .contract import UNITS


def libraries(extra: dict[str, str] | None = None) -> dict[str, str]:
    import onnx
    import onnxruntime
    import pandas
    import pyarrow

    libs = {"python": platform.python_version(), "numpy": np.__version__, "pandas": pandas.__version__,
            "pyarrow": pyarrow.__version__, "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__}
    return {**libs, **(extra or {})}


def _clean(v: Any) -> Any:
    """JSON-safe: NumPy scalars to Python, non-finite floats to null."""
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, np.ndarray):
        return _clean(v.tolist())
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return f if np.isfinite(f) else None
    return v


def build_card(inp: dict[str, Any], f: Fitted, model_sha256: str, self_check: dict[str, Any],
               wall_seconds: float) -> dict[str, Any]:
    m = inp["model"]
    card = {
        "modelId": inp["modelId"],
        "name": m["name"],
        "kind": m["kind"],
        "target": inp["target"],
        # Which series, feature definitions and symbol set the model belongs to: manual promotion
        # and scoring refuse a model of another series or of other features.
        "series": inp.get("series"),
        "featureSetId": inp["featureSetId"],
        "featureDefinitionsSha": inp.get("featureDefinitionsSha"),
        "featureUniverse": inp.get("featureUniverse"),
        "purpose": inp.get("purpose", "fold"),
        "regime": inp.get("regime"),
        "features": inp["features"],
        # The spec as the run named it (what a later run refits), and the parameters as fitted (defaults filled in).
        "spec": {"name": m["name"], "kind": m["kind"], "params": m.get("params", {})},
        "params": f.params,
        "input": f.input,
        "output": {"name": "vol", "unit": UNITS[inp["target"]], "sigma": f.test_sigma is not None},
        "scaling": f.scaling,
        "fitted": f.fitted,
        "train": {"startTs": int(inp["train"]["startTs"]), "endTs": int(inp["train"]["endTs"]), "rows": f.train_rows},
        "test": {"startTs": int(inp["test"]["startTs"]), "endTs": int(inp["test"]["endTs"]), "rows": len(f.test.idx)},
        "trainerPredictions": {"ts": [int(t) for t in f.test.ts], "vol": [float(v) for v in f.test_pred],
                               **({"sigma": [float(v) for v in f.test_sigma]} if f.test_sigma is not None else {})},
        "trainerSelfCheck": self_check,
        "model": {"sha256": model_sha256, "bytes": len(f.onnx)},
        "libraries": libraries(f.libraries),
        "device": f.device,
        "seed": int(inp.get("seed", 0)),
        "wallSeconds": round(wall_seconds, 3),
        "parity": None,
    }
    return _clean(card)


def card_bytes(card: dict[str, Any]) -> bytes:
    return (json.dumps(card, indent=2, allow_nan=False) + "\n").encode()
