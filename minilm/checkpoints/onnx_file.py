"""Reading the weights of an exported BERT ``.onnx`` file into Hugging Face tensor names.

Named initializers (torch.onnx.export, optimum) keep their names, less a known prefix. Anonymous
MatMul weights (``onnx::MatMul_470``) are named by walking the graph: the Add that follows each
MatMul carries a named bias (``...attention.self.query.bias``), so the weight is ``...query.weight``,
transposed from ONNX's (in, out) to nn.Linear's (out, in). The head count is read from the
(B, T, heads, head_size) Reshape targets, the LayerNorm epsilon from the LayerNormalization nodes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import CheckpointError


def _constant_values(graph) -> dict:
    from onnx import numpy_helper
    values = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    values[node.output[0]] = numpy_helper.to_array(attr.t)
    return values


def read_onnx_weights(path: Path) -> tuple[dict[str, np.ndarray], int | None, float]:
    """(tensors by checkpoint name, number of attention heads if the graph says, LayerNorm epsilon)."""
    import onnx
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # onnx raises DecodeError and friends
        raise CheckpointError(f"{path}: not a readable ONNX model ({exc}); re-export it") from exc
    graph = model.graph
    values = _constant_values(graph)
    named = {t.name: values[t.name] for t in graph.initializer}
    tensors = {k: v for k, v in named.items() if not k.startswith("onnx::")}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for i in node.input:
            consumers.setdefault(i, []).append(node)
    for node in graph.node:
        if node.op_type != "MatMul" or node.input[1] not in named or not node.input[1].startswith("onnx::"):
            continue
        for add in consumers.get(node.output[0], []):
            bias = next((i for i in add.input if i.endswith(".bias") and i in named), None)
            if add.op_type == "Add" and bias:
                tensors[bias[: -len("bias")] + "weight"] = np.ascontiguousarray(named[node.input[1]].T)
    if not tensors:
        raise CheckpointError(f"{path}: no BERT weights found among its initializers")
    return tensors, _heads(graph, values), _layer_norm_eps(graph)


def _heads(graph, values: dict) -> int | None:
    """Heads from the first Reshape to (B, T, heads, head_size), constant or built by Concat."""
    producers = {o: n for n in graph.node for o in n.output}
    for node in graph.node:
        if node.op_type != "Reshape":
            continue
        target = node.input[1]
        if target in values:
            dims = [int(d) for d in np.atleast_1d(values[target])]
        elif target in producers and producers[target].op_type == "Concat":
            parts = [values.get(i) for i in producers[target].input]
            dims = [int(np.atleast_1d(p)[0]) if p is not None and np.size(p) == 1 else -1 for p in parts]
        else:
            continue
        if len(dims) == 4 and dims[2] > 0 and dims[3] > 0:
            return dims[2]
    return None


def _layer_norm_eps(graph) -> float:
    for node in graph.node:
        if node.op_type == "LayerNormalization":
            return next((a.f for a in node.attribute if a.name == "epsilon"), 1e-5)
    return 1e-12


def infer_config(path: Path, tensors: dict[str, np.ndarray], heads: int | None, eps: float, preset=None):
    """A BertConfig from the weights' shapes (heads from the graph, else the preset)."""
    from ..config import BertConfig

    def shape(name: str) -> tuple[int, ...]:
        if name not in tensors:
            raise CheckpointError(f"{path}: tensor {name!r} not found (named or behind a MatMul + bias Add)")
        return tensors[name].shape

    vocab, hidden = shape("embeddings.word_embeddings.weight")
    layers = 1 + max((int(k.split(".")[2]) for k in tensors if k.startswith("encoder.layer.")), default=-1)
    heads = heads or (preset.num_attention_heads if preset else None)
    if heads is None:
        raise CheckpointError(f"{path}: cannot tell the number of attention heads from the graph; "
                              f"name the file after a known model (e.g. paraphrase-MiniLM-L3-v2.onnx) or put a config.json beside it")
    return BertConfig(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                      intermediate_size=shape("encoder.layer.0.intermediate.dense.weight")[0],
                      max_position_embeddings=shape("embeddings.position_embeddings.weight")[0],
                      type_vocab_size=shape("embeddings.token_type_embeddings.weight")[0],
                      layer_norm_eps=eps)
