"""Golden cases of the ops with weights: CONV_2D (plain, grouped, hybrid), DEPTHWISE_CONV_2D, TRANSPOSE_CONV,
FULLY_CONNECTED (constant and fed weights, hybrid) and BATCH_MATMUL. The vocabulary is tools/golden_format.py's.

Seeds: every case function draws from its own generator (``rng_for(name)`` or a fixed seed), so cases can be
added, moved or reordered without changing another case's values.
"""

from __future__ import annotations

import numpy as np
from golden_format import F32, I8, I16, I32, I64, Case, T, out_size, rng_for

from edgequant.graph import new_node


def qweights(rng, shape, per_channel_axis=None, lo=0.002, hi=0.02):
    w = rng.integers(-127, 128, shape).astype(np.int8)
    n = shape[per_channel_axis] if per_channel_axis is not None else 1
    s = rng.uniform(lo, hi, n).astype(np.float32)
    return w, s


def act_out_scale(in_s, w_s, k):
    return float(180.0 * np.sqrt(k) * in_s * float(np.mean(w_s)) / 1.0)


def int_io(r, itype, ws, k, n, zp=20, gain=1.0):
    """(input q, bias T, output q) of an int8 or 16x8 op with weight scales ws over k products and n outputs;
    draws the int8 input zero point (in -zp..zp-1), the bias and the int8 output zero point from r, in that
    order. gain scales the output scale."""
    if itype == I8:
        in_s, in_zp = 0.05, int(r.integers(-zp, zp))
        bias = T([n], I32, (in_s * ws, 0), data=r.integers(-2000, 2000, n))
        return (in_s, in_zp), bias, (act_out_scale(in_s, ws, k) * gain, int(r.integers(-10, 10)))
    in_s = 0.0005
    bias = T([n], I64, (in_s * ws, 0), data=r.integers(-200000, 200000, n))
    return (in_s, 0), bias, (act_out_scale(in_s, ws, k) * 256 / 65536 * 50 * gain, 0)


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
        oh, ow = out_size(h, kh, sh, dh, pad), out_size(w, kw, sw, dw, pad)
        cases.append(Case(name, "CONV_2D", [T([1, h, w, cin]),
                                             T([cout, kh, kw, cin], data=r.normal(0, .5, (cout, kh, kw, cin))),
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
        oh, ow = out_size(h, kh, sh, dh, pad), out_size(w, kw, sw, dw, pad)
        wq, ws = qweights(r, (cout, kh, kw, cin), 0 if per_ch else None)
        q_in, bias, q_out = int_io(r, itype, ws, kh * kw * cin, cout)
        cases.append(Case(name, "CONV_2D", [T([1, h, w, cin], itype, q_in),
                                             T([cout, kh, kw, cin], I8, (ws, 0), data=wq), bias],
                          [T([1, oh, ow, cout], itype, q_out)], opts, version=3, tflm=True))
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
        oh, ow = out_size(h, kh, sh, dh, pad), out_size(w, kw, sw, dw, pad)
        if itype == F32:
            cases.append(Case(name, "DEPTHWISE_CONV_2D",
                              [T([1, h, w, cin]), T([1, kh, kw, cout], data=r.normal(0, .5, (1, kh, kw, cout))),
                               T([cout], data=r.normal(0, .5, cout))], [T([1, oh, ow, cout])], opts))
            continue
        wq, ws = qweights(r, (1, kh, kw, cout), 3)
        q_in, bias, q_out = int_io(r, itype, ws, kh * kw, cout)
        cases.append(Case(name, "DEPTHWISE_CONV_2D", [T([1, h, w, cin], itype, q_in),
                                                       T([1, kh, kw, cout], I8, (ws, 0, 3), data=wq), bias],
                          [T([1, oh, ow, cout], itype, q_out)], opts, version=3, tflm=True))
    return cases


def fc_cases() -> list[Case]:
    cases = []
    r = rng_for("fc_f32")
    cases.append(Case("fc_f32_relu", "FULLY_CONNECTED",
                      [T([2, 10]), T([6, 10], data=r.normal(0, .5, (6, 10))), T([6], data=r.normal(0, .5, 6))],
                      [T([2, 6])], new_node("FullyConnectedOptions", fused_activation_function=1)))
    cases.append(Case("fc_f32_keepdims_nobias", "FULLY_CONNECTED",
                      [T([1, 3, 8]), T([5, 8], data=r.normal(0, .5, (5, 8))), None],
                      [T([1, 3, 5])], new_node("FullyConnectedOptions", keep_num_dims=True)))
    for name, (b, k, n, act, per_ch, itype) in {
        "fc_i8_pt_relu": (2, 40, 7, 1, False, I8),
        "fc_i8_pt_deep": (1, 700, 5, 0, False, I8),
        "fc_i8_pc": (3, 24, 6, 0, True, I8),
        "fc_i16x8_pt": (2, 30, 5, 0, False, I16),
        "fc_i16x8_pt_relu6": (1, 16, 4, 3, False, I16),
        "fc_i16x8_pc": (4, 48, 9, 0, True, I16),  # what edgequant's int16x8 mode writes
    }.items():
        r = rng_for(name)
        wq, ws = qweights(r, (n, k), 0 if per_ch else None)
        q_in, bias, q_out = int_io(r, itype, ws, k, n)
        cases.append(Case(name, "FULLY_CONNECTED", [T([b, k], itype, q_in), T([n, k], I8, (ws, 0), data=wq), bias],
                          [T([b, n], itype, q_out)], new_node("FullyConnectedOptions", fused_activation_function=act),
                          version=4 if itype == I8 else 7, tflm=True))
    for name, asym, pc in (("fc_hybrid_sym", False, False), ("fc_hybrid_asym", True, False),
                           ("fc_hybrid_pc_sym", False, True), ("fc_hybrid_pc_asym", True, True)):
        r = rng_for(name)
        wq, ws = qweights(r, (6, 20), 0 if pc else None)
        cases.append(Case(name, "FULLY_CONNECTED",
                          [T([3, 20]), T([6, 20], I8, (ws, 0), data=wq), T([6], data=r.normal(0, .5, 6))],
                          [T([3, 6])], new_node("FullyConnectedOptions", asymmetric_quantize_inputs=asym),
                          version=9 if asym else 3))
    return cases


def matmul_cases() -> list[Case]:
    cases = []
    r = rng_for("bmm")
    bo = "BatchMatMulOptions"
    cases.append(Case("bmm_f32_3d", "BATCH_MATMUL", [T([2, 3, 5]), T([2, 5, 4])], [T([2, 3, 4])], new_node(bo)))
    cases.append(Case("bmm_f32_adj_const", "BATCH_MATMUL", [T([1, 4, 6]), T([3, 6], data=r.normal(0, 1, (3, 6)))],
                      [T([1, 4, 3])], new_node(bo, adj_y=True)))
    cases.append(Case("bmm_i8", "BATCH_MATMUL", [T([2, 3, 16], I8, (0.05, 3)), T([2, 16, 5], I8, (0.04, -2))],
                      [T([2, 3, 5], I8, (0.6, 1))], new_node(bo), version=2, tflm=True))
    cases.append(Case("bmm_i8_adjx", "BATCH_MATMUL", [T([1, 16, 3], I8, (0.05, 0)), T([1, 16, 5], I8, (0.04, 0))],
                      [T([1, 3, 5], I8, (0.5, -4))], new_node(bo, adj_x=True), version=2, tflm=True))
    cases.append(Case("bmm_i16", "BATCH_MATMUL", [T([2, 3, 12], I16, (0.001, 0)), T([2, 12, 4], I16, (0.002, 0))],
                      [T([2, 3, 4], I16, (0.002, 0))], new_node(bo), version=3, tflm=True))
    w, ws = qweights(r, (12, 4), None)
    # no tflm: tflite-micro's BATCH_MATMUL wants both inputs of one type
    cases.append(Case("bmm_i16_w8_const", "BATCH_MATMUL",
                      [T([1, 3, 12], I16, (0.001, 0)), T([12, 4], I8, (ws, 0), data=w)],
                      [T([1, 3, 4], I16, (0.0005, 0))], new_node(bo), version=4))
    w, ws = qweights(r, (10, 6), None)
    cases.append(Case("bmm_hybrid", "BATCH_MATMUL", [T([1, 3, 10]), T([10, 6], I8, (ws, 0), data=w)], [T([1, 3, 6])],
                      new_node(bo), version=4))
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
        oh = out_size(h, 3, st, 1, pad)
        cases.append(Case(name, "DEPTHWISE_CONV_2D", [T([2, h, h, cin]), T([1, 3, 3, cout], I8, (ws, 0, 3), data=wq),
                                                       T([cout], data=r.normal(0, .5, cout))],
                          [T([2, oh, oh, cout])], opts, version=6))
    for name, (per_ch, pad, sh) in {"conv_hybrid_pt_same": (False, 0, 1), "conv_hybrid_pc_same_s2": (True, 0, 2),
                                    "conv_hybrid_pc_valid": (True, 1, 1)}.items():
        r = rng_for(name)
        wq, ws = qweights(r, (4, 3, 3, 3), 0 if per_ch else None)
        opts = new_node("Conv2DOptions", padding=pad, stride_w=sh, stride_h=sh, fused_activation_function=1,
                        dilation_w_factor=1, dilation_h_factor=1)
        h = w = 7
        oh = out_size(h, 3, sh, 1, pad)
        cases.append(Case(name, "CONV_2D",
                          [T([2, h, w, 3]), T([4, 3, 3, 3], I8, (ws, 0), data=wq), T([4], data=r.normal(0, .5, 4))],
                          [T([2, oh, oh, 4])], opts, version=2))
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
        q_in, bias, q_out = int_io(r, itype, ws, kh * kw * cin, cout, zp=10, gain=0.5)
        ins = [shape_in, T([cout, kh, kw, cin], I8, (ws, 0), data=wq), T([1, h, w, cin], itype, q_in), bias]
        cases.append(Case(name, "TRANSPOSE_CONV", ins, [T([1, oh, ow, cout], itype, q_out)], opts, version=3,
                          tflm=True))
    return cases


def cases_fc_weight_inputs():
    """FULLY_CONNECTED with weights (and bias) fed at run time, as in attention (issue #4): both runtimes read
    them at every Eval. Not batchable: run() must not stack the weights with the input. Per-channel weights'
    zero points are never read (FullyConnectedPerChannel, both runtimes)."""
    rng = np.random.default_rng(7)

    def q16(*shape):
        return rng.integers(-32768, 32767, shape, endpoint=True).astype(np.int16)

    def q8(*shape):
        return rng.integers(-128, 127, shape, endpoint=True).astype(np.int8)

    f = "FullyConnectedOptions"
    w = rng.uniform(-1, 1, (5, 8)).astype(np.float32)
    yield Case("FULLY_CONNECTED__f32_weights_input", "FULLY_CONNECTED",
               [T(feed=f32_rng(rng, 3, 8)), T(feed=w), T(data=rng.uniform(-1, 1, 5).astype(np.float32))],
               [T(type=F32)], new_node(f, fused_activation_function=1))
    yield Case("FULLY_CONNECTED__f32_weights_bias_input_keepdims", "FULLY_CONNECTED",
               [T(feed=f32_rng(rng, 1, 3, 8)), T(feed=f32_rng(rng, 6, 8)), T(feed=f32_rng(rng, 6))],
               [T(type=F32)], new_node(f, keep_num_dims=True))
    yield Case("FULLY_CONNECTED__i8_weights_input", "FULLY_CONNECTED",
               [T(feed=q8(3, 24), q=(0.05, 3)), T(feed=q8(7, 24), q=(0.02, -9)),
                T(data=rng.integers(-800, 800, 7).astype(np.int32), q=(0.001, 0))],
               [T(type=I8, q=(0.4, -4))], new_node(f), version=4, tflm=True)
    yield Case("FULLY_CONNECTED__i8_weights_bias_input_relu", "FULLY_CONNECTED",
               [T(feed=q8(2, 16), q=(0.05, -6)), T(feed=q8(5, 16), q=(0.03, 11)),
                T(feed=rng.integers(-800, 800, 5).astype(np.int32), q=(0.0015, 0))],
               [T(type=I8, q=(0.3, -30))], new_node(f, fused_activation_function=1), version=4, tflm=True)
    yield Case("FULLY_CONNECTED__i8_weights_input_deep_nobias", "FULLY_CONNECTED",
               [T(feed=q8(2, 300), q=(0.05, 120)), T(feed=q8(4, 300), q=(0.02, -120)), None],
               [T(type=I8, q=(12.0, 0))], new_node(f), version=4, tflm=True)  # float64 GEMM: sums > 2^24
    ws = rng.uniform(0.01, 0.03, 5).astype(np.float32)
    yield Case("FULLY_CONNECTED__i8_pc_weights_input_zp_ignored", "FULLY_CONNECTED",
               [T(feed=q8(3, 16), q=(0.05, 3)), T(feed=q8(5, 16), q=(ws, np.full(5, 4), 0)),
                T(data=rng.integers(-500, 500, 5).astype(np.int32), q=(0.05 * ws, np.zeros(5), 0))],
               [T(type=I8, q=(0.3, 2))], new_node(f), version=4)  # the runtimes part on one element here
    yield Case("FULLY_CONNECTED__i8_pc_const_zp_ignored", "FULLY_CONNECTED",
               [T(feed=q8(3, 16), q=(0.05, 3)), T(data=q8(5, 16), q=(ws, np.arange(5) - 2, 0)),
                T(data=rng.integers(-500, 500, 5).astype(np.int32), q=(0.05 * ws, np.zeros(5), 0))],
               [T(type=I8, q=(0.3, 2))], new_node(f), batch=True, version=4, tflm=True)
    yield Case("FULLY_CONNECTED__i16x8_weights_input", "FULLY_CONNECTED",
               [T(feed=q16(3, 16), q=(0.0005, 0)), T(feed=q8(5, 16), q=(0.02, 0)),
                T(data=rng.integers(-50000, 50000, 5).astype(np.int64), q=(0.00001, 0))],
               [T(type=I16, q=(0.003, 0))], new_node(f), version=7)
    yield Case("FULLY_CONNECTED__i16x8_weights_bias_input_wzp", "FULLY_CONNECTED",
               [T(feed=q16(2, 12), q=(0.0005, 0)), T(feed=q8(4, 12), q=(0.02, 5)),
                T(feed=rng.integers(-50000, 50000, 4).astype(np.int64), q=(0.00001, 0))],
               [T(type=I16, q=(0.002, 0))], new_node(f, fused_activation_function=3), version=7)


def f32_rng(rng: np.random.Generator, *shape) -> np.ndarray:
    return rng.uniform(-2, 2, shape).astype(np.float32)


def cases_grouped_conv():
    """Grouped CONV_2D (issue #4): filter input channels = input channels / groups. LiteRT runs every grouped
    convolution on its reference kernels (float, int8, 16x8) and tflite-micro agrees."""
    rng = np.random.default_rng(8)

    def conv_opts(pad=0, stride=1, dil=1, act=0):
        return new_node("Conv2DOptions", padding=pad, stride_w=stride, stride_h=stride, dilation_w_factor=dil,
                        dilation_h_factor=dil, fused_activation_function=act)

    def filt(cout, k, cg):
        return rng.integers(-127, 127, (cout, k, k, cg), endpoint=True).astype(np.int8)

    yield Case("CONV_2D__f32_grouped_g2_same", "CONV_2D",
               [T(feed=f32_rng(rng, 1, 6, 5, 4)), T(data=f32_rng(rng, 6, 3, 3, 2)), T(data=f32_rng(rng, 6))],
               [T(type=F32)], conv_opts(act=1), batch=True)
    yield Case("CONV_2D__f32_grouped_g4_valid_s2_dil2", "CONV_2D",
               [T(feed=f32_rng(rng, 2, 9, 9, 8)), T(data=f32_rng(rng, 8, 3, 3, 2)), T(data=f32_rng(rng, 8))],
               [T(type=F32)], conv_opts(pad=1, stride=2, dil=2))
    for name, (shape, cout, k, g, pad, stride, act) in {
        "g2_same_relu": ((1, 6, 5, 4), 6, 3, 2, 0, 1, 1),
        "g3_valid_s2": ((1, 7, 7, 6), 9, 3, 3, 1, 2, 0),
        "g8_1x1": ((1, 4, 4, 16), 8, 1, 8, 0, 1, 3),  # one input channel pair per group, pointwise
    }.items():
        cg = shape[3] // g
        ws = rng.uniform(0.005, 0.02, cout).astype(np.float32)
        in_zp = int(rng.integers(-20, 20))
        yield Case(f"CONV_2D__i8_grouped_{name}", "CONV_2D",
                   [T(feed=rng.integers(-128, 127, shape, endpoint=True).astype(np.int8), q=(0.05, in_zp)),
                    T(data=filt(cout, k, cg), q=(ws, np.zeros(cout), 0)),
                    T(data=rng.integers(-2000, 2000, cout).astype(np.int32), q=(0.05 * ws, np.zeros(cout), 0))],
                   [T(type=I8, q=(float(0.05 * ws.mean() * 127 * np.sqrt(k * k * cg) / 2), -3))],
                   conv_opts(pad=pad, stride=stride, act=act), batch=True, version=3, tflm=True)
    ws = rng.uniform(0.005, 0.02, 6).astype(np.float32)
    yield Case("CONV_2D__i16x8_grouped_g2_same", "CONV_2D",
               [T(feed=rng.integers(-32768, 32767, (1, 5, 6, 4), endpoint=True).astype(np.int16), q=(0.0005, 0)),
                T(data=filt(6, 3, 2), q=(ws, np.zeros(6), 0)),
                T(data=rng.integers(-200000, 200000, 6).astype(np.int64), q=(0.0005 * ws, np.zeros(6), 0))],
               [T(type=I16, q=(0.004, 0))], conv_opts(), batch=True, version=3, tflm=True)


CASES = [transpose_conv_cases, matmul_cases, hybrid_conv_cases, conv_cases, depthwise_cases, fc_cases,
         cases_fc_weight_inputs, cases_grouped_conv]
