"""benchmarks/perf.py cannot rot: a tiny run with only minilm's methods (no torch), plus its pure parts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))
import peers  # noqa: E402
import perf  # noqa: E402
import perf_report  # noqa: E402
from perf_child import query_indices  # noqa: E402


def write_corpus(folder: Path) -> list[str]:
    folder.mkdir()
    words = "cats dogs python numpy graphs vectors search tokens models speed".split()
    short = [" ".join(words[i % 10:] + words[: i % 3]) for i in range(12)]
    for name, texts in (("short", short), ("long", [" ".join(short)] * 2)):
        lines = [json.dumps({"id": i, "text": t}) for i, t in enumerate(texts)]
        (folder / f"{name}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return short


def test_tiny_run_of_minilm_methods(tmp_path):
    short_texts = write_corpus(tmp_path / "corpus")
    out, png = tmp_path / "perf.json", tmp_path / "perf.png"
    env = {**os.environ, "PYTHONPATH": str(BENCH.parent), "HF_HUB_OFFLINE": "1"}
    argv = [sys.executable, str(BENCH / "perf.py"), "--corpus", str(tmp_path / "corpus"), "--short", "12",
            "--long", "2", "--methods", "minilm,minilm-int8", "--queries", "4", "--cold-runs", "1",
            "--workdir", str(tmp_path / "work"), "--json", str(out), "--chart", str(png)]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| minilm | short | 12 |" in done.stdout and "Targets (issue #3):" in done.stdout
    rows = {(r["method"], r["corpus"]): r for r in json.loads(out.read_text())["rows"]}
    short = rows[("minilm", "short")]
    assert short["texts_per_s"] > 0 and short["rss_mb"] > 0 and short["p50_ms"] > 0 and short["cold_s"] > 0
    assert rows[("minilm", "long")]["texts"] == 2
    int8 = rows[("minilm-int8", "short")]
    assert "texts_per_s" in int8 or "n/a" in int8["note"]  # n/a until minilm.load takes quantize=
    if "texts_per_s" in int8:  # against minilm fp32, the fallback reference: the same numbers computed here
        import minilm
        fp32, quant = (minilm.load(threads=2, quantize=q).encode(short_texts) for q in (None, "int8"))
        cos = perf.cosines(quant, fp32)
        assert int8["min_cos"] == pytest.approx(cos.min(), abs=1e-5) and int8["mean_cos"] == pytest.approx(cos.mean(), abs=1e-5)
        assert 0.99 <= int8["min_cos"] < 0.99999  # int8 is close to float32, and not float32 itself
        assert int8["overlap10"] == perf.overlap10(quant, fp32, query_indices(12, 4))
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert not png.exists()
    else:
        assert png.read_bytes()[:4] == b"\x89PNG"


def test_queries_are_fixed_and_spread():
    q = query_indices(10_000, 200)
    assert len(q) == 200 and q[0] == 0 and q[-1] == 9_999 and np.array_equal(q, query_indices(10_000, 200))
    assert list(query_indices(3, 200)) == [0, 1, 2]


def test_top10_excludes_the_query_itself():
    v = np.random.default_rng(0).standard_normal((50, 8)).astype(np.float32)
    q = query_indices(50, 5)
    hits = perf.top10(v, q)
    assert hits.shape == (5, 10) and not any(i in row for i, row in zip(q, hits))
    assert perf.overlap10(v, v, q) == 1.0
    tied = np.vstack([v, v[:10]])  # duplicates tie with their originals: either counts as a hit
    assert perf.overlap10(tied, tied + 1e-9, query_indices(60, 5)) == 1.0
    assert perf.overlap10(np.random.default_rng(1).standard_normal((50, 8)), v, q) < 0.6


def test_targets_pass_and_fail_from_numbers():
    def row(method, corpus, **kw):
        return {"method": method, "corpus": corpus, **kw}

    table = [row("ort-fp32", "short", texts_per_s=100.0, p50_ms=10.0), row("ort-fp32", "long", texts_per_s=10.0),
             row("minilm", "short", texts_per_s=130.0, min_cos=0.999995, mean_cos=1.0, p50_ms=6.0, cold_s=1.5, rss_mb=250.0),
             row("minilm", "long", texts_per_s=11.0, min_cos=0.99, mean_cos=0.999)]
    lines = perf_report.targets(table, {"reference": "sentence-transformers", "queries": 200, "cold_runs": 5})
    text = "\n".join(lines)
    assert "PASS: minilm >= 1.2x ort-fp32 texts/s on short: 1.30x" in text
    assert "FAIL: minilm >= 1.2x ort-fp32 texts/s on long: 1.10x" in text
    assert "FAIL: minilm min cosine on long" in text and "PASS: minilm min cosine on short" in text
    assert "PASS: minilm batch-1 p50" in text and "FAIL: `minilm embed hello` cold start" in text
    assert "PASS: minilm peak RSS" in text and "n/a: minilm-int8 >= 1.2x ort-int8 texts/s on short" in text


def test_bf16_targets_from_numbers():
    def row(method, corpus, **kw):
        return {"method": method, "corpus": corpus, **kw}

    table = [row("ort-fp32", "short", texts_per_s=100.0, p50_ms=10.0), row("ort-fp32", "long", texts_per_s=10.0),
             row("st-openvino", "short", texts_per_s=140.0), row("st-openvino", "long", texts_per_s=50.0),
             row("minilm-bf16", "short", texts_per_s=450.0, min_cos=0.99995, overlap10=0.995, p50_ms=6.5, rss_mb=280.0,
                 cold_s=1.2),
             row("minilm-bf16", "long", texts_per_s=55.0, min_cos=0.99989)]
    text = "\n".join(perf_report.targets_bf16(table, {"cpu_flags": ["avx2", "amx_bf16"]}))
    assert "PASS: minilm-bf16 >= 3.0x st-openvino texts/s on short: 3.21x" in text
    assert "FAIL: minilm-bf16 >= 1.3x st-openvino texts/s on long: 1.10x" in text
    assert "PASS: minilm-bf16 >= 4.0x ort-fp32 texts/s on short: 4.50x" in text
    assert "FAIL: minilm-bf16 >= 6.0x ort-fp32 texts/s on long: 5.50x" in text
    assert "PASS: minilm-bf16 min cosine on short" in text and "FAIL: minilm-bf16 min cosine on long" in text
    assert "PASS: minilm-bf16 top-10 overlap >= 0.99: 0.9950" in text
    assert "PASS: auto (minilm-bf16) batch-1 p50 <= 0.7x ort-fp32's: 6.5 ms vs 10.0 ms (0.65x)" in text
    assert "PASS: minilm-bf16 peak RSS" in text and "FAIL: `minilm embed --precision bf16 hello` cold start" in text
    no_amx = "\n".join(perf_report.targets_bf16(table, {"cpu_flags": ["avx2"]}))
    assert "this CPU has no AMX" in no_amx and "n/a: auto (minilm) batch-1 p50" in no_amx  # minilm has no row here


def test_peers_without_an_export_are_unavailable_not_errors(tmp_path):
    ctx = SimpleNamespace(model_dir=tmp_path, files=None, threads=1, max_length=256)
    for method in ("ort-fp32", "ort-int8"):
        with pytest.raises(peers.Unavailable):
            peers.METHODS[method](ctx)


def test_a_missing_package_is_named_with_its_pip_command():
    with pytest.raises(peers.Unavailable, match="not installed: pip install no-such-package"):
        peers._need("no_such_module_for_minilm_bench", "no-such-package")
