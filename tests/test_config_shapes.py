"""Model config files that are valid JSON of the wrong shape: ConfigError naming the file and the field (exit 4)."""

from __future__ import annotations

import json

import pytest

import minilm
from minilm.cli.main import main
from minilm.errors import ConfigError
from tinymodel import CONFIG, write_tiny_model


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return write_tiny_model(tmp_path_factory.mktemp("base"))


@pytest.fixture
def folder(base, tmp_path):
    out = tmp_path / "model"
    out.mkdir()
    for item in base.iterdir():
        (out / item.name).write_bytes(item.read_bytes())
    (out / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]))
    (out / "1_Pooling").mkdir()
    (out / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_mean_tokens": True}))
    (out / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 16}))
    return out


CASES = [
    ("config.json", [1, 2, 3], "config.json: must be a JSON object, got a list"),
    ("config.json", dict(CONFIG, hidden_size="16"), "config.json: field 'hidden_size' must be an integer, got str '16'"),
    ("config.json", dict(CONFIG, num_attention_heads=0), "config.json: field 'num_attention_heads' must be at least 1, got 0"),
    ("config.json", dict(CONFIG, vocab_size=True), "config.json: field 'vocab_size' must be an integer, got bool True"),
    ("config.json", dict(CONFIG, layer_norm_eps="1e-12"), "config.json: field 'layer_norm_eps' must be a number, got str"),
    ("config.json", dict(CONFIG, hidden_act=["gelu"]), "config.json: field 'hidden_act' must be a string, got list"),
    ("config.json", dict(CONFIG, model_type=7), "config.json: field 'model_type' must be a string, got int"),
    ("modules.json", {"a": 1}, "modules.json: must be a JSON list of modules, got an object"),
    ("modules.json", [1], "modules.json: modules[0] must be an object, got int"),
    ("modules.json", [{"type": 5}], "modules.json: field 'modules[0].type' must be a string, got int"),
    ("modules.json", [{"type": "sentence_transformers.models.Pooling", "path": 3}],
     "modules.json: field 'modules[0].path' must be a string, got int"),
    ("1_Pooling/config.json", [1], "1_Pooling/config.json: must be a JSON object, got a list"),
    ("1_Pooling/config.json", {"pooling_mode": 3}, "1_Pooling/config.json: pooling_mode 3 is not supported"),
    ("sentence_bert_config.json", [1], "sentence_bert_config.json: must be a JSON object, got a list"),
    ("sentence_bert_config.json", {"max_seq_length": "abc"},
     "sentence_bert_config.json: field 'max_seq_length' must be an integer, got str 'abc'"),
    ("sentence_bert_config.json", {"max_seq_length": 0}, "sentence_bert_config.json: field 'max_seq_length' must be at least 1"),
    ("tokenizer_config.json", [1], "tokenizer_config.json: must be a JSON object, got a list"),
    ("config_sentence_transformers.json", [1], "config_sentence_transformers.json: must be a JSON object, got a list"),
    ("config_sentence_transformers.json", {"prompts": ["q"]},
     "config_sentence_transformers.json: field 'prompts' must be an object of name -> text, got list"),
    ("config_sentence_transformers.json", {"prompts": {"q": 1}},
     "config_sentence_transformers.json: field 'prompts.q' must be a string, got int"),
    ("config_sentence_transformers.json", {"default_prompt_name": 1},
     "config_sentence_transformers.json: field 'default_prompt_name' must be a string, got int"),
]


@pytest.mark.parametrize("name, content, message", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_wrong_shape_is_a_config_error_naming_file_and_field(folder, name, content, message):
    (folder / name).write_text(json.dumps(content))
    with pytest.raises(ConfigError) as info:
        minilm.load(folder, backend="numpy")
    assert str(folder / name) in str(info.value) and message in str(info.value)


def test_cli_exits_4_with_the_message(folder, capsys):
    (folder / "config.json").write_text("[1, 2, 3]")
    assert main(["info", "--model", str(folder)]) == 4
    err = capsys.readouterr().err
    assert "config.json: must be a JSON object, got a list" in err and "Traceback" not in err
    (folder / "config.json").write_text(json.dumps(CONFIG))
    (folder / "sentence_bert_config.json").write_text('{"max_seq_length": "abc"}')
    assert main(["embed", "--model", str(folder), "--backend", "numpy", "hello"]) == 4  # was 2 (a ValueError)
    assert "field 'max_seq_length' must be an integer" in capsys.readouterr().err


def test_the_good_folder_loads(folder):
    model = minilm.load(folder, backend="numpy")
    assert model.max_length == 16 and model.pipeline.pooling == "mean"


def test_json_past_the_readers_limits_is_a_config_error(folder):
    (folder / "config.json").write_text('{"vocab_size": ' + "3" * 5000 + "}")
    with pytest.raises(ConfigError, match="config.json: not valid JSON"):
        minilm.load(folder, backend="numpy")
    (folder / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ConfigError, match="config.json: not valid JSON"):
        minilm.load(folder, backend="numpy")
