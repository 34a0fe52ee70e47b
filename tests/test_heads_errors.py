"""Models with a head: where they are found (path, env, LLM_MODELS_PATH, the HF cache, the hub), and every
error path with its message."""

from __future__ import annotations

import json
import re
import shutil
import warnings

import numpy as np
import pytest
from conftest import FIXTURES
from safetensors.numpy import load_file, save_file

import minilm
from minilm.errors import CheckpointError, ConfigError, InputError, ModelNotFoundError, ModelWarning

HEADS = FIXTURES / "heads"
PAIRS = [("what is a cat", "a cat is a small animal"), ("is the dog good", "the dog is good")]


def copy(tmp_path, name: str, into: str | None = None):
    folder = tmp_path / (into or name)
    shutil.copytree(HEADS / name, folder)
    return folder


def edit_config(folder, **changes):
    path = folder / "config.json"
    config = json.loads(path.read_text())
    config.update(changes)
    path.write_text(json.dumps({k: v for k, v in config.items() if v is not None}))


def test_a_bi_encoder_is_not_a_cross_encoder():
    with pytest.raises(ConfigError, match=r"model\.safetensors: this checkpoint has no classifier: it is a bi-encoder "
                                          r"\(or a bare BERT\): load it with minilm\.load"):
        minilm.CrossEncoder(FIXTURES / "tiny" / "mean_norm", backend="numpy")


def test_each_head_names_the_other():
    with pytest.raises(ConfigError, match=r"no classifier: it has a masked-LM head \(cls\.predictions\.\*\): load it with minilm\.MaskedLM"):
        minilm.CrossEncoder(HEADS / "mlm", backend="numpy")
    with pytest.raises(ConfigError, match=r"no masked-LM head: it has a classifier \(classifier\.weight\): load it with minilm\.CrossEncoder"):
        minilm.MaskedLM(HEADS / "rerank", backend="numpy")


def test_classifier_shape_must_match_id2label(tmp_path):
    folder = copy(tmp_path, "nli")
    edit_config(folder, id2label={"0": "no", "1": "yes"}, label2id=None)
    with pytest.raises(CheckpointError, match=r"tensor 'classifier\.weight' has shape \[3, 32\] but config\.json implies \[2, 32\]"):
        minilm.Classifier(folder, backend="numpy")


def test_bad_id2label(tmp_path):
    folder = copy(tmp_path, "nli")
    edit_config(folder, id2label={"0": "a", "2": "b", "3": "c"})
    with pytest.raises(ConfigError, match=r"id2label must number its labels 0\.\.2"):
        minilm.Classifier(folder, backend="numpy")
    edit_config(folder, id2label={"x": "a"})
    with pytest.raises(ConfigError, match="id2label keys must be label ids"):
        minilm.Classifier(folder, backend="numpy")


def test_a_config_activation_is_mapped_never_imported(tmp_path):
    folder = copy(tmp_path, "rerank")
    edit_config(folder, sentence_transformers={"activation_fn": "mypackage.evil.Activation"})
    with pytest.raises(ConfigError, match=r"config\.json: sentence_transformers\.activation_fn: activation "
                                          r"'mypackage\.evil\.Activation' is not one minilm knows .*nothing is imported"):
        minilm.CrossEncoder(folder, backend="numpy")
    ce = minilm.CrossEncoder(folder, backend="numpy", activation_fn="sigmoid")  # an explicit choice wins
    logits = ce.predict(PAIRS, activation_fn="identity")
    np.testing.assert_allclose(ce.predict(PAIRS), 1 / (1 + np.exp(-logits)), rtol=1e-6)
    np.testing.assert_allclose(ce.predict(PAIRS, activation_fn=lambda x: 2 * x), 2 * logits, rtol=1e-6)
    with pytest.raises(ConfigError, match="activation 'cosh' is not one minilm knows"):
        ce.predict(PAIRS, activation_fn="cosh")


def test_bad_inputs_name_the_item():
    ce = minilm.CrossEncoder(HEADS / "rerank", backend="numpy")
    with pytest.raises(InputError, match=r"pairs\[1\] must be a pair of two strings \(query, document\), got a tuple of 3"):
        ce.predict([("a", "b"), ("a", "b", "c")])
    with pytest.raises(InputError, match=r"pairs\[0\] must be a pair of two strings .*got str"):
        ce.predict(["just a text"])
    with pytest.raises(InputError, match=r"documents\[1\] is int, not str"):
        ce.rank("q", ["a", 3])
    with pytest.raises(InputError, match="documents must be a list of strings, not one string"):
        ce.rank("q", "a document")
    with pytest.raises(ValueError, match="top_k must be a positive integer or None, got 0"):
        ce.rank("q", ["a"], top_k=0)
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        ce.predict(PAIRS, batch_size=0)
    assert ce.predict([]).shape == (0,) and ce.rank("q", []) == []


def test_rank_needs_one_label_and_classifier_options():
    with pytest.raises(ValueError, match=r"rank\(\) needs a model with one label; nli has 3 \(contradiction, entailment, neutral\)"):
        minilm.CrossEncoder(HEADS / "nli", backend="numpy").rank("q", ["a"])
    clf = minilm.Classifier(HEADS / "nli", backend="numpy")
    with pytest.raises(ValueError, match="function_to_apply must be one of softmax, sigmoid, none or None, got 'tanh'"):
        clf.predict("a text", function_to_apply="tanh")
    with pytest.raises(InputError, match=r"inputs\[1\] must be a text, a \(text, text_pair\) pair or \{'text', 'text_pair'\}, got int"):
        clf.predict(["fine", 7])
    one_label = minilm.Classifier(HEADS / "rerank", backend="numpy")  # one label: sigmoid, as the pipeline
    scores, logits = one_label.predict(["a", "b"]), one_label.predict(["a", "b"], function_to_apply="none")
    assert [r[0]["label"] for r in scores] == ["LABEL_0"] * 2
    assert [r[0]["score"] for r in scores] == pytest.approx([1 / (1 + np.exp(-r[0]["score"])) for r in logits], rel=1e-6)


def test_fill_mask_errors():
    lm = minilm.MaskedLM(HEADS / "mlm", backend="numpy", max_length=6)
    with pytest.raises(InputError, match=r"texts\[0\] has no \[MASK\] token: put \[MASK\] where a word is to be filled in"):
        lm.fill_mask("a b")
    with pytest.raises(InputError, match=r"texts\[1\] has no \[MASK\] token within its first 6 tokens \(the model's max length\)"):
        lm.fill_mask(["a [MASK]", "the cat sat on the mat [MASK]"])
    with pytest.raises(ConfigError, match=r"the tokenizer has no '<mask>' token; pass mask_token="):
        minilm.MaskedLM(HEADS / "mlm", backend="numpy", mask_token="<mask>")
    with pytest.raises(ValueError, match=r"positions\[0\] must be token positions 0\.\.3 of texts\[0\]"):
        lm.logits(["a b"], positions=[[4]])
    with pytest.raises(ValueError, match="top_k must be a positive integer, got 0"):
        lm.fill_mask("a [MASK]", top_k=0)


def test_legacy_gamma_beta_names_load(tmp_path):
    folder = copy(tmp_path, "rerank")
    (folder / "pytorch_model.bin").unlink()
    tensors = load_file(str(folder / "model.safetensors"))
    renamed = {k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): v
               for k, v in tensors.items()}
    assert renamed.keys() != tensors.keys()
    save_file(renamed, str(folder / "model.safetensors"))
    a, b = minilm.CrossEncoder(folder, backend="numpy"), minilm.CrossEncoder(HEADS / "rerank", backend="numpy")
    np.testing.assert_array_equal(a.predict(PAIRS), b.predict(PAIRS))


def test_an_untied_decoder_is_used(tmp_path):
    folder = copy(tmp_path, "mlm")
    (folder / "pytorch_model.bin").unlink()
    tensors = load_file(str(folder / "model.safetensors"))
    tensors["cls.predictions.decoder.weight"] = 2 * tensors["bert.embeddings.word_embeddings.weight"]
    save_file(tensors, str(folder / "model.safetensors"))
    edit_config(folder, tie_word_embeddings=False)
    untied, tied = minilm.MaskedLM(folder, backend="numpy"), minilm.MaskedLM(HEADS / "mlm", backend="numpy")
    bias = tied.weights["cls.predictions.bias"]
    (a,), (b,) = untied.logits(["the [MASK] sat"], [[2]]), tied.logits(["the [MASK] sat"], [[2]])
    np.testing.assert_allclose(a, 2 * (b - bias) + bias, atol=1e-5)
    assert not untied.tied and tied.tied


def test_cross_encoders_resolve_like_bi_encoders(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    repo = tmp_path / "hf" / "hub" / "models--cross-encoder--ms-marco-tiny"
    snapshot = repo / "snapshots" / "0123abc"
    shutil.copytree(HEADS / "rerank", snapshot)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abc")
    assert minilm.CrossEncoder("cross-encoder/ms-marco-tiny", backend="numpy").path == snapshot
    assert minilm.CrossEncoder("ms-marco-tiny", backend="numpy").path == snapshot  # cross-encoder/ by default
    monkeypatch.setenv("MINILM_MODEL", "cross-encoder/ms-marco-tiny")
    assert minilm.CrossEncoder(None, backend="numpy").path == snapshot
    with pytest.raises(ModelNotFoundError, match=r"(?s)model 'cross-encoder/absent' not found.*Hugging Face cache: .*models--cross-encoder--absent"):
        minilm.CrossEncoder("cross-encoder/absent")


def test_the_hub_is_asked_last(tmp_path, monkeypatch):
    from minilm import sources
    calls = []

    def fake_download(repo_id):
        calls.append(repo_id)
        return copy(tmp_path, "rerank", repo_id.replace("/", "--"))

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(sources, "download", fake_download)
    assert minilm.CrossEncoder("ms-marco-remote", backend="numpy").predict(PAIRS).shape == (2,)
    assert calls == ["cross-encoder/ms-marco-remote"]


def test_llm_models_path_is_searched_after_minilm_model(tmp_path, monkeypatch):
    root = tmp_path / "models"
    copy(tmp_path / "models", "rerank", "ms-marco-MiniLM-L6-v2")
    shutil.copytree(FIXTURES / "tiny" / "mean_norm", root / "sentence-transformers" / "all-MiniLM-tiny")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("LLM_MODELS_PATH", f"{tmp_path / 'elsewhere'}:{root}")
    ce = minilm.CrossEncoder("cross-encoder/ms-marco-MiniLM-L6-v2", backend="numpy")
    assert ce.path == root / "ms-marco-MiniLM-L6-v2"  # the hub id's last part
    assert minilm.load("all-MiniLM-tiny", backend="numpy").path == root / "sentence-transformers" / "all-MiniLM-tiny"
    monkeypatch.setenv("MINILM_MODEL", str(HEADS / "nli"))
    assert minilm.CrossEncoder(None, backend="numpy").path == HEADS / "nli"  # MINILM_MODEL first
    monkeypatch.delenv("MINILM_MODEL")
    with pytest.raises(ModelNotFoundError, match=r"LLM_MODELS_PATH: \S*models/absent"):
        minilm.CrossEncoder("absent")


CROSS_ENCODER = ("this checkpoint is a cross-encoder (BertForSequenceClassification: a classifier on [CLS] that scores "
                 "a text or a pair), not a sentence-embedding model; load it with minilm.CrossEncoder")


def test_load_refuses_a_cross_encoder(tmp_path, capsys):
    with pytest.raises(ConfigError, match=re.escape(f"{HEADS / 'rerank'}: {CROSS_ENCODER}")):
        minilm.load(HEADS / "rerank")
    from minilm.cli.main import main
    assert main(["embed", "hello", "--model", str(HEADS / "nli")]) == 4
    assert CROSS_ENCODER in capsys.readouterr().err
    # as sentence-transformers' CrossEncoder.save writes it: modules.json (a Transformer, no Pooling) and
    # config_sentence_transformers.json's model_type
    saved = copy(tmp_path, "rerank")
    (saved / "modules.json").write_text(json.dumps([{"idx": 0, "name": "0", "path": "", "type":
                                                     "sentence_transformers.base.modules.transformer.Transformer"}]))
    with pytest.raises(ConfigError, match="is a cross-encoder"):
        minilm.load(saved)
    (saved / "config_sentence_transformers.json").write_text(json.dumps({"model_type": "CrossEncoder"}))
    (saved / "model.safetensors").write_bytes((HEADS / "mlm" / "model.safetensors").read_bytes())  # no classifier left
    shutil.copy(HEADS / "mlm" / "config.json", saved / "config.json")
    with pytest.raises(ConfigError, match="is a cross-encoder"):
        minilm.load(saved)


def test_a_bi_encoder_with_a_pooling_module_loads_whatever_else_it_holds(tmp_path):
    folder = copy(tmp_path, "rerank")
    (folder / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert minilm.load(folder).encode("a cat").shape == (32,)


def test_load_warns_on_a_bare_masked_lm():
    with pytest.warns(ModelWarning, match=r"a masked-LM checkpoint \(BertForMaskedLM\) with no sentence-transformers "
                                          r"modules.json: .* not trained for sentence similarity; for fill-in use minilm.MaskedLM"):
        minilm.load(HEADS / "mlm")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        minilm.load()  # the bundled bi-encoder: no warning
