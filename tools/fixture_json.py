"""Write a fixture as JSON that diffs well: one top-level key per line, one row (or text) per line for lists and big dicts."""

from __future__ import annotations

import json
from pathlib import Path


def _value(value) -> str:
    if isinstance(value, list) and value and all(isinstance(row, (list, dict, str)) for row in value):
        return "[\n" + ",\n".join("  " + json.dumps(row, ensure_ascii=False) for row in value) + "\n ]"
    if isinstance(value, dict) and len(value) > 20:
        return "{\n" + ",\n".join(f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in value.items()) + "\n }"
    return json.dumps(value, ensure_ascii=False)


def write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = ",\n".join(f" {json.dumps(key)}: {_value(value)}" for key, value in data.items())
    path.write_text("{\n" + body + "\n}\n", encoding="utf-8")
