"""The playground's POST /search over a real index (Index.build), ranked as brute-force cosine."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from minilm import Index  # noqa: E402
from minilm.server.app import Settings, create_app  # noqa: E402

TEXTS = ["The cat sits on the mat", "Kittens like to play with yarn", "Stock prices fell today",
         "A recipe for apple pie", "Dogs are loyal animals", "The economy is slowing down"]


def test_search_route_ranks_as_brute_force(tmp_path, ort_embedder):
    Index.build(tmp_path / "idx", TEXTS, ids=[f"t{i}" for i in range(len(TEXTS))], embedder=ort_embedder)
    scores = ort_embedder.encode(TEXTS) @ ort_embedder.encode("a kitten")
    order = np.argsort(-scores)[:4]
    with TestClient(create_app(ort_embedder, Settings(index=str(tmp_path / "idx")))) as client:
        response = client.post("/search", json={"query": "a kitten", "k": 4})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["id"] for r in results] == [f"t{i}" for i in order]
    assert [r["text"] for r in results] == [TEXTS[i] for i in order]
    np.testing.assert_allclose([r["score"] for r in results], scores[order], atol=1e-5)
