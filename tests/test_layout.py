"""The package's shape: no import cycle inside ``minilm/`` (lazy imports inside functions count too), and
no module at the top level beyond the core."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "minilm"
MARK = "deliberate optional import"  # a comment on the import line exempts it (none needed today)
CORE = {"__init__", "__main__", "errors", "logs", "atomic", "provenance", "config", "presets", "sources", "tokenizer", "embedder", "loading",
        "batching", "st_compat", "compare", "export"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The minilm modules ``name`` imports, anywhere in the file: ``from .x import y`` gives the module
    ``.x.y`` when it is one, else ``.x``."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if MARK in lines[node.lineno - 1] if hasattr(node, "lineno") else False:
            continue
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(base + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        found.update(t for t in targets if t in known and t != name)
    return found


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle():
    known = modules()
    graph = {name: imports(name, path, known) for name, path in known.items()}
    assert sum(map(len, graph.values())) > 100  # the walk sees the imports
    found = cycle(graph)
    assert found is None, "import cycle: " + " -> ".join(found)


def test_the_cycle_finder_finds_one():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None


def test_lazy_imports_count(tmp_path):
    known = {"minilm.x": tmp_path / "x.py", "minilm.y": tmp_path / "y.py"}
    known["minilm.x"].write_text("def f():\n    from .y import g\n")
    assert imports("minilm.x", known["minilm.x"], known) == {"minilm.y"}


def test_top_level_holds_only_the_core():
    top = {p.stem for p in PACKAGE.glob("*.py")}
    assert top == CORE, f"modules beside the core: {sorted(top - CORE)}; missing: {sorted(CORE - top)}"


FLOORS = {  # a module under the key never imports one under any of the values
    "minilm.graph": ("minilm.models", "minilm.runtime", "minilm.checkpoints", "minilm.webnn"),
    "minilm.models": ("minilm.runtime", "minilm.webnn", "minilm.embedder", "minilm.loading"),
    "minilm.runtime": ("minilm.models", "minilm.embedder", "minilm.loading"),
}
ENGINE = ("minilm.graph", "minilm.models", "minilm.checkpoints", "minilm.runtime", "minilm.webnn", "minilm.embedder",
          "minilm.loading", "minilm.config", "minilm.tokenizer", "minilm.sources", "minilm.presets", "minilm.export",
          "minilm.tasks")
ABOVE_ENGINE = ("minilm.cli", "minilm.server", "minilm.search", "minilm.jobs")


def inside(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_a_lower_floor_never_imports_a_higher_one():
    known = modules()
    wrong = []
    for name, path in known.items():
        banned = [b for floor, higher in FLOORS.items() if inside(name, [floor]) for b in higher]
        banned += list(ABOVE_ENGINE) if inside(name, ENGINE) else []
        wrong += [f"{name} imports {t}" for t in imports(name, path, known) if inside(t, banned)]
    assert not wrong, "; ".join(wrong)
