"""Model configuration, read from a Hugging Face / sentence-transformers folder.

Field names are those of ``config.json`` (BertConfig) and of sentence-transformers'
``1_Pooling/config.json`` / ``sentence_bert_config.json`` / ``modules.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError

ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "relu")
POOLING_MODES = ("mean", "cls", "max", "mean_sqrt_len_tokens", "weightedmean", "lasttoken")
# sentence-transformers < 6 wrote one boolean per mode
POOLING_KEYS = {"pooling_mode_cls_token": "cls", "pooling_mode_mean_tokens": "mean", "pooling_mode_max_tokens": "max",
                "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
                "pooling_mode_weightedmean_tokens": "weightedmean", "pooling_mode_lasttoken": "lasttoken"}


@dataclass(frozen=True)
class BertConfig:
    """The fields of a BERT ``config.json`` that define the network."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    hidden_act: str = "gelu"
    pad_token_id: int = 0

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_attention_heads


@dataclass(frozen=True)
class PipelineConfig:
    """What sentence-transformers does around the network: length, pooling, normalisation."""

    max_seq_length: int
    pooling: str = "mean"
    normalize: bool = False
    do_lower_case: bool = False
    prompts: tuple[tuple[str, str], ...] = ()  # config_sentence_transformers.json, as (name, text) pairs
    default_prompt_name: str | None = None


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc}); restore the file from the model's original folder") from exc


def read_bert_config(folder: Path) -> BertConfig:
    path = folder / "config.json"
    try:
        raw = _read_json(path)
    except FileNotFoundError as exc:
        raise ConfigError(f"{path} is missing; a model folder needs the config.json its checkpoint came with") from exc
    if raw.get("model_type", "bert") not in ("bert",):
        raise ConfigError(f"{path}: model_type {raw['model_type']!r} is not supported; minilm runs BERT-family encoders")
    if raw.get("position_embedding_type", "absolute") != "absolute":
        raise ConfigError(f"{path}: position_embedding_type {raw['position_embedding_type']!r} is not supported (only 'absolute')")
    fields = {k: raw[k] for k in BertConfig.__dataclass_fields__ if k in raw}
    missing = [k for k in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size") if k not in fields]
    if missing:
        raise ConfigError(f"{path}: missing field(s) {', '.join(missing)}")
    config = BertConfig(**fields)
    if config.hidden_size % config.num_attention_heads:
        raise ConfigError(f"{path}: hidden_size {config.hidden_size} is not a multiple of num_attention_heads {config.num_attention_heads}")
    if config.hidden_act not in ACTIVATIONS:
        raise ConfigError(f"{path}: hidden_act {config.hidden_act!r} is not supported; use one of {ACTIVATIONS}")
    return config


def _pooling_mode(path: Path, raw: dict) -> str:
    if "pooling_mode" in raw:  # sentence-transformers >= 6 write the mode directly
        if raw["pooling_mode"] not in POOLING_MODES:
            raise ConfigError(f"{path}: pooling_mode {raw['pooling_mode']!r} is not supported; use one of {POOLING_MODES}")
        return raw["pooling_mode"]
    modes = [mode for key, mode in POOLING_KEYS.items() if raw.get(key)]
    unknown = [k for k, v in raw.items() if k.startswith("pooling_mode_") and v and k not in POOLING_KEYS]
    if unknown or len(modes) != 1:
        raise ConfigError(f"{path}: exactly one pooling mode of {POOLING_MODES} must be set, got {modes + unknown}")
    return modes[0]


def read_pipeline_config(folder: Path, bert: BertConfig) -> PipelineConfig:
    """Read modules.json, sentence_bert_config.json and the pooling config; defaults for a bare HF folder."""
    pooling, normalize = "mean", False
    modules_path = folder / "modules.json"
    if modules_path.exists():
        modules = _read_json(modules_path)
        for module in modules:
            kind = module.get("type", "").rsplit(".", 1)[-1]
            if kind == "Pooling":
                pooling_path = folder / module.get("path", "1_Pooling") / "config.json"
                if pooling_path.exists():
                    pooling = _pooling_mode(pooling_path, _read_json(pooling_path))
            elif kind == "Normalize":
                normalize = True
            elif kind not in ("Transformer", "BertModel"):
                raise ConfigError(f"{modules_path}: module {module.get('type')!r} is not supported (Transformer, Pooling, Normalize are)")
    st_path, tok_path = folder / "sentence_bert_config.json", folder / "tokenizer_config.json"
    st = _read_json(st_path) if st_path.exists() else {}
    # sentence-transformers < 6 writes max_seq_length; 6.x leaves it to the tokenizer's model_max_length
    tok_max = _read_json(tok_path).get("model_max_length") if tok_path.exists() else None
    tok_max = tok_max if isinstance(tok_max, int) and tok_max < 1_000_000 else None
    max_seq_length = int(st.get("max_seq_length") or tok_max or bert.max_position_embeddings)
    cst_path = folder / "config_sentence_transformers.json"
    cst = _read_json(cst_path) if cst_path.exists() else {}
    prompts = tuple((str(k), str(v)) for k, v in (cst.get("prompts") or {}).items())
    return PipelineConfig(max_seq_length=min(max_seq_length, bert.max_position_embeddings),
                          pooling=pooling, normalize=normalize, do_lower_case=bool(st.get("do_lower_case", False)),
                          prompts=prompts, default_prompt_name=cst.get("default_prompt_name"))


@dataclass(frozen=True)
class HeadConfig:
    """What a BertForSequenceClassification / BertForMaskedLM checkpoint says about its head (config.json),
    and the activation sentence-transformers' CrossEncoder would apply to its logits."""

    architectures: tuple[str, ...] = ()
    labels: tuple[str, ...] = ("LABEL_0", "LABEL_1")  # id2label in id order; transformers' default is two
    problem_type: str | None = None
    tie_word_embeddings: bool = True
    activation_fn: str | None = None  # a dotted torch path as the folder names it, or None (the default)
    activation_source: str = ""  # the file and key it came from


def _activation(folder: Path, raw: dict) -> tuple[str | None, str]:
    """As CrossEncoder finds it: config_sentence_transformers.json (in a folder CrossEncoder.save wrote, with
    modules.json), else config.json's ``sentence_transformers.activation_fn``, else the legacy
    ``sbert_ce_default_activation_function``."""
    st_path = folder / "config_sentence_transformers.json"
    if (folder / "modules.json").exists() and st_path.exists():
        value = _read_json(st_path).get("activation_fn")
        if value:
            return str(value), f"{st_path}: activation_fn"
    nested = raw.get("sentence_transformers")
    if isinstance(nested, dict) and nested.get("activation_fn"):
        return str(nested["activation_fn"]), f"{folder / 'config.json'}: sentence_transformers.activation_fn"
    if raw.get("sbert_ce_default_activation_function"):
        return str(raw["sbert_ce_default_activation_function"]), f"{folder / 'config.json'}: sbert_ce_default_activation_function"
    return None, ""


def read_head_config(folder: Path) -> HeadConfig:
    path = folder / "config.json"
    raw = _read_json(path)
    id2label = raw.get("id2label")
    if isinstance(id2label, dict) and id2label:
        try:
            labels = tuple(str(id2label[key]) for key in sorted(id2label, key=int))
        except ValueError as exc:
            raise ConfigError(f"{path}: id2label keys must be label ids (0, 1, ...), got {sorted(id2label)}") from exc
        if sorted(int(k) for k in id2label) != list(range(len(labels))):
            raise ConfigError(f"{path}: id2label must number its labels 0..{len(labels) - 1}, got {sorted(id2label)}")
    elif isinstance(raw.get("num_labels"), int) and raw["num_labels"] > 0:
        labels = tuple(f"LABEL_{i}" for i in range(raw["num_labels"]))
    else:
        labels = HeadConfig.labels
    activation, source = _activation(folder, raw)
    return HeadConfig(architectures=tuple(raw.get("architectures") or ()), labels=labels,
                      problem_type=raw.get("problem_type"), tie_word_embeddings=bool(raw.get("tie_word_embeddings", True)),
                      activation_fn=activation, activation_source=source)
