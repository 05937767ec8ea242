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


def _inputs(details: list[dict], batch: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for d in details:
        shape = [batch, *[int(s) for s in d["shape"][1:]]]
        if np.issubdtype(d["dtype"], np.integer):
            info = np.iinfo(d["dtype"])
            out.append(rng.integers(info.min, info.max + 1, shape).astype(d["dtype"]))
        else:
            out.append(rng.standard_normal(shape).astype(d["dtype"]))
    return out


def _same_outputs(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape and got.dtype == want.dtype
    if want.dtype.kind in "iu":
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * float(np.abs(want).max()))


def _tensor_shapes_equal(ours: Interpreter, ref) -> int:
    theirs = {d["index"]: d for d in ref.get_tensor_details()}
    checked = 0
    for d in ours.get_tensor_details():
        if d["index"] in theirs:  # LiteRT adds scratch tensors of its own
            np.testing.assert_array_equal(d["shape"], theirs[d["index"]]["shape"], err_msg=d["name"])
            checked += 1
    return checked


@pytest.mark.parametrize("name", ["mlperf_tiny_kws_dscnn_int8.tflite", "mlperf_tiny_kws_dscnn_float32.tflite",
                                  "digits_cnn"])
def test_resize_tensor_input_then_batch_like_litert(name: str):
    path = DIGITS if name == "digits_cnn" else _shared(name)
    ref, ours = _litert(path), Interpreter(path)
    d = ours.get_input_details()[0]
    new = [4, *[int(s) for s in d["shape"][1:]]]
    for it in (ref, ours):
        it.resize_tensor_input(d["index"], new)
        it.allocate_tensors()
    _same_details(ours.get_input_details()[0], ref.get_input_details()[0])
    got_out, want_out = ours.get_output_details()[0], ref.get_output_details()[0]
    if name == "digits_cnn":
        # LiteRT computes this model's flatten shape at run time (SHAPE -> PACK -> RESHAPE), so its output is
        # dynamic and keeps the old [1 10] until invoke; we report the batch that will come out
        assert list(want_out["shape"]) == [1, 10] and list(got_out["shape"]) == [4, 10]
    else:
        _same_details(got_out, want_out)
    (x,) = _inputs([d], 4, seed=5)
    for it in (ref, ours):
        it.set_tensor(d["index"], x)
        it.invoke()
    _same_details(ours.get_output_details()[0], ref.get_output_details()[0])
    assert _tensor_shapes_equal(ours, ref) == len(ours.model.main.tensors)
    _same_outputs(ours.get_tensor(got_out["index"]), ref.get_tensor(want_out["index"]))


def test_resize_rules_and_errors():
    """strict resizes only -1 dimensions (LiteRT raises too); non-strict may change a fixed batch, as LiteRT."""
    path = _shared("litert_multi_signature_model.tflite")
    ours = Interpreter(path)
    with pytest.raises(EdgequantError, match=r"cannot become \[4, 10\]: strict resizing changes only dimensions"):
        ours.resize_tensor_input(0, [4, 10], strict=True)
    with pytest.raises(RuntimeError, match="only allows mutating unknown dimensions"):
        _litert(path).resize_tensor_input(0, [4, 10], strict=True)
    with pytest.raises(EdgequantError, match="cannot become \\[10, 4\\]"):
        ours.resize_tensor_input(0, [10, 4])  # not the batch and not -1: the kernels were prepared for 10
    with pytest.raises(EdgequantError, match="rank 2"):
        ours.resize_tensor_input(0, [10, 10, 1])
    with pytest.raises(EdgequantError, match="not an input"):
        ours.resize_tensor_input(2, [4, 10])
    ref = _litert(path)
    for it in (ours, ref):
        for i in (0, 1):
            it.resize_tensor_input(i, [4, 10])
        it.allocate_tensors()
    xs = _inputs(ours.get_input_details(), 4, seed=2)
    with pytest.raises(EdgequantError, match=r"has shape \[4, 10\], got \[10, 10\]"):
        ours.set_tensor(0, np.zeros((10, 10), np.float32))  # fixed batch resized: the new shape only, as LiteRT
    for it in (ours, ref):
        for d, x in zip(it.get_input_details(), xs):
            it.set_tensor(d["index"], x)
        it.invoke()
    for a, b in zip(ours.get_output_details(), ref.get_output_details()):
        _same_details(a, b)
        _same_outputs(ours.get_tensor(a["index"]), ref.get_tensor(b["index"]))


def test_tensor_gives_the_interpreters_array_to_fill_like_litert():
    path = _shared("mlperf_tiny_kws_dscnn_int8.tflite")
    ref, ours = _litert(path), Interpreter(path)
    ref.allocate_tensors()
    d, o = ours.get_input_details()[0], ours.get_output_details()[0]
    (x,) = _inputs([d], 1, seed=9)
    for it in (ref, ours):
        it.tensor(d["index"])()[...] = x  # LiteRT's in-place fill
        it.invoke()
    np.testing.assert_array_equal(ours.tensor(o["index"])(), ref.tensor(o["index"])())
    np.testing.assert_array_equal(ours.tensor(o["index"])(), ours.get_tensor(o["index"]))
    np.testing.assert_array_equal(ours.tensor(d["index"])(), x)
    with pytest.raises(EdgequantError, match="has no value yet"):
        Interpreter(path).tensor(o["index"])()


@pytest.mark.parametrize("name", ["mlperf_tiny_kws_dscnn_int8.tflite", "digits_cnn"])
def test_set_tensor_on_a_free_batch_reports_the_shape_in_use(name: str):
    """Without resize_tensor_input (LiteRT refuses this set_tensor; we take it, see the class docstring): the
    details then say what LiteRT says after resize_tensor_input + allocate_tensors + invoke."""
    path = DIGITS if name == "digits_cnn" else _shared(name)
    ref, ours = _litert(path), Interpreter(path)
    ref.allocate_tensors()
    d, o = ours.get_input_details()[0], ours.get_output_details()[0]
    (x,) = _inputs([d], 4, seed=3)
    with pytest.raises(ValueError, match="Dimension mismatch"):
        ref.set_tensor(d["index"], x)
    ours.set_tensor(d["index"], x)
    assert list(ours.get_input_details()[0]["shape"]) == [4, *d["shape"][1:]]
    ref.resize_tensor_input(d["index"], list(x.shape))
    ref.allocate_tensors()
    ref.set_tensor(d["index"], x)
    for it in (ref, ours):
        it.invoke()
    _same_details(ours.get_input_details()[0], ref.get_input_details()[0])
    _same_details(ours.get_output_details()[0], ref.get_output_details()[0])
    assert ours.get_tensor(o["index"]).shape == (4, *o["shape"][1:])
    _same_outputs(ours.get_tensor(o["index"]), ref.get_tensor(o["index"]))
    # back to one sample: the details follow
    ours.set_tensor(d["index"], x[:1])
    ours.invoke()
    np.testing.assert_array_equal(ours.get_output_details()[0]["shape"], o["shape"])
    assert ours.get_tensor(o["index"]).shape == tuple(o["shape"])


def test_signature_runner_on_a_batch_reports_details_like_litert():
    """LiteRT's runner resizes its inputs to what it is given; its details then show the batch, and so do ours."""
    ref, ours = _litert(DIGITS), Interpreter(DIGITS)
    x = np.random.default_rng(4).standard_normal((3, 8, 8, 1)).astype(np.float32)
    got, want = ours.get_signature_runner()(image=x), ref.get_signature_runner()(image=x)
    assert list(got) == list(want)
    for k in want:
        _same_outputs(got[k], want[k])
    for a, b in ((ours.get_signature_runner().get_input_details(), ref.get_signature_runner().get_input_details()),
                 (ours.get_signature_runner().get_output_details(), ref.get_signature_runner().get_output_details())):
        for k in b:
            _same_details(a[k], b[k])
