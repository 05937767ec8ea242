"""Golden cases of the first kernels without weights: pooling, ADD/SUB/MUL, SOFTMAX, QUANTIZE/DEQUANTIZE, RESHAPE,
CONCATENATION, MEAN, LOGISTIC/TANH, the RELUs, PAD/PADV2, TRANSPOSE and STRIDED_SLICE. The vocabulary is
tools/golden_format.py's.

Seeds: every fed input is drawn at make time from its case's own generator, so cases can be added, moved or
reordered without changing another case's values.
"""

from __future__ import annotations

from golden_format import F16, F32, I8, I16, I32, Case, T, out_size

from edgequant.graph import new_node


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
            oh, ow = out_size(h, fh, sh, 1, pad), out_size(w, fw, sw, 1, pad)
            q = None if itype == F32 else (0.05, 3) if itype == I8 else (0.001, 0)
            cases.append(Case(f"{short}_{name}", op, [T([1, h, w, c], itype, q)], [T([1, oh, ow, c], itype, q)], opts,
                              version=2 if itype == I8 else (3 if itype == I16 else 1), tflm=itype != F32))
    return cases


def elementwise_cases() -> list[Case]:
    cases = []
    for op in ("ADD", "SUB", "MUL"):
        s = op.lower()
        opt_name = {"ADD": "AddOptions", "SUB": "SubOptions", "MUL": "MulOptions"}[op]
        cases.append(Case(f"{s}_f32_bcast_relu", op, [T([1, 4, 5, 3]), T([1, 1, 1, 3])], [T([1, 4, 5, 3])],
                          new_node(opt_name, fused_activation_function=1)))
        cases.append(Case(f"{s}_i8_same", op, [T([1, 6, 7], I8, (0.04, -5)), T([1, 6, 7], I8, (0.07, 8))],
                          [T([1, 6, 7], I8, (0.1 if op != "MUL" else 0.3, -3))], new_node(opt_name), version=2,
                          tflm=True))
        cases.append(Case(f"{s}_i8_bcast_relu6", op, [T([1, 3, 4, 5], I8, (0.05, 2)), T([1, 1, 1, 5], I8, (0.02, -1))],
                          [T([1, 3, 4, 5], I8, (0.08 if op != "MUL" else 0.05, -10))],
                          new_node(opt_name, fused_activation_function=3), version=2, tflm=True))
        cases.append(Case(f"{s}_i16", op, [T([2, 9], I16, (0.001, 0)), T([2, 9], I16, (0.0007, 0))],
                          [T([2, 9], I16, (0.002 if op != "MUL" else 0.5, 0))], new_node(opt_name),
                          version=3 if op != "MUL" else 4, tflm=True))
        cases.append(Case(f"{s}_i32", op, [T([3, 4], I32, range=(-1000, 1000)), T([3, 4], I32, range=(-1000, 1000))],
                          [T([3, 4], I32)], new_node(opt_name), tflm=True))
    return cases


def misc_cases() -> list[Case]:
    cases = []
    # softmax
    cases.append(Case("softmax_f32", "SOFTMAX", [T([2, 10])], [T([2, 10])], new_node("SoftmaxOptions", beta=1.0)))
    cases.append(Case("softmax_f32_beta", "SOFTMAX", [T([1, 3, 7])], [T([1, 3, 7])],
                      new_node("SoftmaxOptions", beta=0.4)))
    for name, (in_s, beta) in {"softmax_i8_a": (0.1, 1.0), "softmax_i8_b": (0.02, 1.0), "softmax_i8_c": (0.5, 0.7),
                               "softmax_i8_d": (0.0045, 2.0)}.items():
        cases.append(Case(name, "SOFTMAX", [T([3, 12], I8, (in_s, 5))], [T([3, 12], I8, (1.0 / 256, -128))],
                          new_node("SoftmaxOptions", beta=beta), version=2, tflm=True))
    cases.append(Case("softmax_i8_to_i16", "SOFTMAX", [T([2, 9], I8, (0.08, -3))],
                      [T([2, 9], I16, (1.0 / 65536, -32768))],
                      new_node("SoftmaxOptions", beta=1.0), version=3, tflm=True))
    for name, (in_s, beta) in {"softmax_i16_a": (0.001, 1.0), "softmax_i16_b": (0.0004, 1.0),
                               "softmax_i16_c": (0.003, 0.5)}.items():
        cases.append(Case(name, "SOFTMAX", [T([3, 10], I16, (in_s, 0))], [T([3, 10], I16, (1.0 / 32768, 0))],
                          new_node("SoftmaxOptions", beta=beta), version=3, tflm=True))
    # quantize / dequantize
    cases.append(Case("quantize_f32_i8", "QUANTIZE", [T([2, 33], range=(-6, 6))], [T([2, 33], I8, (0.037, -7))],
                      tflm=True))
    cases.append(Case("quantize_f32_i16", "QUANTIZE", [T([2, 33], range=(-8, 8))], [T([2, 33], I16, (0.00021, 0))],
                      tflm=True))
    for name, (t_in, q_in, t_out, q_out, version) in {
        "quantize_i8_i8": (I8, (0.05, 3), I8, (0.031, -9), 2),
        "quantize_i16_i8": (I16, (0.0003, 0), I8, (0.04, 2), 3),
        "quantize_i8_i16": (I8, (0.05, 3), I16, (0.0002, 0), 3),
        "quantize_i16_i16": (I16, (0.0003, 0), I16, (0.0007, 0), 3),
    }.items():
        cases.append(Case(name, "QUANTIZE", [T([4, 16], t_in, q_in)], [T([4, 16], t_out, q_out)], version=version,
                          tflm=True))
    cases.append(Case("dequantize_i8", "DEQUANTIZE", [T([3, 17], I8, (0.043, 11))], [T([3, 17])], version=2,
                      tflm=True))
    cases.append(Case("dequantize_i16", "DEQUANTIZE", [T([3, 17], I16, (0.0007, 0))], [T([3, 17])], version=4,
                      tflm=True))
    cases.append(Case("dequantize_f16", "DEQUANTIZE", [T([3, 17], F16)], [T([3, 17])], version=3))
    # per-channel: LiteRT scales each channel; tflite-micro reads channel 0's scale and zero point for all
    cases.append(Case("dequantize_i8_per_channel", "DEQUANTIZE",
                      [T([3, 4, 5], I8, ([0.02, 0.5, 0.003, 0.1, 1.25], [3, -7, 0, 12, -1], 2))], [T([3, 4, 5])],
                      version=2, tflm=True))
    # reshape / concat / mean
    cases.append(Case("reshape_f32", "RESHAPE", [T([1, 2, 3, 4]), T([2], I32, data=[1, 24])], [T([1, 24])]))
    cases.append(Case("reshape_i8", "RESHAPE", [T([1, 6, 4], I8, (0.1, 0)), T([3], I32, data=[1, 4, 6])],
                      [T([1, 4, 6], I8, (0.1, 0))], tflm=True))
    cases.append(Case("concat_f32_lastaxis", "CONCATENATION", [T([1, 3, 2]), T([1, 3, 4])], [T([1, 3, 6])],
                      new_node("ConcatenationOptions", axis=-1)))
    cases.append(Case("concat_i8_same", "CONCATENATION", [T([1, 2, 3], I8, (0.1, 1)), T([1, 4, 3], I8, (0.1, 1))],
                      [T([1, 6, 3], I8, (0.1, 1))], new_node("ConcatenationOptions", axis=1), version=2,
                      tflm=True))
    cases.append(Case("mean_f32_hw_keep", "MEAN", [T([1, 5, 6, 3]), T([2], I32, data=[1, 2])], [T([1, 1, 1, 3])],
                      new_node("ReducerOptions", keep_dims=True)))
    cases.append(Case("mean_f32_last", "MEAN", [T([2, 4, 7]), T([1], I32, data=[-1])], [T([2, 4])],
                      new_node("ReducerOptions", keep_dims=False)))
    cases.append(Case("mean_i8_hw_keep", "MEAN", [T([1, 5, 6, 3], I8, (0.05, 4)), T([2], I32, data=[1, 2])],
                      [T([1, 1, 1, 3], I8, (0.02, -3))], new_node("ReducerOptions", keep_dims=True), version=2,
                      tflm=True))
    cases.append(Case("mean_i16_hw", "MEAN", [T([1, 4, 5, 6], I16, (0.001, 0)), T([2], I32, data=[1, 2])],
                      [T([1, 6], I16, (0.0007, 0))], new_node("ReducerOptions", keep_dims=False), version=3,
                      tflm=True))
    cases.append(Case("mean_i8_same_scale", "MEAN", [T([1, 4, 4, 8], I8, (0.05, 4)), T([2], I32, data=[1, 2])],
                      [T([1, 8], I8, (0.05, 4))], new_node("ReducerOptions", keep_dims=False), version=2,
                      tflm=True))
    # activations
    for op in ("LOGISTIC", "TANH"):
        s = op.lower()
        cases.append(Case(f"{s}_f32", op, [T([2, 40], range=(-8, 8))], [T([2, 40])]))
        q_out = (1 / 256, -128) if op == "LOGISTIC" else (1 / 128, 0)
        cases.append(Case(f"{s}_i8_a", op, [T([2, 64], I8, (0.05, 3))], [T([2, 64], I8, q_out)], version=2, tflm=True))
        cases.append(Case(f"{s}_i8_b", op, [T([2, 64], I8, (0.12, -20))], [T([2, 64], I8, q_out)], version=2,
                          tflm=True))
        cases.append(Case(f"{s}_i16", op, [T([2, 64], I16, (8 / 32768, 0))], [T([2, 64], I16, (1 / 32768, 0))],
                          version=3, tflm=True))
        # int16 at more input scales: 2^-11 (TANH's second power-of-two case, LOGISTIC's general path), general
        # scales small to large over the whole int16 range, and values near zero (the first table intervals)
        for tag, in_s, shape, rng_ in (("s2m11", 2.0 ** -11, [1, 256], None), ("s00043", 0.00043, [4, 128], None),
                                       ("s3em5", 3e-5, [1, 256], None), ("s0021", 0.0021, [2, 128], None),
                                       ("s1d3000_small", 1 / 3000, [1, 256], (-700, 700))):
            cases.append(Case(f"{s}_i16_{tag}", op, [T(shape, I16, (in_s, 0), range=rng_)],
                              [T(shape, I16, (1 / 32768, 0))], version=3, tflm=True))
    for op in ("RELU", "RELU6", "RELU_N1_TO_1"):
        s = op.lower()
        cases.append(Case(f"{s}_f32", op, [T([3, 20], range=(-8, 8))], [T([3, 20])]))
        cases.append(Case(f"{s}_i8", op, [T([3, 20], I8, (0.05, 3))], [T([3, 20], I8, (0.03, -100))],
                          version=1 if op == "RELU_N1_TO_1" else 2,
                          tflm=op != "RELU_N1_TO_1"))  # tflite-micro has no RELU_N1_TO_1
    return cases


def shape_cases() -> list[Case]:
    cases = []
    cases.append(Case("pad_f32", "PAD", [T([1, 3, 4, 2]), T([4, 2], I32, data=[[0, 0], [1, 2], [2, 0], [0, 1]])],
                      [T([1, 6, 6, 3])]))
    cases.append(Case("pad_i8", "PAD", [T([1, 3, 4, 2], I8, (0.1, -5)),
                                        T([4, 2], I32, data=[[0, 0], [1, 1], [0, 2], [0, 0]])],
                      [T([1, 5, 6, 2], I8, (0.1, -5))], version=2, tflm=True))
    cases.append(Case("padv2_f32", "PADV2", [T([1, 3, 4, 2]), T([4, 2], I32, data=[[0, 0], [1, 2], [2, 0], [0, 1]]),
                                             T([1], F32, data=[1.5])], [T([1, 6, 6, 3])]))
    cases.append(Case("padv2_i8", "PADV2", [T([1, 3, 4, 2], I8, (0.1, -5)),
                                            T([4, 2], I32, data=[[0, 0], [1, 1], [0, 2], [0, 0]]),
                                            T([1], I8, (0.1, -5), data=[7])], [T([1, 5, 6, 2], I8, (0.1, -5))],
                      version=2, tflm=True))
    cases.append(Case("transpose_f32", "TRANSPOSE", [T([2, 3, 4]), T([3], I32, data=[0, 2, 1])], [T([2, 4, 3])]))
    cases.append(Case("transpose_i8_4d", "TRANSPOSE", [T([1, 2, 3, 4], I8, (0.1, 0)), T([4], I32, data=[0, 3, 1, 2])],
                      [T([1, 4, 2, 3], I8, (0.1, 0))], version=2, tflm=True))
    cases.append(Case("strided_slice_f32", "STRIDED_SLICE",
                      [T([1, 6, 5, 3]), T([4], I32, data=[0, 1, 0, 0]), T([4], I32, data=[1, 6, 5, 2]),
                       T([4], I32, data=[1, 2, 2, 1])],
                      [T([1, 3, 3, 2])], new_node("StridedSliceOptions", begin_mask=0, end_mask=0)))
    cases.append(Case("strided_slice_i8_masks", "STRIDED_SLICE",
                      [T([2, 7, 4], I8, (0.1, 0)), T([3], I32, data=[0, -5, 1]), T([3], I32, data=[0, -1, 3]),
                       T([3], I32, data=[1, 1, 1])],
                      [T([2, 4, 2], I8, (0.1, 0))], new_node("StridedSliceOptions", begin_mask=1, end_mask=1),
                      version=2, tflm=True))
    cases.append(Case("strided_slice_shrink", "STRIDED_SLICE",
                      [T([1, 5, 4]), T([3], I32, data=[0, 2, 0]), T([3], I32, data=[1, 3, 4]),
                       T([3], I32, data=[1, 1, 1])],
                      [T([1, 4])], new_node("StridedSliceOptions", shrink_axis_mask=2)))
    return cases


CASES = [pool_cases, elementwise_cases, misc_cases, shape_cases]
