"""bench/dvol.ts's trainer side: the plan's fit inputs (a JSON list) fitted with the trainer's own fit
functions (models/fit.py _CPU_FITS) on a local feature Parquet, each self-checked against Python
onnxruntime like a fit activity (models/fit.py self_check), then its test rows' forecasts written out.

    python bench/dvol_fit.py FEATURES.parquet FITS.json OUT.json
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from models.fit import _CPU_FITS, self_check  # noqa: E402


def main() -> None:
    features, fits_path, out_path = sys.argv[1:4]
    df = pq.read_table(features).to_pandas().reset_index(drop=True)
    fits = json.loads(Path(fits_path).read_text())
    out = []
    for k, inp in enumerate(fits):
        t0 = time.perf_counter()
        f = _CPU_FITS[inp["model"]["kind"]](df, inp, lambda _d: None)
        check = self_check(f)
        y = np.asarray(f.test.y, dtype=np.float64)
        out.append({"tag": inp["tag"], "fold": inp["fold"], "ts": [int(t) for t in f.test.ts],
                    "pred": [float(p) for p in f.test_pred], "y": [None if not np.isfinite(v) else float(v) for v in y],
                    "columns": f.input.get("columns"),
                    "fitted": {k2: v for k2, v in (f.fitted or {}).items() if k2 in ("extraColumnsUsed", "extraColumnsLeftOut", "coef")},
                    "parity": check["maxRelError"], "seconds": round(time.perf_counter() - t0, 3)})
        print(f"[{k + 1}/{len(fits)}] {inp['tag']} fold {inp['fold']}: {len(f.test.ts)} test rows, {out[-1]['seconds']} s", flush=True)
    Path(out_path).write_text(json.dumps(out))


if __name__ == "__main__":
    main()
