"""The arena planner against hand-checked cases and against tflite-micro's own allocation records."""

from __future__ import annotations

import pytest
from conftest import MODELS, model_params

import edgequant
from edgequant import dtypes
from edgequant.analysis.arena import ArenaBuffer, greedy_plan, lifetimes, live_bytes, plan_arena
from edgequant.graph import Buffer, Model, Operator, SubGraph, Tensor, new_node


def buf(size, first, last):
    return ArenaBuffer("tensor", 0, 0, "t", size, first, last)


def test_greedy_places_largest_first_and_fills_gaps():
    # a (64 B, scopes 0-1) and b (32 B, scopes 1-2) overlap; c (48 B, scope 2-3) overlaps only b.
    a, b, c = buf(64, 0, 1), buf(32, 1, 2), buf(48, 2, 3)
    assert greedy_plan([a, b, c]) == 96
    # by hand: a (largest) at 0; c at 0 (a is dead by scope 2); b must avoid a [0,64) and c [0,48) -> 64
    assert (a.offset, c.offset, b.offset) == (0, 0, 64)


def test_greedy_uses_a_gap_between_placed_buffers():
    big1, big2 = buf(100, 0, 0), buf(96, 0, 3)  # rounded to 112 and 96
    small = buf(16, 1, 2)  # only big2 overlaps it
    assert greedy_plan([big1, big2, small]) == 208
    assert big1.offset == 0 and big2.offset == 112
    assert small.offset == 0  # the space of big1 is free again at scope 1


def test_ties_go_to_the_buffer_added_last():
    # tflite-micro lists buffers from the tail before its stable sort: equal sizes keep reverse order.
    first, second = buf(32, 0, 1), buf(32, 0, 1)
    greedy_plan([first, second])
    assert (second.offset, first.offset) == (0, 32)


def _chain_model(n_ops: int = 2, width: int = 40) -> Model:
    """x -> RELU -> ... -> y, int8 tensors of ``width`` bytes, plus one unused tensor."""
    tensors = [Tensor(name=f"t{i}", type=dtypes.INT8, shape=[1, width], buffer=0) for i in range(n_ops + 1)]
    tensors.append(Tensor(name="unused", type=dtypes.INT8, shape=[8], buffer=0))
    m = Model(version=3, operator_codes=[], subgraphs=[], buffers=[Buffer()], description="chain")
    code = m.op_code_index("RELU")
    ops = [Operator(opcode_index=code, inputs=[i], outputs=[i + 1]) for i in range(n_ops)]
    m.subgraphs = [SubGraph(tensors=tensors, operators=ops, inputs=[0], outputs=[n_ops], name="main")]
    return m.bind()


def test_lifetimes_follow_tflite_micro_scopes():
    bufs, n_scopes = lifetimes(_chain_model(2))
    life = {b.name: (b.first, b.last) for b in bufs}
    # scope 0: start; op0 = scope 1; op1 = scope 2. Input read by op0; output made by op1, kept to the end.
    assert life == {"t0": (0, 1), "t1": (1, 2), "t2": (2, 2), "unused": (-1, -1)}
    assert n_scopes == 3
    assert live_bytes(bufs, n_scopes) == [48, 96, 96]


def test_branchy_graph_gets_a_better_order():
    # x -> A (big) ; x -> B (small) -> C (small) ; A and C -> ADD. Running B, C first frees x early?
    # No: x is needed by both. Instead make A's output huge: running B -> C before A keeps the huge
    # tensor alive for fewer steps; a stored order A, B, C, ADD is worse than B, C, A, ADD.
    T = lambda name, n: Tensor(name=name, type=dtypes.INT8, shape=[1, n], buffer=0)
    tensors = [T("x", 16), T("a", 4096), T("b", 512), T("c", 16), T("a2", 16), T("y", 16)]
    m = Model(version=3, operator_codes=[], subgraphs=[], buffers=[Buffer()], description="branchy")
    relu = m.op_code_index("RELU")
    add = m.op_code_index("ADD")
    ops = [Operator(opcode_index=relu, inputs=[0], outputs=[1]),  # A: x -> a (huge)
           Operator(opcode_index=relu, inputs=[0], outputs=[2]),  # B: x -> b
           Operator(opcode_index=relu, inputs=[2], outputs=[3]),  # C: b -> c
           Operator(opcode_index=relu, inputs=[1], outputs=[4]),  # D: a -> a2
           Operator(opcode_index=add, inputs=[4, 3], outputs=[5],
                    builtin_options=new_node("AddOptions"))]
    m.subgraphs = [SubGraph(tensors=tensors, operators=ops, inputs=[0], outputs=[5], name="main")]
    m.bind()
    plan = plan_arena(m)
    assert plan.better_order is not None and plan.better_order_bytes < plan.planned_bytes
    # the better order runs the small branch before the huge tensor exists
    assert plan.better_order.index(2) < plan.better_order.index(0)


# -- against tflite-micro -------------------------------------------------------------------------

def tflm_allocations(model_bytes: bytes) -> dict[str, int] | None:
    """tflite-micro's own allocation report (None: it cannot run the model)."""
    pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    from edgequant.analysis.arena import measure_tflite_micro

    return measure_tflite_micro(model_bytes)


# The total (exact head + replayed tail) may overshoot tflite-micro by 1 % and undershoot it by 0.5 % at
# most: an arena sized from an undershooting figure fails AllocateTensors on the device.
TOTAL_OVER, TOTAL_UNDER = 0.01, 0.005


@pytest.mark.parametrize("path", model_params())
def test_planned_arena_equals_tflite_micro(path):
    data = path.read_bytes()
    real = tflm_allocations(data)
    if real is None:
        pytest.skip(f"tflite-micro cannot allocate {path.name} (lint covers why)")
    plan = plan_arena(edgequant.load(data), search=False)
    assert plan.planned_bytes == real["head"]
    assert plan.lower_bound <= plan.planned_bytes
    assert -TOTAL_UNDER * real["total"] <= plan.total_bytes - real["total"] <= TOTAL_OVER * real["total"], \
        f"total {plan.total_bytes} vs tflite-micro {real['total']} ({plan.persistent})"


def test_cli_measure_shows_tflite_micros_own_numbers():
    import json
    import subprocess
    import sys

    pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    path = MODELS / "mlperf_tiny_kws_dscnn_int8.tflite"
    if not path.exists():
        pytest.skip("shared models are absent")
    r = subprocess.run([sys.executable, "-m", "edgequant", "mcu", str(path), "--measure", "--json"],
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["tflite_micro_measured"]["head"] == doc["arena"]["planned_bytes"] > 0


def _one_op_model(model: Model, k: int) -> Model:
    """Operator ``k`` of subgraph 0 alone: its non-constant inputs become the graph inputs."""
    m = model.clone()
    sub = m.subgraphs[0]
    op = sub.operators[k]
    sub.operators = [op]
    sub.inputs = list(dict.fromkeys(i for i in op.inputs if i >= 0 and not sub.tensors[i].is_constant
                                    and not sub.tensors[i].is_variable))
    sub.outputs = list(op.outputs)
    m.subgraphs, m.signature_defs = [sub], []
    return m.bind()


@pytest.mark.parametrize("name", ["tflm_audio_preprocessor_int8.tflite", "tflm_mnist_lstm_float.tflite",
                                  "litert_matmul_quant.tflite", "tflm_seanet_transpose_conv0_16x8.tflite",
                                  "tflm_keyword_scrambled_8bit.tflite", "mlperf_tiny_kws_dscnn_int8.tflite"])
def test_persistent_tail_replays_tflite_micro_per_op(name):
    # Each operator alone (Signal custom ops, LSTM, BATCH_MATMUL, TRANSPOSE_CONV, CAST, STRIDED_SLICE, ...):
    # the replayed persistent bytes equal tflite-micro's recorded tail to the byte.
    from edgequant.analysis.arena import persistent_estimate

    path = MODELS / name
    if not path.exists():
        pytest.skip("shared models are absent")
    model = edgequant.load_file(path)
    checked = 0
    for k in range(len(model.subgraphs[0].operators)):
        data = edgequant.save(_one_op_model(model, k))
        real = tflm_allocations(data)
        if real is None:
            continue  # an op that cannot run without its producer's real data
        est = persistent_estimate(edgequant.load(data))
        assert sum(est.values()) == real["tail"], (k, model.op_name(model.subgraphs[0].operators[k]), est)
        checked += 1
    assert checked >= 1


def test_layout_pads_like_a_c_compiler():
    from edgequant.analysis.arena import _layout

    # bool then int32: 3 bytes of padding; a trailing bool rounds the struct up to its alignment.
    assert _layout(["b", "i14"], 8) == (60, 4)
    assert _layout(["i9", "p2", "b", "i2"], 8) == (72, 8)  # OpDataFullyConnected on 64-bit
    assert _layout(["i9", "p2", "b", "i2"], 4) == (56, 4)
    # an int64 member aligns the struct to 8 on both targets; arrays of nested structs
    assert _layout(["b", "i10", "i2", "i2", "q2", "i5"], 4) == (104, 8)
    assert _layout(["ArithmeticParams*3"], 4) == (312, 8)


@pytest.mark.parametrize("name", ["digits_cnn", "digits_resnet"])
@pytest.mark.parametrize("mode, io", [("int8", "int8"), ("int8", "float"), ("int16x8", "int16")])
def test_the_arena_of_edgequant_s_own_quantized_files_equals_tflite_micro_s(name, mode, io):
    """Keras-converted models carry SHAPE / STRIDED_SLICE / PACK (Flatten) and, at 16x8, an int16 SOFTMAX with its
    two lookup tables: the replayed tail must hold them to the byte, as tflite-micro allocates them."""
    pytest.importorskip("tflite_micro", reason="needs tflite-micro (pip install 'edgequant[micro]')")
    from pathlib import Path

    import numpy as np

    from edgequant.analysis.arena import measure_tflite_micro
    from edgequant.quantizer import Recipe, quantize

    fix = Path(__file__).resolve().parent / "data" / "fixtures"
    x = np.load(fix / "digits_split.npz")["x_calib"][:40]
    q = quantize(edgequant.load_file(fix / f"{name}.tflite"), Recipe.preset(mode, io=io), x)
    plan, measured = plan_arena(q), measure_tflite_micro(edgequant.save(q))
    assert (plan.planned_bytes, plan.total_bytes) == (measured["head"], measured["total"])


def test_op_types_it_does_not_replay_are_named():
    from pathlib import Path

    from edgequant.analysis.arena import guessed_ops

    m = edgequant.load_file(Path(edgequant.__file__).parent / "data" / "digits_cnn.tflite")
    assert guessed_ops(m) == [] and plan_arena(m, search=False).guessed == []
    pool = next(op for op in m.main.operators if m.op_name(op) == "MAX_POOL_2D")
    pool.opcode_index = m.op_code_index("TANH")  # an op type whose kernel data is not modelled
    assert guessed_ops(m) == ["TANH"] and plan_arena(m, search=False).to_dict()["guessed_ops"] == ["TANH"]
