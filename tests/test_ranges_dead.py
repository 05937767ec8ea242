"""`edgequant ranges`: dead channels (range ~0 beside live ones) are counted, not divided by."""

from __future__ import annotations

import numpy as np
from conftest import MODELS, need_shared

import edgequant
from edgequant import dtypes
from edgequant.graph import Buffer, Model, Operator, SubGraph, Tensor, new_node
from edgequant.viz.ranges import DEAD_BELOW, layer_channel_ranges


def fc_model(w: np.ndarray) -> Model:
    """x -> FULLY_CONNECTED(w constant float32): one layer with w.shape[0] output channels."""
    m = Model(version=3, operator_codes=[], subgraphs=[], buffers=[Buffer()], description="fc")
    wb = m.add_buffer(w.astype(np.float32))
    n_out, n_in = w.shape
    tensors = [Tensor(name="x", type=dtypes.FLOAT32, shape=[1, n_in], buffer=0),
               Tensor(name="w", type=dtypes.FLOAT32, shape=[n_out, n_in], buffer=wb),
               Tensor(name="y", type=dtypes.FLOAT32, shape=[1, n_out], buffer=0)]
    ops = [Operator(opcode_index=m.op_code_index("FULLY_CONNECTED"), inputs=[0, 1, -1], outputs=[2],
                    builtin_options=new_node("FullyConnectedOptions"))]
    m.subgraphs = [SubGraph(tensors=tensors, operators=ops, inputs=[0], outputs=[2], name="main")]
    return edgequant.load(edgequant.save(m.bind()))


def test_dead_channels_are_counted_and_left_out_of_the_spread():
    rng = np.random.default_rng(0)
    w = rng.uniform(-1, 1, (6, 8))
    w[0] = np.linspace(-2.0, 2.0, 8)  # widest live channel: range 4
    w[1] = np.linspace(-0.01, 0.01, 8)  # narrowest live channel: range 0.02
    w[2] = np.linspace(-1e-30, 1e-30, 8)  # dead: vww's ~1e-30 weights
    w[3] = 0.5  # dead: all equal
    (layer,) = layer_channel_ranges(fc_model(w))
    assert layer["dead"] == 2
    np.testing.assert_allclose(layer["spread"], 4.0 / 0.02, rtol=1e-6)
    w[1] = np.linspace(-4 * DEAD_BELOW, 4 * DEAD_BELOW, 8)  # narrow but alive: still the denominator
    (layer,) = layer_channel_ranges(fc_model(w))
    assert layer["dead"] == 2
    np.testing.assert_allclose(layer["spread"], 4.0 / (8 * DEAD_BELOW), rtol=1e-5)


def test_vww_ratio_is_over_live_channels(tmp_path, capsys):
    path = need_shared(MODELS / "mlperf_tiny_vww_96_float.tflite")
    layers = layer_channel_ranges(edgequant.load_file(path))
    by_op = {L["op"]: L for L in layers}
    assert by_op[26]["dead"] > 0 and by_op[26]["spread"] < 1e3  # was 2e30 from weights of ~1e-30
    assert max(L["spread"] for L in layers) < 1 / DEAD_BELOW
    from edgequant.cli import main

    assert main(["ranges", str(path), "-o", str(tmp_path / "r.png")]) == 0
    dead = sum(L["dead"] for L in layers)
    assert f"; {dead} dead channels (range below 1e-06 of their layer's widest)" in capsys.readouterr().out
