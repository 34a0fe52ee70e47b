"""encode / tokenize / similarity refuse what is not a list of texts, and lone surrogates, with the item named;
a JSONL line with a lone surrogate is an InputError naming the line (exit 5), and leaves nothing behind."""

from __future__ import annotations

import numpy as np
import pytest

import minilm
from minilm.cli.main import main
from minilm.errors import InputError
from minilm.jobs.textfiles import iter_texts
from tinymodel import write_tiny_model


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return minilm.load(write_tiny_model(tmp_path_factory.mktemp("tiny")), backend="numpy")


@pytest.mark.parametrize("texts, message", [
    ({"a": 1}, "texts is a dict: its keys would be embedded; pass list(d.values()) or list(d)"),
    ({"a", "b"}, "texts is a set, which has no order"),
    (frozenset({"a"}), "texts is a frozenset, which has no order"),
    (b"hello", "texts must be a string or a list of strings, got bytes"),
    (5, "texts must be a string or a list of strings, got int"),
    (["a", 5], "texts[1] is int, not str"),
    (["a", b"b"], "texts[1] is bytes, not str (decode bytes first"),
    ("ab\ud800c", "the text has a lone surrogate (U+D800) at character 2"),
    (["fine", "x\udfffy"], "texts[1] has a lone surrogate (U+DFFF) at character 1"),
])
def test_encode_refuses_with_the_item_named(tiny, texts, message):
    for call in (tiny.encode, tiny.tokenize, tiny.similarity):
        with pytest.raises(InputError) as info:
            call(texts)
        assert message in str(info.value), call


@pytest.mark.parametrize("value", ["yes", 1, 0.0, "false", [True]])
def test_normalize_must_be_a_boolean_or_none(tiny, value):
    with pytest.raises(InputError) as info:
        tiny.encode(["a"], normalize=value)
    assert str(info.value) == f"normalize must be None, True or False, got {value!r}"
    with pytest.raises(InputError, match="normalize must be None, True or False"):
        tiny.encode_ids([[2, 3]], normalize=value)


def test_what_is_accepted_still_works(tiny):
    vectors = tiny.encode(["a b", "hello"])
    assert np.array_equal(tiny.encode(("a b", "hello")), vectors)
    assert np.array_equal(tiny.encode(iter(["a b", "hello"])), vectors)
    assert np.array_equal(tiny.encode(np.array(["a b", "hello"])), vectors)  # numpy str_ is a str
    assert np.array_equal(tiny.encode(["a b", "hello"], normalize=np.bool_(False)), tiny.encode(["a b", "hello"], normalize=False))
    assert tiny.encode("hello \U0001f642").shape == (tiny.dim,)  # a real pair (an emoji) is fine


def test_jsonl_lone_surrogate_names_the_line(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "fine"}\n\n{"text": "bad \\ud800 here"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"in.jsonl: line 3: field 'text' has a lone surrogate \(U\+D800\) at character 4"):
        list(iter_texts(str(src)))
    pair = tmp_path / "pair.jsonl"
    pair.write_text('{"text": "\\ud83d\\ude42"}\n', encoding="utf-8")  # an escaped pair is one emoji
    assert list(iter_texts(str(pair))) == ["\U0001f642"]


@pytest.mark.parametrize("output", [None, "v.npy", "v.jsonl"])
def test_cli_lone_surrogate_exits_5_and_leaves_nothing(tmp_path, capsys, output, tiny):
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "fine"}\n{"text": "\\udc00"}\n', encoding="utf-8")
    argv = ["embed", "--model", str(tiny.path), "--backend", "numpy", "--input", str(src)]
    if output:
        argv += ["--output", str(tmp_path / output)]
    assert main(argv) == 5
    err = capsys.readouterr().err
    assert "line 2: field 'text' has a lone surrogate (U+DC00) at character 0" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]  # no .partial/, no output
