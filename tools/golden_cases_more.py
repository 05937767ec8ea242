"""Golden cases of the second batch of kernels (SHAPE, PACK, ... DENSIFY) and of the places where LiteRT and
tflite-micro differ (issue #4). The vocabulary is tools/golden_format.py's; every fed input here is given
(``T(feed=...)``), none is drawn at make time.

Seeds: the cases from ``cases_shape`` to ``cases_resize_bilinear`` draw their values from the one generator
``RNG`` as they are enumerated, in the order of ``CASES``: tools/make_goldens.py always enumerates all of them,
and a new case that uses ``f32``/``ints`` goes at the end of that run, never before an existing one. Every later
function has its own generator, so it can be moved freely; new cases should do the same (or draw their inputs at
make time, as tools/golden_cases_basic.py's do).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from golden_format import BOOL, F32, I8, I16, I32, I64, Case, T

from edgequant import dtypes
from edgequant.graph import new_node

RNG = np.random.default_rng(20240604)


# -- input helpers ---------------------------------------------------------------------------------

def f32(*shape, lo=-3.0, hi=3.0) -> np.ndarray:
    return RNG.uniform(lo, hi, shape).astype(np.float32)


def ints(dtype, *shape, lo=None, hi=None) -> np.ndarray:
    info = np.iinfo(dtype)
    lo = info.min if lo is None else lo
    hi = info.max if hi is None else hi
    return RNG.integers(lo, hi, shape, endpoint=True).astype(dtype)


# -- the cases, one function per op (in the order of the issue) --------------------------------------

def cases_shape():
    yield Case("SHAPE__f32_i32", "SHAPE", [T(feed=f32(2, 3, 5))], [T(type=I32)],
               new_node("ShapeOptions", out_type=I32))
    yield Case("SHAPE__i8_i64", "SHAPE", [T(feed=ints(np.int8, 1, 4, 4, 2), q=(0.1, 3))], [T(type=I64)],
               new_node("ShapeOptions", out_type=I64), batch=False)


def cases_pack():
    yield Case("PACK__f32_axis1", "PACK", [T(feed=f32(2, 3)), T(feed=f32(2, 3)), T(feed=f32(2, 3))], [T(type=F32)],
               new_node("PackOptions", values_count=3, axis=1), batch=True)
    yield Case("PACK__i32_scalars", "PACK", [T(feed=np.array(5, np.int32)), T(feed=np.array(-1, np.int32))],
               [T(type=I32)], new_node("PackOptions", values_count=2, axis=0))
    q = (0.05, -4)
    yield Case("PACK__i8_axis0", "PACK", [T(feed=ints(np.int8, 2, 3), q=q), T(feed=ints(np.int8, 2, 3), q=q)],
               [T(type=I8, q=q)], new_node("PackOptions", values_count=2, axis=0), batch=True)
    yield Case("PACK__i16_axis_neg1", "PACK", [T(feed=ints(np.int16, 2, 3), q=(0.001, 0)),
                                              T(feed=ints(np.int16, 2, 3), q=(0.001, 0))],
               [T(type=I16, q=(0.001, 0))], new_node("PackOptions", values_count=2, axis=-1), batch=True)


def cases_unpack():
    yield Case("UNPACK__f32_axis1", "UNPACK", [T(feed=f32(2, 3, 4))], [T(type=F32)] * 3,
               new_node("UnpackOptions", num=3, axis=1), batch=True)
    yield Case("UNPACK__i8_axis0", "UNPACK", [T(feed=ints(np.int8, 2, 5), q=(0.2, 1))],
               [T(type=I8, q=(0.2, 1))] * 2, new_node("UnpackOptions", num=2, axis=0))
    yield Case("UNPACK__i32_axis_neg1", "UNPACK", [T(feed=ints(np.int32, 3, 2, lo=-99, hi=99))],
               [T(type=I32)] * 2, new_node("UnpackOptions", num=2, axis=-1), batch=True)


def cases_fill():
    yield Case("FILL__f32", "FILL", [T(feed=np.array([2, 3, 1], np.int32)), T(feed=np.array(1.5, np.float32))],
               [T(type=F32)])
    yield Case("FILL__i64_dims_i64_const", "FILL", [T(data=np.array([4, 2], np.int64)),
                                                    T(feed=np.array(-7, np.int64))], [T(type=I64)])
    yield Case("FILL__i8", "FILL", [T(feed=np.array([3, 2], np.int32)), T(feed=np.array(-5, np.int8), q=(0.5, 2))],
               [T(type=I8, q=(0.5, 2))])
    yield Case("FILL__bool", "FILL", [T(feed=np.array([2, 2], np.int32)), T(feed=np.array(True))], [T(type=BOOL)])


def cases_gather():
    yield Case("GATHER__f32_axis0_const_params", "GATHER", [T(data=f32(5, 3)),
                                                            T(feed=np.array([[4, 0], [2, 2]], np.int32))],
               [T(type=F32)], new_node("GatherOptions", axis=0), batch=True)
    yield Case("GATHER__i8_axis1", "GATHER", [T(feed=ints(np.int8, 2, 6, 3), q=(0.1, -2)),
                                              T(data=np.array([5, 1, 1, 0], np.int64))],
               [T(type=I8, q=(0.1, -2))], new_node("GatherOptions", axis=1), batch=True)
    yield Case("GATHER__i16_axis_neg1", "GATHER", [T(feed=ints(np.int16, 2, 4), q=(0.01, 0)),
                                                   T(feed=np.array([3, 0], np.int32))],
               [T(type=I16, q=(0.01, 0))], new_node("GatherOptions", axis=-1))
    yield Case("GATHER__i32_batch_dims1", "GATHER", [T(feed=ints(np.int32, 2, 5, 2, lo=-50, hi=50)),
                                                     T(feed=np.array([[0, 4, 4], [3, 2, 1]], np.int32))],
               [T(type=I32)], new_node("GatherOptions", axis=1, batch_dims=1))


def cases_squeeze():
    yield Case("SQUEEZE__f32_all", "SQUEEZE", [T(feed=f32(1, 3, 1, 2))], [T(type=F32)],
               new_node("SqueezeOptions", squeeze_dims=[]), batch=False)
    yield Case("SQUEEZE__i8_dims", "SQUEEZE", [T(feed=ints(np.int8, 2, 1, 1, 3), q=(0.3, 0))],
               [T(type=I8, q=(0.3, 0))], new_node("SqueezeOptions", squeeze_dims=[-2, 1]), batch=True)


def cases_expand_dims():
    yield Case("EXPAND_DIMS__f32_neg1", "EXPAND_DIMS", [T(feed=f32(2, 3)), T(data=np.array([-1], np.int32))],
               [T(type=F32)], batch=True)
    yield Case("EXPAND_DIMS__i16_axis0", "EXPAND_DIMS", [T(feed=ints(np.int16, 3, 2), q=(0.5, 0)),
                                                         T(data=np.array(0, np.int64))],
               [T(type=I16, q=(0.5, 0))])
    yield Case("EXPAND_DIMS__i32_axis1_dynamic", "EXPAND_DIMS",
               [T(feed=ints(np.int32, 2, 2)), T(feed=np.array(1, np.int32))],
               [T(type=I32)])


def cases_split():
    yield Case("SPLIT__f32_axis1", "SPLIT", [T(data=np.array(1, np.int32)), T(feed=f32(2, 6, 2))],
               [T(type=F32)] * 3, new_node("SplitOptions", num_splits=3), batch=True)
    yield Case("SPLIT__i8_axis0", "SPLIT", [T(data=np.array([0], np.int32)),
                                            T(feed=ints(np.int8, 4, 3), q=(0.25, 5))],
               [T(type=I8, q=(0.25, 5))] * 2, new_node("SplitOptions", num_splits=2))
    yield Case("SPLIT__i16_axis_neg1", "SPLIT", [T(data=np.array(-1, np.int32)),
                                                 T(feed=ints(np.int16, 2, 4), q=(0.1, 0))],
               [T(type=I16, q=(0.1, 0))] * 2, new_node("SplitOptions", num_splits=2), batch=True)


def cases_split_v():
    yield Case("SPLIT_V__f32_minus1", "SPLIT_V", [T(feed=f32(2, 7)), T(data=np.array([2, -1, 1], np.int32)),
                                                  T(data=np.array(1, np.int32))],
               [T(type=F32)] * 3, new_node("SplitVOptions", num_splits=3), batch=True)
    yield Case("SPLIT_V__i8_axis0", "SPLIT_V", [T(feed=ints(np.int8, 5, 2), q=(0.5, -1)),
                                                T(data=np.array([3, 2], np.int64)),
                                                T(data=np.array([0], np.int32))],
               [T(type=I8, q=(0.5, -1))] * 2, new_node("SplitVOptions", num_splits=2))


def cases_slice():
    yield Case("SLICE__f32", "SLICE", [T(feed=f32(3, 4, 5)), T(data=np.array([1, 0, 2], np.int32)),
                                       T(data=np.array([2, -1, 3], np.int32))], [T(type=F32)])
    yield Case("SLICE__i8_full_batch", "SLICE", [T(feed=ints(np.int8, 2, 6), q=(0.1, 0)),
                                                 T(data=np.array([0, 1], np.int64)),
                                                 T(data=np.array([-1, 4], np.int64))],
               [T(type=I8, q=(0.1, 0))], batch=True)
    yield Case("SLICE__i32_dynamic", "SLICE", [T(feed=ints(np.int32, 4, 3, lo=-9, hi=9)),
                                               T(feed=np.array([1, 1], np.int32)),
                                               T(feed=np.array([2, 2], np.int32))], [T(type=I32)])


def cases_cast():
    x = np.array([[-2.7, -0.5, 0.0, 0.4, 1.5, 126.9, -127.9, 3.0]], np.float32)
    yield Case("CAST__f32_i32", "CAST", [T(feed=x)], [T(type=I32)], batch=True)
    yield Case("CAST__f32_i8", "CAST", [T(feed=x)], [T(type=I8)], batch=False)
    yield Case("CAST__i32_f32", "CAST", [T(feed=ints(np.int32, 2, 4))], [T(type=F32)], batch=True)
    yield Case("CAST__i8_i32", "CAST", [T(feed=ints(np.int8, 2, 4))], [T(type=I32)])
    yield Case("CAST__i32_bool", "CAST", [T(feed=np.array([[0, 1, -3, 0]], np.int32))], [T(type=BOOL)], batch=False)
    yield Case("CAST__bool_f32", "CAST", [T(feed=np.array([[True, False, True]]))], [T(type=F32)], batch=False)
    yield Case("CAST__i64_i16", "CAST", [T(feed=np.array([[70000, -70000, 5, -1]], np.int64))], [T(type=I16)],
               batch=False)
    yield Case("CAST__u8_i8", "CAST", [T(feed=np.array([[0, 127, 128, 255]], np.uint8))], [T(type=I8)], batch=False)


def cases_arg_max():
    yield Case("ARG_MAX__f32_axis1_i64", "ARG_MAX", [T(feed=f32(2, 5, 3)), T(data=np.array([1], np.int32))],
               [T(type=I64)], new_node("ArgMaxOptions", output_type=I64), batch=True)
    x = np.array([[3, -1, 3, 2], [-128, -128, 5, 5]], np.int8)  # ties: first index wins
    yield Case("ARG_MAX__i8_ties_i32", "ARG_MAX", [T(feed=x, q=(0.1, 0)), T(data=np.array(-1, np.int32))],
               [T(type=I32)], new_node("ArgMaxOptions", output_type=I32), batch=True)


def _binary(op, name, a, b, out_type, q=None, options=None, batch=True, const_b=False):
    return Case(f"{op}__{name}", op, [T(feed=a, q=q), T(data=b, q=q) if const_b else T(feed=b, q=q)],
                [T(type=out_type, q=q)], options, batch=batch)


def cases_max_min():
    for op in ("MAXIMUM", "MINIMUM"):
        yield _binary(op, "f32_broadcast", f32(2, 3, 4), f32(4), F32, batch=False)
        yield _binary(op, "i8", ints(np.int8, 2, 5), ints(np.int8, 1, 5), I8, q=(0.1, -3), const_b=True)
        yield _binary(op, "i16", ints(np.int16, 2, 5), ints(np.int16, 2, 5), I16, q=(0.01, 0))
        yield _binary(op, "i32", ints(np.int32, 3, 1), ints(np.int32, 1, 4), I32, batch=False)


def cases_floor_div():
    b = f32(2, 6)
    b[np.abs(b) < 0.2] = 0.5
    yield _binary("FLOOR_DIV", "f32", f32(2, 6, lo=-9, hi=9), b, F32)
    nz = ints(np.int32, 1, 6, lo=-7, hi=7)
    nz[nz == 0] = 3
    yield _binary("FLOOR_DIV", "i32_broadcast", ints(np.int32, 2, 6, lo=-50, hi=50), nz, I32,
                  const_b=True)
    d8 = ints(np.int8, 2, 6, lo=-9, hi=9)
    d8[d8 == 0] = -2
    yield _binary("FLOOR_DIV", "i8", ints(np.int8, 2, 6), d8, I8)
    d16 = ints(np.int16, 2, 6, lo=-300, hi=300)
    d16[d16 == 0] = 7
    yield _binary("FLOOR_DIV", "i16", ints(np.int16, 2, 6), d16, I16)


def cases_select_v2():
    c = RNG.integers(0, 2, (2, 1, 4)).astype(bool)
    yield Case("SELECT_V2__f32_broadcast", "SELECT_V2", [T(feed=c), T(feed=f32(2, 3, 4)), T(feed=f32(1, 3, 1))],
               [T(type=F32)])
    q = (0.05, 3)
    yield Case("SELECT_V2__i8", "SELECT_V2", [T(feed=RNG.integers(0, 2, (2, 5)).astype(bool)),
                                             T(feed=ints(np.int8, 2, 5), q=q), T(feed=ints(np.int8, 2, 5), q=q)],
               [T(type=I8, q=q)], batch=True)
    yield Case("SELECT_V2__i32_scalar_else", "SELECT_V2", [T(feed=RNG.integers(0, 2, (3,)).astype(bool)),
                                                          T(feed=ints(np.int32, 3)), T(feed=np.array(-1, np.int32))],
               [T(type=I32)])


def _unary(op, name, x, out_type=None, qin=None, qout=None, batch=True):
    out_type = out_type if out_type is not None else dtypes.from_numpy(x.dtype)
    return Case(f"{op}__{name}", op, [T(feed=x, q=qin)], [T(type=out_type, q=qout)], batch=batch)


def cases_unary():
    pos = f32(2, 8, lo=0.01, hi=9.0)
    yield _unary("SQRT", "f32", pos)
    yield _unary("SQRT", "i8", ints(np.int8, 2, 16, lo=-20), qin=(0.1, -20), qout=(0.02, -128))
    yield _unary("SQRT", "i16", ints(np.int16, 2, 16, lo=0), qin=(0.001, 0), qout=(0.0002, 0))
    yield _unary("RSQRT", "f32", pos)
    yield _unary("RSQRT", "i8", np.arange(-128, 128, dtype=np.int8).reshape(2, 128)[:, :] * 0 +
                 np.clip(np.arange(-128, 128), -30, 127).astype(np.int8).reshape(2, 128), qin=(0.05, -30),
                 qout=(0.02, -128))
    yield _unary("RSQRT", "i16", ints(np.int16, 2, 64, lo=0), qin=(0.0005, 0), qout=(0.0003, 0))
    yield _unary("EXP", "f32", f32(2, 8, lo=-5, hi=3))
    yield _unary("EXP", "i8", np.arange(-128, 128, dtype=np.int8).reshape(2, 128), qin=(0.05, 10),
                 qout=(0.1, -128))
    yield _unary("EXP", "i16", ints(np.int16, 2, 128), qin=(1 / 8192, 0), qout=(20 / 32768, 0))
    yield _unary("LOG", "f32", pos)
    yield _unary("LOG", "i8", np.arange(-128, 128, dtype=np.int8).reshape(2, 128), qin=(0.05, -100),
                 qout=(0.04, 20))
    yield _unary("LOG", "i16", ints(np.int16, 2, 128), qin=(0.001, 0), qout=(8 / 32768, 0))
    yield _unary("ABS", "f32", f32(2, 8))
    yield _unary("ABS", "i32", ints(np.int32, 2, 8, lo=-1000, hi=1000))
    yield _unary("ABS", "i8_same_scale", ints(np.int8, 2, 16), qin=(0.1, 5), qout=(0.1, -7))
    yield _unary("ABS", "i8_rescale", ints(np.int8, 2, 16), qin=(0.1, 5), qout=(0.07, -128))
    yield _unary("ABS", "i16_rescale", ints(np.int16, 2, 16), qin=(0.01, 0), qout=(0.013, 0))
    yield _unary("ABS", "i16_plain", ints(np.int16, 2, 16, lo=-32767))
    yield _unary("NEG", "f32", f32(2, 8))
    yield _unary("NEG", "i32", ints(np.int32, 2, 8, lo=-1000, hi=1000))
    yield _unary("NEG", "i64", ints(np.int64, 2, 8, lo=-1000, hi=1000))
    yield _unary("NEG", "i8", ints(np.int8, 2, 8, lo=-127), qin=(0.1, 0), qout=(0.1, 0))
    yield _unary("SQUARE", "f32", f32(2, 8))


def cases_layout():
    yield Case("TILE__f32", "TILE", [T(feed=f32(2, 3)), T(data=np.array([1, 2], np.int32))],
               [T(type=F32)], batch=True)
    yield Case("TILE__i8_axis0", "TILE", [T(feed=ints(np.int8, 2, 2), q=(0.1, 1)), T(data=np.array([3, 1], np.int64))],
               [T(type=I8, q=(0.1, 1))])
    yield Case("TILE__i32_dynamic", "TILE", [T(feed=ints(np.int32, 1, 3)), T(feed=np.array([2, 2], np.int32))],
               [T(type=I32)])
    yield Case("GATHER_ND__f32", "GATHER_ND",
               [T(feed=f32(3, 4, 2)), T(data=np.array([[0, 1], [2, 3], [1, 0]], np.int32))], [T(type=F32)])
    yield Case("GATHER_ND__i8_const_params", "GATHER_ND",
               [T(data=ints(np.int8, 4, 3), q=(0.2, 0)), T(feed=np.array([[[3], [0]], [[1], [1]]], np.int32))],
               [T(type=I8, q=(0.2, 0))], batch=True)
    yield Case("GATHER_ND__i32_full", "GATHER_ND",
               [T(feed=ints(np.int32, 2, 3)), T(feed=np.array([[1, 2], [0, 0]], np.int64))],
               [T(type=I32)])
    yield Case("SPACE_TO_DEPTH__f32", "SPACE_TO_DEPTH", [T(feed=f32(2, 4, 6, 3))], [T(type=F32)],
               new_node("SpaceToDepthOptions", block_size=2), batch=True)
    yield Case("SPACE_TO_DEPTH__i8", "SPACE_TO_DEPTH", [T(feed=ints(np.int8, 1, 6, 3, 2), q=(0.1, 2))],
               [T(type=I8, q=(0.1, 2))], new_node("SpaceToDepthOptions", block_size=3), batch=True)
    yield Case("DEPTH_TO_SPACE__f32", "DEPTH_TO_SPACE", [T(feed=f32(2, 2, 3, 12))], [T(type=F32)],
               new_node("DepthToSpaceOptions", block_size=2), batch=True)
    yield Case("DEPTH_TO_SPACE__i8", "DEPTH_TO_SPACE", [T(feed=ints(np.int8, 1, 2, 2, 9), q=(0.1, 2))],
               [T(type=I8, q=(0.1, 2))], new_node("DepthToSpaceOptions", block_size=3), batch=True)
    for ac, hp in ((False, False), (True, False), (False, True)):
        tag = "ac" if ac else "hp" if hp else "plain"
        yield Case(f"RESIZE_NEAREST_NEIGHBOR__f32_up_{tag}", "RESIZE_NEAREST_NEIGHBOR",
                   [T(feed=f32(2, 3, 5, 2)), T(data=np.array([7, 4], np.int32))], [T(type=F32)],
                   new_node("ResizeNearestNeighborOptions", align_corners=ac, half_pixel_centers=hp), batch=True)
        yield Case(f"RESIZE_NEAREST_NEIGHBOR__i8_down_{tag}", "RESIZE_NEAREST_NEIGHBOR",
                   [T(feed=ints(np.int8, 1, 7, 6, 2), q=(0.1, 0)), T(data=np.array([3, 4], np.int32))],
                   [T(type=I8, q=(0.1, 0))],
                   new_node("ResizeNearestNeighborOptions", align_corners=ac, half_pixel_centers=hp), batch=True)


def cases_relu_max():
    yield _unary("RELU_N1_TO_1", "f32", f32(2, 8))
    yield _unary("RELU_N1_TO_1", "i8", ints(np.int8, 2, 32), qin=(0.02, 3), qout=(0.01, -2))
    yield _unary("RELU_N1_TO_1", "i8_same", ints(np.int8, 2, 32), qin=(0.02, 3), qout=(0.02, 3))
    yield Case("REDUCE_MAX__f32_axes12", "REDUCE_MAX", [T(feed=f32(2, 3, 4)), T(data=np.array([1, -1], np.int32))],
               [T(type=F32)], new_node("ReducerOptions", keep_dims=False), batch=True)
    yield Case("REDUCE_MAX__i8_keep", "REDUCE_MAX", [T(feed=ints(np.int8, 2, 3, 4), q=(0.1, 0)),
                                                    T(data=np.array([2], np.int32))],
               [T(type=I8, q=(0.1, 0))], new_node("ReducerOptions", keep_dims=True), batch=True)
    yield Case("REDUCE_MAX__i32_axis0", "REDUCE_MAX", [T(feed=ints(np.int32, 3, 2)), T(data=np.array([0], np.int32))],
               [T(type=I32)], new_node("ReducerOptions", keep_dims=False))


def cases_arith():
    b = f32(2, 6)
    b[np.abs(b) < 0.2] = 0.7
    yield _binary("DIV", "f32", f32(2, 6), b, F32)
    yield _binary("DIV", "f32_relu6", f32(2, 6, lo=-20, hi=20), b, F32,
                  options=new_node("DivOptions", fused_activation_function=3))
    d = ints(np.int32, 1, 6, lo=-9, hi=9)
    d[d == 0] = -4
    yield _binary("DIV", "i32_broadcast", ints(np.int32, 2, 6, lo=-100, hi=100), d, I32, const_b=True)
    yield _binary("SQUARED_DIFFERENCE", "f32", f32(2, 6), f32(2, 6), F32)
    yield _binary("SQUARED_DIFFERENCE", "i32", ints(np.int32, 2, 6, lo=-3000, hi=3000),
                  ints(np.int32, 1, 6, lo=-3000, hi=3000), I32, const_b=True)
    yield Case("SUM__f32_axes", "SUM", [T(feed=f32(2, 3, 4)), T(data=np.array([1, 2], np.int32))],
               [T(type=F32)], new_node("ReducerOptions", keep_dims=False), batch=True)
    yield Case("SUM__i32_keep", "SUM", [T(feed=ints(np.int32, 2, 5, lo=-99, hi=99)), T(data=np.array([-1], np.int32))],
               [T(type=I32)], new_node("ReducerOptions", keep_dims=True), batch=True)


def cases_activations():
    x = f32(2, 16, lo=-6, hi=6)
    yield Case("LEAKY_RELU__f32", "LEAKY_RELU", [T(feed=x)], [T(type=F32)], new_node("LeakyReluOptions", alpha=0.2),
               batch=True)
    yield Case("LEAKY_RELU__i8", "LEAKY_RELU", [T(feed=ints(np.int8, 2, 32), q=(0.05, 10))],
               [T(type=I8, q=(0.04, -20))], new_node("LeakyReluOptions", alpha=0.3), batch=True)
    yield Case("LEAKY_RELU__i16", "LEAKY_RELU", [T(feed=ints(np.int16, 2, 32), q=(0.001, 0))],
               [T(type=I16, q=(0.0009, 0))], new_node("LeakyReluOptions", alpha=0.1), batch=True)
    yield Case("PRELU__f32", "PRELU", [T(feed=f32(2, 3, 4)), T(data=f32(1, 4, lo=0, hi=1))],
               [T(type=F32)], batch=True)
    yield Case("PRELU__i8", "PRELU", [T(feed=ints(np.int8, 2, 3, 4), q=(0.05, 5)),
                                      T(data=ints(np.int8, 1, 1, 4), q=(0.01, -10))],
               [T(type=I8, q=(0.03, -3))], batch=True)
    yield _unary("HARD_SWISH", "f32", f32(2, 16, lo=-5, hi=5))
    yield _unary("L2_NORMALIZATION", "f32", f32(2, 3, 8))


def cases_resize_bilinear():
    for ac, hp in ((False, False), (True, False), (False, True)):
        tag = "ac" if ac else "hp" if hp else "plain"
        o = new_node("ResizeBilinearOptions", align_corners=ac, half_pixel_centers=hp)
        yield Case(f"RESIZE_BILINEAR__f32_up_{tag}", "RESIZE_BILINEAR",
                   [T(feed=f32(2, 3, 4, 2)), T(data=np.array([7, 5], np.int32))], [T(type=F32)], o,
                   batch=True)
        yield Case(f"RESIZE_BILINEAR__i8_up_{tag}", "RESIZE_BILINEAR",
                   [T(feed=ints(np.int8, 1, 3, 5, 2), q=(0.1, 3)), T(data=np.array([8, 7], np.int32))],
                   [T(type=I8, q=(0.1, 3))], o, batch=True)
        yield Case(f"RESIZE_BILINEAR__i8_down_{tag}", "RESIZE_BILINEAR",
                   [T(feed=ints(np.int8, 1, 9, 7, 1), q=(0.1, 3)), T(data=np.array([4, 3], np.int32))],
                   [T(type=I8, q=(0.1, 3))], o, batch=True)
        yield Case(f"RESIZE_BILINEAR__i16_up_{tag}", "RESIZE_BILINEAR",
                   [T(feed=ints(np.int16, 1, 3, 3, 2), q=(0.001, 0)), T(data=np.array([5, 6], np.int32))],
                   [T(type=I16, q=(0.001, 0))], o, batch=True)


def cases_quantized_gaps():
    """Integer paths added after the first batch; a separate generator keeps the earlier cases' values."""
    rng = np.random.default_rng(20240715)

    def q8(*shape, lo=-128, hi=127):
        return rng.integers(lo, hi, shape, endpoint=True).astype(np.int8)

    every_int8 = np.arange(-128, 128, dtype=np.int8).reshape(2, 128)
    # MobileNetV3-like scales (reluish exponent < 0), then a wide input range (reluish exponent > 0, the
    # saturating left shift), then output scale = input scale
    for name, qi, qo in (("i8_mbv3", (0.0235, -3), (0.0137, -108)), ("i8_wide", (1.7, 4), (1.1, -110)),
                         ("i8_same_scale", (0.05, 10), (0.05, 10))):
        yield Case(f"HARD_SWISH__{name}", "HARD_SWISH", [T(feed=every_int8, q=qi)], [T(type=I8, q=qo)],
                   batch=True, tflm=True)
    # LiteRT 2.3.0's BUILTIN_REF SUM reads int8/int16 data as uint8 (garbage), so quantized SUM is pinned by
    # tflite-micro, which runs reference_ops::QuantizedMeanOrSum on the real types
    yield Case("SUM__i8_axes12", "SUM", [T(feed=q8(2, 3, 5), q=(0.05, 3)), T(data=np.array([1, 2], np.int32))],
               [T(type=I8, q=(0.3, -2))], new_node("ReducerOptions", keep_dims=False), batch=True, ref="tflm")
    yield Case("SUM__i8_keep_last", "SUM", [T(feed=q8(2, 4, 16), q=(0.02, -7)), T(data=np.array([-1], np.int32))],
               [T(type=I8, q=(0.11, 5))], new_node("ReducerOptions", keep_dims=True), batch=True, ref="tflm")
    yield Case("SUM__i16", "SUM", [T(feed=rng.integers(-3000, 3000, (2, 3, 4)).astype(np.int16), q=(0.0005, 0)),
                                   T(data=np.array([1], np.int32))],
               [T(type=I16, q=(0.0011, 0))], new_node("ReducerOptions", keep_dims=False), batch=True, ref="tflm")
    x = q8(2, 4, 16)
    x[0, 0] = 5  # a row equal to the zero point: sum of squares 0
    x[0, 1] = 4  # sum of squares 16 (tiny)
    yield Case("L2_NORMALIZATION__i8", "L2_NORMALIZATION", [T(feed=x, q=(0.05, 5))], [T(type=I8, q=(1 / 128, 0))],
               batch=True, tflm=True)
    yield Case("L2_NORMALIZATION__i8_wide", "L2_NORMALIZATION", [T(feed=q8(1, 300), q=(0.1, -1))],
               [T(type=I8, q=(1 / 128, 0))], tflm=True, batch=False)
    yield Case("SQUARED_DIFFERENCE__i8", "SQUARED_DIFFERENCE",
               [T(feed=q8(2, 64), q=(0.05, 3)), T(feed=q8(2, 64), q=(0.07, -2))],
               [T(type=I8, q=(0.2, -128))], batch=True, tflm=True)
    yield Case("SQUARED_DIFFERENCE__i8_broadcast_const", "SQUARED_DIFFERENCE",
               [T(feed=q8(2, 3, 8), q=(0.1, -100)), T(data=q8(1, 8), q=(0.3, 50))],
               [T(type=I8, q=(2.0, -120))], batch=True, tflm=True)
    # int16 activations, int8 alpha (the 16x8 scheme; LiteRT reads the alpha as int8 whatever its type says)
    yield Case("PRELU__i16_alpha_i8", "PRELU", [T(feed=rng.integers(-32768, 32767, (2, 3, 4)).astype(np.int16),
                                                  q=(0.0005, 0)),
                                                T(data=q8(1, 1, 4), q=(0.004, 0))],
               [T(type=I16, q=(0.0004, 0))], batch=True, tflm=True)


def sparsify(dense: np.ndarray, traversal_order: list, formats: list, block_map: list, block_size: list,
             index_type: str = "Int32Vector") -> tuple[np.ndarray, Any]:
    """Dense array -> (stored values, SparsityParameters), written independently of the kernel's decoder.

    The array is split into blocks (dimension ``block_map[k]`` into ``(n / block_size[k], block_size[k])``),
    the block axes go after the original ones and everything is transposed to the traversal order. Each level
    is then DENSE (every index) or SPARSE_CSR (only indices whose sub-tree holds a nonzero, with segments per
    parent); the stored values are the leaves of the kept paths, in order."""
    rank = dense.ndim
    split, axes_orig, axes_block = [], [], []
    for d in range(rank):
        if d in block_map:
            b = block_size[block_map.index(d)]
            split += [dense.shape[d] // b, b]
            axes_orig.append(len(split) - 2)
            axes_block.append((block_map.index(d), len(split) - 1))
        else:
            split.append(dense.shape[d])
            axes_orig.append(len(split) - 1)
    expanded_axes = axes_orig + [a for _, a in sorted(axes_block)]  # expanded dim e -> axis of `split`
    e = dense.reshape(split).transpose(expanded_axes).transpose(traversal_order)
    paths = np.zeros((1, 0), np.int64)
    metadata = []
    for level, fmt in enumerate(formats):
        size = e.shape[level]
        if fmt == 0:
            metadata.append(new_node("DimensionMetadata", format=0, dense_size=size))
            paths = np.concatenate([np.repeat(paths, size, 0), np.tile(np.arange(size), len(paths))[:, None]], 1)
            continue
        nonzero = (e != 0).any(axis=tuple(range(level + 1, e.ndim))) if level + 1 < e.ndim else e != 0
        kept = nonzero[tuple(paths.T)] if level else nonzero[None]  # (paths, size)
        rows, cols = np.nonzero(kept)
        vec = {"Int32Vector": np.int32, "Uint16Vector": np.uint16, "Uint8Vector": np.uint8}[index_type]
        segments = np.concatenate([[0], np.cumsum(kept.sum(1))]).astype(vec)
        metadata.append(new_node("DimensionMetadata", format=1, dense_size=0,
                                 array_segments=new_node(index_type, values=segments),
                                 array_indices=new_node(index_type, values=cols.astype(vec))))
        paths = np.concatenate([paths[rows], cols[:, None]], 1)
    values = e[tuple(paths.T)]
    return values, new_node("SparsityParameters", traversal_order=list(traversal_order), block_map=list(block_map),
                            dim_metadata=metadata)


def _sparse_case(name: str, dense: np.ndarray, order, formats, block_map=(), block_size=(), index_type="Int32Vector",
                 q=None, out_type=None) -> Case:
    values, sp = sparsify(dense, list(order), list(formats), list(block_map), list(block_size), index_type)
    t = dtypes.from_numpy(dense.dtype) if out_type is None else out_type
    return Case(f"DENSIFY__{name}", "DENSIFY", [T(list(dense.shape), t, q, data=values, sparsity=sp)],
                [T(list(dense.shape), t, q)], expect=dense)


def cases_densify():
    rng = np.random.default_rng(20240716)

    def sparse(dtype, *shape, density=0.3):
        v = rng.uniform(-3, 3, shape) if np.dtype(dtype).kind == "f" else rng.integers(-128, 127, shape)
        keep = rng.uniform(0, 1, shape) < density
        return np.where(keep, v, 0).astype(dtype)

    yield _sparse_case("f32_csr", sparse(np.float32, 6, 10), [0, 1], [0, 1])
    w = sparse(np.float32, 4, 12)
    w[1] = 0  # an empty row
    yield _sparse_case("f32_both_sparse_uint8_idx", w, [0, 1], [1, 1], index_type="Uint8Vector")
    yield _sparse_case("f32_col_major_uint16_idx", sparse(np.float32, 5, 7), [1, 0], [0, 1], index_type="Uint16Vector")
    # the converter's block-sparse FULLY_CONNECTED weights: 1x4 blocks along the input dimension
    b = np.zeros((4, 16), np.int8)
    b[0, 4:8] = rng.integers(-128, 127, 4)
    b[2, 0:4] = rng.integers(-128, 127, 4)
    b[2, 12:16] = [0, 5, 0, -7]  # zeros inside a kept block stay stored
    b[3, 8:12] = rng.integers(-128, 127, 4)
    yield _sparse_case("i8_block_1x4", b, [0, 1, 2], [0, 1, 0], block_map=[1], block_size=[4], q=(0.02, 0))
    yield _sparse_case("f32_3d_blocks_2x2", sparse(np.float32, 2, 4, 6, density=0.2), [0, 2, 1, 3, 4],
                       [0, 1, 1, 0, 0], block_map=[1, 2], block_size=[2, 2])
    yield _sparse_case("f16_csr", sparse(np.float16, 3, 8), [0, 1], [0, 1])


# -- cases where LiteRT and tflite-micro differ (issue #4): both outputs stored, each target matched -------
# Kept apart from the cases above: inputs come from their own generator, so the shared RNG's draws (and the
# stored arrays of every case above) do not depend on this block. Each case's name says what differs.

def cases_runtime_divergence():
    rng = np.random.default_rng(4)
    # RELU multiplier: LiteRT takes float(s_in / s_out), tflite-micro double(s_in) / double(s_out); these
    # scales (found by search) give multipliers whose results part at x = 70.
    yield Case("RELU__i8_tflm_multiplier", "RELU", [T(feed=np.arange(-128, 128, dtype=np.int8).reshape(2, 128),
                                                      q=(0.017920485, 14))],
               [T(type=I8, q=(0.049557883, -100))], batch=True, version=2, tflm=True)
    # RELU6: tflite-micro clamps in the input's quantization and never rescales; LiteRT requantizes.
    yield Case("RELU6__i16_rescale", "RELU6", [T(feed=rng.integers(-32768, 32767, (2, 64), endpoint=True)
                                                 .astype(np.int16), q=(0.0003, 0))],
               [T(type=I16, q=(0.0002, 0))], batch=True, version=3, tflm=True)
    # FULLY_CONNECTED: LiteRT rounds double(acc) * s_in * s_w / s_out once, halves away from zero;
    # tflite-micro rounds twice (gemmlowp) for int8. A power-of-two effective scale (1/16) makes both the
    # ties and gemmlowp's compounded roundings frequent.
    w = rng.integers(-2, 2, (5, 4), endpoint=True).astype(np.int8)
    yield Case("FULLY_CONNECTED__i8_pt_double_rounding", "FULLY_CONNECTED",
               [T(feed=rng.integers(-128, 127, (64, 4), endpoint=True).astype(np.int8), q=(0.5, 3)),
                T(data=w, q=(0.25, 0)),
                T(data=rng.integers(-40, 40, 5, endpoint=True).astype(np.int32), q=(0.125, 0))],
               [T(type=I8, q=(2.0, -7))], new_node("FullyConnectedOptions"), batch=True, version=4, tflm=True)
    # per-channel, effective scales 0.08..0.33 and small accumulators: most outputs unclamped
    ws = rng.uniform(0.005, 0.02, 6).astype(np.float32)
    yield Case("FULLY_CONNECTED__i8_pc_double_rounding", "FULLY_CONNECTED",
               [T(feed=rng.integers(-11, 1, (16, 16), endpoint=True).astype(np.int8), q=(0.05, -5)),
                T(data=rng.integers(-60, 60, (6, 16), endpoint=True).astype(np.int8), q=(ws, np.zeros(6), 0)),
                T(data=rng.integers(-200, 200, 6, endpoint=True).astype(np.int32), q=(0.05 * ws, np.zeros(6), 0))],
               [T(type=I8, q=(0.003, 2))], new_node("FullyConnectedOptions"), batch=True, version=4,
               tflm=True)
    # 16x8: tflite-micro's int64 MultiplyByQuantizedMultiplier rounds halves up (-2.5 -> -2; LiteRT -3).
    w = rng.integers(-2, 2, (5, 4), endpoint=True).astype(np.int8)
    yield Case("FULLY_CONNECTED__i16_ties", "FULLY_CONNECTED",
               [T(feed=rng.integers(-2000, 2000, (16, 4), endpoint=True).astype(np.int16), q=(0.5, 0)),
                T(data=w, q=(0.25, 0)),
                T(data=rng.integers(-40, 40, 5, endpoint=True).astype(np.int64), q=(0.125, 0))],
               [T(type=I16, q=(1.0, 0))], new_node("FullyConnectedOptions"), batch=True, version=7, tflm=True)



# -- PRELU and LEAKY_RELU multipliers: float quotients in LiteRT, double ones in tflite-micro (issue #4) ------
# LiteRT's PreluPrepare / LeakyReluPrepare compute s_in / s_out and s_in * s_alpha / s_out (or * alpha) in
# float; tflite-micro's CalculatePreluParams computes them in double, and so does the installed tflite-micro's
# LEAKY_RELU (measured: its source in the search index still divides in float). The
# scales were found by search (like RELU__i8_tflm_multiplier's, whose int8 scales the int8 cases reuse) so that
# both the identity and the alpha path part, and so that the alpha path also separates a double quotient of
# the float product float(s_in * s_alpha) from the all-double one. Own generator: draws nothing from the above.

def cases_relu_family_multipliers():
    rng = np.random.default_rng(5)
    x8 = np.arange(-128, 128, dtype=np.int8).reshape(2, 128)
    a8 = rng.integers(-128, 127, (1, 128), endpoint=True).astype(np.int8)
    x16 = rng.integers(-32768, 32767, (2, 320), endpoint=True).astype(np.int16)
    a16 = rng.integers(-128, 127, (1, 320), endpoint=True).astype(np.int8)
    yield Case("LEAKY_RELU__i8_tflm_multipliers", "LEAKY_RELU", [T(feed=x8, q=(0.017920485, 14))],
               [T(type=I8, q=(0.049557883, -100))], new_node("LeakyReluOptions", alpha=0.46649885),
               batch=True, version=2, tflm=True)
    yield Case("PRELU__i8_tflm_multipliers", "PRELU", [T(feed=x8, q=(0.017920485, 14)),
                                                       T(data=a8, q=(0.0069906213, -10))],
               [T(type=I8, q=(0.049557883, -100))], batch=True, tflm=True)  # LiteRT has PRELU v1 only
    # int16: 2 x 320 (tflite-micro's default arena holds no 4 x 256 in and out), zero points 0 (LiteRT's
    # LeakyReluPrepare requires them), int8 alpha for PRELU (the 16x8 scheme)
    yield Case("LEAKY_RELU__i16_tflm_multipliers", "LEAKY_RELU", [T(feed=x16, q=(0.0006608621, 0))],
               [T(type=I16, q=(0.00070691336, 0))], new_node("LeakyReluOptions", alpha=0.2516725),
               batch=True, version=2, tflm=True)
    yield Case("PRELU__i16_tflm_multipliers", "PRELU", [T(feed=x16, q=(0.0005647134, 0)),
                                                        T(data=a16, q=(0.007306582, 0))],
               [T(type=I16, q=(0.00047662164, 0))], batch=True, tflm=True)



# -- int16 ADD/SUB on the power-of-two path (issue #4) ------------------------------------------------------
# Own generator, as above. With pot_scale_int16 (the schema default) and power-of-two scales, LiteRT's
# add.cc / sub.cc shift one input right (gemmlowp::RoundingDivideByPOT on int16) and add without rescaling;
# tflite-micro ignores the flag and always rescales (the general path), so the two runtimes differ there: the
# LiteRT cases carry no tflite-micro outputs, and the "_tflm" cases pin tflite-micro's own result for the same
# kind of model. Shifts of 16 and more show gemmlowp's int16 mask quirk (x >= 0 -> 1, x < 0 -> -1).

def cases_pot_int16():
    rng = np.random.default_rng(6)

    def q16(*shape):
        return rng.integers(-32768, 32767, shape, endpoint=True).astype(np.int16)

    def ties(shift: int, n: int) -> np.ndarray:  # odd multiples of 2^(shift-1) and their neighbours, both signs
        k = np.arange(-(n // 6), n // 6 + 1) * 2 + 1
        v = np.concatenate([k << (shift - 1), (k << (shift - 1)) + 1, (k << (shift - 1)) - 1])
        return np.clip(v, -32768, 32767)[:n].astype(np.int16)

    for op in ("ADD", "SUB"):
        table = "AddOptions" if op == "ADD" else "SubOptions"
        o = new_node(table, pot_scale_int16=True)
        a = q16(2, 96)
        a[0] = ties(3, 96)
        b = q16(2, 96)
        yield Case(f"{op}__i16_pot_in1_shift3", op, [T(feed=a, q=(2.0 ** -15, 0)), T(feed=b, q=(2.0 ** -12, 0))],
                   [T(type=I16, q=(2.0 ** -12, 0))], o, batch=True, version=3)
        b = q16(2, 96)
        b[1] = ties(5, 96)
        yield Case(f"{op}__i16_pot_in2_shift5_relu", op,
                   [T(feed=q16(2, 96), q=(2.0 ** -10, 0)), T(feed=b, q=(2.0 ** -15, 0))],
                   [T(type=I16, q=(2.0 ** -10, 0))], new_node(table, pot_scale_int16=True,
                                                                   fused_activation_function=1),
                   batch=True, version=3)
        b = q16(1, 64)
        b[0, :4] = [0, 1, -1, -32768]
        yield Case(f"{op}__i16_pot_in2_shift20_const", op, [T(feed=q16(1, 64), q=(2.0 ** -10, 0)),
                                                            T(data=b, q=(2.0 ** -30, 0))],
                   [T(type=I16, q=(2.0 ** -10, 0))], o, batch=True, version=3)
        yield Case(f"{op}__i16_pot_same_scale_relu6", op, [T(feed=q16(2, 64), q=(2.0 ** -12, 0)),
                                                           T(feed=q16(2, 64), q=(2.0 ** -12, 0))],
                   [T(type=I16, q=(2.0 ** -12, 0))], new_node(table, pot_scale_int16=True,
                                                                   fused_activation_function=3),
                   batch=True, version=3, tflm=True)  # no shift: both paths give the same sums
        yield Case(f"{op}__i16_pot_in1_shift3_tflm", op,
                   [T(feed=a, q=(2.0 ** -15, 0)), T(feed=q16(2, 96), q=(2.0 ** -12, 0))],
                   [T(type=I16, q=(2.0 ** -12, 0))], o, batch=True, version=3, ref="tflm")
    yield Case("SUB__i16_pot_broadcast", "SUB",
               [T(feed=q16(2, 3, 32), q=(2.0 ** -12, 0)), T(feed=q16(3, 32), q=(2.0 ** -14, 0))],
               [T(type=I16, q=(2.0 ** -12, 0))], new_node("SubOptions", pot_scale_int16=True), version=3)


CASES = [cases_shape, cases_pack, cases_unpack, cases_fill, cases_gather, cases_squeeze, cases_expand_dims,
         cases_split, cases_split_v, cases_slice, cases_cast, cases_arg_max, cases_max_min, cases_floor_div,
         cases_select_v2, cases_unary, cases_layout, cases_relu_max,
         cases_arith, cases_activations, cases_resize_bilinear, cases_quantized_gaps,
         cases_densify, cases_runtime_divergence, cases_relu_family_multipliers, cases_pot_int16]
