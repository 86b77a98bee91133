"""Reads activities/catalog.json: the one declaration of activity names and their task queues."""
from __future__ import annotations

import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CATALOG_PATH = os.path.join(ROOT, "activities", "catalog.json")


def load_catalog(path: str = CATALOG_PATH) -> dict[str, dict[str, str]]:
    with open(path, encoding="utf-8") as f:
        return json.load(f)["activities"]


def python_activities(catalog: dict[str, dict[str, str]]) -> dict[str, str]:
    """name -> queue role, for the activities Python implements."""
    return {name: e["queue"] for name, e in catalog.items() if e["language"] == "python"}


def check_implementations(catalog: dict[str, dict[str, str]], implemented: set[str]) -> None:
    declared = set(python_activities(catalog))
    missing, extra = sorted(declared - implemented), sorted(implemented - declared)
    if missing or extra:
        raise RuntimeError(
            f"activity catalog mismatch for python: missing implementations {missing}, not in activities/catalog.json {extra}"
        )
