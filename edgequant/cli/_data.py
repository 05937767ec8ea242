"""Sample files for the commands that run a model (compare, verify): one array per model input, as stored."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._words import counted
from ..errors import EdgequantError
from ..graph import Model


def read_input_arrays(path: Path, model: Model) -> list[np.ndarray]:
    """The arrays of a .npy (one input) or .npz file, one per input of ``model``'s main subgraph, in input order
    and with their stored dtype: the .npz keys are the input names, or 'x', or its only array. Each must hold
    samples of the input's shape along axis 0."""
    tensors = [model.main.tensors[i] for i in model.main.inputs or []]
    names = [t.name for t in tensors]
    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise EdgequantError(f"{path}: no such file") from None
    except (ValueError, OSError) as e:
        raise EdgequantError(f"{path}: not a readable .npy/.npz file ({e})") from None
    if isinstance(data, np.ndarray):
        arrays = [data]
    else:
        with data:
            if all(nm in data.files for nm in names):
                arrays = [data[nm] for nm in names]
            elif "x" in data.files or len(data.files) == 1:
                arrays = [data["x" if "x" in data.files else data.files[0]]]
            else:
                raise EdgequantError(f"{path}: use key 'x' or the input names {names} (file has {data.files})")
    if len(arrays) != len(tensors):
        raise EdgequantError(f"{path}: {counted(len(arrays), 'input array')}, the model has "
                             f"{counted(len(tensors), 'input')}")
    for a, t in zip(arrays, tensors):
        want = list(t.shape or [])[1:]
        if list(a.shape[1:]) != want:
            raise EdgequantError(f"{path}: input '{t.name}' needs samples of shape {want}, got {list(a.shape[1:])}")
    return arrays
