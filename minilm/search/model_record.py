"""The model an index was built with: recorded in meta.json at build, reloaded with the same settings
and checked at open, so that every vector of an index, and every query, is made the same way.

The record is minilm.provenance's (weights and tokenizer fingerprints, max length, pooling,
normalisation, precision options) plus where to find the model again: its path, its hub id and the
tokenizer folder. Backend and threads are not compared: they change a vector by rounding only.
An index written before a setting was recorded is compared on the settings it has.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from ..errors import ModelNotFoundError, SearchIndexError
from ..provenance import differences, vector_settings

COMPARED = ("weights", "tokenizer", "dim", "max_length", "pooling", "normalize", "output", "prompt", "options")


def model_record(embedder) -> dict:
    from ..sources import hub_id_of
    settings = vector_settings(embedder, normalize=True)
    del settings["model"]
    folder = getattr(embedder.tokenizer, "folder", None)
    return {"path": str(Path(embedder.path).resolve()), "name": hub_id_of(Path(embedder.path)),
            "tokenizer_path": str(Path(folder).resolve()) if folder else None, **settings}


def check(path: Path, record: dict, embedder) -> None:
    """SearchIndexError unless EMBEDDER makes vectors the way the index's were made."""
    if embedder.dim != record["dim"]:
        raise SearchIndexError(f"{path}: built with {record.get('name')} ({record['dim']} dims); the model given "
                               f"({Path(embedder.path).name}) gives {embedder.dim} dims. Search it with the same "
                               "model, or rebuild the index with this one")
    changed = differences(record, vector_settings(embedder, normalize=True), [k for k in COMPARED if k in record])
    if changed:
        raise SearchIndexError(f"{path}: its vectors were made with other settings than the model given "
                               f"({'; '.join(changed)}), so queries and added texts would not match them. Open it "
                               "without a model or settings (Index.open(path); no --model / --max-length / --int8) to "
                               "use the recorded ones, or rebuild the index with these")


def load_recorded(record: dict | None, model=None, **given):
    """The model of RECORD (None: the default model) with its recorded settings; GIVEN ones (not None) win."""
    from ..loading import load
    if record is None:
        return load(model, **{k: v for k, v in given.items() if v is not None})
    accepted = inspect.signature(load).parameters
    settings = {k: v for k, v in (record.get("options") or {}).items() if k in accepted and k != "device"}
    settings["max_length"] = record.get("max_length")
    tokenizer = record.get("tokenizer_path")
    if tokenizer and Path(tokenizer).exists() and Path(tokenizer) != Path(record["path"]):
        settings["tokenizer"] = tokenizer
    settings.update({k: v for k, v in given.items() if v is not None})
    if model is not None:
        return load(model, **settings)
    if Path(record["path"]).exists():
        return load(record["path"], **settings)
    try:
        return load(record.get("name"), **settings)
    except ModelNotFoundError as exc:
        raise ModelNotFoundError(f"the index was built with {record.get('name')} ({record['path']}), which is not "
                                 f"here: install it, or open the index with that model (--model / embedder=)") from exc
