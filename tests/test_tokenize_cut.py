"""A long text is tokenized only as far as max_length can use, and its ids are those of the whole text.

The reference is the ``tokenizers`` library on the whole stripped text (what sentence-transformers
runs). Small ``max_length`` and ``head_chars`` make the cut fall inside the texts drawn: in long
words, runs of whitespace, CJK, accents, combining marks, emoji and special tokens.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

from minilm import sources
from minilm.tokenizer import WordPieceTokenizer, load_tokenizer

PIECES = ["a", "hello", "world", "x" * 120, "un", "##", "é", "e\u0301", "\u0301", "\u0301\u0327", "你", "好", "日本語",
          "🙂", "👍🏽", "👩\u200d💻", "\u200d", " ", "  ", "   ", "\t", "\n", "\r\n", "\u3000", "\xa0", ".", ",", "!", "'",
          "[SEP]", "[CLS]", "[MASK]", "[UNK]", "<s>", "</s>", "[SE", "P]", "ß", "Σ", "İ", "ﬁ", "\x00", "\x1c", "\ufeff",
          "1", "2024", "\u0600", "Ω", "ǅ"]
TEXT = st.lists(st.sampled_from(PIECES) | st.text(max_size=3), max_size=60).map("".join)
CORPUS = ["hello world", "the cat sat on the mat", "héllo wörld", "你好 世界", "emoji 🙂 here", "a\u0301b c", "2024 and 42"] * 20


def whole(tok: WordPieceTokenizer, texts: list[str]) -> list[list[int]]:
    return [e.ids for e in tok.inner.encode_batch([t.strip() for t in texts])]


@pytest.fixture(scope="module")
def model_folder():
    return sources.resolve(None)


_TOKENIZERS: dict = {}


def bert(folder, max_length: int, head: int) -> WordPieceTokenizer:
    if (max_length, head) not in _TOKENIZERS:
        _TOKENIZERS[max_length, head] = tok = load_tokenizer(folder, max_length)
        tok.head_chars = head
    return _TOKENIZERS[max_length, head]


@settings(max_examples=250, deadline=None)
@given(texts=st.lists(TEXT, min_size=1, max_size=5), max_length=st.integers(2, 12), head=st.integers(1, 24))
def test_cut_text_has_the_ids_of_the_whole_text(model_folder, texts, max_length, head):
    tok = bert(model_folder, max_length, head)
    assert tok.probe is not None  # the model's BertNormalizer + BertPreTokenizer: the cut is used
    want = whole(tok, texts)
    assert tok.encode(texts) == want
    assert [e.ids for e in tok.encodings(texts)] == want


def trained(kind: str) -> Tokenizer:
    """A small tokenizer of another family, trained here: byte-level BPE, Metaspace Unigram, WordPiece."""
    if kind == "bpe":
        tok = Tokenizer(models.BPE(unk_token="[UNK]"))
        tok.normalizer = normalizers.NFKC()
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["[UNK]", "<s>", "</s>"],
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    elif kind == "unigram":
        tok = Tokenizer(models.Unigram())
        tok.normalizer = normalizers.Sequence([normalizers.NFKD(), normalizers.StripAccents(), normalizers.Lowercase()])
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        trainer = trainers.UnigramTrainer(vocab_size=200, special_tokens=["<unk>", "<s>", "</s>"], unk_token="<unk>")
    else:
        tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=7))
        tok.normalizer = normalizers.NFD()
        tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(), pre_tokenizers.Digits(individual_digits=True)])
        trainer = trainers.WordPieceTrainer(vocab_size=200, special_tokens=["[UNK]", "<s>", "</s>"])
    tok.train_from_iterator(CORPUS, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))])
    return tok


_TRAINED: dict = {}


@settings(max_examples=150, deadline=None)
@given(kind=st.sampled_from(["bpe", "unigram", "wordpiece"]), texts=st.lists(TEXT, min_size=1, max_size=4),
       max_length=st.integers(2, 10), head=st.integers(1, 16))
def test_cut_holds_for_other_tokenizer_families(kind, texts, max_length, head):
    if (kind, max_length, head) not in _TRAINED:
        _TRAINED[kind, max_length, head] = tok = WordPieceTokenizer(trained(kind), max_length)
        tok.head_chars = head
    tok = _TRAINED[kind, max_length, head]
    assert tok.probe is not None
    assert tok.encode(texts) == whole(tok, texts)


@pytest.mark.parametrize("text", [
    "hello " + "x" * 300 + " world",            # a word longer than WordPiece's 100 characters: [UNK]
    "a" + " " * 5000 + "b " * 50,               # a run of whitespace longer than any prefix tried
    "你好世界" * 200,                             # CJK: every character is a word, no spaces
    "e\u0301" * 300,                             # a combining mark after every letter: one long word
    "cafe\u0301 " * 100,                         # accents stripped by the lowercasing normalizer
    "👩\u200d💻🙂" * 200,                          # emoji and zero-width joiners
    "[SEP]" * 100 + " hello",                   # special tokens written in the text
    "word " * 3 + "[SE" + "P] " * 100,
    "\u3000\xa0 padded by exotic spaces \u3000" * 40,
])
def test_hand_cases_where_the_cut_matters(model_folder, text):
    for max_length, head in ((4, 1), (8, 2), (16, 5), (256, 8)):
        tok = bert(model_folder, max_length, head)
        assert tok.encode([text]) == whole(tok, [text]), (max_length, head)


class Spy:
    """A tokenizer that records the length of every text it is given."""

    def __init__(self, inner, seen: list[int]):
        self.inner, self.seen = inner, seen

    def __getattr__(self, name):
        attr = getattr(self.inner, name)
        if not name.startswith("encode"):
            return attr

        def call(texts, *args, **kwargs):
            self.seen.extend(len(t) for t in texts)
            return attr(texts, *args, **kwargs)
        return call


def test_a_long_text_is_tokenized_only_as_far_as_max_length_uses(model_folder):
    tok = load_tokenizer(model_folder, 256)
    text = "The quick brown fox jumps over the lazy dog. " * 200_000  # 9 MB
    want = whole(tok, [text[:5000]])  # 5,000 characters hold more than 256 tokens
    seen: list[int] = []
    tok.inner, tok.probe = Spy(tok.inner, seen), Spy(tok.probe, seen)
    assert tok.encode([text]) == want and len(want[0]) == 256
    assert seen and max(seen) <= 8 * 256  # one prefix of HEAD_CHARS characters per token was enough, not 9 MB


def test_a_pipeline_not_known_to_be_local_is_tokenized_whole():
    tok = Tokenizer(models.WordLevel({"a": 0, "[UNK]": 1}, unk_token="[UNK]"))  # no pre-tokenizer: one word
    tok.normalizer = normalizers.Replace(" ", "")  # nor a normalizer known to be local
    cut = WordPieceTokenizer(tok, 4)
    assert cut.probe is None
    text = "a " * 10_000
    assert cut.encode([text]) == whole(cut, [text]) == [[1]]  # one unknown word, "aaaa...": only the whole text says so


def test_the_probe_is_made_only_for_a_text_long_enough_to_cut(model_folder):
    tok = load_tokenizer(model_folder, 8)
    tok.encode(["a short text", "x" * (tok.head_chars - 1)])
    assert "probe" not in vars(tok)  # a cold start never parses tokenizer.json twice for short texts
    long = "word " * tok.head_chars
    assert tok.encode([long]) == whole(tok, [long])
    assert vars(tok)["probe"] is not None
