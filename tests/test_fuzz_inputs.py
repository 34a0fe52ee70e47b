"""Fault suite, texts: random bytes as text / JSONL / CSV files, random Python values given to encode.

Every example gives texts (or vectors) or raises one of our errors, within 10 s and 256 MiB at the
peak. Example counts are bounded so CI stays fast (docs/reliability.md lists them).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minilm
from faults import bounded, ours_or_nothing
from minilm.jobs.textfiles import count_texts, iter_texts
from tinymodel import write_tiny_model

FRAGMENTS = [b'{"text": "a"}', b'{"text": 5}', b'{"body": "b"}', b"[]", b"null", b'"\\ud800"', b'{"text": "\\udc00x"}',
             b'{"text": "\\ud83d\\ude42"}', b"\xef\xbb\xbf", b"\r", b"\n", b"\x00", b"\xff\xfe", b"\xed\xa0\x80", b"\xc3",
             b"text,id", b'"a,b",1', b'"unterminated', b"\t", b",", b"{", b"}", b"\\"]
CONTENT = st.lists(st.sampled_from(FRAGMENTS) | st.binary(max_size=6), max_size=30).map(b"".join)
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@settings(max_examples=300, **SETTINGS)
@given(content=CONTENT, suffix=st.sampled_from([".txt", ".jsonl", ".csv", ".tsv"]), field=st.sampled_from([None, "text", "body"]))
def test_random_files_read_or_raise_ours(tmp_path, content, suffix, field):
    path = tmp_path / f"in{suffix}"
    path.write_bytes(content)
    column = field if suffix in (".csv", ".tsv") else None
    field = field if suffix in (".txt", ".jsonl") else None
    with bounded():
        texts = ours_or_nothing(lambda: list(iter_texts(str(path), field, column)))
        ours_or_nothing(count_texts, str(path), field, column)
    for text in texts or []:
        assert isinstance(text, str)
        text.encode("utf-8")  # every text given out is valid Unicode: no lone surrogate


def test_a_csv_field_past_the_csv_module_limit_is_ours(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("text\n" + "x" * 200_000 + "\n")
    assert ours_or_nothing(lambda: list(iter_texts(str(path)))) in (None, ["x" * 200_000])


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return minilm.load(write_tiny_model(tmp_path_factory.mktemp("tiny")), backend="numpy")


TEXT = st.text(alphabet=st.characters(codec=None), max_size=12) | st.sampled_from(["\ud800", "a\udfffb", "", " ", "hello"])
ATOM = st.one_of(TEXT, st.binary(max_size=4), st.integers(), st.floats(), st.none(), st.booleans())
VALUE = st.recursive(ATOM, lambda inner: st.one_of(st.lists(inner, max_size=4), st.tuples(inner, inner),
                                                   st.sets(st.text(max_size=3), max_size=3),
                                                   st.dictionaries(st.text(max_size=3), inner, max_size=3),
                                                   st.lists(TEXT, max_size=3).map(np.array)), max_leaves=8)


@settings(max_examples=300, **SETTINGS)
@given(texts=VALUE, normalize=st.one_of(st.none(), st.booleans(), st.sampled_from(["yes", 1, 0.5, [True]])))
def test_encode_gives_vectors_or_raises_ours(tiny, texts, normalize):
    with bounded():
        vectors = ours_or_nothing(tiny.encode, texts, normalize=normalize)
        ids = ours_or_nothing(tiny.tokenize, texts)
    if vectors is not None:
        assert vectors.dtype == np.float32 and np.isfinite(vectors).all()
        assert vectors.shape == ((tiny.dim,) if isinstance(texts, str) else (len(ids), tiny.dim))


def test_json_round_trip_of_what_the_readers_give(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps({"text": t}) for t in ["é", "\U0001f642", "a\u0301", "\x00"]) + "\n")
    assert list(iter_texts(str(path))) == ["é", "\U0001f642", "a\u0301", "\x00"]


@pytest.mark.parametrize("line, message", [
    ('{"text": ' + "[" * 100_000 + "]" * 100_000 + "}", "line 1 is JSON nested too deeply to read"),
    ('{"text": "a", "n": ' + "7" * 5000 + "}", "line 1 cannot be read as JSON (Exceeds the limit"),
])
def test_jsonl_lines_past_the_json_readers_limits(tmp_path, line, message):
    path = tmp_path / "in.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(minilm.InputError, match=message.replace("(", r"\(")):
        list(iter_texts(str(path)))
