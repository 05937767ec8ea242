"""The one golden-case tool: build single-op .tflite models with edgequant's writer, run them in LiteRT's
reference kernels (OpResolverType.BUILTIN_REF) and, for integer models, in tflite-micro; store model + inputs +
outputs in ``tests/data/goldens/<case>.npz``, which ``tests/test_kernels.py`` runs through every kernel.

    .venv/bin/python tools/make_goldens.py              # every case
    .venv/bin/python tools/make_goldens.py conv GATHER  # cases whose name contains a word or whose op is one

Cases live in this file (the first kernels: CONV_2D, SOFTMAX, ...) and in tools/golden_cases_more.py (the
second batch: SHAPE ... DENSIFY); both give one format, written by ``write_case`` here. Each .npz holds:
``model`` (the .tflite bytes as uint8), ``op`` (the op name), ``batch`` (1 when run() may stack the case along
axis 0: the op treats rows of axis 0 independently), ``target`` (the runtime whose outputs ``out0..`` are:
``litert``, or ``tflm`` where LiteRT's reference kernel is known to be wrong), ``in0..``, ``out0..`` and
optionally ``tflm_out0..`` (tflite-micro's outputs as a second reference). Inputs are random but seeded, so
regenerating gives the same arrays; a file whose arrays are unchanged is left alone. Developer tool: needs
ai-edge-litert (and tflite-micro for the tflm outputs); tests only read the .npz files.
"""

from __future__ import annotations

import io
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import edgequant
from edgequant import dtypes
from edgequant.graph import Buffer, Model, Operator, QuantizationParameters, SubGraph, Tensor, new_node, write_atomic

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "goldens"

F32, I8, I16, I32, I64, F16, U8 = (dtypes.FLOAT32, dtypes.INT8, dtypes.INT16, dtypes.INT32, dtypes.INT64,
                                    dtypes.FLOAT16, dtypes.UINT8)


@dataclass
class T:
    """A tensor of a golden model: activation (data None) or constant."""

    shape: list
    type: int = F32
    scale: Any = None
    zp: Any = None
    qdim: int = 0
    data: Any = None
    name: str = ""
    variable: bool = False


@dataclass
class Case:
    name: str
    op: str
    inputs: list
    outputs: list
    options: Any = None
    options2: Any = None
    version: int = 1
    custom: str | None = None
    intermediates: list = field(default_factory=list)
    tflm: bool = True
    ranges: dict = field(default_factory=dict)  # input index -> (lo, hi) for random values
    batch: bool | None = None  # None: batchable when every fed input has a leading dimension of 1


def build(case: Case) -> bytes:
    m = Model(version=3, operator_codes=[], subgraphs=[], buffers=[Buffer()], description="edgequant golden")
    sg = SubGraph(tensors=[], operators=[], inputs=[], outputs=[], name="main")
    m.subgraphs.append(sg)

    def add(t: T, name: str) -> int:
        if t is None:
            return -1
        buf = 0
        if t.data is not None:
            arr = np.ascontiguousarray(np.asarray(t.data, dtypes.to_numpy(t.type)).reshape(t.shape))
            buf = m.add_buffer(arr)
        elif t.variable:
            buf = m.add_buffer(None)
        q = None
        if t.scale is not None:
            sc = np.atleast_1d(np.asarray(t.scale, np.float32))
            zp = np.atleast_1d(np.asarray(0 if t.zp is None else t.zp, np.int64))
            if zp.size == 1 and sc.size > 1:
                zp = np.zeros(sc.size, np.int64)
            q = QuantizationParameters(scale=sc, zero_point=zp, quantized_dimension=t.qdim)
        tensor = Tensor(name=t.name or name, type=t.type, shape=list(t.shape), buffer=buf, quantization=q,
                        is_variable=t.variable)
        return sg.add_tensor(tensor)

    ins = [add(t, f"in{i}") for i, t in enumerate(case.inputs)]
    outs = [add(t, f"out{i}") for i, t in enumerate(case.outputs)]
    inter = [add(t, f"inter{i}") for i, t in enumerate(case.intermediates)]
    sg.inputs = [i for i, t in zip(ins, case.inputs) if t is not None and t.data is None and not t.variable]
    sg.outputs = outs
    code = m.op_code_index(case.op, case.version, custom_code=case.custom)
    op = Operator(opcode_index=code, inputs=ins, outputs=outs, builtin_options=case.options,
                  intermediates=inter or None)
    if case.options2 is not None:
        op.builtin_options_2 = case.options2
    sg.operators.append(op)
    m.bind()
    return edgequant.save(m)


def random_input(t: T, rng: np.random.Generator, range_: tuple | None) -> np.ndarray:
    dt = dtypes.to_numpy(t.type)
    if dt.kind == "f":
        lo, hi = range_ or (-4.0, 4.0)
        return rng.uniform(lo, hi, t.shape).astype(dt)
    info = np.iinfo(dt)
    lo, hi = range_ or (info.min, info.max)
    return rng.integers(lo, hi + 1, t.shape).astype(dt)


def run_litert(model: bytes, inputs: list) -> list:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_content=model, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    for d, x in zip(it.get_input_details(), inputs):
        it.set_tensor(d["index"], x)
    it.invoke()
    return [it.get_tensor(d["index"]) for d in it.get_output_details()]


def run_tflm(model: bytes, inputs: list) -> list | None:
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError:
        return None
    try:
        it = runtime.Interpreter.from_bytes(model)
        for i, x in enumerate(inputs):
            it.set_input(x, i)
        it.invoke()
        return [it.get_output(i) for i in range(_n_outputs(model))]
    except Exception as e:  # noqa: BLE001 - tflite-micro lacks some kernels/types: no tflm outputs then
        print(f"    (tflite-micro: {str(e).splitlines()[0][:100]})")
        return None


def _n_outputs(model: bytes) -> int:
    return len(edgequant.load(model).main.outputs)


# -- case helpers ----------------------------------------------------------------------------------

def rng_for(name: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(name.encode()))


def qweights(rng, shape, per_channel_axis=None, lo=0.002, hi=0.02):
    w = rng.integers(-127, 128, shape).astype(np.int8)
    n = shape[per_channel_axis] if per_channel_axis is not None else 1
    s = rng.uniform(lo, hi, n).astype(np.float32)
    return w, s


def act_out_scale(in_s, w_s, k):
    return float(180.0 * np.sqrt(k) * in_s * float(np.mean(w_s)) / 1.0)


def conv_cases() -> list[Case]:
    cases = []
    # float
    for name, (h, w, cin, cout, kh, kw, sh, sw, dh, dw, pad, act) in {
        "conv_f32_same_s1_relu": (7, 6, 3, 4, 3, 3, 1, 1, 1, 1, 0, 1),
        "conv_f32_valid_s2": (9, 8, 2, 5, 3, 2, 2, 2, 1, 1, 1, 0),
        "conv_f32_same_s2_dil2_relu6": (10, 9, 3, 2, 3, 3, 2, 1, 2, 2, 0, 3),
    }.items():
        r = rng_for(name)
        opts = new_node("Conv2DOptions", padding=pad, stride_w=sw, stride_h=sh, fused_activation_function=act,
                        dilation_w_factor=dw, dilation_h_factor=dh)
        oh = (h + sh - 1) // sh if pad == 0 else (h - (kh - 1) * dh - 1 + sh) // sh
        ow = (w + sw - 1) // sw if pad == 0 else (w - (kw - 1) * dw - 1 + sw) // sw
        cases.append(Case(name, "CONV_2D", [T([1, h, w, cin]), T([cout, kh, kw, cin], data=r.normal(0, .5, (cout, kh, kw, cin))),
                                             T([cout], data=r.normal(0, .5, cout))], [T([1, oh, ow, cout])], opts))
    # int8 / int16x8
    for name, (h, w, cin, cout, kh, kw, sh, sw, dh, dw, pad, act, per_ch, itype) in {
        "conv_i8_pc_same_s1_relu": (7, 6, 3, 4, 3, 3, 1, 1, 1, 1, 0, 1, True, I8),
        "conv_i8_pc_valid_s2": (9, 8, 4, 5, 3, 2, 2, 2, 1, 1, 1, 0, True, I8),
        "conv_i8_pt_same_dil2_relu6": (10, 9, 3, 2, 3, 3, 2, 1, 2, 2, 0, 3, False, I8),
        "conv_i8_pc_1x1_deep": (4, 4, 96, 8, 1, 1, 1, 1, 1, 1, 1, 0, True, I8),
        "conv_i16x8_pc_same": (6, 5, 3, 4, 3, 3, 1, 1, 1, 1, 0, 0, True, I16),
        "conv_i16x8_pc_valid_relu": (7, 7, 2, 3, 2, 2, 2, 2, 1, 1, 1, 1, True, I16),
    }.items():
        r = rng_for(name)
        opts = new_node("Conv2DOptions", padding=pad, stride_w=sw, stride_h=sh, fused_activation_function=act,
                        dilation_w_factor=dw, dilation_h_factor=dh)
        oh = (h + sh - 1) // sh if pad == 0 else (h - (kh - 1) * dh - 1 + sh) // sh
        ow = (w + sw - 1) // sw if pad == 0 else (w - (kw - 1) * dw - 1 + sw) // sw
        wq, ws = qweights(r, (cout, kh, kw, cin), 0 if per_ch else None)
        k = kh * kw * cin
        if itype == I8:
            in_s, in_zp = 0.05, int(r.integers(-20, 20))
            bias = T([cout], I32, scale=in_s * ws, zp=0, data=r.integers(-2000, 2000, cout))
            out_s, out_zp = act_out_scale(in_s, ws, k), int(r.integers(-10, 10))
        else:
            in_s, in_zp = 0.0005, 0
            bias = T([cout], I64, scale=in_s * ws, zp=0, data=r.integers(-200000, 200000, cout))
            out_s, out_zp = act_out_scale(in_s, ws, k) * 256 / 65536 * 50, 0
        cases.append(Case(name, "CONV_2D", [T([1, h, w, cin], itype, in_s, in_zp), T([cout, kh, kw, cin], I8, ws, 0, 0, wq),
                                             bias], [T([1, oh, ow, cout], itype, out_s, out_zp)], opts, version=3))
    return cases


def depthwise_cases() -> list[Case]:
    cases = []
    for name, (h, w, cin, mult, kh, kw, sh, sw, dh, dw, pad, act, itype) in {
        "dw_f32_same_m1_relu": (6, 7, 3, 1, 3, 3, 1, 1, 1, 1, 0, 1, F32),
        "dw_f32_valid_m2_s2": (8, 8, 2, 2, 3, 3, 2, 2, 1, 1, 1, 0, F32),
        "dw_f32_same_dil2": (9, 9, 2, 1, 3, 3, 1, 1, 2, 2, 0, 3, F32),
        "dw_i8_pc_same_m1_relu": (6, 7, 3, 1, 3, 3, 1, 1, 1, 1, 0, 1, I8),
        "dw_i8_pc_valid_m2_s2": (8, 8, 2, 2, 3, 3, 2, 2, 1, 1, 1, 0, I8),
        "dw_i8_pc_same_dil2_relu6": (9, 9, 2, 1, 3, 3, 1, 1, 2, 2, 0, 3, I8),
        "dw_i16x8_pc_same": (6, 6, 3, 1, 3, 3, 1, 1, 1, 1, 0, 0, I16),
    }.items():
        r = rng_for(name)
        cout = cin * mult
        opts = new_node("DepthwiseConv2DOptions", padding=pad, stride_w=sw, stride_h=sh, depth_multiplier=mult,
                        fused_activation_function=act, dilation_w_factor=dw, dilation_h_factor=dh)
        oh = (h + sh - 1) // sh if pad == 0 else (h - (kh - 1) * dh - 1 + sh) // sh
        ow = (w + sw - 1) // sw if pad == 0 else (w - (kw - 1) * dw - 1 + sw) // sw
        if itype == F32:
            cases.append(Case(name, "DEPTHWISE_CONV_2D", [T([1, h, w, cin]), T([1, kh, kw, cout], data=r.normal(0, .5, (1, kh, kw, cout))),
                                                           T([cout], data=r.normal(0, .5, cout))], [T([1, oh, ow, cout])], opts))
            continue
        wq, ws = qweights(r, (1, kh, kw, cout), 3)
        if itype == I8:
            in_s, in_zp = 0.05, int(r.integers(-20, 20))
            bias = T([cout], I32, scale=in_s * ws, data=r.integers(-2000, 2000, cout))
            out_s, out_zp = act_out_scale(in_s, ws, kh * kw), int(r.integers(-10, 10))
        else:
            in_s, in_zp = 0.0005, 0
            bias = T([cout], I64, scale=in_s * ws, data=r.integers(-200000, 200000, cout))
            out_s, out_zp = act_out_scale(in_s, ws, kh * kw) * 256 / 65536 * 50, 0
        cases.append(Case(name, "DEPTHWISE_CONV_2D", [T([1, h, w, cin], itype, in_s, in_zp),
                                                       T([1, kh, kw, cout], I8, ws, 0, 3, wq), bias],
                          [T([1, oh, ow, cout], itype, out_s, out_zp)], opts, version=3))
    return cases


def fc_cases() -> list[Case]:
    cases = []
    r = rng_for("fc_f32")
    cases.append(Case("fc_f32_relu", "FULLY_CONNECTED", [T([2, 10]), T([6, 10], data=r.normal(0, .5, (6, 10))), T([6], data=r.normal(0, .5, 6))],
                      [T([2, 6])], new_node("FullyConnectedOptions", fused_activation_function=1)))
    cases.append(Case("fc_f32_keepdims_nobias", "FULLY_CONNECTED", [T([1, 3, 8]), T([5, 8], data=r.normal(0, .5, (5, 8))), None],
                      [T([1, 3, 5])], new_node("FullyConnectedOptions", keep_num_dims=True)))
    for name, (b, k, n, act, per_ch, itype) in {
        "fc_i8_pt_relu": (2, 40, 7, 1, False, I8),
        "fc_i8_pt_deep": (1, 700, 5, 0, False, I8),
        "fc_i8_pc": (3, 24, 6, 0, True, I8),
        "fc_i16x8_pt": (2, 30, 5, 0, False, I16),
        "fc_i16x8_pt_relu6": (1, 16, 4, 3, False, I16),
    }.items():
        r = rng_for(name)
        wq, ws = qweights(r, (n, k), 0 if per_ch else None)
        if itype == I8:
            in_s, in_zp = 0.05, int(r.integers(-20, 20))
            bias = T([n], I32, scale=in_s * ws, data=r.integers(-2000, 2000, n))
            out_s, out_zp = act_out_scale(in_s, ws, k), int(r.integers(-10, 10))
        else:
            in_s, in_zp = 0.0005, 0
            bias = T([n], I64, scale=in_s * ws, data=r.integers(-200000, 200000, n))
            out_s, out_zp = act_out_scale(in_s, ws, k) * 256 / 65536 * 50, 0
        cases.append(Case(name, "FULLY_CONNECTED", [T([b, k], itype, in_s, in_zp), T([n, k], I8, ws, 0, 0, wq), bias],
                          [T([b, n], itype, out_s, out_zp)], new_node("FullyConnectedOptions", fused_activation_function=act),
                          version=4 if itype == I8 else 7))
    for name, asym, pc in (("fc_hybrid_sym", False, False), ("fc_hybrid_asym", True, False),
                           ("fc_hybrid_pc_sym", False, True), ("fc_hybrid_pc_asym", True, True)):
        r = rng_for(name)
        wq, ws = qweights(r, (6, 20), 0 if pc else None)
        cases.append(Case(name, "FULLY_CONNECTED", [T([3, 20]), T([6, 20], I8, ws, 0, 0, wq), T([6], data=r.normal(0, .5, 6))],
                          [T([3, 6])], new_node("FullyConnectedOptions", asymmetric_quantize_inputs=asym),
                          version=9 if asym else 3, tflm=False))
    return cases


def pool_cases() -> list[Case]:
    cases = []
    for op in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        short = "avgpool" if op.startswith("AVERAGE") else "maxpool"
        for name, (h, w, c, fh, fw, sh, sw, pad, act, itype) in {
            "f32_same_3x3_s2": (7, 8, 3, 3, 3, 2, 2, 0, 0, F32),
            "f32_valid_2x2_relu6": (6, 6, 2, 2, 2, 2, 2, 1, 3, F32),
            "i8_same_3x3_s2": (7, 8, 3, 3, 3, 2, 2, 0, 0, I8),
            "i8_valid_2x3_relu": (6, 7, 2, 2, 3, 1, 2, 1, 1, I8),
            "i16_same_2x2": (5, 5, 2, 2, 2, 1, 1, 0, 0, I16),
        }.items():
            opts = new_node("Pool2DOptions", padding=pad, stride_w=sw, stride_h=sh, filter_width=fw, filter_height=fh,
                            fused_activation_function=act)
            oh = (h + sh - 1) // sh if pad == 0 else (h - fh + sh) // sh
            ow = (w + sw - 1) // sw if pad == 0 else (w - fw + sw) // sw
            q = {} if itype == F32 else {"scale": 0.05 if itype == I8 else 0.001, "zp": 3 if itype == I8 else 0}
            cases.append(Case(f"{short}_{name}", op, [T([1, h, w, c], itype, **q)], [T([1, oh, ow, c], itype, **q)], opts,
                              version=2 if itype == I8 else (3 if itype == I16 else 1)))
    return cases


def elementwise_cases() -> list[Case]:
    cases = []
    for op in ("ADD", "SUB", "MUL"):
        s = op.lower()
        opt_name = {"ADD": "AddOptions", "SUB": "SubOptions", "MUL": "MulOptions"}[op]
        cases.append(Case(f"{s}_f32_bcast_relu", op, [T([1, 4, 5, 3]), T([1, 1, 1, 3])], [T([1, 4, 5, 3])],
                          new_node(opt_name, fused_activation_function=1)))
        cases.append(Case(f"{s}_i8_same", op, [T([1, 6, 7], I8, 0.04, -5), T([1, 6, 7], I8, 0.07, 8)],
                          [T([1, 6, 7], I8, 0.1 if op != "MUL" else 0.3, -3)], new_node(opt_name), version=2))
        cases.append(Case(f"{s}_i8_bcast_relu6", op, [T([1, 3, 4, 5], I8, 0.05, 2), T([1, 1, 1, 5], I8, 0.02, -1)],
                          [T([1, 3, 4, 5], I8, 0.08 if op != "MUL" else 0.05, -10)],
                          new_node(opt_name, fused_activation_function=3), version=2))
        cases.append(Case(f"{s}_i16", op, [T([2, 9], I16, 0.001, 0), T([2, 9], I16, 0.0007, 0)],
                          [T([2, 9], I16, 0.002 if op != "MUL" else 0.5, 0)], new_node(opt_name),
                          version=3 if op != "MUL" else 4))
        cases.append(Case(f"{s}_i32", op, [T([3, 4], I32), T([3, 4], I32)], [T([3, 4], I32)], new_node(opt_name),
                          ranges={0: (-1000, 1000), 1: (-1000, 1000)}))
    return cases


def misc_cases() -> list[Case]:
    cases = []
    # softmax
    cases.append(Case("softmax_f32", "SOFTMAX", [T([2, 10])], [T([2, 10])], new_node("SoftmaxOptions", beta=1.0)))
    cases.append(Case("softmax_f32_beta", "SOFTMAX", [T([1, 3, 7])], [T([1, 3, 7])], new_node("SoftmaxOptions", beta=0.4)))
    for name, (in_s, beta) in {"softmax_i8_a": (0.1, 1.0), "softmax_i8_b": (0.02, 1.0), "softmax_i8_c": (0.5, 0.7),
                               "softmax_i8_d": (0.0045, 2.0)}.items():
        cases.append(Case(name, "SOFTMAX", [T([3, 12], I8, in_s, 5)], [T([3, 12], I8, 1.0 / 256, -128)],
                          new_node("SoftmaxOptions", beta=beta), version=2))
    cases.append(Case("softmax_i8_to_i16", "SOFTMAX", [T([2, 9], I8, 0.08, -3)], [T([2, 9], I16, 1.0 / 65536, -32768)],
                      new_node("SoftmaxOptions", beta=1.0), version=3))
    for name, (in_s, beta) in {"softmax_i16_a": (0.001, 1.0), "softmax_i16_b": (0.0004, 1.0),
                               "softmax_i16_c": (0.003, 0.5)}.items():
        cases.append(Case(name, "SOFTMAX", [T([3, 10], I16, in_s, 0)], [T([3, 10], I16, 1.0 / 32768, 0)],
                          new_node("SoftmaxOptions", beta=beta), version=3))
    # quantize / dequantize
    cases.append(Case("quantize_f32_i8", "QUANTIZE", [T([2, 33])], [T([2, 33], I8, 0.037, -7)], ranges={0: (-6, 6)}))
    cases.append(Case("quantize_f32_i16", "QUANTIZE", [T([2, 33])], [T([2, 33], I16, 0.00021, 0)], ranges={0: (-8, 8)}))
    cases.append(Case("quantize_i8_i8", "QUANTIZE", [T([4, 16], I8, 0.05, 3)], [T([4, 16], I8, 0.031, -9)], version=2))
    cases.append(Case("quantize_i16_i8", "QUANTIZE", [T([4, 16], I16, 0.0003, 0)], [T([4, 16], I8, 0.04, 2)], version=3))
    cases.append(Case("quantize_i8_i16", "QUANTIZE", [T([4, 16], I8, 0.05, 3)], [T([4, 16], I16, 0.0002, 0)], version=3))
    cases.append(Case("quantize_i16_i16", "QUANTIZE", [T([4, 16], I16, 0.0003, 0)], [T([4, 16], I16, 0.0007, 0)],
                      version=3))
    cases.append(Case("dequantize_i8", "DEQUANTIZE", [T([3, 17], I8, 0.043, 11)], [T([3, 17])], version=2))
    cases.append(Case("dequantize_i16", "DEQUANTIZE", [T([3, 17], I16, 0.0007, 0)], [T([3, 17])], version=4))
    cases.append(Case("dequantize_f16", "DEQUANTIZE", [T([3, 17], F16)], [T([3, 17])], version=3, tflm=False))
    # reshape / concat / mean
    cases.append(Case("reshape_f32", "RESHAPE", [T([1, 2, 3, 4]), T([2], I32, data=[1, 24])], [T([1, 24])]))
    cases.append(Case("reshape_i8", "RESHAPE", [T([1, 6, 4], I8, 0.1, 0), T([3], I32, data=[1, 4, 6])],
                      [T([1, 4, 6], I8, 0.1, 0)]))
    cases.append(Case("concat_f32_lastaxis", "CONCATENATION", [T([1, 3, 2]), T([1, 3, 4])], [T([1, 3, 6])],
                      new_node("ConcatenationOptions", axis=-1)))
    cases.append(Case("concat_i8_same", "CONCATENATION", [T([1, 2, 3], I8, 0.1, 1), T([1, 4, 3], I8, 0.1, 1)],
                      [T([1, 6, 3], I8, 0.1, 1)], new_node("ConcatenationOptions", axis=1), version=2))
    cases.append(Case("mean_f32_hw_keep", "MEAN", [T([1, 5, 6, 3]), T([2], I32, data=[1, 2])], [T([1, 1, 1, 3])],
                      new_node("ReducerOptions", keep_dims=True)))
    cases.append(Case("mean_f32_last", "MEAN", [T([2, 4, 7]), T([1], I32, data=[-1])], [T([2, 4])],
                      new_node("ReducerOptions", keep_dims=False)))
    cases.append(Case("mean_i8_hw_keep", "MEAN", [T([1, 5, 6, 3], I8, 0.05, 4), T([2], I32, data=[1, 2])],
                      [T([1, 1, 1, 3], I8, 0.02, -3)], new_node("ReducerOptions", keep_dims=True), version=2))
    cases.append(Case("mean_i16_hw", "MEAN", [T([1, 4, 5, 6], I16, 0.001, 0), T([2], I32, data=[1, 2])],
                      [T([1, 6], I16, 0.0007, 0)], new_node("ReducerOptions", keep_dims=False), version=3))
    cases.append(Case("mean_i8_same_scale", "MEAN", [T([1, 4, 4, 8], I8, 0.05, 4), T([2], I32, data=[1, 2])],
                      [T([1, 8], I8, 0.05, 4)], new_node("ReducerOptions", keep_dims=False), version=2))
    # activations
    for op in ("LOGISTIC", "TANH"):
        s = op.lower()
        cases.append(Case(f"{s}_f32", op, [T([2, 40])], [T([2, 40])], ranges={0: (-8, 8)}))
        out_s, out_zp = (1 / 256, -128) if op == "LOGISTIC" else (1 / 128, 0)
        cases.append(Case(f"{s}_i8_a", op, [T([2, 64], I8, 0.05, 3)], [T([2, 64], I8, out_s, out_zp)], version=2))
        cases.append(Case(f"{s}_i8_b", op, [T([2, 64], I8, 0.12, -20)], [T([2, 64], I8, out_s, out_zp)], version=2))
        cases.append(Case(f"{s}_i16", op, [T([2, 64], I16, 8 / 32768, 0)], [T([2, 64], I16, 1 / 32768, 0)], version=3))
        # int16 at more input scales: 2^-11 (TANH's second power-of-two case, LOGISTIC's general path), general
        # scales small to large over the whole int16 range, and values near zero (the first table intervals)
        for tag, in_s, shape, rng_ in (("s2m11", 2.0 ** -11, [1, 256], None), ("s00043", 0.00043, [4, 128], None),
                                       ("s3em5", 3e-5, [1, 256], None), ("s0021", 0.0021, [2, 128], None),
                                       ("s1d3000_small", 1 / 3000, [1, 256], (-700, 700))):
            cases.append(Case(f"{s}_i16_{tag}", op, [T(shape, I16, in_s, 0)], [T(shape, I16, 1 / 32768, 0)],
                              version=3, ranges={0: rng_} if rng_ else {}))
    for op in ("RELU", "RELU6", "RELU_N1_TO_1"):
        s = op.lower()
        cases.append(Case(f"{s}_f32", op, [T([3, 20])], [T([3, 20])], ranges={0: (-8, 8)}))
        cases.append(Case(f"{s}_i8", op, [T([3, 20], I8, 0.05, 3)], [T([3, 20], I8, 0.03, -100)],
                          version=1 if op == "RELU_N1_TO_1" else 2))
    return cases


def shape_cases() -> list[Case]:
    cases = []
    cases.append(Case("pad_f32", "PAD", [T([1, 3, 4, 2]), T([4, 2], I32, data=[[0, 0], [1, 2], [2, 0], [0, 1]])],
                      [T([1, 6, 6, 3])]))
    cases.append(Case("pad_i8", "PAD", [T([1, 3, 4, 2], I8, 0.1, -5), T([4, 2], I32, data=[[0, 0], [1, 1], [0, 2], [0, 0]])],
                      [T([1, 5, 6, 2], I8, 0.1, -5)], version=2))
    cases.append(Case("padv2_f32", "PADV2", [T([1, 3, 4, 2]), T([4, 2], I32, data=[[0, 0], [1, 2], [2, 0], [0, 1]]),
                                             T([1], F32, data=[1.5])], [T([1, 6, 6, 3])]))
    cases.append(Case("padv2_i8", "PADV2", [T([1, 3, 4, 2], I8, 0.1, -5),
                                            T([4, 2], I32, data=[[0, 0], [1, 1], [0, 2], [0, 0]]),
                                            T([1], I8, 0.1, -5, data=[7])], [T([1, 5, 6, 2], I8, 0.1, -5)], version=2))
    cases.append(Case("transpose_f32", "TRANSPOSE", [T([2, 3, 4]), T([3], I32, data=[0, 2, 1])], [T([2, 4, 3])]))
    cases.append(Case("transpose_i8_4d", "TRANSPOSE", [T([1, 2, 3, 4], I8, 0.1, 0), T([4], I32, data=[0, 3, 1, 2])],
                      [T([1, 4, 2, 3], I8, 0.1, 0)], version=2))
    cases.append(Case("strided_slice_f32", "STRIDED_SLICE",
                      [T([1, 6, 5, 3]), T([4], I32, data=[0, 1, 0, 0]), T([4], I32, data=[1, 6, 5, 2]), T([4], I32, data=[1, 2, 2, 1])],
                      [T([1, 3, 3, 2])], new_node("StridedSliceOptions", begin_mask=0, end_mask=0)))
    cases.append(Case("strided_slice_i8_masks", "STRIDED_SLICE",
                      [T([2, 7, 4], I8, 0.1, 0), T([3], I32, data=[0, -5, 1]), T([3], I32, data=[0, -1, 3]), T([3], I32, data=[1, 1, 1])],
                      [T([2, 4, 2], I8, 0.1, 0)], new_node("StridedSliceOptions", begin_mask=1, end_mask=1), version=2))
    cases.append(Case("strided_slice_shrink", "STRIDED_SLICE",
                      [T([1, 5, 4]), T([3], I32, data=[0, 2, 0]), T([3], I32, data=[1, 3, 4]), T([3], I32, data=[1, 1, 1])],
                      [T([1, 4])], new_node("StridedSliceOptions", shrink_axis_mask=2)))
    return cases


def matmul_cases() -> list[Case]:
    cases = []
    r = rng_for("bmm")
    bo = "BatchMatMulOptions"
    cases.append(Case("bmm_f32_3d", "BATCH_MATMUL", [T([2, 3, 5]), T([2, 5, 4])], [T([2, 3, 4])], new_node(bo)))
    cases.append(Case("bmm_f32_adj_const", "BATCH_MATMUL", [T([1, 4, 6]), T([3, 6], data=r.normal(0, 1, (3, 6)))],
                      [T([1, 4, 3])], new_node(bo, adj_y=True)))
    cases.append(Case("bmm_i8", "BATCH_MATMUL", [T([2, 3, 16], I8, 0.05, 3), T([2, 16, 5], I8, 0.04, -2)],
                      [T([2, 3, 5], I8, 0.6, 1)], new_node(bo), version=2))
    cases.append(Case("bmm_i8_adjx", "BATCH_MATMUL", [T([1, 16, 3], I8, 0.05, 0), T([1, 16, 5], I8, 0.04, 0)],
                      [T([1, 3, 5], I8, 0.5, -4)], new_node(bo, adj_x=True), version=2))
    cases.append(Case("bmm_i16", "BATCH_MATMUL", [T([2, 3, 12], I16, 0.001, 0), T([2, 12, 4], I16, 0.002, 0)],
                      [T([2, 3, 4], I16, 0.002, 0)], new_node(bo), version=3))
    w, ws = qweights(r, (12, 4), None)
    cases.append(Case("bmm_i16_w8_const", "BATCH_MATMUL", [T([1, 3, 12], I16, 0.001, 0), T([12, 4], I8, ws, 0, 0, w)],
                      [T([1, 3, 4], I16, 0.0005, 0)], new_node(bo), version=4))
    w, ws = qweights(r, (10, 6), None)
    cases.append(Case("bmm_hybrid", "BATCH_MATMUL", [T([1, 3, 10]), T([10, 6], I8, ws, 0, 0, w)], [T([1, 3, 6])],
                      new_node(bo), version=4, tflm=False))
    return cases


def hybrid_conv_cases() -> list[Case]:
    cases = []
    for name, (mult, pad, st) in {"dw_hybrid_pc_same_m1": (1, 0, 1), "dw_hybrid_pc_valid_m2_s2": (2, 1, 2)}.items():
        r = rng_for(name)
        cin, h = 3, 7
        cout = cin * mult
        wq, ws = qweights(r, (1, 3, 3, cout), 3)
        opts = new_node("DepthwiseConv2DOptions", padding=pad, stride_w=st, stride_h=st, depth_multiplier=mult,
                        fused_activation_function=1, dilation_w_factor=1, dilation_h_factor=1)
        oh = (h + st - 1) // st if pad == 0 else (h - 3 + st) // st
        cases.append(Case(name, "DEPTHWISE_CONV_2D", [T([2, h, h, cin]), T([1, 3, 3, cout], I8, ws, 0, 3, wq),
                                                       T([cout], data=r.normal(0, .5, cout))],
                          [T([2, oh, oh, cout])], opts, version=6, tflm=False))
    for name, (per_ch, pad, sh) in {"conv_hybrid_pt_same": (False, 0, 1), "conv_hybrid_pc_same_s2": (True, 0, 2),
                                    "conv_hybrid_pc_valid": (True, 1, 1)}.items():
        r = rng_for(name)
        wq, ws = qweights(r, (4, 3, 3, 3), 0 if per_ch else None)
        opts = new_node("Conv2DOptions", padding=pad, stride_w=sh, stride_h=sh, fused_activation_function=1,
                        dilation_w_factor=1, dilation_h_factor=1)
        h = w = 7
        oh = (h + sh - 1) // sh if pad == 0 else (h - 3 + sh) // sh
        cases.append(Case(name, "CONV_2D", [T([2, h, w, 3]), T([4, 3, 3, 3], I8, ws, 0, 0, wq), T([4], data=r.normal(0, .5, 4))],
                          [T([2, oh, oh, 4])], opts, version=2, tflm=False))
    return cases


def transpose_conv_cases() -> list[Case]:
    cases = []
    for name, (h, w, cin, cout, kh, kw, sh, sw, pad, itype) in {
        "tconv_f32_same_s2": (4, 5, 3, 2, 3, 3, 2, 2, 0, F32),
        "tconv_f32_valid_s1x2": (3, 4, 2, 3, 2, 3, 1, 2, 1, F32),
        "tconv_i8_pc_same_s2": (4, 4, 3, 4, 3, 3, 2, 2, 0, I8),
        "tconv_i8_pc_valid": (3, 5, 4, 2, 2, 2, 1, 2, 1, I8),
        "tconv_i16x8_pc_valid": (1, 5, 8, 4, 3, 4, 1, 2, 1, I16),
    }.items():
        r = rng_for(name)
        oh = h * sh if pad == 0 else (h - 1) * sh + kh
        ow = w * sw if pad == 0 else (w - 1) * sw + kw
        opts = new_node("TransposeConvOptions", padding=pad, stride_w=sw, stride_h=sh)
        shape_in = T([4], I32, data=[1, oh, ow, cout])
        if itype == F32:
            ins = [shape_in, T([cout, kh, kw, cin], data=r.normal(0, .5, (cout, kh, kw, cin))), T([1, h, w, cin]),
                   T([cout], data=r.normal(0, .5, cout))]
            cases.append(Case(name, "TRANSPOSE_CONV", ins, [T([1, oh, ow, cout])], opts, version=3))
            continue
        wq, ws = qweights(r, (cout, kh, kw, cin), 0)
        k = kh * kw * cin
        if itype == I8:
            in_s, in_zp = 0.05, int(r.integers(-10, 10))
            bias = T([cout], I32, scale=in_s * ws, data=r.integers(-2000, 2000, cout))
            out_s, out_zp = act_out_scale(in_s, ws, k) / 2, int(r.integers(-10, 10))
        else:
            in_s, in_zp = 0.0005, 0
            bias = T([cout], I64, scale=in_s * ws, data=r.integers(-200000, 200000, cout))
            out_s, out_zp = act_out_scale(in_s, ws, k) * 256 / 65536 * 25, 0
        ins = [shape_in, T([cout, kh, kw, cin], I8, ws, 0, 0, wq), T([1, h, w, cin], itype, in_s, in_zp), bias]
        cases.append(Case(name, "TRANSPOSE_CONV", ins, [T([1, oh, ow, cout], itype, out_s, out_zp)], opts, version=3))
    return cases


ALL = [transpose_conv_cases, matmul_cases, hybrid_conv_cases, conv_cases, depthwise_cases, fc_cases, pool_cases, elementwise_cases, misc_cases, shape_cases]


def make(case: Case) -> dict[str, np.ndarray] | None:
    """The arrays of one case of this file, or None when LiteRT cannot run it."""
    model = build(case)
    r = rng_for(case.name + "/inputs")
    acts = [t for t in case.inputs if t is not None and t.data is None and not t.variable]
    inputs = [random_input(t, r, case.ranges.get(case.inputs.index(t))) for t in acts]
    try:
        outs = run_litert(model, inputs)
    except Exception as e:  # noqa: BLE001 - report and continue with the other cases
        print(f"  SKIP {case.name}: LiteRT failed: {str(e).splitlines()[0][:150]}")
        return None
    batch = case.batch if case.batch is not None else all(x.ndim and x.shape[0] == 1 for x in inputs)
    arrays = {"model": np.frombuffer(model, np.uint8), "op": np.array(case.op), "batch": np.array(int(batch)),
              "target": np.array("litert")}
    arrays.update({f"in{i}": x for i, x in enumerate(inputs)})
    arrays.update({f"out{i}": y for i, y in enumerate(outs)})
    if case.tflm and any(t.type != F32 for t in case.outputs + acts):
        tm = run_tflm(model, inputs)
        if tm is not None:
            arrays.update({f"tflm_out{i}": y for i, y in enumerate(tm)})
    return arrays


def _unchanged(path: Path, arrays: dict[str, np.ndarray]) -> bool:
    if not path.exists():
        return False
    with np.load(path, allow_pickle=False) as old:
        return set(old.files) == set(arrays) and all(
            old[k].dtype == np.asarray(arrays[k]).dtype and np.array_equal(old[k], arrays[k]) for k in old.files)


def write_case(name: str, arrays: dict[str, np.ndarray]) -> bool:
    """Write one case file atomically; False (and nothing written) when the stored arrays are the same."""
    assert {"model", "op", "batch", "target", "out0"} <= set(arrays), (name, sorted(arrays))
    assert str(arrays["target"]) in ("litert", "tflm"), (name, arrays["target"])
    path = OUT / f"{name}.npz"
    if _unchanged(path, arrays):
        return False
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    write_atomic(path, buf.getvalue())
    return True


def all_cases():
    """(name, op, maker) for every case of both case modules, in a fixed order."""
    import golden_cases_more as extra  # the second case module, beside this file (tools/ is on sys.path)

    for fn in ALL:
        for case in fn():
            yield case.name, case.op, lambda c=case: make(c)
    for case in extra.all_cases():  # draws its inputs from one seeded generator: always enumerate them all
        yield case.name, case.op, lambda c=case: extra.make(c)


def main(argv: list[str]) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    want = argv[1:]
    n = written = 0
    names: set[str] = set()
    for name, op, maker in all_cases():
        assert name not in names, f"two cases named {name}"
        names.add(name)
        if want and not any(w in name or w == op for w in want):
            continue
        arrays = maker()
        if arrays is None:
            continue
        n += 1
        if write_case(name, arrays):
            written += 1
            print(f"  {name}: {arrays['model'].size} B model, target={arrays['target']}, "
                  f"tflm={'tflm_out0' in arrays}")
    print(f"{n} cases, {written} written or changed, in {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
