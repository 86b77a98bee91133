"""The platform probe's Python half: read an object by reference, verify it, prove the trainer's
device works (a reduction on it), write a result object."""
from __future__ import annotations

import json
from typing import Any, Callable

import torch

from .store import ArtifactStore


def pick_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def verify_probe(store: ArtifactStore, inp: dict[str, Any], attempt: int, beat: Callable[[Any], None],
                 sleep: Callable[[float], None]) -> dict[str, Any]:
    for i in range(int(inp.get("holdSeconds") or 0)):
        beat({"held": i})
        sleep(1.0)
    data = store.get_bytes(inp["ref"])  # raises IntegrityError on a sha256 mismatch
    device = pick_device()
    byte_sum = int(torch.frombuffer(bytearray(data), dtype=torch.uint8).to(device).sum(dtype=torch.int64).item())
    # Deterministic content (no timestamps): a retried attempt writes the identical object.
    result = {
        "sourceSha256": inp["ref"]["sha256"],
        "bytes": len(data),
        "byteSum": byte_sum,
        "device": device,
        "torch": torch.__version__,
    }
    ref = store.put_bytes(inp["resultKey"], json.dumps(result, indent=2).encode() + b"\n", "application/json")
    return {**result, "ref": ref, "attempt": attempt}
