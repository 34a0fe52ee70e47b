"""Thread counts above 4x the cores are refused: exit 2 in the command line, ValueError in Python, before anything starts."""

from __future__ import annotations

import pytest

import minilm
from minilm.cli.main import main
from minilm.graph import GraphBuilder
from minilm.runtime import make_executor, max_threads
from minilm.runtime.ort import default_threads


def test_the_bound_is_four_times_the_cores():
    assert max_threads() == 4 * default_threads()


@pytest.mark.parametrize("argv", [
    ["embed", "a", "--threads", "10000"],
    ["similarity", "a", "b", "--threads", "10000"],
    ["serve", "--workers", "10000"],
    ["webnn", "run", "g.webnn", "--output-dir", "out", "--threads", "10000"],
    ["index", "build", "--input", "x.txt", "--out", "x.idx", "--threads", "10000"],
])
def test_cli_refuses_with_exit_2_and_says_the_bound(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"at most {max_threads()} (4 x the {default_threads()} cores this process may use), got 10000" in err


@pytest.mark.parametrize("value", ["0", "-3", "many"])
def test_webnn_run_threads_must_be_positive(value, capsys):
    assert main(["webnn", "run", "g.webnn", "--output-dir", "out", "--threads", value]) == 2
    assert "expected a positive integer" in capsys.readouterr().err


def test_api_refuses_before_loading():
    with pytest.raises(ValueError, match=rf"threads must be at most {max_threads()} \(4 x the {default_threads()} cores"):
        minilm.load("/nonexistent/model", threads=10_000)  # refused before the model is looked for
    g = GraphBuilder()
    x = g.input("x", "float32", [2])
    graph = g.build({"y": g.relu(x)})
    for backend in ("numpy", "onnxruntime"):
        with pytest.raises(ValueError, match="threads must be at most"):
            make_executor(backend, graph, threads=10_000)
    assert make_executor("numpy", graph, threads=max_threads()).threads == max_threads()
