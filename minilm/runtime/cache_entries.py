"""The model cache's entries (runtime/model_cache.py), for ``minilm cache``: listed with their kind, size and
last use, pruned by age, cleared.

An entry is the files in ``models/`` that share one key (64 hex digits) as their name: ONNX Runtime's
``<key>.onnx`` with its weights ``<key>.data``, OpenVINO's ``<key>.xml`` with ``<key>.bin``, or an OpenVINO
compiled image ``<key>.blob``. Its last use is the newest modification time of its files
(``model_cache.lookup`` touches the file it finds). Weights whose model file is missing (a writer killed
between its two renames) and a writer's temporary folder (``.tmp-*``) are leftovers, removed once they are
an hour old, so that a writer still at work keeps them. Nothing else in the cache folder is touched.

Removing an entry that another process has open is safe: a model already loaded keeps its memory-mapped
files, and one that fails to load is rebuilt (model_cache.discard).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from . import model_cache

KINDS = {".onnx": "onnxruntime", ".xml": "openvino", ".blob": "openvino image"}  # an entry's model file -> kind
WEIGHTS = (".data", ".bin")
NAME = re.compile(r"^([0-9a-f]{64})(\.onnx|\.data|\.xml|\.bin|\.blob)$")
LEFTOVER_AGE_S = 3600.0


@dataclass(frozen=True)
class Entry:
    """One key's files; ``kind`` one of KINDS' values, or "leftover"."""
    key: str
    kind: str
    files: tuple[Path, ...]
    size: int
    last_used: float


def entries(folder: Path | None = None) -> list[Entry]:
    """Every entry and leftover in the cache (``folder``: the cache folder, default model_cache.cache_dir()),
    least recently used first; [] when the cache is off or empty."""
    folder = folder if folder is not None else model_cache.cache_dir()
    models = folder / "models" if folder is not None else None
    if models is None or not models.is_dir():
        return []
    groups: dict[str, list[tuple[Path, str, os.stat_result]]] = {}
    found = []
    for path in models.iterdir():
        try:
            st = path.lstat()
        except OSError:  # removed meanwhile
            continue
        match = NAME.match(path.name)
        if match and path.is_file() and not path.is_symlink():
            groups.setdefault(match.group(1), []).append((path, match.group(2), st))
        elif path.name.startswith(".tmp-") and path.is_dir() and not path.is_symlink():
            found.append(Entry(path.name, "leftover", (path,), _tree_size(path), st.st_mtime))
    for key, files in groups.items():
        suffixes = {suffix for _, suffix, _ in files}
        kind = next((KINDS[s] for s in KINDS if s in suffixes), "leftover" if suffixes <= set(WEIGHTS) else None)
        if kind is None:  # no file of ours: leave it alone
            continue
        found.append(Entry(key, kind, tuple(sorted(p for p, _, _ in files)), sum(st.st_size for _, _, st in files),
                           max(st.st_mtime for _, _, st in files)))
    return sorted(found, key=lambda e: e.last_used)


def _tree_size(folder: Path) -> int:
    total = 0
    for root, _, names in os.walk(folder):
        for name in names:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def prune(older_than_s: float, dry_run: bool = False, now: float | None = None) -> tuple[list[Entry], list[Entry]]:
    """Remove the entries unused for ``older_than_s`` seconds and the leftovers over an hour old (0: every entry);
    returns (removed, kept). ``dry_run``: remove nothing, say what would go."""
    now = time.time() if now is None else now
    removed, kept = [], []
    for entry in entries():
        age = now - entry.last_used
        if age >= (LEFTOVER_AGE_S if entry.kind == "leftover" else older_than_s):
            if not dry_run:
                _remove(entry)
            removed.append(entry)
        else:
            kept.append(entry)
    return removed, kept


def _remove(entry: Entry) -> None:
    model_files = [p for p in entry.files if p.suffix in KINDS]
    for path in model_files + [p for p in entry.files if p not in model_files]:  # the model first: no reader finds it half gone
        try:
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        except FileNotFoundError:
            pass


def total(found: list[Entry]) -> int:
    return sum(e.size for e in found)
