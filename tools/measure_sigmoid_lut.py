"""Measure TFLite's int16 sigmoid table (``sigmoid_table_uint16``: 256 entries, sigmoid(i/24) in 0.16 fixed
point) from the real runtime, black-box, and write it to ``edgequant/kernels/_sigmoid_lut_q16.py``.

    .venv/bin/python tools/measure_sigmoid_lut.py            # measure, cross-check, write the module
    .venv/bin/python tools/measure_sigmoid_lut.py --check    # measure and cross-check; fail if the module differs

Why measured: the table's entries are not a rounding of 65536 * sigmoid(i / 24) (they sit up to ~1.1 above
it), so no formula reproduces them, and we do not copy them from the C++ source.

How: reference_integer_ops::Tanh (int16) maps an input q to ``input_data = (q * input_multiplier + round) >>
input_left_shift``, looks at ``uh = |input_data| >> 8`` and ``ut = |input_data| & 0xFF`` and returns, for
input_data >= 0, ``((table[uh] << 8) + ut * (table[uh + 1] - table[uh]) - 2**23 + 2**7) >> 8``. At a node (ut
== 0) that is exactly ``table[uh] - 32768`` (and ``32768 - table[uh]`` for negative inputs): no bit is lost,
unlike LOGISTIC, whose shift by 10 drops the lowest one. An input scale of float32(1/6144) makes TanhPrepare
choose input_multiplier 16384 with input_left_shift 13, i.e. input_data = 2 * q exactly, so q = 128 * k hits
node k for every k in 0..254, with both signs. Entry 255 only ever appears as the upper end of the last
interval (uh == 254 saturates nothing, uh >= 255 does), so it is solved from the interpolated outputs there:
every candidate value 0..65535 is tried and exactly one must explain every observation.

Then the whole table is cross-checked: edgequant's int16 TANH and LOGISTIC kernels, using it, must reproduce
every one of the 65536 int16 inputs at several input scales (power-of-two and general) in LiteRT BUILTIN_REF
and in tflite-micro. Any disagreement, unobserved node or ambiguous entry stops the tool with an error.
Developer tool: needs ai-edge-litert and tflite-micro.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from golden_format import I16, Case, T, build, run_litert, run_tflm

from edgequant.kernels._lut import int16_input_data, int16_input_params, interpolate_int16

ROOT = Path(__file__).resolve().parents[1]
MODULE = ROOT / "edgequant" / "kernels" / "_sigmoid_lut_q16.py"
ALL_Q = np.arange(-32768, 32768, dtype=np.int16).reshape(1, -1)  # every int16 input, one model invoke
NODE_SCALE = float(np.float32(1 / 6144))  # TanhPrepare: multiplier 16384, left shift 13 -> input_data = 2 q

# (op, input scale) pairs of the cross-check: power-of-two scales (LOGISTIC takes 2^-12 as power of two, TANH
# also 2^-11) and general ones, small and large.
CHECK_SCALES = [("TANH", 2.0 ** -12), ("TANH", 2.0 ** -11), ("TANH", 2.0 ** -10), ("TANH", NODE_SCALE),
                ("TANH", 1 / 3000), ("TANH", 0.00043), ("TANH", 1e-5), ("TANH", 0.002),
                ("LOGISTIC", 2.0 ** -12), ("LOGISTIC", 2.0 ** -11), ("LOGISTIC", NODE_SCALE), ("LOGISTIC", 1 / 3000),
                ("LOGISTIC", 0.00043), ("LOGISTIC", 1e-5), ("LOGISTIC", 0.002)]


class MeasureError(RuntimeError):
    """The runtime's outputs do not determine the table exactly."""


def model(op: str, in_scale: float) -> bytes:
    return build(Case(f"measure_{op.lower()}", op, [T(list(ALL_Q.shape), I16, (in_scale, 0))],
                      [T(list(ALL_Q.shape), I16, (1 / 32768, 0))], version=3))


def litert_version() -> str:
    from importlib.metadata import version

    return version("ai-edge-litert")


def node_input_data() -> np.ndarray:
    """input_data of every int16 input at NODE_SCALE, from edgequant's TanhPrepare port (the cross-check proves it)."""
    mult, shift = int16_input_params("tanh", NODE_SCALE)
    return int16_input_data(ALL_Q.ravel(), mult, shift)


def solve(out: np.ndarray) -> np.ndarray:
    """The 256 entries from the TANH outputs of every int16 input at NODE_SCALE."""
    y = out.ravel().astype(np.int64)
    d = node_input_data()
    a = np.abs(d)
    uh, ut = a >> 8, a & 0xFF
    table = np.full(256, -1, np.int64)
    for k in range(255):
        at = (uh == k) & (ut == 0)
        vals = np.where(d[at] >= 0, y[at] + 32768, 32768 - y[at])  # the node identities of the docstring
        if vals.size == 0:
            raise MeasureError(f"node {k} is never hit exactly")
        if np.unique(vals).size != 1:
            raise MeasureError(f"node {k}: the outputs give {sorted(set(vals.tolist()))}")
        table[k] = vals[0]
    last = uh == 254  # the interval whose upper end is entry 255
    if not last.any():
        raise MeasureError("no input falls in the last interval")
    ua = table[254]
    cand = np.arange(65536, dtype=np.int64)[:, None]  # (65536, 1) candidate entry 255
    diff = (cand - ua) & 0xFFFFFFFF  # uint32 ub - ua
    res = (((ua << 8) + ut[last][None, :] * diff) & 0xFFFFFFFF).astype(np.int64)  # (65536, n) uint32 result
    res = np.where(res >= 1 << 31, res - (1 << 32), res)  # stored in an int32
    pos = d[last][None, :] >= 0
    pred = np.where(pos, res - (1 << 23) + (1 << 7), -res + (1 << 23) + (1 << 7) - 1) >> 8
    ok = np.flatnonzero((pred.astype(np.int16) == y[last][None, :].astype(np.int16)).all(axis=1))
    if ok.size != 1:
        raise MeasureError(f"entry 255: {ok.size} values explain the outputs ({ok[:8].tolist()} ...)")
    table[255] = ok[0]
    if (np.diff(table) < 0).any():
        raise MeasureError("the measured table is not monotonic")
    return table


def ours(op: str, in_scale: float, table: np.ndarray) -> np.ndarray:
    """edgequant's int16 kernel arithmetic (prepare + eval of kernels/_lut.py) with the measured table."""
    kind = op.lower()
    mult, shift = int16_input_params(kind, in_scale)
    return interpolate_int16(kind, int16_input_data(ALL_Q, mult, shift), table)


def cross_check(table: np.ndarray) -> None:
    for op, s in CHECK_SCALES:
        m = model(op, s)
        ref = run_litert(m, [ALL_Q])[0]
        tm = run_tflm(m, [ALL_Q], 1, arena_size=4 * ALL_Q.nbytes + (64 << 10))[0]  # input, output, slack
        got = ours(op, s, table)
        for target, want in (("litert", ref), ("tflm", tm)):
            bad = np.flatnonzero(got.ravel() != want.ravel())
            if bad.size:
                raise MeasureError(f"{op} scale {s} vs {target}: {bad.size} of 65536 outputs differ "
                                   f"(first at q={int(ALL_Q.ravel()[bad[0]])})")
        print(f"  {op:8s} input scale {s:.8g}: 65536 outputs equal in LiteRT and tflite-micro")


def render(table: np.ndarray, version: str) -> str:
    rows = [", ".join(f"{int(v):5d}" for v in table[i:i + 12]) for i in range(0, 256, 12)]
    body = ",\n    ".join(rows)
    return (f'"""sigmoid_table_uint16 of TFLite\'s int16 LOGISTIC/TANH (sigmoid(i/24) in 0.16 fixed point, 256 '
            f'entries).\n\nMeasured from LiteRT {version} BUILTIN_REF by tools/measure_sigmoid_lut.py; do not edit.\n'
            f'"""\n\nSIGMOID_TABLE_UINT16 = (\n    {body},\n)\n')


def main(argv: list[str]) -> int:
    check = "--check" in argv[1:]
    version = litert_version()
    print(f"LiteRT {version}: TANH int16 at input scale {NODE_SCALE!r} (input_data = 2 q)")
    out = run_litert(model("TANH", NODE_SCALE), [ALL_Q])[0]
    table = solve(out)
    formula = 65536 / (1 + np.exp(-np.arange(256) / 24))
    dev = table - formula
    print(f"  256 entries; entry - 65536 sigmoid(i/24) in [{dev.min():.3f}, {dev.max():.3f}]")
    cross_check(table)
    text = render(table, version)
    if check:
        if not MODULE.exists() or MODULE.read_text() != text:
            print(f"error: {MODULE.relative_to(ROOT)} differs from the measured table")
            return 1
        print(f"{MODULE.relative_to(ROOT)} matches")
        return 0
    MODULE.write_text(text)
    print(f"wrote {MODULE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except MeasureError as e:
        print(f"error: {e}")
        sys.exit(1)
