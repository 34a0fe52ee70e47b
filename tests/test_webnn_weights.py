"""The .weights file and its manifest: round trip, memory mapping, and one clear error per kind of damage."""

import json
import struct

import numpy as np
import pytest

from minilm.errors import CheckpointError
from minilm.webnn.weights import read_manifest, read_weights, unpack, write_weights

ARRAYS = {"encoder.w": np.arange(12, dtype=np.float32).reshape(3, 4), "ids": np.array([1, -2], np.int64),
          "half": np.array([0.5, -1.5, 2], np.float16), "bytes": np.array([1, 2, 255], np.uint8),
          "i32": np.array([[7]], np.int32), "empty": np.zeros((0, 4), np.float32)}


@pytest.fixture
def files(tmp_path):
    weights, manifest = tmp_path / "m.weights", tmp_path / "manifest.json"
    write_weights(ARRAYS, weights, manifest)
    return weights, manifest


def test_round_trip_is_exact_and_memory_mapped(files):
    weights, manifest = files
    data = weights.read_bytes()
    assert data[:4] == b"WGWT" and struct.unpack("<I", data[4:8]) == (1,)
    entries = read_manifest(manifest)
    assert entries["encoder.w"] == {"dataType": "float32", "shape": [3, 4], "byteOffset": 8, "byteLength": 48,
                                    "layout": "row-major"}
    arrays = read_weights(weights, entries)
    for key, array in ARRAYS.items():
        assert arrays[key].dtype == array.dtype and np.array_equal(arrays[key], array), key
    assert not arrays["encoder.w"].flags.writeable  # a read-only view of the mapped file, not a copy


def _edit_manifest(manifest, edit):
    data = json.loads(manifest.read_text())
    edit(data)
    manifest.write_text(json.dumps(data))


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.update(format="other"), "'format' must be 'wg-weights-manifest'"),
    (lambda d: d.update(version=2), "manifest version 2 is not supported"),
    (lambda d: d.update(endianness="big"), "endianness 'big' is not supported"),
    (lambda d: d.update(tensors=[]), "'tensors' must be an object"),
    (lambda d: d["tensors"]["ids"].update(dataType="float64"), "tensor 'ids': dataType 'float64'"),
    (lambda d: d["tensors"]["ids"].update(shape=[2, -1]), "tensor 'ids': shape must be a list of non-negative"),
    (lambda d: d["tensors"]["ids"].update(byteLength=8), "tensor 'ids': byteLength 8 != 16"),
    (lambda d: d["tensors"]["ids"].update(byteOffset=4), "tensor 'ids': byteOffset 4 points into the 8-byte header"),
    (lambda d: d["tensors"]["ids"].update(byteOffset="8"), "tensor 'ids': byteOffset must be a non-negative integer"),
    (lambda d: d["tensors"]["ids"].update(layout="column-major"), "layout 'column-major' is not supported"),
])
def test_bad_manifest_names_key_and_problem(files, edit, message):
    _, manifest = files
    _edit_manifest(manifest, edit)
    with pytest.raises(CheckpointError, match=message):
        read_manifest(manifest)


def test_manifest_that_is_not_json(tmp_path):
    path = tmp_path / "manifest.json"
    path.write_text('{"format": ')
    with pytest.raises(CheckpointError, match="not JSON .* line 1 column"):
        read_manifest(path)
    path.write_bytes(b"WGWT\x01\x00\x00\x00\xff\xfe")
    with pytest.raises(CheckpointError, match="not UTF-8"):
        read_manifest(path)


@pytest.mark.parametrize("damage, message", [
    (lambda b: b"WGWX" + b[4:], "not a WebNN .weights file"),
    (lambda b: b[:4] + struct.pack(">I", 1) + b[8:], "version 16777216 is not supported"),
    (lambda b: b[:5], "too short for the WGWT header"),
    (lambda b: b[:-10], "ends at byte .* the file is truncated"),
])
def test_damaged_weights_file(files, damage, message):
    weights, manifest = files
    weights.write_bytes(damage(weights.read_bytes()))
    with pytest.raises(CheckpointError, match=message):
        read_weights(weights, read_manifest(manifest))


def test_overlapping_tensors(files):
    weights, manifest = files
    _edit_manifest(manifest, lambda d: d["tensors"]["i32"].update(byteOffset=8))
    with pytest.raises(CheckpointError, match="overlap"):
        read_weights(weights, read_manifest(manifest))


def test_int4_nibbles_unpack_low_first_and_sign_extend():
    packed = np.array([0x21, 0xF8], np.uint8)
    assert unpack(packed, "int4", [4]).tolist() == [1, 2, -8, -1]
    assert unpack(packed, "uint4", [3]).tolist() == [1, 2, 8]
    assert unpack(packed, "int4", [2, 2]).dtype == np.int8


def test_writer_refuses_dtypes_webnn_lacks(tmp_path):
    with pytest.raises(ValueError, match="float64 has no WebNN data type"):
        write_weights({"x": np.zeros(2)}, tmp_path / "w", tmp_path / "m")
