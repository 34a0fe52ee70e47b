"""minilm.search.dedup and minilm.search.cluster: hand-made cases, edge cases, and sentence-transformers' community_detection."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES
from minilm.search.cluster import clusters, communities
from minilm.search.dedup import duplicate_groups, duplicate_pairs


def angles(*degrees):
    """Unit vectors in the plane at these angles: cosine of a and b is cos(a - b)."""
    rad = np.radians(degrees)
    return np.stack([np.cos(rad), np.sin(rad)], 1).astype(np.float32)


def test_pairs_and_chained_groups():
    x = angles(0, 20, 40, 90, 91, 180)  # cos 20° = 0.94: 0~1, 1~2 but not 0~2 (cos 40° = 0.77); 3~4
    assert [(p.i, p.j) for p in duplicate_pairs(x, 0.9)] == [(0, 1), (1, 2), (3, 4)]
    groups = duplicate_groups(x, 0.9)
    assert [g.members for g in groups] == [(0, 1, 2), (3, 4)]  # a chain is one group; largest first
    assert groups[0].representative == 0
    np.testing.assert_allclose(groups[0].scores, [1, np.cos(np.radians(20)), np.cos(np.radians(40))], atol=1e-6)


def test_dedup_edge_cases():
    assert duplicate_groups(np.zeros((0, 4)), 0.9) == [] and list(duplicate_pairs(np.zeros((0, 4)), 0.9)) == []
    assert duplicate_groups(angles(0), 0.9) == []
    same = np.repeat(angles(33), 4, 0)
    assert [g.members for g in duplicate_groups(same, 1.0)] == [(0, 1, 2, 3)]
    assert len(list(duplicate_pairs(same, 1.0))) == 6


def test_clusters_handmade():
    x = angles(0, 1, 2, 3, 50, 51, 52, 120, 200)
    close = np.cos(np.radians(1.5))  # only texts 1 degree apart are neighbours
    # 1 and 2 have 3 neighbours (themselves included), 0 and 3 two: seed 1 (lowest index) takes 0, 1, 2;
    # seed 2 is taken; 3 alone is too small.
    assert same_communities(communities(x, close, 3), [[1, 0, 2], [5, 4, 6]])
    found = clusters(x, close, 3)
    assert [c.central for c in found] == [1, 5] and found[0].seed == 1
    assert communities(x, close, 4) == []


def test_cluster_edge_cases():
    assert communities(np.zeros((0, 3)), 0.75, 1) == []
    assert communities(angles(10), 0.75, 1) == [[0]] and communities(angles(10), 0.75, 2) == []
    assert communities(np.repeat(angles(7), 5, 0), 1.0, 5) == [[0, 1, 2, 3, 4]]  # identical texts at threshold 1.0
    assert communities(angles(0, 90, 180), 1.0, 1) == [[0], [1], [2]]
    with pytest.raises(ValueError, match="min_size must be a positive integer, got 0"):
        communities(angles(0), 0.5, 0)
    with pytest.raises(ValueError, match="threshold must be a cosine similarity from -1 to 1, got 2"):
        clusters(angles(0), 2, 1)


def test_central_is_the_highest_mean_cosine():
    x = angles(0, 10, 12, 14, 30)  # mean angle 13.2: the text at 14 degrees is central; the seed is text 0
    (found,) = clusters(x, np.cos(np.radians(31)), 5)
    mean = (x @ x.T).mean(1)
    assert found.seed == 0 and found.central == int(np.argmax(mean)) == 3
    assert found.centrality == pytest.approx(mean.max(), abs=1e-6)


def same_communities(ours, theirs):
    return [(c[0], sorted(c)) for c in ours] == [(c[0], sorted(c)) for c in theirs]


def test_real_texts_match_sentence_transformers_fixture(ort_embedder):
    fixture = json.loads((FIXTURES / "use" / "clusters.json").read_text(encoding="utf-8"))
    vectors = ort_embedder.encode(fixture["texts"])
    for run in fixture["runs"]:
        ours = communities(vectors, run["threshold"], run["min_community_size"])
        assert same_communities(ours, run["communities"]), run["threshold"]
    assert sum(len(run["communities"]) for run in fixture["runs"]) >= 10  # the fixture does hold clusters


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 60), st.integers(1, 6), st.sampled_from([0.5, 0.75, 0.9]), st.integers(0, 10**6))
def test_random_vectors_match_sentence_transformers(n, min_size, threshold, seed):
    util = pytest.importorskip("sentence_transformers.util")
    import torch
    x = clustered(n, seed)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    # a cosine within rounding of the threshold is where the two differ by design (minilm.search.cluster counts
    # scores within TOLERANCE below it; float32 sums in numpy and torch differ in the last bit): seen as
    # n=41, threshold 0.75, seed 513, a pair at 0.74999994, which made another seed's community the largest
    assume(not (np.abs(unit @ unit.T - threshold) < 1e-5).any())
    theirs = util.community_detection(torch.from_numpy(x), threshold=threshold, min_community_size=min_size)
    assert same_communities(communities(x, threshold, min_size), theirs)


def clustered(n, seed):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(4, 8))
    return (centres[rng.integers(0, 4, n)] + 0.6 * rng.normal(size=(n, 8))).astype(np.float32)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 50), st.sampled_from([0.5, 0.8, 0.95]), st.integers(0, 10**6))
def test_groups_are_the_connected_components(n, threshold, seed):
    x = clustered(n, seed)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    linked = unit @ unit.T >= threshold - 1e-6
    reach = linked.copy()  # transitive closure by repeated squaring: i and j in one group iff reach[i, j]
    for _ in range(max(1, n).bit_length()):
        reach = (reach.astype(np.int32) @ reach.astype(np.int32)) > 0
    expected = sorted({tuple(np.flatnonzero(row)) for row in reach if row.sum() > 1}, key=lambda g: (-len(g), g[0]))
    assert [g.members for g in duplicate_groups(x, threshold)] == [tuple(int(i) for i in g) for g in expected]


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 60), st.integers(1, 6), st.sampled_from([0.5, 0.75, 0.9]), st.integers(0, 10**6))
def test_communities_do_not_depend_on_the_block_size(n, min_size, threshold, seed):
    from unittest import mock

    from minilm.search import pairs
    x = clustered(n, seed)
    whole = communities(x, threshold, min_size)
    with mock.patch.object(pairs, "MAX_CELLS", 5):  # one row per block, one seed per block
        assert communities(x, threshold, min_size) == whole
