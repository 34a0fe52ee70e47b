"""``minilm index verify``: every file of an index checked against meta.json, without loading a model.

Segments: the .npy and the .jsonl against their CRC-32 (or, written before checksums were recorded,
the vectors as unit vectors and the rows as rows); the approximate-search graph against its CRC-32.
Files meta.json does not list (a killed writer's) are reported, not counted as corrupt: the next add
deletes them.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import SearchIndexError
from . import store


def verify(path) -> dict:
    """{"rows", "segments", "files", "unchecksummed", "strays", "problems"}: problems is a list of messages."""
    path = Path(path)
    manifest = store.read_manifest(path)
    dim, problems, files = int(manifest["model"]["dim"]), [], 0
    for segment in manifest["segments"]:
        for check in (lambda: store.verify_vectors(path, segment, dim), lambda: store.read_rows(path, segment)):
            files += 1
            try:
                check()
            except SearchIndexError as exc:
                problems.append(str(exc))
    graph = manifest.get("ann") or {}
    if graph.get("file"):
        files += 1
        file = path / graph["file"]
        if not file.is_file():
            problems.append(f"{file}: missing graph listed in meta.json")
        elif graph.get("crc32") and store.crc32_file(file) != graph["crc32"]:
            problems.append(f"{file}: corrupt graph: its CRC-32 differs from the one meta.json recorded")
    listed = {s["name"] for s in manifest["segments"]}
    strays = sorted(f.name for f in path.iterdir() if f.name not in ("meta.json", "lock", graph.get("file"))
                    and f.name.rsplit(".", 1)[0] not in listed)
    unchecksummed = sum(1 for s in manifest["segments"] if not s.get("crc32"))
    return {"rows": manifest["count"], "segments": len(manifest["segments"]), "files": files,
            "unchecksummed": unchecksummed, "strays": strays, "problems": problems}
