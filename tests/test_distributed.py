"""The Ray engine: a local Ray gives the same rows, in the same order, as one process.

The local Ray has 3 logical CPUs: two model actors (one CPU each) plus one for reading and writing.
Ray Data cannot make progress when the actors hold every CPU, which is why ``--workers`` defaults to
the cluster's CPUs minus one.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import cosine_rows

ray = pytest.importorskip("ray")
pa = pytest.importorskip("pyarrow")
import pyarrow.parquet as pq  # noqa: E402

from minilm.cli.main import main  # noqa: E402
from minilm.errors import InputError  # noqa: E402

TEXTS = [f"sentence {i}: {'the cat sat on the mat' if i % 3 else 'stock prices fell sharply'} {'!' * (i % 5)}"
         for i in range(300)] + ["", "ünïcödé ✓", "a " * 400]


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=3, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    yield
    ray.shutdown()


def read_rows(folder) -> pa.Table:
    files = sorted(p for p in folder.iterdir() if p.suffix == ".parquet")
    return pa.concat_tables([pq.read_table(p) for p in files])


def test_ray_output_equals_local_row_for_row(tmp_path, local_ray, ort_embedder, capsys):
    src = tmp_path / "in"
    src.mkdir()
    for part in range(3):  # three input files: order across files must hold too
        rows = list(range(part * 101, min(len(TEXTS), (part + 1) * 101)))
        pq.write_table(pa.table({"id": rows, "text": [TEXTS[i] for i in rows]}), src / f"part-{part}.parquet")
    out = tmp_path / "out"
    assert main(["embed", "--engine", "ray", "--input", str(src), "--output", str(out), "--workers", "2",
                 "--chunk-size", "64"]) == 0  # 5 calls shared by two actors
    assert f"wrote {len(TEXTS)} rows" in capsys.readouterr().err
    table = read_rows(out)
    names = sorted(p.name for p in out.iterdir() if p.suffix == ".parquet")
    assert len(names) >= 2 and names == [f"part-{i:06}.parquet" for i in range(len(names))]  # one per block, in order
    assert table.column("id").to_pylist() == list(range(len(TEXTS)))
    assert table.column("text").to_pylist() == TEXTS
    vectors = np.asarray(table.column("embedding").to_pylist(), np.float32)
    local = ort_embedder.encode(TEXTS)
    assert cosine_rows(vectors, local).min() > 0.999999
    np.testing.assert_allclose(vectors, local, atol=2e-6)


def test_ray_reads_jsonl_and_glob_and_reports_bad_input(tmp_path, local_ray, ort_embedder, capsys):
    (tmp_path / "a.jsonl").write_text('{"body": "first"}\n{"body": "second"}\n')
    out = tmp_path / "out"
    assert main(["embed", "--engine", "ray", "--input", str(tmp_path / "*.jsonl"), "--output", str(out),
                 "--column", "body"]) == 0
    table = read_rows(out)
    np.testing.assert_allclose(np.asarray(table.column("embedding").to_pylist()), ort_embedder.encode(["first", "second"]),
                               atol=2e-6)
    assert main(["embed", "--engine", "ray", "--input", str(tmp_path / "none*.parquet"), "--output", str(out)]) == 5
    assert "no such file, folder or matching files" in capsys.readouterr().err
    assert main(["embed", "--engine", "ray", "--input", "x.parquet"]) == 2
    with pytest.raises(InputError):
        from minilm.jobs.distributed import read
        read(str(tmp_path / "missing"))
