"""Rewrites of a lowered ONNX model shared by the precision passes: put a node list in place (pruned), and
fold the transposes of weights into the weights themselves."""

from __future__ import annotations


def fold_weight_transposes(model):
    """``model`` (ModelProto, changed in place) with every ``Transpose`` of a weight that feeds ``MatMul``s
    replaced by the transposed weight (``<name>.T``), and each such unnamed MatMul named after its
    weight (``encoder.layer.0.intermediate.dense``): the unfused lowering writes ``nn.Linear`` as
    ``MatMul(x, Transpose(W))``, which ``quantize_dynamic`` would leave float32 (it quantises MatMuls
    of constant weights) and ``sensitive`` could not name."""
    from onnx import numpy_helper

    inits = {t.name: t for t in model.graph.initializer}
    users: dict[str, list] = {}
    for n in model.graph.node:
        for x in n.input:
            users.setdefault(x, []).append(n)
    keep = []
    for n in model.graph.node:
        source = n.input[0] if n.op_type == "Transpose" else None
        consumers = users.get(n.output[0], []) if source in inits else []
        if not consumers or any(c.op_type != "MatMul" or c.input[1] != n.output[0] for c in consumers):
            keep.append(n)
            continue
        perm = next((list(a.ints) for a in n.attribute if a.name == "perm"), None)
        name = source + ".T"
        if name not in inits:
            inits[name] = numpy_helper.from_array(numpy_helper.to_array(inits[source]).transpose(perm).copy(), name)
            model.graph.initializer.append(inits[name])
        for c in consumers:
            c.input[1] = name
    return replace_nodes(model, keep)


def replace_nodes(model, nodes: list):
    """``model`` with ``nodes`` as its node list, pruned by ``fusion.prune`` (initializers no node uses
    dropped; each MatMul of a ``<checkpoint name>.weight.T`` named after it)."""
    from .fusion import prune

    nodes, initializers = prune(list(nodes), list(model.graph.initializer), [o.name for o in model.graph.output])
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    del model.graph.initializer[:]
    model.graph.initializer.extend(initializers)
    return model
