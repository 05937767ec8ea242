"""The top-level API is the small one the README shows: every name resolves, and nothing else is offered."""

from __future__ import annotations

import subprocess
import sys

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
