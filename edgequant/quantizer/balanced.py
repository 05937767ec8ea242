"""Balanced rounding: nearest rounding, then a few weights moved to their other neighbouring step so that the
rounding errors of weights that read inputs with a common mean sum to (almost) zero. It needs no data.

A layer's output error is ``sum_i (w_i - s q_i) x_i`` per output channel. Nearest rounding makes every term as
small as it can be alone, but inputs share a mean (the outputs of a ReLU, the pixels of an image), and the part
``mu * sum_i (w_i - s q_i)`` neither averages out over samples nor shrinks with more weights: it is an offset on
that output. Balanced rounding removes it without knowing ``mu``. In each group of weights, with the errors
``r_i = q_i - w_i / s`` of nearest rounding and ``k = round(sum_i r_i)``, the ``|k|`` weights whose ``r_i`` is
closest to +-0.5 on the side of the excess move one step the other way. Each move adds ``1 - 2|r_i|`` (in steps
squared) to the squared error, the least any move that fixes the sum can add; every weight stays on one of the
two steps around its float value (clipped weights do not move, but their error counts in the sum).

The groups: in a convolution with a kh x kw kernel, the taps that read one input channel (neighbouring pixels of
one feature map have nearly the same mean, different channels do not); in a depthwise convolution, each channel's
taps; in a fully connected layer and a 1 x 1 convolution, an output channel's whole row.

Where: only where the op's input has one sign (:func:`one_signed_input`): the output of a ReLU, ReLU6 or
logistic (also fused into the op before), through pooling, reshapes, padding, concatenations and sums of such, or
a model input (images, spectrogram features: an assumption, made because the file cannot say). Elsewhere (tanh
or LSTM outputs, say) the inputs' means differ in sign, a zero sum of errors does not cancel ``sum_i e_i mu_i``,
and the moves only add error (mnist_lstm's last layer: -1 to -3.5 dB): those weights round to nearest.

Output SQNR without calibration data (benchmarks/compare_quantizers.py, the same scales, nearest -> balanced):
see BENCHMARKS.md. GPTQ (edgequant.quantizer.gptq) does this and more from the calibration inputs' statistics;
balanced rounding is the data-free default.

>>> import numpy as np
>>> w = np.array([[0.6, 0.6, 0.6, 0.6]], np.float32)      # nearest: 1, 1, 1, 1 (+0.4 each, sum +1.6)
>>> balanced_ints(w, np.float32(1.0), None, "FULLY_CONNECTED", -127, 127)
array([[0, 0, 1, 1]], dtype=int8)
"""

from __future__ import annotations

import threading

import numpy as np

from ..qmath import quantize_affine, quantize_affine_with_errors

# The ops balanced rounding knows the layout of, and the axis of their output channels.
CHANNEL_AXIS = {"CONV_2D": 0, "TRANSPOSE_CONV": 0, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 0}
# Ops whose output is never negative, and ops that keep the sign of what they read (their input 0, or all inputs
# for _ALL_INPUTS: a sum or product of non-negative values is non-negative), for one_signed_input.
_NONNEGATIVE = {"RELU", "RELU6", "RELU_0_TO_1", "LOGISTIC"}
_SIGN_KEEPING = {"MAX_POOL_2D", "AVERAGE_POOL_2D", "RESHAPE", "SQUEEZE", "EXPAND_DIMS", "PAD", "TRANSPOSE",
                 "STRIDED_SLICE", "SLICE", "MEAN", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "DEPTH_TO_SPACE",
                 "SPACE_TO_DEPTH", "CONCATENATION", "PACK", "SPLIT", "SPLIT_V", "UNPACK", "GATHER", "TILE",
                 "QUANTIZE", "DEQUANTIZE", "ADD", "MUL", "MAXIMUM"}
_ALL_INPUTS = {"CONCATENATION", "PACK", "ADD", "MUL", "MAXIMUM"}  # one sign if every input has it
_RELU, _RELU6 = 1, 3  # ActivationFunctionType values whose output is never negative


def one_signed_input(model, sg, op, data_slot: int, producers: dict[int, int] | None = None) -> bool:
    """Whether the values ``op`` reads at input ``data_slot`` all have one sign, as far as the graph says: a model
    input (assumed), or a never-negative op's output, reached through sign-keeping ops."""
    producers = sg.producers() if producers is None else producers
    todo, seen = [(op.inputs or [])[data_slot] if data_slot < len(op.inputs or []) else -1], set()
    while todo:
        t = todo.pop()
        if t in seen:
            continue
        seen.add(t)
        if t in (sg.inputs or []):
            continue
        if t < 0 or t not in producers:
            return False  # a constant or a missing tensor: nothing known
        src = sg.operators[producers[t]]
        name = model.op_name(src)
        act = getattr(src.builtin_options, "fused_activation_function", None)
        if name in _NONNEGATIVE or act in (_RELU, _RELU6):
            continue
        if name not in _SIGN_KEEPING:
            return False
        ins = [i for i in src.inputs or [] if i >= 0]
        todo.extend(ins if name in _ALL_INPUTS else ins[:1] if name != "SPLIT" else ins[1:2])
    return True


def balanced_ints(w: np.ndarray, scale: np.ndarray, scale_axis: int | None, op_name: str,
                  qmin: int, qmax: int) -> np.ndarray:
    """int8 values of the weight ``w`` of an ``op_name`` op (a key of CHANNEL_AXIS) for the symmetric ``scale``
    (per tensor, or per channel along ``scale_axis``), with each group's rounding errors balanced."""
    return balanced_many([(w, scale, scale_axis, op_name)], qmin, qmax)[0]


def balanced_many(items: list[tuple[np.ndarray, np.ndarray, int | None, str]], qmin: int, qmax: int
                  ) -> list[np.ndarray]:
    """:func:`balanced_ints` of many weights ``(w, scale, scale_axis, op_name)`` at once: a model's tensors are
    many and mostly small, so those whose groups line up (depthwise kernels of one size, rows of one length) go
    through one set of array operations. One division per weight gives both its integer and its error
    (qmath.quantize_affine_with_errors), and each set is balanced as soon as its errors are known, in a kept
    work array where the set is one tensor: fresh weight-sized arrays cost page faults on every call."""
    out: list[np.ndarray] = []
    sets: dict[tuple, list[tuple[int, tuple, np.ndarray]]] = {}  # join key -> [(item, group layout, scales)]
    for k, (w, scale, scale_axis, op_name) in enumerate(items):
        s = np.asarray(scale, np.float32)
        if w.size == 0 or (s.ndim and scale_axis % w.ndim != CHANNEL_AXIS[op_name] % w.ndim):
            # scales along another axis than the output channels: not a layout this knows
            out.append(quantize_affine(w, scale, 0, qmin, qmax, axis=scale_axis, dtype=np.int8))
            continue
        out.append(np.empty(w.shape, np.int8))
        if op_name == "DEPTHWISE_CONV_2D":  # (1, KH, KW, C): channel c's taps are column c
            shape = (1, w.shape[1] * w.shape[2], w.shape[3])
            s = s.reshape(1, 1, -1) if s.ndim else s
            key: tuple = ("taps",) + shape[:2]
        elif w.ndim == 4 and w.shape[1] * w.shape[2] > 1:  # (O, KH, KW, I): group (o, i) is column i of block o
            shape = (w.shape[0], w.shape[1] * w.shape[2], w.shape[3])
            s = s.reshape(-1, 1, 1) if s.ndim else s
            key = ("taps", k)  # joins nothing: its blocks are as many as its output channels
        else:  # FULLY_CONNECTED (O, K) and 1 x 1 convolutions: one group per row
            shape = (w.shape[0], w.size // w.shape[0])
            s = s.reshape(-1, 1) if s.ndim else s
            key = ("rows", shape[1])
        sets.setdefault(key, []).append((k, shape, s))
    for key, members in sets.items():
        axis, balance = (2, _balance_taps) if key[0] == "taps" else (0, _balance_rows)
        views = [out[k].reshape(shape) for k, shape, _ in members]  # views of the contiguous results
        if len(members) == 1:
            (k, shape, s), q = members[0], views[0]
            r = _errors_array(shape)
            quantize_affine_with_errors(np.asarray(items[k][0], np.float32).reshape(shape), s, qmin, qmax, q, r)
            balance(q, r, qmin, qmax)
            continue
        joined = list(views[0].shape)
        joined[axis] = sum(v.shape[axis] for v in views)
        q_all, r_all = np.empty(joined, np.int8), np.empty(joined, np.float32)
        at = 0
        for (k, shape, s), v in zip(members, views):
            part = (slice(None),) * axis + (slice(at, at + v.shape[axis]),)
            quantize_affine_with_errors(np.asarray(items[k][0], np.float32).reshape(shape), s, qmin, qmax,
                                        q_all[part], r_all[part])
            at += v.shape[axis]
        balance(q_all, r_all, qmin, qmax)
        at = 0
        for v in views:
            v[...] = q_all[(slice(None),) * axis + (slice(at, at + v.shape[axis]),)]
            at += v.shape[axis]
    return out


_KEPT = 1 << 20  # float32 errors kept between calls up to this many (4 MB); bigger tensors get a fresh array
_WORK = threading.local()


def _errors_array(shape: tuple) -> np.ndarray:
    """A float32 work array of ``shape``: a view of one kept per thread (grown as needed) when small enough."""
    n = int(np.prod(shape))
    if n > _KEPT:
        return np.empty(shape, np.float32)
    buf = getattr(_WORK, "errors", None)
    if buf is None or buf.size < n:
        buf = _WORK.errors = np.empty(max(n, 1 << 16), np.float32)
    return buf[:n].reshape(shape)


def _excess(r: np.ndarray, axis: int) -> np.ndarray:
    """Each group's summed error, rounded: how many of its weights move. A group with a NaN or Inf weight (its
    error is not finite) moves none; its non-finite scores never compare as positive either."""
    total = r.sum(axis=axis, dtype=np.float64)
    total[~np.isfinite(total)] = 0.0
    return np.rint(total).astype(np.int64)


def _blocked(q: np.ndarray, direction: np.ndarray, qmin: int, qmax: int) -> np.ndarray:
    """Whether moving weights ``q`` one step against ``direction`` (the excess's sign) would cross a bound."""
    return np.where(direction > 0, q <= qmin, q >= qmax)


def _balance_taps(q: np.ndarray, r: np.ndarray, qmin: int, qmax: int) -> None:
    """Groups are the columns ``[a, :, b]`` of (A, P, B) arrays: short groups (kernel taps), many of them.

    Each round moves the cheapest weight of every group that still needs a move. The first round (most groups)
    reduces over the taps across the contiguous last axis, a few whole-array operations; the groups left (those
    with two moves or more to make, or whose cheapest move hit a bound) are gathered. A group needs at most about
    P / 2 rounds, and one more for each clipped weight in the way."""
    excess = _excess(r, 1)
    if not excess.any():
        return
    direction = np.sign(excess)
    score = np.multiply(r, direction[:, None, :], out=r, dtype=np.float32)  # > 0: the error has the excess's sign
    taps = score.shape[1]
    # The first tap holding a group's best: the largest of (P - tap) over those taps (argmax(axis=1) would copy
    # the array to make that axis contiguous).
    countdown = np.arange(taps, 0, -1, dtype=np.uint8 if taps < 256 else np.int32)[None, :, None]
    best = score.max(axis=1)
    first = taps - ((score == best[:, None, :]) * countdown).max(axis=1).astype(np.intp)
    # Flat indices from here on: one-dimensional take/put are several times faster than 3-d fancy indexing. The
    # groups that move are carried as arrays of their own: where tap 0 is, the moves left, the direction.
    width = score.shape[2]
    a, b = np.nonzero((excess != 0) & (best > 0))
    g = a * width + b  # group (a, b)'s place in the (A, B) arrays
    base = a * (taps * width) + b  # where its tap 0 is in the flat (A, P, B) arrays
    at = base + first.reshape(-1)[g] * width
    need, d = np.abs(excess.reshape(-1)[g]), direction.reshape(-1)[g].astype(np.int8)
    q_flat, score_flat = q.reshape(-1), score.reshape(-1)
    while len(at):
        moved = np.subtract(q_flat[at], d, dtype=np.int16)
        free = None if moved.min() >= qmin and moved.max() <= qmax else (moved >= qmin) & (moved <= qmax)
        if free is None:  # no move hits a bound: the usual case
            q_flat[at] = moved
            need -= 1
        else:
            q_flat[at[free]] = moved[free]
            need -= free
        left = need > 0
        if not left.any():
            return
        # The moved and the blocked weights of the groups that go on are no candidates again.
        at, base, need, d = at[left], base[left], need[left], d[left]
        score_flat[at] = 0.0
        sub = score_flat[base[:, None] + np.arange(taps) * width]  # (groups, P), gathered
        tap = sub.argmax(axis=1)  # the first of equal ones
        some = sub[np.arange(len(base)), tap] > 0
        at, base, need, d = (base + tap * width)[some], base[some], need[some], d[some]


def _balance_rows(q: np.ndarray, r: np.ndarray, qmin: int, qmax: int) -> None:
    """Groups are the rows of (R, N) arrays: long groups (fully connected rows)."""
    excess = _excess(r, 1)
    if not excess.any():
        return
    direction = np.sign(excess)
    score = np.multiply(r, direction[:, None], out=r, dtype=np.float32)
    rows, cols = _largest(score, np.abs(excess), lambda i, j: ~_blocked(q[i, j], direction[i], qmin, qmax))
    q[rows, cols] -= direction[rows].astype(np.int8)


def _largest(score: np.ndarray, count: np.ndarray, movable=None) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) of the ``count[i]`` largest positive entries of each row ``i`` of ``score`` (fewer where the
    row has fewer), in row order, among those ``movable(rows, cols)`` allows (default: all).

    Scores are errors in (0, 0.5], spread about evenly, so the top ``k`` of a row of ``n`` lie above about
    ``0.5 - k / n``: only entries above a threshold with room for twice that many are sorted, and rows where the
    threshold let through too few are sorted whole.
    """
    def candidates(block: np.ndarray, floor: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        i, j = np.nonzero(block > floor)
        if movable is not None:
            ok = movable(i, j) if block is score else movable(short_rows[i], j)
            i, j = i[ok], j[ok]
        return i, j

    n = score.shape[1]
    if n <= 32:  # short rows: sort each row whole
        order = np.argsort(-score, axis=1, kind="stable")
        ranked = np.take_along_axis(score, order, axis=1)
        rows, ranks = np.nonzero((ranked > 0) & (np.arange(n) < count[:, None]))
        cols = order[rows, ranks]
        if movable is not None and len(rows):
            ok = movable(rows, cols)
            if not ok.all():  # a blocked weight among the chosen: drop it and take the next (rare: clipped weights)
                score = score.copy()
                score[rows[~ok], cols[~ok]] = 0.0
                return _largest(score, count, movable)
        return rows, cols
    short_rows = None
    rows, cols = candidates(score, np.maximum(0.5 - 2.0 * (count + 2) / n, 0.0)[:, None])
    short = np.bincount(rows, minlength=len(count)) < count
    if short.any():  # too few above the threshold: every positive entry of those rows
        short_rows = np.flatnonzero(short)
        keep = ~short[rows]
        more_rows, more_cols = candidates(score[short_rows], 0.0)
        rows = np.concatenate([rows[keep], short_rows[more_rows]])
        cols = np.concatenate([cols[keep], more_cols])
    # One stable sort: by row, then by score from the largest (scores are in (0, 0.5]), then by column.
    order = np.argsort(rows + (0.5 - np.minimum(score[rows, cols], 0.5).astype(np.float64)), kind="stable")
    rows, cols = rows[order], cols[order]
    first = np.searchsorted(rows, np.arange(len(count)))
    take = np.arange(len(rows)) - first[rows] < count[rows]
    return rows[take], cols[take]
