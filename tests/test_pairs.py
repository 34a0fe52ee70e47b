"""minilm.search.pairs: thresholded pairs and top-k neighbours in row blocks equal the full matrix's answers."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minilm.search import pairs
from minilm.errors import InputError


def unit(x):
    x = np.asarray(x, np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def brute_pairs(x, threshold):
    s = unit(x) @ unit(x).T
    return {(i, j) for i in range(len(x)) for j in range(i + 1, len(x)) if s[i, j] >= threshold - pairs.TOLERANCE}


def found_pairs(x, threshold):
    return {(i, j) for rows, cols, _ in pairs.similar_pairs(x, threshold) for i, j in zip(rows.tolist(), cols.tolist())}


vectors = st.integers(0, 30).flatmap(lambda n: st.integers(2, 6).flatmap(
    lambda d: st.lists(st.lists(st.integers(-3, 3), min_size=d, max_size=d), min_size=n, max_size=n)))


@settings(max_examples=150, deadline=None)
@given(vectors, st.sampled_from([-1.0, 0.0, 0.5, 0.9, 1.0]), st.sampled_from([1, 7, 1 << 25]))
def test_pairs_equal_the_full_matrix_whatever_the_block(x, threshold, cells):
    x = np.array(x, np.float32).reshape(len(x), -1) if x else np.zeros((0, 3), np.float32)
    with mock.patch.object(pairs, "MAX_CELLS", cells):  # 1 cell: one row per block; 7: a few rows; 2**25: one block
        got = list(pairs.similar_pairs(x, threshold))
    assert {(i, j) for rows, cols, _ in got for i, j in zip(rows.tolist(), cols.tolist())} == brute_pairs(x, threshold)
    for rows, cols, scores in got:
        assert (rows < cols).all() and (scores <= 1).all()
        np.testing.assert_allclose(scores, np.minimum((unit(x)[rows] * unit(x)[cols]).sum(1), 1), atol=1e-6)
    flat = [(i, j) for rows, cols, _ in got for i, j in zip(rows.tolist(), cols.tolist())]
    assert flat == sorted(flat)  # (i, j) order


def test_blocks_stay_bounded(monkeypatch):
    monkeypatch.setattr(pairs, "MAX_CELLS", 1000)
    assert pairs.block_rows(100) == 10 and pairs.block_rows(10**6) == 1 and pairs.block_rows(3) == 333


def test_identical_vectors_meet_threshold_one():
    x = np.array([[0.1, 0.7, 0.3]] * 3 + [[0.3, 0.1, 0.7]], np.float32)
    assert found_pairs(x, 1.0) == {(0, 1), (0, 2), (1, 2)}


@settings(max_examples=100, deadline=None)
@given(vectors, st.integers(1, 12), st.booleans())
def test_top_k_equals_a_full_sort(x, k, exclude_self):
    x = np.array(x, np.float32).reshape(len(x), -1) if x else np.zeros((0, 3), np.float32)
    exclude = np.arange(len(x)) if exclude_self else None
    ids, scores = pairs.top_k(x, x, k, exclude=exclude)
    s = unit(x) @ unit(x).T
    kk = min(k, len(x) - exclude_self)
    assert ids.shape == scores.shape == (len(x), max(kk, 0))
    for r in range(len(x)):
        order = [j for j in sorted(range(len(x)), key=lambda j: (-s[r, j], j)) if not (exclude_self and j == r)]
        assert ids[r].tolist() == order[:kk]  # best first, ties to the lower index
        np.testing.assert_allclose(scores[r], s[r, order[:kk]], atol=1e-6)


def test_top_k_ties_go_to_the_lower_index():
    x = np.array([[1, 0]] + [[0, 1]] * 5 + [[1, 0]] * 3, np.float32)
    ids, _ = pairs.top_k(x[:1], x, 3, exclude=[0])
    assert ids.tolist() == [[6, 7, 8]]


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="threshold must be a cosine similarity from -1 to 1, got 1.5"):
        list(pairs.similar_pairs(np.eye(3), 1.5))
    with pytest.raises(ValueError, match="threshold must be .* got '0.9'"):
        list(pairs.similar_pairs(np.eye(3), "0.9"))
    with pytest.raises(InputError, match=r"vectors must be a 2-D array \[n, dim\], got shape \(3,\)"):
        list(pairs.similar_pairs(np.ones(3), 0.5))
    bad = np.eye(3)
    bad[2, 1] = np.nan
    with pytest.raises(InputError, match=r"vectors\[2\] holds NaN or infinity"):
        list(pairs.similar_pairs(bad, 0.5))
    with pytest.raises(ValueError, match="k must be a positive integer, got 0"):
        pairs.top_k(np.eye(2), np.eye(2), 0)
