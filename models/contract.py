"""The contracts shared with TypeScript, read from contracts/: the activity catalog (activities.json:
names, task-queue roles, languages) and the domain (domain.json: timeframes, targets and their
horizons, model kinds and the activity that fits each, the regime rule). Nothing here redeclares a
fact; the trainer refuses to start when what it implements differs from them."""
from __future__ import annotations

import json
import os
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CATALOG_PATH = os.path.join(ROOT, "contracts", "activities.json")
DOMAIN_PATH = os.path.join(ROOT, "contracts", "domain.json")


def _load(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


DOMAIN = _load(DOMAIN_PATH)
#: Targets the models predict (volatility in the target's units), in contract order.
TARGETS: tuple[str, ...] = tuple(n for n, t in DOMAIN["targets"].items() if t["trainable"])
#: Bars after ts each target reads (its row's target is known when bar ts + h closes).
HORIZON: dict[str, int] = {n: int(t["horizonBars"]) for n, t in DOMAIN["targets"].items()}
UNITS: dict[str, str] = {n: t["units"] for n, t in DOMAIN["targets"].items()}
#: model kind -> the activity that fits it (fitModel | fitNeuralModel)
KIND_ACTIVITY: dict[str, str] = {k: v["fitActivity"] for k, v in DOMAIN["modelKinds"].items()}
#: Kinds whose specs may be pooled across series (models/pooled.py).
POOLABLE_KINDS: tuple[str, ...] = tuple(k for k, v in DOMAIN["modelKinds"].items() if v.get("poolable"))
BARS_MS: dict[str, int] = {tf: int(v["barMs"]) for tf, v in DOMAIN["timeframes"].items()}


def kinds_of(activity_name: str) -> tuple[str, ...]:
    return tuple(k for k, a in KIND_ACTIVITY.items() if a == activity_name)


def load_catalog(path: str = CATALOG_PATH) -> dict[str, dict[str, Any]]:
    return _load(path)["activities"]


def python_activities(catalog: dict[str, dict[str, Any]]) -> dict[str, str]:
    """name -> queue role, for the activities Python implements."""
    return {name: e["queue"] for name, e in catalog.items() if e["language"] == "python"}


def check_implementations(catalog: dict[str, dict[str, Any]], implemented: set[str]) -> None:
    declared = set(python_activities(catalog))
    missing, extra = sorted(declared - implemented), sorted(implemented - declared)
    if missing or extra:
        raise RuntimeError(
            f"activity catalog mismatch for python: missing implementations {missing}, not in contracts/activities.json {extra}"
        )


def check_kinds(implemented: dict[str, set[str]]) -> None:
    """implemented: activity name -> the kinds the trainer fits there; must equal the contract's."""
    problems = []
    for activity_name in sorted(set(KIND_ACTIVITY.values()) | set(implemented)):
        want, have = set(kinds_of(activity_name)), implemented.get(activity_name, set())
        if want != have:
            problems.append(f"{activity_name}: missing {sorted(want - have)}, not in contracts/domain.json {sorted(have - want)}")
    if problems:
        raise RuntimeError("model kinds differ from contracts/domain.json: " + "; ".join(problems))
