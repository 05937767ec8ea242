"""run() drops each intermediate after its last reader (so malloc hands the next op memory still in cache):
the results must not change, and nothing a later step, the caller or the next chunk needs may go."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgequant.interpreter import Interpreter

MODELS = Path(__file__).resolve().parents[2] / "shared" / "models"
# resnet8: skip connections (a tensor read by two ops, steps apart); kws: RESHAPE returns a view
NAMES = ["mlperf_tiny_ic_resnet8_float.tflite", "mlperf_tiny_kws_dscnn_float32.tflite",
         "mlperf_tiny_vww_96_int8.tflite"]


def _model(name: str) -> Path:
    path = MODELS / name
    if not path.is_file():
        pytest.skip(f"{path} not available")
    return path


def _inputs(it: Interpreter, n: int) -> np.ndarray:
    d = it.get_input_details()[0]
    shape = [n] + [int(s) for s in d["shape"][1:]]
    rng = np.random.default_rng(11)
    if np.dtype(d["dtype"]).kind == "f":
        return rng.standard_normal(shape).astype(d["dtype"])
    return rng.integers(-128, 128, shape).astype(d["dtype"])


@pytest.mark.parametrize("name", NAMES)
def test_dropping_intermediates_changes_no_bit(name):
    it = Interpreter(_model(name))
    plan = it._plan(0)
    xs = _inputs(it, 2 * plan.chunk + 3)  # several chunks, the last one short
    dropped = it.run([xs])
    kept, inter = it.run([xs], keep_intermediates=True)
    for a, b in zip(dropped, kept):
        np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))
    written = {i for s in plan.steps for i in s.outputs if i >= 0}
    assert set(inter) == written  # keep_intermediates still keeps every tensor an op wrote
    for k in (0, len(xs) - 1):  # and invoke() one sample at a time agrees (float GEMMs sum in a batch-size
        it.set_tensor(it.get_input_details()[0]["index"], xs[k:k + 1])  # dependent order: last bits only)
        it.invoke()
        got = it.get_tensor(it.get_output_details()[0]["index"])
        if got.dtype.kind == "f":
            np.testing.assert_allclose(got, kept[0][k:k + 1], rtol=1e-5, atol=1e-6)
        else:
            np.testing.assert_array_equal(got, kept[0][k:k + 1])


@pytest.mark.parametrize("name", NAMES)
def test_each_intermediate_is_dropped_once_after_its_last_reader(name):
    it = Interpreter(_model(name))
    plan = it._plan(0)
    sg = plan.sg
    protected = set(sg.inputs or []) | set(sg.outputs or []) | set(plan.variables) | set(plan.constants)
    seen: dict[int, int] = {}
    for k, dead in enumerate(plan.dead_after):
        for i in dead:
            assert i not in seen and i not in protected
            seen[i] = k
    for k, step in enumerate(plan.steps):
        for i in step.inputs + step.outputs:
            if i >= 0 and i not in protected:
                assert seen[i] >= k, (i, k)  # never dropped before a step that reads or writes it
    # after one chunk only what the caller and the next chunk need is left
    values = dict(it._values[0])
    values[sg.inputs[0]] = _inputs(it, 2)
    plan.execute(values, drop=True)
    assert set(values) <= protected
    assert set(sg.outputs) <= set(values)
