"""The writer's and clone's shortcuts against their plain forms: small int vectors packed with struct (instead of
numpy), packed defaults computed once per table, and clone sharing immutable values. Same bytes, same errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import shared_models

import edgequant as eq
from edgequant.errors import EdgequantError
from edgequant.flatbuffer import writer
from edgequant.quantizer import Recipe, quantize

FIX = Path(__file__).resolve().parent / "data" / "fixtures"


def _models() -> list[Path]:
    return sorted(FIX.glob("*.tflite")) + shared_models()


@pytest.mark.parametrize("path", _models(), ids=lambda p: p.stem)
def test_struct_vectors_write_the_bytes_numpy_writes(path, monkeypatch):
    m = eq.load_file(path)
    fast = eq.save(m)
    monkeypatch.setattr(writer, "_INT_VECTOR", {})  # every vector through numpy, as before
    assert eq.save(m) == fast


def test_odd_int_vector_elements_take_the_numpy_path():
    m = eq.load_file(FIX / "digits_cnn.tflite")
    t = m.main.tensors[0]
    want = eq.save(m)
    t.shape = [np.int64(v) for v in t.shape]  # numpy integers: struct takes them via __index__
    assert eq.save(m) == want
    t.shape = [float(v) for v in t.shape]  # floats: struct refuses, numpy casts them as it always did
    assert eq.save(m) == want
    t.shape = [True] + list(t.shape[1:])
    shape_1 = eq.save(m)
    t.shape = [1] + list(t.shape[1:])
    assert shape_1 == eq.save(m)
    t.shape = [2**40]  # out of int32's range: the numpy error, not a struct one
    with pytest.raises((OverflowError, EdgequantError)):
        eq.save(m)


def test_clone_copies_lists_and_arrays_and_shares_strings():
    m = quantize(eq.load_file(FIX / "digits_resnet.tflite"), Recipe.preset("dynamic_int8"), None)
    c = m.clone()
    assert eq.save(c) == eq.save(m)
    t, u = m.main.tensors[0], c.main.tensors[0]
    assert u is not t and u.shape == t.shape and u.shape is not t.shape and u.name is t.name
    u.shape[0] = 7
    assert t.shape[0] != 7
    q, qc = next((a.quantization, b.quantization) for a, b in zip(m.main.tensors, c.main.tensors)
                 if a.quantization is not None and a.quantization.scale is not None)
    assert qc is not q and np.array_equal(qc.scale, q.scale)
    if q.scale.flags.writeable:
        assert qc.scale is not q.scale
