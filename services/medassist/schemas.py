"""Where the JSON Schemas of `schemas/` are found (the repo's top level, or MEDASSIST_SCHEMAS)."""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any


def schema_dir() -> Path:
    env = os.environ.get("MEDASSIST_SCHEMAS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "schemas"


@cache
def load_schema(name: str) -> dict[str, Any]:
    path = schema_dir() / f"{name}.schema.json"
    with path.open(encoding="utf-8") as f:
        return json.load(f)  # type: ignore[no-any-return]
