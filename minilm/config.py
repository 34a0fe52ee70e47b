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
    modules: tuple[str, ...] | None = None  # the module kinds modules.json lists (Transformer, Pooling, ...); None: no file
    model_type: str | None = None  # config_sentence_transformers.json's (CrossEncoder for a folder CrossEncoder.save wrote)


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, ValueError, RecursionError) as exc:  # ValueError: JSONDecodeError, bad UTF-8, 5000-digit ints
        raise ConfigError(f"{path}: not valid JSON ({exc}); restore the file from the model's original folder") from exc


def _got(value) -> str:
    return f"{type(value).__name__} {value!r}"


def _object(path: Path, raw) -> dict:
    """``raw`` if it is a JSON object; a ConfigError naming the file otherwise."""
    if not isinstance(raw, dict):
        kind = {list: "a list", str: "a string", type(None): "null"}.get(type(raw), type(raw).__name__)
        raise ConfigError(f"{path}: must be a JSON object, got {kind}; restore the file from the model's original folder")
    return raw


def _field(path: Path, raw: dict, key: str, kind: str, minimum: int | None = None, label: str | None = None):
    """``raw[key]`` checked to be of ``kind`` ("integer", "number", "string"), or a ConfigError naming file and field."""
    value, label = raw[key], label or key
    ok = {"integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
          "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
          "string": lambda v: isinstance(v, str)}[kind](value)
    if not ok:
        raise ConfigError(f"{path}: field {label!r} must be {'an' if kind == 'integer' else 'a'} {kind}, got {_got(value)}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{path}: field {label!r} must be at least {minimum}, got {value!r}")
    return value


REQUIRED = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")
KINDS = {"vocab_size": ("integer", 1), "hidden_size": ("integer", 1), "num_hidden_layers": ("integer", 1),
         "num_attention_heads": ("integer", 1), "intermediate_size": ("integer", 1),
         "max_position_embeddings": ("integer", 1), "type_vocab_size": ("integer", 1), "layer_norm_eps": ("number", 0),
         "hidden_act": ("string", None), "pad_token_id": ("integer", 0)}


def read_bert_config(folder: Path) -> BertConfig:
    path = folder / "config.json"
    try:
        raw = _object(path, _read_json(path))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path} is missing; a model folder needs the config.json its checkpoint came with") from exc
    for key in ("model_type", "position_embedding_type"):
        if raw.get(key) is not None:
            _field(path, raw, key, "string")
    if raw.get("model_type", "bert") not in ("bert",):
        raise ConfigError(f"{path}: model_type {raw['model_type']!r} is not supported; minilm runs BERT-family encoders")
    if raw.get("position_embedding_type", "absolute") != "absolute":
        raise ConfigError(f"{path}: position_embedding_type {raw['position_embedding_type']!r} is not supported (only 'absolute')")
    # an optional field set to null takes its default (some configs write "pad_token_id": null)
    fields = {k: raw[k] for k in BertConfig.__dataclass_fields__ if k in raw and (k in REQUIRED or raw[k] is not None)}
    missing = [k for k in REQUIRED if k not in fields]
    if missing:
        raise ConfigError(f"{path}: missing field(s) {', '.join(missing)}")
    for key in fields:
        _field(path, fields, key, *KINDS[key])
    config = BertConfig(**fields)
    if config.hidden_size % config.num_attention_heads:
        raise ConfigError(f"{path}: hidden_size {config.hidden_size} is not a multiple of num_attention_heads {config.num_attention_heads}")
    if config.hidden_act not in ACTIVATIONS:
        raise ConfigError(f"{path}: hidden_act {config.hidden_act!r} is not supported; use one of {ACTIVATIONS}")
    return config


def _pooling_mode(path: Path, raw) -> str:
    raw = _object(path, raw)
    if "pooling_mode" in raw:  # sentence-transformers >= 6 write the mode directly
        if raw["pooling_mode"] not in POOLING_MODES:
            raise ConfigError(f"{path}: pooling_mode {raw['pooling_mode']!r} is not supported; use one of {POOLING_MODES}")
        return raw["pooling_mode"]
    modes = [mode for key, mode in POOLING_KEYS.items() if raw.get(key)]
    unknown = [k for k, v in raw.items() if k.startswith("pooling_mode_") and v and k not in POOLING_KEYS]
    if unknown or len(modes) != 1:
        raise ConfigError(f"{path}: exactly one pooling mode of {POOLING_MODES} must be set, got {modes + unknown}")
    return modes[0]


def _modules(folder: Path) -> tuple[str, bool, tuple[str, ...] | None]:
    """(pooling mode, normalize, the module kinds listed; None without modules.json) from modules.json and
    the Pooling module's config."""
    pooling, normalize, kinds = "mean", False, []
    path = folder / "modules.json"
    if not path.exists():
        return pooling, normalize, None
    modules = _read_json(path)
    if not isinstance(modules, list):
        kind = "an object" if isinstance(modules, dict) else type(modules).__name__
        raise ConfigError(f"{path}: must be a JSON list of modules, got {kind}; restore the file from the model's original folder")
    for i, module in enumerate(modules):
        if not isinstance(module, dict):
            raise ConfigError(f"{path}: modules[{i}] must be an object, got {type(module).__name__}")
        for key in ("type", "path"):
            if key in module:
                _field(path, module, key, "string", label=f"modules[{i}].{key}")
        kind = module.get("type", "").rsplit(".", 1)[-1]
        kinds.append(kind)
        if kind == "Pooling":
            pooling_path = folder / module.get("path", "1_Pooling") / "config.json"
            if pooling_path.exists():
                pooling = _pooling_mode(pooling_path, _read_json(pooling_path))
        elif kind == "Normalize":
            normalize = True
        elif kind not in ("Transformer", "BertModel"):
            raise ConfigError(f"{path}: module {module.get('type')!r} is not supported (Transformer, Pooling, Normalize are)")
    return pooling, normalize, tuple(kinds)


def _optional(folder: Path, name: str) -> tuple[Path, dict]:
    path = folder / name
    return path, (_object(path, _read_json(path)) if path.exists() else {})


def read_pipeline_config(folder: Path, bert: BertConfig) -> PipelineConfig:
    """Read modules.json, sentence_bert_config.json and the pooling config; defaults for a bare HF folder."""
    pooling, normalize, modules = _modules(folder)
    st_path, st = _optional(folder, "sentence_bert_config.json")
    _, tok = _optional(folder, "tokenizer_config.json")
    # sentence-transformers < 6 writes max_seq_length; 6.x leaves it to the tokenizer's model_max_length
    tok_max = tok.get("model_max_length")
    tok_max = tok_max if isinstance(tok_max, int) and tok_max < 1_000_000 else None
    st_max = _field(st_path, st, "max_seq_length", "integer", 1) if st.get("max_seq_length") is not None else None
    max_seq_length = st_max or tok_max or bert.max_position_embeddings
    cst_path, cst = _optional(folder, "config_sentence_transformers.json")
    prompts = cst.get("prompts") or {}
    if not isinstance(prompts, dict):
        raise ConfigError(f"{cst_path}: field 'prompts' must be an object of name -> text, got {type(prompts).__name__}")
    for name in prompts:
        _field(cst_path, prompts, name, "string", label=f"prompts.{name}")
    if cst.get("default_prompt_name") is not None:
        _field(cst_path, cst, "default_prompt_name", "string")
    return PipelineConfig(max_seq_length=min(max_seq_length, bert.max_position_embeddings),
                          pooling=pooling, normalize=normalize, do_lower_case=bool(st.get("do_lower_case", False)),
                          prompts=tuple(prompts.items()), default_prompt_name=cst.get("default_prompt_name"),
                          modules=modules, model_type=cst.get("model_type") if isinstance(cst.get("model_type"), str) else None)


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
        value = _object(st_path, _read_json(st_path)).get("activation_fn")
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
    raw = _object(path, _read_json(path))
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
