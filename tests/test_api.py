"""The top-level API is the small one the README shows: every name resolves, and nothing else is offered."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import edgequant as eq


def test_every_public_name_resolves_and_dir_lists_only_them():
    for name in eq.__all__:
        assert getattr(eq, name) is not None, name
    assert dir(eq) == sorted([*eq.__all__, "__version__"])


def test_importing_edgequant_does_not_load_the_interpreter_or_quantizer():
    code = "import sys, edgequant; print(any(m.startswith(('edgequant.interpreter', 'edgequant.quantizer')) for m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "False"


def _digits():
    from pathlib import Path

    import numpy as np

    data = Path(eq.__file__).parent / "data"
    return data / "digits_cnn.tflite", np.load(data / "digits_test.npz")["x"].astype(np.float32)


def test_set_tensor_copies_like_litert():
    import numpy as np

    path, x = _digits()
    it = eq.Interpreter(path)
    buf = x[:1].copy()
    it.set_tensor(0, buf)
    buf[:] = 0  # refilling the caller's buffer after set_tensor changes nothing
    it.invoke()
    got = it.get_tensor(it.get_output_details()[0]["index"])
    np.testing.assert_array_equal(got, eq.Interpreter(path).run([x[:1]])[0])


def test_details_have_litert_s_keys_and_reading_an_unset_input_says_how_to_set_it():
    import pytest

    li = pytest.importorskip("ai_edge_litert.interpreter")
    path, _ = _digits()
    it = eq.Interpreter(path)
    ref = li.Interpreter(model_path=str(path))
    ref.allocate_tensors()
    for ours, theirs in zip(it.get_tensor_details(), ref.get_tensor_details()):
        assert ours.keys() == theirs.keys()
        assert ours["quantization_parameters"].keys() == theirs["quantization_parameters"].keys()
    with pytest.raises(eq.EdgequantError, match="has no value yet \\(set it with set_tensor first\\)"):
        it.get_tensor(0)
    with pytest.raises(eq.EdgequantError, match="takes a tensor index"):
        it.get_tensor("serving_default_image:0")


def test_quantize_takes_paths_bytes_and_recipe_dicts_and_names_what_it_cannot_take():
    import pytest

    path, x = _digits()
    by_path = eq.save(eq.quantize(path, {"mode": "int8", "io": "float"}, x[:40]))
    by_bytes = eq.save(eq.quantize(path.read_bytes(), eq.Recipe.int8(io="float"), x[:40]))
    assert by_path == by_bytes == eq.save(eq.quantize(eq.load_file(path), eq.Recipe.int8(io="float"), x[:40]))
    for call, message in ((lambda: eq.quantize(3, "int8"), "quantize\\(\\) takes a Model"),
                          (lambda: eq.quantize(path, 8), "recipe must be a mode name"),
                          (lambda: eq.save_file("x.tflite", eq.load_file(path)), "save\\(\\) takes a Model"),
                          (lambda: eq.load(str(path)), "for a file use load_file"),
                          (lambda: eq.Interpreter(path).run(None), "run\\(\\) takes a list of arrays")):
        with pytest.raises(eq.EdgequantError, match=message):
            call()


def test_calibrate_takes_what_quantize_takes_and_keras_style_pairs_drop_their_labels():
    import numpy as np

    path, x = _digits()
    m = eq.load_file(path)
    a = eq.calibrate(m, x[:50])
    for data in ([x[:50]], {"serving_default_image:0": x[:50]}, [(x[:25], np.zeros(25)), (x[25:50], np.ones(25))]):
        assert eq.calibrate(m, data).ranges == a.ranges


def test_quantize_warns_when_nothing_was_quantized():
    import pytest

    path, _ = _digits()
    m = eq.load_file(path)
    with pytest.warns(UserWarning, match="no op was quantized.*under min_weight_elements"):
        eq.quantize(m, eq.Recipe.dynamic_int8(min_weight_elements=10**6))


def test_dequantize_of_an_unquantized_integer_constant_is_its_value():
    import numpy as np

    path, _ = _digits()
    m = eq.load_file(path)
    shapes = [t for t in m.main.tensors if t.is_constant and t.dtype.kind == "i"
              and (t.quantization is None or t.quantization.scale is None or not len(t.quantization.scale))]
    assert shapes
    for t in shapes:
        np.testing.assert_array_equal(t.dequantize(), t.numpy().astype(np.float32))


def test_one_sample_without_its_batch_axis_gets_a_hint():
    import pytest

    path, x = _digits()
    with pytest.raises(eq.EdgequantError, match=r"one sample without its batch axis\? add one: x\[None\]"):
        eq.quantize(path, "int8", x[0])


def test_an_in_memory_dict_must_name_the_input_a_file_s_single_array_need_not(tmp_path):
    import numpy as np
    import pytest

    path, x = _digits()
    with pytest.raises(eq.EdgequantError, match="arrays imgae do not name the model's inputs \\(use 'image', "):
        eq.quantize(path, "int8", {"imgae": x[:40]})
    np.savez(tmp_path / "c.npz", anything=x[:40])
    assert eq.save(eq.quantize(path, "int8", tmp_path / "c.npz")) == eq.save(eq.quantize(path, "int8", {"image": x[:40]}))


def test_a_buffer_that_does_not_fit_its_shape_names_the_tensor():
    from edgequant.errors import ModelFormatError
    from edgequant.graph import Buffer

    m = eq.load_file(Path(eq.__file__).parent / "data" / "digits_cnn.tflite")
    t = next(t for t in m.main.tensors if t.is_constant and t.type_name == "float32" and t.size > 1)
    m.buffers[t.buffer] = Buffer(data=np.zeros(t.nbytes - 4, np.uint8))
    with pytest.raises(ModelFormatError, match=rf"^tensor {t.index} '{re.escape(t.name)}': buffer {t.buffer} holds "
                       rf"{t.nbytes - 4} bytes but shape \[[0-9, ]+\] of float32 needs {t.nbytes}$"):
        t.numpy()


def test_tensor_quantize_is_tflite_s_quantize():
    from edgequant.errors import EdgequantError
    from edgequant.quantizer import Recipe, quantize

    d = np.load(Path(eq.__file__).parent / "data" / "digits_test.npz")["x"]
    m = eq.load_file(Path(eq.__file__).parent / "data" / "digits_cnn.tflite")
    q = quantize(m, Recipe.int8(), d[:40])
    t = q.main.tensors[q.main.inputs[0]]
    s, zp = float(t.quantization.scale[0]), int(t.quantization.zero_point[0])
    x = np.array([0.0, s * 2.5, s * 7.5, 1e9, -1e9], np.float32)  # ties round away from zero; saturation
    want = np.clip([zp, zp + 3, zp + 8, 10 ** 9, -(10 ** 9)], -128, 127).astype(np.int8)
    np.testing.assert_array_equal(t.quantize(x), want)
    assert m.main.tensors[m.main.inputs[0]].quantize(x).dtype == np.float32  # a float input takes floats
    t.quantization = None
    with pytest.raises(EdgequantError, match=r"^tensor 0 '.*' is int8 without a scale to quantize values with$"):
        t.quantize(x)
