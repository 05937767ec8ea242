"""LiteRT Python-API parity of edgequant.Interpreter, held against ai_edge_litert where it has the same call."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgequant.errors import EdgequantError
from edgequant.interpreter import Interpreter

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "tests" / "data" / "fixtures" / "digits_cnn.tflite"
MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"


def _shared(name: str) -> Path:
    p = MODELS / name
    if not p.exists():
        pytest.skip(f"{p} not available (shared models absent)")
    return p


def _litert(path: Path):
    lite = pytest.importorskip("ai_edge_litert.interpreter")
    return lite.Interpreter(model_path=str(path), experimental_op_resolver_type=lite.OpResolverType.BUILTIN_REF)


def test_run_takes_signature_input_names_on_the_signatures_subgraph():
    """litert_multi_signature_model: subgraph 1 is signature 'mul' with inputs 'a' and 'b'."""
    path = _shared("litert_multi_signature_model.tflite")
    it = Interpreter(path)
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((10, 10)).astype(np.float32) for _ in range(2))
    got = it.run({"a": a, "b": b}, subgraph=1)[0]
    by_tensor = it.run({"mul_a:0": a, "mul_b:0": b}, subgraph=1)[0]
    np.testing.assert_array_equal(got, by_tensor)
    ref = _litert(path).get_signature_runner("mul")
    np.testing.assert_array_equal(got, ref(a=a, b=b)["output"])
    # a and b are not swapped: subtraction tells them apart
    np.testing.assert_array_equal(it.run({"a": a, "b": b}, subgraph=2)[0],
                                  _litert(path).get_signature_runner("sub")(a=a, b=b)["output"])


def test_run_dict_error_lists_tensor_and_signature_names():
    it = Interpreter(_shared("litert_multi_signature_model.tflite"))
    x = np.zeros((10, 10), np.float32)
    with pytest.raises(EdgequantError, match=r"'c' is not an input.*tensor names: \['mul_b:0', 'mul_a:0'\]; "
                                             r"signature input names: \['a', 'b'\]"):
        it.run({"a": x, "c": x}, subgraph=1)
    with pytest.raises(EdgequantError, match="given twice"):
        it.run({"a": x, "mul_a:0": x, "b": x}, subgraph=1)


def test_run_takes_the_digits_signature_name():
    it = Interpreter(DIGITS)
    x = np.random.default_rng(1).standard_normal((5, 8, 8, 1)).astype(np.float32)
    np.testing.assert_array_equal(it.run({"image": x})[0], it.run({"serving_default_image:0": x})[0])


def _same_details(ours: dict, theirs: dict) -> None:
    """Two tensor-details dicts agree on what a caller reads (LiteRT's quantization arrays compared by value)."""
    assert set(ours) == set(theirs), (set(ours) ^ set(theirs))
    for key in ("name", "index", "dtype", "quantization", "sparsity_parameters"):
        assert ours[key] == theirs[key], (key, ours[key], theirs[key])
    for key in ("shape", "shape_signature"):
        np.testing.assert_array_equal(ours[key], theirs[key], err_msg=f"{ours['name']} {key}")
    for key, v in theirs["quantization_parameters"].items():
        np.testing.assert_array_equal(ours["quantization_parameters"][key], v, err_msg=key)


@pytest.mark.parametrize("name", ["litert_multi_signature_model.tflite", "digits_cnn"])
def test_signature_runner_details_equal_litert(name: str):
    """SignatureRunner.get_input_details / get_output_details: keyed by the signature's names, as LiteRT's."""
    path = DIGITS if name == "digits_cnn" else _shared(name)
    ref = _litert(path)
    ours = Interpreter(path)
    assert ours.get_signature_list() == ref.get_signature_list()
    for key in ref.get_signature_list():
        mine, theirs = ours.get_signature_runner(key), ref.get_signature_runner(key)
        for got, want in ((mine.get_input_details(), theirs.get_input_details()),
                          (mine.get_output_details(), theirs.get_output_details())):
            assert list(got) == list(want)
            for k in want:
                _same_details(got[k], want[k])
