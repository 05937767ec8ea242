"""Calibration data: from arrays, dicts, iterables of either, or .npy / .npz files, checked against the model.

Every sample set becomes a list of dicts {input name: float32 array with a leading batch axis}. Checked:
non-empty, the right inputs, shapes matching the model's (batch axis free), a float dtype (integer data for a
float input is refused: whether uint8 pixels mean 0..255 or 0..1 is the user's to say), no NaN or Inf. Each problem is one line naming the input and the sample.

>>> batches = load_calibration(np.zeros((10, 8, 8, 1), np.float32), model)   # one input
>>> batches = load_calibration("calib.npz", model)                          # keys = input names (or one array)
"""

from __future__ import annotations

import os
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EdgequantError
from ..graph import Model


def input_specs(model: Model) -> list[tuple[str, list[int], np.dtype]]:
    """(name, shape with -1 for free dims, dtype) of the main subgraph's inputs."""
    sg = model.main
    out = []
    for i in sg.inputs or []:
        t = sg.tensors[i]
        shape = list(t.shape_signature) if t.shape_signature is not None else list(t.shape)
        out.append((t.name, shape, t.dtype))
    return out


_NPY_MAGIC, _ZIP_MAGIC = b"\x93NUMPY", b"PK"  # how a .npy and a .npz (a zip archive, maybe empty) begin


def read_arrays(path: Path, key: str | None = None) -> Any:
    """The array of a .npy file, or the arrays of a .npz file (all, or the one named ``key``), loaded without
    pickle. Every way the file can be wrong is one EdgequantError naming it."""
    if not path.exists():
        raise EdgequantError(f"{path}: no such file")
    try:
        with open(path, "rb") as f:
            head = f.read(len(_NPY_MAGIC))
    except OSError as e:
        raise EdgequantError(f"{path}: not a .npy or .npz file ({e.strerror or e})") from None
    kind = ".npy" if head == _NPY_MAGIC else ".npz" if head.startswith(_ZIP_MAGIC) else None
    if kind is None:  # numpy would take it for a pickle, which it does not load
        raise EdgequantError(f"{path}: not a .npy or .npz file (it does not begin like numpy's formats; pickles are "
                             f"not loaded, for safety)")
    try:
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.ndarray):
            return data
        with data:
            if key is not None:
                if key not in data.files:
                    raise EdgequantError(f"{path}: no array '{key}' (has {', '.join(data.files)})")
                return data[key]
            return {k: data[k] for k in data.files}  # reads (and checks) every member now
    except ValueError as e:
        if "allow_pickle" in str(e):  # an object array is a pickle inside the .npy / .npz container
            raise EdgequantError(f"{path}: holds an object (pickled) array, which is not loaded, for safety; "
                                 f"save numeric arrays") from None
        raise EdgequantError(f"{path}: truncated or corrupt {kind} file ({e})") from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        raise EdgequantError(f"{path}: truncated or corrupt {kind} file ({e})") from None


def _pick(d: dict, names: list[str], where: str, from_file: bool = False) -> dict:
    """A dict whose keys are the input names (full, or without 'serving_default_' and ':0'), or for a one-input
    model 'x'-like keys; a .npz file's single array whatever its name (an in-memory dict's unknown key is more
    likely a typo, so it is an error)."""
    if not d:
        raise EdgequantError(f"{where}: holds no arrays")
    if set(names) <= set(d):
        return {n: d[n] for n in names}
    short = {n.split(":")[0].removeprefix("serving_default_"): n for n in names}
    if set(short) <= set(d):
        return {full: d[s] for s, full in short.items()}
    if len(names) == 1:
        for k in ("x_calib", "x", "calib", "inputs"):
            if k in d:
                return {names[0]: d[k]}
        if len(d) == 1 and from_file:
            return {names[0]: next(iter(d.values()))}
    missing = [n for n in names if n not in d and n.split(":")[0].removeprefix("serving_default_") not in d]
    if len(names) > 1 and len(missing) < len(names):  # some inputs named, others not: say which are missing
        raise EdgequantError(f"{where}: no array for input{'s' if len(missing) > 1 else ''} "
                             f"{', '.join(repr(n) for n in missing)} (it holds {', '.join(map(str, d))})")
    accepted = sorted(set(names) | set(short) | ({"x"} if len(names) == 1 else set()))
    raise EdgequantError(f"{where}: arrays {', '.join(map(str, d))} do not name the model's inputs "
                         f"(use {', '.join(repr(a) for a in accepted)})")


def load_calibration(data: Any, model: Model, *, key: str | None = None, limit: int | None = None) -> list[dict]:
    """Validated calibration batches for ``model``: a list of {input name: float32 (N, ...) array}.

    ``data``: an array (single-input models; first axis = samples), a dict of arrays, an iterable of
    either (each item one sample or one batch; Keras-style ``(x, y)`` items give their ``x``, e.g. a
    ``tf.data.Dataset`` of pairs), or a path to a .npy / .npz file.
    """
    specs = input_specs(model)
    names = [s[0] for s in specs]
    where = "calibration data"
    from_file = isinstance(data, (str, os.PathLike))
    if from_file:
        where = str(data)
        data = read_arrays(Path(data), key)
    if isinstance(data, (np.ndarray, dict)):
        items: Iterable = [data]
        batched = True
    else:
        try:
            items = iter(data)
        except TypeError:
            raise EdgequantError(f"{where}: expected an array, a dict, an iterable or a file path, "
                                 f"got {type(data).__name__}") from None
        batched = False
    batches: list[dict] = []
    total = 0
    for n_item, item in enumerate(items):
        if isinstance(item, tuple) and len(item) in (2, 3) and (isinstance(item[0], dict) or len(names) == 1):
            item = item[0]  # Keras's (x, y) or (x, y, sample_weight): calibration needs only x
        d = item if isinstance(item, dict) else {names[0]: item} if len(names) == 1 else None
        if d is None:
            raise EdgequantError(f"{where}: sample {n_item} is a bare array but the model has {len(names)} inputs "
                                 f"({', '.join(names)}); give dicts keyed by input name")
        d = _pick(d, names, where, from_file)
        batch = {}
        count = None
        for name, shape, dtype in specs:
            try:
                arr = np.asarray(d[name])
            except ValueError:  # ragged: a tuple or list of differently shaped things
                raise EdgequantError(f"{where}: sample {n_item}, input '{name}': a {type(d[name]).__name__} of "
                                     f"differently shaped items is not an array (a Keras-style item is (x, y) "
                                     f"or (x, y, sample_weight))") from None
            if arr.dtype.kind not in "fiub" or arr.dtype == np.bool_:
                raise EdgequantError(f"{where}: input '{name}' has dtype {arr.dtype}; expected numbers")
            if dtype.kind == "f" and arr.dtype.kind == "f":
                arr = arr.astype(np.float32, copy=False)
            elif dtype.kind != "f":
                raise EdgequantError(f"{where}: model input '{name}' is {dtype}, not float: nothing to calibrate")
            else:  # integers for a float input: the range the model expects (0..1? 0..255? -1..1?) is unknown
                raise EdgequantError(f"{where}: input '{name}' is {arr.dtype} but the model takes {dtype}: convert "
                                     f"it as the model expects, e.g. x.astype(np.float32) / 255 for [0, 1] images")
            given = list(arr.shape)
            if arr.ndim == len(shape) - 1 and not batched:
                arr = arr[None]
            if arr.ndim != len(shape) or any(m != -1 and m != a for m, a in zip(shape[1:], arr.shape[1:])):
                hint = "; one sample without its batch axis? add one: x[None]" if given == list(shape[1:]) else ""
                raise EdgequantError(f"{where}: input '{name}' {_shape_text(given, batched, n_item)}; the model "
                                     f"expects samples of shape {shape[1:]} (array shape {shape}, first axis = "
                                     f"samples){hint}")
            if shape[0] not in (-1, 1) and arr.shape[0] % shape[0]:  # whole invocations of the fixed batch
                raise EdgequantError(f"{where}: input '{name}' has {arr.shape[0]} rows, not a multiple of the "
                                     f"model's fixed batch of {shape[0]}")
            if not np.all(np.isfinite(arr)):
                bad = int(np.argwhere(~np.isfinite(arr.reshape(arr.shape[0], -1)))[0][0])
                raise EdgequantError(f"{where}: input '{name}' sample {total + bad} contains NaN or Inf")
            if count is not None and arr.shape[0] != count:
                raise EdgequantError(f"{where}: inputs disagree on the number of samples ({count} vs {arr.shape[0]})")
            count = arr.shape[0]
            batch[name] = arr
        if count == 0:
            continue
        batches.append(batch)
        total += count or 0
        if limit is not None and total >= limit:
            break
    if total == 0:
        raise EdgequantError(f"{where}: calibration set is empty")
    if limit is not None:
        batches = _take(batches, limit)
    return batches


def _shape_text(given: list[int], batched: bool, n_item: int) -> str:
    """What was given, in words that do not call a whole array one sample."""
    if not given:
        return "is a single number"
    if batched:
        return f"has shape {given}: {given[0]} {'sample' if given[0] == 1 else 'samples'} of shape {given[1:]}"
    return f"item {n_item} has shape {given} (an item is one sample or a batch of them)"


def _take(batches: list[dict], n: int) -> list[dict]:
    out, left = [], n
    for b in batches:
        k = next(iter(b.values())).shape[0]
        if left <= 0:
            break
        out.append({name: a[:left] for name, a in b.items()} if k > left else b)
        left -= k
    return out


def count(batches: list[dict]) -> int:
    return sum(next(iter(b.values())).shape[0] for b in batches)


def rows_per_invocation(model: Model) -> int:
    """Rows of the leading axis one invocation takes: 1 for a free or unit batch axis, else the fixed size (a
    time-major sequence model's [T, 1, F] input takes T rows per run, which calibration must not split)."""
    return max([shape[0] for _, shape, _ in input_specs(model) if shape and shape[0] > 1], default=1)


def rebatch(batches: list[dict], size: int, unit: int = 1) -> list[dict]:
    """The same samples regrouped into batches of ``size`` rows, rounded to whole invocations of ``unit`` rows
    (see :func:`rows_per_invocation`; the last batch may be smaller)."""
    size = max(size // unit, 1) * unit
    names = list(batches[0])
    joined = {n: np.concatenate([b[n] for b in batches]) for n in names}
    total = joined[names[0]].shape[0]
    return [{n: a[i:i + size] for n, a in joined.items()} for i in range(0, total, size)]


def split(batches: list[dict], held_out: float, unit: int = 1) -> tuple[list[dict], list[dict]]:
    """(calibration, held-out) batches: the last ``held_out`` samples (or fraction) are held out, in whole
    invocations of ``unit`` rows."""
    names = list(batches[0])
    joined = {n: np.concatenate([b[n] for b in batches]) for n in names}
    total = joined[names[0]].shape[0]
    k = round(total * held_out) if isinstance(held_out, float) else int(held_out)
    k = min(max(k, 0), total - 1) // unit * unit
    first = {n: a[:total - k] for n, a in joined.items()}
    last = {n: a[total - k:] for n, a in joined.items()}
    return [first], ([last] if k else [])
