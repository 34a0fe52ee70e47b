"""Comparing two sets of embeddings of the same texts: cosine, euclidean, MSE, MAE and a verdict."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import CheckpointError, InputError

EXAMPLES = ("This is a sample sentence to encode", "The cat sits on the mat", "A feline rests on the carpet",
            "The weather is sunny today", "Python is a programming language")
VERY_SIMILAR = 0.99  # the verdict passes when every per-text cosine is above this
REFERENCE = Path(__file__).parent / "data" / "reference.json"


@dataclass
class Comparison:
    cosine: np.ndarray     # [n] per text
    euclidean: np.ndarray  # [n]
    mse: np.ndarray        # [n]
    mae: np.ndarray        # [n]

    @property
    def passed(self) -> bool:
        return bool(len(self.cosine)) and bool((self.cosine > VERY_SIMILAR).all())

    @property
    def verdict(self) -> str:
        if self.passed:
            return f"very similar: every cosine > {VERY_SIMILAR} (min {self.cosine.min():.7f})"
        worst = int(np.argmin(self.cosine)) if len(self.cosine) else -1
        return (f"DIFFERENT: text {worst} has cosine {self.cosine[worst]:.6f} <= {VERY_SIMILAR}" if worst >= 0
                else "nothing compared")

    def summary(self) -> dict:
        return {"count": len(self.cosine), "cosine_min": float(self.cosine.min()), "cosine_mean": float(self.cosine.mean()),
                "euclidean_max": float(self.euclidean.max()), "mse_mean": float(self.mse.mean()),
                "mae_mean": float(self.mae.mean()), "passed": self.passed, "verdict": self.verdict}


def compare(a: np.ndarray, b: np.ndarray) -> Comparison:
    a, b = np.atleast_2d(np.asarray(a, np.float64)), np.atleast_2d(np.asarray(b, np.float64))
    if a.shape != b.shape:
        raise InputError(f"cannot compare embeddings of shapes {list(a.shape)} and {list(b.shape)}")
    norms = np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
    diff = a - b
    return Comparison(cosine=(a * b).sum(1) / norms, euclidean=np.linalg.norm(diff, axis=1),
                      mse=(diff ** 2).mean(1), mae=np.abs(diff).mean(1))


def reference(path: str | os.PathLike | None = None) -> tuple[list[str], np.ndarray, dict]:
    """Reference texts and vectors: a JSON file with ``texts`` and ``sentence_embedding`` (or a golden
    fixture .json with its .npz beside it); default: the one shipped for all-MiniLM-L6-v2."""
    path = Path(path) if path else REFERENCE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        texts = data["texts"]
        if "sentence_embedding" in data:
            vectors = np.asarray(data["sentence_embedding"], np.float32)
        else:
            with np.load(path.with_suffix(".npz"), allow_pickle=False) as npz:
                vectors = npz["sentence_embedding"]
    except (OSError, ValueError, KeyError) as exc:
        raise CheckpointError(f"{path}: not a reference file with 'texts' and 'sentence_embedding' ({exc})") from exc
    if len(texts) != len(vectors):
        raise CheckpointError(f"{path}: {len(texts)} texts but {len(vectors)} vectors")
    return texts, vectors, data


def check_same_weights(model_path: Path, meta: dict) -> None:
    """Refuse to compare a model with a reference made from other weights."""
    expected = meta.get("weights_sha256")
    files = [p for p in (model_path / "model.safetensors", model_path / "pytorch_model.bin") if p.exists()]
    if not expected or not files:
        return
    digest = hashlib.sha256(files[0].read_bytes()).hexdigest()
    if digest != expected:
        raise CheckpointError(f"the reference vectors were made from {meta.get('model')} (weights sha256 "
                              f"{expected[:12]}…), but {files[0]} has {digest[:12]}…; give --against-fixtures FILE "
                              "made from this model, or compare two backends with --against")
